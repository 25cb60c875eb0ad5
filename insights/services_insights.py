"""Reading and triaging stored insights: list with filters and keyset pages, one insight with its evidence (only
the messages the reader may read), and triage (acknowledge, dismiss, assign, comment), each audited.

Who: signed-in people read what their label dominates; employees and admins triage (security reviewers read only).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Literal

from channels.services import messages_by_ids
from insights.tables import Insight, InsightComment
from personas.context.documents import readable_documents
from workspace import audit
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.audit import Entity
from workspace.errors import Forbidden, NotFound, ValidationFailed
from workspace.labels import Stored, dominates_sql
from workspace.tables import Member

KINDS = ("risk", "opportunity")
STATUSES = ("open", "acknowledged", "dismissed")
TRIAGE_ROLES = ("employee", "admin")
Action = Literal["acknowledge", "dismiss", "assign", "comment", "reopen"]
ACTIONS: dict[str, str] = {"acknowledge": "insight.acknowledged", "dismiss": "insight.dismissed",
                           "assign": "insight.assigned", "comment": "insight.commented", "reopen": "insight.reopened"}
MAX_PAGE = 200
MAX_COMMENT = 4000
EXCERPT = 280


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def require_person(actor: Actor) -> None:
    if actor.kind == "agent":
        raise Forbidden(f"agent {actor.handle!r} cannot read insights: they are for signed-in people")


SEVERITY_BANDS = ((0.7, "high"), (0.4, "medium"), (0.0, "low"))
"""Severity from which an insight reads as high, medium or low (the digest's legend says the same)."""


def severity_band(severity: float) -> str:
    return next(name for floor, name in SEVERITY_BANDS if severity >= floor)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def corroboration_words(item: dict[str, Any]) -> str:
    """Who backs an insight up, in words: independent sources first (cited passages, roles), then who raised it."""
    c = item["corroboration"]
    parts = []
    if c.get("sources"):
        parts.append(_plural(int(c["sources"]), "cited passage"))
    if c.get("roles"):
        parts.append(_plural(int(c["roles"]), "role"))
    parts.append(f"raised by {_plural(int(c['agents']), 'agent')} in {_plural(int(c['departments']), 'department')}")
    return ", ".join(parts)


def insight_dict(row: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """The public shape of an insight (without evidence excerpts: see :func:`get_insight`)."""
    label = actor.scheme.from_ints(int(row["label_level"]), int(row["label_mask"]))
    return {
        "id": int(row["id"]), "kind": row["kind"], "title": row["title"], "summary": row["summary"],
        "score": round(float(row["score"]), 6), "severity": round(float(row["severity"]), 4),
        "confidence": round(float(row["confidence"]), 4),
        "corroboration": {"agents": int(row["agents"]), "departments": int(row["departments"]),
                          "tiers": int(row["tiers"]), "score": round(float(row.get("corroboration") or 0.0), 4),
                          "sources": len(_json_list(row.get("spans"))), "roles": len(_json_list(row.get("roles")))},
        "departments": [d for d in str(row["department_names"]).split(",") if d],
        "channels": json.loads(row["channel_names"] or "[]"), "novelty": round(float(row["novelty"]), 4),
        "trend": round(float(row["trend"]), 4), "unacknowledged": bool(row["unacknowledged"]),
        "open_questions": int(row["open_questions"]), "messages": int(row["messages"]),
        "terms": json.loads(row["terms"] or "[]"), "label": str(label), "status": row["status"],
        "assignee": row["assignee_handle"] or None, "current": bool(row["current"]),
        "created_at": row["created_at"], "updated_at": row["updated_at"],
    }


def _json_list(text: Any) -> list[Any]:
    try:
        value = json.loads(text or "[]")
    except (TypeError, ValueError):
        return []
    return value if isinstance(value, list) else []


def document_link(document: int, span: dict[str, Any] | None = None) -> str:
    """The document page, opened at a cited span (``chunk``, ``start``, ``end``: offsets into the chunk's text)."""
    if not span:
        return f"/documents/{document}"
    return (f"/documents/{document}?chunk={int(span['chunk'])}&start={int(span['start'])}&end={int(span['end'])}"
            "#cited")


async def cited_documents(actor: Actor, rows: list[dict[str, Any]]
                          ) -> tuple[dict[int, list[dict[str, Any]]], dict[int, int]]:
    """For each insight row: the documents it cites that ``actor`` may read, in citation order, each as
    ``{id, title, label, href}`` (one per cited span, the span highlighted by the link; a document cited without a
    span links to the whole document), and how many cited documents are above the actor's label (counted, never
    named). Titles come from the documents, checked against the reader's label through personas' service."""
    wanted: dict[int, list[tuple[int, dict[str, Any] | None]]] = {}
    for row in rows:
        cites: list[tuple[int, dict[str, Any] | None]] = []
        for span in _json_list(row.get("spans")):
            if isinstance(span, dict) and all(str(span.get(k, "")).isdigit() for k in ("document", "chunk", "start",
                                                                                       "end")):
                cites.append((int(span["document"]), span))
        spanned = {d for d, _ in cites}
        cites += [(int(d), None) for d in _json_list(row.get("documents"))
                  if str(d).isdigit() and int(d) not in spanned]
        wanted[int(row["id"])] = cites
    readable, above = await readable_documents(actor, {d for cites in wanted.values() for d, _ in cites})
    links: dict[int, list[dict[str, Any]]] = {}
    withheld: dict[int, int] = {}
    for insight, cites in wanted.items():
        links[insight] = [{**readable[doc], "href": document_link(doc, span), "span": span is not None}
                          for doc, span in cites if doc in readable]
        withheld[insight] = len({doc for doc, _ in cites if doc in above})
    return links, withheld


@dataclass(frozen=True, slots=True)
class InsightFilter:
    kind: str | None = None
    min_severity: float | None = None
    status: str | None = None
    department: str | None = None
    include_retired: bool = False

    def check(self) -> None:
        if self.kind is not None and self.kind not in KINDS:
            raise ValidationFailed(f"kind must be one of {', '.join(KINDS)}; got {self.kind!r}", field="kind")
        if self.status is not None and self.status not in STATUSES:
            raise ValidationFailed(f"status must be one of {', '.join(STATUSES)}; got {self.status!r}",
                                   field="status")
        if self.min_severity is not None and not 0 <= self.min_severity <= 1:
            raise ValidationFailed("severity_min must be between 0 and 1", field="severity_min")


def encode_cursor(row: dict[str, Any]) -> str:
    return f"{float(row['score'])!r}_{int(row['id'])}"


def decode_cursor(cursor: str) -> tuple[float, int]:
    try:
        score, _, ident = cursor.partition("_")
        return float(score), int(ident)
    except ValueError:
        raise ValidationFailed(f"cursor {cursor!r} is not one this API returned; pass next_cursor unchanged",
                               field="cursor") from None


def _visible(actor: Actor) -> tuple[str, list[Any]]:
    """SQL and arguments: the actor's workspace, and only labels the actor's label dominates (no read up)."""
    readable, label_args = dominates_sql(actor.label, "")
    return f"workspace = {{}} AND {readable}", [actor.workspace_id, *label_args]


async def list_insights(actor: Actor, f: InsightFilter | None = None, *, cursor: str | None = None,
                        limit: int = 50) -> tuple[list[dict[str, Any]], str | None]:
    """Insights ``actor`` may read, best score first, filtered; returns a page and the cursor of the next one."""
    require_person(actor)
    f = f or InsightFilter()
    f.check()
    limit = max(1, min(int(limit), MAX_PAGE))
    where, args = _visible(actor)
    if not f.include_retired:
        where += " AND current = {}"
        args.append(True)
    if f.kind:
        where += " AND kind = {}"
        args.append(f.kind)
    if f.status:
        where += " AND status = {}"
        args.append(f.status)
    if f.min_severity is not None:
        where += " AND severity >= {}"
        args.append(float(f.min_severity))
    if f.department:
        where += " AND department_names LIKE {}"
        args.append(f"%,{f.department.strip().lower()},%")
    if cursor:
        score, ident = decode_cursor(cursor)
        where += " AND (score < {} OR (score = {} AND id < {}))"
        args += [score, score, ident]
    rows = await dbmod.current().fetch(
        f"SELECT * FROM insights_insight WHERE {where} ORDER BY score DESC, id DESC LIMIT {{}}", *args, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return [insight_dict(r, actor) for r in rows], (encode_cursor(rows[-1]) if more and rows else None)


async def _row(actor: Actor, insight_id: int) -> dict[str, Any]:
    rows = await Insight.select().where((Insight.workspace == actor.workspace_id) & (Insight.id == insight_id))
    if not rows:
        raise NotFound(f"insight {insight_id} does not exist in this workspace")
    return rows[0]


async def access_insight(actor: Actor, insight_id: int) -> dict[str, Any]:
    """Fetch an insight row and check that ``actor`` (a person) may read it: no read up."""
    require_person(actor)
    row = await _row(actor, insight_id)
    label = actor.scheme.from_ints(int(row["label_level"]), int(row["label_mask"]))
    if not actor.label.dominates(label):
        raise Forbidden(f"insight {insight_id} requires label {label}; {actor.kind} {actor.handle!r} has "
                        f"{actor.label}")
    return row


async def get_insight(actor: Actor, insight_id: int) -> dict[str, Any]:
    """One insight with its evidence: cited messages (excerpt, link; only those the reader may read, the rest
    counted as withheld), cited documents the reader may read, and the triage comments."""
    row = await access_insight(actor, insight_id)
    out = insight_dict(row, actor)
    citations = json.loads(row["citations"] or "[]")
    ids = [int(c["message"]) for c in citations]
    msgs = await messages_by_ids(ids)
    messages, withheld = [], 0
    for c in citations:
        found = msgs.get(int(c["message"]))
        if found is None or found["deleted"]:
            continue
        m = found
        if not actor.label.dominates(actor.scheme.from_ints(int(m["label_level"]), int(m["label_mask"]))):
            withheld += 1
            continue
        body = str(m["body"])
        messages.append({"id": int(m["id"]), "channel": c["channel"], "seq": int(m["seq"]),
                         "author": m["author_handle"], "created_at": m["created_at"],
                         "excerpt": body if len(body) <= EXCERPT else body[: EXCERPT - 1].rstrip() + "…",
                         "link": f"/channels/{c['channel']}?from={int(m['seq'])}#m-{int(m['seq'])}"})
    links, hidden = await cited_documents(actor, [row])
    documents = links[insight_id]
    withheld += hidden[insight_id]
    comments = await InsightComment.select(
        InsightComment.id, InsightComment.author_handle, InsightComment.body, InsightComment.created_at).where(
        InsightComment.insight == insight_id).order_by(InsightComment.id)
    out.update(cited_messages=messages, documents=documents, withheld=withheld,
               comments=[{"id": c["id"], "author": c["author_handle"], "body": c["body"],
                          "created_at": c["created_at"]} for c in comments])
    return out


async def triage(actor: Actor, insight_id: int, action: str, *, assignee: str | None = None,
                 comment: str | None = None) -> dict[str, Any]:
    """Acknowledge, dismiss, reopen, assign (to a human member, by handle) or comment on an insight; audited as
    ``insight.<verb>``. Employees and admins may triage what they may read; an optional comment rides along."""
    require_person(actor)
    actor.require_role(*TRIAGE_ROLES)
    if action not in ACTIONS:
        raise ValidationFailed(f"action must be one of {', '.join(ACTIONS)}; got {action!r}", field="action")
    text = (comment or "").strip()
    if action == "comment" and not text:
        raise ValidationFailed("a comment needs some text", field="comment")
    if len(text) > MAX_COMMENT:
        raise ValidationFailed(f"a comment is at most {MAX_COMMENT} characters; this one has {len(text)}",
                               field="comment")
    now = _now()
    async with dbmod.current().transaction():
        row = await access_insight(actor, insight_id)
        changes: dict[Any, Any] = {Insight.updated_at: now}
        details: dict[str, Any] = {"title": row["title"][:120]}
        if action in ("acknowledge", "dismiss", "reopen"):
            status = {"acknowledge": "acknowledged", "dismiss": "dismissed", "reopen": "open"}[action]
            changes[Insight.status] = status
            details.update({"from": row["status"], "to": status})
        elif action == "assign":
            member = await _assignee(actor, assignee, row)
            changes[Insight.assignee] = member["id"] if member else None
            changes[Insight.assignee_handle] = member["handle"] if member else ""
            details["assignee"] = member["handle"] if member else None
        await Insight.update(changes).where(Insight.id == insight_id)
        if text:
            assert actor.member_id is not None or actor.kind == "system"
            if actor.member_id is None:
                raise ValidationFailed("comments need a member as author", field="comment")
            await InsightComment.insert(InsightComment(insight=insight_id, author=actor.member_id,
                                                       author_handle=actor.handle, body=text, created_at=now))
            details["comment"] = text[:200]
        await audit.record(actor, ACTIONS[action], Entity("insight", insight_id), details, label=Stored.of(row))
    return await get_insight(actor, insight_id)


async def _assignee(actor: Actor, handle: str | None, row: dict[str, Any]) -> dict[str, Any] | None:
    """The human member ``handle`` (``None``/empty: unassign), who must be able to read the insight."""
    if not handle:
        return None
    rows = await Member.select(Member.id, Member.handle, Member.kind, Member.label_level, Member.label_mask,
                               Member.active).where(
        (Member.workspace == actor.workspace_id) & (Member.handle == handle.strip()))
    if not rows or rows[0]["kind"] != "human" or not rows[0]["active"]:
        raise ValidationFailed(f"no active person with handle {handle!r} in this workspace; assign to a signed-in "
                               "person's handle", field="assignee")
    member = rows[0]
    label = actor.scheme.from_ints(int(row["label_level"]), int(row["label_mask"]))
    theirs = actor.scheme.from_ints(int(member["label_level"]), int(member["label_mask"]))
    if not theirs.dominates(label):
        raise ValidationFailed(f"{handle!r} has label {theirs} and cannot read this insight ({label}); assign it to "
                               "someone cleared for it", field="assignee")
    return member


async def insights_over_time(actor: Actor, days: int = 30) -> list[tuple[str, int, int]]:
    """(day, risks, opportunities) first seen per day over the last ``days`` days, among what ``actor`` may read."""
    _, series = await insights_timeline(actor, days, bucket_s=86_400)
    return [(start.date().isoformat(), r, o) for start, r, o in series]


TIMELINE_BUCKETS = (60, 300, 900, 3600, 6 * 3600, 86_400)
"""Bucket sizes (seconds) a timeline may use: a minute, 5 and 15 minutes, an hour, 6 hours, a day."""


async def insights_timeline(actor: Actor, days: int = 30, points: int = 30, bucket_s: int | None = None
                            ) -> tuple[int, list[tuple[dt.datetime, int, int]]]:
    """Insights first seen over time among what ``actor`` may read, over at most ``days`` days: the bucket size
    (seconds) and ``(bucket start, risks, opportunities)`` from the first insight to now, with the smallest bucket
    of :data:`TIMELINE_BUCKETS` that needs at most ``points`` buckets (so a demo an hour old draws minutes, not
    a flat month); ``bucket_s`` fixes the size (and the range to the last ``days`` days)."""
    require_person(actor)
    now = _now()
    since = dt.datetime.combine((now - dt.timedelta(days=days - 1)).date(), dt.time(), dt.UTC)
    where, args = _visible(actor)
    rows = await dbmod.current().fetch(
        f"SELECT kind, created_at FROM insights_insight WHERE {where} AND created_at >= {{}}", *args, since)
    seen = [(_aware(r["created_at"]), r["kind"]) for r in rows]
    if bucket_s is None:
        first = min((t for t, _ in seen), default=since)
        span = (now - first).total_seconds()
        bucket_s = next((b for b in TIMELINE_BUCKETS if span / b <= points - 1), TIMELINE_BUCKETS[-1])
        start = max(since, _floor(first, bucket_s))
        start = min(start, _floor(now, bucket_s) - dt.timedelta(seconds=bucket_s * 5))  # at least six buckets
    else:
        start = since
    n = int((now - start).total_seconds() // bucket_s) + 1
    counts = [[0, 0] for _ in range(n)]
    for moment, kind in seen:
        at = int((moment - start).total_seconds() // bucket_s)
        if 0 <= at < n:
            counts[at][0 if kind == "risk" else 1] += 1
    return bucket_s, [(start + dt.timedelta(seconds=bucket_s * i), c[0], c[1]) for i, c in enumerate(counts)]


def _aware(value: Any) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(dt.UTC) if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _floor(moment: dt.datetime, bucket_s: int) -> dt.datetime:
    epoch = int(moment.timestamp())
    return dt.datetime.fromtimestamp(epoch - epoch % bucket_s, dt.UTC)
