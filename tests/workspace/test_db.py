"""The SQLite engine's connection reuse: what goes back to the idle list, what is closed, and nothing leaks."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from workspace.db import Database
from workspace.db_sqlite import PooledSQLiteEngine, PooledTransaction
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


def engine_of(db: Database) -> PooledSQLiteEngine:
    assert isinstance(db.engine, PooledSQLiteEngine)
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
    script = aiosqlite.Connection.executescript
    # BEGIN goes to the connection's thread when another process holds the write lock: the path a cancel can hit
    monkeypatch.setattr(PooledTransaction, "_begin_inline", lambda self: False)

    async def cancelled_after(run: Any, sql: str) -> Any:
        result = await run
        if sql.startswith(statement):
            raise asyncio.CancelledError
        return result

    monkeypatch.setattr(aiosqlite.Connection, "execute",
                        lambda self, sql, *a: cancelled_after(execute(self, sql, *a), sql))
    monkeypatch.setattr(aiosqlite.Connection, "execute_fetchall",
                        lambda self, sql, *a: cancelled_after(fetchall(self, sql, *a), sql))
    monkeypatch.setattr(aiosqlite.Connection, "executescript",
                        lambda self, sql: cancelled_after(script(self, sql), sql))

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


@pytest.mark.parametrize(("rows", "busy_timeout_s"), [(3_000_000, 5.0), (10**12, 0.2)],
                         ids=["finishes", "interrupted-after-the-busy-timeout"])
async def test_stop_waits_for_the_thread_of_a_connection_cancelled_mid_statement(
        database: Database, opened: list[Any], rows: int, busy_timeout_s: float) -> None:
    """A cancelled statement keeps running in its connection's thread, which then answers the event loop; had the
    loop closed after stop() meanwhile, the thread would die of 'Event loop is closed'. stop() waits for it, and
    interrupts a statement that outlasts the busy timeout."""
    engine = engine_of(database)
    engine.busy_timeout_s = busy_timeout_s
    await engine.close_idle()
    slow = asyncio.create_task(database.fetch(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {}) SELECT count(*) FROM n", rows))
    await asyncio.sleep(0.05)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    [connection] = opened
    assert connection._thread.is_alive()  # still counting
    await database.stop()
    assert not connection._thread.is_alive()
    await database.start()


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The work each connection's thread was given (one entry per thread hop)."""
    seen: list[str] = []
    run: Any = aiosqlite.Connection._execute

    async def counting(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(str(args[0]) if args else getattr(fn, "__name__", "?"))
        return await run(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counting)
    return seen


async def test_a_short_transaction_runs_on_the_loop_thread_without_a_hop(database: Database, hops: list[str]) -> None:
    await database.fetch("SELECT 1")  # a pooled connection is open
    hops.clear()
    async with database.transaction(short=True):
        await database.fetch("INSERT INTO t (v) VALUES ({})", "a")
        rows = await database.fetch("SELECT count(*) AS n FROM t")
        await database.execute_many("INSERT INTO t (v) VALUES ({})", [("b",), ("c",)])
    assert rows == [{"n": 1}]
    assert hops == []  # BEGIN, the statements and COMMIT all ran inline
    async with database.transaction():
        await database.fetch("INSERT INTO t (v) VALUES ({})", "d")
    assert len(hops) == 2  # a normal transaction's statement and COMMIT go to the connection's thread
    assert await database.fetch("SELECT v FROM t ORDER BY id") == [{"v": v} for v in "abcd"]


async def test_a_failed_short_transaction_rolls_back_and_its_connection_is_reused(database: Database) -> None:
    async def fail() -> None:
        async with database.transaction(short=True):
            await database.fetch("INSERT INTO t (v) VALUES ({})", "gone")
            await database.fetch("INSERT INTO t (id, v) VALUES ({}, {})", 1, "duplicate id")

    with pytest.raises(Exception, match="UNIQUE"):
        await fail()
    assert await database.fetch("SELECT count(*) AS n FROM t") == [{"n": 0}]
    idle = engine_of(database)._idle
    assert idle and not any(c.in_transaction for c in idle)


async def test_begin_waits_off_the_loop_when_another_process_holds_the_write_lock(database: Database,
                                                                                   tmp_path: Path) -> None:
    other = aiosqlite.connect(tmp_path / "pool.db", isolation_level=None)  # stands in for another process
    async with other:
        await other.execute("BEGIN IMMEDIATE")
        await other.execute("INSERT INTO t (v) VALUES ('theirs')")

        async def write() -> None:
            async with database.transaction(short=True):
                await database.fetch("INSERT INTO t (v) VALUES ({})", "ours")

        task = asyncio.create_task(write())
        ticks = 0
        for _ in range(10):  # the loop keeps running while the transaction waits for the lock
            await asyncio.sleep(0.02)
            ticks += 1
        assert not task.done() and ticks == 10
        await other.execute("COMMIT")
        await asyncio.wait_for(task, 5)
    assert await database.fetch("SELECT v FROM t ORDER BY id") == [{"v": "theirs"}, {"v": "ours"}]


async def test_writers_of_one_process_take_turns_in_order(database: Database) -> None:
    order: list[int] = []

    async def write(i: int) -> None:
        async with database.transaction(short=i % 2 == 0):
            top = await database.fetch("SELECT COALESCE(MAX(id), 0) AS top FROM t")
            await asyncio.sleep(0)  # another writer would interleave here without the turn
            await database.fetch("INSERT INTO t (id, v) VALUES ({}, {})", top[0]["top"] + 1, f"w{i}")
            order.append(i)

    await asyncio.gather(*(write(i) for i in range(20)))
    assert order == list(range(20))
    assert await database.fetch("SELECT count(*) AS n FROM t") == [{"n": 20}]


async def test_a_writer_held_past_the_busy_timeout_fails_the_next_one_clearly(database: Database) -> None:
    engine = engine_of(database)
    engine.busy_timeout_s = 0.2
    release = asyncio.Event()

    async def hold() -> None:
        async with database.transaction():
            await database.fetch("INSERT INTO t (v) VALUES ({})", "held")
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0.05)
    with pytest.raises(Exception, match=r"database is locked.*CHORUS_DATABASE_BUSY_TIMEOUT_S"):
        async with database.transaction():
            await database.fetch("INSERT INTO t (v) VALUES ({})", "late")
    release.set()
    await holder
    async with database.transaction():  # the turn was handed back
        await database.fetch("INSERT INTO t (v) VALUES ({})", "next")
    assert await database.fetch("SELECT v FROM t ORDER BY id") == [{"v": "held"}, {"v": "next"}]


async def test_checkpoints_run_in_the_background_and_keep_the_wal_bounded(database: Database,
                                                                          tmp_path: Path) -> None:
    engine = engine_of(database)
    settings = await database.fetch("PRAGMA synchronous")
    assert settings == [{"synchronous": 1}]  # NORMAL on every pooled connection
    assert await database.fetch("PRAGMA wal_autocheckpoint") == [{"wal_autocheckpoint": 0}]
    for i in range(2000):
        async with database.transaction(short=True):
            await database.fetch("INSERT INTO t (v) VALUES ({})", "x" * 500 + str(i))
        if i % 100 == 0:
            await asyncio.sleep(0.01)  # let a started checkpoint run
    await engine.settle()
    assert engine.checkpoints >= 5
    wal = tmp_path / "pool.db-wal"
    assert wal.stat().st_size < 8 * 1024 * 1024  # 2,000 commits without checkpoints write ~16 MB here


@pytest.mark.parametrize(("template", "args"), [
    ("SELECT {} AS a", (1,)),
    ("UPDATE t SET v = {} WHERE id = {} RETURNING id", ("x", 2)),
    ("SELECT * FROM t WHERE v IN ({}, {}, {})", ("a", None, 1.5)),
    ("SELECT '{{}}' AS literal, {} AS a", (1,)),
    ("SELECT {} AS a, {} AS b", (1,)),  # fewer values than placeholders: Piccolo drops the rest
])
@pytest.mark.parametrize("engine_type", ["sqlite", "postgres"])
def test_precompiled_query_strings_match_piccolo(template: str, args: tuple[Any, ...], engine_type: str) -> None:
    from piccolo.querystring import QueryString

    from workspace.db_sql import querystring

    assert querystring(template, args, engine_type).compile_string(engine_type) == \
        QueryString(template, *args).compile_string(engine_type)


async def test_bulk_rows_are_tuples_of_what_fetch_gives_and_see_the_open_transaction(database: Database) -> None:
    """``fetch_rows`` (bulk scans) reads on plain connections of its own outside a transaction (what is committed)
    and on the transaction's inside one (what it wrote), with the values ``fetch`` gives; stop closes its readers."""
    await database.execute_many("INSERT INTO t (id, v) VALUES ({}, {})", [(i, f"v{i}") for i in range(1, 6)])
    rows = await database.fetch_rows("SELECT id, v FROM t WHERE id > {} ORDER BY id", 2)
    assert rows == [tuple(r.values()) for r in await database.fetch("SELECT id, v FROM t WHERE id > {} ORDER BY id",
                                                                    2)] == [(3, "v3"), (4, "v4"), (5, "v5")]
    assert len(database._readers) == 1  # kept for the next scan
    async with database.transaction():
        await database.fetch("INSERT INTO t (id, v) VALUES ({}, {})", 6, "v6")
        assert (await database.fetch_rows("SELECT COUNT(*) FROM t"))[0] == (6,)
    await database.stop()
    assert database._readers == []
