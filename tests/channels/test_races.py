"""Writes that can race are idempotent on SQLite and PostgreSQL: the same reaction, the same join, the same bulk add,
the same channel name, workspace or person, at the same moment from two requests (or replicas), give one row and
a clear answer, never a unique-key error. On PostgreSQL the check-then-insert versions failed here."""

from __future__ import annotations

import asyncio

import pytest

from channels import config
from channels import services as ch
from tests.channels.helpers import agent, agents, generous_limits, world
from workspace import services
from workspace.db import Database
from workspace.errors import Conflict

TIMES = 4


@pytest.fixture(autouse=True)
def _limits() -> None:
    generous_limits()
    config.set_publisher(None)


async def test_the_same_reaction_at_once_is_stored_once(db: Database) -> None:
    w = await world()
    channel = await ch.create_channel(w.system, "floor", "", w.system.scheme.parse("internal"))
    author, voter = await agent(w, "author"), await agent(w, "voter")
    await ch.add_members_bulk(w.system, channel["id"], [author.member_id or 0, voter.member_id or 0])
    msg = await ch.post_message(author, channel["id"], "the KX-12 valve failed inspection", "m1")
    results = await asyncio.gather(*(ch.react(voter, msg["id"], "vote", "up") for _ in range(TIMES)))
    assert sum(r["changed"] for r in results) == 1 and results[-1]["reactions"]["up"] == 1
    rows = await db.fetch("SELECT value FROM chorus_reaction WHERE message = {}", msg["id"])
    assert [r["value"] for r in rows] == ["up"]
    changed = await asyncio.gather(*(ch.react(voter, msg["id"], "vote", "down") for _ in range(2)))
    assert sum(r["changed"] for r in changed) == 1
    assert [r["value"] for r in await db.fetch("SELECT value FROM chorus_reaction WHERE message = {}", msg["id"])] == [
        "down"]
    added = await db.fetch("SELECT COUNT(*) AS n FROM chorus_audit_event WHERE action = 'reaction.added'")
    assert int(added[0]["n"]) == 2  # one per change, none for the no-ops


async def test_joining_and_adding_the_same_members_at_once(db: Database) -> None:
    w = await world()
    channel = await ch.create_channel(w.system, "floor", "", w.system.scheme.parse("internal"))
    joiner = await agent(w, "joiner")
    await asyncio.gather(*(ch.join_channel(joiner, channel["id"]) for _ in range(TIMES)))
    ids = await agents(w, "tech", 30)
    await asyncio.gather(*(ch.add_members_bulk(w.system, channel["id"], ids) for _ in range(TIMES)))
    rows = await db.fetch("SELECT member, COUNT(*) AS n FROM chorus_channel_member WHERE channel = {} GROUP BY member",
                          channel["id"])
    assert len(rows) == 31 and {int(r["n"]) for r in rows} == {1}
    joined = await db.fetch("SELECT COUNT(*) AS n FROM chorus_audit_event WHERE action = 'channel.joined'")
    assert int(joined[0]["n"]) == 1


async def test_the_same_channel_name_at_once_is_one_channel_and_clear_conflicts(db: Database) -> None:
    w = await world()
    label = w.system.scheme.parse("internal")
    results = await asyncio.gather(*(ch.create_channel(w.system, "floor", "", label) for _ in range(TIMES)),
                                   return_exceptions=True)
    assert len([r for r in results if isinstance(r, dict)]) == 1
    assert all(isinstance(r, Conflict) and "already exists" in r.message for r in results if not isinstance(r, dict))


async def test_the_same_workspace_and_person_at_once(db: Database) -> None:
    ids = await asyncio.gather(*(services.ensure_workspace("acme") for _ in range(TIMES)))
    assert len(set(ids)) == 1
    system = await services.system_actor(ids[0])
    label = system.scheme.parse("internal")
    results = await asyncio.gather(*(services.create_human(system, "ana", "Ana", label, frozenset({"employee"}))
                                     for _ in range(TIMES)), return_exceptions=True)
    assert len([r for r in results if isinstance(r, int)]) == 1
    assert all(isinstance(r, Conflict) and "already exists" in r.message for r in results if not isinstance(r, int))
