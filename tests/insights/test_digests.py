"""Digests are computed for their reader when viewed, on SQLite and PostgreSQL: they follow the reader's clearance
(and say which one they used), pick up a new insight or a triage at once, are reused while nothing changed, say why
they are empty, and link cited documents only within the reader's clearance."""

from __future__ import annotations

import datetime as dt
import json

from insights import services as svc
from insights.services_digests import forget_cache
from sso.services_humans import apply_human
from tests.channels.helpers import World, human, world
from tests.insights.helpers import document_with_span, stored_insight
from workspace.actor import Actor
from workspace.db import Database
from workspace.services import actor_for_member, get_member


async def _relabel(w: World, who: Actor, label: str) -> Actor:
    """Sign the same person in again with another clearance (what an identity provider's groups would do)."""
    member = await apply_human(w.system, who.handle, who.handle.title(), frozenset(who.roles),
                               w.system.scheme.parse(label))
    return await actor_for_member(await get_member(w.ws, member))


async def test_the_digest_follows_the_readers_clearance_and_names_the_one_it_used(db: Database) -> None:
    forget_cache()
    w = await world()
    public = await stored_insight(w.system, "Brochure typo on page 4", "public", severity=0.3, score=0.2)
    ops = await stored_insight(w.system, "Line 2 stops twice a week", "internal/ops", score=0.6)
    board = await stored_insight(w.system, "Sole supplier may exit in March", "restricted/finance+ops", score=0.9)
    dana = await human(w, "dana", "public")
    low = await svc.current_digest(dana)
    assert low["insight_ids"] == [public] and low["label"] == "public"
    assert "Line 2" not in low["html"] + low["markdown"] and "supplier" not in low["html"] + low["markdown"]
    stored = await svc.latest_digest(dana)
    assert stored is not None and stored["insight_ids"] == [public]

    dana = await _relabel(w, dana, "restricted/finance+ops")
    high = await svc.current_digest(dana)
    assert high["insight_ids"] == [board, ops, public] and high["label"] == "restricted/finance+ops"
    assert "(restricted/finance+ops)" in high["html"], "the digest says which clearance it was computed for"
    again = await svc.latest_digest(dana)
    assert again is not None and again["insight_ids"] == [board, ops, public], "the stored digest follows too"

    dana = await _relabel(w, dana, "internal/ops")
    assert (await svc.current_digest(dana))["insight_ids"] == [ops, public]


async def test_a_new_insight_or_a_triage_changes_the_digest_and_nothing_else_recomputes_it(db: Database) -> None:
    forget_cache()
    w = await world()
    first = await stored_insight(w.system, "Line 2 stops twice a week", "internal", score=0.6)
    erin = await human(w, "erin", "internal")
    digest = await svc.current_digest(erin)
    assert await svc.current_digest(erin) is digest, "nothing changed: the computed digest is reused"

    second = await stored_insight(w.system, "Returns doubled in Oregon", "internal", score=0.8)
    fresh = await svc.current_digest(erin)
    assert fresh is not digest and fresh["insight_ids"] == [second, first]

    await svc.triage(erin, second, "dismiss")
    after = await svc.current_digest(erin)
    assert after["insight_ids"] == [first], "a dismissed insight leaves the digest at once"
    stored = await svc.latest_digest(erin)
    assert stored is not None and stored["insight_ids"] == [first]


async def test_an_empty_digest_says_why_and_what_to_do(db: Database) -> None:
    forget_cache()
    w = await world()
    reader = await human(w, "ivan", "public")
    nothing = await svc.current_digest(reader)
    assert nothing["empty"] == "none_yet" and "mining" in nothing["html"]

    await stored_insight(w.system, "Sole supplier may exit in March", "confidential/finance")
    above = await svc.current_digest(reader)
    assert above["empty"] == "above_clearance"
    assert "higher clearance than yours (public)" in above["html"] and "Ask an administrator" in above["html"]
    assert "supplier" not in above["html"], "an insight above the reader's clearance is never described"

    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    await stored_insight(w.system, "Brochure typo on page 4", "public", updated_at=old)
    quiet = await svc.current_digest(reader)
    assert quiet["empty"] == "quiet" and quiet["visible"] == 1
    assert "1 insight at your clearance was raised earlier: see the weekly digest" in quiet["html"]
    weekly = await svc.current_digest(reader, "weekly")
    assert weekly["empty"] is None and len(weekly["items"]) == 1


async def test_cited_documents_link_to_their_span_only_within_the_readers_clearance(db: Database) -> None:
    forget_cache()
    w = await world()
    plan, plan_span = await document_with_span(
        w.system, "Assembly line plan", "# Assembly line plan\n\nLine 2 runs at 420 pumps a week until March.\n",
        "internal/ops", "420 pumps a week")
    secret, secret_span = await document_with_span(
        w.system, "Brenner exit memo", "# Brenner exit memo\n\nBrenner stops supplying KX-12 valves in March.\n",
        "confidential/finance+ops", "stops supplying")
    # Deliberately inconsistent (the label should be the least upper bound of both documents): the links must
    # still hold the label rule on their own.
    insight = await stored_insight(w.system, "Line 2 loses its valve supplier in March", "internal/ops",
                                   spans=[plan_span, secret_span], documents=[plan, secret])
    reader = await human(w, "olga", "internal/ops")
    item = (await svc.current_digest(reader))["items"][0]
    assert [d["id"] for d in item["documents"]] == [plan]
    start, end = plan_span["start"], plan_span["end"]
    href = f"/documents/{plan}?chunk={plan_span['chunk']}&start={start}&end={end}#cited"
    assert item["documents"][0]["href"] == href
    digest = await svc.current_digest(reader)
    assert href.replace("&", "&amp;") in digest["html"] and "Brenner exit memo" not in digest["html"]
    detail = await svc.get_insight(reader, insight)
    assert [(d["id"], d["href"]) for d in detail["documents"]] == [(plan, href)]
    assert detail["withheld"] == 1 and "Brenner exit memo" not in str(detail)
    top = await human(w, "tess", "confidential/finance+ops")
    assert [d["id"] for d in (await svc.get_insight(top, insight))["documents"]] == [plan, secret]


async def test_the_timeline_fits_its_buckets_to_the_data_so_a_young_workspace_draws_no_flat_month(db: Database) -> None:
    w = await world()
    now = dt.datetime.now(dt.UTC)
    for minutes in (40, 25, 24, 3):
        await stored_insight(w.system, f"Insight {minutes} minutes old", "internal",
                             updated_at=now - dt.timedelta(minutes=minutes))
    bucket, series = await svc.insights_timeline(w.system)
    assert bucket == 300, "40 minutes of insights: five-minute buckets"
    assert 9 <= len(series) <= 30 and sum(r + o for _, r, o in series) == 4
    assert sum(1 for _, r, o in series if r + o) >= 3, "the insights land in different buckets"
    days = await svc.insights_over_time(w.system, 30)
    assert len(days) == 30 and sum(r for _, r, _ in days[-2:]) == 4 and not any(r for _, r, _ in days[:-2])


async def test_every_span_a_mined_insight_cites_opens_at_its_passage(sqlite_db: Database) -> None:
    """The contract between mining and the document page, on the real runtime and miner: each cited span
    (document, chunk id, offsets into the chunk's text) is placed in the document's body."""
    from insights.services_mining import mine_workspace
    from personas.context.documents import read_document
    from personas.llm.offline import OfflineProvider
    from personas.runtime.runs import execute_run, start_run
    from tests.ui.conftest import meridian
    from workspace.services import ensure_workspace, system_actor

    forget_cache()
    ws = await ensure_workspace()
    await meridian(ws)
    system = await system_actor(ws)
    run = await start_run(system, rounds=4, seed=7, status="running")
    await execute_run(run["id"], OfflineProvider())
    await mine_workspace(system)
    spans = [s for r in await sqlite_db.fetch("SELECT spans FROM insights_insight") for s in json.loads(r["spans"])]
    assert len(spans) >= 10, "the offline runtime's insights cite document spans"
    for s in spans:
        doc, placed = await read_document(system, s["document"], s["chunk"], s["start"], s["end"])
        assert placed is not None and not placed.problem, (s, placed)
        assert str(doc["body"])[placed.start:placed.end].strip(), s
