"""Members: handles are unique per workspace, enforced by the service and by the database."""

from __future__ import annotations

import datetime as dt

import pytest

from workspace.db import Database
from workspace.errors import Conflict
from workspace.services import create_human, ensure_workspace, get_member_by_handle, system_actor
from workspace.tables import AuditEvent, Member


async def test_a_duplicate_handle_is_refused_with_a_clear_error(db: Database) -> None:
    ws = await ensure_workspace("acme")
    admin = await system_actor(ws)
    await create_human(admin, "ann", "Ann", admin.scheme.parse("internal"), frozenset({"employee"}))
    with pytest.raises(Conflict, match="a member with handle 'ann' already exists"):
        await create_human(admin, "ann", "Ann again", admin.scheme.parse("internal"), frozenset({"employee"}))
    row = await get_member_by_handle(ws, "ann")
    assert row["display_name"] == "Ann", "the stored member is untouched"
    assert await AuditEvent.count().where(AuditEvent.action == "member.created") == 1


async def test_the_database_refuses_a_duplicate_handle_too(db: Database) -> None:
    ws = await ensure_workspace("acme")
    other = await ensure_workspace("globex")
    now = dt.datetime.now(dt.UTC)
    await Member.insert(Member(workspace=ws, kind="agent", handle="bot-1", created_at=now))
    await Member.insert(Member(workspace=other, kind="agent", handle="bot-1", created_at=now))  # other tenant: fine
    with pytest.raises(Exception, match=r"(?i)unique"):
        await Member.insert(Member(workspace=ws, kind="agent", handle="bot-1", created_at=now))
