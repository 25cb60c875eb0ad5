"""What the insights domain contributes to the app (collected by workspace/app.py): the insights and digests API,
the pages (home digest, insight list and detail), ``chorus insights ...``, and two background jobs: incremental
mining every minute and the daily digests (in the server when embedded, else in ``chorus worker``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from insights import pages
from insights.cli import COMMANDS
from insights.controllers import ROUTES
from workspace import db as dbmod
from workspace.domain import DomainParts, Job
from workspace.settings import Settings

MINE_INTERVAL_S = 60.0
DIGEST_INTERVAL_S = 3600.0
"""How often the digest job looks for people without a daily digest from the last day (writing one is cheap)."""
RETRY_FIRST_S = 1.0
"""The pause after a failed pass; it doubles with each failure in a row, up to the job's interval."""
log = logging.getLogger("chorus.insights")


async def _workspaces() -> list[int]:
    rows = await dbmod.current().fetch("SELECT id FROM chorus_workspace ORDER BY id")
    return [int(r["id"]) for r in rows]


def periodic(name: str, step: Callable[[int], Awaitable[object]], interval_s: float,
             on_stop: Callable[[list[int]], Awaitable[object]] | None = None) -> Job:
    """A loop running ``step(workspace_id)`` for every workspace, then sleeping ``interval_s`` (immediately again
    while a step reports more to do). A failing pass (a lost database connection, a bug) is logged and retried
    after a pause that doubles from ``RETRY_FIRST_S`` up to ``interval_s``; it never ends the job. ``on_stop``
    gets the workspaces seen when the job is cancelled (the miner gives its leases up)."""

    async def job() -> None:
        failures = 0
        seen: list[int] = []
        try:
            while True:
                busy = False
                try:
                    seen = await _workspaces()
                    for ws in seen:
                        outcome = await step(ws)
                        busy = busy or bool(getattr(outcome, "more", False))
                    failures = 0
                except asyncio.CancelledError:
                    raise
                except Exception:
                    failures += 1
                    pause = min(interval_s, RETRY_FIRST_S * 2 ** (failures - 1))
                    log.exception("%s: pass failed (%d in a row); retrying in %.0f s", name, failures, pause)
                    await asyncio.sleep(pause)
                    continue
                await asyncio.sleep(0 if busy else interval_s)
        finally:
            if on_stop is not None and seen:
                try:
                    await on_stop(seen)
                except Exception:
                    log.warning("%s: clean-up on stop failed", name, exc_info=True)

    job.__name__ = name
    return job


def mining_job(interval_s: float = MINE_INTERVAL_S) -> Job:
    """Incremental mining of every workspace every ``interval_s`` seconds, by whichever process holds the
    workspace's mining lease (:mod:`insights.lease`): it keeps the lease from pass to pass, the others skip."""
    from insights import lease
    from insights.services_mining import mine_workspace
    from workspace.services import system_actor

    async def step(ws: int) -> object:
        return await mine_workspace(await system_actor(ws, handle="miner"), keep_s=interval_s + lease.LEASE_S)

    async def give_up(workspaces: list[int]) -> None:
        for ws in workspaces:
            await lease.release(ws, lease.MINER)

    return periodic("insights-mining", step, interval_s, on_stop=give_up)


def digest_job(interval_s: float = DIGEST_INTERVAL_S) -> Job:
    """Daily digests for every active person, checked every ``interval_s`` seconds."""
    from insights.services_digests import daily_digests

    return periodic("insights-digests", daily_digests, interval_s)


def parts(settings: Settings) -> DomainParts:
    async def on_startup() -> None:
        from insights.services_mining import forget_state

        forget_state()  # a fresh process (or a test's fresh database) starts with no miner

    async def on_shutdown() -> None:
        from insights.services_mining import shutdown_pool

        shutdown_pool()  # the extraction worker processes end with this one

    return DomainParts(name="insights", route_handlers=[*ROUTES, pages.router()], cli_commands=COMMANDS,
                       on_startup=[on_startup], on_shutdown=[on_shutdown],
                       background_jobs=[mining_job(), digest_job()],
                       template_dirs=[Path(__file__).parent / "templates"])
