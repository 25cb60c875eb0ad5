"""Real-time events: the server frames of protocol v1 and the small header that lets a socket route them.

An event on the broker is ``b"<kind> <channel_id> <seq>\\n" + frame_json``; the frame is encoded once at publish
time and forwarded as-is to every subscribed socket, which reads only the header (see PROTOCOL.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import msgspec

from channels import config

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


def publish_message(message: Mapping[str, Any], update: bool = False) -> None:
    config.publish(int(message["channel_id"]),
                   event(UPDATE if update else NEW, int(message["channel_id"]), int(message["seq"]),
                         message_frame(message, update)))


def publish_reaction(channel_id: int, seq: int, frame: Mapping[str, Any]) -> None:
    config.publish(channel_id, event(REACTION, channel_id, seq, frame))
