"""The ``/ws`` endpoint: one Connection per socket (its frames: post, subscribe, react, ping) and the Hub that tracks
connections (closing them on logout, kill switch, relabel and shutdown). Protocol: PROTOCOL.md.

Each subscription is a :class:`channels.ws_relay.ChannelFeed`: it first reads the database after the client's
``after_seq``, then forwards broker events in ``seq`` order, dropping duplicates and filling gaps from the database;
when its bounded backlog overflows it sends ``resync``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import msgspec
from litestar import WebSocket, websocket
from litestar.handlers import WebsocketRouteHandler

from channels import config, events, protocol
from channels.fanout import (
    MAILBOX_POLL_S,
    ChorusChannelsPlugin,
    Control,
    install_limits,
    install_publisher,
    read_mail,
    uninstall_limits,
)
from channels.limits import REFRESH_EVERY_S, SocketCount
from channels.services_channels import access_channel
from channels.services_messages import post_message
from channels.services_reactions import react
from channels.ws_relay import GONE, ChannelFeed, ChannelRelay
from workspace import metrics
from workspace.actor import Actor
from workspace.errors import ChorusError, RateLimited, ValidationFailed, unavailable_from
from workspace.hooks import hooks
from workspace.labels import LabelOutsideScheme
from workspace.services import current_actor
from workspace.settings import Settings
from workspace.web import ACTOR_KEY, TOKEN_KEY, agent_or_human
from workspace.wsdirect import DirectSend, direct_send

log = logging.getLogger("chorus.channels.ws")
YIELD_EVERY = 16
"""Frames a connection handles before it lets other tasks run. A post on SQLite never waits (its short
transaction runs on the loop's thread), so a client that sent many frames would otherwise hold the loop until
all were stored; handling a few together is what lets their deliveries share socket writes."""


class Connection:
    """One client socket: its frames, and a feed per channel it follows (at most ``Hub.max_subscriptions``)."""

    def __init__(self, hub: Hub, socket: WebSocket[Any, Any, Any], actor: Actor) -> None:
        self.hub = hub
        self.socket = socket
        self.actor = actor
        self.session_id = dict(socket.scope).get("chorus.session_id")
        self.token_hash = dict(socket.scope).get(TOKEN_KEY)  # the agent token it was opened with (None: a session)
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
        metrics.ws_connection_opened(self.actor.kind)
        limits = config.current.limits
        handled = 0
        try:
            await self.send({"v": protocol.VERSION, "type": "hello", "member": self.actor.handle,
                             "kind": self.actor.kind, "max_message_bytes": limits.max_message_bytes,
                             "backlog": limits.ws_backlog, "max_subscriptions": self.hub.max_subscriptions,
                             "may_post": self.actor.kind == "agent" or limits.humans_may_post})
            self.direct = direct_send(self.socket.scope)  # after the first send: the handshake is complete
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
        except GONE:
            pass
        finally:
            self.gone = True
            self.direct = None
            metrics.ws_connection_closed(self.actor.kind)
            for feed in list(self.feeds.values()):
                await feed.stop()
            self.feeds.clear()

    async def handle(self, text: str) -> None:
        ref: str | None = None
        try:
            frame = protocol.decode(text)
            ref = frame.ref if not isinstance(frame, protocol.Post) else (frame.ref or frame.client_msg_id)
            try:
                await self.dispatch(frame)
            except LabelOutsideScheme:
                # The actor holds the label scheme of when the socket opened, and another process has added a
                # compartment since: load the stored scheme and run the frame again (labels are decoded before
                # anything is written, and posts are idempotent on client_msg_id anyway).
                self.actor = await current_actor(self.actor)
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
            elif isinstance(exc, GONE):
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
        if frame.after_seq is not None and frame.after_seq > channel["last_seq"]:
            raise ValidationFailed(
                f"after_seq {frame.after_seq} is beyond the newest message of channel {channel['name']!r} (seq "
                f"{channel['last_seq']}); resume with the last seq you received, or leave after_seq out to follow new "
                "messages only", field="after_seq")
        after = channel["last_seq"] if frame.after_seq is None else frame.after_seq
        await self.send({"v": protocol.VERSION, "type": "subscribed", "channel": channel["id"],
                         "name": channel["name"], "last_seq": channel["last_seq"], "after_seq": after,
                         "ref": frame.ref})
        feed = ChannelFeed(self, channel, after)
        self.feeds[channel["id"]] = feed
        await feed.start()


class Hub:
    """The process's sockets, the publisher, and the reactions to logout, kill switch, relabel and token revocation
    (through the broker, or with the memory broker also the control mailbox that other processes write)."""

    def __init__(self, settings: Settings, plugin: ChorusChannelsPlugin) -> None:
        self.settings = settings
        self.plugin = plugin
        self.connections: set[Connection] = set()
        self.relays: dict[int, ChannelRelay] = {}
        self.direct_deliveries = 0  # also the chorus.ws.deliveries metric, path="direct"
        self.control_task: asyncio.Task[None] | None = None
        self.chores: list[asyncio.Task[None]] = []
        self.shared: Any = None  # the Redis-shared write budgets while the hub runs (channels.limits)
        self.sockets = SocketCount(settings.limits.max_sockets_per_token)
        self.closing = False
        self.max_subscriptions = protocol.MAX_SUBSCRIPTIONS
        self.control = Control(plugin, apply=self._apply)
        plugin.on_started.append(self.started)
        plugin.on_stopping.append(self.stopping)

    async def started(self) -> None:
        self.closing = False
        self.publisher = install_publisher(self.plugin)
        self.shared = install_limits(self.plugin)
        self.sockets = SocketCount(self.settings.limits.max_sockets_per_token, self.plugin.redis, self.plugin.namespace)
        self.control.install()
        control = await self.plugin.subscribe(self.plugin.control_channel)
        self.control_task = asyncio.create_task(self._control(control), name="channels-control")
        chore = self._socket_refresh() if self.plugin.redis is not None else self._mailbox()
        self.chores = [asyncio.create_task(chore, name="channels-control-chore")]

    async def stopping(self) -> None:
        """Graceful shutdown: every socket is closed with 1012 so clients reconnect and resume by seq."""
        self.closing = True
        await asyncio.gather(*(c.close(protocol.CLOSE_RESTART, "server restarting; reconnect and resume")
                               for c in list(self.connections)), return_exceptions=True)
        self.control.uninstall()
        uninstall_limits(self.shared)
        for task in [t for t in (self.control_task, *self.chores) if t is not None]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
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
            await socket.accept()
            await socket.close(code=protocol.CLOSE_NOT_AUTHENTICATED, reason="not authenticated; sign in or send "
                               "an agent token")
            return
        conn = Connection(self, socket, actor)
        credential = f"t:{conn.token_hash}" if conn.token_hash else f"s:{conn.session_id or actor.member_id}"
        held = await self.sockets.acquire(credential)
        if held is None:
            await socket.accept()
            await socket.close(code=protocol.CLOSE_TOO_MANY_SOCKETS, reason=(
                f"this token already holds {self.sockets.cap} open sockets (CHORUS_MAX_SOCKETS_PER_TOKEN); close "
                "one first"))
            return
        self.connections.add(conn)
        try:
            await conn.serve()
        finally:
            self.connections.discard(conn)
            await self.sockets.release(credential, held)

    async def _mailbox(self) -> None:
        """Memory broker: apply the commands other processes (a CLI command, a worker) left in the control mailbox."""
        after: int | None = None
        while True:
            try:
                after, commands = await read_mail(after)
                for cmd in commands:
                    if cmd.get("origin") != self.control.origin:
                        await self._apply(cmd)
                        await self._tell_this_process(cmd)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # e.g. the database restarting: read again next time
                log.debug("control mailbox not read: %s", exc)
            await asyncio.sleep(MAILBOX_POLL_S)

    async def _socket_refresh(self) -> None:
        """Redis broker: keep this replica's sockets counted (entries of a replica that died expire)."""
        while True:
            await asyncio.sleep(REFRESH_EVERY_S)
            await self.sockets.refresh()

    async def _control(self, subscriber: Any) -> None:
        async for data in subscriber.iter_events():
            try:
                kind, _, _, body = events.parse_header(data)
                if kind == events.CONTROL:
                    cmd = msgspec.json.decode(body)
                    if cmd.get("origin") != self.control.origin:  # our own was applied when we sent it
                        await self._apply(cmd)
                        await self._tell_this_process(cmd)
            except Exception:
                log.exception("bad control event")

    @staticmethod
    async def _tell_this_process(cmd: dict[str, Any]) -> None:
        """Re-emit the hook of a command that came through the broker, e.g. so that this process's token cache
        forgets an agent switched off by a CLI command or another replica (:class:`Control` does not publish it
        again)."""
        hook = cmd.get("hook")
        if hook == "agent_token.revoked":
            await hooks.emit(hook, remote=True, token_hashes=cmd.get("token_hashes") or [])
        elif hook in ("session.ended", "member.deactivated", "member.label_changed"):
            sessions = cmd.get("session_ids") or [None]
            await hooks.emit(str(hook), remote=True, member_ids=cmd.get("member_ids") or [],
                             session_id=sessions[0])

    async def _apply(self, cmd: dict[str, Any]) -> None:
        members = set(cmd.get("member_ids") or ())
        sessions = set(cmd.get("session_ids") or ())
        tokens = set(cmd.get("token_hashes") or ())
        await self.close_where(lambda c: c.actor.member_id in members or (c.session_id in sessions)
                               or (c.token_hash in tokens),
                               int(cmd.get("code", protocol.CLOSE_REVOKED)), str(cmd.get("reason", "")))

    async def close_where(self, pred: Callable[[Connection], bool], code: int, reason: str) -> int:
        doomed = [c for c in list(self.connections) if pred(c)]
        await asyncio.gather(*(c.close(code, reason) for c in doomed), return_exceptions=True)
        return len(doomed)


def ws_route(hub: Hub) -> WebsocketRouteHandler:
    @websocket("/ws", name="channels-ws", guards=[agent_or_human], opt={"agents": True})
    async def channels_ws(socket: WebSocket[Any, Any, Any]) -> None:
        """The real-time protocol (PROTOCOL.md): subscribe with resume, post, react, ping."""
        await hub.serve(socket)

    return channels_ws
