"""Full-text search over message bodies: an FTS5 index kept in sync by triggers on SQLite (filled from the messages
already stored); a generated tsvector column with a GIN index on PostgreSQL. Raw SQL because Piccolo has no column
type for either. Additive: old code never reads the new index or column.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-04T16:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "full-text index on chorus_message.body (SQLite FTS5 with triggers; PostgreSQL tsvector + GIN)"

SQLITE_UP = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS chorus_message_fts USING fts5("
    "body, content='chorus_message', content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER IF NOT EXISTS chorus_message_fts_ai AFTER INSERT ON chorus_message BEGIN "
    "INSERT INTO chorus_message_fts(rowid, body) VALUES (new.id, new.body); END",
    "CREATE TRIGGER IF NOT EXISTS chorus_message_fts_ad AFTER DELETE ON chorus_message BEGIN "
    "INSERT INTO chorus_message_fts(chorus_message_fts, rowid, body) VALUES ('delete', old.id, old.body); END",
    "CREATE TRIGGER IF NOT EXISTS chorus_message_fts_au AFTER UPDATE OF body ON chorus_message BEGIN "
    "INSERT INTO chorus_message_fts(chorus_message_fts, rowid, body) VALUES ('delete', old.id, old.body); "
    "INSERT INTO chorus_message_fts(rowid, body) VALUES (new.id, new.body); END",
    "INSERT INTO chorus_message_fts(chorus_message_fts) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS chorus_message_fts_au",
    "DROP TRIGGER IF EXISTS chorus_message_fts_ad",
    "DROP TRIGGER IF EXISTS chorus_message_fts_ai",
    "DROP TABLE IF EXISTS chorus_message_fts",
]
POSTGRES_UP = [
    "ALTER TABLE chorus_message ADD COLUMN IF NOT EXISTS tsv tsvector "
    "GENERATED ALWAYS AS (to_tsvector('english', body)) STORED",
    "CREATE INDEX IF NOT EXISTS chorus_message_tsv_idx ON chorus_message USING GIN (tsv)",
]
POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS chorus_message_tsv_idx",
    "ALTER TABLE chorus_message DROP COLUMN IF EXISTS tsv",
]


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
        await _run(SQLITE_DOWN, POSTGRES_DOWN)

    manager.add_raw(up)
    manager.add_raw_backwards(down)
    return manager
