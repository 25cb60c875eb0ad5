"""Database engines: SQLite (embedded default) or PostgreSQL, chosen by URL, bound to every Piccolo table.

Writes go through :meth:`Database.transaction`, which is ``BEGIN IMMEDIATE`` on SQLite (deferred transactions
fail with "database is locked" under concurrency; see STACK.md) and a normal transaction on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import aiosqlite
from aiosqlite import Connection
from piccolo.conf.apps import Finder
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType, dict_factory
from piccolo.table import Table

from workspace.errors import ConfigError, Unavailable
from workspace.settings import DatabaseSettings

PICCOLO_CONF = "workspace.piccolo_conf"
_current: Database | None = None


class _SQLiteEngine(SQLiteEngine):
    """Piccolo's SQLite engine with two costs taken out of every query.

    * Connections are reused. Piccolo opens a new aiosqlite connection (a new thread, a file open and a
      ``PRAGMA foreign_keys``) for every query outside a transaction and for every transaction, and closes it
      afterwards; that was most of a post's server CPU. While the owning :class:`Database` is started, a closed
      transaction or a finished autocommit query hands its connection back to a small idle list instead
      (:meth:`release`); :meth:`close_idle` closes them at stop. A connection still inside a transaction, one
      whose statement was cancelled (its thread may still be running it) or one that comes back while pooling
      is off is closed, never reused; an SQL error leaves a connection as good as new.
    * Queries run in one thread hop: no ``PRAGMA foreign_keys = 1`` before each (the connection got it when
      opened, in ``get_connection``) and aiosqlite's ``execute_fetchall`` instead of execute + fetchall +
      cursor close (~30 us instead of ~190 us per query in a transaction).
    """

    max_idle = 8

    def __init__(self, path: str, **connection_kwargs: Any) -> None:
        super().__init__(path=path, **connection_kwargs)
        self._idle: list[Connection] = []
        self.pooling = False

    async def get_connection(self) -> Connection:
        while self._idle:
            connection = self._idle.pop()
            if connection._connection is not None:  # not closed under us
                return connection
        connection = await aiosqlite.connect(**self.connection_kwargs)
        try:  # Piccolo leaks the connection when this is cancelled (a bounded shutdown does that)
            connection.row_factory = dict_factory  # type: ignore[assignment]
            await connection.execute("PRAGMA foreign_keys = 1")
        except BaseException as exc:
            await _close(connection, exc)
            raise
        return connection

    async def release(self, connection: Connection) -> None:
        """Keep ``connection`` for the next query when it is clean and pooling is on, otherwise close it."""
        if (self.pooling and len(self._idle) < self.max_idle and connection._connection is not None
                and not connection.in_transaction):
            self._idle.append(connection)
        else:
            await connection.close()

    async def recover(self, connection: Connection, exc: BaseException) -> None:
        """After a statement on ``connection`` failed with ``exc``: an SQL error leaves it usable (or inside a
        transaction, and then :meth:`release` closes it); a cancellation leaves it with work still queued."""
        if isinstance(exc, Exception):
            await self.release(connection)
        else:
            _discard(connection)

    async def close_idle(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.close()

    def transaction(self, transaction_type: TransactionType = TransactionType.deferred,
                    allow_nested: bool = True) -> SQLiteTransaction:
        return _PooledTransaction(engine=self, transaction_type=transaction_type, allow_nested=allow_nested)

    async def _run_in_new_connection(self, query: str, args: list[Any] | None = None, query_type: str = "generic",
                                     table: type[Table] | None = None) -> Any:
        if query_type == "insert" and self.get_version_sync() < 3.35:  # pragma: no cover - RETURNING is older
            return await super()._run_in_new_connection(query, args, query_type, table)
        connection = await self.get_connection()
        try:  # isolation_level=None: the statement commits itself
            rows = await connection.execute_fetchall(query, args or [])
        except BaseException as exc:
            await self.recover(connection, exc)
            raise
        await self.release(connection)
        return rows

    async def _run_in_existing_connection(self, connection: Any, query: str, args: list[Any] | None = None,
                                          query_type: str = "generic", table: type[Table] | None = None) -> Any:
        if query_type == "insert" and self.get_version_sync() < 3.35:  # pragma: no cover - RETURNING is older
            return await super()._run_in_existing_connection(connection, query, args, query_type, table)
        return await connection.execute_fetchall(query, args or [])


class _PooledTransaction(SQLiteTransaction):
    """Piccolo's SQLite transaction, handing its connection back to the engine instead of closing it."""

    engine: _SQLiteEngine

    async def __aenter__(self) -> SQLiteTransaction:
        if self._parent is not None:
            return self._parent
        self.connection = await self.engine.get_connection()
        try:  # Piccolo leaks the connection when BEGIN fails or is cancelled (a bounded shutdown does that)
            await self.begin()  # type: ignore[no-untyped-call]
        except BaseException as exc:
            await self.engine.recover(self.connection, exc)
            raise
        self.context = self.engine.current_transaction.set(self)
        return self

    async def __aexit__(self, exception_type: Any, exception: Any, traceback: Any) -> bool:
        if self._parent:
            return exception is None
        connection = self.connection
        try:
            if exception:
                if not self._rolled_back:
                    await self.rollback()  # type: ignore[no-untyped-call]
            elif not self._committed and not self._rolled_back:
                await self.commit()  # type: ignore[no-untyped-call]
        except BaseException as exc:
            self.engine.current_transaction.reset(self.context)
            await self.engine.recover(connection, exc)
            raise
        self.engine.current_transaction.reset(self.context)
        await self.engine.release(connection)
        return exception is None


async def _close(connection: Connection, exc: BaseException) -> None:
    if isinstance(exc, Exception):
        await connection.close()
    else:
        _discard(connection)


def _discard(connection: Connection) -> None:
    """Close a connection whose statement was cancelled, without awaiting (the task is being cancelled and could
    be again): its thread finishes what is queued, then closes."""
    if connection._connection is not None:
        connection.stop()


class Database:
    """One engine, its start-up and shutdown, and the write-transaction policy."""

    def __init__(self, settings: DatabaseSettings) -> None:
        self.settings = settings
        url = settings.url.reveal()
        self.engine: Engine[Any]
        if settings.is_sqlite:
            self.path = sqlite_path(url)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.engine = _SQLiteEngine(path=str(self.path), timeout=settings.busy_timeout_s)
        elif settings.is_postgres:
            self.path = Path()
            self.engine = PostgresEngine(config={"dsn": url}, log_queries=False)
        else:  # Settings.resolved() already refuses this; kept for direct construction
            raise ConfigError("database URL must start with sqlite:/// or postgresql://")
        self._pool_started = False

    @property
    def is_sqlite(self) -> bool:
        return self.settings.is_sqlite

    async def start(self) -> None:
        """Open the pool (PostgreSQL) or switch the file to WAL (SQLite) and bind every table to this engine."""
        bind_tables(self.engine)
        global _current
        _current = self
        if isinstance(self.engine, _SQLiteEngine):
            await asyncio.to_thread(_enable_wal, self.path, self.settings.busy_timeout_s)
            self.engine.pooling = True
        elif not self._pool_started:
            assert isinstance(self.engine, PostgresEngine)
            try:
                await self.engine.start_connection_pool(min_size=1, max_size=self.settings.pool_max)
            except OSError as exc:
                raise Unavailable(f"cannot reach PostgreSQL: {exc}; check CHORUS_DATABASE_URL") from exc
            self._pool_started = True

    async def stop(self) -> None:
        if isinstance(self.engine, _SQLiteEngine):
            self.engine.pooling = False
            await self.engine.close_idle()
        if self._pool_started and isinstance(self.engine, PostgresEngine):
            await self.engine.close_connection_pool()
            self._pool_started = False

    def transaction(self) -> Any:
        """A write transaction (nested calls join the outer one)."""
        if isinstance(self.engine, SQLiteEngine):
            return self.engine.transaction(transaction_type=TransactionType.immediate)
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
        result = await self.engine.run_querystring(_qs(sql, args))
        # asyncpg returns Records inside a transaction (Piccolo converts only pooled results): always give dicts.
        return [r if isinstance(r, dict) else dict(r) for r in result or ()]

    async def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Bulk insert/update with the raw driver (executemany), inside the current transaction if any."""
        if not rows:
            return
        if isinstance(self.engine, SQLiteEngine):
            tx = self.engine.current_transaction.get()
            if tx is not None:
                await tx.connection.executemany(sql.replace("{}", "?"), rows)
                return
            async with self.transaction() as tx2:
                await tx2.connection.executemany(sql.replace("{}", "?"), rows)
            return
        assert isinstance(self.engine, PostgresEngine)
        pg_sql = _numbered(sql)
        ptx = self.engine.current_transaction.get()
        if ptx is not None:
            await ptx.connection.executemany(pg_sql, rows)
            return
        async with self.engine.transaction() as ptx2:
            await ptx2.connection.executemany(pg_sql, rows)


def _numbered(sql: str) -> str:
    parts = sql.split("{}")
    out = parts[0]
    for i, part in enumerate(parts[1:], start=1):
        out += f"${i}{part}"
    return out


def _qs(sql: str, args: Sequence[Any]) -> Any:
    from piccolo.querystring import QueryString

    return QueryString(sql, *args)


def sqlite_path(url: str) -> Path:
    """``sqlite:///relative.db`` or ``sqlite:////absolute/path.db`` (three slashes, then the path)."""
    if not url.startswith("sqlite:///"):
        raise ConfigError(f"SQLite URLs look like sqlite:///path/to/file.db; got {url.split('?')[0]!r}")
    return Path(unquote(url[len("sqlite:///") :].split("?", 1)[0]))


def _enable_wal(path: Path, timeout: float) -> None:
    con = sqlite3.connect(path, timeout=timeout)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
    finally:
        con.close()


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
