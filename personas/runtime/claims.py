"""Claims: what agents state about the business, each grounded in a document span. The run's library of facts
(every claim-bearing sentence of every document, with the chunk and offsets it sits at), the blackboard of claims
posted so far (indexed by the distinctive names they mention, for agents to link), storing claims with the
message that carried them, and the read API mining uses. A claim that cites no real span is refused.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from personas.bulk import insert_rows
from personas.context.documents import documents_for_reading
from personas.context.facts import Corpus, Fact, facts
from personas.context.passages import plain
from personas.llm.base import ClaimOut, FactRef
from personas.runtime.links import Link, Stated, cover_keys, find_links, index_keys
from personas.tables import Claim
from workspace import db as dbmod
from workspace.db_sql import in_batches
from workspace.labels import Label, LabelScheme

_COLS = ("workspace", "run", "round", "message", "channel", "author", "role", "department", "kind", "document",
         "chunk", "span_start", "span_end", "text", "other_document", "other_chunk", "other_start", "other_end",
         "other_text", "relation", "stance", "consequence", "entity", "label_level", "label_mask", "created_at")
_PG = ("int", "bigint", "int", "bigint", "bigint", "bigint", "text", "text", "text", "bigint", "bigint", "int", "int",
       "text", "bigint", "bigint", "int", "int", "text", "text", "text", "text", "text", "int", "bigint",
       "timestamptz")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class FactSpan:
    """A fact at its place: document, chunk and offsets into the chunk's text (``chunk_text[start:end]``)."""

    key: str
    document: int
    chunk: int
    start: int
    end: int
    fact: Fact
    label: Label
    source: str  # the document's title

    def ref(self) -> FactRef:
        return FactRef(self.key, self.fact.text, self.source, self.fact.heading, self.fact.kind,
                       self.fact.entities[0] if self.fact.entities else "")


@dataclass
class Library:
    """Every document's facts, mapped onto its chunks, and the corpus statistics over all of them."""

    scheme: LabelScheme
    corpus: Corpus = field(default_factory=Corpus)
    facts: dict[str, FactSpan] = field(default_factory=dict)
    by_chunk: dict[int, list[str]] = field(default_factory=dict)
    by_document: dict[int, list[str]] = field(default_factory=dict)
    chunk_text: dict[int, str] = field(default_factory=dict)
    titles: dict[int, str] = field(default_factory=dict)
    labels: dict[int, Label] = field(default_factory=dict)
    top_document: int = 0

    async def load(self, workspace_id: int) -> int:
        """Read documents added since the last load; returns how many."""
        docs = await documents_for_reading(workspace_id, self.top_document)
        for d in docs:
            self.add_document(int(d["id"]), str(d["title"]), str(d["body"]),
                              self.scheme.from_ints(int(d["label_level"]), int(d["label_mask"])), d["chunks"])
            self.top_document = max(self.top_document, int(d["id"]))
        return len(docs)

    def add_document(self, doc_id: int, title: str, body: str, label: Label,
                     chunks: Sequence[dict[str, Any]]) -> None:
        self.titles[doc_id] = title
        self.labels[doc_id] = label
        found = facts(body)
        self.corpus.add_document(body, found, str(doc_id), title)
        spans = sorted((int(c["start"]), int(c["start"]) + len(c["text"]), int(c["id"])) for c in chunks
                       if int(c["start"]) >= 0)
        for c in chunks:
            self.chunk_text[int(c["id"])] = str(c["text"])
            if int(c["start"]) < 0:  # not a slice of the body (a canary, or ingested before exact passages)
                for f in facts(str(c["text"])):
                    self._add(doc_id, int(c["id"]), f.start, f.end, f, label, title)
        for f in found:
            for lo, hi, chunk in spans:
                if lo <= f.start and f.end <= hi:
                    self._add(doc_id, chunk, f.start - lo, f.end - lo, f, label, title)
                    break

    def _add(self, doc_id: int, chunk: int, start: int, end: int, f: Fact, label: Label, title: str) -> None:
        key = f"{doc_id}:{chunk}:{start}:{end}"
        self.facts[key] = FactSpan(key, doc_id, chunk, start, end, f, label, title)
        self.by_chunk.setdefault(chunk, []).append(key)
        self.by_document.setdefault(doc_id, []).append(key)

    def neighbours(self, span: FactSpan) -> list[FactSpan]:
        """Other facts of the same paragraph, list item or table as ``span``, in document order."""
        return [self.facts[k] for k in self.by_document.get(span.document, ())
                if k != span.key and self.facts[k].fact.block == span.fact.block]

    def of_chunk(self, chunk: int) -> list[FactSpan]:
        return [self.facts[k] for k in self.by_chunk.get(chunk, ())]

    def resolve(self, claim: ClaimOut, chunks: Iterable[int]) -> FactSpan | None:
        """The span a claim cites: a known fact by key, or a quote found in one of ``chunks`` (whitespace and
        Markdown marks do not matter). ``None``: it cites nothing real, and is refused."""
        if claim.key:
            return self.facts.get(claim.key)
        quote = _SPACE.sub(" ", plain(claim.quote)).strip().lower()
        if len(quote) < 12:
            return None
        for chunk in chunks:
            for fs in self.of_chunk(chunk):
                text = fs.fact.text.lower()
                if quote in text or text in quote:
                    return fs
        return None


@dataclass(frozen=True, slots=True)
class Posted:
    """A claim as posted: its fact, the message, where and by whom."""

    id: int
    span: FactSpan
    message: int
    channel: int
    author: int
    role: str
    department: str
    round: int


@dataclass
class Blackboard:
    """Claims posted in a run, indexed by the keys find_links looks them up by (the distinctive names they mention
    or lean on, and their rare words), and the links already made."""

    library: Library
    posted: dict[int, Posted] = field(default_factory=dict)
    by_key: dict[str, list[Stated]] = field(default_factory=dict)
    first_post: dict[str, Posted] = field(default_factory=dict)  # span key -> the first claim that stated it
    linked: set[tuple[str, str]] = field(default_factory=set)
    cursor: int = 0
    stated: list[Stated] = field(default_factory=list)
    covered: frozenset[str] = frozenset()  # the corpus's words of insurance exclusions when last indexed

    def add(self, claims: Iterable[Posted]) -> list[Stated]:
        """Index new claims; returns the newly stated spans (a span stated again adds nothing to link on)."""
        fresh: list[Stated] = []
        corpus = self.library.corpus
        if len(corpus.covered) != len(self.covered):
            # an insurance document ingested since: claims already posted may fall foul of its exclusions
            grown = frozenset(corpus.covered - self.covered)
            self.covered = frozenset(corpus.covered)
            for s in self.stated:
                for k in cover_keys(s.fact, corpus, grown):
                    self.by_key.setdefault(k, []).append(s)
        for c in claims:
            self.posted[c.id] = c
            if c.span.key in self.first_post:
                continue
            self.first_post[c.span.key] = c
            s = Stated(c.id, str(c.span.document), c.span.source, c.department or str(c.span.document),
                       (c.span.label.level, c.span.label.mask), c.span.fact)
            fresh.append(s)
            self.stated.append(s)
            for k in index_keys(c.span.fact, corpus):  # the keys find_links looks facts up by
                self.by_key.setdefault(k, []).append(s)
        return fresh

    def links(self, fresh: Sequence[Stated], limit_per_fact: int = 2) -> list[Link]:
        """Links between the fresh claims and everything posted so far, best first, each pair once."""
        out = []
        for lk in find_links(fresh, [], self.library.corpus, limit=limit_per_fact, by_key=self.by_key):
            pair = tuple(sorted((self.posted[lk.a.key].span.key, self.posted[lk.b.key].span.key)))
            if pair in self.linked:
                continue
            self.linked.add((pair[0], pair[1]))
            out.append(lk)
        return out


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def fact_row(ws: int, run: int, rnd: int, message: int, channel: int, author: int, role: str, department: str,
             span: FactSpan) -> tuple[Any, ...]:
    return (ws, run, rnd, message, channel, author, role, department, "fact", span.document, span.chunk, span.start,
            span.end, span.fact.text, None, None, None, None, "", "", "", "", "", span.label.level, span.label.mask,
            _now())


def link_row(ws: int, run: int, rnd: int, message: int, channel: int, author: int, role: str, department: str,
             a: FactSpan, b: FactSpan, relation: str, stance: str, consequence: str, entity: str,
             label: Label) -> tuple[Any, ...]:
    return (ws, run, rnd, message, channel, author, role, department, "link", a.document, a.chunk, a.start, a.end,
            a.fact.text, b.document, b.chunk, b.start, b.end, b.fact.text, relation[:40], stance, consequence[:2000],
            entity[:200], label.level, label.mask, _now())


async def store(rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert claim rows (inside the caller's transaction)."""
    for start in range(0, len(rows), 2_000):
        await insert_rows(Claim._meta.tablename, _COLS, _PG, rows[start:start + 2_000])


async def claims_after(workspace_id: int, after_id: int, limit: int = 5_000) -> list[dict[str, Any]]:
    """A page of the workspace's claims with an id above ``after_id``, by id, with every column (the caller
    applies the label rule to ``label_level``/``label_mask`` before showing any text)."""
    return await dbmod.current().fetch(
        "SELECT * FROM personas_claim WHERE workspace = {} AND id > {} ORDER BY id LIMIT {}",
        workspace_id, after_id, limit)


MINING_COLUMNS = ("id", "message", "kind", "document", "chunk", "span_start", "span_end", "other_document",
                  "other_chunk", "other_start", "other_end", "role", "department", "stance", "relation", "consequence",
                  "entity", "label_level", "label_mask")
"""What :func:`mining_claims_by_id` returns, in this order."""


async def mining_claims(workspace_id: int, after_id: int, limit: int = 20_000) -> list[tuple[Any, ...]]:
    """A page of the workspace's claims with an id above ``after_id``, by id, as tuples of what a claim that
    restates a span needs: id, message, kind, document, chunk, span_start, span_end, role, department (a bulk
    read: no dict per row; :func:`mining_claims_by_id` gives the rest)."""
    return await dbmod.current().fetch_rows(
        "SELECT id, message, kind, document, chunk, span_start, span_end, role, department FROM personas_claim "
        "WHERE workspace = {} AND id > {} ORDER BY id LIMIT {}", workspace_id, after_id, limit)


async def mining_claims_by_id(claim_ids: Sequence[int]) -> dict[int, tuple[Any, ...]]:
    """These claims as tuples of :data:`MINING_COLUMNS` (what mining reads of a claim: its text is the
    document's), by id."""
    out: dict[int, tuple[Any, ...]] = {}
    ids = sorted(set(claim_ids))
    for part, marks in in_batches(ids):
        for r in await dbmod.current().fetch_rows(
                f"SELECT {', '.join(MINING_COLUMNS)} FROM personas_claim WHERE id IN ({marks})", *part):
            out[int(r[0])] = r
    return out


async def run_claims_after(run_id: int, after_id: int, limit: int = 20_000) -> list[dict[str, Any]]:
    """A run's claims with an id above ``after_id`` (what the runtime reads back each round)."""
    return await dbmod.current().fetch(
        "SELECT id, message, channel, author, role, department, kind, document, chunk, span_start, span_end, round "
        "FROM personas_claim WHERE run = {} AND id > {} ORDER BY id LIMIT {}", run_id, after_id, limit)


async def runtime_messages(message_ids: Sequence[int]) -> set[int]:
    """Which of these messages the agent runtime posted (their claims, if any, are in the claims table; what they
    say besides is framing, not evidence). Ids close together (a page of messages) are read as one range of ids,
    others by list."""
    out: set[int] = set()
    ids = sorted(set(message_ids))
    if not ids:
        return out
    database = dbmod.current()
    if ids[-1] - ids[0] < 4 * len(ids) + 1000:
        wanted = set(ids)
        out.update(m for (m,) in await database.fetch_rows(
            "SELECT message FROM personas_turn WHERE outcome = {} AND message BETWEEN {} AND {}",
            "posted", ids[0], ids[-1]) if m in wanted)
        return out
    for part, marks in in_batches(ids):
        out.update(int(m) for (m,) in await database.fetch_rows(
            f"SELECT message FROM personas_turn WHERE outcome = {{}} AND message IN ({marks})", "posted", *part))
    return out
