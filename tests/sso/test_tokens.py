"""Agent tokens on both engines: issue, rotation, revocation, kill switch, last-use stamping, listing, audit."""

from __future__ import annotations

import pytest

from sso import clock
from sso.services_tokens import (
    TOKEN_PREFIX,
    authenticate_agent_token,
    issue_agent_token,
    list_agent_tokens,
    on_member_changed,
    revoke_agent_tokens,
)
from sso.tables import AgentToken
from tests.sso.helpers import create_agent_member, human_session
from workspace.actor import RequestContext
from workspace.db import Database
from workspace.errors import Forbidden, NotAuthenticated, ValidationFailed
from workspace.hooks import hooks
from workspace.services import actor_for_member, ensure_workspace, get_member, system_actor
from workspace.tables import AuditEvent, Member


async def test_issue_authenticate_and_audit_without_the_token(db: Database) -> None:
    ws = await ensure_workspace()
    agent_id = await create_agent_member("acct-17", "internal")
    token = await issue_agent_token(await system_actor(ws), agent_id)
    assert token.startswith(TOKEN_PREFIX) and len(token) > 40

    actor = await authenticate_agent_token(token, RequestContext(ip="10.0.0.9"))
    assert (actor.kind, actor.handle, actor.member_id, str(actor.label)) == ("agent", "acct-17", agent_id, "internal")
    assert actor.roles == frozenset() and actor.context.ip == "10.0.0.9"

    events = await AuditEvent.select().where(AuditEvent.action == "agent_token.issued")
    assert len(events) == 1 and events[0]["entity_id"] == str(agent_id)
    assert token not in events[0]["details"] and token[len(TOKEN_PREFIX):] not in events[0]["details"]
    stored = await AgentToken.select(AgentToken.token_hash)
    assert token not in str(stored)


async def test_rotation_revokes_the_previous_token(db: Database) -> None:
    ws = await ensure_workspace()
    agent_id = await create_agent_member("ops-1")
    system = await system_actor(ws)
    first = await issue_agent_token(system, agent_id)
    await authenticate_agent_token(first)  # cached now: rotation must still take effect at once
    second = await issue_agent_token(system, agent_id)
    with pytest.raises(NotAuthenticated, match="revoked"):
        await authenticate_agent_token(first)
    assert (await authenticate_agent_token(second)).member_id == agent_id
    listed = await list_agent_tokens(system, agent_id)
    assert [t["active"] for t in listed] == [True, False]
    assert all("token_hash" not in t for t in listed)
    assert listed[0]["prefix"] == second[: len(TOKEN_PREFIX) + 6]


async def test_revoke_refuses_every_token_and_is_audited(db: Database) -> None:
    ws = await ensure_workspace()
    agent_id = await create_agent_member("legal-2")
    system = await system_actor(ws)
    token = await issue_agent_token(system, agent_id)
    await authenticate_agent_token(token)
    assert await revoke_agent_tokens(system, agent_id) == 1
    with pytest.raises(NotAuthenticated, match=r"legal-2.*revoked.*ask an admin"):
        await authenticate_agent_token(token)
    assert await revoke_agent_tokens(system, agent_id) == 0
    assert await AuditEvent.count().where(AuditEvent.action == "agent_token.revoked") == 2


async def test_kill_switch_refuses_a_cached_token_at_once(db: Database) -> None:
    ws = await ensure_workspace()
    hooks.on("member.deactivated", on_member_changed)  # what sso's domain registers at start-up
    agent_id = await create_agent_member("sales-9")
    token = await issue_agent_token(await system_actor(ws), agent_id)
    await authenticate_agent_token(token)
    await Member.update({Member.active: False}).where(Member.id == agent_id)
    await hooks.emit("member.deactivated", workspace_id=ws, member_ids=[agent_id])  # personas' kill switch
    with pytest.raises(Forbidden, match=r"sales-9.*deactivated"):
        await authenticate_agent_token(token)


async def test_unknown_and_malformed_tokens_are_refused_clearly(db: Database) -> None:
    await ensure_workspace()
    with pytest.raises(NotAuthenticated, match="not a Chorus agent token"):
        await authenticate_agent_token("hunter2")
    with pytest.raises(NotAuthenticated, match="unknown agent token"):
        await authenticate_agent_token(TOKEN_PREFIX + "x" * 43)


async def test_only_admins_issue_and_only_for_agents(db: Database) -> None:
    await ensure_workspace()
    agent_id = await create_agent_member("hr-3")
    employee = await human_session("emma", ["employee"], "internal")
    admin = await human_session("ada", ["admin"], "internal")
    emma = await actor_for_member(await get_member(1, employee.member_id))
    ada = await actor_for_member(await get_member(1, admin.member_id))
    with pytest.raises(Forbidden, match="needs the role admin"):
        await issue_agent_token(emma, agent_id)
    with pytest.raises(Forbidden):
        await list_agent_tokens(emma, agent_id)
    with pytest.raises(ValidationFailed, match="not an agent"):
        await issue_agent_token(ada, employee.member_id)
    assert (await issue_agent_token(ada, agent_id)).startswith(TOKEN_PREFIX)


async def test_last_used_is_written_at_most_once_a_minute(db: Database) -> None:
    ws = await ensure_workspace()
    agent_id = await create_agent_member("fin-4")
    token = await issue_agent_token(await system_actor(ws), agent_id)
    await authenticate_agent_token(token)
    first = (await AgentToken.select(AgentToken.last_used_at))[0]["last_used_at"]
    assert first is not None
    clock.advance(30)
    await authenticate_agent_token(token)
    assert (await AgentToken.select(AgentToken.last_used_at))[0]["last_used_at"] == first
    clock.advance(31)
    await authenticate_agent_token(token)
    later = (await AgentToken.select(AgentToken.last_used_at))[0]["last_used_at"]
    assert later is not None and (later - first).total_seconds() >= 60
