"""Scenario checks, truths: the planted risks and opportunities that ``chorus insights eval`` scores mining against
(id, kind, title, match terms and how many must match, the documents that hold them), and the warning when a truth's
match term is written into the agents (persona traits, goals, concerns) or a channel topic.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from personas.scenario.model import Truth, TruthKind
from personas.scenario.reader import MISSING, LineList, LineMap, ShapeChecker, hint, one_of

DEFAULT_MIN_MATCH = 2
_TRUTH = (("id", "kind", "match"), ("title", "min_match", "documents"))
_PERSONA_TEXT = ("traits", "goals", "concerns")
_TRUTH_KINDS: tuple[TruthKind, ...] = ("risk", "opportunity")


class TruthChecks(ShapeChecker):
    """The ``truths`` section: one :class:`Truth` per entry."""

    def truths(self, top: LineMap, titles: Sequence[str] | None) -> list[Truth]:
        """The truths; ``titles`` are the file's document titles (None when the documents have problems of their
        own: a reference to them is then not checked, so that it is not reported as unknown as well)."""
        out: list[Truth] = []
        seen: dict[str, str] = {}
        for m, at in self.items(top, "truths", ""):
            self.keys(m, at, _TRUTH)
            ident = self.get(m, "id", at, "string", None)
            if isinstance(ident, str):
                ident = ident.strip()
                if ident in seen:
                    self.add(self.line(m, "id"), f"{at}.id", f"truth id {ident!r} is already used at {seen[ident]}")
                    ident = None
                else:
                    seen[ident] = at
            kind = self.get(m, "kind", at, "string", None)
            if isinstance(kind, str) and kind not in _TRUTH_KINDS:
                self.add(
                    self.line(m, "kind"),
                    f"{at}.kind",
                    f"unknown kind {kind!r}{hint(kind, _TRUTH_KINDS)}; a truth is a risk or an opportunity",
                )
                kind = None
            title = self.get(m, "title", at, "string", ident)
            terms = self.strings(m, "match", at) if "match" in m else None
            if terms is not None and not terms:
                self.add(self.line(m, "match"), f"{at}.match", "match needs at least one term")
                terms = None
            min_match = self.get(m, "min_match", at, "integer", DEFAULT_MIN_MATCH)
            if isinstance(min_match, int) and terms is not None and not 1 <= min_match <= len(terms):
                key = "min_match" if "min_match" in m else "match"
                given = "" if "min_match" in m else " (the default)"
                allowed = "1" if len(terms) == 1 else f"between 1 and {len(terms)}"
                self.add(
                    self.line(m, key),
                    f"{at}.{key}",
                    f"min_match is {min_match}{given} but match has {len(terms)} term"
                    f"{'s' if len(terms) != 1 else ''}; set min_match to {allowed} or add terms",
                )
                min_match = MISSING
            documents = self.documents_of(m, at, titles)
            if (
                isinstance(ident, str)
                and isinstance(kind, str)
                and isinstance(title, str)
                and terms
                and isinstance(min_match, int)
                and documents is not None
            ):
                kind_: TruthKind = "risk" if kind == "risk" else "opportunity"
                out.append(Truth(ident, kind_, title.strip(), terms, min_match, documents))
        return out

    def documents_of(self, m: LineMap, at: str, titles: Sequence[str] | None) -> tuple[str, ...] | None:
        """A truth's ``documents``: titles of documents in this file (None after reporting a problem)."""
        named = self.strings(m, "documents", at)
        if named is None or titles is None or "documents" not in m:
            return named
        lines = m["documents"].item_lines
        known = ("the documents of this file are " + one_of(dict.fromkeys(titles))) if titles else (
            "this file has no documents")
        ok = True
        for i, title in enumerate(named):
            if title not in titles:
                self.add(lines[i], f"{at}.documents[{i}]", f"unknown document {title!r}{hint(title, titles)}; {known}")
                ok = False
        return named if ok else None

    def echoes(self, top: LineMap, truths: Sequence[Truth]) -> None:
        """Warn wherever a truth's match term (case-insensitive substring) is written into a role's traits, goals or
        concerns or a channel's topic: agents could then say it without reading any document."""
        places = list(_agent_text(top))
        for truth in truths:
            for term in truth.match:
                low = term.lower()
                for line, path, where, text in places:
                    if low in text.lower():
                        self.warn(line, path, f"match term {term!r} of truth {truth.id} appears in {where} "
                                              f"({text.strip()!r}): agents can say it without reading any document, "
                                              "so an evaluation would measure echo, not discovery")


def _agent_text(top: LineMap) -> Iterator[tuple[int, str, str, str]]:
    """(line, key path, whose, text) of every persona text and channel topic in a checked file."""
    org, channels = top.get("org"), top.get("channels")
    for i, role in enumerate(org if isinstance(org, LineList) else ()):
        if not isinstance(role, LineMap):
            continue
        name = str(role.get("role")).strip()
        for key in _PERSONA_TEXT:
            items = role.get(key)
            if isinstance(items, LineList):
                for j, (text, line) in enumerate(zip(items, items.item_lines, strict=True)):
                    yield line, f"org[{i}].{key}[{j}]", f"the {key} of role {name!r}", str(text)
    for i, channel in enumerate(channels if isinstance(channels, LineList) else ()):
        if isinstance(channel, LineMap) and isinstance(channel.get("topic"), str):
            where = f"the topic of channel {str(channel.get('name')).strip()!r}"
            yield channel.key_lines.get("topic", channel.line), f"channels[{i}].topic", where, channel["topic"]
