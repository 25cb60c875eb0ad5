"""A shard worker for the fault tests: ``python -m tests.personas.shard_worker URL [--chunk N] [--delay S]
[--stall S]`` carries out shards from the queue like ``chorus runs work``, with small chunks and a provider slowed
down by ``--delay`` seconds a turn, so that a test can kill it in the middle of a shard."""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from channels import config
from personas import domain
from personas.llm.offline import OfflineProvider
from personas.runtime import shards
from personas.runtime.queue import ShardQueue, stop_requested
from workspace.db import Database
from workspace.settings import DatabaseSettings, LimitSettings, Secret


class SlowOffline(OfflineProvider):
    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def compose(self, request: Any) -> Any:
        time.sleep(self.delay)
        return super().compose(request)


async def main(url: str, chunk: int, delay: float, stall: float) -> None:
    shards.CHUNK = chunk
    db = Database(DatabaseSettings(url=Secret(url)))
    await db.start()
    domain.register_hooks()
    # no rate limit: the run's outcome must not depend on timing
    config.configure(LimitSettings(post_rate_per_s=0, write_rate_per_s=0))
    queue = ShardQueue(url, stall_s=stall, concurrency=2,
                       executor=shards.Executor(SlowOffline(delay), asyncio.Semaphore(8), stop_requested))
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
    a = p.parse_args()
    asyncio.run(main(a.url, a.chunk, a.delay, a.stall))
