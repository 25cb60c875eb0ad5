"""The ``/ws`` endpoint: one Connection per socket, one ChannelFeed per subscribed channel, and the Hub that
tracks connections (closing them on logout, kill switch, relabel and shutdown). Protocol: PROTOCOL.md.

A feed first reads the database after the client's ``after_seq``, then forwards broker events in ``seq`` order,
dropping duplicates and filling gaps from the database; when its bounded backlog overflows it sends ``resync``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Any

import msgspec
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.handlers import WebsocketRouteHandler

from channels import config, events, protocol
from channels.fanout import CallbackSubscriber, ChorusChannelsPlugin, install_publisher
from channels.services_channels import access_channel
from channels.services_messages import post_message, read_messages
from channels.services_reactions import react
from workspace import metrics
from workspace.actor import Actor
from workspace.errors import ChorusError, RateLimited, unavailable_from
from workspace.hooks import hooks
from workspace.settings import Settings
from workspace.web import ACTOR_KEY, agent_or_human
from workspace.wsdirect import FULL, SENT, DirectSend, direct_send, text_frame

log = logging.getLogger("chorus.channels.ws")
CATCHUP_PAGE = 500
YIELD_EVERY = 16
"""Frames a connection handles before it lets other tasks run. A post on SQLite never waits (its short
transaction runs on the loop's thread), so a client that sent many frames would otherwise hold the loop until
all were stored; handling a few together is what lets their deliveries share socket writes."""
_GONE = (WebSocketDisconnect, ConnectionError, RuntimeError)


class ChannelRelay:
    """The process's one broker subscription for a channel, handing each event to all of its feeds in one
    synchronous pass (not one queue and task per socket): a feed that is caught up gets the frame written straight
    to its socket (:mod:`workspace.wsdirect`: framed once per event, written for every socket); any other feed
    queues it for its own task."""

    def __init__(self, hub: Hub, cid: int) -> None:
        self.hub = hub
        self.cid = cid
        self.feeds: dict[ChannelFeed, None] = {}  # an ordered set
        self.subscriber = CallbackSubscriber(hub.plugin, self.deliver)
        self.ready: asyncio.Task[Any] = asyncio.create_task(
            hub.plugin.subscribe(hub.plugin.channel_name(cid), subscriber=self.subscriber), name=f"relay-{cid}")

    def deliver(self, data: bytes) -> None:
        kind, _, seq, frame = events.parse_header(data)
        new = kind == events.NEW
        plain = new or kind in _SHOWN  # CATCHUP and the like go to each feed's task
        wire: bytes | None = None
        limit = 0
        written = 0
        for feed in tuple(self.feeds):
            direct = feed.direct
            if direct is None or not plain:
                feed.enqueue(data)
                continue
            if new:
                if seq != feed.delivered + 1:
                    if seq > feed.delivered:
                        feed.enqueue(data)  # a gap: the feed's task fills it from the database
                    continue  # (or already sent by a catch-up)
            elif seq > feed.delivered:
                continue  # an edit of a message this socket has not got yet: it will come in its current form
            if wire is None:
                wire = text_frame(frame)
                limit = feed.backlog_bytes(len(wire))
            outcome = direct.send(wire, limit)
            if outcome == SENT:
                written += 1
                if new:
                    feed.delivered = seq
            elif outcome == FULL:
                feed.overflow()
            else:
                feed.direct = None  # the socket is closing; its connection stops the feed
        if written:
            self.hub.direct_deliveries += written
            metrics.ws_delivered(written)

    def add(self, feed: ChannelFeed) -> None:
        self.feeds[feed] = None

    async def remove(self, feed: ChannelFeed) -> None:
        self.feeds.pop(feed, None)
        if not self.feeds and self.hub.relays.get(self.cid) is self:
            del self.hub.relays[self.cid]  # a later subscriber makes a new relay (and subscription)
            with contextlib.suppress(Exception):
                await self.ready
            await self.hub.plugin.unsubscribe(self.subscriber, self.hub.plugin.channel_name(self.cid))


_SHOWN = (events.UPDATE, events.REACTION)


class ChannelFeed:
    """One channel's stream to one socket: database catch-up, then live events in seq order.

    A feed is *live* when it has nothing queued and is not reading the database: its relay then writes events
    directly. Otherwise events queue here (at most ``backlog``) for the feed's task, which sends them through
    ASGI, catching up from the database on a gap; once the queue is empty the feed is live again. A feed whose
    queue overflows, or whose socket has more unsent bytes than ``backlog`` frames, sends ``resync`` instead.
    """

    def __init__(self, conn: Connection, channel: dict[str, Any], after_seq: int) -> None:
        self.conn = conn
        self.channel = channel
        self.cid = int(channel["id"])
        self.delivered = after_seq
        self.backlog = max(1, config.current.limits.ws_backlog)
        self.pending: collections.deque[bytes] = collections.deque()
        self.wake = asyncio.Event()
        self.overflowed = False
        self.direct: DirectSend | None = None  # set while live
        self.relay: ChannelRelay | None = None
        self.task: asyncio.Task[None] | None = None

    def backlog_bytes(self, frame_bytes: int) -> int:
        """What the socket may hold unsent before the feed overflows: ``backlog`` frames of this size."""
        return self.backlog * max(frame_bytes, 256)

    def enqueue(self, data: bytes) -> None:
        self.direct = None
        if len(self.pending) >= self.backlog:
            self.overflow()
        else:
            self.pending.append(data)
            self.wake.set()

    def overflow(self) -> None:
        self.direct = None
        self.overflowed = True
        self.pending.clear()
        self.wake.set()

    async def start(self) -> None:
        hub = self.conn.hub
        relay = hub.relays.get(self.cid)
        if relay is None:
            relay = hub.relays[self.cid] = ChannelRelay(hub, self.cid)
        self.relay = relay
        relay.add(self)  # subscribe first, then read the database
        try:
            await asyncio.shield(relay.ready)
        except Exception as exc:
            log.warning("subscribing channel %s failed (%s); the reconnect loop retries", self.cid, exc)
        self.task = asyncio.create_task(self.run(), name=f"feed-{self.cid}")

    async def run(self) -> None:
        try:
            await self.catch_up()
            while True:
                while self.pending and not self.overflowed:
                    await self.forward(self.pending.popleft())
                if self.overflowed:
                    await self.resync()
                    return
                self.wake.clear()
                self.direct = self.conn.direct  # nothing queued, nothing being read: the relay writes directly
                await self.wake.wait()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.direct = None
            down = unavailable_from(exc) is not None  # a refused database connection is a ConnectionError too
            if isinstance(exc, _GONE) and not down:
                self.conn.gone = True
                return
            # e.g. the database restarting during a catch-up read: the client resumes from its last seq (resync,
            # which client libraries handle) instead of silently losing the channel.
            if down:
                log.warning("feed of channel %s for %s: database unavailable (%s); sending resync", self.cid,
                            self.conn.actor.handle, exc)
            else:
                log.exception("feed of channel %s for %s failed; sending resync", self.cid, self.conn.actor.handle)
            with contextlib.suppress(*_GONE):
                await self.resync()

    async def forward(self, data: bytes) -> None:
        kind, _, seq, frame = events.parse_header(data)
        if kind == events.NEW:
            if seq <= self.delivered:
                return  # already sent (catch-up overlapped the live stream)
            if seq > self.delivered + 1:
                await self.catch_up()  # a gap: the database has everything up to (at least) this seq
                return
            await self.conn.send_text(frame)
            self.delivered = seq
            metrics.ws_delivered(1, "queued")
        elif kind in _SHOWN:
            if seq <= self.delivered:  # later messages arrive in their current form from the database
                await self.conn.send_text(frame)
        else:  # CATCHUP after a broker reconnect
            await self.catch_up()

    async def catch_up(self) -> None:
        while True:
            page = await read_messages(self.channel, after_seq=self.delivered, limit=CATCHUP_PAGE)
            for message in page:
                await self.conn.send_text(events.encode_frame(events.message_frame(message)))
                self.delivered = message["seq"]
            if len(page) < CATCHUP_PAGE:
                return

    async def resync(self) -> None:
        """The client fell behind: drop the backlog and let it resume from the database by after_seq."""
        self.pending.clear()
        if self.conn.feeds.get(self.cid) is self:
            del self.conn.feeds[self.cid]
        await self.unsubscribe()
        await self.conn.send({"v": protocol.VERSION, "type": "resync", "channel": self.cid,
                              "after_seq": self.delivered})

    async def unsubscribe(self) -> None:
        self.direct = None
        if self.relay is not None:
            relay, self.relay = self.relay, None
            await relay.remove(self)

    async def stop(self) -> None:
        self.direct = None
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        await self.unsubscribe()


class Connection:
    def __init__(self, hub: Hub, socket: WebSocket[Any, Any, Any], actor: Actor) -> None:
        self.hub = hub
        self.socket = socket
        self.actor = actor
        self.session_id = dict(socket.scope).get("chorus.session_id")
        self.feeds: dict[int, ChannelFeed] = {}
        self.gone = False
        self.direct: DirectSend | None = None  # the fast path for live events, when the server offers it

    async def send(self, frame: dict[str, Any]) -> None:
        await self.socket.send_text(events.encode_frame(frame).decode())

    async def send_text(self, frame: bytes) -> None:
        await self.socket.send_text(frame.decode())

    async def close(self, code: int, reason: str) -> None:
        self.gone = True
        self.direct = None
        for feed in self.feeds.values():
            feed.direct = None
        with contextlib.suppress(Exception):
            await self.socket.close(code=code, reason=reason[:120])

    async def serve(self) -> None:
        await self.socket.accept()
        limits = config.current.limits
        await self.send({"v": protocol.VERSION, "type": "hello", "member": self.actor.handle,
                         "kind": self.actor.kind, "max_message_bytes": limits.max_message_bytes,
                         "backlog": limits.ws_backlog, "max_subscriptions": self.hub.max_subscriptions,
                         "may_post": self.actor.kind == "agent" or limits.humans_may_post})
        self.direct = direct_send(self.socket.scope)  # after the first send: the handshake is complete
        handled = 0
        try:
            while not self.gone:
                handled += 1
                if handled % YIELD_EVERY == 0:
                    await asyncio.sleep(0)  # frames already received are handled without a pause: let others run
                event = await self.socket.receive()
                if event["type"] == "websocket.disconnect":
                    break
                text = event.get("text")
                if not isinstance(text, str):
                    await self.send(protocol.error_frame("malformed_frame", "send JSON text frames, not binary",
                                                         None))
                    continue
                await self.handle(text)
        except _GONE:
            pass
        finally:
            self.gone = True
            self.direct = None
            for feed in list(self.feeds.values()):
                await feed.stop()
            self.feeds.clear()

    async def handle(self, text: str) -> None:
        ref: str | None = None
        try:
            frame = protocol.decode(text)
            ref = frame.ref if not isinstance(frame, protocol.Post) else (frame.ref or frame.client_msg_id)
            await self.dispatch(frame)
        except protocol.FrameError as exc:
            await self.send(protocol.error_frame(exc.code, exc.message, exc.ref))
        except RateLimited as exc:
            await self.send(protocol.error_frame(exc.code, exc.message, ref, retry_after=round(exc.retry_after, 3)))
        except protocol.TooManySubscriptions as exc:
            await self.send(protocol.error_frame(exc.code, exc.message, ref, **exc.extra))
        except ChorusError as exc:
            await self.send(protocol.error_frame(exc.code, exc.message, ref))
        except Exception as exc:  # the socket stays open: one failed frame must not drop the client's other feeds
            down = unavailable_from(exc)  # checked first: a refused database connection is a ConnectionError too
            if down is not None:
                log.warning("database unavailable for %s: %s", self.actor.handle, exc)
                await self.send(protocol.error_frame(down.code, down.message, ref, retry_after=1.0))
            elif isinstance(exc, _GONE):
                raise
            else:
                log.exception("frame from %s failed", self.actor.handle)
                await self.send(protocol.error_frame("internal_error", "the server failed on this frame; nothing "
                                                     "was half-written. Send it again", ref))

    async def dispatch(self, frame: protocol.ClientFrame) -> None:
        if isinstance(frame, protocol.Post):
            message = await post_message(self.actor, frame.channel, frame.body, frame.client_msg_id, frame.thread_of)
            await self.send({"v": protocol.VERSION, "type": "ack", "ref": frame.ref or frame.client_msg_id,
                             "client_msg_id": frame.client_msg_id, "channel": message["channel_id"],
                             "id": message["id"], "seq": message["seq"]})
        elif isinstance(frame, protocol.Subscribe):
            await self.subscribe(frame)
        elif isinstance(frame, protocol.Unsubscribe):
            channel = await access_channel(self.actor, frame.channel)
            feed = self.feeds.pop(channel["id"], None)
            if feed is not None:
                await feed.stop()
            await self.send({"v": protocol.VERSION, "type": "unsubscribed", "channel": channel["id"],
                             "ref": frame.ref})
        elif isinstance(frame, protocol.React):
            result = await react(self.actor, frame.message_id, frame.kind, frame.value, frame.remove)
            await self.send({"v": protocol.VERSION, "type": "ack", "ref": frame.ref, "message_id": result["message_id"],
                             "seq": result["seq"], "reactions": result["reactions"]})
        else:
            await self.send({"v": protocol.VERSION, "type": "pong", "ref": frame.ref})

    async def subscribe(self, frame: protocol.Subscribe) -> None:
        channel = await access_channel(self.actor, frame.channel)
        old = self.feeds.pop(channel["id"], None)
        if old is not None:
            await old.stop()
        elif len(self.feeds) >= self.hub.max_subscriptions:
            raise protocol.TooManySubscriptions(
                f"this connection already follows {len(self.feeds)} channels, the limit per connection is "
                f"{self.hub.max_subscriptions}; unsubscribe from one first, or open another connection for "
                f"channel {channel['name']!r}", limit=self.hub.max_subscriptions)
        after = channel["last_seq"] if frame.after_seq is None else max(0, frame.after_seq)
        await self.send({"v": protocol.VERSION, "type": "subscribed", "channel": channel["id"],
                         "name": channel["name"], "last_seq": channel["last_seq"], "after_seq": after,
                         "ref": frame.ref})
        feed = ChannelFeed(self, channel, after)
        self.feeds[channel["id"]] = feed
        await feed.start()


class Hub:
    """The process's sockets, the publisher, and the reactions to logout, kill switch and relabel."""

    def __init__(self, settings: Settings, plugin: ChorusChannelsPlugin) -> None:
        self.settings = settings
        self.plugin = plugin
        self.connections: set[Connection] = set()
        self.relays: dict[int, ChannelRelay] = {}
        self.direct_deliveries = 0  # also the chorus.ws.deliveries metric, path="direct"
        self.control_task: asyncio.Task[None] | None = None
        self.closing = False
        self.max_subscriptions = protocol.MAX_SUBSCRIPTIONS
        plugin.on_started.append(self.started)
        plugin.on_stopping.append(self.stopping)

    async def started(self) -> None:
        self.closing = False
        self.publisher = install_publisher(self.plugin)
        hooks.on("session.ended", self.on_session_ended)
        hooks.on("member.deactivated", self.on_member_deactivated)
        hooks.on("member.label_changed", self.on_label_changed)
        control = await self.plugin.subscribe(self.plugin.control_channel)
        self.control_task = asyncio.create_task(self._control(control), name="channels-control")

    async def stopping(self) -> None:
        """Graceful shutdown: every socket is closed with 1012 so clients reconnect and resume by seq."""
        self.closing = True
        await asyncio.gather(*(c.close(protocol.CLOSE_RESTART, "server restarting; reconnect and resume")
                               for c in list(self.connections)), return_exceptions=True)
        if self.control_task is not None:
            self.control_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.control_task
        if config.current.publisher is self.publisher:
            config.set_publisher(None)

    async def serve(self, socket: WebSocket[Any, Any, Any]) -> None:
        actor = dict(socket.scope).get(ACTOR_KEY)
        if self.closing:
            # Accept first: a close before the accept reaches the client as HTTP 403, which reads as "credentials
            # refused"; 1012 tells it to reconnect (to another replica) and resume.
            await socket.accept()
            await socket.close(code=protocol.CLOSE_RESTART, reason="server restarting; reconnect and resume")
            return
        if not isinstance(actor, Actor):
            await socket.close(code=4401)
            return
        conn = Connection(self, socket, actor)
        self.connections.add(conn)
        try:
            await conn.serve()
        finally:
            self.connections.discard(conn)

    async def _control(self, subscriber: Any) -> None:
        async for data in subscriber.iter_events():
            try:
                kind, _, _, body = events.parse_header(data)
                if kind == events.CONTROL:
                    await self._apply(msgspec.json.decode(body))
            except Exception:
                log.exception("bad control event")

    async def _apply(self, cmd: dict[str, Any]) -> None:
        members = set(cmd.get("member_ids") or ())
        sessions = set(cmd.get("session_ids") or ())
        await self.close_where(lambda c: c.actor.member_id in members or (c.session_id in sessions),
                               int(cmd.get("code", protocol.CLOSE_REVOKED)), str(cmd.get("reason", "")))

    async def close_where(self, pred: Callable[[Connection], bool], code: int, reason: str) -> int:
        doomed = [c for c in list(self.connections) if pred(c)]
        await asyncio.gather(*(c.close(code, reason) for c in doomed), return_exceptions=True)
        return len(doomed)

    async def broadcast_control(self, cmd: dict[str, Any]) -> None:
        """Apply here at once and tell the other replicas (through the broker)."""
        await self._apply(cmd)
        self.plugin.publish(events.event(events.CONTROL, 0, 0, cmd), self.plugin.control_channel)

    async def on_session_ended(self, session_id: str | None = None, **_: Any) -> None:
        if session_id:
            await self.broadcast_control({"session_ids": [str(session_id)], "code": protocol.CLOSE_REVOKED,
                                          "reason": "session ended; sign in again"})

    async def on_member_deactivated(self, member_ids: Iterable[int] | None = None, member_id: int | None = None,
                                    **_: Any) -> None:
        ids = [int(m) for m in (member_ids or ())] + ([int(member_id)] if member_id is not None else [])
        if ids:
            await self.broadcast_control({"member_ids": ids, "code": protocol.CLOSE_REVOKED,
                                          "reason": "member deactivated"})

    async def on_label_changed(self, member_ids: Iterable[int] | None = None, member_id: int | None = None,
                               **_: Any) -> None:
        ids = [int(m) for m in (member_ids or ())] + ([int(member_id)] if member_id is not None else [])
        if ids:
            await self.broadcast_control({"member_ids": ids, "code": protocol.CLOSE_ACCESS_CHANGED,
                                          "reason": "clearance changed; reconnect to re-check access"})


def ws_route(hub: Hub) -> WebsocketRouteHandler:
    @websocket("/ws", name="channels-ws", guards=[agent_or_human], opt={"agents": True})
    async def channels_ws(socket: WebSocket[Any, Any, Any]) -> None:
        """The real-time protocol (PROTOCOL.md): subscribe with resume, post, react, ping."""
        await hub.serve(socket)

    return channels_ws
