"""Channels and membership: create, archive, find-and-authorize (``access_channel``), join, leave, bulk add.

Reading a channel needs only label dominance (no read up); posting also needs membership (services_messages).
"""

from __future__ import annotations

import datetime as dt
import re
import weakref
from collections.abc import Sequence
from typing import Any

from channels.tables import Channel, ChannelMember
from workspace import audit
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.audit import Entity
from workspace.authority import require_authority
from workspace.errors import AboveClearance, Conflict, Forbidden, NotFound, ValidationFailed
from workspace.labels import Label, LabelScheme, Stored, dominates_sql

NAME = re.compile(r"^[a-z0-9-]{1,80}$")
BULK_CHUNK = 1000
_CHANNEL_COLS = "id, workspace, name, topic, label_level, label_mask, archived, last_seq, created_at"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def channel_dict(row: dict[str, Any], scheme: LabelScheme) -> dict[str, Any]:
    """The public shape of a channel (also what the ``post.check`` hook receives as ``channel``)."""
    return {
        "id": int(row["id"]),
        "workspace_id": int(row["workspace"]),
        "name": row["name"],
        "topic": row["topic"],
        "label": str(scheme.from_ints(int(row["label_level"]), int(row["label_mask"]))),
        "label_level": int(row["label_level"]),
        "label_mask": int(row["label_mask"]),
        "archived": bool(row["archived"]),
        "last_seq": int(row["last_seq"]),
        "created_at": row["created_at"],
    }


def who(actor: Actor) -> str:
    return f"{actor.kind} {actor.handle!r}"


def above_clearance(actor: Actor, has: Label | None = None) -> AboveClearance:
    """The refusal of a channel above the actor's clearance. It names neither the channel nor its label: both are
    labelled facts (a channel's name can tell what it is about), and a reader below learns only that it may not."""
    held = actor.label if has is None else has
    return AboveClearance(f"this channel is above the clearance of {who(actor)} ({held}); ask an admin if your "
                          "work needs it", what="channel", needs="", has=str(held))


def require_reader(actor: Actor, channel: dict[str, Any]) -> None:
    """No read up: the actor's label must dominate the channel's."""
    label = actor.scheme.from_ints(channel["label_level"], channel["label_mask"])
    if not actor.label.dominates(label):
        raise above_clearance(actor)


_ACTIVE_SQL = "SELECT active FROM chorus_member WHERE id = {}"


def switched_off(actor: Actor) -> Forbidden:
    return Forbidden(f"{who(actor)} is switched off (deactivated by a kill switch or an admin); it can no longer "
                     "read or write. An admin must reactivate it")


async def require_active(actor: Actor) -> None:
    """Reading needs an active member: an Actor obtained before a kill switch (a request in flight, a socket, a
    token cached on a replica the broker could not reach) reads nothing afterwards. Actors that are not members
    (the system) pass."""
    if actor.member_id is None:
        return
    rows = await dbmod.current().fetch(_ACTIVE_SQL, actor.member_id)
    if not rows or not rows[0]["active"]:
        raise switched_off(actor)


async def _fetch(actor: Actor, channel_id: int | str, reading: bool = False) -> dict[str, Any]:
    """The channel; ``reading`` also checks, in the same query, that the actor's member is still active."""
    cols, args = _CHANNEL_COLS, []
    if reading and actor.member_id is not None:
        cols, args = f"{_CHANNEL_COLS}, ({_ACTIVE_SQL}) AS member_active", [actor.member_id]
    if isinstance(channel_id, str):
        rows = await dbmod.current().fetch(
            f"SELECT {cols} FROM chorus_channel WHERE workspace = {{}} AND name = {{}}",
            *args, actor.workspace_id, channel_id)
        if not rows:
            raise NotFound(f"there is no channel named {channel_id!r} in this workspace; list them with "
                           "GET /api/channels")
    else:
        rows = await dbmod.current().fetch(
            f"SELECT {cols} FROM chorus_channel WHERE workspace = {{}} AND id = {{}}",
            *args, actor.workspace_id, int(channel_id))
        if not rows:
            raise NotFound(f"channel {channel_id} does not exist in this workspace")
    if args and not rows[0]["member_active"]:
        raise switched_off(actor)
    return channel_dict(rows[0], actor.scheme)


_meta: weakref.WeakKeyDictionary[dbmod.Database, dict[tuple[int, int | str], dict[str, Any]]] = (
    weakref.WeakKeyDictionary())


async def channel_meta(actor: Actor, channel_id: int | str) -> dict[str, Any]:
    """The channel without the read check, from a per-database cache (id, name and label never change; use
    ``archived`` and ``last_seq`` from here only as hints). NotFound across workspaces."""
    cache = _meta.setdefault(dbmod.current(), {})
    key = (actor.workspace_id, channel_id if isinstance(channel_id, str) else int(channel_id))
    hit = cache.get(key)
    if hit is None:
        if len(cache) > 50_000:
            cache.clear()
        hit = await _fetch(actor, channel_id)
        cache[(actor.workspace_id, hit["id"])] = cache[(actor.workspace_id, hit["name"])] = hit
    return dict(hit)


async def access_channel(actor: Actor, channel_id: int | str) -> dict[str, Any]:
    """Fetch a channel by id (int) or name (str) AND check the actor may read it (an active member, no read up);
    NotFound across workspaces."""
    channel = await _fetch(actor, channel_id, reading=True)
    require_reader(actor, channel)
    return channel


async def create_channel(actor: Actor, name: str, topic: str, label: Label) -> dict[str, Any]:
    """Create a channel (admins and system; an admin only with a label its clearance dominates, refused and audited
    otherwise). Names are ``[a-z0-9-]{1,80}``, unique per workspace."""
    actor.require_role("admin")
    if not NAME.match(name or ""):
        raise ValidationFailed(f"channel name {name!r} is not valid: use 1-80 lowercase letters, digits or '-'",
                               field="name")
    if len(topic) > 1000:
        raise ValidationFailed(f"the topic is {len(topic)} characters; at most 1000 are allowed", field="topic")
    actor.scheme.label(label.tier, label.compartments)  # the label must exist in this workspace's scheme
    await require_authority(actor, "channel.created", Entity("channel", name), label, doing=f"create channel {name!r}")
    database = dbmod.current()
    async with database.transaction():
        created = await database.fetch(  # ON CONFLICT: the same name created twice at once is one channel
            "INSERT INTO chorus_channel (workspace, name, topic, label_level, label_mask, archived, last_seq, "
            "created_at) VALUES ({}, {}, {}, {}, {}, {}, 0, {}) ON CONFLICT (workspace, name) DO NOTHING RETURNING id",
            actor.workspace_id, name, topic, label.level, label.mask, False, now())
        if not created:
            raise Conflict(f"a channel named {name!r} already exists in this workspace; pick another name")
        channel_id = int(created[0]["id"])
        await audit.record(actor, "channel.created", Entity("channel", channel_id),
                           {"name": name, "topic": topic, "label": str(label)}, label=label)
    return await _fetch(actor, channel_id)


async def set_archived(actor: Actor, channel_id: int | str, archived: bool = True) -> dict[str, Any]:
    """Archive (read-only from then on) or unarchive a channel (admins)."""
    actor.require_role("admin")
    channel = await access_channel(actor, channel_id)
    if channel["archived"] == archived:
        return channel
    async with dbmod.current().transaction():
        await Channel.update({Channel.archived: archived}).where(Channel.id == channel["id"])
        await audit.record(actor, "channel.archived" if archived else "channel.unarchived",
                           Entity("channel", channel["id"]), {"name": channel["name"]}, label=Stored.of(channel))
    return await _fetch(actor, channel["id"])


async def list_channels(actor: Actor, include_archived: bool = True) -> list[dict[str, Any]]:
    """Every channel of the workspace whose label the actor dominates (what a person may watch)."""
    await require_active(actor)
    readable, label_args = dominates_sql(actor.label, "")
    sql = f"SELECT {_CHANNEL_COLS} FROM chorus_channel WHERE workspace = {{}} AND {readable}"
    if not include_archived:
        sql += " AND archived = {}"
    args: list[Any] = [actor.workspace_id, *label_args]
    if not include_archived:
        args.append(False)
    rows = await dbmod.current().fetch(sql + " ORDER BY name", *args)
    return [channel_dict(r, actor.scheme) for r in rows]


async def member_channels(actor: Actor) -> list[dict[str, Any]]:
    """The channels the actor is a member of (empty for actors that are not members)."""
    if actor.member_id is None:
        return []
    await require_active(actor)
    cols = ", ".join(f"c.{c.strip()}" for c in _CHANNEL_COLS.split(","))
    rows = await dbmod.current().fetch(
        f"SELECT {cols} FROM chorus_channel c JOIN chorus_channel_member cm ON cm.channel = c.id "
        "WHERE cm.member = {} AND c.workspace = {} ORDER BY c.name", actor.member_id, actor.workspace_id)
    return [channel_dict(r, actor.scheme) for r in rows]


async def is_member(channel_id: int, member_id: int) -> bool:
    rows = await dbmod.current().fetch(
        "SELECT 1 AS x FROM chorus_channel_member WHERE channel = {} AND member = {}", channel_id, member_id)
    return bool(rows)


async def list_members(actor: Actor, channel_id: int | str, after_id: int = 0, limit: int = 500
                       ) -> list[dict[str, Any]]:
    """A page of a channel's members (id, handle, kind), by member id."""
    channel = await access_channel(actor, channel_id)
    limit = max(1, min(limit, 5000))
    rows = await dbmod.current().fetch(
        "SELECT m.id, m.handle, m.kind, m.display_name FROM chorus_channel_member cm JOIN chorus_member m "
        "ON m.id = cm.member WHERE cm.channel = {} AND m.id > {} ORDER BY m.id LIMIT {}",
        channel["id"], after_id, limit)
    return [{"id": int(r["id"]), "handle": r["handle"], "kind": r["kind"], "display_name": r["display_name"]}
            for r in rows]


def _refusal(channel: dict[str, Any], scheme: LabelScheme, rows: Sequence[dict[str, Any]]) -> Forbidden:
    need = scheme.from_ints(channel["label_level"], channel["label_mask"])
    named = "; ".join(f"{r['kind']} {r['handle']!r} has {scheme.from_ints(r['label_level'], r['label_mask'])}"
                      for r in rows[:10])
    more = f" (and {len(rows) - 10} more)" if len(rows) > 10 else ""
    return Forbidden(f"channel {channel['name']!r} requires label {need}; {named}{more}. Nobody was added: "
                     "remove these members from the request or raise their clearance")


async def add_members_bulk(actor: Actor, channel_id: int, member_ids: Sequence[int]) -> int:
    """Add many members at once (admins and system; up to 100,000 agents). All or nothing.

    Dominance is checked in SQL per chunk; members whose label does not dominate the channel's are refused with
    one error naming them; existing memberships are skipped. One audit event summarises the change.
    Returns how many memberships were added.
    """
    actor.require_role("admin")
    channel = await access_channel(actor, channel_id)
    wanted = list(dict.fromkeys(int(m) for m in member_ids))
    if not wanted:
        return 0
    database = dbmod.current()
    may_read, label_args = dominates_sql("m", Stored.of(channel))
    joined = now()
    added = 0
    async with database.transaction():
        refused: list[dict[str, Any]] = []
        missing: list[int] = []
        new_rows: list[tuple[int, int, Any]] = []
        for start in range(0, len(wanted), BULK_CHUNK):
            chunk = wanted[start:start + BULK_CHUNK]
            marks = ", ".join("{}" for _ in chunk)
            rows = await database.fetch(
                f"SELECT m.id, m.handle, m.kind, m.label_level, m.label_mask, CASE WHEN {may_read} THEN 1 ELSE 0 "
                "END AS ok, cm.id AS existing FROM chorus_member m LEFT JOIN chorus_channel_member cm "
                f"ON cm.member = m.id AND cm.channel = {{}} WHERE m.workspace = {{}} AND m.id IN ({marks})",
                *label_args, channel["id"], actor.workspace_id, *chunk)
            found = {int(r["id"]) for r in rows}
            missing.extend(m for m in chunk if m not in found)
            for r in rows:
                if not int(r["ok"]):
                    refused.append(r)
                elif r["existing"] is None:
                    new_rows.append((channel["id"], int(r["id"]), joined))
        if missing:
            shown = ", ".join(str(m) for m in missing[:10])
            raise NotFound(f"{len(missing)} member id(s) do not exist in this workspace ({shown}"
                           f"{', ...' if len(missing) > 10 else ''}); nobody was added")
        if refused:
            raise _refusal(channel, actor.scheme, refused)
        for start in range(0, len(new_rows), BULK_CHUNK):
            await database.execute_many(  # ON CONFLICT: another request may add some of them at the same moment
                "INSERT INTO chorus_channel_member (channel, member, joined_at) VALUES ({}, {}, {}) "
                "ON CONFLICT (channel, member) DO NOTHING", new_rows[start:start + BULK_CHUNK])
        added = len(new_rows)
        await audit.record(actor, "channel.members_added", Entity("channel", channel["id"]),
                           {"name": channel["name"], "requested": len(wanted), "added": added,
                            "already_members": len(wanted) - added}, label=Stored.of(channel))
    return added


async def join_channel(actor: Actor, channel_id: int | str) -> None:
    """Join a channel: the actor's label must dominate the channel's (the error names both)."""
    if actor.member_id is None:
        raise Forbidden(f"{who(actor)} is not a member of the workspace and cannot join channels")
    channel = await access_channel(actor, channel_id)
    if channel["archived"]:
        raise Conflict(f"channel {channel['name']!r} is archived; it cannot be joined")
    database = dbmod.current()
    async with database.transaction():
        if not await database.fetch(  # ON CONFLICT: joining twice at once is one membership, audited once
                "INSERT INTO chorus_channel_member (channel, member, joined_at) VALUES ({}, {}, {}) "
                "ON CONFLICT (channel, member) DO NOTHING RETURNING id", channel["id"], actor.member_id, now()):
            return
        await audit.record(actor, "channel.joined", Entity("channel", channel["id"]), {"name": channel["name"]},
                           label=Stored.of(channel))


async def leave_channel(actor: Actor, channel_id: int | str) -> None:
    if actor.member_id is None:
        raise Forbidden(f"{who(actor)} is not a member of the workspace")
    channel = await _fetch(actor, channel_id)
    async with dbmod.current().transaction():
        if not await is_member(channel["id"], actor.member_id):
            raise NotFound(f"{who(actor)} is not a member of channel {channel['name']!r}")
        await ChannelMember.delete().where((ChannelMember.channel == channel["id"])
                                           & (ChannelMember.member == actor.member_id))
        await audit.record(actor, "channel.left", Entity("channel", channel["id"]), {"name": channel["name"]},
                           label=Stored.of(channel))


async def remove_member(actor: Actor, channel_id: int | str, member_id: int) -> None:
    """Remove a member from a channel (admins)."""
    actor.require_role("admin")
    channel = await access_channel(actor, channel_id)
    async with dbmod.current().transaction():
        if not await is_member(channel["id"], member_id):
            raise NotFound(f"member {member_id} is not in channel {channel['name']!r}")
        await ChannelMember.delete().where((ChannelMember.channel == channel["id"])
                                           & (ChannelMember.member == member_id))
        await audit.record(actor, "channel.member_removed", Entity("channel", channel["id"]),
                           {"name": channel["name"], "member_id": member_id}, label=Stored.of(channel))


async def undominated_memberships(member_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Memberships of ``member_ids`` in channels whose label they no longer dominate (after a relabel): channel,
    name, member, by channel."""
    database = dbmod.current()
    may_read, _ = dominates_sql("m", "c")
    pairs: list[dict[str, Any]] = []
    for start in range(0, len(member_ids), 1000):
        chunk = list(member_ids[start:start + 1000])
        marks = ", ".join("{}" for _ in chunk)
        pairs.extend(await database.fetch(
            "SELECT c.id AS channel, c.name, cm.member FROM chorus_channel_member cm "
            "JOIN chorus_channel c ON c.id = cm.channel JOIN chorus_member m ON m.id = cm.member "
            f"WHERE cm.member IN ({marks}) AND NOT ({may_read}) ORDER BY c.id, cm.member", *chunk))
    return pairs
