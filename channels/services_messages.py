"""Messages: the single post path (``post_message``), reading by seq, threads, edits and deletes by the author.

Every write is one transaction with its audit entry; the real-time event is published after the commit. The
broker only notifies: a client that missed an event reads the database by ``seq``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from typing import Any

from channels import config, events
from channels.services_channels import (
    above_clearance,
    access_channel,
    channel_meta,
    now,
    require_reader,
    switched_off,
    who,
)
from workspace import audit, metrics
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.audit import Entity
from workspace.db_sql import in_batches
from workspace.errors import ChorusError, Conflict, Forbidden, NotFound, RateLimited, TooLarge, ValidationFailed
from workspace.hooks import hooks
from workspace.labels import Stored

_MENTION = re.compile(r"(?<![\w.@-])@([A-Za-z0-9][A-Za-z0-9._-]{0,119})")
_CLIENT_ID = re.compile(r"^[\x21-\x7e]{1,80}$")
MAX_PAGE = 1000
_BLOCK_REASONS: dict[type[ChorusError], str] = {RateLimited: "rate_limited", TooLarge: "too_large",
                                                Forbidden: "forbidden", ValidationFailed: "invalid"}
MSG_COLS = ("id, channel, seq, author, author_handle, author_kind, client_msg_id, body, thread_of, reply_count, "
            "last_reply_seq, mentions, label_level, label_mask, created_at, edited_at, deleted")


def parse_mentions(body: str) -> list[str]:
    """Handles written as ``@handle`` (trailing punctuation dropped), in order, without repeats."""
    found = (m.group(1).rstrip("._-") for m in _MENTION.finditer(body))
    return list(dict.fromkeys(h for h in found if h))


def message_dict(row: dict[str, Any], scheme: Any = None) -> dict[str, Any]:
    """The public shape of a message (REST, WebSocket frames, the runtime and the miner all use it)."""
    out = {
        "id": int(row["id"]),
        "channel_id": int(row["channel"]),
        "seq": int(row["seq"]),
        "author_id": int(row["author"]),
        "author": row["author_handle"],
        "author_kind": row["author_kind"],
        "client_msg_id": row["client_msg_id"],
        "body": row["body"],
        "thread_of": int(row["thread_of"]) if row["thread_of"] is not None else None,
        "reply_count": int(row["reply_count"]),
        "last_reply_seq": int(row["last_reply_seq"]) if row["last_reply_seq"] is not None else None,
        "mentions": json.loads(row["mentions"] or "[]"),
        "created_at": row["created_at"],
        "edited_at": row["edited_at"],
        "deleted": bool(row["deleted"]),
    }
    if scheme is not None:
        out["label"] = str(scheme.from_ints(int(row["label_level"]), int(row["label_mask"])))
    return out


def _check_client_msg_id(client_msg_id: str) -> None:
    if not isinstance(client_msg_id, str) or not _CLIENT_ID.match(client_msg_id):
        raise ValidationFailed("client_msg_id must be 1-80 printable ASCII characters without spaces (a UUID is "
                               "ideal); it makes retries safe", field="client_msg_id")


_POST_CHECK = ("SELECT c.archived, cm.id AS membership, m.active AS member_active, m.label_level AS m_level, "
               "m.label_mask AS m_mask FROM chorus_channel c JOIN chorus_member m ON m.id = {} "
               "LEFT JOIN chorus_channel_member cm ON cm.channel = c.id AND cm.member = m.id WHERE c.id = {}")


# The insert's check in one statement: the poster's state, an earlier post with this client id, the thread's root
_INSERT_CHECK = _POST_CHECK.replace(
    " FROM chorus_channel c", ", (SELECT id FROM chorus_message WHERE channel = c.id AND author = m.id AND "
    "client_msg_id = {}) AS existing, (SELECT COALESCE(thread_of, id) FROM chorus_message WHERE id = {} AND "
    "channel = c.id) AS root FROM chorus_channel c")


def _check_poster(actor: Actor) -> None:
    if actor.member_id is None:
        raise Forbidden(f"{who(actor)} is not a workspace member and cannot post; post as a member")
    if actor.kind == "human" and not config.current.limits.humans_may_post:
        raise Forbidden(f"people observe channels read-only here; {who(actor)} cannot post (an admin can allow "
                        "it with CHORUS_HUMANS_MAY_POST=true)")


def _authorize(actor: Actor, channel: dict[str, Any], row: dict[str, Any] | None) -> None:
    """Posting rules on the database's current state: kill switch, the member's current label, membership,
    an open channel."""
    if row is None:
        raise NotFound(f"channel {channel['id']} does not exist in this workspace")
    if not row["member_active"]:
        raise switched_off(actor)
    current = actor.scheme.from_ints(int(row["m_level"]), int(row["m_mask"]))
    need = actor.scheme.from_ints(channel["label_level"], channel["label_mask"])
    if not current.dominates(need):
        raise above_clearance(actor, current)
    if row["membership"] is None:
        raise Forbidden(f"{who(actor)} is not a member of channel {channel['name']!r}; join it first")
    if row["archived"]:
        raise Conflict(f"channel {channel['name']!r} is archived and read-only")


async def _channel_for_post(actor: Actor, channel_id: int | str) -> dict[str, Any]:
    """The channel, checked for posting (used by edits, deletes and reactions; posts check inside their
    transaction)."""
    _check_poster(actor)
    channel = await channel_meta(actor, channel_id)
    rows = await dbmod.current().fetch(_POST_CHECK, actor.member_id, channel["id"])
    _authorize(actor, channel, rows[0] if rows else None)
    channel["archived"] = bool(rows[0]["archived"])
    return channel


def _early_label_check(actor: Actor, channel: dict[str, Any]) -> None:
    need = actor.scheme.from_ints(channel["label_level"], channel["label_mask"])
    if not actor.label.dominates(need):
        raise above_clearance(actor)


def _check_body(body: str) -> int:
    if not isinstance(body, str) or not body.strip():
        raise ValidationFailed("the message body is empty; write something", field="body")
    size = len(body.encode("utf-8"))
    limit = config.current.limits.max_message_bytes
    if size > limit:
        raise TooLarge(f"the message is {size} bytes; the limit is {limit} bytes (UTF-8). Split it or shorten it",
                       size=size, limit=limit)
    return size


async def _by_client_id(channel_id: int, author_id: int, client_msg_id: str) -> dict[str, Any] | None:
    rows = await dbmod.current().fetch(
        f"SELECT {MSG_COLS} FROM chorus_message WHERE channel = {{}} AND author = {{}} AND client_msg_id = {{}}",
        channel_id, author_id, client_msg_id)
    return message_dict(rows[0]) if rows else None


def _is_unique_violation(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return "unique" in text


async def post_message(actor: Actor, channel_id: int | str, body: str, client_msg_id: str,
                       thread_of: int | None = None) -> dict[str, Any]:
    """Post as ``actor`` (agents and people alike). Idempotent on (channel, author, client_msg_id): a retry
    returns the original message. Returns the message dict, including its ``seq``."""
    message, _ = await submit_message(actor, channel_id, body, client_msg_id, thread_of)
    return message


async def submit_message(actor: Actor, channel_id: int | str, body: str, client_msg_id: str,
                         thread_of: int | None = None) -> tuple[dict[str, Any], bool]:
    """:func:`post_message`, also saying whether the message was stored now (False: a retry's original).

    Timed as ``chorus.post.duration``; a refusal raised here is counted in ``chorus.posts.blocked`` by its reason
    (a ``post.check`` handler such as the leak guard counts its own refusals)."""
    started = time.perf_counter()
    outcome = "error"
    try:
        async with events.deferred_events():  # the event goes out after the commit, the caller's when it holds one
            result = await _submit(actor, channel_id, body, client_msg_id, thread_of)
        outcome = "ok"
        return result
    except ChorusError as exc:
        reason = _BLOCK_REASONS.get(type(exc))  # exact classes: a subclass (LeakBlocked) is its raiser's to count
        if reason is not None:
            metrics.post_blocked(reason=reason)
        raise
    finally:
        metrics.post_duration((time.perf_counter() - started) * 1000, member_kind=actor.kind, outcome=outcome)


async def _submit(actor: Actor, channel_id: int | str, body: str, client_msg_id: str,
                  thread_of: int | None) -> tuple[dict[str, Any], bool]:
    _check_client_msg_id(client_msg_id)
    _check_poster(actor)
    channel = await channel_meta(actor, channel_id)  # no query on the hot path: the write transaction checks
    _early_label_check(actor, channel)
    size = _check_body(body)
    assert actor.member_id is not None
    bucket = config.current.bucket
    try:
        await config.take(bucket, actor.member_id, who(actor))
    except RateLimited:  # a retry of a stored post still gets its original, even when over the limit
        original = await _by_client_id(channel["id"], actor.member_id, client_msg_id)
        if original is None:
            raise
        return original, False
    await hooks.emit("post.check", actor=actor, channel=channel, body=body)
    try:
        message, created = await _insert(actor, channel, body, size, client_msg_id, thread_of)
    except Exception as exc:  # two concurrent retries with one client_msg_id: the second loses the unique race
        if not _is_unique_violation(exc):
            raise
        original = await _by_client_id(channel["id"], actor.member_id, client_msg_id)
        if original is None:
            raise
        message, created = original, False
    if created:
        events.publish_message(message)
    else:
        await config.refund(bucket, actor.member_id)
    return message, created


async def _insert(actor: Actor, channel: dict[str, Any], body: str, size: int, client_msg_id: str,
                  thread_of: int | None) -> tuple[dict[str, Any], bool]:
    database = dbmod.current()
    assert actor.member_id is not None
    cid = channel["id"]
    async with database.transaction(short=True):  # point reads and writes: see Database.transaction
        rows = await database.fetch(_INSERT_CHECK, client_msg_id, int(thread_of) if thread_of is not None else 0,
                                    actor.member_id, cid)
        if rows and rows[0]["existing"] is not None:
            original = await _by_client_id(cid, actor.member_id, client_msg_id)
            assert original is not None
            return original, False
        _authorize(actor, channel, rows[0] if rows else None)
        root: int | None = None
        if thread_of is not None:
            if rows[0]["root"] is None:
                raise NotFound(f"message {thread_of} is not in channel {channel['name']!r}; reply to a message "
                               "of this channel")
            root = int(rows[0]["root"])
        handles = parse_mentions(body)
        mentioned: list[dict[str, Any]] = []
        if handles:
            marks = ", ".join("{}" for _ in handles)
            # by the (workspace, handle) index, then a membership probe per hit: not a scan of the channel's
            # members (2.4 ms a post at 50,000 agents)
            mentioned = await database.fetch(
                f"SELECT m.id, m.handle FROM chorus_member m WHERE m.workspace = {{}} AND m.handle IN ({marks}) "
                "AND EXISTS (SELECT 1 FROM chorus_channel_member cm WHERE cm.channel = {} AND cm.member = m.id)",
                actor.workspace_id, *handles, cid)
            order = {h: i for i, h in enumerate(handles)}
            mentioned.sort(key=lambda r: order.get(r["handle"], 0))
        seq_rows = await database.fetch(
            "UPDATE chorus_channel SET last_seq = last_seq + 1 WHERE id = {} RETURNING last_seq", cid)
        seq = int(seq_rows[0]["last_seq"])
        created_at = now()
        mention_handles = [r["handle"] for r in mentioned]
        inserted = await database.fetch(
            "INSERT INTO chorus_message (channel, seq, author, author_handle, author_kind, client_msg_id, body, "
            "thread_of, reply_count, last_reply_seq, mentions, label_level, label_mask, created_at, edited_at, "
            "deleted) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}) RETURNING id",
            cid, seq, actor.member_id, actor.handle, actor.kind, client_msg_id, body, root, 0, None,
            json.dumps(mention_handles), channel["label_level"], channel["label_mask"], created_at, None, False)
        message_id = int(inserted[0]["id"])
        if mentioned:
            await database.execute_many(
                "INSERT INTO chorus_mention (message, channel, member, seq) VALUES ({}, {}, {}, {})",
                [(message_id, cid, int(r["id"]), seq) for r in mentioned])
        if root is not None:
            await database.fetch(
                "UPDATE chorus_message SET reply_count = reply_count + 1, last_reply_seq = {} WHERE id = {}",
                seq, root)
        await audit.record(actor, "message.posted", Entity("message", message_id),
                           {"channel": cid, "seq": seq, "bytes": size, "thread_of": root,
                            "client_msg_id": client_msg_id, "mentions": len(mentioned)}, label=Stored.of(channel))
    message = {
        "id": message_id, "channel_id": cid, "seq": seq, "author_id": actor.member_id, "author": actor.handle,
        "author_kind": actor.kind, "client_msg_id": client_msg_id, "body": body, "thread_of": root,
        "reply_count": 0, "last_reply_seq": None, "mentions": mention_handles, "created_at": created_at,
        "edited_at": None, "deleted": False,
    }
    return message, True


async def list_messages(actor: Actor, channel_id: int | str, after_seq: int = 0, limit: int = 100,
                        thread_of: int | None = None, before_seq: int | None = None,
                        with_reactions: bool = True, roots_only: bool = False) -> list[dict[str, Any]]:
    """Messages in ``seq`` order after ``after_seq`` (the resume cursor); with ``before_seq``, the latest ones
    before it (still returned in ascending order). ``thread_of`` lists one thread: the root and its replies;
    ``roots_only`` leaves replies out (the channel as a list of threads, each root carrying its reply count)."""
    channel = await access_channel(actor, channel_id)
    return await read_messages(channel, after_seq=after_seq, limit=limit, thread_of=thread_of,
                               before_seq=before_seq, with_reactions=with_reactions, roots_only=roots_only)


async def read_messages(channel: dict[str, Any], after_seq: int = 0, limit: int = 100,
                        thread_of: int | None = None, before_seq: int | None = None,
                        with_reactions: bool = True, roots_only: bool = False) -> list[dict[str, Any]]:
    """Like :func:`list_messages` for a channel the caller has already authorized (the WebSocket catch-up)."""
    limit = max(1, min(int(limit), MAX_PAGE))
    sql = f"SELECT {MSG_COLS} FROM chorus_message WHERE channel = {{}} AND seq > {{}}"
    args: list[Any] = [channel["id"], max(0, int(after_seq))]
    if thread_of is not None:
        sql += " AND (thread_of = {} OR id = {})"
        args += [int(thread_of), int(thread_of)]
    elif roots_only:  # (channel, thread_of, seq) index: replies are skipped, not read and filtered
        sql += " AND thread_of IS NULL"
    if before_seq is not None:
        sql += " AND seq < {} ORDER BY seq DESC LIMIT {}"
        args += [int(before_seq), limit]
    else:
        sql += " ORDER BY seq LIMIT {}"
        args.append(limit)
    rows = await dbmod.current().fetch(sql, *args)
    if before_seq is not None:
        rows.reverse()
    out = [message_dict(r) for r in rows]
    if with_reactions and out:
        await _attach_reactions(out)
    return out


async def _attach_reactions(messages: list[dict[str, Any]]) -> None:
    ids = [m["id"] for m in messages]
    marks = ", ".join("{}" for _ in ids)
    rows = await dbmod.current().fetch(
        f"SELECT message, kind, value, COUNT(*) AS n FROM chorus_reaction WHERE message IN ({marks}) "
        "GROUP BY message, kind, value", *ids)
    summary: dict[int, dict[str, Any]] = {}
    for r in rows:
        entry = summary.setdefault(int(r["message"]), {"up": 0, "down": 0, "emoji": {}})
        if r["kind"] == "vote":
            entry[r["value"]] = int(r["n"])
        else:
            entry["emoji"][r["value"]] = int(r["n"])
    for m in messages:
        m["reactions"] = summary.get(m["id"], {"up": 0, "down": 0, "emoji": {}})


async def get_message(actor: Actor, message_id: int) -> dict[str, Any]:
    """One message, if the actor may read its channel."""
    rows = await dbmod.current().fetch(
        f"SELECT m.{MSG_COLS.replace(', ', ', m.')}, c.workspace AS ws FROM chorus_message m "
        "JOIN chorus_channel c ON c.id = m.channel WHERE m.id = {}", int(message_id))
    if not rows or int(rows[0]["ws"]) != actor.workspace_id:
        raise NotFound(f"message {message_id} does not exist in this workspace")
    channel = await access_channel(actor, int(rows[0]["channel"]))
    require_reader(actor, channel)
    message = message_dict(rows[0])
    await _attach_reactions([message])
    return message


async def _own_message(actor: Actor, message_id: int, verb: str) -> tuple[dict[str, Any], dict[str, Any]]:
    message = await get_message(actor, message_id)
    if actor.member_id is None or message["author_id"] != actor.member_id:
        raise Forbidden(f"only the author ({message['author']!r}) may {verb} message {message_id}; "
                        f"{who(actor)} is not")
    if message["deleted"]:
        raise Conflict(f"message {message_id} was deleted; it cannot be changed")
    channel = await _channel_for_post(actor, message["channel_id"])
    return message, channel


async def take_write(actor: Actor) -> None:
    """Edits, deletes and reactions share one per-member budget (``CHORUS_WRITE_RATE_PER_S``/``_BURST``),
    counted across replicas when the broker is Redis. Raises RateLimited."""
    assert actor.member_id is not None
    await config.take(config.current.writes, actor.member_id, who(actor))


async def edit_message(actor: Actor, message_id: int, body: str) -> dict[str, Any]:
    """Replace the body of the actor's own message (same checks as a post, leak guard included)."""
    async with events.deferred_events():
        return await _edit(actor, message_id, body)


async def _edit(actor: Actor, message_id: int, body: str) -> dict[str, Any]:
    message, channel = await _own_message(actor, message_id, "edit")
    size = _check_body(body)
    await take_write(actor)
    await hooks.emit("post.check", actor=actor, channel=channel, body=body)
    async with dbmod.current().transaction(short=True):  # mentions stay as first posted: they drove who was notified
        edited_at = now()
        await dbmod.current().fetch(
            "UPDATE chorus_message SET body = {}, edited_at = {} WHERE id = {}", body, edited_at, message["id"])
        await audit.record(actor, "message.edited", Entity("message", message["id"]),
                           {"channel": channel["id"], "seq": message["seq"], "bytes": size}, label=Stored.of(channel))
    message.update(body=body, edited_at=edited_at)
    events.publish_message(message, update=True)
    return message


async def delete_message(actor: Actor, message_id: int) -> dict[str, Any]:
    """Delete the actor's own message: the row stays as a tombstone (its seq is kept, the body is cleared)."""
    async with events.deferred_events():
        return await _delete(actor, message_id)


async def _delete(actor: Actor, message_id: int) -> dict[str, Any]:
    message, channel = await _own_message(actor, message_id, "delete")
    await take_write(actor)
    async with dbmod.current().transaction(short=True):
        await dbmod.current().fetch(
            "UPDATE chorus_message SET body = {}, deleted = {}, mentions = {}, edited_at = {} WHERE id = {}",
            "", True, "[]", now(), message["id"])
        await dbmod.current().fetch("DELETE FROM chorus_mention WHERE message = {}", message["id"])
        await audit.record(actor, "message.deleted", Entity("message", message["id"]),
                           {"channel": channel["id"], "seq": message["seq"]}, label=Stored.of(channel))
    message.update(body="", deleted=True, mentions=[])
    events.publish_message(message, update=True)
    return message


async def message_refs(message_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Where each message is (channel id, name and label, seq, thread root) for citing it; deleted messages are
    left out. No label check: callers cite only messages whose claims their reader may see."""
    out: dict[int, dict[str, Any]] = {}
    ids = sorted(set(message_ids))
    for part, marks in in_batches(ids):
        for r in await dbmod.current().fetch(
                "SELECT m.id, m.channel, c.name AS channel_name, c.label_level, c.label_mask, m.seq, m.thread_of "
                "FROM chorus_message m "
                f"JOIN chorus_channel c ON c.id = m.channel WHERE m.id IN ({marks}) AND m.deleted = {{}}",
                *part, False):
            out[int(r["id"])] = r
    return out


async def highest_reply_levels(root_ids: Sequence[int]) -> dict[int, int]:
    """For each thread root, the highest clearance tier among the authors who replied in its thread (roots with no
    reply are absent): whether anyone above the raisers answered."""
    out: dict[int, int] = {}
    ids = sorted(set(root_ids))
    for part, marks in in_batches(ids):
        for r in await dbmod.current().fetch(
                "SELECT m.thread_of AS root, MAX(a.label_level) AS level FROM chorus_message m JOIN chorus_member a "
                f"ON a.id = m.author WHERE m.thread_of IN ({marks}) AND m.deleted = {{}} GROUP BY m.thread_of",
                *part, False):
            out[int(r["root"])] = int(r["level"])
    return out


async def message_id_back(workspace_id: int, back: int) -> int:
    """The id of the workspace's message ``back`` messages before its latest (0 when it has no more than that): where
    a reader of the latest ``back`` messages starts (:func:`messages_after`)."""
    rows = await dbmod.current().fetch(
        "SELECT m.id FROM chorus_message m JOIN chorus_channel c ON c.id = m.channel WHERE c.workspace = {} "
        "ORDER BY m.id DESC LIMIT 1 OFFSET {}", workspace_id, back)
    return int(rows[0]["id"]) if rows else 0


async def messages_after(workspace_id: int, after_id: int, limit: int) -> list[dict[str, Any]]:
    """A page of the workspace's messages with an id above ``after_id``, by id, with their channel's name and the
    message's label (background readers read every channel; they show a message's text only where that label is
    dominated). The ``CROSS JOIN`` walks messages by id (SQLite would walk each channel's messages and sort them:
    a page then cost what was left after it, not what it returns)."""
    return await dbmod.current().fetch(
        "SELECT m.id, m.channel, c.name AS channel_name, m.seq, m.author, m.author_handle, m.body, m.thread_of, "
        "m.label_level, m.label_mask, m.deleted FROM chorus_message m CROSS JOIN chorus_channel c "
        "WHERE c.id = m.channel AND c.workspace = {} AND m.id > {} ORDER BY m.id LIMIT {}",
        workspace_id, after_id, limit)


async def messages_by_ids(message_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Messages by id with their channel's name and workspace (deleted ones included, flagged). No label check:
    callers show a body only to readers whose label dominates the message's."""
    out: dict[int, dict[str, Any]] = {}
    ids = sorted(set(message_ids))
    for part, marks in in_batches(ids):
        for r in await dbmod.current().fetch(
                "SELECT m.id, m.channel, c.name AS channel_name, c.workspace, m.seq, m.author, m.author_handle, "
                "m.body, m.thread_of, m.created_at, m.label_level, m.label_mask, m.deleted FROM chorus_message m "
                f"JOIN chorus_channel c ON c.id = m.channel WHERE m.id IN ({marks})", *part):
            out[int(r["id"])] = r
    return out


async def workspace_channels(workspace_id: int, include_archived: bool = False) -> list[dict[str, Any]]:
    """Every channel of a workspace (id, name, topic, label, last seq), by id: for background jobs that act for
    the system (the agent runtime), not for a reader."""
    sql = "SELECT id, name, topic, label_level, label_mask, last_seq, archived FROM chorus_channel WHERE workspace = {}"
    args: list[Any] = [workspace_id]
    if not include_archived:
        sql += " AND archived = {}"
        args.append(False)
    return await dbmod.current().fetch(sql + " ORDER BY id", *args)


async def memberships_after(workspace_id: int, after_id: int, limit: int) -> list[dict[str, Any]]:
    """A page of the memberships of the workspace's open channels, by id: id, channel, member."""
    return await dbmod.current().fetch(
        "SELECT cm.id, cm.channel, cm.member FROM chorus_channel_member cm JOIN chorus_channel c ON c.id = cm.channel "
        "WHERE c.workspace = {} AND c.archived = {} AND cm.id > {} ORDER BY cm.id LIMIT {}",
        workspace_id, False, after_id, limit)


async def mentions_between(first_id: int, last_id: int) -> dict[int, list[int]]:
    """Who each message with an id in ``[first_id, last_id]`` @-mentions: message id -> member ids."""
    out: dict[int, list[int]] = {}
    for r in await dbmod.current().fetch("SELECT message, member FROM chorus_mention WHERE message >= {} AND "
                                         "message <= {} ORDER BY id", first_id, last_id):
        out.setdefault(int(r["message"]), []).append(int(r["member"]))
    return out


async def latest_messages(channel_id: int, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` messages of a channel that are not deleted, oldest first."""
    rows = await dbmod.current().fetch(
        "SELECT id, seq, channel, author, author_handle, body, thread_of FROM chorus_message WHERE channel = {} "
        "AND deleted = {} ORDER BY seq DESC LIMIT {}", channel_id, False, limit)
    return list(reversed(rows))


async def top_message_id(workspace_id: int) -> int:
    """The highest message id in a workspace (0 when it has none)."""
    rows = await dbmod.current().fetch("SELECT COALESCE(MAX(m.id), 0) AS top FROM chorus_message m JOIN chorus_channel "
                                       "c ON c.id = m.channel WHERE c.workspace = {}", workspace_id)
    return int(rows[0]["top"])
