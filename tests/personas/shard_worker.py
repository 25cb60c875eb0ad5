"""A shard worker for the fault tests and the scale-out bench: ``python -m tests.personas.shard_worker URL
[--chunk N] [--delay S] [--stall S] [--concurrency N]`` carries out shards from the queue like ``chorus runs work``,
with a provider that answers like an LLM endpoint: each turn waits ``--delay`` seconds (the endpoint's latency,
awaited, so that up to ``--concurrency`` calls are in flight in this process, as ``CHORUS_LLM_CONCURRENCY`` allows
an endpoint provider), then writes the offline writer's text (``--delay 0``: the offline writer itself). Small
chunks let a test kill it mid-shard."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from channels import config
from personas import domain
from personas.llm.offline import OfflineProvider
from personas.runtime import shards
from personas.runtime.queue import ShardQueue, stop_requested
from workspace.db import Database
from workspace.settings import DatabaseSettings, LimitSettings, Secret


class SlowEndpoint(OfflineProvider):
    """The offline writer's answers at an endpoint's pace. Not named "offline", so the executor treats it as it
    treats an endpoint provider: calls awaited concurrently under the process's limit, not computed in a thread."""

    name = "slow-endpoint"

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    async def complete(self, request: Any) -> Any:
        await asyncio.sleep(self.delay)
        return self.compose(request)


async def main(url: str, chunk: int, delay: float, stall: float, concurrency: int) -> None:
    shards.CHUNK = chunk
    db = Database(DatabaseSettings(url=Secret(url)))
    await db.start()
    domain.register_hooks()
    # no rate limit: the run's outcome must not depend on timing
    config.configure(LimitSettings(post_rate_per_s=0, write_rate_per_s=0))
    provider = SlowEndpoint(delay) if delay > 0 else OfflineProvider()
    queue = ShardQueue(url, stall_s=stall, concurrency=2,
                       executor=shards.Executor(provider, asyncio.Semaphore(concurrency), stop_requested))
    try:
        await queue.work()
    finally:
        await db.stop()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--chunk", type=int, default=shards.CHUNK)
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--stall", type=float, default=30.0)
    p.add_argument("--concurrency", type=int, default=8, help="provider calls in flight (CHORUS_LLM_CONCURRENCY)")
    a = p.parse_args()
    asyncio.run(main(a.url, a.chunk, a.delay, a.stall, a.concurrency))
