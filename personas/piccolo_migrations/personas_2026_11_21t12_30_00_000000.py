"""Full-text search over context chunks: an FTS5 index kept in sync by triggers on SQLite; a generated tsvector
column with a GIN index on PostgreSQL. Raw SQL because Piccolo has no column type for either.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-21T12:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "full-text index on personas_chunk.text (SQLite FTS5 with triggers; PostgreSQL tsvector + GIN)"

SQLITE_UP = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS personas_chunk_fts USING fts5("
    "text, content='personas_chunk', content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER IF NOT EXISTS personas_chunk_fts_ai AFTER INSERT ON personas_chunk BEGIN "
    "INSERT INTO personas_chunk_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER IF NOT EXISTS personas_chunk_fts_ad AFTER DELETE ON personas_chunk BEGIN "
    "INSERT INTO personas_chunk_fts(personas_chunk_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER IF NOT EXISTS personas_chunk_fts_au AFTER UPDATE OF text ON personas_chunk BEGIN "
    "INSERT INTO personas_chunk_fts(personas_chunk_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO personas_chunk_fts(rowid, text) VALUES (new.id, new.text); END",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS personas_chunk_fts_au",
    "DROP TRIGGER IF EXISTS personas_chunk_fts_ad",
    "DROP TRIGGER IF EXISTS personas_chunk_fts_ai",
    "DROP TABLE IF EXISTS personas_chunk_fts",
]
POSTGRES_UP = [
    "ALTER TABLE personas_chunk ADD COLUMN IF NOT EXISTS tsv tsvector "
    "GENERATED ALWAYS AS (to_tsvector('english', text)) STORED",
    "CREATE INDEX IF NOT EXISTS personas_chunk_tsv_idx ON personas_chunk USING GIN (tsv)",
]
POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS personas_chunk_tsv_idx",
    "ALTER TABLE personas_chunk DROP COLUMN IF EXISTS tsv",
]


async def _run(sqlite: list[str], postgres: list[str]) -> None:
    engine = engine_finder()
    assert engine is not None
    for sql in sqlite if engine.engine_type == "sqlite" else postgres:
        await engine.run_ddl(sql)


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="personas", description=DESCRIPTION)

    async def up() -> None:
        await _run(SQLITE_UP, POSTGRES_UP)

    async def down() -> None:
        await _run(SQLITE_DOWN, POSTGRES_DOWN)

    manager.add_raw(up)
    manager.add_raw_backwards(down)
    return manager
