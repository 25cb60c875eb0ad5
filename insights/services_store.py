"""Storing a mining pass's insights: follow each theme to the stored insight it continues (shared evidence, else
its key), update or insert it with its label and citations, and retire stored insights the pass no longer supports.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from insights.scoring import Insight as Scored
from insights.themes import Theme
from workspace import audit
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.audit import Entity

WhereMap = dict[int, tuple[int, str, int]]
"""message id -> (channel id, channel name, seq): what a citation needs to link to the message."""
KEEP = 200
"""Insights stored per pass (the best by score); weaker themes stay in the miner and may rise later."""
EVIDENCE_CAP = 500
OVERLAP = 0.5
"""Share of the smaller evidence set two themes must have in common to be one insight across passes."""

_COLUMNS = ("kind", "title", "summary", "score", "severity", "confidence", "agents", "departments", "tiers",
            "department_names", "channel_names", "novelty", "trend", "unacknowledged", "open_questions", "messages",
            "terms", "citations", "documents", "evidence", "label_level", "label_mask", "current", "last_message",
            "updated_at")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def theme_key(evidence: Sequence[int]) -> str:
    """A theme's key: its earliest supporting message (stable while that message stays in the window)."""
    return f"m{min(evidence)}"


def _values(theme: Theme, ins: Scored, where: WhereMap, records: Mapping[int, Any],
            now: dt.datetime) -> dict[str, Any]:
    evidence = sorted(theme.evidence)
    depts = sorted({str(records[i].department) for i in evidence if i in records and records[i].department})
    citations = [{"message": m, "channel_id": where[m][0], "channel": where[m][1], "seq": where[m][2]}
                 for m in ins.message_ids if m in where]
    label = ins.label
    return {
        "kind": ins.kind, "title": ins.title[:300], "summary": ins.summary, "score": float(ins.score),
        "severity": float(ins.severity), "confidence": float(ins.confidence), "agents": ins.agents,
        "departments": ins.departments, "tiers": ins.tiers, "department_names": "," + ",".join(depts) + ",",
        "channel_names": json.dumps(list(ins.channels)), "novelty": float(ins.novelty), "trend": float(ins.trend),
        "unacknowledged": bool(ins.unacknowledged), "open_questions": ins.open_questions, "messages": ins.messages,
        "terms": json.dumps(list(ins.terms)), "citations": json.dumps(citations),
        "documents": json.dumps([int(d) if d.isdigit() else d for d in ins.doc_ids]),
        "evidence": json.dumps(evidence[-EVIDENCE_CAP:]), "label_level": label.level if label else 0,
        "label_mask": label.mask if label else 0, "current": True, "last_message": evidence[-1], "updated_at": now,
    }


def _match(scored: Sequence[tuple[Theme, Scored]], stored: Sequence[dict[str, Any]]) -> dict[int, int]:
    """Position in ``scored`` -> stored insight id: the most overlapping stored evidence (>= OVERLAP of the smaller
    set), else the same key; each stored insight continues at most one theme, best-ranked first."""
    by_message: dict[int, list[int]] = {}
    sizes: dict[int, int] = {}
    keys: dict[str, int] = {}
    for row in stored:
        ev = json.loads(row["evidence"] or "[]")
        sizes[row["id"]] = len(ev)
        keys[row["theme_key"]] = row["id"]
        for m in ev:
            by_message.setdefault(int(m), []).append(row["id"])
    taken: set[int] = set()
    out: dict[int, int] = {}
    for pos, (theme, _) in enumerate(scored):
        shared: dict[int, int] = {}
        for m in theme.evidence:
            for sid in by_message.get(m, ()):
                shared[sid] = shared.get(sid, 0) + 1
        best, best_share = None, OVERLAP
        for sid, n in shared.items():
            share = n / max(1, min(len(theme.evidence), sizes[sid]))
            if sid not in taken and (share > best_share or (share == best_share and best is None)):
                best, best_share = sid, share
        if best is None:
            best = keys.get(theme_key(list(theme.evidence)))
            if best in taken:
                best = None
        if best is not None:
            taken.add(best)
            out[pos] = best
    return out


async def store_insights(actor: Actor, scored: Sequence[tuple[Theme, Scored]], where: WhereMap,
                         records: Mapping[int, Any], first_message: int, *, new_messages: int = 0
                         ) -> tuple[int, int, int, int]:
    """Upsert the best :data:`KEEP` of ``scored`` for ``actor``'s workspace in one transaction; stored insights
    not continued whose evidence reaches into the window (messages >= ``first_message``) stop being current.
    ``records`` are the miner's message records (departments of the evidence). Returns (insights kept, created,
    updated, retired). One audit entry records the pass."""
    from insights.tables import Insight

    ws = actor.workspace_id
    keep = list(scored[:KEEP])
    database = dbmod.current()
    now = _now()
    created = updated = retired = 0
    async with database.transaction():
        stored = await Insight.select(Insight.id, Insight.theme_key, Insight.evidence, Insight.last_message).where(
            (Insight.workspace == ws) & (Insight.current == True))  # noqa: E712 (a SQL comparison)
        matches = _match(keep, stored)
        sets = ", ".join(f"{c} = {{}}" for c in _COLUMNS)
        update_rows: list[tuple[Any, ...]] = []
        insert_rows: list[tuple[Any, ...]] = []
        for pos, (theme, ins) in enumerate(keep):
            values = _values(theme, ins, where, records, now)
            if pos in matches:
                update_rows.append((*[values[c] for c in _COLUMNS], matches[pos]))
            else:
                insert_rows.append((ws, theme_key(list(theme.evidence)), "open", now,
                                    *[values[c] for c in _COLUMNS]))
        await database.execute_many(f"UPDATE insights_insight SET {sets} WHERE id = {{}}", update_rows)
        cols = ("workspace", "theme_key", "status", "created_at", *_COLUMNS)
        await database.execute_many(
            f"INSERT INTO insights_insight ({', '.join(cols)}) VALUES ({', '.join('{}' for _ in cols)})", insert_rows)
        continued = set(matches.values())
        gone = [(False, now, r["id"]) for r in stored
                if r["id"] not in continued and int(r["last_message"] or 0) >= first_message]
        await database.execute_many("UPDATE insights_insight SET current = {}, updated_at = {} WHERE id = {}", gone)
        created, updated, retired = len(insert_rows), len(update_rows), len(gone)
        if new_messages or created or retired:
            await audit.record(actor, "insights.mined", Entity("workspace", ws), {
                "messages": new_messages, "insights": len(keep), "created": created, "updated": updated,
                "retired": retired})
    return len(keep), created, updated, retired
