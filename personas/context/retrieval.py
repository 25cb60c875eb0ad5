"""Scoped retrieval: full-text search over chunks that BOTH the agent's and the channel's label dominate (the
filter is in SQL, before ranking), every read audited as ``context.read``; and the admin preview of that set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from personas.context.text import fts5_query, query_terms, tsquery
from workspace import audit
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.audit import Entity
from workspace.errors import ValidationFailed
from workspace.labels import Label, Stored, agent_scope, dominates_sql

MAX_LIMIT = 50

_SQLITE = (
    "SELECT c.id, c.document, c.ordinal, c.text, c.label_level, c.label_mask, d.title, "
    "bm25(personas_chunk_fts) AS score FROM personas_chunk_fts "
    "JOIN personas_chunk c ON c.id = personas_chunk_fts.rowid JOIN personas_document d ON d.id = c.document "
    "WHERE personas_chunk_fts MATCH {} AND c.workspace = {} AND <scope> ORDER BY score, c.id LIMIT {}"
)
_POSTGRES = (
    "SELECT c.id, c.document, c.ordinal, c.text, c.label_level, c.label_mask, d.title, "
    "-ts_rank_cd(c.tsv, q) AS score FROM personas_chunk c JOIN personas_document d ON d.id = c.document, "
    "to_tsquery('english', {}) q "
    "WHERE c.tsv @@ q AND c.workspace = {} AND <scope> ORDER BY score, c.id LIMIT {}"
)


@dataclass(frozen=True, slots=True)
class Chunk:
    """A retrieved passage. ``score``: lower is better (BM25 on SQLite, negated ts_rank_cd on PostgreSQL)."""

    id: int
    document_id: int
    title: str
    text: str
    label: Label
    ordinal: int
    score: float

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "document_id": self.document_id, "title": self.title, "text": self.text,
                "label": str(self.label), "ordinal": self.ordinal, "score": self.score}


def channel_label(actor: Actor, channel: Mapping[str, Any]) -> Label:
    return actor.scheme.from_ints(int(channel["label_level"]), int(channel["label_mask"]))


def scope(agent: Actor, channel: Mapping[str, Any]) -> Label:
    """:func:`workspace.labels.agent_scope` for a channel row: a chunk is retrievable in this channel exactly when
    this label dominates it."""
    return agent_scope(agent.label, channel_label(agent, channel))


async def search(agent: Actor, query: str, bound: Label, limit: int = 5) -> list[Chunk]:
    """Ranked full-text search restricted to chunks that ``bound`` dominates (no audit: callers record it)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}; got {limit}", field="limit")
    terms = query_terms(query)
    if not terms:
        return []
    database = dbmod.current()
    sql, expr = (_SQLITE, fts5_query(terms)) if database.is_sqlite else (_POSTGRES, tsquery(terms))
    readable, label_args = dominates_sql(bound, "c")
    rows = await database.fetch(sql.replace("<scope>", readable), expr, agent.workspace_id, *label_args, limit)
    return [Chunk(int(r["id"]), int(r["document"]), r["title"], r["text"],
                  agent.scheme.from_ints(r["label_level"], r["label_mask"]), int(r["ordinal"]), float(r["score"]))
            for r in rows]


async def retrieve(agent: Actor, query: str, channel: Mapping[str, Any], limit: int = 5) -> list[Chunk]:
    """The best ``limit`` chunks for ``query`` that the agent may read AND the channel may carry; audited as
    ``context.read`` on the agent's behalf with the document and chunk ids returned (also when none are)."""
    return (await retrieve_many([(agent, query, channel)], limit))[0]


async def retrieve_many(requests: Sequence[tuple[Actor, str, Mapping[str, Any]]],
                        limit: int = 5) -> list[list[Chunk]]:
    """:func:`retrieve` for many agent turns at once: one search each, all audit entries in one transaction."""
    results = [await search(agent, query, scope(agent, channel), limit) for agent, query, channel in requests]
    async with dbmod.current().transaction():
        for (agent, query, channel), chunks in zip(requests, results, strict=True):
            # The query is the agent's own text (up to its label) and names a channel: the entry carries both.
            await audit.record(agent, "context.read", Entity("channel", channel.get("id", "?")), {
                "query": query[:200], "channel": channel.get("name"), "scope": str(scope(agent, channel)),
                "documents": sorted({c.document_id for c in chunks}), "chunks": [c.id for c in chunks]},
                label=Stored.lub([agent.label, Stored.of(channel)]))
    return results


async def visible_documents(bound: Label, workspace_id: int) -> list[dict[str, Any]]:
    """Every document that ``bound`` dominates (id, title, label ints, chunks), oldest first."""
    readable, label_args = dominates_sql(bound, "")
    return await dbmod.current().fetch(
        "SELECT id, title, source, label_level, label_mask, chunks FROM personas_document "
        f"WHERE workspace = {{}} AND {readable} ORDER BY id", workspace_id, *label_args)


async def preview(admin: Actor, agent: Actor, channel: Mapping[str, Any]) -> dict[str, Any]:
    """What ``agent`` can retrieve in ``channel``: exactly the documents both labels dominate. Titles above the
    admin's own label are counted but not shown. Audited as ``context.previewed``."""
    admin.require_role("admin")
    bound = scope(agent, channel)
    docs = await visible_documents(bound, agent.workspace_id)
    shown = [d for d in docs if admin.label.dominates(admin.scheme.from_ints(d["label_level"], d["label_mask"]))]
    async with dbmod.current().transaction():
        await audit.record(admin, "context.previewed", Entity("member", agent.member_id or agent.handle), {
            "agent": agent.handle, "channel": channel.get("name"), "scope": str(bound),
            "documents": [d["id"] for d in docs]}, label=channel_label(admin, channel))
    return {
        "agent": {"id": agent.member_id, "handle": agent.handle, "label": str(agent.label)},
        "channel": {"id": channel.get("id"), "name": channel.get("name"), "label": str(channel_label(agent, channel))},
        "scope": str(bound),
        "documents": [{"id": d["id"], "title": d["title"], "source": d["source"], "chunks": d["chunks"],
                       "label": str(admin.scheme.from_ints(d["label_level"], d["label_mask"]))} for d in shown],
        "hidden": len(docs) - len(shown),
    }
