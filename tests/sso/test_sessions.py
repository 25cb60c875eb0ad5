"""Sessions on both engines: idle and absolute expiry with a shifted clock, last-seen stamping, ending, hooks."""

from __future__ import annotations

from typing import Any

import pytest

from sso import clock
from sso.services_sessions import SessionPolicy, end_member_sessions, resolve_session
from sso.tables import Session
from tests.sso.helpers import human_session
from workspace.db import Database
from workspace.errors import NotAuthenticated
from workspace.hooks import hooks
from workspace.services import ensure_workspace, system_actor

POLICY = SessionPolicy(idle_s=600, absolute_s=3600)


async def test_idle_expiry(db: Database) -> None:
    await ensure_workspace()
    s = await human_session("ivy", ["employee"], "internal", policy=POLICY)
    assert (await resolve_session(s.cookie, POLICY)).actor.handle == "ivy"
    clock.advance(599)
    assert (await resolve_session(s.cookie, POLICY)).member_id == s.member_id  # activity resets the idle timer
    clock.advance(599)
    assert (await resolve_session(s.cookie, POLICY)).member_id == s.member_id
    clock.advance(601)
    with pytest.raises(NotAuthenticated, match="10 min without activity"):
        await resolve_session(s.cookie, POLICY)
    with pytest.raises(NotAuthenticated, match="expired_idle"):  # and it stays ended
        await resolve_session(s.cookie, POLICY)


async def test_absolute_expiry_even_when_active(db: Database) -> None:
    await ensure_workspace()
    s = await human_session("abe", ["employee"], "internal", policy=POLICY)
    for _ in range(7):
        clock.advance(500)
        await resolve_session(s.cookie, POLICY)
    clock.advance(101)
    with pytest.raises(NotAuthenticated, match="maximum age of 1 h"):
        await resolve_session(s.cookie, POLICY)


async def test_last_seen_is_written_at_most_once_a_minute(db: Database) -> None:
    await ensure_workspace()
    s = await human_session("lou", ["employee"], "internal", policy=POLICY)
    first = (await Session.select(Session.last_seen_at))[0]["last_seen_at"]
    clock.advance(30)
    await resolve_session(s.cookie, POLICY)
    assert (await Session.select(Session.last_seen_at))[0]["last_seen_at"] == first
    clock.advance(31)
    await resolve_session(s.cookie, POLICY)
    assert (await Session.select(Session.last_seen_at))[0]["last_seen_at"] > first


async def test_ending_a_members_sessions_emits_session_ended(db: Database) -> None:
    ws = await ensure_workspace()
    ended: list[dict[str, Any]] = []

    async def record(**kw: Any) -> None:
        ended.append(kw)

    hooks.on("session.ended", record)
    a = await human_session("kim", ["employee"], "internal")
    b = await human_session("kim", ["employee"], "internal")
    other = await human_session("lee", ["employee"], "internal")
    refs = await end_member_sessions(await system_actor(ws), a.member_id, "deactivated")
    assert refs == [a.session_ref, b.session_ref]
    assert sorted(e["session_id"] for e in ended) == sorted(str(r) for r in refs)
    with pytest.raises(NotAuthenticated, match="deactivated"):
        await resolve_session(a.cookie, SessionPolicy())
    assert (await resolve_session(other.cookie, SessionPolicy())).actor.handle == "lee"
