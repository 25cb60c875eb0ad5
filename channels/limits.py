"""Limits shared by every replica through Redis (when the broker is Redis): the per-member write budgets and the
per-credential count of open sockets. Each is one Lua script, so a check and its update are atomic across
replicas; Redis's own clock (``TIME``) times them, so replicas need no synchronised clocks.

When Redis fails, each falls back to this process's count (a replica then allows its own budget until Redis is
back) and logs it once; nothing is refused because the limiter is down.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from channels.config import TokenBucket

log = logging.getLogger("chorus.channels.limits")

_BUCKET = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local ok = 1
local retry = 0
if cost > 0 and tokens < cost then
  ok = 0
  retry = (cost - tokens) / rate
else
  tokens = math.min(burst, tokens - cost)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {ok, tostring(retry)}
"""
"""A token bucket: take ``cost`` tokens (a negative cost refunds); returns ``{1, 0}`` or ``{0, retry_after}``."""

_OPEN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local n = redis.call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[1]) then
  return n
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3])) + 1)
return -1
"""
"""A socket opens if fewer than ARGV[1] are held (entries expire unless refreshed); returns -1, or how many are."""

_REFRESH = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], 'XX', now + tonumber(ARGV[1]), ARGV[i + 1])
  redis.call('EXPIRE', KEYS[i], math.ceil(tonumber(ARGV[1])) + 1)
end
return #KEYS
"""

SOCKET_TTL_S = 90.0
"""A replica that dies cannot take its sockets off the count: each entry expires unless its replica refreshes it
(every :data:`REFRESH_EVERY_S`), so a crashed replica's sockets stop counting within this time."""
REFRESH_EVERY_S = 30.0


class SharedBuckets:
    """The members' write budgets in Redis (``config.Shared``): the same bucket for a member on every replica."""

    def __init__(self, redis: Any, namespace: str) -> None:
        self.redis = redis
        self.namespace = namespace
        self.script = redis.register_script(_BUCKET)
        self.failing = False

    async def _run(self, bucket: TokenBucket, key: int, cost: int) -> tuple[bool, float] | None:
        try:
            ok, retry = await self.script(keys=[f"{self.namespace}:rl:{bucket.name}:{key}"],
                                          args=[repr(bucket.rate), repr(bucket.burst), cost])
        except Exception as exc:
            if not self.failing:
                log.warning("Redis rate limits unavailable (%s: %s); each replica counts on its own until it is "
                            "back", type(exc).__name__, exc)
            self.failing = True
            return None
        if self.failing:
            log.warning("Redis rate limits are back; the replicas share them again")
        self.failing = False
        return bool(int(ok)), float(retry)

    async def take(self, bucket: TokenBucket, key: int, who: str) -> None:
        got = await self._run(bucket, key, 1)
        if got is None:
            bucket.take(key, who)
        elif not got[0]:
            raise bucket.refusal(who, got[1])

    async def refund(self, bucket: TokenBucket, key: int) -> None:
        if await self._run(bucket, key, -1) is None:
            bucket.refund(key)


class SocketCount:
    """Open sockets per credential (an agent token, a person's session), at most ``cap`` (0: no cap). In Redis
    when there is one (counted across replicas), else in this process."""

    def __init__(self, cap: int, redis: Any = None, namespace: str = "") -> None:
        self.cap = cap
        self.redis = redis
        self.namespace = namespace
        self.local: dict[str, set[str]] = {}
        self.held: dict[str, str] = {}  # socket id -> its Redis key (to refresh and release)
        self._open = redis.register_script(_OPEN) if redis is not None else None
        self._refresh = redis.register_script(_REFRESH) if redis is not None else None
        self.refreshed = time.monotonic()

    def _key(self, credential: str) -> str:
        return f"{self.namespace}:socks:{credential}"

    async def acquire(self, credential: str) -> str | None:
        """A socket id for a new socket of ``credential``, or None when it already holds ``cap`` sockets."""
        sid = uuid.uuid4().hex
        if self.cap <= 0:
            return sid
        if self._open is not None:
            try:
                held = int(await self._open(keys=[self._key(credential)], args=[self.cap, sid, SOCKET_TTL_S]))
            except Exception as exc:
                log.warning("Redis socket count unavailable (%s); counting this replica's sockets only", exc)
            else:
                if held >= 0:
                    return None
                self.held[sid] = self._key(credential)
                self.local.setdefault(credential, set()).add(sid)
                return sid
        mine = self.local.setdefault(credential, set())
        if len(mine) >= self.cap:
            return None
        mine.add(sid)
        return sid

    async def release(self, credential: str, sid: str) -> None:
        mine = self.local.get(credential)
        if mine is not None:
            mine.discard(sid)
            if not mine:
                del self.local[credential]
        key = self.held.pop(sid, None)
        if key is not None and self.redis is not None:
            try:
                await self.redis.zrem(key, sid)
            except Exception as exc:  # the entry expires by itself
                log.info("could not release socket %s in Redis: %s", sid, exc)

    async def refresh(self) -> None:
        """Keep this replica's entries alive (called every :data:`REFRESH_EVERY_S` by the hub)."""
        if self._refresh is None or not self.held:
            return
        items = list(self.held.items())
        for start in range(0, len(items), 1000):
            part = items[start:start + 1000]
            try:
                await self._refresh(keys=[k for _, k in part], args=[SOCKET_TTL_S, *[s for s, _ in part]])
            except Exception as exc:
                log.info("could not refresh socket counts in Redis: %s", exc)
                return
