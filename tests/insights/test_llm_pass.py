"""The optional LLM pass: reply parsing and the checks that keep a rewrite on the evidence; with the offline provider
nothing changes (both engines); with the real local llama.cpp server (marker ``llm``) titles are rewritten or kept
for a stated reason, the re-ranked top is a permutation of the same insights, and the pass is audited.
"""

from __future__ import annotations

import json

import pytest

from channels.services import add_members_bulk, create_channel, post_message
from insights import services as svc
from insights.services_llm import check_title, parse_reply
from insights.tables import Insight
from personas.llm.local import LocalProvider, missing_extra
from personas.llm.offline import OfflineProvider
from tests.channels.helpers import World, agent, generous_limits, world
from tests.support import unavailable
from workspace.db import Database
from workspace.tables import AuditEvent

SUBJECTS = {
    "plant-floor": ["The KX-12 valve from Brenner keeps failing inspection on line {i}.",
                    "Another KX-12 valve lot failed incoming inspection, Brenner is our sole supplier.",
                    "Line {i} stopped again because KX-12 valves failed inspection.",
                    "We have no second source for the KX-12 valve and Brenner lots keep failing."],
    "sales-floor": ["{i}00 prospects joined the Oregon waitlist and would pay $9 per seat for the mobile plan.",
                    "Customers keep asking for the mobile plan; the Oregon waitlist grew by {i}0 this week.",
                    "Three Oregon clinics asked for the mobile plan and would pay $12 per seat.",
                    "Demand for the mobile plan in Oregon is real: the waitlist doubled since March."],
    "warehouse": ["The Dayton warehouse forklift fleet keeps breaking down and repairs are overdue {i} weeks.",
                  "Forklift breakdowns in Dayton stopped loading again; the repair backlog is overdue.",
                  "Two more Dayton forklifts broke down today and the repair contract has expired.",
                  "Dayton forklift outages delayed {i} trucks; nobody has a repair plan."],
}


async def _mined_world() -> World:
    generous_limits()
    svc.forget_state()
    w = await world()
    for name, texts in SUBJECTS.items():
        ch = await create_channel(w.system, name, name, w.system.scheme.parse("internal/ops"))
        actors = [await agent(w, f"{name}-{i}", "internal/ops") for i in range(4)]
        await add_members_bulk(w.system, int(ch["id"]), [a.member_id for a in actors if a.member_id is not None])
        for n, text in enumerate(texts):
            await post_message(actors[n % 4], int(ch["id"]), text.format(i=n + 1), f"{name}-{n}")
    await svc.mine_workspace(w.system)
    return w


async def _ranking(w: World) -> list[tuple[int, str, float]]:
    rows = await Insight.select(Insight.id, Insight.title, Insight.score).where(
        (Insight.workspace == w.ws) & (Insight.current == True)).order_by(Insight.score, ascending=False)  # noqa: E712
    return [(int(r["id"]), str(r["title"]), float(r["score"])) for r in rows]


def test_replies_parse_as_json_or_lines() -> None:
    got = parse_reply('Sure! {"title": "Brenner KX-12 valves keep failing", "summary": "Lots fail.", "priority": 5}')
    assert (got.title, got.summary, got.priority) == ("Brenner KX-12 valves keep failing", "Lots fail.", 5)
    got = parse_reply("**Title:** KX-12 valve failures stop Line 2\n- Summary: Brenner lots fail.\nPRIORITY: 4/5")
    assert (got.title, got.summary, got.priority) == ("KX-12 valve failures stop Line 2", "Brenner lots fail.", 4)
    assert parse_reply("I cannot help with that.").title == ""
    cut = parse_reply('{"title": "Brenner KX-12 valves keep \\"failing\\"", "summary": "Lots fail inspect')
    assert (cut.title, cut.summary, cut.priority) == ('Brenner KX-12 valves keep "failing"', "", None)
    assert parse_reply('{"title": "Brenner KX-12 valves keep fail').title == ""  # never half a title


def test_a_title_must_stay_on_the_evidence() -> None:
    terms = ["kx-12 valve", "brenner", "inspection"]
    evidence = "The KX-12 valve from Brenner keeps failing inspection on line 2."
    assert check_title("Brenner KX-12 valves keep failing inspection", terms, evidence) is None
    assert "key terms" in (check_title("Quarterly results look strong overall", terms, evidence) or "")
    assert "not in the evidence" in (check_title("Brenner merger rumours unsettle Tokyo bondholders", terms,
                                                 evidence) or "")
    assert "length" in (check_title("Valve", terms, evidence) or "")


async def test_the_offline_provider_changes_nothing(db: Database) -> None:
    w = await _mined_world()
    before = await _ranking(w)
    assert len(before) >= 2
    result = await svc.llm_pass(w.system, OfflineProvider(), top=3)
    assert result.rewritten == 0 and result.considered == min(3, len(before))
    assert all(v.startswith("kept: the offline provider") for v in result.outcomes.values())
    assert await _ranking(w) == before and result.order_after == result.order_before


@pytest.mark.llm
async def test_the_local_llm_rewrites_or_keeps_for_a_reason_and_reranks_a_permutation(sqlite_db: Database) -> None:
    problem = missing_extra()
    if problem:
        unavailable("local-llm", f"the local-llm extra is not installed ({problem})")
    w = await _mined_world()
    before = await _ranking(w)
    assert len(before) >= 2
    provider = LocalProvider(timeout_s=120)
    try:
        result = await svc.llm_pass(w.system, provider, top=3, max_tokens=48)
    finally:
        await provider.aclose()
    after = {iid: (title, score) for iid, title, score in await _ranking(w)}
    top = before[:3]
    assert sorted(result.order_after) == sorted(result.order_before) == sorted(i for i, _, _ in top)
    assert sorted(after[i][1] for i, _, _ in top) == sorted(s for _, _, s in top)  # same scores, maybe reordered
    assert [i for i, _ in sorted(after.items(), key=lambda kv: -kv[1][1])][: len(top)] == result.order_after
    terms = {int(r["id"]): json.loads(r["terms"]) for r in await Insight.select(Insight.id, Insight.terms)}
    everything = "\n".join(t for texts in SUBJECTS.values() for t in texts)
    for iid, title, _ in top:
        outcome = result.outcomes[iid]
        if outcome == "rewritten":  # changed, and what was stored passes the checks that keep it on the evidence
            assert after[iid][0] != title and check_title(after[iid][0], terms[iid], everything) is None
        else:
            assert outcome.startswith("kept: ") and len(outcome) > len("kept: ") and after[iid][0] == title
    assert result.tokens_in > 0 and 0 < result.tokens_out <= 48 * len(top)
    entry = await AuditEvent.select(AuditEvent.details).where(AuditEvent.action == "insights.rewritten")
    assert len(entry) == 1 and json.loads(entry[0]["details"])["order_after"] == result.order_after
