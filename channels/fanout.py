"""Fan-out through Litestar's channels plugin (memory backend by default, Redis pub/sub for several replicas).

The plugin is extended, not replaced: subscribers flag backlog overflow (the socket then sends ``resync``), the
publish worker batches into one Redis round trip and survives broker errors, and the subscribe worker reconnects
after a broker restart and tells every subscriber to catch up from the database (nothing is lost: the database
is the truth, the broker only notifies). :class:`Control` carries logout, kill switch and relabel to the sockets of
every process; :func:`standalone` is the publisher of processes without the web app (CLI commands).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import msgspec
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.base import ChannelsBackend
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from litestar.channels.subscriber import BacklogStrategy, Subscriber

from channels import config, events, protocol
from channels.limits import SharedBuckets
from workspace import db as dbmod
from workspace.hooks import Handler, hooks
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


class CallbackSubscriber(Subscriber):
    """A subscriber that hands each event to ``callback`` at once, in the broker's receive loop, instead of
    queueing it for a task: one per channel and process, fanning out to that channel's sockets (see
    ``channels.ws_relay.ChannelRelay``). The callback must not block; it owns the backlog of each socket it feeds."""

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
    """Litestar's ChannelsPlugin with broker-failure handling, batched publishing and lifecycle callbacks.

    ``listen=False`` makes a publisher only (CLI commands): it subscribes to nothing, so it needs the broker only
    when it publishes, and a command that publishes nothing runs while the broker is down."""

    def __init__(self, backend: ChannelsBackend, *, max_backlog: int, namespace: str = "chorus",
                 backend_factory: Callable[[], ChannelsBackend] | None = None, redis: Any = None,
                 listen: bool = True) -> None:
        self.namespace = namespace
        self.control_channel = f"{namespace}.{CONTROL}"
        super().__init__(backend=backend, channels=[self.control_channel] if listen else [],
                         arbitrary_channels_allowed=True,
                         create_ws_route_handlers=False, subscriber_max_backlog=max_backlog,
                         subscriber_backlog_strategy="backoff", subscriber_class=OverflowSubscriber)
        self._factory = backend_factory
        self._redis = redis
        self.on_started: list[Callable[[], Awaitable[None]]] = []
        self.on_stopping: list[Callable[[], Awaitable[None]]] = []
        self.broker_ok = True
        self.reconnects = 0

    @property
    def redis(self) -> Any:
        """The Redis client of a Redis broker (None for the memory broker)."""
        return self._redis

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


def build_plugin(settings: Settings, *, listen: bool = True) -> ChorusChannelsPlugin:
    """The plugin for ``CHORUS_BROKER_URL``: memory:// (one process) or redis://host:port/db."""
    backlog = max(1, settings.limits.ws_backlog)
    namespace = broker_namespace(settings.database.url.reveal())
    if settings.broker.is_redis:
        from redis.asyncio import Redis

        redis = Redis.from_url(settings.broker.url.reveal(), socket_connect_timeout=5, health_check_interval=15)

        def factory() -> ChannelsBackend:
            return RedisChannelsPubSubBackend(redis=redis, key_prefix="CHORUS_CHANNELS")

        return ChorusChannelsPlugin(factory(), max_backlog=backlog, namespace=namespace, backend_factory=factory,
                                    redis=redis, listen=listen)
    return ChorusChannelsPlugin(MemoryChannelsBackend(), max_backlog=backlog, namespace=namespace, listen=listen)


def install_limits(plugin: ChorusChannelsPlugin) -> SharedBuckets | None:
    """With a Redis broker, the members' write budgets live in Redis (shared by the replicas); returns them (to
    uninstall later), or None with the memory broker (each process counts on its own)."""
    shared = SharedBuckets(plugin.redis, plugin.namespace) if plugin.redis is not None else None
    config.current.shared = shared
    return shared


def uninstall_limits(shared: SharedBuckets | None) -> None:
    if shared is not None and config.current.shared is shared:
        config.current.shared = None


def install_publisher(plugin: ChorusChannelsPlugin) -> Callable[[int, bytes], None]:
    """Route the services' events into ``plugin`` (returns the publisher, to uninstall it later)."""

    def publish(channel_id: int, data: bytes) -> None:
        plugin.publish(data, plugin.channel_name(channel_id))

    config.set_publisher(publish)
    return publish


Apply = Callable[[dict[str, Any]], Awaitable[None]]


def _ids(member_ids: Iterable[int] | None, member_id: int | None) -> list[int]:
    return [int(m) for m in (member_ids or ())] + ([int(member_id)] if member_id is not None else [])


MAILBOX_POLL_S = 0.2
"""How often a hub on the memory broker reads the control mailbox (a command from another process closes its
sockets within this, well inside the second PROTOCOL.md promises)."""
MAILBOX_KEEP_S = 600.0
REVOKED_CHUNK = 5000
"""Token hashes per revocation command (a bulk re-issue revokes one per agent)."""


async def mail(cmd: dict[str, Any]) -> None:
    """Leave ``cmd`` in the control mailbox (the database) for the hubs of other processes: how a CLI command or a
    worker reaches the embedded server's sockets when the broker is the in-process memory one."""
    database = dbmod.current()
    now = time.time()
    async with database.transaction():
        await database.fetch("INSERT INTO chorus_control_event (body, created_at) VALUES ({}, {})",
                             msgspec.json.encode(cmd).decode(), now)
        await database.fetch("DELETE FROM chorus_control_event WHERE created_at < {}", now - MAILBOX_KEEP_S)


async def read_mail(after_id: int | None) -> tuple[int, list[dict[str, Any]]]:
    """Commands left in the mailbox after ``after_id`` (None: none, only where the mailbox ends now)."""
    database = dbmod.current()
    if after_id is None:
        rows = await database.fetch("SELECT MAX(id) AS top FROM chorus_control_event")
        return int(rows[0]["top"] or 0), []
    rows = await database.fetch("SELECT id, body FROM chorus_control_event WHERE id > {} ORDER BY id", after_id)
    if not rows:
        return after_id, []
    return int(rows[-1]["id"]), [msgspec.json.decode(r["body"]) for r in rows]


class Control:
    """Logout, kill switch, relabel and token revocation, as seen by one process: the ``session.ended``,
    ``member.deactivated``, ``member.label_changed`` and ``agent_token.revoked`` hooks become commands on the
    broker's control channel, which the hub of every web process applies to its sockets (``channels.ws.Hub``). With
    the memory broker, which does not leave its process, commands also go to the control mailbox in the database,
    which such hubs read (:func:`mail`). In a web process ``apply`` (its hub's) applies a command here at once as
    well; a CLI command or a worker only publishes. A hook that a hub re-emits for a command it received
    (``remote=True``, so that this process's other handlers hear of it, e.g. sso's token cache) is not published
    again."""

    def __init__(self, plugin: ChorusChannelsPlugin, apply: Apply | None = None) -> None:
        self.plugin = plugin
        self.apply = apply
        self.origin = uuid.uuid4().hex  # a hub skips its own commands when the broker hands them back
        self.handlers: dict[str, Handler] = {
            "session.ended": self.on_session_ended, "member.deactivated": self.on_member_deactivated,
            "member.label_changed": self.on_label_changed, "agent_token.revoked": self.on_tokens_revoked}

    def install(self) -> None:
        for name, handler in self.handlers.items():
            hooks.on(name, handler)

    def uninstall(self) -> None:
        for name, handler in self.handlers.items():
            hooks.off(name, handler)

    async def broadcast(self, cmd: dict[str, Any]) -> None:
        """Apply here (when this process has sockets) and tell every other process through the broker."""
        cmd = {**cmd, "origin": self.origin}
        if self.apply is not None:
            await self.apply(cmd)
        self.plugin.publish(events.event(events.CONTROL, 0, 0, cmd), self.plugin.control_channel)
        if self.plugin.redis is None:
            try:
                await mail(cmd)
            except Exception as exc:  # this process's sockets are closed; others learn within the token cache's TTL
                log.warning("could not leave the %s command in the control mailbox: %s", cmd.get("hook"), exc)

    async def on_session_ended(self, session_id: str | None = None, remote: bool = False, **_: Any) -> None:
        if session_id and not remote:
            await self.broadcast({"hook": "session.ended", "session_ids": [str(session_id)],
                                  "code": protocol.CLOSE_REVOKED, "reason": "session ended; sign in again"})

    async def on_member_deactivated(self, member_ids: Iterable[int] | None = None, member_id: int | None = None,
                                    remote: bool = False, **_: Any) -> None:
        ids = _ids(member_ids, member_id)
        if ids and not remote:
            await self.broadcast({"hook": "member.deactivated", "member_ids": ids, "code": protocol.CLOSE_REVOKED,
                                  "reason": "member deactivated"})

    async def on_tokens_revoked(self, token_hashes: Iterable[str] | None = None, remote: bool = False,
                                **_: Any) -> None:
        """Revoked (or rotated) tokens: close the sockets opened with them; the agent's sockets on a newer token
        stay open."""
        hashes = [str(h) for h in token_hashes or ()]
        if not hashes or remote:
            return
        for start in range(0, len(hashes), REVOKED_CHUNK):
            await self.broadcast({"hook": "agent_token.revoked", "token_hashes": hashes[start:start + REVOKED_CHUNK],
                                  "code": protocol.CLOSE_REVOKED,
                                  "reason": "token revoked or rotated; use the new token or ask an admin for one"})

    async def on_label_changed(self, member_ids: Iterable[int] | None = None, member_id: int | None = None,
                               remote: bool = False, **_: Any) -> None:
        ids = _ids(member_ids, member_id)
        if ids and not remote:
            await self.broadcast({"hook": "member.label_changed", "member_ids": ids,
                                  "code": protocol.CLOSE_ACCESS_CHANGED,
                                  "reason": "clearance changed; reconnect to re-check access"})


@contextlib.asynccontextmanager
async def standalone(settings: Settings) -> AsyncIterator[ChorusChannelsPlugin]:
    """A running publisher-only plugin for processes without the web app (CLI commands): the services' events and
    the logout, kill-switch and relabel hooks (:class:`Control`) reach the web replicas' sockets through the broker.
    Leaving it waits until what was published has gone to the broker. (``chorus worker`` runs the app's lifespan,
    whose hub does the same.)"""
    plugin = build_plugin(settings, listen=False)
    async with plugin:
        publisher = install_publisher(plugin)
        shared = install_limits(plugin)
        control = Control(plugin)
        control.install()
        try:
            yield plugin
        finally:
            control.uninstall()
            uninstall_limits(shared)
            if config.current.publisher is publisher:
                config.set_publisher(None)
