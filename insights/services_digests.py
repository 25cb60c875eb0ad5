"""Digests per reader, daily and weekly: the best current insights the reader's label dominates, computed when the
reader looks and cached only until an insight is added, changed, triaged or retired, or the reader's clearance
changes; when empty, they say why and what to do. Stored digests (the API's, the CLI's and the hourly job's) are the
same computation written down.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import OrderedDict
from typing import Any

from markupsafe import escape

from insights.services_insights import (
    cited_documents,
    corroboration_words,
    insight_dict,
    require_person,
    severity_band,
)
from insights.tables import Digest
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.errors import NotFound, ValidationFailed
from workspace.labels import dominates_sql
from workspace.services import actor_for_member
from workspace.tables import Member

PERIODS: dict[str, dt.timedelta] = {"daily": dt.timedelta(days=1), "weekly": dt.timedelta(days=7)}
TOP = 10
DOCS_PER_ITEM = 3
CACHE_SIZE = 1024
"""Computed digests kept per process (one per reader, period, clearance and state of the insights)."""
_cache: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()

EMPTY = {
    "none_yet": ("No insights yet.",
                 "Insights appear once agents have talked in the channels and mining has read what they said "
                 "(mining runs every minute)."),
    "above_clearance": ("Nothing within your clearance.",
                        "Every current insight needs a higher clearance than yours ({label}): an insight carries the "
                        "labels of all its evidence. Ask an administrator if your work needs a higher clearance."),
    "quiet": ("Nothing new since {since}.",
              "{visible} insight{s} at your clearance {were} raised earlier: see {where}."),
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _period(period: str) -> dt.timedelta:
    if period not in PERIODS:
        raise ValidationFailed(f"period must be daily or weekly; got {period!r}", field="period")
    return PERIODS[period]


def window_start(period: str, now: dt.datetime) -> dt.datetime:
    """The start of ``period`` back from ``now``, on the hour (so one digest serves a reader for up to an hour)."""
    return now.replace(minute=0, second=0, microsecond=0) - _period(period)


def digest_dict(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": int(row["id"]), "period": row["period"], "member_id": int(row["member"]), "since": row["since"],
            "created_at": row["created_at"], "markdown": row["markdown"], "html": row["html"],
            "insight_ids": json.loads(row["insight_ids"] or "[]")}


async def insights_stamp(workspace_id: int) -> tuple[Any, ...]:
    """What changes whenever an insight is added (max id), updated, triaged or retired (max updated_at, current
    count): a digest computed under the same stamp, label and window is still true."""
    rows = await dbmod.current().fetch(
        "SELECT COUNT(*) AS n, MAX(id) AS top, MAX(updated_at) AS changed, "
        "SUM(CASE WHEN current THEN 1 ELSE 0 END) AS live FROM insights_insight WHERE workspace = {}", workspace_id)
    r = rows[0]
    return int(r["n"] or 0), int(r["top"] or 0), str(r["changed"] or ""), int(r["live"] or 0)


def _visible_where(actor: Actor) -> tuple[str, list[Any]]:
    """Current, not dismissed insights of the actor's workspace that its label dominates (no read up)."""
    readable, label_args = dominates_sql(actor.label, "")
    return (f"workspace = {{}} AND {readable} AND current = {{}} AND status <> {{}}",
            [actor.workspace_id, *label_args, True, "dismissed"])


async def _candidates(actor: Actor, since: dt.datetime) -> list[dict[str, Any]]:
    """Current, not dismissed insights the reader may read, updated since ``since``, best first (rows)."""
    where, args = _visible_where(actor)
    return list(await dbmod.current().fetch(
        f"SELECT * FROM insights_insight WHERE {where} AND updated_at >= {{}} ORDER BY score DESC, id DESC "
        f"LIMIT {{}}", *args, since, TOP))


async def _count(where: str, args: list[Any]) -> int:
    rows = await dbmod.current().fetch(f"SELECT COUNT(*) AS n FROM insights_insight WHERE {where}", *args)
    return int(rows[0]["n"] or 0)


async def current_digest(actor: Actor, period: str = "daily") -> dict[str, Any]:
    """``actor``'s digest of ``period`` as of now, for the clearance the actor has now (``label``): the best current
    insights it dominates that changed since the window's start, each with the cited documents it may open; when
    empty, ``empty`` says why. Computed on demand and reused while nothing it depends on has changed."""
    require_person(actor)
    now = _now()
    since = window_start(period, now)
    key = (actor.workspace_id, actor.member_id, actor.handle, period, str(actor.label), since,
           await insights_stamp(actor.workspace_id))
    hit = _cache.get(key)
    if hit is not None:
        _cache.move_to_end(key)
        return hit
    digest = await _compute(actor, period, since, now)
    _cache[key] = digest
    while len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)
    return digest


def forget_cache() -> None:
    """Drop every cached digest (tests; nothing else needs it: the cache key already follows every change)."""
    _cache.clear()


async def _compute(actor: Actor, period: str, since: dt.datetime, now: dt.datetime) -> dict[str, Any]:
    rows = await _candidates(actor, since)
    docs, _ = await cited_documents(actor, rows)
    items = []
    for r in rows:
        item = insight_dict(r, actor)
        first: dict[int, dict[str, Any]] = {}
        for d in docs.get(item["id"], []):
            first.setdefault(d["id"], d)  # a document once, linked to its first cited passage
        item["documents"] = list(first.values())[:DOCS_PER_ITEM]
        items.append(item)
    where, args = _visible_where(actor)
    visible = await _count(where, args)
    empty = None
    if not items:
        if visible:
            empty = "quiet"
        elif await _count("workspace = {} AND current = {} AND status <> {}",
                          [actor.workspace_id, True, "dismissed"]):
            empty = "above_clearance"
        else:
            empty = "none_yet"
    label = str(actor.label)
    out: dict[str, Any] = {
        "period": period, "label": label, "since": since, "computed_at": now, "items": items, "visible": visible,
        "empty": empty, "insight_ids": [i["id"] for i in items]}
    out["empty_text"] = empty_text(out) if empty else None
    out["markdown"] = render_markdown(actor.handle, out)
    out["html"] = render_html(out)
    return out


def empty_text(digest: dict[str, Any]) -> tuple[str, str]:
    """(what, why and what to do) for an empty digest."""
    head, body = EMPTY[digest["empty"]]
    n = digest["visible"]
    other = "the weekly digest or all insights" if digest["period"] == "daily" else "all insights"
    fields = {"label": digest["label"], "since": f"{digest['since']:%Y-%m-%d %H:%M} UTC", "visible": n,
              "s": "" if n == 1 else "s", "were": "was" if n == 1 else "were", "where": other}
    return head.format(**fields), body.format(**fields)


def _intro(digest: dict[str, Any]) -> str:
    return (f"Risks and opportunities updated since {digest['since']:%Y-%m-%d %H:%M} UTC that your clearance "
            f"({digest['label']}) lets you see.")


def render_markdown(reader: str, digest: dict[str, Any]) -> str:
    lines = [f"# Chorus {digest['period']} digest for {reader}", "", _intro(digest), ""]
    if digest["empty"]:
        head, body = digest["empty_text"]
        lines.append(f"{head} {body}")
    for n, i in enumerate(digest["items"], start=1):
        flag = " · raised but not acknowledged" if i["unacknowledged"] else ""
        lines += [f"{n}. **{i['kind'].capitalize()}: {i['title']}** (severity {i['severity']:.2f}, "
                  f"{severity_band(i['severity'])}; {corroboration_words(i)}; score {i['score']:.2f}; label "
                  f"{i['label']}{flag})", f"   {i['summary']}", f"   [Evidence](/insights/{i['id']})"]
        lines += [f"   [{d['title']}]({d['href']})" for d in i["documents"]]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def render_html(digest: dict[str, Any]) -> str:
    """Safe HTML (every value escaped), stable hooks: ``.insight[data-insight-id]`` items in ``ol.digest-items``,
    ``.digest-empty[data-reason]`` when empty, ``a.cited-document`` links to the cited passages."""
    out = [f'<p class="muted">{escape(_intro(digest))}</p>']
    if digest["empty"]:
        head, body = digest["empty_text"]
        out.append(f'<div class="digest-empty card" data-reason="{digest["empty"]}"><p><strong>{escape(head)}'
                   f"</strong></p><p>{escape(body)}</p></div>")
        return "".join(out)
    out.append('<ol class="digest-items">')
    for i in digest["items"]:
        flag = ' · <span class="flag">raised but not acknowledged</span>' if i["unacknowledged"] else ""
        band = severity_band(i["severity"])
        docs = "".join(f'<li><a class="cited-document" href="{escape(d["href"])}">{escape(d["title"])}</a> '
                       f'<span class="label-chip">{escape(d["label"])}</span></li>' for d in i["documents"])
        out.append(
            f'<li class="insight" data-insight-id="{i["id"]}"><h3><span class="kind-{escape(i["kind"])}">'
            f'{escape(i["kind"].capitalize())}</span>: <a href="/insights/{i["id"]}">{escape(i["title"])}</a></h3>'
            f'<p class="small muted"><span class="sev sev-{band}">severity {i["severity"]:.2f} · {band}</span> · '
            f'{escape(corroboration_words(i))} · score {i["score"]:.2f} · label '
            f'<span class="label-chip">{escape(i["label"])}</span>{flag}</p><p>{escape(i["summary"])}</p>'
            + (f'<ul class="small cited-documents" aria-label="Cited documents">{docs}</ul>' if docs else "")
            + "</li>")
    out.append("</ol>")
    return "".join(out)


async def _store(actor: Actor, digest: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"workspace": actor.workspace_id, "member": actor.member_id, "period": digest["period"],
                           "since": digest["since"], "markdown": digest["markdown"], "html": digest["html"],
                           "insight_ids": json.dumps(digest["insight_ids"]), "created_at": _now()}
    created = await Digest.insert(Digest(**row))
    return digest_dict({**row, "id": created[0]["id"]})


def _require_member(actor: Actor) -> None:
    require_person(actor)
    if actor.member_id is None:
        raise ValidationFailed("a digest belongs to a member; the system actor has none", field="member")


async def generate_digest(actor: Actor, period: str = "daily") -> dict[str, Any]:
    """Write ``actor``'s digest for ``period`` now (what :func:`current_digest` shows) and return the stored row."""
    _require_member(actor)
    return await _store(actor, await current_digest(actor, period))


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
    """The reader's digest of ``period`` as stored: the latest stored one when it says what :func:`current_digest`
    says now, else (``generate``) the current one, stored. Without ``generate``: the latest stored one the reader's
    clearance still allows, or None."""
    _require_member(actor)
    _period(period)
    rows = await Digest.select().where(
        (Digest.workspace == actor.workspace_id) & (Digest.member == (actor.member_id or 0))
        & (Digest.period == period)).order_by(Digest.id, ascending=False).limit(1)
    latest = rows[0] if rows and await _still_readable(actor, rows[0]) else None
    if not generate:
        return digest_dict(latest) if latest else None
    current = await current_digest(actor, period)
    if latest is not None and latest["html"] == current["html"]:
        return digest_dict(latest)
    return await _store(actor, current)


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
