"""PostgreSQL transactions survive a lost connection: when the rollback (or commit) itself fails, the task's
current-transaction marker is cleared and the connection given back, so the task's next queries work. Piccolo 1.38
leaves the marker set (later queries then join a dead transaction on a released connection)."""

from __future__ import annotations

import asyncpg
import pytest

from tests.conftest import _admin
from workspace.db import Database
from workspace.settings import DatabaseSettings, Secret

# what a rollback on a dying connection raises depends on timing
LOST = (asyncpg.exceptions.ConnectionDoesNotExistError, asyncpg.exceptions.InterfaceError,
        asyncpg.exceptions.InternalClientError, OSError)


async def _lose_the_connection(url: str, db: Database, ending: str) -> None:
    async with db.transaction():
        pid = (await db.fetch("SELECT pg_backend_pid() AS pid"))[0]["pid"]
        await _admin(url, f"SELECT pg_terminate_backend({int(pid)})")
        if ending == "rollback":
            raise RuntimeError("the block failed; its rollback meets a dead connection")


@pytest.mark.parametrize("ending", ["rollback", "commit"])
async def test_the_task_can_query_again_after_its_transaction_lost_the_connection(postgres_url: str,
                                                                                   ending: str) -> None:
    db = Database(DatabaseSettings(url=Secret(postgres_url)))
    await db.start()
    try:
        with pytest.raises((RuntimeError, *LOST)):
            await _lose_the_connection(postgres_url, db, ending)
        assert not db.in_transaction()
        async with db.transaction():
            assert (await db.fetch("SELECT 1 AS one"))[0]["one"] == 1
        assert (await db.fetch("SELECT 2 AS two"))[0]["two"] == 2
    finally:
        await db.stop()
