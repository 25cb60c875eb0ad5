"""The control mailbox: logout, kill-switch, relabel and token-revocation commands written by one process for the
others when the broker is the in-process memory one (a ``chorus agents kill`` beside the embedded server); with
Redis they travel by pub/sub instead. Rows are short-lived (pruned after ten minutes). Raw SQL: an autoincrement
id that never reuses a value on SQLite, so a poller's "after id" cursor never skips a command.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-05T08:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "chorus_control_event: the control mailbox of the memory broker"

SQLITE_UP = ["CREATE TABLE IF NOT EXISTS chorus_control_event (id INTEGER PRIMARY KEY AUTOINCREMENT, "
             "body TEXT NOT NULL, created_at REAL NOT NULL)"]
POSTGRES_UP = ["CREATE TABLE IF NOT EXISTS chorus_control_event (id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL, "
               "created_at DOUBLE PRECISION NOT NULL)"]
DOWN = ["DROP TABLE IF EXISTS chorus_control_event"]


async def _run(sqlite: list[str], postgres: list[str]) -> None:
    engine = engine_finder()
    assert engine is not None
    for sql in sqlite if engine.engine_type == "sqlite" else postgres:
        await engine.run_ddl(sql)


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="channels", description=DESCRIPTION)

    async def up() -> None:
        await _run(SQLITE_UP, POSTGRES_UP)

    async def down() -> None:
        await _run(DOWN, DOWN)

    manager.add_raw(up)
    manager.add_raw_backwards(down)
    return manager
