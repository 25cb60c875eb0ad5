"""Reactions: one vote (up or down) and one of each emoji per member per message; audited and published."""

from __future__ import annotations

import re
from typing import Any

from channels import events
from channels.services_channels import channel_meta, now, require_reader
from channels.services_messages import _channel_for_post, take_write
from workspace import audit
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.audit import Entity
from workspace.errors import Conflict, NotFound, ValidationFailed
from workspace.labels import Stored

_EMOJI = re.compile(r"^[a-z0-9_+-]{1,64}$")
VOTES = ("up", "down")


def _slot(kind: str, value: str) -> str:
    if kind == "vote":
        if value not in VOTES:
            raise ValidationFailed(f"a vote is 'up' or 'down'; got {value!r}", field="value")
        return "vote"
    if kind == "emoji":
        if not _EMOJI.match(value or ""):
            raise ValidationFailed(f"emoji names are 1-64 of a-z, 0-9, '_', '+', '-' (e.g. 'thumbsup'); got {value!r}",
                                   field="value")
        return f"emoji:{value}"
    raise ValidationFailed(f"a reaction kind is 'vote' or 'emoji'; got {kind!r}", field="kind")


async def counts(message_id: int) -> dict[str, Any]:
    rows = await dbmod.current().fetch(
        "SELECT kind, value, COUNT(*) AS n FROM chorus_reaction WHERE message = {} GROUP BY kind, value", message_id)
    out: dict[str, Any] = {"up": 0, "down": 0, "emoji": {}}
    for r in rows:
        if r["kind"] == "vote":
            out[r["value"]] = int(r["n"])
        else:
            out["emoji"][r["value"]] = int(r["n"])
    return out


async def _message(actor: Actor, message_id: int) -> dict[str, Any]:
    """What :func:`get_message` checks (the message exists in the actor's workspace, the actor may read its
    channel), in one query instead of three: the channel's label from the channel cache (a label never changes)
    and no reaction counts (the reaction's own transaction reads them)."""
    rows = await dbmod.current().fetch(
        "SELECT m.id, m.channel, m.seq, m.deleted, c.workspace AS ws FROM chorus_message m "
        "JOIN chorus_channel c ON c.id = m.channel WHERE m.id = {}", int(message_id))
    if not rows or int(rows[0]["ws"]) != actor.workspace_id:
        raise NotFound(f"message {message_id} does not exist in this workspace")
    require_reader(actor, await channel_meta(actor, int(rows[0]["channel"])))
    return {"id": int(rows[0]["id"]), "channel_id": int(rows[0]["channel"]), "seq": int(rows[0]["seq"]),
            "deleted": bool(rows[0]["deleted"])}


async def react(actor: Actor, message_id: int, kind: str, value: str, remove: bool = False) -> dict[str, Any]:
    """Add (or with ``remove``, take back) a reaction. A new vote replaces the member's earlier vote; the same
    reaction twice is a no-op. Needs what posting needs (membership, label, an open channel).
    Returns ``{message_id, seq, kind, value, removed, changed, reactions}``."""
    async with events.deferred_events():  # the event goes out after the commit, the caller's when it holds one
        return await _react(actor, message_id, kind, value, remove)


async def _react(actor: Actor, message_id: int, kind: str, value: str, remove: bool) -> dict[str, Any]:
    slot = _slot(kind, value)
    message = await _message(actor, message_id)
    channel = await _channel_for_post(actor, message["channel_id"])
    if message["deleted"]:
        raise Conflict(f"message {message_id} was deleted; it takes no reactions")
    assert actor.member_id is not None
    await take_write(actor)
    database = dbmod.current()
    async with database.transaction(short=True):
        if remove:
            changed = bool(await database.fetch(
                "DELETE FROM chorus_reaction WHERE message = {} AND member = {} AND slot = {} AND value = {} "
                "RETURNING id", message["id"], actor.member_id, slot, value))
        else:
            # One statement, so that the same reaction twice at once (two tabs, a client's retry, two replicas)
            # is stored once and reported as a change once: a new vote replaces the earlier one, the same is a no-op.
            changed = bool(await database.fetch(
                "INSERT INTO chorus_reaction (message, member, kind, value, slot, created_at) "
                "VALUES ({}, {}, {}, {}, {}, {}) ON CONFLICT (message, member, slot) DO UPDATE SET "
                "value = excluded.value, created_at = excluded.created_at "
                "WHERE chorus_reaction.value <> excluded.value RETURNING id",
                message["id"], actor.member_id, kind, value, slot, now()))
        if changed:
            await audit.record(actor, "reaction.removed" if remove else "reaction.added",
                               Entity("message", message["id"]),
                               {"channel": channel["id"], "seq": message["seq"], "kind": kind, "value": value},
                               label=Stored.of(channel))
        summary = await counts(message["id"])
    result = {"message_id": message["id"], "seq": message["seq"], "kind": kind, "value": value, "removed": remove,
              "changed": changed, "reactions": summary}
    if changed:
        events.publish_reaction(channel["id"], message["seq"], {
            "v": events.PROTOCOL_VERSION, "type": "reaction", "channel": channel["id"], "message_id": message["id"],
            "seq": message["seq"], "member": actor.handle, "kind": kind, "value": value, "removed": remove,
            "reactions": summary})
    return result
