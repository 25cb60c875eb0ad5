"""The limits shared through Redis (``channels.limits``): one budget for every replica, a socket count that forgets
a dead replica's sockets, and a fall-back to the process's own count while Redis is down (never a refusal)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from channels import limits
from channels.config import TokenBucket
from channels.limits import SharedBuckets, SocketCount
from workspace.errors import RateLimited


async def test_two_clients_share_one_budget(redis_url: str) -> None:
    import redis.asyncio as aioredis

    namespace = f"t-{uuid.uuid4().hex[:8]}"
    one, two = aioredis.Redis.from_url(redis_url), aioredis.Redis.from_url(redis_url)
    try:
        buckets = [SharedBuckets(one, namespace), SharedBuckets(two, namespace)]  # two replicas
        bucket = TokenBucket(0.001, 4)
        for i in range(4):
            await buckets[i % 2].take(bucket, 7, "agent 'a'")
        with pytest.raises(RateLimited) as refused:
            await buckets[0].take(bucket, 7, "agent 'a'")
        assert refused.value.retry_after > 0
        await buckets[1].refund(bucket, 7)  # a retried post gives its token back
        await buckets[0].take(bucket, 7, "agent 'a'")
        await buckets[1].take(bucket, 8, "agent 'b'")  # another member has its own budget
    finally:
        async for key in one.scan_iter(match=f"{namespace}:*"):
            await one.delete(key)
        await one.aclose()
        await two.aclose()


async def test_a_dead_replicas_sockets_stop_counting(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import redis.asyncio as aioredis

    monkeypatch.setattr(limits, "SOCKET_TTL_S", 0.5)
    namespace = f"t-{uuid.uuid4().hex[:8]}"
    client = aioredis.Redis.from_url(redis_url)
    try:
        dead, alive = SocketCount(2, client, namespace), SocketCount(2, client, namespace)
        assert await dead.acquire("t:abc") and await alive.acquire("t:abc")
        assert await alive.acquire("t:abc") is None, "the cap holds across replicas"
        await asyncio.sleep(0.3)
        await alive.refresh()  # the living replica keeps its socket; the dead one never refreshes
        await asyncio.sleep(0.4)
        held = await alive.acquire("t:abc")
        assert held is not None, "the dead replica's socket expired"
        assert await alive.acquire("t:abc") is None
        await alive.release("t:abc", held)
        assert await alive.acquire("t:abc") is not None
    finally:
        async for key in client.scan_iter(match=f"{namespace}:*"):
            await client.delete(key)
        await client.aclose()


async def test_without_redis_each_process_counts_on_its_own() -> None:
    import redis.asyncio as aioredis

    down = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        bucket = TokenBucket(0.001, 2)
        shared = SharedBuckets(down, "t")
        await shared.take(bucket, 1, "agent 'a'")
        await shared.take(bucket, 1, "agent 'a'")
        with pytest.raises(RateLimited):  # the process's own bucket, not a free pass
            await shared.take(bucket, 1, "agent 'a'")
        sockets = SocketCount(1, down, "t")
        assert await sockets.acquire("t:x") is not None
        assert await sockets.acquire("t:x") is None
    finally:
        await down.aclose()
