"""Fan-out through Litestar's channels plugin (memory backend by default, Redis pub/sub for several replicas).

The plugin is extended, not replaced: subscribers flag backlog overflow (the socket then sends ``resync``), the
publish worker batches into one Redis round trip and survives broker errors, and the subscribe worker reconnects
after a broker restart and tells every subscriber to catch up from the database (nothing is lost: the database
is the truth, the broker only notifies).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from litestar.channels import ChannelsPlugin
from litestar.channels.backends.base import ChannelsBackend
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from litestar.channels.subscriber import BacklogStrategy, Subscriber

from channels import config
from workspace.settings import Settings

log = logging.getLogger("chorus.channels.fanout")
CONTROL = "control"
CATCHUP = b"c 0 0\n"
"""Put into every subscriber after the broker reconnects: 'read the database after your last seq'."""
PUBLISH_BATCH = 500


class OverflowSubscriber(Subscriber):
    """A subscriber whose bounded backlog remembers that it overflowed (it then stops buffering)."""

    def __init__(self, plugin: ChannelsPlugin, max_backlog: int | None = None,
                 backlog_strategy: BacklogStrategy = "backoff") -> None:
        super().__init__(plugin, max_backlog, backlog_strategy)
        self.overflowed = False

    def put_nowait(self, item: bytes | None) -> bool:
        if self.overflowed and item is not None:
            return False
        ok = super().put_nowait(item)
        if not ok and item is not None:
            self.overflowed = True  # the sender reads the flag before every send
        return ok

    def drain(self) -> None:
        """Drop what is queued (after an overflow, the client resumes from the database instead)."""
        while True:
            try:
                self._queue.get_nowait()
                self._queue.task_done()
            except asyncio.QueueEmpty:
                return


class CallbackSubscriber(Subscriber):
    """A subscriber that hands each event to ``callback`` at once, in the broker's receive loop, instead of
    queueing it for a task: one per channel and process, fanning out to that channel's sockets (see
    ``channels.ws.ChannelRelay``). The callback must not block; it owns the backlog of each socket it feeds."""

    def __init__(self, plugin: ChannelsPlugin, callback: Callable[[bytes], None]) -> None:
        super().__init__(plugin, None, "backoff")
        self.callback = callback

    def put_nowait(self, item: bytes | None) -> bool:
        if item is not None:
            try:
                self.callback(item)
            except Exception:  # one bad delivery must not stop the broker loop for every other channel
                log.exception("fan-out callback failed")
        return True

    async def put(self, item: bytes | None) -> None:
        self.put_nowait(item)


class ChorusChannelsPlugin(ChannelsPlugin):
    """Litestar's ChannelsPlugin with broker-failure handling, batched publishing and lifecycle callbacks."""

    def __init__(self, backend: ChannelsBackend, *, max_backlog: int, namespace: str = "chorus",
                 backend_factory: Callable[[], ChannelsBackend] | None = None, redis: Any = None) -> None:
        self.namespace = namespace
        self.control_channel = f"{namespace}.{CONTROL}"
        super().__init__(backend=backend, channels=[self.control_channel], arbitrary_channels_allowed=True,
                         create_ws_route_handlers=False, subscriber_max_backlog=max_backlog,
                         subscriber_backlog_strategy="backoff", subscriber_class=OverflowSubscriber)
        self._factory = backend_factory
        self._redis = redis
        self.on_started: list[Callable[[], Awaitable[None]]] = []
        self.on_stopping: list[Callable[[], Awaitable[None]]] = []
        self.broker_ok = True
        self.reconnects = 0

    def channel_name(self, channel_id: int) -> str:
        """The broker channel of a Chorus channel (namespaced by database, so deployments can share Redis)."""
        return f"{self.namespace}.c{channel_id}"

    async def subscribe(self, channels: str | Iterable[str], history: int | None = None,
                        subscriber: Subscriber | None = None) -> Subscriber:
        """Like the base class, but a broker outage does not fail the subscription: the reconnect loop
        subscribes every channel that has subscribers once the broker is back. ``subscriber`` subscribes a given
        one (e.g. a :class:`CallbackSubscriber`) instead of a new queueing :class:`OverflowSubscriber`."""
        names = [channels] if isinstance(channels, str) else list(channels)
        if subscriber is None:
            subscriber = OverflowSubscriber(self, self._max_backlog, self._backlog_strategy)
        new = []
        for name in names:
            subs = self._channels.setdefault(name, set())
            if not subs:
                new.append(name)
            subs.add(subscriber)
        if new and self.broker_ok:
            try:
                await self._backend.subscribe(new)
            except Exception as exc:
                self._broker_failed(exc)
        return subscriber

    async def unsubscribe(self, subscriber: Subscriber, channels: str | Iterable[str] | None = None) -> None:
        try:
            await super().unsubscribe(subscriber, channels)
        except Exception as exc:  # the broker is down: local bookkeeping is already done
            self._broker_failed(exc)

    def _broker_failed(self, exc: BaseException) -> None:
        if self.broker_ok:
            log.warning("the broker failed (%s: %s); reconnecting, subscribers will catch up from the database",
                        type(exc).__name__, exc)
        self.broker_ok = False

    async def _pub_worker(self) -> None:
        assert self._pub_queue is not None
        queue = self._pub_queue
        while True:
            batch = [await queue.get()]
            while len(batch) < PUBLISH_BATCH:
                try:
                    batch.append(queue.get_nowait())
                except asyncio.QueueEmpty:
                    break
            try:
                for attempt in range(2):
                    try:
                        await self._publish_batch(batch)
                        break
                    except Exception as exc:
                        if attempt:
                            log.warning("dropped %d event(s) the broker refused (%s); subscribers catch up "
                                        "from the database", len(batch), exc)
                        else:
                            await asyncio.sleep(0.05)
            finally:
                for _ in batch:
                    queue.task_done()

    async def _publish_batch(self, batch: list[tuple[bytes, list[str]]]) -> None:
        if self._redis is not None and len(batch) > 1:
            pipe = self._redis.pipeline(transaction=False)
            for data, names in batch:
                for name in names:
                    pipe.publish(name, data)
            await pipe.execute()
            return
        for data, names in batch:
            await self._backend.publish(data, names)

    async def _sub_worker(self) -> None:
        delay = 0.05
        while True:
            if self.broker_ok:
                try:
                    async for channel, payload in self._backend.stream_events():
                        for subscriber in self._channels.get(channel, ()):
                            subscriber.put_nowait(payload)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self._broker_failed(exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
            if await self._reconnect():
                delay = 0.05

    async def _reconnect(self) -> bool:
        if self._factory is None:
            self.broker_ok = True
            return True
        backend = self._factory()
        names = [name for name, subs in self._channels.items() if subs or name == self.control_channel]
        try:
            await backend.on_startup()
            await backend.subscribe(names)
        except Exception as exc:
            log.info("broker still unavailable: %s", exc)
            with contextlib.suppress(Exception):
                await backend.on_shutdown()
            return False
        old, self._backend = self._backend, backend
        with contextlib.suppress(Exception):
            await old.on_shutdown()
        self.broker_ok = True
        # Subscriptions made while this reconnect was under way saw the broker down and left it to us: take them
        # too (no await between setting broker_ok and this list, so nothing slips between the two).
        late = [name for name, subs in self._channels.items() if subs and name not in names]
        if late:
            try:
                await backend.subscribe(late)
            except Exception as exc:
                self._broker_failed(exc)
                return False
        self.reconnects += 1
        log.warning("broker reconnected; %d channel(s) resubscribed", len(names) + len(late))
        for subs in list(self._channels.values()):
            for subscriber in list(subs):
                subscriber.put_nowait(CATCHUP)
        return True

    async def _on_startup(self) -> None:
        await super()._on_startup()
        for callback in self.on_started:
            await callback()

    async def _on_shutdown(self) -> None:
        for callback in self.on_stopping:
            with contextlib.suppress(Exception):
                await callback()
        await super()._on_shutdown()
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose(close_connection_pool=True)


def broker_namespace(database_url: str) -> str:
    """Broker channel names are prefixed per database, so deployments (and test runs) can share one Redis while
    replicas of one deployment (same CHORUS_DATABASE_URL) meet on the same channels."""
    parts = urlsplit(database_url.replace("postgres://", "postgresql://", 1))
    where = f"{parts.scheme}://{(parts.hostname or '').lower()}:{parts.port or ''}{parts.path}"
    return "chorus-" + hashlib.sha256(where.encode()).hexdigest()[:12]


def build_plugin(settings: Settings) -> ChorusChannelsPlugin:
    """The plugin for ``CHORUS_BROKER_URL``: memory:// (one process) or redis://host:port/db."""
    backlog = max(1, settings.limits.ws_backlog)
    namespace = broker_namespace(settings.database.url.reveal())
    if settings.broker.is_redis:
        from redis.asyncio import Redis

        redis = Redis.from_url(settings.broker.url.reveal(), socket_connect_timeout=5, health_check_interval=15)

        def factory() -> ChannelsBackend:
            return RedisChannelsPubSubBackend(redis=redis, key_prefix="CHORUS_CHANNELS")

        return ChorusChannelsPlugin(factory(), max_backlog=backlog, namespace=namespace, backend_factory=factory,
                                    redis=redis)
    return ChorusChannelsPlugin(MemoryChannelsBackend(), max_backlog=backlog, namespace=namespace)


def install_publisher(plugin: ChorusChannelsPlugin) -> Callable[[int, bytes], None]:
    """Route the services' events into ``plugin`` (returns the publisher, to uninstall it later)."""

    def publish(channel_id: int, data: bytes) -> None:
        plugin.publish(data, plugin.channel_name(channel_id))

    config.set_publisher(publish)
    return publish


@contextlib.asynccontextmanager
async def standalone(settings: Settings) -> AsyncIterator[ChorusChannelsPlugin]:
    """A running plugin with the publisher installed, for processes without the web app (``chorus worker``,
    CLI commands that post or emit hooks), so their events reach the web replicas' sockets."""
    plugin = build_plugin(settings)
    async with plugin:
        publisher = install_publisher(plugin)
        try:
            yield plugin
        finally:
            if config.current.publisher is publisher:
                config.set_publisher(None)
