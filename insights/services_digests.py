"""Digests per reader, daily and weekly: the best current insights the reader's label dominates, rendered as
Markdown and HTML and stored. A background job writes the daily ones for every active person.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Literal

from markupsafe import escape

from insights.services_insights import insight_dict, require_person
from insights.tables import Digest
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.errors import NotFound, ValidationFailed
from workspace.labels import not_mask
from workspace.services import actor_for_member
from workspace.tables import Member

Period = Literal["daily", "weekly"]
PERIODS: dict[str, dt.timedelta] = {"daily": dt.timedelta(days=1), "weekly": dt.timedelta(days=7)}
TOP = 10


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _period(period: str) -> dt.timedelta:
    if period not in PERIODS:
        raise ValidationFailed(f"period must be daily or weekly; got {period!r}", field="period")
    return PERIODS[period]


def digest_dict(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": int(row["id"]), "period": row["period"], "member_id": int(row["member"]), "since": row["since"],
            "created_at": row["created_at"], "markdown": row["markdown"], "html": row["html"],
            "insight_ids": json.loads(row["insight_ids"] or "[]")}


async def _candidates(actor: Actor, since: dt.datetime) -> list[dict[str, Any]]:
    """Current, not dismissed insights the reader may read, updated since ``since``, best first."""
    rows = await dbmod.current().fetch(
        "SELECT * FROM insights_insight WHERE workspace = {} AND label_level <= {} AND (label_mask & {}) = 0 "
        "AND current = {} AND status <> {} AND updated_at >= {} ORDER BY score DESC, id DESC LIMIT {}",
        actor.workspace_id, actor.label.level, not_mask(actor.label), True, "dismissed", since, TOP)
    return [insight_dict(r, actor) for r in rows]


def render_markdown(reader: str, period: str, since: dt.datetime, items: list[dict[str, Any]]) -> str:
    lines = [f"# Chorus {period} digest for {reader}", "",
             f"Risks and opportunities since {since:%Y-%m-%d %H:%M} UTC that your clearance lets you see.", ""]
    if not items:
        lines.append("Nothing new at your clearance in this period.")
    for n, i in enumerate(items, start=1):
        flag = " · raised but not acknowledged" if i["unacknowledged"] else ""
        lines += [f"{n}. **{i['kind'].capitalize()}: {i['title']}** (severity {i['severity']:.2f}, score "
                  f"{i['score']:.2f}, {i['corroboration']['agents']} agents, label {i['label']}{flag})",
                  f"   {i['summary']}", f"   [Evidence](/insights/{i['id']})", ""]
    return "\n".join(lines).rstrip() + "\n"


def render_html(reader: str, period: str, since: dt.datetime, items: list[dict[str, Any]]) -> str:
    """Safe HTML (every value escaped), stable hooks: ``.insight[data-insight-id]`` items in ``ol.digest-items``."""
    out = [f'<p class="muted">Risks and opportunities since <time datetime="{since.isoformat(timespec="seconds")}">'
           f"{since:%Y-%m-%d %H:%M} UTC</time> that your clearance lets you see.</p>"]
    if not items:
        out.append('<p class="empty">Nothing new at your clearance in this period.</p>')
        return "".join(out)
    out.append('<ol class="digest-items">')
    for i in items:
        flag = ' <span class="flag">raised but not acknowledged</span>' if i["unacknowledged"] else ""
        out.append(
            f'<li class="insight" data-insight-id="{i["id"]}"><h3><span class="kind-{escape(i["kind"])}">'
            f'{escape(i["kind"].capitalize())}</span>: <a href="/insights/{i["id"]}">{escape(i["title"])}</a></h3>'
            f'<p class="small muted">severity <span class="sev">{i["severity"]:.2f}</span> · score {i["score"]:.2f}'
            f' · {i["corroboration"]["agents"]} agents, {i["corroboration"]["departments"]} departments · label '
            f'<span class="label-chip">{escape(i["label"])}</span>{flag}</p><p>{escape(i["summary"])}</p></li>')
    out.append("</ol>")
    return "".join(out)


async def generate_digest(actor: Actor, period: str = "daily") -> dict[str, Any]:
    """Write ``actor``'s digest for ``period`` now (the insights updated in the last day or week that the reader's
    label dominates, best first) and return it."""
    require_person(actor)
    if actor.member_id is None:
        raise ValidationFailed("a digest belongs to a member; the system actor has none", field="member")
    now = _now()
    since = now - _period(period)
    items = await _candidates(actor, since)
    row: dict[str, Any] = {"workspace": actor.workspace_id, "member": actor.member_id, "period": period, "since": since,
           "markdown": render_markdown(actor.handle, period, since, items),
           "html": render_html(actor.handle, period, since, items),
           "insight_ids": json.dumps([i["id"] for i in items]), "created_at": now}
    created = await Digest.insert(Digest(**row))
    return digest_dict({**row, "id": created[0]["id"]})


async def _still_readable(actor: Actor, row: dict[str, Any]) -> bool:
    """A stored digest may predate a clearance change: every insight in it must still be dominated."""
    ids = json.loads(row["insight_ids"] or "[]")
    if not ids:
        return True
    marks = ", ".join("{}" for _ in ids)
    rows = await dbmod.current().fetch(
        f"SELECT label_level, label_mask FROM insights_insight WHERE id IN ({marks})", *ids)
    return all(actor.label.dominates(actor.scheme.from_ints(int(r["label_level"]), int(r["label_mask"])))
               for r in rows)


async def latest_digest(actor: Actor, period: str = "daily", *, generate: bool = True) -> dict[str, Any] | None:
    """The reader's latest digest of ``period``; a new one when there is none yet for the current period (or the
    stored one shows something the reader's clearance no longer allows) and ``generate`` is true."""
    require_person(actor)
    span = _period(period)
    rows = await Digest.select().where(
        (Digest.workspace == actor.workspace_id) & (Digest.member == (actor.member_id or 0))
        & (Digest.period == period)).order_by(Digest.id, ascending=False).limit(1)
    if rows and await _still_readable(actor, rows[0]):
        created = rows[0]["created_at"]
        if isinstance(created, str):
            created = dt.datetime.fromisoformat(created)
        if not generate or created.astimezone(dt.UTC) > _now() - span:
            return digest_dict(rows[0])
    if not generate:
        return None
    return await generate_digest(actor, period)


async def get_digest(actor: Actor, digest_id: int) -> dict[str, Any]:
    """One of the reader's own digests (a digest is personal: another member's is not found)."""
    require_person(actor)
    rows = await Digest.select().where((Digest.workspace == actor.workspace_id) & (Digest.id == digest_id)
                                       & (Digest.member == (actor.member_id or 0)))
    if not rows or not await _still_readable(actor, rows[0]):
        raise NotFound(f"digest {digest_id} is not one of yours; GET /api/digests/latest shows your latest")
    return digest_dict(rows[0])


async def daily_digests(workspace_id: int) -> int:
    """Write today's daily digest for every active person of the workspace who has none from the last day."""
    cutoff = _now() - PERIODS["daily"]
    people = await Member.select().where((Member.workspace == workspace_id) & (Member.kind == "human")
                                         & (Member.active == True))  # noqa: E712 (a SQL comparison)
    recent = {int(r["member"]) for r in await dbmod.current().fetch(
        "SELECT member FROM insights_digest WHERE workspace = {} AND period = {} AND created_at > {}",
        workspace_id, "daily", cutoff)}
    written = 0
    for person in people:
        if int(person["id"]) in recent:
            continue
        await generate_digest(await actor_for_member(person), "daily")
        written += 1
    return written
