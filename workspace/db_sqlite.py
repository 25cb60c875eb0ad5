"""SQLite for Chorus: Piccolo's engine with connections reused, write transactions that take turns before
``BEGIN IMMEDIATE``, short transactions run on the event loop's thread, and WAL checkpoints kept off it.

The :class:`workspace.db.Database` handle picks this engine for ``sqlite:///`` URLs; nothing else should need it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiosqlite
from aiosqlite import Connection
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType, dict_factory
from piccolo.table import Table

from workspace.db_values import check_args

log = logging.getLogger("chorus.db")


class PooledSQLiteEngine(SQLiteEngine):
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
    * Write transactions take turns on an asyncio lock before ``BEGIN IMMEDIATE`` (:meth:`writer_lock`), so this
      process's writers queue in order instead of polling SQLite's busy handler (which sleeps 1 to 100 ms between
      tries). The lock is free almost always when a transaction begins, so ``BEGIN`` is first tried on the event
      loop's thread with no busy wait; only when another process holds SQLite's write lock does it go to the
      connection's thread and wait there (see :class:`PooledTransaction`).
    * A *short* write transaction (``Database.transaction(short=True)``: a few point reads and writes, such as a
      post) runs its statements and its ``COMMIT`` on the event loop's thread too: a thread hop costs more CPU (two
      wake-ups and a self-pipe write, ~100 us here) than such a statement (~10-30 us). A post then never waits
      for a thread, so posts that arrive together are stored in one pass of the loop and their deliveries share
      the socket writes (see ``workspace.wsdirect``).
    * WAL checkpoints never run on the loop's thread: the engine's connections have SQLite's automatic
      checkpoint off (it runs inside whichever ``COMMIT`` crosses 1,000 WAL pages, and waits for the disk), and
      after enough changes (``checkpoint_rows``, ``checkpoint_writes``) :meth:`release` starts a
      ``PRAGMA wal_checkpoint(PASSIVE)`` in a connection's thread instead. Commits use ``synchronous = NORMAL``
      (the WAL is synced at checkpoints): a power cut may lose the last commits but never corrupts the file.
    """

    max_idle = 8
    checkpoint_rows = 1000
    checkpoint_writes = 64
    """A background checkpoint starts after this many changed rows or this many writes (connections handed back
    with changes), whichever comes first: a post changes 3 rows and writes ~16 WAL pages, so 64 posts come near
    SQLite's own 1,000-page default; bulk work goes by rows (checkpointing more often cost the agent rounds ~40%
    more system CPU)."""

    def __init__(self, path: str, **connection_kwargs: Any) -> None:
        # check_same_thread=False: short transactions run statements on the loop's thread (never two at once: a
        # transaction's statements are awaited one after another)
        super().__init__(path=path, check_same_thread=False, **connection_kwargs)
        self._idle: list[Connection] = []
        self.pooling = False
        self.busy_timeout_s = float(connection_kwargs.get("timeout", 5.0))
        self._writers: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self._seen_changes: weakref.WeakKeyDictionary[Connection, int] = weakref.WeakKeyDictionary()
        self._unchecked = 0  # rows changed since the last checkpoint started
        self._unchecked_writes = 0
        self._checkpoint: asyncio.Task[None] | None = None
        self.checkpoints = 0
        self._discarded: set[Connection] = set()  # threads still finishing a cancelled statement

    def writer_lock(self) -> asyncio.Lock:
        """The lock this process's write transactions take turns on (one per event loop)."""
        loop = asyncio.get_running_loop()
        if self._writers is None or self._writers[0] is not loop:
            self._writers = (loop, asyncio.Lock())
        return self._writers[1]

    async def get_connection(self) -> Connection:
        while self._idle:
            connection = self._idle.pop()
            if connection._connection is not None:  # not closed under us
                return connection
        connection = await aiosqlite.connect(**self.connection_kwargs)
        try:  # Piccolo leaks the connection when this is cancelled (a bounded shutdown does that)
            connection.row_factory = dict_factory  # type: ignore[assignment]
            # per connection, not stored in the file (synchronous: without it every COMMIT waits for an fdatasync)
            await connection.executescript(
                "PRAGMA foreign_keys = 1; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0;")
        except BaseException as exc:
            if isinstance(exc, Exception):
                await connection.close()
            else:
                self.discard(connection)
            raise
        return connection

    async def release(self, connection: Connection) -> None:
        """Keep ``connection`` for the next query when it is clean and pooling is on, otherwise close it."""
        self._count_changes(connection)
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
            self.discard(connection)

    def discard(self, connection: Connection) -> None:
        """Close a connection whose statement was cancelled, without awaiting (the task is being cancelled and could
        be again): its thread finishes what is queued, then closes; :meth:`close_idle` waits for that."""
        if connection._connection is not None:
            connection.stop()
            self._discarded.add(connection)
        self._discarded = {c for c in self._discarded if c._thread.is_alive()}

    def _count_changes(self, connection: Connection) -> None:
        sqlite = connection._connection
        if sqlite is None:
            return
        total = sqlite.total_changes
        changed = total - self._seen_changes.get(connection, 0)
        if not changed:
            return
        self._seen_changes[connection] = total
        self._unchecked += changed
        self._unchecked_writes += 1
        due = self._unchecked >= self.checkpoint_rows or self._unchecked_writes >= self.checkpoint_writes
        if self.pooling and due and (self._checkpoint is None or self._checkpoint.done()):
            self._unchecked = self._unchecked_writes = 0
            self._checkpoint = asyncio.get_running_loop().create_task(self._run_checkpoint(), name="wal-checkpoint")

    async def _run_checkpoint(self) -> None:
        """Copy committed WAL pages into the database file, in a connection's thread (readers and writers go on)."""
        try:
            connection = await self.get_connection()
            try:
                await connection.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
            except BaseException as exc:
                await self.recover(connection, exc)
                raise
            await self.release(connection)
            self.checkpoints += 1
        except Exception as exc:  # the next one retries; SQLite recovers a long WAL on its own
            log.warning("WAL checkpoint failed: %s: %s", type(exc).__name__, exc)

    async def settle(self) -> None:
        """Wait for a background checkpoint under way."""
        while self._checkpoint is not None and not self._checkpoint.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(self._checkpoint)

    async def close_idle(self) -> None:
        """Close the idle connections, after a background checkpoint under way and the threads of discarded
        connections (each answers the event loop when its statement ends, so the loop must outlive them; a
        statement still running after the busy timeout is interrupted)."""
        await self.settle()
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.close()
        discarded, self._discarded = self._discarded, set()
        for connection in discarded:
            await asyncio.to_thread(connection._thread.join, self.busy_timeout_s)
            if connection._thread.is_alive():
                sqlite = connection._connection
                if sqlite is not None:
                    with contextlib.suppress(sqlite3.ProgrammingError):  # closed meanwhile
                        sqlite.interrupt()
                await asyncio.to_thread(connection._thread.join, self.busy_timeout_s)

    def transaction(self, transaction_type: TransactionType = TransactionType.deferred,
                    allow_nested: bool = True) -> SQLiteTransaction:
        return PooledTransaction(engine=self, transaction_type=transaction_type, allow_nested=allow_nested)

    async def _run_in_new_connection(self, query: str, args: list[Any] | None = None, query_type: str = "generic",
                                     table: type[Table] | None = None) -> Any:
        check_args(args)  # sqlite3 would store a NUL character, and fail on an integer past 64 bits
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
        check_args(args)
        if query_type == "insert" and self.get_version_sync() < 3.35:  # pragma: no cover - RETURNING is older
            return await super()._run_in_existing_connection(connection, query, args, query_type, table)
        tx = self.current_transaction.get()
        if isinstance(tx, PooledTransaction) and tx.short and tx.connection is connection:
            return fetch_inline(connection, query, args)
        return await connection.execute_fetchall(query, args or [])


def fetch_inline(connection: Connection, query: str, args: Sequence[Any] | None) -> list[Any]:
    """One statement on the calling thread, on a connection whose own thread is idle (see short transactions)."""
    cursor = connection._conn.execute(query, args or ())
    try:
        return cursor.fetchall()
    finally:
        cursor.close()


class PooledTransaction(SQLiteTransaction):
    """Piccolo's SQLite transaction, handing its connection back to the engine instead of closing it, taking
    turns with the process's other write transactions, and (when ``short``) running statements inline."""

    engine: PooledSQLiteEngine
    short = False
    _lock: asyncio.Lock | None = None

    async def __aenter__(self) -> SQLiteTransaction:
        if self._parent is not None:
            return self._parent
        writes = self.transaction_type is not TransactionType.deferred
        if writes:
            await self._take_turn()
        try:
            self.connection = await self.engine.get_connection()
            try:  # Piccolo leaks the connection when BEGIN fails or is cancelled (a bounded shutdown does that)
                if not (writes and self._begin_inline()):
                    await self.begin()  # type: ignore[no-untyped-call]
            except BaseException as exc:
                await self.engine.recover(self.connection, exc)
                raise
        except BaseException:
            self._end_turn()
            raise
        self.context = self.engine.current_transaction.set(self)
        return self

    async def _take_turn(self) -> None:
        lock = self.engine.writer_lock()
        try:
            async with asyncio.timeout(self.engine.busy_timeout_s):
                await lock.acquire()
        except TimeoutError:
            raise sqlite3.OperationalError(
                f"database is locked: another write transaction of this process held it for more than the busy "
                f"timeout ({self.engine.busy_timeout_s:g} s, CHORUS_DATABASE_BUSY_TIMEOUT_S)") from None
        self._lock = lock

    def _end_turn(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()

    def _begin_inline(self) -> bool:
        """``BEGIN`` on this thread without waiting; False when another process holds SQLite's write lock (the
        caller then begins in the connection's thread, which waits up to the busy timeout)."""
        sqlite = self.connection._conn
        sqlite.execute("PRAGMA busy_timeout = 0").close()
        try:
            sqlite.execute(f"BEGIN {self.transaction_type.value}").close()
            return True
        except sqlite3.OperationalError as exc:
            if sqlite.in_transaction or "locked" not in str(exc):
                raise
            return False
        finally:
            sqlite.execute(f"PRAGMA busy_timeout = {int(self.engine.busy_timeout_s * 1000)}").close()

    async def __aexit__(self, exception_type: Any, exception: Any, traceback: Any) -> bool:
        if self._parent:
            return exception is None
        connection = self.connection
        try:
            try:
                if exception:
                    if not self._rolled_back:
                        if self.short:
                            if connection._conn.in_transaction:  # (SQLite ends it itself on some errors)
                                connection._conn.execute("ROLLBACK").close()
                            self._rolled_back = True
                        else:
                            await self.rollback()  # type: ignore[no-untyped-call]
                elif not self._committed and not self._rolled_back:
                    if self.short:
                        connection._conn.execute("COMMIT").close()
                        self._committed = True
                    else:
                        await self.commit()  # type: ignore[no-untyped-call]
            except BaseException as exc:
                self.engine.current_transaction.reset(self.context)
                await self.engine.recover(connection, exc)
                raise
            self.engine.current_transaction.reset(self.context)
            await self.engine.release(connection)
        finally:
            self._end_turn()
        return exception is None


def enable_wal(path: Path, timeout: float) -> None:
    con = sqlite3.connect(path, timeout=timeout)
    try:
        con.execute("PRAGMA journal_mode=WAL")  # stored in the file; synchronous is per connection (get_connection)
    finally:
        con.close()
