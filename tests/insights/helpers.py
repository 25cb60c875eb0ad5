"""Stored insights for tests of what readers see (digests, the insight and document pages).

Mining is not the subject of these tests, and what it stores is being reworked, so an insight is written here
directly as a row of ``insights_insight`` with the columns readers depend on: kind, title, summary, scores, label,
status, the cited spans (``{document, chunk, start, end, title}``, offsets into the chunk's text) and documents.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from personas.context.documents import ingest_document
from personas.tables import ContextChunk
from workspace.actor import Actor


async def stored_insight(system: Actor, title: str, label: str = "public", *, kind: str = "risk",
                         severity: float = 0.8, score: float = 0.5, spans: Sequence[dict[str, Any]] = (),
                         documents: Sequence[int] = (), updated_at: dt.datetime | None = None,
                         departments: int = 2, agents: int = 3) -> int:
    from insights.tables import Insight

    lab = system.scheme.parse(label)
    now = dt.datetime.now(dt.UTC)
    created = await Insight.insert(Insight(
        workspace=system.workspace_id, theme_key=f"t-{title[:40]}", kind=kind, title=title,
        summary=f"{title}. Raised in the channels.", score=score, severity=severity, confidence=0.7, agents=agents,
        departments=departments, tiers=1, department_names=",ops,sales,", channel_names=json.dumps(["town-hall"]),
        citations="[]", documents=json.dumps(list(documents)), spans=json.dumps(list(spans)),
        label_level=lab.level, label_mask=lab.mask, status="open", current=True, created_at=updated_at or now,
        updated_at=updated_at or now))
    return int(created[0]["id"])


async def document_with_span(system: Actor, title: str, body: str, label: str, quote: str
                             ) -> tuple[int, dict[str, Any]]:
    """Ingest a document through the real service and return its id and the span (as insights cite one) of the
    first occurrence of ``quote``: the chunk holding it and offsets into that chunk's text."""
    doc = await ingest_document(system, title, body, system.scheme.parse(label))
    for chunk in await ContextChunk.select().where(ContextChunk.document == doc.document_id).order_by(
            ContextChunk.ordinal):
        at = str(chunk["text"]).find(quote)
        if at >= 0:
            return doc.document_id, {"document": doc.document_id, "chunk": int(chunk["id"]), "start": at,
                                     "end": at + len(quote), "title": title}
    raise AssertionError(f"{quote!r} is not in any chunk of {title!r}")
