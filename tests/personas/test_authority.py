"""The one rule for administrative power, at the services: an admin with internal clearance creates roles, agents,
channels and documents, loads scenarios, plants canaries and revives agents only within its clearance; a refusal
changes nothing (the workspace's label scheme included) and is audited once. The system actor keeps full power.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from personas.context.documents import NewDocument, ingest_documents, plant_canaries
from personas.scenario import parse_scenario
from personas.services_load import load_scenario_into
from tests.personas.helpers import Acme, load_acme
from tests.sso.helpers import human_session
from workspace import audit
from workspace.actor import Actor
from workspace.audit import Entity
from workspace.authority import require_authority
from workspace.db import Database
from workspace.errors import Forbidden
from workspace.services import actor_for_member, get_member, get_scheme
from workspace.tables import AuditEvent

NEW_COMPARTMENT = """\
version: 1
name: Skunkworks
labels:
  compartments: [ops, finance, legal, skunk]
org:
  - role: Tinkerer
    department: lab
    count: 1
    label: {tier: internal, compartments: [skunk]}
channels:
  - name: lab
    topic: Lab
    label: {tier: internal}
    members: {all: true}
"""


async def _admin(acme: Acme, label: str = "internal/ops") -> Actor:
    session = await human_session("ivan", ("admin",), label, workspace_id=acme.ws)
    return await actor_for_member(await get_member(acme.ws, session.member_id))


async def _refusals() -> list[dict[str, object]]:
    rows = await AuditEvent.select().where(AuditEvent.action == "authority.refused").order_by(AuditEvent.id)
    return [json.loads(r["details"]) | {"label": (r["label_level"], r["label_mask"])} for r in rows]


async def test_a_scenario_above_the_admin_changes_nothing_not_even_the_label_scheme(db: Database) -> None:
    acme = await load_acme()
    admin = await _admin(acme)
    before = await get_scheme(acme.ws)
    with pytest.raises(Forbidden, match="role 'Tinkerer' \\(internal/skunk\\)") as refusal:
        await load_scenario_into(admin, parse_scenario(NEW_COMPARTMENT, "s.yaml", Path(".")))
    assert "skunk is new to this workspace" in refusal.value.message and "chorus scenario load" in refusal.value.message
    assert await get_scheme(acme.ws) == before, "the refused load added a compartment"
    refused = await _refusals()
    assert [r["attempted"] for r in refused] == ["scenario.loaded"]
    assert refused[0]["label"] == (admin.label.level, admin.label.mask), "labelled with the refused admin's clearance"
    report = await load_scenario_into(acme.system, parse_scenario(NEW_COMPARTMENT, "s.yaml", Path(".")))
    assert report.roles_created == 1 and report.channels_created == 1


async def test_documents_are_ingested_only_within_the_admins_clearance(db: Database) -> None:
    acme = await load_acme()
    admin = await _admin(acme)
    docs = [NewDocument("Ops note", "The north dock closes at six.", admin.scheme.parse("internal/ops")),
            NewDocument("Legal note", "The merger closes in June.", admin.scheme.parse("confidential/legal"))]
    with pytest.raises(Forbidden, match="may not ingest document 'Legal note'"):
        await ingest_documents(admin, docs)
    assert await AuditEvent.count().where(AuditEvent.action == "document.ingested") == 4, "only Acme's four"
    assert [r.created for r in await ingest_documents(admin, docs[:1])] == [True]


async def test_canaries_are_planted_and_shown_only_within_the_admins_clearance(db: Database) -> None:
    acme = await load_acme()
    admin = await _admin(acme)
    mine = await plant_canaries(admin)
    assert {c["label"] for c in mine} == {"public", "internal/ops"}
    everything = await plant_canaries(acme.system)
    assert len(everything) == 4 and {c["marker"] for c in mine} <= {c["marker"] for c in everything}
    assert await plant_canaries(admin) == mine


async def test_revive_needs_a_clearance_over_every_agent_it_would_turn_on(db: Database) -> None:
    from personas.services_control import kill, revive

    acme = await load_acme()
    admin = await _admin(acme)
    await kill(admin, role="Counsel")  # any admin may switch agents off
    with pytest.raises(Forbidden, match="may not revive role 'Counsel'"):
        await revive(admin, role="Counsel")
    await kill(admin, role="Picker")
    assert (await revive(admin, role="Picker")).members == 6
    assert (await revive(acme.system, role="Counsel")).members == 2


async def test_a_refusal_inside_a_transaction_is_a_programming_error(db: Database) -> None:
    acme = await load_acme()
    admin = await _admin(acme)
    with pytest.raises(RuntimeError, match="before the change's transaction"):
        async with db.transaction():
            await require_authority(admin, "test", Entity("x", 1), admin.scheme.top(), doing="test")
    await require_authority(acme.system, "test", Entity("x", 1), admin.scheme.top(), doing="test")
    await audit.seal_all()
    assert await _refusals() == []
