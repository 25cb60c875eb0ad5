"""What the agent runtime adds to the personas domain (collected by personas/domain.py): the runs and budgets API,
the runs page, ``chorus simulate`` and ``chorus demo``, and the background job that executes runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

from personas import pages as admin_pages
from personas.runtime import cli, controllers, pages
from personas.runtime.queue import ShardQueue, stop_requested
from personas.runtime.runs import RuntimeJob
from personas.runtime.shards import Executor
from workspace.domain import DomainParts
from workspace.settings import Settings


def queued(settings: Settings) -> bool:
    """Whether rounds go to the workers through the queue (PostgreSQL) rather than being carried out inline."""
    mode = settings.runtime.shards
    return mode == "queue" or (mode == "auto" and settings.database.is_postgres)


def parts(settings: Settings) -> DomainParts:
    queue: ShardQueue | None = None
    if queued(settings):
        queue = ShardQueue(settings.database.url.reveal(), stall_s=settings.runtime.stall_s,
                           concurrency=max(1, settings.runtime.shard_concurrency))

    async def agent_runtime() -> None:
        """Executes the runs started through the admin API (embedded: in the server; at scale: chorus worker):
        plans their rounds and hands the shards over (to the queue when there is one)."""
        from personas.llm import make_provider

        options = cli.runtime_options(settings, None)
        options.dispatch = queue
        await RuntimeJob(lambda: make_provider(settings.llm), options)()

    async def shard_worker() -> None:
        """Carries out the shards of any run's rounds that the queue hands this process."""
        from personas.llm import close_provider, make_provider

        assert queue is not None
        provider = make_provider(settings.llm)
        queue.executor = Executor(provider, asyncio.Semaphore(max(1, settings.llm.concurrency)), stop_requested)
        try:
            await queue.work()
        finally:
            await close_provider(provider)

    return DomainParts(
        name="personas.runtime",
        route_handlers=[*controllers.ROUTES, admin_pages.router(pages.HANDLERS)],
        cli_commands=cli.COMMANDS,
        background_jobs=[agent_runtime, shard_worker] if queue is not None else [agent_runtime],
        template_dirs=[Path(__file__).parent / "templates"],
    )
