"""Many posts into one channel at once (the agent runtime's shards): each post passes every check
``post_message`` applies (client id, poster, size, rate limit, ``post.check`` hooks such as the leak guard, the
poster's current state, membership, an open channel, the thread it answers), and the ones that pass are stored
with a few statements for the whole batch: one range of ``seq`` reserved by one ``UPDATE``, one multi-row insert,
the mentions, the threads' counters and the audit entries. Idempotent on (channel, author, client_msg_id) like
``post_message``: a retried post returns its original. Messages of one batch keep its order in ``seq``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from channels import config, events
from channels.services_channels import channel_meta, now, who
from channels.services_messages import (
    _BLOCK_REASONS,
    MSG_COLS,
    _authorize,
    _check_body,
    _check_client_msg_id,
    _check_poster,
    _early_label_check,
    message_dict,
    parse_mentions,
)
from workspace import audit, metrics
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.audit import Entity
from workspace.db_sql import in_batches
from workspace.errors import ChorusError, NotFound
from workspace.hooks import hooks
from workspace.labels import Stored

_COLS = ("channel, seq, author, author_handle, author_kind, client_msg_id, body, thread_of, reply_count, "
         "last_reply_seq, mentions, label_level, label_mask, created_at, edited_at, deleted")


@dataclass
class Post:
    """One post of a batch, and what became of it: ``message`` (stored now, ``created``, or a retry's original)
    or ``error`` (the refusal, as ``post_message`` would have raised it)."""

    actor: Actor
    body: str
    client_msg_id: str
    thread_of: int | None = None
    message: dict[str, Any] | None = None
    created: bool = False
    error: ChorusError | None = None
    _size: int = field(default=0, repr=False)
    _root: int | None = field(default=None, repr=False)


def _marks(n: int) -> str:
    return ", ".join("{}" for _ in range(n))


async def post_batch(channel_id: int, posts: Sequence[Post]) -> Sequence[Post]:
    """Post every one of ``posts`` into channel ``channel_id``, in order; each ends with a ``message`` or an
    ``error``. Runs inside the caller's transaction when there is one (then inside its ``deferred_events``
    scope: the events go out after that commit), else in one of its own. Returns ``posts``."""
    started = time.perf_counter()
    if not posts:
        return posts
    async with events.deferred_events():
        await _batch(channel_id, posts)
    spent = (time.perf_counter() - started) * 1000 / len(posts)
    for p in posts:
        metrics.post_duration(spent, member_kind=p.actor.kind, outcome="error" if p.error is not None else "ok")
    return posts


def _refuse(p: Post, exc: ChorusError) -> None:
    p.error = exc
    reason = _BLOCK_REASONS.get(type(exc))
    if reason is not None:
        metrics.post_blocked(reason=reason)


async def _batch(channel_id: int, posts: Sequence[Post]) -> None:
    channel = await channel_meta(posts[0].actor, channel_id)
    database = dbmod.current()
    bucket = config.current.bucket
    # the checks that need no database (post_message's order), and the hooks (the leak guard) per post
    live: list[Post] = []
    for p in posts:
        try:
            _check_client_msg_id(p.client_msg_id)
            _check_poster(p.actor)
            _early_label_check(p.actor, channel)
            p._size = _check_body(p.body)
            live.append(p)
        except ChorusError as exc:
            _refuse(p, exc)
    async with database.transaction():
        ids = sorted({p.client_msg_id for p in live})
        originals: dict[tuple[int, str], dict[str, Any]] = {}
        for part, marks in in_batches(ids):
            for r in await database.fetch(f"SELECT {MSG_COLS} FROM chorus_message WHERE channel = {{}} AND "
                                          f"client_msg_id IN ({marks})", channel["id"], *part):
                originals[(int(r["author"]), str(r["client_msg_id"]))] = message_dict(r)
        fresh: list[Post] = []
        for p in live:
            assert p.actor.member_id is not None
            original = originals.get((p.actor.member_id, p.client_msg_id))
            if original is not None:  # a retry: its original, with no rate-limit token taken
                p.message, p.created = original, False
                continue
            try:
                bucket.take(p.actor.member_id, who(p.actor))
                await hooks.emit("post.check", actor=p.actor, channel=channel, body=p.body)
            except ChorusError as exc:
                _refuse(p, exc)
                continue
            fresh.append(p)
        if not fresh:
            return
        state = await _posters(channel, fresh)
        roots = await _roots(channel["id"], fresh)
        ok: list[Post] = []
        for p in fresh:
            try:
                _authorize(p.actor, channel, state.get(p.actor.member_id or 0))
                if p.thread_of is not None:
                    p._root = roots.get(int(p.thread_of))
                    if p._root is None:
                        raise NotFound(f"message {p.thread_of} is not in channel {channel['name']!r}; reply to a "
                                       "message of this channel")
            except ChorusError as exc:
                _refuse(p, exc)
                continue
            ok.append(p)
        if ok:
            await _store(channel, ok)


async def _posters(channel: dict[str, Any], posts: Sequence[Post]) -> dict[int, dict[str, Any]]:
    """Each poster's current state in the channel, as ``_authorize`` reads it (one query for the batch)."""
    database = dbmod.current()
    members = sorted({p.actor.member_id for p in posts if p.actor.member_id is not None})
    out: dict[int, dict[str, Any]] = {}
    for part, marks in in_batches(members):
        rows = await database.fetch(
            "SELECT m.id, c.archived, cm.id AS membership, m.active AS member_active, m.label_level AS m_level, "
            "m.label_mask AS m_mask FROM chorus_member m JOIN chorus_channel c ON c.id = {} "
            "LEFT JOIN chorus_channel_member cm ON cm.channel = c.id AND cm.member = m.id "
            f"WHERE m.id IN ({marks})", channel["id"], *part)
        out.update({int(r["id"]): r for r in rows})
    return out


async def _roots(channel_id: int, posts: Sequence[Post]) -> dict[int, int]:
    """The thread root of every message the batch replies to (in this channel only)."""
    asked = sorted({int(p.thread_of) for p in posts if p.thread_of is not None})
    out: dict[int, int] = {}
    for part, marks in in_batches(asked):
        for r in await dbmod.current().fetch(
                f"SELECT id, COALESCE(thread_of, id) AS root FROM chorus_message WHERE channel = {{}} AND id IN "
                f"({marks})", channel_id, *part):
            out[int(r["id"])] = int(r["root"])
    return out


async def _store(channel: dict[str, Any], posts: Sequence[Post]) -> None:
    """Insert the batch: its ``seq`` range in one statement, the messages in multi-row inserts, then mentions,
    the threads' counters and the audit entries."""
    database = dbmod.current()
    cid = channel["id"]
    workspace = posts[0].actor.workspace_id
    handles = sorted({h for p in posts for h in parse_mentions(p.body)})
    members: dict[str, int] = {}
    for part, marks in in_batches(handles):
        for r in await database.fetch(
                f"SELECT m.id, m.handle FROM chorus_member m WHERE m.workspace = {{}} AND m.handle IN "
                f"({marks}) AND EXISTS (SELECT 1 FROM chorus_channel_member cm WHERE cm.channel = {{}} "
                "AND cm.member = m.id)", workspace, *part, cid):
            members[str(r["handle"])] = int(r["id"])
    top = int((await database.fetch(
        "UPDATE chorus_channel SET last_seq = last_seq + {} WHERE id = {} RETURNING last_seq", len(posts), cid))[0][
        "last_seq"])
    first = top - len(posts) + 1
    created_at = now()
    rows: list[tuple[Any, ...]] = []
    names_of: list[list[str]] = []
    for i, p in enumerate(posts):
        names = [h for h in parse_mentions(p.body) if h in members]
        names_of.append(names)
        assert p.actor.member_id is not None
        rows.append((cid, first + i, p.actor.member_id, p.actor.handle, p.actor.kind, p.client_msg_id, p.body,
                     p._root, 0, None, json.dumps(names), channel["label_level"], channel["label_mask"], created_at,
                     None, False))
    ids: dict[int, int] = {}
    per = 100  # 16 parameters a row: well under both engines' limits on bound parameters
    for start in range(0, len(rows), per):
        batch = rows[start:start + per]
        values = ", ".join(f"({_marks(16)})" for _ in batch)
        for r in await database.fetch(f"INSERT INTO chorus_message ({_COLS}) VALUES {values} RETURNING id, seq",
                                      *[v for row in batch for v in row]):
            ids[int(r["seq"])] = int(r["id"])
    mention_rows: list[tuple[int, int, int, int]] = []
    threads: dict[int, tuple[int, int]] = {}  # root -> (replies added, highest seq)
    entries: list[audit.Entry] = []
    label = Stored.of(channel)
    for i, p in enumerate(posts):
        seq = first + i
        message_id = ids[seq]
        mention_rows += [(message_id, cid, members[h], seq) for h in names_of[i]]
        if p._root is not None:
            n, _ = threads.get(p._root, (0, 0))
            threads[p._root] = (n + 1, seq)
        entries.append((p.actor, "message.posted", Entity("message", message_id),
                        {"channel": cid, "seq": seq, "bytes": p._size, "thread_of": p._root,
                         "client_msg_id": p.client_msg_id, "mentions": len(names_of[i])}, label))
        p.message = {
            "id": message_id, "channel_id": cid, "seq": seq, "author_id": p.actor.member_id, "author": p.actor.handle,
            "author_kind": p.actor.kind, "client_msg_id": p.client_msg_id, "body": p.body, "thread_of": p._root,
            "reply_count": 0, "last_reply_seq": None, "mentions": names_of[i], "created_at": created_at,
            "edited_at": None, "deleted": False}
        p.created = True
    if mention_rows:
        await database.execute_many(
            "INSERT INTO chorus_mention (message, channel, member, seq) VALUES ({}, {}, {}, {})", mention_rows)
    if threads:
        await database.execute_many(
            "UPDATE chorus_message SET reply_count = reply_count + {}, last_reply_seq = {} WHERE id = {}",
            [(n, seq, root) for root, (n, seq) in sorted(threads.items())])
    await audit.record_many(entries)
    for p in posts:
        assert p.message is not None
        events.publish_message(p.message)
