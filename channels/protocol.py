"""WebSocket protocol v1: client frames (msgspec structs), frame decoding with typed errors, close codes.

The prose specification is ``channels/PROTOCOL.md``; the server side of the conversation is ``channels/ws.py``.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from workspace.db_values import INT64_MAX
from workspace.errors import ChorusError

VERSION = 1
MAX_FRAME_BYTES = 64 * 1024
MAX_SUBSCRIPTIONS = 1000
"""Channels one connection may follow at once. Each costs a broker subscription, a task and a bounded backlog on
the server, so one client subscribing to everything would otherwise cost the replica memory without bound; a
client that needs more opens another connection."""

CLOSE_RESTART = 1012  # server restart or shutdown: reconnect with backoff and resume by after_seq
CLOSE_REVOKED = 4001  # session ended, token revoked or member deactivated: do not reconnect with it
CLOSE_ACCESS_CHANGED = 4003  # the member's label changed: reconnect and resubscribe (access is re-checked)
CLOSE_TOO_MANY_SOCKETS = 4008  # the credential already holds CHORUS_MAX_SOCKETS_PER_TOKEN sockets: close one first
CLOSE_NOT_AUTHENTICATED = 4401  # the handshake's credentials were refused: get (new) credentials


Id = Annotated[int, msgspec.Meta(ge=1, le=INT64_MAX)]
"""A channel or message id: what the server handed out, never zero or past 64 bits."""
Seq = Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX)]


class Subscribe(msgspec.Struct, tag="subscribe", tag_field="type", forbid_unknown_fields=True):
    channel: Id | str
    after_seq: Seq | None = None
    ref: str | None = None
    v: int = VERSION


class Unsubscribe(msgspec.Struct, tag="unsubscribe", tag_field="type", forbid_unknown_fields=True):
    channel: Id | str
    ref: str | None = None
    v: int = VERSION


class Post(msgspec.Struct, tag="post", tag_field="type", forbid_unknown_fields=True):
    channel: Id | str
    body: str
    client_msg_id: str
    thread_of: Id | None = None
    ref: str | None = None
    v: int = VERSION


class React(msgspec.Struct, tag="react", tag_field="type", forbid_unknown_fields=True):
    message_id: Id
    kind: str
    value: str
    remove: bool = False
    ref: str | None = None
    v: int = VERSION


class Ping(msgspec.Struct, tag="ping", tag_field="type", forbid_unknown_fields=True):
    ref: str | None = None
    v: int = VERSION


ClientFrame = Subscribe | Unsubscribe | Post | React | Ping
FRAME_TYPES = ("subscribe", "unsubscribe", "post", "react", "ping")


class FrameError(ChorusError):
    """A client frame that cannot be understood; the socket stays open."""

    def __init__(self, code: str, message: str, ref: str | None) -> None:
        super().__init__(message)
        self.code = code
        self.ref = ref


def _ref_of(raw: dict[str, Any]) -> str | None:
    ref = raw.get("ref")
    if ref is None and raw.get("type") == "post":
        ref = raw.get("client_msg_id")
    return str(ref) if ref is not None else None


def decode(text: str | bytes) -> ClientFrame:
    """Parse one client frame or raise FrameError (malformed_frame, unknown_frame, unsupported_version,
    invalid_frame, too_large) carrying the frame's ``ref`` when it could be read."""
    if len(text) > MAX_FRAME_BYTES:
        raise FrameError("too_large", f"frames are limited to {MAX_FRAME_BYTES} bytes; this one has {len(text)}",
                         None)
    try:
        raw = msgspec.json.decode(text)
    except msgspec.DecodeError as exc:
        raise FrameError("malformed_frame", f"the frame is not valid JSON ({exc}); send one JSON object per "
                         "text frame", None) from None
    except RecursionError:
        raise FrameError("malformed_frame", "the frame's JSON is nested too deeply; frames are flat objects "
                         "(see PROTOCOL.md)", None) from None
    if not isinstance(raw, dict):
        raise FrameError("malformed_frame", "a frame is a JSON object with a 'type'", None)
    ref = _ref_of(raw)
    kind = raw.get("type")
    if kind not in FRAME_TYPES:
        raise FrameError("unknown_frame", f"unknown frame type {kind!r}; client frames are "
                         f"{', '.join(FRAME_TYPES)} (see PROTOCOL.md)", ref)
    if raw.get("v", VERSION) != VERSION:
        raise FrameError("unsupported_version", f"this server speaks protocol version {VERSION}; the frame says "
                         f"{raw.get('v')!r}", ref)
    for name, value in raw.items():
        if isinstance(value, str) and "\x00" in value:
            raise FrameError("invalid_frame", f"invalid {kind} frame: {name!r} contains a NUL character (U+0000, "
                             "\\u0000 in JSON), which Chorus does not store; remove it and send the frame again", ref)
    try:
        frame: ClientFrame = msgspec.convert(raw, ClientFrame)
    except msgspec.ValidationError as exc:
        raise FrameError("invalid_frame", f"invalid {kind} frame: {exc}; ids and seq numbers are those the server "
                         f"sent (1 to {INT64_MAX}), see PROTOCOL.md", ref) from None
    return frame


class TooManySubscriptions(ChorusError):
    """A subscribe beyond MAX_SUBSCRIPTIONS; the socket and its other subscriptions carry on."""

    code = "too_many_subscriptions"
    status = 429
    title = "Too many subscriptions"


def error_frame(code: str, message: str, ref: str | None, **extra: Any) -> dict[str, Any]:
    frame: dict[str, Any] = {"v": VERSION, "type": "error", "code": code, "message": message, "ref": ref}
    frame.update(extra)
    return frame
