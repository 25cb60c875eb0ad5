"""DB-backed mining, insights, triage and digests on SQLite and PostgreSQL: the cursor (nothing mined twice, a new
message updates the insight it continues), labels as the least upper bound of the evidence, digests only showing
dominated insights, audited triage, list filters and keyset pages. Data goes in through the real post path."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

import pytest

from channels.services import add_members_bulk, create_channel, post_message
from insights import services as svc
from insights.tables import Insight
from personas.context.documents import ingest_document
from personas.runtime import claims
from tests.channels.helpers import World, agent, generous_limits, human, world
from workspace import db as db_module
from workspace.actor import Actor
from workspace.db import Database
from workspace.errors import Forbidden, ValidationFailed
from workspace.tables import AuditEvent

VALVES = ["The KX-12 valve from Brenner keeps failing inspection on line {i}.",
          "Another KX-12 valve lot failed incoming inspection, Brenner is our sole supplier.",
          "Line {i} stopped again because KX-12 valves failed inspection.",
          "Half of this morning's KX-12 valves from Brenner failed the pressure inspection.",
          "We have no second source for the KX-12 valve and Brenner lots keep failing.",
          "Inspection rejected the KX-12 valve shipment again; Brenner has no corrective action.",
          "Night shift lost four hours: KX-12 valves failed inspection and Brenner is the only supplier.",
          "Brenner KX-12 valve failures are stopping line {i} every week now.",
          "Quality flagged the KX-12 valve from Brenner as failing inspection for the third lot."]
WAITLIST = ["{i}00 prospects joined the Oregon waitlist and would pay $9 per seat for the mobile plan.",
            "Customers keep asking for the mobile plan; the Oregon waitlist grew by {i}0 this week.",
            "Oregon prospects would pay for a mobile plan: the waitlist is at {i}00 and growing.",
            "Three Oregon clinics asked for the mobile plan and would pay $12 per seat.",
            "Demand for the mobile plan in Oregon is real: the waitlist doubled since March.",
            "Sales could sell the mobile plan to the Oregon waitlist as a subscription next quarter."]


async def _speakers(w: World, channel_id: int, prefix: str, n: int, label: str) -> list[Actor]:
    actors = [await agent(w, f"{prefix}-{i}", label) for i in range(n)]
    await add_members_bulk(w.system, channel_id, [a.member_id for a in actors if a.member_id is not None])
    return actors


async def _post(actors: Sequence[Actor], channel_id: int, texts: Sequence[str], start: int = 0) -> list[int]:
    ids = []
    for n, text in enumerate(texts):
        a = actors[(start + n) % len(actors)]
        msg = await post_message(a, channel_id, text.format(i=start + n + 1), f"c-{start + n}-{a.handle}")
        ids.append(int(msg["id"]))
    return ids


async def _ops(w: World) -> tuple[int, list[Actor]]:
    ch = await create_channel(w.system, "plant-floor", "Plant floor", w.system.scheme.parse("internal/ops"))
    return int(ch["id"]), await _speakers(w, int(ch["id"]), "tech", 6, "internal/ops")


async def _mine(w: World) -> svc.MineResult:
    return await svc.mine_workspace(w.system)


async def test_incremental_mining_never_mines_a_message_twice_and_new_messages_update_the_insight(
        db: Database) -> None:
    generous_limits()
    svc.forget_state()
    w = await world()
    ch, techs = await _ops(w)
    await _post(techs, ch, VALVES[:6])
    first = await _mine(w)
    assert first.messages == 6 and first.created >= 1
    top = (await svc.list_insights(w.system))[0][0]
    assert top["kind"] == "risk" and "KX-12" in top["title"] and top["messages"] >= 4
    before = top["messages"]

    again = await _mine(w)  # nothing new: nothing read, nothing stored twice
    assert (again.messages, again.created, again.updated) == (0, 0, 0)

    await _post(techs, ch, VALVES[6:8], start=6)
    more = await _mine(w)
    assert more.messages == 2 and more.created == 0
    same = await svc.get_insight(w.system, top["id"])
    assert same["messages"] > before and same["current"]  # the stored insight continues, no duplicate
    assert await Insight.count().where(Insight.title.like("%KX-12%")) == 1

    svc.forget_state()  # another process: its miner reads everything again, the insight continues
    await _post(techs, ch, VALVES[8:], start=8)
    rebuilt = await _mine(w)
    assert rebuilt.messages == 9
    continued = await svc.get_insight(w.system, top["id"])
    assert continued["current"] and continued["messages"] >= before
    assert await Insight.count().where(Insight.title.like("%KX-12%")) == 1
    mined = await AuditEvent.select(AuditEvent.details).where(AuditEvent.action == "insights.mined")
    assert [json.loads(r["details"])["claims"] for r in mined] == [6, 2, 9]


async def _claim(w: World, rows: Sequence[tuple[object, ...]]) -> None:
    """Store claims as the agent runtime does after posting (its own service), in one transaction."""
    async with db_module.current().transaction():
        await claims.store(rows)


async def test_an_insights_label_is_the_lub_of_everything_it_shows(db: Database) -> None:
    """Two documents at different labels, each stated in a channel at its label, and a link an agent made in a
    channel above both: the joined insight carries the least upper bound, and a reader below it never sees it."""
    generous_limits()
    svc.forget_state()
    w = await world()
    scheme = w.system.scheme
    log = await ingest_document(w.system, "Valve inspection log", "The KX-12 valve from Brenner failed incoming "
                                "inspection on three lots in May, and line 4 stopped twice.",
                                scheme.parse("internal/ops"))
    deal = await ingest_document(w.system, "Supplier contracts", "Brenner is the sole supplier of the KX-12 valve "
                                 "and its contract expires on 30 June with no second source qualified.",
                                 scheme.parse("confidential/finance"))
    library = claims.Library(scheme)
    await library.load(w.ws)
    a = next(s for s in library.facts.values() if s.document == log.document_id)
    b = next(s for s in library.facts.values() if s.document == deal.document_id)
    ch, techs = await _ops(w)
    room = await create_channel(w.system, "supply-review", "Supply review", scheme.parse("confidential/finance+ops"))
    leads = await _speakers(w, int(room["id"]), "lead", 2, "confidential/finance+ops")
    posted = await _post(techs, ch, [a.fact.text])
    linked = await _post(leads, int(room["id"]), [f"{a.fact.text} And {b.fact.text}"], start=10)
    both = scheme.parse("confidential/finance+ops")
    await _claim(w, [
        claims.fact_row(w.ws, 0, 1, posted[0], ch, techs[0].member_id or 0, "Technician", "ops", a),
        claims.link_row(w.ws, 0, 2, linked[0], int(room["id"]), leads[0].member_id or 0, "Lead", "ops", a, b,
                        "dependency", "risk", "so trouble at Brenner would reach what depends on it", "Brenner",
                        both)])
    await _mine(w)
    rows, _ = await svc.list_insights(w.system)
    joined = [r for r in rows if "Supplier contracts" in r["summary"]]
    assert joined and joined[0]["label"] == "confidential/finance+ops"
    detail = await svc.get_insight(w.system, joined[0]["id"])
    assert sorted(d["id"] for d in detail["documents"]) == sorted([log.document_id, deal.document_id])
    reader = await human(w, "olga", "internal/ops")
    with pytest.raises(Forbidden, match="requires label confidential/finance\\+ops"):
        await svc.get_insight(reader, joined[0]["id"])
    assert joined[0]["id"] not in {r["id"] for r in (await svc.list_insights(reader))[0]}


async def _two_channel_world(w: World) -> tuple[int, int]:
    ch, techs = await _ops(w)
    await _post(techs, ch, VALVES)
    board = await create_channel(w.system, "board", "Leadership", w.system.scheme.parse("restricted/sales"))
    execs = await _speakers(w, int(board["id"]), "vp", 5, "restricted/ops+sales")
    await _post(execs, int(board["id"]), WAITLIST, start=40)
    await _mine(w)
    rows, _ = await svc.list_insights(w.system)
    risk = next(r["id"] for r in rows if r["kind"] == "risk")
    opp = next(r["id"] for r in rows if r["kind"] == "opportunity" and "Oregon" in r["title"] + r["summary"])
    return risk, opp


async def test_digests_show_a_reader_only_the_insights_their_label_dominates(db: Database) -> None:
    generous_limits()
    svc.forget_state()
    w = await world()
    risk, opp = await _two_channel_world(w)
    low = await human(w, "ivan", "internal/ops")
    high = await human(w, "hana", "restricted/ops+sales")
    mine = await svc.latest_digest(low, "daily")
    assert mine is not None and mine["insight_ids"] and risk in mine["insight_ids"] and opp not in mine["insight_ids"]
    assert "KX-12" in mine["markdown"] and "Oregon" not in mine["markdown"] + mine["html"]
    assert f'data-insight-id="{risk}"' in mine["html"]
    theirs = await svc.generate_digest(high, "weekly")
    assert {risk, opp} <= set(theirs["insight_ids"]) and "Oregon" in theirs["markdown"]
    assert (await svc.latest_digest(low, "daily"))["id"] == mine["id"]  # type: ignore[index]  # stored, reused
    assert (await svc.get_digest(low, mine["id"]))["markdown"] == mine["markdown"]
    with pytest.raises(Exception, match="not one of yours"):
        await svc.get_digest(low, theirs["id"])
    assert await svc.daily_digests(w.ws) == 1  # hana has only a weekly one; ivan's daily is fresh


async def test_triage_changes_status_and_is_audited(db: Database) -> None:
    generous_limits()
    svc.forget_state()
    w = await world()
    risk, opp = await _two_channel_world(w)
    emp = await human(w, "eve", "internal/ops")
    boss = await human(w, "bob", "restricted/ops+sales", roles=("admin",))
    sec = await human(w, "sam", "restricted/ops+sales", roles=("security",))
    out = await svc.triage(emp, risk, "acknowledge", comment="calling Brenner")
    assert out["status"] == "acknowledged" and out["comments"][0]["body"] == "calling Brenner"
    out = await svc.triage(emp, risk, "assign", assignee="bob")
    assert out["assignee"] == "bob"
    await svc.triage(boss, opp, "dismiss")
    await svc.triage(boss, opp, "comment", comment="not now")
    with pytest.raises(ValidationFailed, match="cannot read this insight"):
        await svc.triage(boss, opp, "assign", assignee="eve")
    with pytest.raises(ValidationFailed, match="no active person"):
        await svc.triage(emp, risk, "assign", assignee="tech-1")  # an agent
    with pytest.raises(Forbidden, match="needs the role employee or admin"):
        await svc.triage(sec, risk, "dismiss")
    with pytest.raises(Forbidden, match="requires label"):
        await svc.triage(emp, opp, "acknowledge")
    events = await AuditEvent.select(AuditEvent.action, AuditEvent.entity_id, AuditEvent.actor_handle).where(
        AuditEvent.action.like("insight.%")).order_by(AuditEvent.id)  # insertion order (seq may be unsealed)
    assert [(e["action"], e["entity_id"], e["actor_handle"]) for e in events] == [
        ("insight.acknowledged", str(risk), "eve"), ("insight.assigned", str(risk), "eve"),
        ("insight.dismissed", str(opp), "bob"), ("insight.commented", str(opp), "bob")]
    assert (await svc.get_insight(boss, opp))["status"] == "dismissed"


async def test_list_filters_and_keyset_pages(db: Database) -> None:
    generous_limits()
    svc.forget_state()
    w = await world()
    risk, _opp = await _two_channel_world(w)
    everything, _ = await svc.list_insights(w.system, limit=200)
    assert len(everything) >= 2
    kinds = {r["kind"] for r in (await svc.list_insights(w.system, svc.InsightFilter(kind="risk")))[0]}
    assert kinds == {"risk"}
    await svc.triage(await human(w, "eve", "restricted/ops+sales"), risk, "acknowledge")
    acked, _ = await svc.list_insights(w.system, svc.InsightFilter(status="acknowledged"))
    assert [r["id"] for r in acked] == [risk]
    strong, _ = await svc.list_insights(w.system, svc.InsightFilter(min_severity=0.99))
    assert all(r["severity"] >= 0.99 for r in strong)
    by_dept = {r["id"] for r in (await svc.list_insights(w.system, svc.InsightFilter(department="nowhere")))[0]}
    assert not by_dept
    seen: list[int] = []
    cursor = None
    while True:
        page, cursor = await svc.list_insights(w.system, cursor=cursor, limit=1)
        seen += [r["id"] for r in page]
        if cursor is None:
            break
    assert seen == [r["id"] for r in everything]
    with pytest.raises(ValidationFailed, match="kind must be one of"):
        await svc.list_insights(w.system, svc.InsightFilter(kind="rumour"))
    series = await svc.insights_over_time(w.system, 7)
    assert len(series) == 7 and series[-1][0] == dt.datetime.now(dt.UTC).date().isoformat()
    assert series[-1][1] + series[-1][2] == len(everything)
