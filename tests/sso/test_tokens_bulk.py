"""Bulk agent-token issue on both engines: every token authenticates, previous ones are revoked, one audit entry,
and a bad id issues nothing."""

from __future__ import annotations

import pytest

from sso.services_tokens import authenticate_agent_token, issue_agent_token, issue_agent_tokens_bulk
from sso.tables import AgentToken
from tests.sso.helpers import create_agent_member, human_session
from workspace.db import Database
from workspace.errors import NotAuthenticated, ValidationFailed
from workspace.services import ensure_workspace, system_actor
from workspace.tables import AuditEvent


async def test_bulk_issue_authenticates_each_agent_and_revokes_old_tokens(db: Database) -> None:
    ws = await ensure_workspace()
    system = await system_actor(ws)
    ids = [await create_agent_member(f"bulk-{i}") for i in range(5)]
    old = await issue_agent_token(system, ids[0])
    tokens = await issue_agent_tokens_bulk(system, [*ids, ids[1]])  # a repeated id gets one token
    assert sorted(tokens) == sorted(ids) and len(set(tokens.values())) == 5
    for member_id, token in tokens.items():
        assert (await authenticate_agent_token(token)).member_id == member_id
    with pytest.raises(NotAuthenticated, match="revoked"):
        await authenticate_agent_token(old)
    events = await AuditEvent.select().where(AuditEvent.action == "agent_token.issued_bulk")
    assert len(events) == 1 and '"count":5' in events[0]["details"]
    assert not any(t in events[0]["details"] for t in tokens.values())


async def test_bulk_issue_is_all_or_nothing(db: Database) -> None:
    ws = await ensure_workspace()
    system = await system_actor(ws)
    agent = await create_agent_member("bulk-a")
    person = (await human_session("pat")).member_id
    with pytest.raises(ValidationFailed, match="not agents"):
        await issue_agent_tokens_bulk(system, [agent, person])
    assert await AgentToken.count() == 0
    assert await issue_agent_tokens_bulk(system, []) == {}


async def test_an_admin_issues_tokens_in_bulk_only_for_agents_within_its_clearance(db: Database) -> None:
    from workspace.errors import Forbidden
    from workspace.services import actor_for_member, get_member

    ws = await ensure_workspace()
    low = [await create_agent_member(f"low-{i}", "internal") for i in range(3)]
    high = await create_agent_member("high-0", "restricted")
    ivan = await human_session("ivan", ("admin",), "internal")
    admin = await actor_for_member(await get_member(ws, ivan.member_id))
    with pytest.raises(Forbidden, match=r"may not issue tokens for 1 of the 4 agents \('high-0'\)"):
        await issue_agent_tokens_bulk(admin, [*low, high])
    assert await AgentToken.count() == 0, "all or nothing"
    refused = await AuditEvent.select().where(AuditEvent.action == "authority.refused")
    assert len(refused) == 1 and '"attempted":"agent_token.issued_bulk"' in refused[0]["details"]
    assert sorted(await issue_agent_tokens_bulk(admin, low)) == sorted(low)
