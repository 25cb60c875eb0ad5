"""Real-time events of writes made inside a caller's transaction (the runtime's batched SQLite chunks): published
only after the outermost commit, in seq order, and never for a rolled-back transaction; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from channels import config, events
from channels import services as ch
from personas import domain
from personas.runtime.runs import simulate
from personas.scenario import builtin_scenario, load_scenario
from tests.channels.helpers import agent, generous_limits, world
from workspace import db as dbmod
from workspace.db import Database
from workspace.services import ensure_workspace, system_actor


class Recorder:
    """The channels publisher in these tests: each event, and whether a transaction was open when it went out."""

    def __init__(self) -> None:
        self.events: list[tuple[bytes, int, int]] = []
        self.inside_transaction: list[bool] = []

    def __call__(self, channel_id: int, data: bytes) -> None:
        self.events.append(events.parse_header(data)[:3])
        self.inside_transaction.append(dbmod.current().in_transaction())


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    generous_limits()
    config.set_publisher(rec)
    yield rec
    config.set_publisher(None)


class Boom(Exception):
    pass


async def test_a_rolled_back_batch_publishes_nothing(db: Database, recorder: Recorder) -> None:
    w = await world()
    await ch.create_channel(w.system, "floor", "", w.system.scheme.parse("internal"))
    poster = await agent(w, "poster")
    await ch.join_channel(poster, "floor")
    first = await ch.post_message(poster, "floor", "before the batch", "c0")
    assert recorder.events == [(events.NEW, first["channel_id"], 1)]

    async def batch_that_fails() -> None:
        async with ch.deferred_events(), dbmod.current().transaction():
            posted = await ch.post_message(poster, "floor", "inside the batch", "c1")
            await ch.react(poster, first["id"], "emoji", "thumbsup")
            assert posted["seq"] == 2 and len(recorder.events) == 1  # held until the commit
            raise Boom

    with pytest.raises(Boom):
        await batch_that_fails()
    assert len(recorder.events) == 1  # the rolled-back post and reaction were never announced
    assert [m["body"] for m in await ch.list_messages(w.system, "floor")] == ["before the batch"]


async def test_a_committed_batch_publishes_every_event_after_the_commit_in_seq_order(
        db: Database, recorder: Recorder) -> None:
    w = await world()
    await ch.create_channel(w.system, "floor", "", w.system.scheme.parse("internal"))
    a, b = await agent(w, "a"), await agent(w, "b")
    for member in (a, b):
        await ch.join_channel(member, "floor")
    async with ch.deferred_events(), dbmod.current().transaction():
        root = await ch.post_message(a, "floor", "root post", "r")
        for i in range(5):
            await ch.post_message(b if i % 2 else a, "floor", f"reply {i}", f"x{i}", thread_of=root["id"])
        await ch.react(b, root["id"], "vote", "up")
        edited = await ch.edit_message(a, root["id"], "root post, edited")
        assert recorder.events == []
    cid = root["channel_id"]
    assert recorder.events == [(events.NEW, cid, seq) for seq in range(1, 7)] + [
        (events.REACTION, cid, 1), (events.UPDATE, cid, 1)]
    assert edited["body"] == "root post, edited"
    assert not any(recorder.inside_transaction)


async def test_a_write_inside_an_unguarded_transaction_is_refused_before_anything_is_stored(
        db: Database, recorder: Recorder) -> None:
    w = await world()
    await ch.create_channel(w.system, "floor", "", w.system.scheme.parse("internal"))
    poster = await agent(w, "poster")
    await ch.join_channel(poster, "floor")

    async def unguarded() -> None:
        async with dbmod.current().transaction():
            await ch.post_message(poster, "floor", "would be announced before the commit", "c1")

    with pytest.raises(RuntimeError, match=r"wrap that transaction in channels\.services\.deferred_events"):
        await unguarded()
    assert recorder.events == []
    assert await ch.list_messages(w.system, "floor") == []


async def test_a_run_announces_its_posts_and_reactions_only_after_they_are_committed(
        db: Database, recorder: Recorder) -> None:
    domain.register_hooks()
    actor = await system_actor(await ensure_workspace("live"))
    summary = await simulate(actor, load_scenario(builtin_scenario("meridian")), 60, 3, seed=4)
    assert summary.messages > 0 and summary.reactions > 0
    kinds = [kind for kind, _, _ in recorder.events]
    assert kinds.count(events.NEW) == summary.messages
    assert kinds.count(events.REACTION) == summary.reactions
    assert not any(recorder.inside_transaction)  # SQLite batches 200 turns per transaction; none leaked early
    by_channel: dict[int, list[int]] = {}
    for kind, channel, seq in recorder.events:
        if kind == events.NEW:
            by_channel.setdefault(channel, []).append(seq)
    assert all(seqs == sorted(seqs) and len(set(seqs)) == len(seqs) for seqs in by_channel.values())
