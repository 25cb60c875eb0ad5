"""The mining lease: exactly one process mines a workspace at a time. One row per workspace
(``insights_mining_lease``) is taken in one statement, renewed while its holder mines, then kept (the background
job, which mines again before it expires) or released; any other process skips its pass while it is held, and
takes over once it expires (its holder died)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator

from workspace import db as dbmod
from workspace.errors import Unavailable

LEASE_S = 120.0
"""How long a lease lasts without renewal; its holder renews it every third of that while it mines."""
MINER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
"""This process's name as a lease holder."""
log = logging.getLogger("chorus.insights")


class LeaseLost(Unavailable):
    """The lease passed to another process in the middle of a pass (this one could not renew it in time): the pass
    stops; the new holder mines."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def take(workspace_id: int, holder: str, seconds: float) -> str | None:
    """Take (or renew) the workspace's lease for ``seconds``: ``None`` when ``holder`` has it now, else the name
    of the process that holds it. One statement: concurrent takers cannot both win."""
    database = dbmod.current()
    now = _now()
    async with database.transaction():
        won = await database.fetch(
            "INSERT INTO insights_mining_lease (workspace, holder, expires_at) VALUES ({}, {}, {}) "
            "ON CONFLICT (workspace) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
            "WHERE insights_mining_lease.holder = excluded.holder OR insights_mining_lease.expires_at < {} "
            "RETURNING holder", workspace_id, holder, now + dt.timedelta(seconds=seconds), now)
        if won:
            return None
        rows = await database.fetch("SELECT holder FROM insights_mining_lease WHERE workspace = {}", workspace_id)
    return str(rows[0]["holder"]) if rows else ""


async def release(workspace_id: int, holder: str) -> None:
    """Give the lease up (only ``holder``'s): the next process that mines takes it at once."""
    database = dbmod.current()
    async with database.transaction():
        await database.fetch("UPDATE insights_mining_lease SET expires_at = {} WHERE workspace = {} AND holder = {}",
                             _now() - dt.timedelta(seconds=1), workspace_id, holder)


@contextlib.asynccontextmanager
async def held(workspace_id: int, holder: str, *, keep_s: float = 0.0,
               lease_s: float = LEASE_S) -> AsyncIterator[str | None]:
    """Hold the lease around a pass: yields ``None`` when ``holder`` has it (renewed every ``lease_s / 3`` until
    the block ends), else the current holder's name (skip the pass). Afterwards the lease is kept ``keep_s`` more
    seconds (``0``: released). When the lease cannot be kept (another process took it after it expired), the block
    is cancelled and :class:`LeaseLost` raised."""
    other = await take(workspace_id, holder, lease_s)
    if other is not None:
        yield other
        return
    owner = asyncio.current_task()
    assert owner is not None
    lost: list[str] = []

    async def renew() -> None:
        while True:
            await asyncio.sleep(lease_s / 3)
            try:
                now_held_by = await take(workspace_id, holder, lease_s)
            except Exception:  # the database is down: keep trying; the lease may lapse and pass to another process
                log.warning("mining lease of workspace %s: renewal failed; retrying", workspace_id, exc_info=True)
                continue
            if now_held_by is not None:
                lost.append(now_held_by)
                owner.cancel()
                return

    renewer = asyncio.create_task(renew(), name=f"mining-lease-{workspace_id}")
    finished = False
    try:
        yield None
        finished = True
    except asyncio.CancelledError:
        if lost and owner.uncancel() == 0:
            raise LeaseLost(f"the mining lease of workspace {workspace_id} passed to {lost[0]} during a pass; "
                            "that process mines now") from None
        raise
    finally:
        renewer.cancel()
        await asyncio.gather(renewer, return_exceptions=True)
        if not lost:
            try:  # a failed pass gives the lease up, so that the next try (here or elsewhere) need not wait
                await (take(workspace_id, holder, keep_s) if finished and keep_s > 0 else release(workspace_id, holder))
            except Exception:  # it lapses by itself
                log.warning("mining lease of workspace %s: could not keep or release it", workspace_id, exc_info=True)
