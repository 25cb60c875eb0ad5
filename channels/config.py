"""The channels domain's process-wide parts: limits, the per-member rate limiter, and where events are published.

``configure(settings)`` is called by ``channels.domain.parts``; tests call it directly. Services read it; nothing
here imports Litestar (the fan-out module installs a publisher that does).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from workspace.errors import RateLimited
from workspace.settings import LimitSettings

log = logging.getLogger("chorus.channels")
Publisher = Callable[[int, bytes], None]
"""``publish(channel_id, event_bytes)``: must not block; the database is the truth, so a lost event is tolerable."""


class TokenBucket:
    """Per-member token buckets: ``rate`` tokens a second up to ``burst``. Per process (see PROTOCOL.md)."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[int, tuple[float, float]] = {}

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
            raise RateLimited(f"{who} is posting too fast: the limit is {self.rate:g} posts/s with bursts of "
                              f"{self.burst:g}; retry in {retry:.2f} s", retry_after=retry)
        self._buckets[key] = (tokens - 1.0, now)
        if len(self._buckets) > 200_000:  # forget idle members so the map stays bounded
            self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < self.burst / self.rate}

    def refund(self, key: int) -> None:
        tokens, last = self._buckets.get(key, (self.burst, self.clock()))
        self._buckets[key] = (min(self.burst, tokens + 1.0), last)


def _drop(channel_id: int, data: bytes) -> None:
    """The default publisher before the app (or a worker) installs one: events go nowhere."""


@dataclass
class ChannelsConfig:
    limits: LimitSettings = field(default_factory=LimitSettings)
    bucket: TokenBucket = field(default_factory=lambda: TokenBucket(LimitSettings().post_rate_per_s,
                                                                    LimitSettings().post_burst))
    publisher: Publisher = _drop


current = ChannelsConfig()


def configure(limits: LimitSettings, clock: Callable[[], float] = time.monotonic) -> ChannelsConfig:
    """Apply ``limits`` (a fresh rate limiter too); keeps the installed publisher."""
    current.limits = limits
    current.bucket = TokenBucket(limits.post_rate_per_s, limits.post_burst, clock)
    return current


def set_publisher(publisher: Publisher | None) -> None:
    current.publisher = publisher or _drop


def publish(channel_id: int, data: bytes) -> None:
    try:
        current.publisher(channel_id, data)
    except Exception:  # the post is committed; subscribers catch up from the database by seq
        log.exception("publishing an event for channel %s failed", channel_id)
