"""The channels domain's process-wide parts: limits, the per-member rate limiters, and where events are published.

``configure(settings)`` is called by ``channels.domain.parts``; tests call it directly. Services read it; nothing
here imports Litestar (the fan-out module installs a publisher that does).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from workspace.errors import RateLimited
from workspace.settings import LimitSettings

log = logging.getLogger("chorus.channels")
Publisher = Callable[[int, bytes], None]
"""``publish(channel_id, event_bytes)``: must not block; the database is the truth, so a lost event is tolerable."""


class TokenBucket:
    """Per-member token buckets: ``rate`` tokens a second up to ``burst``, in this process. With a Redis broker the
    buckets live in Redis instead (:class:`channels.limits.SharedBuckets`, through :func:`take`) and this one is
    the fallback while Redis fails. A bucket on its own clock (the runtime's simulated one) stays local."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic,
                 name: str = "posts", doing: str = "posting") -> None:
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self.name = name
        self.doing = doing
        self.local_only = clock is not time.monotonic
        self._buckets: dict[int, tuple[float, float]] = {}

    def refusal(self, who: str, retry: float) -> RateLimited:
        return RateLimited(f"{who} is {self.doing} too fast: the limit is {self.rate:g} {self.name}/s with bursts of "
                           f"{self.burst:g}; retry in {retry:.2f} s", retry_after=retry)

    def take(self, key: int, who: str) -> None:
        """Take one token or raise RateLimited saying when the next one is available."""
        if self.rate <= 0:
            return
        now = self.clock()
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1.0:
            retry = (1.0 - tokens) / self.rate
            self._buckets[key] = (tokens, now)
            raise self.refusal(who, retry)
        self._buckets[key] = (tokens - 1.0, now)
        if len(self._buckets) > 200_000:  # forget idle members so the map stays bounded
            self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < self.burst / self.rate}

    def refund(self, key: int) -> None:
        tokens, last = self._buckets.get(key, (self.burst, self.clock()))
        self._buckets[key] = (min(self.burst, tokens + 1.0), last)


class Shared(Protocol):
    """Buckets shared by every process (Redis): :class:`channels.limits.SharedBuckets`."""

    async def take(self, bucket: TokenBucket, key: int, who: str) -> None: ...

    async def refund(self, bucket: TokenBucket, key: int) -> None: ...


def _drop(channel_id: int, data: bytes) -> None:
    """The default publisher before the app (or a worker) installs one: events go nowhere."""


def write_bucket(limits: LimitSettings, clock: Callable[[], float] = time.monotonic) -> TokenBucket:
    """The per-member budget of edits, deletes and reactions (posts have theirs: ``ChannelsConfig.bucket``)."""
    return TokenBucket(limits.write_rate_per_s, limits.write_burst, clock, name="writes",
                       doing="editing, deleting or reacting")


@dataclass
class ChannelsConfig:
    limits: LimitSettings = field(default_factory=LimitSettings)
    bucket: TokenBucket = field(default_factory=lambda: TokenBucket(LimitSettings().post_rate_per_s,
                                                                    LimitSettings().post_burst))
    writes: TokenBucket = field(default_factory=lambda: write_bucket(LimitSettings()))
    publisher: Publisher = _drop
    shared: Shared | None = None
    """Set while a Redis broker runs (the app's hub, a CLI command's publisher): buckets shared by the replicas."""


current = ChannelsConfig()


def configure(limits: LimitSettings, clock: Callable[[], float] = time.monotonic) -> ChannelsConfig:
    """Apply ``limits`` (fresh rate limiters too); keeps the installed publisher and shared buckets."""
    current.limits = limits
    current.bucket = TokenBucket(limits.post_rate_per_s, limits.post_burst, clock)
    current.writes = write_bucket(limits, clock)
    return current


async def take(bucket: TokenBucket, key: int, who: str) -> None:
    """Take one token of ``bucket`` for member ``key``: from the shared buckets when there are (every replica
    counts against one budget), else this process's. Raises RateLimited."""
    shared = current.shared
    if shared is None or bucket.local_only or bucket.rate <= 0:
        bucket.take(key, who)
    else:
        await shared.take(bucket, key, who)


async def refund(bucket: TokenBucket, key: int) -> None:
    shared = current.shared
    if shared is None or bucket.local_only or bucket.rate <= 0:
        bucket.refund(key)
    else:
        await shared.refund(bucket, key)


def set_publisher(publisher: Publisher | None) -> None:
    current.publisher = publisher or _drop


def publish(channel_id: int, data: bytes) -> None:
    try:
        current.publisher(channel_id, data)
    except Exception:  # the post is committed; subscribers catch up from the database by seq
        log.exception("publishing an event for channel %s failed", channel_id)
