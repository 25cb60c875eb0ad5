"""Real-time events: the server frames of protocol v1 and the small header that lets a socket route them.

An event on the broker is ``b"<kind> <channel_id> <seq>\\n" + frame_json``; the frame is encoded once at publish
time and forwarded as-is to every subscribed socket, which reads only the header (see PROTOCOL.md). Events of a
write are published only after its transaction commits (:func:`deferred_events`).
"""

from __future__ import annotations

import contextvars
import datetime as dt
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import msgspec

from channels import config
from workspace import db as dbmod

PROTOCOL_VERSION = 1
NEW = b"m"  # a new message: ordered and de-duplicated by seq
UPDATE = b"u"  # an edit or delete of a message the socket may already hold
REACTION = b"r"
CONTROL = b"x"  # process-wide control (close sockets of a member or session); not forwarded to clients

def _default(obj: Any) -> Any:
    if isinstance(obj, dt.datetime):
        return obj.isoformat()
    raise TypeError(f"cannot encode {type(obj).__name__}")


_encoder = msgspec.json.Encoder(enc_hook=_default)


def encode_frame(frame: Mapping[str, Any]) -> bytes:
    return _encoder.encode(frame)


def message_frame(message: Mapping[str, Any], update: bool = False) -> dict[str, Any]:
    frame: dict[str, Any] = {"v": PROTOCOL_VERSION, "type": "message", "channel": message["channel_id"],
                             "seq": message["seq"], "message": message}
    if update:
        frame["update"] = True
    return frame


def event(kind: bytes, channel_id: int, seq: int, frame: Mapping[str, Any]) -> bytes:
    return b"%s %d %d\n" % (kind, channel_id, seq) + encode_frame(frame)


def parse_header(data: bytes) -> tuple[bytes, int, int, bytes]:
    """Split an event into (kind, channel_id, seq, frame_json)."""
    head, _, frame = data.partition(b"\n")
    kind, channel_id, seq = head.split(b" ", 2)
    return kind, int(channel_id), int(seq), frame


_pending: contextvars.ContextVar[list[tuple[int, bytes]] | None] = contextvars.ContextVar(
    "chorus_deferred_events", default=None)


@asynccontextmanager
async def deferred_events() -> AsyncIterator[None]:
    """Hold the events published inside this scope and publish them, in order, when it exits normally; drop them
    when it raises. Enter it OUTSIDE the write transaction it guards, so that it exits after the commit (a
    subscriber must never see a message that is then rolled back)::

        async with deferred_events():
            async with db.current().transaction():
                ...  # post_message / react / edit_message / delete_message, many times

    Nested scopes join the outermost one. Every channels write opens one around its own transaction; entering one
    inside a transaction that no outer scope guards raises, because it could only publish before that commit.
    """
    if _pending.get() is not None:
        yield
        return
    if dbmod.current().in_transaction():
        raise RuntimeError("a channels write ran inside a transaction it did not open, so its real-time events "
                           "would be published before the commit; wrap that transaction in "
                           "channels.services.deferred_events()")
    held: list[tuple[int, bytes]] = []
    token = _pending.set(held)
    try:
        yield
    finally:
        _pending.reset(token)
    for channel_id, data in held:  # reached only when the scope (and so its transaction) ended without error
        config.publish(channel_id, data)


def _publish(channel_id: int, data: bytes) -> None:
    held = _pending.get()
    if held is not None:
        held.append((channel_id, data))
    else:
        config.publish(channel_id, data)


def publish_message(message: Mapping[str, Any], update: bool = False) -> None:
    _publish(int(message["channel_id"]),
                   event(UPDATE if update else NEW, int(message["channel_id"]), int(message["seq"]),
                         message_frame(message, update)))


def publish_reaction(channel_id: int, seq: int, frame: Mapping[str, Any]) -> None:
    _publish(channel_id, event(REACTION, channel_id, seq, frame))
