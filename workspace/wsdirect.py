"""Direct fan-out writes for WebSockets served by uvicorn: one encoded frame, written to many sockets.

The ASGI ``websocket.send`` path costs tens of microseconds per message and socket (an awaited call through the
middleware stack and uvicorn's protocol, and the websockets library framing the same bytes again for every
socket). A broadcast of one message to a thousand sockets pays that a thousand times. This module lets the app
skip it on the hot path: :class:`DirectWebSocketProtocol` is uvicorn's sans-I/O ``websockets`` protocol (the one
uvicorn picks by default) plus one ASGI scope extension, ``chorus.direct_send``. Through it each accepted
connection offers a :class:`DirectSend`, which queues an already framed message for the socket's transport without
an await (flushed once per pass of the event loop) and refuses it when the socket holds more unsent bytes than the
app allows (the app decides what a slow reader may cost, not the transport).

Frames are written whole, in one ``transport.write``, exactly as uvicorn writes the ASGI sends, so direct writes and
ASGI sends on one socket interleave at frame boundaries (the server never fragments its messages, so the protocol
state has nothing to track between them). It is only offered when no extension (compression) was negotiated,
since a direct frame goes out as it was framed. Apps served any other way find no extension and keep using
``websocket.send``.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State

EXTENSION = "chorus.direct_send"


def text_frame(payload: bytes) -> bytes:
    """A complete, unmasked, unfragmented WebSocket text frame (server to client) for UTF-8 ``payload``."""
    return Frame(Opcode.TEXT, payload).serialize(mask=False)


class DirectSend:
    """Writes of pre-framed messages to one open WebSocket, without awaiting.

    Frames sent in one pass of the event loop are coalesced: the first one marks the socket, and after the pass
    (``call_soon``) all of its frames go out in one ``transport.write``. Under load several messages then share a
    system call (the cost of a loopback ``send`` is most of a delivery's); when idle a frame waits for nothing but
    the end of the current callback. Any ASGI send on the socket flushes first, so the order in which the app sent
    frames is the order on the wire.
    """

    __slots__ = ("_coalescer", "_pending", "_pending_bytes", "_protocol", "_transport")

    def __init__(self, protocol: DirectWebSocketProtocol) -> None:
        self._protocol = protocol
        self._transport: asyncio.Transport = protocol.transport
        self._pending: list[bytes] | None = None
        self._pending_bytes = 0
        self._coalescer = _coalescer(protocol.loop)

    def send(self, frame: bytes, max_unsent: int) -> int:
        """Queue one frame made by :func:`text_frame` unless the socket already holds more than ``max_unsent``
        bytes not yet sent: queued here or left in the transport's buffer (the peer is not reading). Returns
        ``SENT``, ``FULL`` (nothing queued) or ``CLOSED`` (the socket is closing: nothing queued)."""
        transport = self._transport
        if self._protocol.close_sent or transport.is_closing():
            return CLOSED
        pending = self._pending
        if pending is None:
            if transport.get_write_buffer_size() > max_unsent:
                return FULL
            self._pending = [frame]
            self._pending_bytes = len(frame)
            self._coalescer.mark(self)
        else:
            unsent = self._pending_bytes + len(frame)
            if unsent + transport.get_write_buffer_size() > max_unsent:
                return FULL
            pending.append(frame)
            self._pending_bytes = unsent
        return SENT

    def flush(self) -> None:
        pending, self._pending = self._pending, None
        self._pending_bytes = 0
        if not pending or self._protocol.close_sent or self._transport.is_closing():
            return
        self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))


SENT, FULL, CLOSED = 1, 0, -1


class _Coalescer:
    """The sockets of one event loop with frames waiting, flushed once per pass of the loop."""

    __slots__ = ("dirty", "loop", "scheduled")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.dirty: list[DirectSend] = []
        self.scheduled = False

    def mark(self, sender: DirectSend) -> None:
        self.dirty.append(sender)
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self.flush)

    def flush(self) -> None:
        self.scheduled = False
        dirty, self.dirty = self.dirty, []
        for sender in dirty:
            sender.flush()


_coalescers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Coalescer] = weakref.WeakKeyDictionary()


def _coalescer(loop: asyncio.AbstractEventLoop) -> _Coalescer:
    found = _coalescers.get(loop)
    if found is None:
        found = _coalescers[loop] = _Coalescer(loop)
    return found


class DirectWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets protocol with the ``chorus.direct_send`` scope extension (see the module docs)."""

    direct: DirectSend | None = None

    async def run_asgi(self) -> None:
        extensions: dict[str, Any] = self.scope["extensions"]
        extensions[EXTENSION] = _Lazy(self)
        await super().run_asgi()

    async def send(self, message: Any) -> None:
        if self.direct is not None:
            self.direct.flush()  # frames queued directly go first: the wire keeps the app's order
        await super().send(message)


class _Lazy:
    """Resolves to a :class:`DirectSend` once the handshake is done (the app gets the scope before that)."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: DirectWebSocketProtocol) -> None:
        self._protocol = protocol

    def open(self) -> DirectSend | None:
        """The direct writer, or None when it cannot be used on this socket (not open yet, or an extension such
        as compression was negotiated)."""
        p = self._protocol
        if (not p.handshake_complete or p.initial_response is not None or p.close_sent or p.disconnected
                or p.conn.state is not State.OPEN or p.conn.extensions):
            return None
        if p.direct is None:
            p.direct = DirectSend(p)
        return p.direct


def direct_send(scope: Any) -> DirectSend | None:
    """The direct writer offered for this accepted WebSocket's ``scope``, or None (use ``websocket.send``)."""
    lazy = (scope.get("extensions") or {}).get(EXTENSION)
    return lazy.open() if isinstance(lazy, _Lazy) else None


def uvicorn_options() -> dict[str, Any]:
    """The keyword arguments for ``uvicorn.Config`` that Chorus serves with: WebSocket compression off (it halves
    throughput; see STACK.md), the direct-send protocol, and uvicorn's own X-Forwarded-* handling off: it would
    believe them from 127.0.0.1 (or $FORWARDED_ALLOW_IPS); the app believes only CHORUS_TRUSTED_PROXIES
    (:func:`workspace.web.proxy_middleware`)."""
    return {"ws": DirectWebSocketProtocol, "ws_per_message_deflate": False, "proxy_headers": False}
