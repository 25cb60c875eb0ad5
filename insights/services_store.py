"""Storing a mining pass's issues as insights: each issue by its stable key (update or insert), with its label
(the least upper bound of everything it shows: every cited document), citations (the spans, and the messages that
carried them), corroboration and whether anyone above the raisers answered; insights the pass no longer supports
stop being current (kept, so triage history survives).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from channels.services import highest_reply_levels, message_refs
from insights.issues import Issue
from personas.runtime.claims import Library
from workspace import audit
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.audit import Entity
from workspace.labels import Label, LabelScheme

KEEP = 200
"""Insights stored per pass (the best by score); weaker issues stay in the miner and may rise later."""
CITED = 8
"""Messages cited per insight (the first that carried each span, then others)."""

_COLUMNS = ("kind", "title", "summary", "score", "severity", "confidence", "agents", "departments", "tiers",
            "department_names", "channel_names", "novelty", "trend", "unacknowledged", "open_questions", "messages",
            "terms", "citations", "documents", "spans", "relation", "corroboration", "roles", "evidence",
            "label_level", "label_mask", "current", "last_message", "updated_at")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def issue_key(issue: Issue) -> str:
    """A stable key of at most 80 characters: the issue's own key, hashed when longer."""
    if len(issue.key) <= 80:
        return issue.key
    return issue.key[:40] + ":" + hashlib.sha256(issue.key.encode()).hexdigest()[:32]


async def store_issues(actor: Actor, issues: Sequence[Issue], library: Library,
                       channel_labels: Mapping[str, Label] | None = None, *, new_claims: int = 0
                       ) -> tuple[int, int, int, int]:
    """Upsert the best :data:`KEEP` issues for ``actor``'s workspace in one transaction; current insights no longer
    among them are retired. Returns (insights kept, created, updated, retired). One audit entry records the pass."""
    from insights.tables import Insight

    ws = actor.workspace_id
    keep = list(issues[:KEEP])
    messages = sorted({m for i in keep for s in (i.members or i.sources) for m in s.messages[:CITED]} |
                      {m for i in keep for m in i.link_messages[:CITED]})
    places = await message_refs(messages)
    levels = await highest_reply_levels(messages)
    database = dbmod.current()
    now = _now()
    async with database.transaction():
        stored = await Insight.select(Insight.id, Insight.theme_key).where(
            (Insight.workspace == ws) & (Insight.current == True))  # noqa: E712 (a SQL comparison)
        by_key = {r["theme_key"]: int(r["id"]) for r in stored}
        any_key = {r["theme_key"]: int(r["id"]) for r in await Insight.select(Insight.id, Insight.theme_key).where(
            (Insight.workspace == ws) & Insight.theme_key.is_in([issue_key(i) for i in keep] or [""]))}
        sets = ", ".join(f"{c} = {{}}" for c in _COLUMNS)
        update_rows: list[tuple[Any, ...]] = []
        insert_rows: list[tuple[Any, ...]] = []
        continued: set[int] = set()
        for issue in keep:
            values = _values(library.scheme, issue, library, channel_labels or {}, places, levels, now)
            key = issue_key(issue)
            sid = any_key.get(key)
            if sid is not None:
                continued.add(sid)
                update_rows.append((*[values[c] for c in _COLUMNS], sid))
            else:
                insert_rows.append((ws, key, "open", now, *[values[c] for c in _COLUMNS]))
        await database.execute_many(f"UPDATE insights_insight SET {sets} WHERE id = {{}}", update_rows)
        cols = ("workspace", "theme_key", "status", "created_at", *_COLUMNS)
        await database.execute_many(
            f"INSERT INTO insights_insight ({', '.join(cols)}) VALUES ({', '.join('{}' for _ in cols)})", insert_rows)
        gone = [(False, now, sid) for sid in by_key.values() if sid not in continued]
        await database.execute_many("UPDATE insights_insight SET current = {}, updated_at = {} WHERE id = {}", gone)
        created, updated, retired = len(insert_rows), len(update_rows), len(gone)
        if new_claims or created or retired:
            await audit.record(actor, "insights.mined", Entity("workspace", ws), {
                "claims": new_claims, "insights": len(keep), "created": created, "updated": updated,
                "retired": retired})
    return len(keep), created, updated, retired


def _label_of(scheme: LabelScheme, issue: Issue, library: Library, channel_labels: Mapping[str, Label],
              cited: Sequence[Mapping[str, Any]]) -> Label:
    """The least upper bound of everything the insight stores and shows: the documents of every claim it holds
    (the sources its text is written from and the rest of its evidence) and the channels of the messages it cites
    (``cited``: :func:`channels.services.message_refs` rows, which carry the channel's label)."""
    spans = {s.span[0] for s in (*issue.sources, *issue.members)}
    labels = [library.labels[int(d)] for d in spans if d.isdigit() and int(d) in library.labels]
    labels += [channel_labels[d] for d in spans if d in channel_labels]
    labels += [scheme.from_ints(int(p["label_level"]), int(p["label_mask"])) for p in cited]
    return scheme.lub(labels) if labels else scheme.bottom()


def _values(scheme: LabelScheme, issue: Issue, library: Library, channel_labels: Mapping[str, Label],
            places: dict[int, dict[str, Any]], levels: dict[int, int], now: dt.datetime) -> dict[str, Any]:
    docs = [int(d) for d in issue.documents if d.isdigit()]
    cited: list[int] = []
    evidence = issue.members or issue.sources
    for m in [*issue.link_messages, *(m for s in issue.sources for m in s.messages),
              *(m for s in evidence for m in s.messages)]:
        if m in places and m not in cited:
            cited.append(m)
    label = _label_of(scheme, issue, library, channel_labels, [places[m] for m in cited])
    citations = [{"message": m, "channel_id": int(places[m]["channel"]), "channel": str(places[m]["channel_name"]),
                  "seq": int(places[m]["seq"])} for m in cited[:CITED]]
    spans = [{"document": int(s.span[0]), "chunk": s.span[1], "start": s.span[2], "end": s.span[3],
              "title": s.doc_title} for s in issue.sources if s.span[0].isdigit()]
    roles = sorted(set().union(*(s.roles for s in evidence)) | issue.linked_by - {""})
    depts = sorted(set().union(*(s.departments for s in evidence)) - {""})
    channels = sorted({str(places[m]["channel_name"]) for m in cited})
    tiers = sorted(set().union(*(s.tiers for s in evidence)))
    raised_at = max(tiers, default=0)
    answered = any(levels.get(m, -1) > raised_at for m in cited)
    entities = list(dict.fromkeys(e for s in issue.sources for e in s.fact.entities))[:8]
    messages_total = sum(s.said for s in evidence) + len(issue.link_messages)
    return {
        "kind": issue.kind, "title": issue.title[:300], "summary": issue.summary, "score": float(issue.score),
        "severity": float(issue.severity), "confidence": float(issue.corroboration), "agents": len(roles),
        "departments": len(depts), "tiers": len(tiers), "department_names": "," + ",".join(depts) + ",",
        "channel_names": json.dumps(channels), "novelty": 1.0, "trend": 0.0,
        "unacknowledged": bool(cited) and not answered, "open_questions": 0, "messages": messages_total,
        "terms": json.dumps(entities), "citations": json.dumps(citations), "documents": json.dumps(docs),
        "spans": json.dumps(spans), "relation": issue.relation, "corroboration": float(issue.corroboration),
        "roles": json.dumps(roles), "evidence": json.dumps(cited), "label_level": label.level,
        "label_mask": label.mask, "current": True, "last_message": max(cited, default=0), "updated_at": now,
    }
