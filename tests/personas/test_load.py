"""Scenario load end to end on SQLite and PostgreSQL: counts, handles, personas, idempotency, scaling, and labels
remapped into a workspace whose compartments were already in another order."""

from __future__ import annotations

from personas.services_agents import count_agents, page_agents
from personas.services_load import load_scenario_into
from personas.tables import ContextChunk, ContextDocument, Persona, PersonaRole
from tests.personas.helpers import EXPECTED_MEMBERSHIPS, load_acme, scenario
from workspace.db import Database
from workspace.labels import LabelScheme
from workspace.services import ensure_workspace, get_scheme, system_actor
from workspace.tables import AuditEvent, Member


async def test_load_creates_everything_once(db: Database) -> None:
    acme = await load_acme()
    r = acme.report
    assert (r.roles_created, r.agents_created, r.agents_existing) == (4, 13, 0)
    assert (r.channels_created, r.memberships_added, r.documents_created) == (4, EXPECTED_MEMBERSHIPS, 4)
    assert await Member.count().where(Member.kind == "agent") == 13
    assert await Persona.count() == 13 and await PersonaRole.count() == 4
    assert await ContextDocument.count() == 4 and await ContextChunk.count() >= 4
    assert await count_agents(acme.ws) == {"Picker": 6, "Accountant": 3, "Counsel": 2, "Greeter": 2}

    agents = await page_agents(acme.ws, limit=100)
    handles = [a["handle"] for a in agents]
    assert handles[:6] == [f"picker-{n:04d}" for n in range(1, 7)]
    assert "counsel-0002" in handles and len(set(handles)) == 13
    picker = agents[0]
    assert picker["role"] == "Picker" and picker["department"] == "ops" and picker["active"] is True
    assert picker["traits"][0] == "practical" and set(picker["concerns"]) == {"broken scanners", "overtime"}
    scheme = await get_scheme(acme.ws)
    assert str(scheme.from_ints(picker["label_level"], picker["label_mask"])) == "internal/ops"
    money = await acme.channel("money")
    assert money["label"] == "confidential/finance"
    assert await AuditEvent.count().where(AuditEvent.action == "agents.created") == 4

    again = await load_scenario_into(acme.system, scenario())
    assert not again.changed
    assert (again.agents_existing, again.channels_existing, again.documents_existing) == (13, 4, 4)
    assert any("nothing to do" in line for line in again.lines())
    assert await Member.count().where(Member.kind == "agent") == 13
    assert await ContextDocument.count() == 4


async def test_scaling_up_adds_only_the_missing_agents(db: Database) -> None:
    acme = await load_acme()
    bigger = await load_scenario_into(acme.system, scenario(), agents=26)
    assert bigger.agents_target == 26 and bigger.agents_created == 13 and bigger.agents_existing == 13
    assert bigger.channels_created == 0 and bigger.memberships_added == 13 + 8 + 5 + 2  # every count doubles
    agents = await page_agents(acme.ws, role="Picker", limit=100)
    assert [a["handle"] for a in agents][-1] == "picker-0012"
    page1 = await page_agents(acme.ws, limit=10)
    page2 = await page_agents(acme.ws, after=page1[-1]["member_id"], limit=100)
    assert len(page1) + len(page2) == 26 and {a["member_id"] for a in page1}.isdisjoint(
        a["member_id"] for a in page2)


async def test_labels_are_remapped_into_the_workspace_scheme(db: Database) -> None:
    # The workspace knows "legal" and "hr" first: the scenario's bit positions differ from the workspace's.
    ws = await ensure_workspace("other", LabelScheme(compartments=("legal", "hr")))
    report = await load_scenario_into(await system_actor(ws), scenario())
    assert report.agents_created == 13
    scheme = await get_scheme(ws)
    assert scheme.compartments == ("legal", "hr", "ops", "finance")
    counsel = (await page_agents(ws, role="Counsel", limit=1))[0]
    assert str(scheme.from_ints(counsel["label_level"], counsel["label_mask"])) == "restricted/finance+legal+ops"
