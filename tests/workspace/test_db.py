"""The SQLite engine's connection reuse: what goes back to the idle list, what is closed, and nothing leaks."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from workspace.db import Database, _SQLiteEngine
from workspace.settings import DatabaseSettings, Secret


@pytest.fixture
async def database(tmp_path: Path) -> Any:
    db = Database(DatabaseSettings(url=Secret(f"sqlite:///{tmp_path / 'pool.db'}")))
    await db.start()
    await db.fetch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    yield db
    await db.stop()


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[aiosqlite.Connection]:
    """Every connection the engine opens, in order."""
    seen: list[aiosqlite.Connection] = []
    connect = aiosqlite.connect

    def counting(*args: Any, **kwargs: Any) -> Any:
        connection = connect(*args, **kwargs)
        seen.append(connection)
        return connection

    monkeypatch.setattr(aiosqlite, "connect", counting)
    return seen


def engine_of(db: Database) -> _SQLiteEngine:
    assert isinstance(db.engine, _SQLiteEngine)
    return db.engine


async def test_queries_and_transactions_reuse_one_connection(database: Database,
                                                             opened: list[aiosqlite.Connection]) -> None:
    for i in range(10):
        await database.fetch("INSERT INTO t (v) VALUES ({})", f"row {i}")
        async with database.transaction():
            await database.fetch("UPDATE t SET v = v || '!' WHERE id = {}", i + 1)
    assert len(opened) <= 1
    rows = await database.fetch("SELECT count(*) AS n FROM t WHERE v LIKE '%!'")
    assert rows == [{"n": 10}]


async def test_a_rolled_back_transaction_leaves_nothing_behind(database: Database) -> None:
    async def abort() -> None:
        async with database.transaction():
            await database.fetch("INSERT INTO t (v) VALUES ({})", "gone")
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        await abort()
    assert await database.fetch("SELECT v FROM t") == []
    idle = engine_of(database)._idle
    assert idle and not any(c.in_transaction for c in idle)


async def test_a_connection_still_in_a_transaction_is_closed_not_reused(database: Database) -> None:
    engine = engine_of(database)
    connection = await engine.get_connection()
    await connection.execute("BEGIN")
    await engine.release(connection)
    assert connection not in engine._idle
    assert connection._connection is None  # closed: its open transaction rolled back with it


async def test_concurrent_writers_serialise_and_all_commit(database: Database) -> None:
    async def write(i: int) -> None:
        async with database.transaction():
            await database.fetch("INSERT INTO t (v) VALUES ({})", f"w{i}")
            await asyncio.sleep(0)

    await asyncio.gather(*(write(i) for i in range(20)))
    assert await database.fetch("SELECT count(*) AS n FROM t") == [{"n": 20}]
    assert len(engine_of(database)._idle) <= engine_of(database).max_idle


async def test_stop_closes_every_idle_connection_and_later_queries_do_not_pool(database: Database) -> None:
    engine = engine_of(database)
    async with database.transaction():
        await database.fetch("SELECT 1")
    idle = list(engine._idle)
    assert idle
    await database.stop()
    assert engine._idle == [] and all(c._connection is None for c in idle)
    await database.fetch("SELECT 1")  # a stray query after stop still works, on a connection it closes
    assert engine._idle == []
    await database.start()


@pytest.mark.parametrize("statement", ["PRAGMA foreign_keys", "BEGIN", "INSERT", "COMMIT", "ROLLBACK"])
@pytest.mark.parametrize("pooling", [True, False])
async def test_a_cancel_at_any_statement_leaks_no_connection(database: Database, monkeypatch: pytest.MonkeyPatch,
                                                             statement: str, pooling: bool) -> None:
    """A bounded shutdown cancels tasks mid-transaction. The cancel is delivered just as ``statement`` completes;
    with warnings as errors, a connection left unclosed fails the test when it is collected."""
    engine = engine_of(database)
    engine.pooling = pooling
    await engine.close_idle()  # so that the transaction opens a connection (and runs its PRAGMA)
    execute, fetchall = aiosqlite.Connection.execute, aiosqlite.Connection.execute_fetchall

    async def cancelled_after(run: Any, sql: str) -> Any:
        result = await run
        if sql.startswith(statement):
            raise asyncio.CancelledError
        return result

    monkeypatch.setattr(aiosqlite.Connection, "execute",
                        lambda self, sql, *a: cancelled_after(execute(self, sql, *a), sql))
    monkeypatch.setattr(aiosqlite.Connection, "execute_fetchall",
                        lambda self, sql, *a: cancelled_after(fetchall(self, sql, *a), sql))

    async def writer() -> None:
        async with database.transaction():
            await database.fetch("INSERT INTO t (v) VALUES ({})", "maybe")
            if statement == "ROLLBACK":
                raise RuntimeError("roll back")

    with pytest.raises((asyncio.CancelledError, RuntimeError)):
        await writer()
    monkeypatch.undo()
    await asyncio.sleep(0.05)  # a discarded connection's thread closes it
    gc.collect()
    expected = 1 if statement == "COMMIT" else 0  # the COMMIT ran; only its answer was lost
    assert await database.fetch("SELECT count(*) AS n FROM t") == [{"n": expected}]
    assert not any(c.in_transaction for c in engine._idle)
