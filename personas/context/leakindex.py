"""The leak guard's index, pure (no I/O): every labelled text an agent could repeat (document passages, persona text,
claims, channel messages), as character fingerprints and as sentence stem sets, each with the labels it is said at;
and :meth:`LeakIndex.find`, the check of one post. Loading and refreshing it, the hook and the audit: leakguard.py.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from math import ceil, fsum, log

from personas.context.passages import units
from personas.context.text import (
    GRAM,
    WINNOW,
    fingerprints,
    post_grams,
    post_windows,
    sentence_stems,
    stems_of,
    unit_stems,
    window_hashes,
)
from workspace.labels import dominates_ints
from workspace.text import squashed

DOCUMENT, PERSONA, CLAIM, MESSAGE = 0, 1, 2, 3
KINDS = ("document", "persona", "claim", "message")
MIN_COPY = 40
"""Characters (letters and digits) of one source, copied and in no text the channel may carry, that make a leak:
about seven words..."""
MIN_COPY_FRAMED = 80
FRAMED = (CLAIM, MESSAGE)
"""Messages and claims are written, and may hold the runtime's sentence frames ("... does not say, and nobody here
has answered that yet"; "so what one report says about X is contradicted by the other"): a copy of one is a long
one. What they say is protected sentence by sentence as well (a frame weighs little there)."""
FRAME_STEMS = stems_of(
    "the money counted on from may not be paid; trouble with reaches what depends on it; which one team plans to "
    "use is being sold or scrapped by another; what is already on hand for could meet that demand, could replace "
    "what is paid for outside; customers ask for, and no plan provides it; what one report says about is "
    "contradicted by the other; more business with puts more money at risk; the commitment on may be missed; the "
    "demand expected for may not be met, falls when it is out of action; needs one owner who sees both; is an "
    "opening that needs both teams; arrives after the date it is needed; is free when it is asked for; has ended "
    "before it is needed; is out of action on the date it is needed; a change one team makes to may break what "
    "another has committed to about it; is forecast to break the level required on the day it is tested; what one "
    "team's rule forbids for another team is doing; has left, and another team's records still give access; the "
    "spare one team has could take the work another turned away; is above the limit another team's records set for "
    "it; falls short of the minimum another team's records set for it; is leaving, and another team's records "
    "count on 's certificate to do the work; the figure; passes the level another team's contract pays a rebate or "
    "discount for, to be claimed; what one team does with falls outside what the insurance covers; spend placed "
    "with for the same goods would take the year past the rebate tier another team's contract pays at; the money "
    "planned for may be lost if its term ends first; will be away, and another team's records show no one else at "
    "that level for the work; the one who holds the post of will be away, and another team's work needs to sign "
    "it; the extra hours staff at ask for could meet that demand; the business has promised to pay more for each "
    "lost than its insurance pays; the plan counts on more for than another team's rates confirm")
"""The words of the consequences a link states (:func:`personas.runtime.links.consequences`, kept in step by a
test): a message or claim sentence made of these and a name or two ("so trouble with Dunstall Road CPU reaches
what depends on it") is no content of its own, so the same frame on the same name in another channel is no
repeat of it. The name is protected where it comes from, in its document."""
MIN_RUN = 28
"""...in runs of this many at least (five words); a common phrase of three or four words is chance."""
SHORT_SHARE = 0.8
"""Or this share of a short protected text (a persona line, a claim), or half of a short post."""
MIN_STEMS = 5
"""Content stems a sentence needs before a paraphrase of it is looked for (fewer: too generic to be anyone's)."""
PARAPHRASE = 0.6
"""Share of a protected sentence's content stems that one sentence of a post (or two neighbouring ones) holds..."""
WEIGHTED = 0.75
"""...and their share of its weight, each stem weighing its inverse frequency among protected sentences (a
paraphrase keeps the names and figures; "October" and "the plant" prove nothing)."""
UNEXPLAINED = 0.4
"""...unless sentences the channel may carry say all but this share of that weight."""
CAP = 8  # sources kept per fingerprint besides one per label (the check needs every label)
MESSAGE_GRAMS = 400_000
"""Message fingerprints kept in memory (two generations of this many): recent messages are protected."""

DERIVED_MEMO = 100_000

Label2 = tuple[int, int]
Entry = tuple[int, int, int]  # label level, label mask, source


@dataclass(slots=True)
class Unit:
    """A sentence as content stems; ``said``: the labels it was written at (a channel that dominates one of them
    may carry it)."""

    stems: frozenset[str]
    source: int
    label: Label2
    said: set[Label2] = field(default_factory=set)


@dataclass(slots=True)
class _Post:
    body: str
    sq: str
    grams: list[int]
    stems: list[frozenset[str]]  # of each sentence
    known: list[int] | None = None  # positions of windows that protected text has (filled by the copy check)


@dataclass(frozen=True, slots=True)
class Leak:
    level: int
    mask: int
    sources: tuple[tuple[str, int], ...]  # (kind, id), worst first
    amount: int  # characters copied, or stems shared
    how: str  # canary | copy | paraphrase


@dataclass(slots=True)
class Drafts:
    """What the turns of one round are to say, before any of it is posted: fingerprints and sentences, each with the
    label and the id of the channel that is to carry it. The round's channels are in plan order (by id): a post
    repeating the draft of a channel before its own that its own may not carry leaks, whichever is stored first,
    as if the round's shards had posted one after another. Drafts only protect, never permit (a draft may be
    refused): what a channel may carry comes from stored text."""

    grams: dict[int, list[Entry]] = field(default_factory=dict)
    units: list[Unit] = field(default_factory=list)
    by: list[set[tuple[Label2, int]]] = field(default_factory=list)  # each unit's (label, channel)
    by_stems: dict[frozenset[str], int] = field(default_factory=dict)
    index: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))

    def add_unit(self, stems: frozenset[str], label: Label2, src: int, channel: int) -> None:
        at = self.by_stems.get(stems)
        if at is None:
            self.by_stems[stems] = at = len(self.units)
            self.units.append(Unit(stems, src, label, set()))
            self.by.append(set())
            for s in stems:
                self.index[s].append(at)
        self.by[at].add((label, channel))


def _add_entry(table: dict[int, list[Entry]], h: int, entry: Entry) -> None:
    entries = table.get(h)
    if entries is None:
        table[h] = [entry]
    elif entry not in entries and (len(entries) < CAP or all(e[:2] != entry[:2] for e in entries)):
        entries.append(entry)


class LeakIndex:
    def __init__(self) -> None:
        self.grams: dict[int, list[Entry]] = {}
        self.messages: list[dict[int, list[Entry]]] = [{}, {}]  # the current generation, then the previous one
        self.canaries: dict[str, Entry] = {}  # a marker's squashed random part -> its label and document
        self.units: list[Unit] = []
        self.owners: list[tuple[int, int]] = []  # source -> (kind, id)
        self.lengths: dict[int, int] = {}  # source -> squashed length, for short texts protected whole
        self._sources: dict[tuple[int, int, int], int] = {}
        self._by_stems: dict[frozenset[str], int] = {}
        self._prefix: dict[str, list[int]] = defaultdict(list)
        self._full: dict[str, list[int]] = defaultdict(list)
        self._weights: dict[str, float] = {}
        self._weighed = 0
        self._last: _Post | None = None
        self._derived: set[tuple[frozenset[str], int, int]] = set()  # message sentences said already at the label
        self.message_units = 0  # sentences of messages among the units (the owner rebuilds past a bound)
        self.drafts: dict[object, Drafts] = {}  # a round's key -> what its turns are to say

    def __len__(self) -> int:
        return len(self.grams) + len(self.messages[0]) + len(self.messages[1]) + len(self.units)

    def _source(self, kind: int, ident: int, part: int = 0) -> int:
        key = (kind, ident, part)
        src = self._sources.get(key)
        if src is None:
            src = self._sources[key] = len(self.owners)
            self.owners.append((kind, ident))
        return src

    # -- what is protected ----------------------------------------------------------------------------------------

    def add_text(self, kind: int, ident: int, level: int, mask: int, text: str, part: int | None = None) -> None:
        """Protect ``text`` (a document passage, a persona line, a claim) at label (``level``, ``mask``): its
        fingerprints, and each of its sentences for paraphrases. Passages of one document share a source (a copy
        may span them); a short text given a ``part`` is its own source and leaks when most of it is copied. A claim
        leaves out what it quotes of a document (protected there, at the document's label)."""
        src = self._source(kind, ident, part or 0)
        if kind == DOCUMENT:
            prints = fingerprints(text)
            said = [u.statement for u in units(text)]
            for statement in said:  # a table row as the runtime says it: "first cell (Header: value; ...)"
                prints |= fingerprints(statement)
            stems = [s for statement in said for s in unit_stems(statement)]
        else:
            if kind == CLAIM:
                grams = post_grams(text)
                prints = _winnowed_runs(_masked(grams, [p for p, h in enumerate(grams) if h in self.grams]))
            else:
                prints = fingerprints(text)
            stems = unit_stems(text)
            if kind == CLAIM:  # a link's consequence: frame words and a name are no claim of their own
                stems = [each for each in stems if len(each - FRAME_STEMS) >= MIN_STEMS]
        if part is not None and prints:
            size = len(squashed(text))
            self.lengths[src] = min(self.lengths.get(src, size), size)
        for h in prints:
            _add_entry(self.grams, h, (level, mask, src))
        for each in stems:
            self.add_unit(each, (level, mask), src)

    def add_canary(self, marker: str, level: int, mask: int, document: int) -> None:
        self.canaries[squashed(marker.rsplit("-", 1)[-1])] = (level, mask, self._source(DOCUMENT, document))

    def add_message(self, channel: int, level: int, mask: int, body: str) -> None:
        """Protect a message at its channel's label, by fingerprints (messages are checked for copies). What it
        quotes of other protected text is left out, with the words joined to it: that text is protected at its own
        label, and "<template> <quote>" said again elsewhere is not a copy of this message. Memory is bounded:
        the oldest messages are forgotten."""
        current = self.messages[0]
        if len(current) > MESSAGE_GRAMS:
            self.messages = [{}, current]
            current = self.messages[0]
        src = self._source(MESSAGE, channel)
        entry = (level, mask, src)
        post = self._prepare(body)
        if post.known is None:
            post.known = [pos for pos, h in enumerate(post.grams) if h in self.grams]
        for h in _winnowed_runs(_masked(post.grams, post.known)):
            _add_entry(current, h, entry)
        own = []
        for stems in unit_stems(body):
            # what a sentence quotes or restates of text at (or below) its label stays protected there; only a
            # sentence (or clause) of its own is protected as this message's, and a frame with a name is none
            if len(stems - FRAME_STEMS) < MIN_STEMS or (stems, level, mask) in self._derived:
                continue
            if self._explained(level, mask, stems, stems):
                if len(self._derived) > DERIVED_MEMO:
                    self._derived.clear()
                self._derived.add((stems, level, mask))  # stays true: what is said is never unsaid
            else:
                own.append(stems)
        for stems in own:
            if self.add_unit(stems, (level, mask), src):
                self.message_units += 1

    def add_draft(self, key: object, channel: int, level: int, mask: int, body: str) -> None:
        """Protect what a turn of round ``key`` is to say in a channel labelled (``level``, ``mask``), for the posts
        of that round only (see :class:`Drafts`): the parts a message of it would protect (:meth:`add_message`)."""
        drafts = self.drafts.setdefault(key, Drafts())
        src = self._source(MESSAGE, channel)
        post = self._prepare(body)
        known = [pos for pos, h in enumerate(post.grams) if h in self.grams]
        for h in _winnowed_runs(_masked(post.grams, known)):
            _add_entry(drafts.grams, h, (level, mask, src))
        for stems in unit_stems(body):
            if len(stems - FRAME_STEMS) >= MIN_STEMS and not self._explained(level, mask, stems, stems):
                drafts.add_unit(stems, (level, mask), src, channel)

    def forget_drafts(self, key: object) -> None:
        self.drafts.pop(key, None)

    def _prepare(self, body: str) -> _Post:
        """The post's squashed text, window hashes and sentence stems (the last one is kept: a post that passes
        the check is added next)."""
        last = self._last
        if last is not None and last.body == body:
            return last
        sq = squashed(body)
        self._last = post = _Post(body, sq, window_hashes(sq), sentence_stems(body))
        return post

    def add_unit(self, stems: frozenset[str], label: Label2, src: int) -> bool:
        """Index a sentence's stems at ``label``. One of ``MIN_STEMS`` or more is protected (looked up by its
        rarest stems); a shorter one only explains what a channel may carry (see :meth:`_explained`)."""
        if len(stems) < 2:
            return False
        at = self._by_stems.get(stems)
        if at is not None:
            self.units[at].said.add(label)
            return False
        at = len(self.units)
        self.units.append(Unit(stems, src, label, {label}))
        self._by_stems[stems] = at
        for s in stems:
            self._full[s].append(at)
        if len(stems) >= MIN_STEMS:
            # a text that paraphrases these stems holds at least one of any len - needed + 1 of them: the rarest
            # so far keep the lists short
            keep = len(stems) - self._needed(len(stems)) + 1
            for s in sorted(stems, key=lambda s: (len(self._full[s]), s))[:keep]:
                self._prefix[s].append(at)
        if len(self.units) > 1.1 * self._weighed:
            self._weights.clear()
            self._weighed = len(self.units)
        return True

    @staticmethod
    def _needed(size: int) -> int:
        return max(MIN_STEMS, ceil(PARAPHRASE * size - 1e-9))

    def _weight(self, stem: str) -> float:
        w = self._weights.get(stem)
        if w is None:
            w = self._weights[stem] = log((1 + len(self.units)) / (1 + len(self._full.get(stem, ()))))
        return w

    def _paraphrased(self, unit: Unit, stems: frozenset[str]) -> int:
        """How many of ``unit``'s stems ``stems`` holds if that makes a paraphrase of it, else 0."""
        shared = unit.stems & stems
        if len(shared) < self._needed(len(unit.stems)):
            return 0
        weight = self._weight
        total = fsum(weight(s) for s in unit.stems)  # fsum: exact, so a set's order (hashing) changes nothing
        return len(shared) if fsum(weight(s) for s in shared) >= WEIGHTED * total - 1e-9 else 0

    def _explained(self, level: int, mask: int, stems: frozenset[str], window: frozenset[str]) -> bool:
        """Whether what ``window`` shares with the protected ``stems`` is mostly said by up to two sentences the
        channel may carry (a post that quotes a permitted document in words a restricted one also uses). Those
        sentences are looked for among the ones holding the rarest of the shared stems (a short list)."""
        rest = set(stems & window)
        outside = ~mask
        full, units = self._full, self.units
        for _ in range(2):
            if len(rest) < 2:
                break
            best, most = -1, 0
            # ties broken by the stem: a set's order differs from process to process (string hashing is salted)
            for s in sorted(rest, key=lambda s: (len(full.get(s, ())), s))[:3]:
                for at in full.get(s, ()):
                    unit = units[at]
                    n = len(unit.stems & rest)
                    if n > most and any(lv <= level and not mk & outside for lv, mk in unit.said):
                        best, most = at, n
            if best < 0:
                break
            rest -= units[best].stems
        left = fsum(self._weight(s) for s in rest)
        return len(rest) < 2 or left < UNEXPLAINED * fsum(self._weight(s) for s in stems)

    # -- the check ------------------------------------------------------------------------------------------------

    def find(self, level: int, mask: int, body: str, round: object = None, channel: int = 0) -> Leak | None:
        """The leak in ``body`` for a channel labelled (``level``, ``mask``), or None; for a post of round ``round``
        in channel ``channel``, the drafts of that round in channels before it protect as well (:class:`Drafts`).

        A canary marker from above the label leaks at once. A fingerprint counts only when no text the channel may
        carry has it too (shared boilerplate is not a leak); a source leaks when ``MIN_COPY`` characters of it are
        copied, or most of a short one, or it makes half of a short post. A protected sentence leaks when one
        sentence of the post (or two neighbouring ones) paraphrases it and the channel may carry no text that does.
        """
        post = self._prepare(body)
        for marker, (lvl, msk, src) in self.canaries.items():
            if marker in post.sq and not dominates_ints(level, mask, lvl, msk):
                return Leak(lvl, msk, (self._owner(src),), len(marker), "canary")
        drafts = self.drafts.get(round) if round is not None else None
        return (self._copy(level, mask, post, drafts, channel)
                or self._paraphrase(level, mask, post, drafts, channel))

    def _owner(self, src: int) -> tuple[str, int]:
        kind, ident = self.owners[src]
        return KINDS[kind], ident

    def _copy(self, level: int, mask: int, post: _Post, drafts: Drafts | None = None, channel: int = 0
              ) -> Leak | None:
        grams, sq = post.grams, post.sq
        if not grams:
            return None
        known: list[int] = []
        spans: dict[int, list[int]] = defaultdict(list)
        labels: dict[int, Label2] = {}
        docs, new, old, owners = self.grams, self.messages[0], self.messages[1], self.owners
        tables = [t for t in (new, old) if t]
        outside = ~mask
        seen: set[int] = set()
        drafted = drafts.grams if drafts is not None and drafts.grams else None
        for pos, h in enumerate(grams):  # the hot loop: dominance is inlined (see workspace.labels.dominates_ints)
            found = docs.get(h)
            if found:
                known.append(pos)
            for table in tables:
                more = table.get(h)
                if more:
                    found = [*found, *more] if found else more
            if drafted is not None and h not in seen and (said := drafted.get(h)):
                # drafts only protect: one the channel may carry permits nothing, one it may not (of a channel
                # before this one in the plan) is a source
                said = [e for e in said if not (e[0] <= level and not e[1] & outside) and owners[e[2]][1] < channel]
                if said and not (found and any(e[0] <= level and not e[1] & outside for e in found)):
                    found = [*found, *said] if found else said
            if not found or h in seen:  # a phrase said twice is copied once
                continue
            seen.add(h)
            if len(found) == 1:
                e = found[0]
                if e[0] <= level and not e[1] & outside:
                    continue
            elif any(e[0] <= level and not e[1] & outside for e in found):
                continue
            for lvl, msk, src in found:
                spans[src].append(pos)
                labels[src] = (lvl, msk)
        post.known = known
        if not spans:
            return None
        copied: dict[int, int] = {}
        for src, positions in spans.items():
            size = self.lengths.get(src)
            least = min(MIN_RUN, len(sq) / 2, SHORT_SHARE * size if size is not None else MIN_RUN)
            n = _copied(positions, least)
            enough = MIN_COPY_FRAMED if owners[src][0] in FRAMED else MIN_COPY
            if n >= enough or n >= len(sq) / 2 or (size is not None and n >= SHORT_SHARE * size):
                copied[src] = n
        if not copied:
            return None
        leaking = sorted(copied, key=lambda s: (-copied[s], s))
        lvl, msk = labels[leaking[0]]
        return Leak(lvl, msk, tuple(self._owner(s) for s in leaking), copied[leaking[0]], "copy")

    def _paraphrase(self, level: int, mask: int, post: _Post, drafts: Drafts | None = None, channel: int = 0
                    ) -> Leak | None:
        if not self.units and (drafts is None or not drafts.units):
            return None
        worst: tuple[int, int, Label2, int] | None = None  # stems shared, 0 stored or 1 a draft, label, unit
        outside = ~mask
        prefix, units = self._prefix, self.units
        for window in post_windows(post.stems):
            seen: set[int] = set()
            for s in window:
                for at in prefix.get(s, ()):
                    if at in seen:
                        continue
                    seen.add(at)
                    unit = units[at]
                    if len(unit.stems & window) < MIN_STEMS or any(
                            lvl <= level and not msk & outside for lvl, msk in unit.said):
                        continue
                    shared = self._paraphrased(unit, window)
                    if shared and (worst is None or shared > worst[0]) and not self._explained(
                            level, mask, unit.stems, window):
                        worst = (shared, 0, unit.label, at)
            if drafts is None:
                continue
            # a draft of the round, in a channel before this one, that the channel may not carry (drafts permit
            # nothing)
            near: set[int] = set()
            for s in window:
                near.update(drafts.index.get(s, ()))
            for at in sorted(near):
                unit = drafts.units[at]
                said = sorted(lb for lb, ch in drafts.by[at] if ch < channel and not (
                    lb[0] <= level and not lb[1] & outside))
                if not said or len(unit.stems & window) < MIN_STEMS or any(
                        lb[0] <= level and not lb[1] & outside for lb in self._said_of(unit.stems)):
                    continue
                shared = self._paraphrased(unit, window)
                if shared and (worst is None or shared > worst[0]) and not self._explained(
                        level, mask, unit.stems, window):
                    worst = (shared, 1, said[0], at)
        if worst is None:
            return None
        shared, kind, label, at = worst
        unit = (drafts.units if kind and drafts is not None else self.units)[at]
        return Leak(label[0], label[1], (self._owner(unit.source),), shared, "paraphrase")

    def _said_of(self, stems: frozenset[str]) -> set[Label2]:
        """The labels stored text says these stems at (none: said by no stored text)."""
        at = self._by_stems.get(stems)
        return self.units[at].said if at is not None else set()


def _masked(grams: list[int], hits: list[int]) -> list[int | None]:
    """``grams`` with every window that overlaps one at the positions ``hits`` (ascending) blanked (None)."""
    out: list[int | None] = list(grams)
    if not hits:
        return out
    start = end = -GRAM
    for pos in [*hits, 1 << 30]:  # consecutive hits make one blanked stretch
        if pos - end >= GRAM:
            lo, hi = max(0, start - GRAM + 1), min(len(out), end + GRAM)
            if hi > lo:
                out[lo:hi] = [None] * (hi - lo)
            start = pos
        end = pos
    return out


def _winnowed_runs(grams: list[int | None]) -> set[int]:
    """Winnowed hashes of each run of windows between blanks."""
    out: set[int] = set()
    run: list[int] = []
    for h in [*grams, None]:
        if h is not None:
            run.append(h)
            continue
        if len(run) <= WINNOW:
            if run:
                out.add(min(run))
        else:
            out.update(min(run[i : i + WINNOW]) for i in range(len(run) - WINNOW + 1))
        run = []
    return out


def _copied(positions: list[int], least: float) -> int:
    """Characters copied in runs of at least ``least``: windows starting at ``positions`` (ascending) that are at most
    WINNOW apart make one run (a copied span hits one of every WINNOW windows); shorter runs are common phrases."""
    total = 0
    first = last = -(1 << 30)
    for p in [*positions, 1 << 30]:
        if p - last > WINNOW:
            if last - first + GRAM >= least:
                total += last - first + GRAM
            first = p
        last = p
    return total
