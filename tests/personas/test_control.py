"""Kill switches (agent, role, department) and label changes (agent, role): effective at once, hooks fired,
channels drop members that no longer dominate them, everything audited."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from channels.services import is_member, post_message
from personas.services_agents import page_agents
from personas.services_control import kill, list_switches, revive, set_agent_label, set_role_label
from personas.services_load import load_scenario_into
from sso.services_tokens import authenticate_agent_token, forget_cached, issue_agent_token
from tests.personas.helpers import load_acme, scenario
from workspace.db import Database
from workspace.errors import Forbidden, NotFound, ValidationFailed
from workspace.hooks import hooks
from workspace.tables import AuditEvent


def _recorder(name: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    async def record(**kwargs: Any) -> None:
        seen.append(kwargs)

    hooks.on(name, record)
    return seen


async def test_kill_switch_per_agent_role_and_department(db: Database) -> None:
    acme = await load_acme()
    deactivated = _recorder("member.deactivated")
    picker = await acme.agent("picker-0001")
    assert picker.member_id is not None
    token = await issue_agent_token(acme.system, picker.member_id)
    assert (await authenticate_agent_token(token)).handle == "picker-0001"

    result = await kill(acme.system, role="Picker", reason="runaway chatter")
    assert result.members == 6 and result.scope == "role"
    assert deactivated[-1]["member_ids"] == sorted(deactivated[-1]["member_ids"]) and len(
        deactivated[-1]["member_ids"]) == 6
    forget_cached()
    with pytest.raises(Forbidden, match="kill switch"):
        await authenticate_agent_token(token)
    with pytest.raises(Forbidden, match="deactivated"):
        await post_message(picker, "ops-floor", "still here?", uuid.uuid4().hex)
    active = {a["handle"] for a in await page_agents(acme.ws, limit=100, active_only=True)}
    assert len(active) == 7 and not any(h.startswith("picker-") for h in active)

    await kill(acme.system, agent="picker-0002")
    await kill(acme.system, department="legal")
    assert len(await page_agents(acme.ws, limit=100, active_only=True)) == 5
    # Reviving the role leaves the individually killed agent off; new agents of a killed department start off.
    revived = await revive(acme.system, role="Picker")
    assert revived.members == 5
    off = {a["handle"] for a in await page_agents(acme.ws, limit=100) if not a["active"]}
    assert off == {"picker-0002", "counsel-0001", "counsel-0002"}
    await load_scenario_into(acme.system, scenario(), agents=26)
    assert not [a for a in await page_agents(acme.ws, role="Counsel", limit=100) if a["active"]]
    assert [s["scope"] for s in await list_switches(acme.system, active_only=True)] == ["department", "agent"]
    assert await AuditEvent.count().where(AuditEvent.action == "agents.killed") == 3
    assert await AuditEvent.count().where(AuditEvent.action == "agents.revived") == 1


async def test_kill_switch_refuses_bad_scopes(db: Database) -> None:
    acme = await load_acme()
    with pytest.raises(ValidationFailed, match="exactly one"):
        await kill(acme.system, role="Picker", department="ops")
    with pytest.raises(NotFound, match="role 'Pickers'"):
        await kill(acme.system, role="Pickers")


async def test_agent_label_change_removes_it_from_channels_it_no_longer_dominates(db: Database) -> None:
    acme = await load_acme()
    changed = _recorder("member.label_changed")
    counsel = await acme.agent("counsel-0001")
    assert counsel.member_id is not None
    boardroom, money = await acme.channel("boardroom"), await acme.channel("money")
    assert await is_member(boardroom["id"], counsel.member_id)
    result = await set_agent_label(acme.system, counsel.member_id, acme.system.scheme.parse("confidential/finance"))
    assert result["removed_from"] == {"boardroom": 1, "ops-floor": 1}
    assert not await is_member(boardroom["id"], counsel.member_id)
    assert await is_member(money["id"], counsel.member_id)
    assert changed and changed[-1]["member_ids"] == [counsel.member_id]
    assert str((await acme.agent("counsel-0001")).label) == "confidential/finance"
    assert await AuditEvent.count().where(AuditEvent.action == "agent.label_changed") == 1


async def test_role_label_change_applies_to_every_agent_at_once(db: Database) -> None:
    acme = await load_acme()
    changed = _recorder("member.label_changed")
    result = await set_role_label(acme.system, "Accountant", acme.system.scheme.parse("internal"))
    assert result["agents"] == 3 and result["removed_from"] == {"money": 3}
    assert {str((await acme.agent(f"accountant-000{n}")).label) for n in (1, 2, 3)} == {"internal"}
    assert len(changed[-1]["member_ids"]) == 3
    low_admin = acme.system.__class__(workspace_id=acme.ws, kind="human", handle="ann",
                                      label=acme.system.scheme.parse("internal"), scheme=acme.system.scheme,
                                      roles=frozenset({"admin"}))
    with pytest.raises(Forbidden, match="may not relabel role 'Greeter'"):
        await set_role_label(low_admin, "Greeter", acme.system.scheme.parse("restricted"))
