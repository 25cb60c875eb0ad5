"""The database handle: SQLite (embedded default) or PostgreSQL, chosen by URL, bound to every Piccolo table.

Writes go through :meth:`Database.transaction`, which is ``BEGIN IMMEDIATE`` on SQLite (deferred transactions
fail with "database is locked" under concurrency; see STACK.md) and a normal transaction on PostgreSQL. The SQLite
engine is :mod:`workspace.db_sqlite`; compiled raw SQL is :mod:`workspace.db_sql`. PostgreSQL transactions clean up
after a lost connection (:class:`PostgresTransaction`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from piccolo.conf.apps import Finder
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.postgres import PostgresTransaction as PiccoloPostgresTransaction
from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.table import Table

from workspace.db_sql import numbered, querystring
from workspace.db_sqlite import PooledSQLiteEngine, PooledTransaction, enable_wal
from workspace.db_values import check_args, check_rows, translated
from workspace.errors import ConfigError, Unavailable
from workspace.settings import DatabaseSettings

PICCOLO_CONF = "workspace.piccolo_conf"
_current: Database | None = None


class Database:
    """One engine, its start-up and shutdown, and the write-transaction policy."""

    def __init__(self, settings: DatabaseSettings) -> None:
        self.settings = settings
        url = settings.url.reveal()
        self.engine: Engine[Any]
        if settings.is_sqlite:
            self.path = sqlite_path(url)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.engine = PooledSQLiteEngine(path=str(self.path), timeout=settings.busy_timeout_s)
        elif settings.is_postgres:
            self.path = Path()
            self.engine = ChorusPostgresEngine(config={"dsn": url}, log_queries=False)
        else:  # Settings.resolved() already refuses this; kept for direct construction
            raise ConfigError("database URL must start with sqlite:/// or postgresql://")
        self._pool_started = False
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._widths: dict[str, int] = {}
        """PostgreSQL: how many columns a statement of :meth:`fetch_rows` returns, by its text."""

    @property
    def is_sqlite(self) -> bool:
        return self.settings.is_sqlite

    async def start(self) -> None:
        """Open the pool (PostgreSQL) or switch the file to WAL (SQLite) and bind every table to this engine."""
        bind_tables(self.engine)
        global _current
        _current = self
        if isinstance(self.engine, PooledSQLiteEngine):
            await asyncio.to_thread(enable_wal, self.path, self.settings.busy_timeout_s)
            self.engine.pooling = True
        elif not self._pool_started:
            assert isinstance(self.engine, PostgresEngine)
            try:
                await self.engine.start_connection_pool(min_size=1, max_size=self.settings.pool_max)
            except OSError as exc:
                raise Unavailable(f"cannot reach PostgreSQL: {exc}; check CHORUS_DATABASE_URL") from exc
            self._pool_started = True

    async def stop(self) -> None:
        if isinstance(self.engine, PooledSQLiteEngine):
            self.engine.pooling = False
            await self.engine.close_idle()
            with self._readers_lock:
                readers, self._readers = self._readers, []
            for reader in readers:
                reader.close()
        if self._pool_started and isinstance(self.engine, PostgresEngine):
            await self.engine.close_connection_pool()
            self._pool_started = False

    def transaction(self, *, short: bool = False) -> Any:
        """A write transaction (nested calls join the outer one, which decides whether it is short).

        ``short``: the transaction is a few point reads and writes (a post, a reaction), not scans or bulk work.
        On SQLite its statements then run on the event loop's thread, without a thread hop each; anything longer
        would stall every socket of the process while it runs. No effect on PostgreSQL."""
        if isinstance(self.engine, SQLiteEngine):
            tx = self.engine.transaction(transaction_type=TransactionType.immediate)
            if short and isinstance(tx, PooledTransaction):
                tx.short = True
            return tx
        return self.engine.transaction()

    def in_transaction(self) -> bool:
        return self.engine.current_transaction.get() is not None

    async def ping(self) -> None:
        try:
            await self.fetch("SELECT 1")
        except Exception as exc:
            raise Unavailable(f"database unreachable: {type(exc).__name__}: {exc}") from exc

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        """Raw query with ``{}`` placeholders (Piccolo's QueryString style), returning rows as dicts."""
        check_args(args)
        result = await self.engine.run_querystring(querystring(sql, args, self.engine.engine_type))
        # asyncpg returns Records inside a transaction (Piccolo converts only pooled results): always give dicts.
        return [r if isinstance(r, dict) else dict(r) for r in result or ()]

    async def fetch_rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Raw read with ``{}`` placeholders, returning rows as tuples of the driver's values (integers, text,
        ``None``; SQLite gives booleans as 0 or 1 and timestamps as text): for bulk scans, where Piccolo's per-value
        converters and a dict per row cost several times what SQLite does. Outside a transaction SQLite reads on
        plain connections of their own (WAL: they see what is committed); inside one, on the transaction's.
        PostgreSQL sends the rows as one array per column (:meth:`_pg_rows`); the statement selects no array
        columns."""
        if isinstance(self.engine, SQLiteEngine):
            if self.engine.current_transaction.get() is not None:
                return [tuple(r.values()) for r in await self.fetch(sql, *args)]
            return await asyncio.to_thread(self._read, sql.replace("{}", "?"), args)
        assert isinstance(self.engine, PostgresEngine)
        tx = self.engine.current_transaction.get()
        if tx is not None:
            return await self._pg_rows(tx.connection, sql, args)
        if self.engine.pool is None:
            return [tuple(r.values()) for r in await self.fetch(sql, *args)]
        async with self.engine.pool.acquire() as connection:
            return await self._pg_rows(connection, sql, args)

    async def _pg_rows(self, connection: Any, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        """``sql``'s rows read as one array per column (``array_agg`` over it as a subquery) and zipped into tuples.

        asyncpg makes a ``Record`` per row, which the cyclic garbage collector tracks for good: a page of 20,000
        rows outlives a few young collections while it arrives, so each page moved ~20,000 objects to the oldest
        generation and set off a full collection of the whole heap every few pages (92-94 in a 1,000,000-message
        mining pass, ~19 s, against 14 on SQLite, whose tuples of plain values the collector untracks). Arrays of
        plain values give it nothing to track. Rows keep the statement's order: an aggregate reads a subquery with
        ``ORDER BY`` in its order (with parallel plans forced, PostgreSQL 15 still aggregates it whole, above a
        Gather Merge), and every column's array is built from the same rows in the same order."""
        text = numbered(sql)
        width = self._widths.get(text)
        if width is None:  # once per statement text: the columns the server says it returns
            if len(self._widths) >= 4096:
                self._widths.clear()
            width = self._widths[text] = len((await connection.prepare(text)).get_attributes())
        names = ", ".join(f"c{i}" for i in range(width))
        arrays = ", ".join(f"array_agg(c{i})" for i in range(width))
        columns = await connection.fetchrow(f"SELECT {arrays} FROM ({text}) AS t({names})", *args)
        if columns is None or columns[0] is None:  # no rows: every array_agg is NULL
            return []
        return list(zip(*columns, strict=True))

    def _read(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        """One read on an idle plain SQLite connection (in a worker thread; the connection is taken and given back
        here, so a cancelled caller never leaves it half used)."""
        with self._readers_lock:
            reader = self._readers.pop() if self._readers else None
        if reader is None:
            reader = sqlite3.connect(self.path, timeout=self.settings.busy_timeout_s, isolation_level=None,
                                     check_same_thread=False)
            reader.execute("PRAGMA query_only = 1")
        try:
            rows = reader.execute(sql, args).fetchall()
        except BaseException:
            reader.close()
            raise
        with self._readers_lock:  # kept for the next read unless the database was stopped meanwhile
            if len(self._readers) < 4 and isinstance(self.engine, PooledSQLiteEngine) and self.engine.pooling:
                self._readers.append(reader)
                reader = None
        if reader is not None:
            reader.close()
        return rows

    async def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Bulk insert/update with the raw driver (executemany), inside the current transaction if any."""
        if not rows:
            return
        check_rows(rows)
        if isinstance(self.engine, SQLiteEngine):
            tx = self.engine.current_transaction.get()
            if isinstance(tx, PooledTransaction) and tx.short:
                tx.connection._conn.executemany(sql.replace("{}", "?"), rows).close()
                return
            if tx is not None:
                await tx.connection.executemany(sql.replace("{}", "?"), rows)
                return
            async with self.transaction() as tx2:
                await tx2.connection.executemany(sql.replace("{}", "?"), rows)
            return
        assert isinstance(self.engine, PostgresEngine)
        pg_sql = numbered(sql)
        ptx = self.engine.current_transaction.get()
        try:
            if ptx is not None:
                await ptx.connection.executemany(pg_sql, rows)
                return
            async with self.engine.transaction() as ptx2:
                await ptx2.connection.executemany(pg_sql, rows)
        except Exception as exc:
            refused = translated(exc)
            if refused is not None:
                raise refused from exc
            raise


class PostgresTransaction(PiccoloPostgresTransaction):
    """Piccolo's transaction, made safe when its own rollback or commit fails (a lost connection).

    Piccolo 1.38's ``__aexit__`` rolls back (or commits), then releases the connection and resets the task's
    current-transaction context variable; when the rollback or commit raises, neither happens, so every later
    query of the task joins that dead transaction on a connection the pool may hand to someone else. Here the
    variable is reset and the connection released (terminated: it is broken) whatever ``__aexit__`` raised.
    """

    async def __aexit__(self, exception_type: Any, exception: Any, traceback: Any) -> bool:
        if self._parent is not None:
            return bool(await super().__aexit__(exception_type, exception, traceback))
        try:
            return bool(await super().__aexit__(exception_type, exception, traceback))
        except BaseException:
            if self.engine.current_transaction.get() is self:
                self.engine.current_transaction.reset(self.context)
                with contextlib.suppress(Exception):
                    self.connection.terminate()
                    if self.engine.pool:
                        await self.engine.pool.release(self.connection)
            raise


class ChorusPostgresEngine(PostgresEngine):
    """Piccolo's PostgreSQL engine; its transactions clean up after a lost connection (see PostgresTransaction)."""

    def transaction(self, allow_nested: bool = True) -> PostgresTransaction:
        return PostgresTransaction(engine=self, allow_nested=allow_nested)

    async def run_querystring(self, querystring: Any, in_pool: bool = True) -> Any:
        """Piccolo's, with PostgreSQL's refusal of a value (an id past an ``int4`` column, a NUL character) turned
        into the ValidationFailed that SQLite's checks give (:mod:`workspace.db_values`)."""
        try:
            return await super().run_querystring(querystring, in_pool)
        except Exception as exc:
            refused = translated(exc)
            if refused is not None:
                raise refused from exc
            raise


def sqlite_path(url: str) -> Path:
    """``sqlite:///relative.db`` or ``sqlite:////absolute/path.db`` (three slashes, then the path)."""
    if not url.startswith("sqlite:///"):
        raise ConfigError(f"SQLite URLs look like sqlite:///path/to/file.db; got {url.split('?')[0]!r}")
    return Path(unquote(url[len("sqlite:///") :].split("?", 1)[0]))


def all_tables() -> list[type[Table]]:
    """Every table of every registered app (and Piccolo's own migration table)."""
    from piccolo.apps.migrations.tables import Migration

    os.environ.setdefault("PICCOLO_CONF", PICCOLO_CONF)
    tables: list[type[Table]] = [Migration]
    for config in Finder().get_app_configs():
        tables.extend(config.table_classes)
    return tables


def bind_tables(engine: Engine[Any]) -> None:
    """Point every table at ``engine`` (tests switch between SQLite and PostgreSQL in one process)."""
    for table in all_tables():
        table._meta.db = engine


def current() -> Database:
    if _current is None:
        raise ConfigError("the database is not configured yet; call Database(settings).start() first")
    return _current


@asynccontextmanager
async def opened(settings: DatabaseSettings) -> AsyncIterator[Database]:
    db = Database(settings)
    await db.start()
    try:
        yield db
    finally:
        await db.stop()
