"""Live delivery to sockets: the :class:`ChannelRelay` (one broker subscription per channel and process) and the
:class:`ChannelFeed` (one channel's stream to one socket: database catch-up, then live events in ``seq`` order).

The sockets themselves, the protocol frames and the hub are :mod:`channels.ws`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from litestar.exceptions import WebSocketDisconnect

from channels import config, events, protocol
from channels.fanout import CallbackSubscriber
from channels.services_messages import read_messages
from workspace import metrics
from workspace.errors import unavailable_from
from workspace.wsdirect import FULL, SENT, DirectSend, text_frame

if TYPE_CHECKING:
    from channels.ws import Connection, Hub

log = logging.getLogger("chorus.channels.ws")
CATCHUP_PAGE = 500
GONE = (WebSocketDisconnect, ConnectionError, RuntimeError)
"""What a send or receive raises once the client has gone."""


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
            if isinstance(exc, GONE) and not down:
                self.conn.gone = True
                return
            # e.g. the database restarting during a catch-up read: the client resumes from its last seq (resync,
            # which client libraries handle) instead of silently losing the channel.
            if down:
                log.warning("feed of channel %s for %s: database unavailable (%s); sending resync", self.cid,
                            self.conn.actor.handle, exc)
            else:
                log.exception("feed of channel %s for %s failed; sending resync", self.cid, self.conn.actor.handle)
            with contextlib.suppress(*GONE):
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
