"""Contract tests of the channels service API on SQLite and PostgreSQL: channels, membership, labels, posting,
idempotency, limits, threads, mentions, edits and deletes, pagination by seq, and what gets audited/published."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from channels import config, events
from channels import services as ch
from tests.channels.helpers import agent, agents, generous_limits, human, world
from workspace import db as dbmod
from workspace.db import Database
from workspace.errors import Conflict, Forbidden, NotFound, RateLimited, TooLarge, ValidationFailed
from workspace.hooks import hooks
from workspace.tables import AuditEvent


class Recorder:
    """The event sink tests assert on (installed as the channels publisher)."""

    def __init__(self) -> None:
        self.events: list[tuple[int, bytes]] = []

    def __call__(self, channel_id: int, data: bytes) -> None:
        self.events.append((channel_id, data))

    def kinds(self) -> list[tuple[bytes, int, int]]:
        return [events.parse_header(d)[:3] for _, d in self.events]


@pytest.fixture(autouse=True)
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    generous_limits()
    config.set_publisher(rec)
    yield rec
    config.set_publisher(None)


async def actions(action: str) -> list[dict[str, Any]]:
    return await AuditEvent.select().where(AuditEvent.action == action).order_by(AuditEvent.id)


async def test_create_channel_validates_audits_and_is_unique(db: Database) -> None:
    w = await world()
    made = await ch.create_channel(w.system, "ops-floor", "daily ops", w.system.scheme.parse("internal/ops"))
    assert made["name"] == "ops-floor" and made["label"] == "internal/ops" and made["last_seq"] == 0
    assert [a["entity_id"] for a in await actions("channel.created")] == [str(made["id"])]
    with pytest.raises(Conflict, match="already exists"):
        await ch.create_channel(w.system, "ops-floor", "", w.system.scheme.parse("internal"))
    with pytest.raises(ValidationFailed, match="not valid"):
        await ch.create_channel(w.system, "Ops Floor", "", w.system.scheme.parse("internal"))
    employee = await human(w, "eve", "restricted/ops+sales+finance")
    with pytest.raises(Forbidden, match="needs the role admin"):
        await ch.create_channel(employee, "mine", "", w.system.scheme.parse("internal"))


async def test_join_needs_dominance_and_the_error_names_neither_the_channel_nor_its_label(db: Database) -> None:
    w = await world()
    await ch.create_channel(w.system, "ops-floor", "", w.system.scheme.parse("internal/ops"))
    sales = await agent(w, "acct-17", "internal/sales")
    with pytest.raises(Forbidden) as err:
        await ch.join_channel(sales, "ops-floor")
    assert err.value.message.startswith("this channel is above the clearance of agent 'acct-17' (internal/sales)")
    assert "ops-floor" not in err.value.message and "internal/ops" not in err.value.message
    ops = await agent(w, "ops-1", "confidential/ops+finance")
    await ch.join_channel(ops, "ops-floor")
    await ch.join_channel(ops, "ops-floor")  # joining twice is a no-op
    assert [c["name"] for c in await ch.member_channels(ops)] == ["ops-floor"]
    assert len(await actions("channel.joined")) == 1
    await ch.leave_channel(ops, "ops-floor")
    assert await ch.member_channels(ops) == []
    assert len(await actions("channel.left")) == 1


async def test_access_channel_no_read_up_and_no_cross_workspace(db: Database) -> None:
    w = await world()
    other = await world("other")
    secret = await ch.create_channel(w.system, "board", "", w.system.scheme.parse("restricted/finance"))
    internal = await agent(w, "a-1", "internal")
    with pytest.raises(Forbidden, match=r"above the clearance of agent 'a-1' \(internal\)"):
        await ch.access_channel(internal, secret["id"])
    with pytest.raises(NotFound):
        await ch.access_channel(other.system, secret["id"])
    with pytest.raises(NotFound):
        await ch.access_channel(other.system, "board")
    assert (await ch.access_channel(w.system, "board"))["id"] == secret["id"]
    with pytest.raises(Forbidden):
        await ch.list_messages(internal, secret["id"])
    assert [c["name"] for c in await ch.list_channels(internal)] == []
    assert [c["name"] for c in await ch.list_channels(w.system)] == ["board"]


async def test_add_members_bulk_checks_labels_in_sql_skips_existing_and_audits_once(db: Database) -> None:
    w = await world()
    channel = await ch.create_channel(w.system, "sales-floor", "", w.system.scheme.parse("internal/sales"))
    good = await agents(w, "acct", 2500, "internal/sales")
    bad = await agents(w, "ops", 3, "confidential/ops")
    with pytest.raises(Forbidden) as err:
        await ch.add_members_bulk(w.system, channel["id"], good + bad)
    assert "requires label internal/sales; agent 'ops-1' has confidential/ops" in err.value.message
    assert "'ops-3'" in err.value.message and "Nobody was added" in err.value.message
    assert await ch.list_members(w.system, channel["id"]) == []
    assert await ch.add_members_bulk(w.system, channel["id"], good[:100]) == 100
    assert await ch.add_members_bulk(w.system, channel["id"], good) == 2400
    members = await ch.list_members(w.system, channel["id"], limit=5000)
    assert [m["id"] for m in members] == sorted(good)
    audited = await actions("channel.members_added")
    assert len(audited) == 2 and '"added":2400' in audited[1]["details"]
    with pytest.raises(NotFound, match="do not exist"):
        await ch.add_members_bulk(w.system, channel["id"], [999_999])
    agent_actor = await agent(w, "lone", "internal/sales")
    with pytest.raises(Forbidden, match="needs the role admin"):
        await ch.add_members_bulk(agent_actor, channel["id"], good[:1])


async def _channel_with(w: Any, name: str = "ops", label: str = "internal", n: int = 2) -> tuple[dict[str, Any],
                                                                                                list[Any]]:
    channel = await ch.create_channel(w.system, name, "", w.system.scheme.parse(label))
    members = [await agent(w, f"{name}-{i}", label) for i in range(1, n + 1)]
    await ch.add_members_bulk(w.system, channel["id"], [int(m.member_id or 0) for m in members])
    return channel, members


async def test_post_assigns_seq_is_idempotent_audits_and_publishes(db: Database, recorder: Recorder) -> None:
    w = await world()
    channel, (a, b) = await _channel_with(w)
    first = await ch.post_message(a, channel["id"], "hello", "c-1")
    second = await ch.post_message(b, "ops", "hi back", "c-1")  # same client id, other author: a new message
    retry = await ch.post_message(a, channel["id"], "hello (resent)", "c-1")
    assert (first["seq"], second["seq"]) == (1, 2)
    assert retry["id"] == first["id"] and retry["body"] == "hello"
    assert (await ch.access_channel(a, "ops"))["last_seq"] == 2
    posted = await actions("message.posted")
    assert [p["entity_id"] for p in posted] == [str(first["id"]), str(second["id"])]
    assert "hello" not in posted[0]["details"], "the audit trail records ids and sizes, never the body"
    assert recorder.kinds() == [(events.NEW, channel["id"], 1), (events.NEW, channel["id"], 2)]
    listed = await ch.list_messages(b, channel["id"])
    assert [(m["seq"], m["author"], m["body"]) for m in listed] == [(1, "ops-1", "hello"), (2, "ops-2", "hi back")]


async def test_concurrent_posts_get_distinct_contiguous_seqs(db: Database) -> None:
    w = await world()
    channel, members = await _channel_with(w, n=4)
    posts = [ch.post_message(members[i % 4], channel["id"], f"m{i}", f"id-{i}") for i in range(24)]
    results = await asyncio.gather(*posts)
    assert sorted(r["seq"] for r in results) == list(range(1, 25))
    listed = await ch.list_messages(w.system, channel["id"], limit=100)
    assert [m["seq"] for m in listed] == list(range(1, 25))
    assert {m["body"] for m in listed} == {f"m{i}" for i in range(24)}


async def test_concurrent_retries_of_one_post_store_it_once(db: Database) -> None:
    w = await world()
    channel, (a, _) = await _channel_with(w)
    results = await asyncio.gather(*[ch.post_message(a, channel["id"], "once", "same-id") for _ in range(6)])
    assert len({r["id"] for r in results}) == 1
    assert [m["body"] for m in await ch.list_messages(a, channel["id"])] == ["once"]


async def test_post_requires_membership_label_activity_and_an_open_channel(db: Database) -> None:
    w = await world()
    channel, (a, _) = await _channel_with(w, label="internal/ops")
    outsider = await agent(w, "outsider", "internal/ops")
    with pytest.raises(Forbidden, match="not a member of channel 'ops'; join it first"):
        await ch.post_message(outsider, channel["id"], "hi", "x")
    lowered = w.system.scheme.parse("internal/sales")
    await dbmod.current().fetch("UPDATE chorus_member SET label_level = {}, label_mask = {} WHERE id = {}",
                                lowered.level, lowered.mask, a.member_id)
    with pytest.raises(Forbidden, match=r"above the clearance of agent 'ops-1' \(internal/sales\)"):
        await ch.post_message(a, channel["id"], "hi", "y")  # the current label counts, not the actor's copy
    _, (b, c) = await _channel_with(w, name="ops2", label="internal/ops")
    await dbmod.current().fetch("UPDATE chorus_member SET active = {} WHERE id = {}", False, b.member_id)
    with pytest.raises(Forbidden, match="kill switch"):
        await ch.post_message(b, "ops2", "hi", "z")
    with pytest.raises(Forbidden, match="switched off"):  # and it reads nothing either
        await ch.list_messages(b, "ops2")
    await ch.set_archived(w.system, "ops2")
    with pytest.raises(Conflict, match="archived"):
        await ch.post_message(c, "ops2", "hi", "z")
    with pytest.raises(Forbidden, match="not a workspace member"):
        await ch.post_message(w.system, "ops2", "hi", "z")


async def test_people_observe_read_only_unless_allowed(db: Database) -> None:
    w = await world()
    channel, _ = await _channel_with(w)
    person = await human(w, "ann", "internal")
    await ch.join_channel(person, channel["id"])
    with pytest.raises(Forbidden, match="CHORUS_HUMANS_MAY_POST"):
        await ch.post_message(person, channel["id"], "hi", "h-1")
    generous_limits(humans_may_post=True)
    assert (await ch.post_message(person, channel["id"], "hi", "h-1"))["author_kind"] == "human"


async def test_size_limit_and_rate_limit(db: Database) -> None:
    w = await world()
    channel, (a, _) = await _channel_with(w)
    clock = [100.0]
    limits = generous_limits(max_message_bytes=16, post_rate_per_s=2.0, post_burst=2)
    config.configure(limits, clock=lambda: clock[0])
    with pytest.raises(TooLarge, match="is 17 bytes; the limit is 16 bytes"):
        await ch.post_message(a, channel["id"], "é" * 8 + "x", "big")
    with pytest.raises(ValidationFailed, match="empty"):
        await ch.post_message(a, channel["id"], "   ", "blank")
    await ch.post_message(a, channel["id"], "one", "r1")
    await ch.post_message(a, channel["id"], "two", "r2")
    with pytest.raises(RateLimited) as err:
        await ch.post_message(a, channel["id"], "three", "r3")
    assert err.value.retry_after == pytest.approx(0.5)
    assert (await ch.post_message(a, channel["id"], "one", "r1"))["seq"] == 1, "retries get the original"
    clock[0] += 0.5
    assert (await ch.post_message(a, channel["id"], "three", "r3"))["seq"] == 3


async def test_leak_guard_hook_blocks_before_anything_is_written(db: Database, recorder: Recorder) -> None:
    w = await world()
    channel, (a, _) = await _channel_with(w)
    seen: list[dict[str, Any]] = []

    async def guard(actor: Any, channel: dict[str, Any], body: str) -> None:
        seen.append(channel)
        if "SECRET" in body:
            raise Forbidden(f"blocked: the post quotes a document channel {channel['name']!r} may not carry")

    hooks.on("post.check", guard)
    with pytest.raises(Forbidden, match="blocked"):
        await ch.post_message(a, channel["id"], "the SECRET plan", "leak")
    assert seen[0]["label_level"] == channel["label_level"] and seen[0]["name"] == "ops"
    assert await ch.list_messages(a, channel["id"]) == [] and recorder.events == []
    assert (await ch.post_message(a, channel["id"], "fine", "ok"))["seq"] == 1, "a blocked post uses no seq"


async def test_threads_and_mentions(db: Database) -> None:
    w = await world()
    channel, (a, b) = await _channel_with(w)
    await agent(w, "not-here")
    root = await ch.post_message(a, channel["id"], "question for @ops-2 and @not-here, also @ops-2.", "q")
    assert root["mentions"] == ["ops-2"]
    r1 = await ch.post_message(b, channel["id"], "answer", "a1", thread_of=root["id"])
    r2 = await ch.post_message(a, channel["id"], "follow-up", "a2", thread_of=r1["id"])  # attaches to the root
    assert r1["thread_of"] == root["id"] and r2["thread_of"] == root["id"]
    thread = await ch.list_messages(a, channel["id"], thread_of=root["id"])
    assert [m["seq"] for m in thread] == [1, 2, 3]
    assert thread[0]["reply_count"] == 2 and thread[0]["last_reply_seq"] == 3
    rows = await dbmod.current().fetch("SELECT member, seq FROM chorus_mention")
    assert [(r["member"], r["seq"]) for r in rows] == [(b.member_id, 1)]
    with pytest.raises(NotFound, match="reply to a message of this channel"):
        await ch.post_message(a, channel["id"], "x", "a3", thread_of=99_999)


async def test_pagination_by_seq(db: Database) -> None:
    w = await world()
    channel, (a, _) = await _channel_with(w)
    for i in range(1, 8):
        await ch.post_message(a, channel["id"], f"m{i}", f"p{i}")
    page1 = await ch.list_messages(a, channel["id"], after_seq=0, limit=3)
    page2 = await ch.list_messages(a, channel["id"], after_seq=page1[-1]["seq"], limit=3)
    page3 = await ch.list_messages(a, channel["id"], after_seq=page2[-1]["seq"], limit=3)
    assert [m["seq"] for m in page1 + page2 + page3] == list(range(1, 8))
    latest = await ch.list_messages(a, channel["id"], before_seq=8, limit=2)
    assert [m["seq"] for m in latest] == [6, 7]


async def test_edit_and_delete_by_the_author_keep_the_seq(db: Database, recorder: Recorder) -> None:
    w = await world()
    channel, (a, b) = await _channel_with(w)
    msg = await ch.post_message(a, channel["id"], "draft", "e1")
    with pytest.raises(Forbidden, match="only the author"):
        await ch.edit_message(b, msg["id"], "hijack")
    edited = await ch.edit_message(a, msg["id"], "final")
    assert edited["body"] == "final" and edited["edited_at"] is not None
    await ch.delete_message(a, msg["id"])
    after = await ch.post_message(a, channel["id"], "next", "e2")
    assert after["seq"] == 2
    listed = await ch.list_messages(a, channel["id"])
    assert [(m["seq"], m["deleted"], m["body"]) for m in listed] == [(1, True, ""), (2, False, "next")]
    with pytest.raises(Conflict, match="deleted"):
        await ch.edit_message(a, msg["id"], "again")
    assert [k[0] for k in recorder.kinds()] == [events.NEW, events.UPDATE, events.UPDATE, events.NEW]
    assert len(await actions("message.edited")) == 1 and len(await actions("message.deleted")) == 1
