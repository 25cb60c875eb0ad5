"""Insights as issues: claims (document spans stated in the conversation) and the links agents made between them
become issues (one to three claims and their consequence; one issue, one insight), scored by severity,
independent corroboration and joins across silos. Pure: the DB-backed miner feeds it claims and stores what it
returns; the words a reader sees are written by :mod:`insights.issue_text`.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from personas.context.facts import Corpus, Fact, entity_keys, fact, term_keys
from personas.context.passages import row_cells, row_split

SpanKey = tuple[str, int, int, int]  # document, chunk, start, end


@dataclass(frozen=True, slots=True)
class Said:
    """One claim as stated: a span of a document, by whom and where. ``link`` names the other span when the
    claim was a link ("X and Y, so Z") an agent made; ``consequence`` is its Z."""

    id: int
    span: SpanKey
    doc_title: str
    doc_department: str
    text: str
    role: str = ""
    department: str = ""
    channel: str = ""
    message: int | None = None
    tier_level: int = 0
    label: tuple[int, int] = (0, 0)
    link: SpanKey | None = None
    link_text: str = ""
    link_title: str = ""
    link_department: str = ""
    kind: str = ""
    relation: str = ""
    consequence: str = ""
    entity: str = ""
    cross_label: bool = False
    fact: Fact | None = None
    link_fact: Fact | None = None


@dataclass(slots=True)
class Source:
    span: SpanKey
    doc_title: str
    doc_department: str
    text: str
    fact: Fact
    roles: set[str] = field(default_factory=set)
    departments: set[str] = field(default_factory=set)
    channels: set[str] = field(default_factory=set)
    messages: list[int] = field(default_factory=list)
    tiers: set[int] = field(default_factory=set)
    said: int = 0
    """How many claims stated this span (``messages`` keeps the first :data:`EVIDENCE` of them)."""


EVIDENCE = 64
"""Messages kept per span and per link: enough to cite; the count of the rest is kept, not the rest."""


@dataclass(slots=True)
class Issue:
    key: str
    kind: str
    sources: list[Source]
    relation: str = ""
    consequence: str = ""
    entity: str = ""
    linked_by: set[str] = field(default_factory=set)
    link_messages: list[int] = field(default_factory=list)
    cross_label: bool = False
    score: float = 0.0
    severity: float = 0.0
    corroboration: float = 0.0
    title: str = ""
    summary: str = ""
    absorbed: int = 0
    members: list[Source] = field(default_factory=list)
    """Every claim the issue holds (``sources`` are the ones its text shows): its evidence and corroboration."""

    @property
    def documents(self) -> list[str]:
        return list(dict.fromkeys(s.span[0] for s in self.sources))


@dataclass(slots=True)
class _Group:
    """One issue as one document tells it: the most telling fact first, then the rest in reading order."""

    seed: Source
    members: list[Source]
    kind: str = "neutral"
    severity: float = 0.0


def build_issues(said: Iterable[Said], corpus: Corpus | None = None, max_supporting: int = 4) -> list[Issue]:
    """Group claims into issues and rank them (best first): the sentences of one document that tell one issue form
    one group; a link agents made between two groups joins them into one issue; every other group whose facts
    point somewhere (a risk or an opportunity) is an issue of its own. Linear in the claims: grouping looks only
    at neighbours within a document."""
    collected = Collector()
    collected.add(said)
    return collected.issues(corpus, max_supporting)


class Collector:
    """Claims aggregated by the span they cite (and links by the pair of spans they join), as they come: a miner
    that sees a million claims keeps one entry per fact and per link, never one per claim."""

    def __init__(self) -> None:
        self.sources: dict[SpanKey, Source] = {}
        self.links: dict[tuple[SpanKey, SpanKey], list[Said]] = {}
        self.link_counts: dict[tuple[SpanKey, SpanKey], int] = {}

    def add(self, said: Iterable[Said]) -> int:
        """Aggregate ``said``; returns how many claims were kept (a claim whose span states no fact is dropped)."""
        kept = 0
        for s in said:
            kept += self._add(s)
        return kept

    def _add(self, s: Said) -> bool:
        sources = self.sources
        src = sources.get(s.span)
        if src is None:
            f = s.fact or fact(s.text)
            if f is None:
                return False
            src = sources[s.span] = Source(s.span, s.doc_title, s.doc_department, s.text, f)
        if s.link is None:
            src.said += 1
            src.roles.add(s.role)
            src.departments.add(s.department)
            src.channels.add(s.channel)
            src.tiers.add(s.tier_level)
            if s.message is not None and len(src.messages) < EVIDENCE:
                src.messages.append(s.message)
            return True
        if s.link not in sources:
            f = s.link_fact or fact(s.link_text)
            if f is None:
                return False
            sources[s.link] = Source(s.link, s.link_title, s.link_department, s.link_text, f)
        if s.link[0] == s.span[0]:
            return False  # a link joins two documents
        pair = (s.span, s.link) if s.span <= s.link else (s.link, s.span)
        self.link_counts[pair] = self.link_counts.get(pair, 0) + 1
        kept = self.links.setdefault(pair, [])
        if len(kept) < EVIDENCE:
            kept.append(s)
        return True

    def restated(self, span: SpanKey, role: str, department: str, channel: str, message: int | None) -> bool:
        """A further claim stating a span already held, taken as :meth:`add` takes a claim that is no link (the
        miner's path for the many claims that restate a known fact: no :class:`Said` is built); ``False``, and
        nothing kept, when the span is new (then :meth:`add` it). tests/insights/test_mining_scale.py holds the
        two ways equal."""
        src = self.sources.get(span)
        if src is None:
            return False
        src.said += 1
        src.roles.add(role)
        src.departments.add(department)
        src.channels.add(channel)
        src.tiers.add(0)
        if message is not None and len(src.messages) < EVIDENCE:
            src.messages.append(message)
        return True

    def issues(self, corpus: Corpus | None = None, max_supporting: int = 4) -> list[Issue]:
        """The issues the claims so far make, best first (recomputed whole: a pass costs what the facts and
        links cost, not what the claims do)."""
        return _issues(self.sources, self.links, corpus, max_supporting)


def _issues(sources: dict[SpanKey, Source], links: dict[tuple[SpanKey, SpanKey], list[Said]],
            corpus: Corpus | None, max_supporting: int) -> list[Issue]:
    groups: dict[SpanKey, _Group] = {}
    owner: dict[SpanKey, SpanKey] = {}
    by_doc: dict[str, list[Source]] = {}
    for src in sources.values():
        by_doc.setdefault(src.span[0], []).append(src)
    for doc_sources in by_doc.values():
        doc_sources.sort(key=lambda s: (s.span[1], s.span[2]))
        for g in _group_document(doc_sources, corpus):
            g.kind, g.severity = _weigh(g, corpus)
            groups[g.seed.span] = g
            for m in g.members:
                owner[m.span] = g.seed.span
    from insights.issue_text import write  # the words are written last; no cycle at import time

    issues = _linked(links, sources, groups, owner, corpus)
    consumed = {owner[s.span] for i in issues for s in i.sources if s.span in owner}
    linked = {s.span for i in issues for s in i.sources[:2]}
    for seed, g in groups.items():
        if g.kind == "neutral" or not any(m.roles for m in g.members):
            continue
        # a group a join drew on still makes its own issue when its main sentence is not one the join linked: a
        # register's other row (one contract's missed price uplift beside the one whose end date was joined)
        if seed not in consumed or main_of(g, g.kind).span not in linked:
            issues.append(_single(g, corpus, max_supporting))
    issues = _one_per_subject(issues, corpus)
    for issue in issues:
        issue.title, issue.summary = write(issue)
    issues.sort(key=lambda i: (-i.score, i.key))
    return issues


def _single(g: _Group, corpus: Corpus | None, max_supporting: int) -> Issue:
    """The issue one group of one document makes on its own."""
    main = main_of(g, g.kind)
    shown = _informative(main, [m for m in g.members if m is not main], max_supporting)
    # keyed by the group's first span, which later claims rarely change (its weightiest may)
    key = min(m.span for m in g.members)
    issue = Issue(f"span:{key[0]}:{key[1]}:{key[2]}", g.kind, [main, *shown])
    issue.absorbed = len(g.members) - 1 - len(shown)
    issue.members = sorted(g.members, key=lambda m: m.span)
    _score(issue, [g], corpus)
    return issue


def _one_per_subject(issues: list[Issue], corpus: Corpus | None) -> list[Issue]:
    """One issue per subject across documents: two one-document issues of one kind whose opening sentences both
    name the same rare thing ("Press 4 was down for 11 hours", "Press 4 accounted for 61% of downtime") are one
    issue told twice; the weaker folds into the stronger as corroborating evidence."""
    if corpus is None:
        return issues
    limit = max(2, corpus.docs // 5)
    kept: list[Issue] = []
    by_subject: dict[tuple[str, str], Issue] = {}
    # a join is about the thing it names: what one of its documents says elsewhere about that thing, of the same
    # kind, is the join's issue told again ("the insurer withdrew cover on Brantwood" beside "Brantwood's balance
    # is 2.7 times its limit, while sales agreed 60-day terms")
    ranked = sorted(issues, key=lambda i: (-i.score, i.key))
    joined: dict[tuple[str, str], Issue] = {}
    for i in ranked:  # the strongest join on a thing takes what its documents say of it elsewhere
        if len(i.documents) > 1 and i.entity and corpus.distinctive(i.entity.lower()):
            joined.setdefault((i.kind, i.entity.lower()), i)
    for issue in ranked:
        if len(issue.documents) != 1:
            kept.append(issue)
            continue
        main = issue.sources[0].fact
        names = [e for e in main.entities
                 if " " in e and corpus.is_name(e) and 2 <= corpus.entity_df.get(e, 0) <= limit]
        join = next((j for (kind, e), j in joined.items() if kind == issue.kind and e in main.entities and
                     issue.documents[0] in j.documents), None)
        if join is not None:
            _fold(issue, join)
            continue
        home = next((by_subject[(issue.kind, e)] for e in names if (issue.kind, e) in by_subject), None)
        if home is not None and issue.documents[0] not in home.documents:
            _fold(issue, home)
            continue
        kept.append(issue)
        for e in names:
            by_subject.setdefault((issue.kind, e), issue)
    return kept


def _fold(issue: Issue, home: Issue) -> None:
    """``issue`` told again: its claims become ``home``'s corroborating evidence."""
    held = {m.span for m in home.members}
    home.members = sorted([*home.members, *(m for m in issue.members if m.span not in held)], key=lambda m: m.span)
    home.absorbed += len(issue.members)


# -- one document: which sentences tell one issue ------------------------------------------------------------------

_WINDOW = 8  # blocks either side of a seed that may belong to its issue
# the points a row and the paragraph beside it may make together: an opening that lapses unless used
_POINTS = frozenset({"opp.use-or-lose"})


def _group_document(srcs: Sequence[Source], corpus: Corpus | None) -> list[_Group]:
    """Partition one document's stated facts (in reading order) into groups. A paragraph or list item tells one
    thing, and so does the run of paragraphs around it in the same section until one turns to another named
    thing (a section about one supplier is one issue; a section with a paragraph per customer is several). A
    table row tells one thing, with the prose of its section that names it."""
    n = len(srcs)
    owned = [False] * n
    blocks: list[list[int]] = []  # runs of facts of one paragraph, list item or row, in reading order
    block_at = [0] * n
    for i, s in enumerate(srcs):
        f = s.fact
        prev = srcs[i - 1] if i else None
        if prev is None or f.unit == "row" or prev.fact.unit == "row" or not f.block or \
                (prev.span[1], prev.fact.block) != (s.span[1], f.block):
            blocks.append([])
        blocks[-1].append(i)
        block_at[i] = len(blocks) - 1

    def section(i: int) -> tuple[str, tuple[str, ...]]:
        return srcs[i].fact.heading, srcs[i].fact.path

    order = sorted(range(n), key=lambda i: (srcs[i].fact.kind == "neutral", -srcs[i].fact.severity, i))
    out: list[_Group] = []
    for i in order:
        if owned[i]:
            continue
        seed = srcs[i].fact
        home = block_at[i]
        members = [j for j in blocks[home] if not owned[j]]
        seed_ents = _distinct(seed, corpus)
        ents = seed_ents if seed.unit == "row" else set().union(*(_distinct(srcs[j].fact, corpus) for j in members))
        # a section whose heading names one thing is about it throughout, whatever else a paragraph names first
        named_section = bool(_heading_names(seed, corpus)) if seed.unit != "row" else False
        terms = set().union(*(_rare_terms(srcs[j].fact, corpus) for j in members))
        # the words of the section's heading that the seed's paragraph uses: a paragraph that uses them too is
        # about the section's subject ("Unclaimed deals": the deals, the claims)
        topic = set(term_keys(seed.heading)) if seed.heading and (not seed.path or seed.heading != seed.path[0]) \
            else set()
        members_terms = set().union(*(srcs[j].fact.terms for j in members))
        # a row's column names ("Sum insured (set 1 April 2024)", "Value at risk at 31 Dec 2024"): the paragraph that
        # introduces its table in those words says what a breach of them means ("Each site is subject to an average
        # clause: if the value at risk ... is higher than the site's sum insured ...")
        columns = _column_terms(seed) if seed.unit == "row" and seed.kind != "neutral" else set()
        for step in (-1, 1):
            b = home + step
            intro = step < 0 and bool(columns)
            while 0 <= b < len(blocks) and abs(b - home) <= _WINDOW:
                idx = [j for j in blocks[b] if not owned[j]]
                first = blocks[b][0]
                far = abs(srcs[first].span[1] - srcs[i].span[1]) > 1 and not srcs[i].span[0].startswith("#")
                if not idx and seed.unit == "row" and srcs[first].fact.unit == "row" and section(first) == section(i) \
                        and not far:
                    b += step  # a row another issue took: the table's other rows still stand beside this one
                    continue
                if not idx or section(first) != section(i) or far:  # a channel's messages: any distance
                    break
                f_ents = set().union(*(_distinct(srcs[j].fact, corpus) for j in idx))
                f_terms = set().union(*(_rare_terms(srcs[j].fact, corpus) for j in idx))
                is_row = srcs[first].fact.unit == "row"
                related = bool(f_ents & ents) or len(f_terms & terms) >= 2 or \
                    bool(topic & members_terms & set().union(*(srcs[j].fact.terms for j in idx)))
                if seed.unit == "row" or is_row:
                    # rows are items of their own: a row joins only what names it, and walks no further; or a row
                    # and the paragraph beside it that make the same point of the same thing ("Funds not used
                    # within 24 months ... expire" above "Funds due to expire January to June 2025: £61,300")
                    point = set(seed.cues) & _POINTS
                    same_point = bool(point) and (seed.unit == "row") != is_row and \
                        any(set(srcs[j].fact.cues) & point and set(srcs[j].fact.entities) & set(seed.entities)
                            for j in idx)
                    introduces = intro and not is_row and \
                        len(columns & set().union(*(srcs[j].fact.terms for j in idx))) >= 3
                    if not is_row:
                        intro = False  # only the paragraph just above the table introduces it
                    if (related and (not is_row or f_ents & seed_ents)) or same_point or introduces:
                        members.extend(idx)
                    b += step
                    continue
                if not named_section and not f_ents & ents and _subject(srcs[first].fact, corpus) - ents:
                    break  # the section turns to another named thing
                claims = [srcs[j].fact.kind for j in idx if srcs[j].fact.kind != "neutral"]
                if claims and not related and not (seed.kind in claims and f_terms & terms):
                    break  # a paragraph with a point of its own about something else
                if not related and any(srcs[j].fact.benign for j in idx) and not seed.benign:
                    break  # a paragraph that settles something else ("we do not make those")
                members.extend(idx)
                ents |= f_ents
                terms |= f_terms
                b += step
        members = sorted(set(members))
        for j in members:
            owned[j] = True
        out.append(_Group(srcs[i], [srcs[i], *(srcs[j] for j in members if j != i)]))
    return out


def _column_terms(f: Fact) -> set[str]:
    """The words of a register row's column names, but dates ("Value at risk at 31 Dec 2024": valu, risk)."""
    parts = row_split(f.text)
    if parts is None:
        return set()
    heads = " ".join(c.split(":", 1)[0] for c in row_cells(parts[1]) if ":" in c)
    return {t for t in term_keys(heads) if not _CALENDAR_TERM.fullmatch(t)}


_CALENDAR_TERM = re.compile(r"\d+|jan\w*|feb\w*|mar\w*|apr\w*|may|jun\w*|jul\w*|aug\w*|sep\w*|oct\w*|nov\w*|dec\w*|"
                            r"q[1-4]|fy\d*|h[12]|week|month|year|set|at|as")


def _heading_names(f: Fact, corpus: Corpus | None) -> set[str]:
    """The distinctive names of the section heading a sentence sits under (not the document's title)."""
    if not f.heading or (f.path and f.heading == f.path[0]):
        return set()
    return {e for e in entity_keys(f.heading) if corpus is None or (corpus.distinctive(e) and corpus.is_name(e))}


def _subject(f: Fact, corpus: Corpus | None) -> set[str]:
    """The distinctive names a sentence opens with (what a paragraph that starts with it is about)."""
    head = " ".join(f.text.split()[:4])
    return {e for e in entity_keys(head) if corpus is None or (corpus.distinctive(e) and corpus.is_name(e))}


def _distinct(f: Fact, corpus: Corpus | None) -> set[str]:
    return {e for e in f.entities if corpus is None or corpus.distinctive(e) or (corpus.is_name(e) and " " in e)}


def _rare_terms(f: Fact, corpus: Corpus | None) -> set[str]:
    return {t for t in f.terms if corpus is not None and corpus.specific_term(t)}


def _effective(f: Fact) -> tuple[float, float]:
    """A fact's risk and opportunity weight once what resolves or reassures is taken off."""
    r = f.risk * (1 - min(0.8, 0.5 * (f.benign + f.assurance)))
    o = f.opportunity * (1 - min(0.8, 0.3 * (f.benign + f.assurance)))
    return r, o


def _weigh(g: _Group, corpus: Corpus | None) -> tuple[str, float]:
    """The kind of a group (what its facts add up to, the most telling one counting most) and its severity: how
    strongly the whole group says it (each further sentence adding less), with more for figures, money at stake,
    dates and deadlines, single points of failure, safety, legal or regulatory exposure and nobody owning it;
    less when the document itself says it is resolved, rehearsed or not ours, or is a document of that kind."""
    risk = opp = benign = 0.0
    # customers asking for what the business cannot offer: the deals lost for want of it are demand, not decline
    unmet = any("opp.demand" in m.fact.cues for m in g.members)
    weights_r: list[float] = []
    weights_o: list[float] = []
    for k, m in enumerate(g.members):
        w = 1.0 if k == 0 else 0.6
        r, o = _effective(m.fact)
        if unmet and "risk.loss" in m.fact.cues and m.fact.kind == "risk" and _SALES.search(m.fact.text):
            r, o = 0.0, o + r
        risk += w * r
        opp += w * o
        weights_r.append(r)
        weights_o.append(o)
        if m.fact.kind != "risk" and _about(m.fact, g.seed.fact):
            benign += m.fact.benign  # not "Contents cover is unaffected" beside an excluded tower
    # a group that points nowhere is no issue of its own, but what it states still weighs in a link
    neutral = max(risk, opp) < 0.9
    kind = "risk" if risk >= opp else "opportunity"
    # the issue is what its most telling sentence says, unless the rest says the opposite much more strongly
    seed_r, seed_o = _effective(g.seed.fact)
    if g.seed.fact.kind == "risk" and opp < 1.5 * risk and seed_r >= seed_o:
        kind = "risk"
    elif g.seed.fact.kind == "opportunity" and risk < 1.5 * opp and seed_o > seed_r:
        kind = "opportunity"
    # ... and where the money is: a sum at stake on one side only, not the seed's, decides ("a 17% discount" beside
    # "a shortfall charge of £38.50 for each disc not bought"; "flagged 'do not review'" beside "would add about
    # £7,400 a month")
    summed = {m.fact.kind for m in g.members if m.fact.kind != "neutral" and "money" in m.fact.cues}
    if len(summed) == 1 and "money" not in g.seed.fact.cues and kind not in summed:
        kind = next(iter(summed))
    strength = sum(w * 0.6 ** i for i, w in enumerate(sorted(weights_r if kind == "risk" else weights_o,
                                                             reverse=True)))
    cues = {c for m in g.members for c in m.fact.cues}
    severity = max(0.3 + 0.4 * min(1.0, strength / 3.0), 0.9 * g.seed.fact.severity)
    severity += 0.08 * any(m.fact.figures for m in g.members) + 0.06 * any(m.fact.dates for m in g.members)
    severity += 0.12 * bool(cues & _GRAVE) if kind == "risk" else 0.08 * bool(cues & _OPENING)
    severity += 0.06 * ("money" in cues) + 0.08 * ("stake" in cues) + 0.08 * ("gap" in cues) + \
        0.06 * ("deadline" in cues)
    # an issue that the document tells along several lines (failures, and customers leaving, and no fix) weighs
    # more than one told along one
    dims = cues & _DIMENSIONS
    severity *= 1 + 0.05 * max(0, min(5, len(dims)) - 1)
    specifics = len({x for m in g.members for x in _specifics(m.text)}) + \
        len({e for m in g.members for e in m.fact.entities})
    severity *= 0.6 + 0.4 * min(1.0, specifics / 4)
    # the document itself says it is resolved, rehearsed, not ours or needs no action
    if any("benign" in m.fact.around for m in g.members) and not any(m.fact.benign for m in g.members):
        benign += 1.0  # a verdict too short to be a fact ("Resolved.") speaks for its paragraph
    severity *= 1 - min(0.65, 0.35 * benign)
    if corpus is not None:
        severity *= corpus.damping(g.seed.span[0])
    if neutral:
        return "neutral", round(0.6 * severity, 4)
    return kind, round(severity, 4)


def _about(f: Fact, seed: Fact) -> bool:
    """Whether ``f`` speaks of what ``seed`` does: it names nothing of its own, or something ``seed`` names."""
    return not f.entities or bool(set(f.entities) & {*seed.entities, *seed.context})


def main_of(g: _Group, kind: str) -> Source:
    """The sentence an issue of ``kind`` opens with: the group's seed, unless the seed says the other kind; then
    its weightiest sentence of ``kind``."""
    if g.seed.fact.kind in (kind, "neutral"):
        return g.seed
    same = [m for m in g.members if m.fact.kind == kind]
    return max(same, key=lambda m: (m.fact.severity, -m.span[1], -m.span[2])) if same else g.seed


_SALES = re.compile(r"\b(?:deals?|customers?|clients?|prospects?|sales|bids?|tenders?|renewals?|orders?|business)\b",
                    re.IGNORECASE)
_GRAVE = frozenset({"risk.single", "risk.compliance", "risk.safety", "risk.concentration", "risk.security",
                    "risk.exposure", "risk.graded"})
_OPENING = frozenset({"opp.demand", "opp.unused", "opp.rival", "opp.use-or-lose"})
_DIMENSIONS = frozenset({
    "risk.failure", "risk.outage", "risk.supply", "risk.single", "risk.end", "risk.late", "risk.loss",
    "risk.compliance", "risk.safety", "risk.capacity", "risk.concentration", "risk.security", "risk.exposure",
    "opp.demand", "opp.saving", "opp.unused", "opp.growth", "opp.rival", "opp.use-or-lose", "gap", "deadline", "money",
})
_SPECIFIC = re.compile(r"[$£€]?\d[\d,.]*%?|\b[A-Z][A-Za-z0-9-]*\d[A-Za-z0-9-]*\b")


@functools.lru_cache(maxsize=65_536)
def _specifics(text: str) -> frozenset[str]:
    # once per sentence: choosing what an issue shows asks it of every candidate at every step, every pass
    return frozenset(m.group(0).lower().rstrip(".,") for m in _SPECIFIC.finditer(text))


_CAUSE = re.compile(r"\b(?:because|due to|driven by|as a result of|owing to|caused by)\b", re.IGNORECASE)


def _informative(main: Source, cands: Sequence[Source], n: int,
                 prefer: frozenset[SpanKey] | set[SpanKey] = frozenset(),
                 naming: frozenset[SpanKey] | set[SpanKey] = frozenset()) -> list[Source]:
    """Up to ``n`` of ``cands`` that tell the reader most about the same thing as ``main``: facts that share its
    words and add figures, dates, codes or names it lacks, a deadline, or that nobody owns the matter, weighed by
    how much each matters; in document order."""
    about = set(main.fact.terms) | set(main.fact.entities)
    have = _specifics(main.text) | set(main.fact.entities)
    told = set(main.fact.cues) & _DIMENSIONS
    chosen: list[Source] = []
    pool = list(cands)

    def gain(s: Source) -> float:
        f = s.fact
        new_specifics = len(_specifics(s.text) - have)
        new_names = len(set(f.entities) - have)
        shared = len((set(f.terms) | set(f.entities)) & about)
        g = (0.3 + f.severity) * (1 + 0.4 * min(3, new_specifics) + 0.15 * min(3, new_names))
        g *= 1 + 0.25 * min(4, shared)
        # a side of the issue the reader has not been told yet (no fallback, a deadline, nobody owns it)
        g += 0.3 * ("gap" in f.cues) + 0.3 * ("deadline" in f.cues) + 0.4 * bool(set(f.cues) & _DIMENSIONS - told)
        # why it happens ("net debt rises in the September quarter because of the Tarnbrook purchase"): what a
        # reader needs to act, where another row of the same table only repeats the pattern
        g += 0.6 * bool(_CAUSE.search(s.text) and (new_specifics or new_names))
        return g * (1.2 if s.span in prefer else 1.0) * (1.5 if s.span in naming else 1.0)

    while pool and len(chosen) < n:
        best = max(pool, key=lambda s: (gain(s), -s.span[1], -s.span[2]))
        # a rule in the main fact's own words says what it means ("Each site is subject to an average clause: if
        # the value at risk ... is higher than the site's sum insured ..."), though it adds no figure or name
        rule = "obligation" in best.fact.cues and len(set(best.fact.terms) & about) >= 4
        if not (_specifics(best.text) | set(best.fact.entities)) - have and chosen and "gap" not in best.fact.cues \
                and not rule and best.span not in naming:
            pool.remove(best)  # tells nothing new; a weaker fact may still
            continue
        chosen.append(best)
        pool.remove(best)
        have |= _specifics(best.text) | set(best.fact.entities)
        told |= set(best.fact.cues) & _DIMENSIONS
    return sorted(chosen, key=lambda s: (s.span[1], s.span[2]))


# -- links: two documents' groups joined by what an agent said -----------------------------------------------------

# how much the second document adds, by what an agent said the two mean together; a "compound" (two troubles
# that share a name) is not an issue of its own
_COMMON_NAME = 0.5  # rarity below which a shared name alone does not make two groups one matter
# make a second issue of a joined group
_DECISIVE = frozenset({"timing", "demand-vs-capacity", "breach", "leaver", "over-limit", "threshold", "uninsured",
                       "consolidate", "sunk"})
_JOINS = {"timing": 0.6, "demand-vs-capacity": 0.6, "demand-meets-supply": 0.6, "short-of-level": 0.6,
          "breach": 0.6, "leaver": 0.6, "over-limit": 0.6, "uninsured": 0.6, "threshold": 0.5, "consolidate": 0.5,
          "sunk": 0.6,
          "dependency": 0.5, "undercut": 0.5,
          "unplanned": 0.5,
          "exposure": 0.5,
          "contradiction": 0.4, "obligation": 0.3}


def _linked(links: Mapping[tuple[SpanKey, SpanKey], list[Said]], sources: Mapping[SpanKey, Source],
            groups: Mapping[SpanKey, _Group], owner: Mapping[SpanKey, SpanKey],
            corpus: Corpus | None) -> list[Issue]:
    """One issue per pair of groups that agents linked, strongest first; a group belongs to one issue only."""
    by_groups: dict[tuple[SpanKey, SpanKey], list[tuple[SpanKey, SpanKey]]] = {}
    for (pa, pb), ss in links.items():
        ka, kb = owner.get(pa), owner.get(pb)
        if ka is None or kb is None or ka == kb or not any(x.relation in _JOINS for x in ss):
            continue
        low, high = sorted((groups[ka].severity, groups[kb].severity))
        # one side says next to nothing: the join would only retitle the other; but a plain date of a plan (a
        # milestone row) says nothing alone and everything against another team's end date
        if (low < 0.25 * high or not (_says_something(groups[ka]) and _says_something(groups[kb]))) and \
                not any(x.relation in _SILENT_SIDES for x in ss) and not _reassured(ss):
            continue
        if max(_rarity(x.entity, corpus) for x in ss) < _COMMON_NAME and \
                _overlap(groups[ka], groups[kb], corpus) < 2 and not any(x.relation in _DECISIVE for x in ss):
            # a name many documents use (a site, the company's main supplier) and next to nothing else in
            # common: two matters that share a name, unless their dates or figures clash
            continue
        by_groups.setdefault((ka, kb) if ka <= kb else (kb, ka), []).append((pa, pb))

    def relation(key: tuple[SpanKey, SpanKey]) -> str:
        return max((x.relation for p in by_groups[key] for x in links[p] if x.relation in _JOINS),
                   key=lambda r: (_JOINS[r], r))

    def strength(key: tuple[SpanKey, SpanKey]) -> float:
        ga, gb = groups[key[0]], groups[key[1]]
        # a join on a name few documents use says more than one on a name every document uses
        rarest = max((_rarity(x.entity, corpus) for p in by_groups[key] for x in links[p]), default=1.0)
        return _joined(ga.severity, gb.severity, relation(key)) * (0.6 + 0.4 * rarest) * \
            (1 + 0.08 * min(5, _overlap(ga, gb, corpus)))

    by_doc: dict[str, list[Source]] = {}
    for src in sources.values():
        by_doc.setdefault(src.span[0], []).append(src)
    for doc_sources in by_doc.values():
        doc_sources.sort(key=lambda s: (s.span[1], s.span[2]))
    out: list[Issue] = []
    used: dict[SpanKey, list[tuple[str, str]]] = {}  # group -> (relation, the other side's document) of its issues
    for key in sorted(by_groups, key=lambda k: (-strength(k), k)):
        rel = relation(key)
        taken = [used[g] for g in key if g in used]
        # a group joins one issue, except that a clash in time with a group no issue holds is an issue of its own
        # (a lease that ends is one thing with the idle space it frees and another with the work booked after it),
        # and so is what sits idle meeting another team's need (the room sales turns conferences away for is one
        # opening, the same room instead of the venue HR hires another)
        if taken:
            prior = taken[0]
            other = key[1] if key[0] in used else key[0]
            second_need = rel == "demand-meets-supply" and all(r == rel for r, _ in prior) and \
                groups[other].seed.span[0] not in {d for _, d in prior}
            if len(taken) == 2 or not (second_need or (rel in _DECISIVE and rel not in {r for r, _ in prior})):
                continue
            if groups[other].seed.span[0] in {d for _, d in prior}:
                continue  # the same two documents again, by another relation: one matter told twice
        ga, gb = key
        used.setdefault(ga, []).append((rel, groups[gb].seed.span[0]))
        used.setdefault(gb, []).append((rel, groups[ga].seed.span[0]))
        pairs = [p for p in by_groups[key] if any(x.relation == rel for x in links[p])]
        ss = [x for p in by_groups[key] for x in links[p]]
        best = max(pairs, key=lambda p: (sources[p[0]].fact.severity + sources[p[1]].fact.severity, p))
        first = min((x for x in links[best] if x.relation == rel), key=lambda x: x.id)
        a, b = sources[best[0]], sources[best[1]]
        if first.span == best[1]:
            a, b = b, a  # the side the agent started from reads first
        group_a, group_b = groups[owner[a.span]], groups[owner[b.span]]
        # each side shows what else its group says, and what its section says about the linked sentence's
        # subject (the lifts the crane comes back for)
        extra = _shown(a, group_a, by_doc, first.entity, corpus) + _shown(b, group_b, by_doc, first.entity, corpus)
        issue = Issue(f"link:{a.span[0]}:{a.span[2]}:{b.span[0]}:{b.span[2]}", first.kind or "risk", [a, b, *extra],
                      first.relation, first.consequence, first.entity,
                      cross_label=any(x.cross_label for x in ss))
        issue.absorbed = len(group_a.members) + len(group_b.members) - len(issue.sources)
        issue.members = list({m.span: m for m in (a, b, *group_a.members, *group_b.members)}.values())
        for x in ss:
            issue.linked_by.add(x.role)
            if x.message is not None:
                issue.link_messages.append(x.message)
        _score(issue, [group_a, group_b], corpus)
        out.append(issue)
    return out


_TELLING = frozenset({"bought-in", "dependency", "obligation", "deadline", "assurance", "benign", "gap", "load",
                      "stake"})


def _shown(src: Source, group: _Group, by_doc: Mapping[str, Sequence[Source]], entity: str,
           corpus: Corpus | None = None) -> list[Source]:
    """What one side of a link shows besides its linked sentence: up to three facts of its own group, of its
    section or of its document about the linked thing, its own group first."""
    members = {m.span for m in group.members}
    rare = corpus is not None and corpus.entity_df.get(entity.lower(), 0) <= 2
    cands = [m for m in _nearby(src, group, by_doc, entity, rare) if m is not src]
    # what the document says of the linked thing itself tells the reader more than the rest of its list
    key = entity.lower()
    naming = {m.span for m in cands if key and (key in m.fact.entities or key in m.text.lower() or
                                                 key in m.fact.heading.lower())}
    shown = _informative(src, cands, 4, prefer=members, naming=naming)
    pointed = [r for x in (src, *shown) for r in _pointed(x, by_doc) if r is not src and r not in shown]
    return shown + list({r.span: r for r in pointed}.values())[:2]


_ROW_CODE = re.compile(r"\b[A-Z][A-Z0-9]{0,5}-\d{2,6}[A-Z]?\b")


def _pointed(src: Source, by_doc: Mapping[str, Sequence[Source]], n: int = 2) -> list[Source]:
    """The rows of its own document a sentence points to by their codes ("requests for trailer parking (Q3-02,
    Q3-06)", "the load was made up from the bays where HX-0917 was stacked"): what the reader needs to see what it
    means, in the order it names them."""
    own = _ROW_CODE.match(src.text)
    codes = [c for c in dict.fromkeys(_ROW_CODE.findall(src.text)) if not (own and c == own.group(0))]
    rows: dict[str, Source] = {}
    named: list[Source] = []
    low = src.text.lower()
    for s in by_doc.get(src.span[0], ()):
        if s.fact.unit != "row" or s.span == src.span:
            continue
        m = _ROW_CODE.match(s.text)
        if m is not None and m.group(0) in codes:
            rows.setdefault(m.group(0), s)
        elif src.fact.unit != "row" and len(key := _ROW_NAME.split(s.text, maxsplit=1)[0].strip().lower()) >= 8 \
                and " " in key and key in low and re.search(rf"\b{re.escape(key)}\b", low):
            named.append(s)  # "Review subcontract haulage ...": the row "Subcontract haulage (YTD actual: ...)"
    return ([rows[c] for c in codes if c in rows] + named)[:n]


_ROW_NAME = re.compile(r"[(;:]")  # a row's name ends where its first cell begins


def _nearby(src: Source, group: _Group, by_doc: Mapping[str, Sequence[Source]], entity: str = "",
            rare: bool = True) -> list[Source]:
    """The members of ``src``'s group, the facts of its section within a few sentences that share one of its
    less common words, and the facts of its document that name what the link is about."""
    out = list(group.members)
    doc = by_doc.get(src.span[0], ())
    key = entity.lower()
    if key:
        # what the document says about the linked name: its prose, and its row about it (not when a register
        # has a row about it for every item it lists)
        # (or that sit under a heading that names it, when few documents do: "Export Administrator (incumbent D.
        # Okafor)": "The incumbent has indicated she would consider voluntary redundancy")
        named = [s for s in doc if key in s.fact.entities or (rare and key in s.fact.heading.lower())]
        rows = rare or sum(s.fact.unit == "row" for s in named) <= 2
        out += [s for s in named if s not in out and (rows or s.fact.unit != "row")]
        if " " in key:
            # a role or a thing named in plain words ("transport manager"): the prose that speaks of it, or sits
            # under a heading that does ("Why the transport manager matters: ... notify the Traffic Commissioner")
            out += [s for s in doc if s not in out and s.fact.unit != "row" and
                    (key in s.text.lower() or key in s.fact.heading.lower())][:6]
    at = next((i for i, s in enumerate(doc) if s.span == src.span), -1)
    if at < 0:
        return out
    words = set(src.fact.terms) | set(src.fact.entities) | set(src.fact.context)
    for s in doc[max(0, at - 8):at + 9]:
        if s in out or s.fact.heading != src.fact.heading or s.fact.path != src.fact.path:
            continue
        if words & (set(s.fact.terms) | set(s.fact.entities)) - _COMMON_WORDS:
            out.append(s)
    return out


_COMMON_WORDS = frozenset(("will", "also", "week", "month", "year", "plan", "team", "site", "work", "made", "said",
                           "need", "first", "last", "next", "new", "each", "from", "with", "have", "been"))


def _reassured(ss: Sequence[Said]) -> bool:
    """A contradiction whose calm side is a reassurance ("the bakery range is sesame-free"): what it says is that
    all is well, which is the point when the other document shows it is not."""
    return any(x.relation == "contradiction" and any(f is not None and "assurance" in f.cues
                                                     for f in (x.fact, x.link_fact)) for x in ss)


def _says_something(g: _Group) -> bool:
    """A group with a claim, or with a dependency, commitment, deadline, dated plan, reassurance, demand or money at
    stake that another document's claim can bear on (not only figures and dates)."""
    return any(m.fact.kind != "neutral" or _TELLING & set(m.fact.cues) or ("change" in m.fact.cues and m.fact.dates)
               for m in g.members)


def _overlap(a: _Group, b: _Group, corpus: Corpus | None) -> int:
    """How many of their less common words two groups share: two documents telling of one matter (a pump that
    restarted during an infusion, pumps that reboot during infusions) share more than a customer's name."""
    words_a = {t for m in a.members for t in m.fact.terms}
    words_b = {t for m in b.members for t in m.fact.terms}
    common = words_a & words_b
    if corpus is not None and corpus.docs:
        common = {t for t in common if corpus.term_df.get(t, 0) <= max(2, corpus.docs // 3)}
    return len(common)


def _rarity(entity: str, corpus: Corpus | None) -> float:
    """0..1: how few of the corpus's documents name ``entity`` (1 when unknown)."""
    if corpus is None or not entity or corpus.docs < 2:
        return 1.0
    top = corpus.idf("\0")  # a key no document has
    return max(0.0, min(1.0, corpus.idf(entity.lower()) / top))


# relations that are trouble in themselves, whatever each side says alone: a forecast below the level a covenant
# tests on that day is a breach to come, though neither the forecast nor the covenant reads as a risk; a stock row
# "advertised" against a rule that forbids selling it is a breach now; a practice an insurance exclusion leaves
# uncovered is a loss nobody will pay for
_GRAVE_JOIN = {"short-of-level": 0.9, "breach": 0.85, "leaver": 0.85, "over-limit": 0.85, "uninsured": 0.85,
               "sunk": 0.85}
# relations whose sides may each say nothing alone: a plan's date against another team's end date, a forecast row
# against a covenant's level, a register row against a rule, a plan's practice against an exclusion of cover
_SILENT_SIDES = frozenset({"timing", "short-of-level", "breach", "leaver", "over-limit", "threshold", "uninsured",
                           "consolidate", "sunk"})


def _joined(a: float, b: float, relation: str) -> float:
    return max(max(a, b) + _JOINS.get(relation, 0.0) * min(a, b), _GRAVE_JOIN.get(relation, 0.0))


def _score(issue: Issue, groups: Sequence[_Group], corpus: Corpus | None) -> None:
    if len(groups) > 1:
        severity = _joined(groups[0].severity, groups[1].severity, issue.relation) * \
            (0.6 + 0.4 * _rarity(issue.entity, corpus)) * (1 + 0.08 * min(5, _overlap(groups[0], groups[1], corpus)))
    else:
        severity = groups[0].severity
    roles = set().union(*(s.roles for s in issue.sources)) | issue.linked_by
    depts = set().union(*(s.departments for s in issue.sources))
    spans = len(issue.sources)
    # independent corroboration: distinct source spans and roles and departments (saturating); how many times a
    # sentence was repeated does not count
    corroboration = (1 - math.exp(-spans / 2)) * 0.5 + (1 - math.exp(-len(roles - {""}) / 2)) * 0.3 + \
        (1 - math.exp(-len(depts - {""}) / 2)) * 0.2
    bonus = 1.0
    if len(issue.documents) > 1:
        bonus *= 1.15
        if issue.cross_label:
            bonus *= 1.1
        if issue.relation == "contradiction":
            bonus *= 1.1
    issue.severity = round(min(2.0, severity), 4)
    issue.corroboration = round(corroboration, 4)
    issue.score = round(issue.severity * (0.5 + corroboration) * bonus, 6)
