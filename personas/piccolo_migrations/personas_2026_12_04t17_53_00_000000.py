"""Unique keys that make a retried shard idempotent (a turn's key, a claim's key, a shard per run, round and
channel), same SQL on SQLite and PostgreSQL (NULL keys of earlier releases do not collide); and on PostgreSQL the
task queue's own schema (procrastinate's, applied once: its tables, types and functions), which the runtime's
workers use to share a round's shards. SQLite has no queue: the embedded runtime carries its shards out inline.
"""

from importlib import resources

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-04T17:53:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique turn, claim and shard keys; the task queue's schema on PostgreSQL"

UP = [
    "CREATE UNIQUE INDEX IF NOT EXISTS personas_turn_key_uq ON personas_turn (key)",
    "CREATE UNIQUE INDEX IF NOT EXISTS personas_claim_key_uq ON personas_claim (key)",
    "CREATE UNIQUE INDEX IF NOT EXISTS personas_shard_uq ON personas_shard (run, round, shard)",
    "CREATE INDEX IF NOT EXISTS personas_turn_run_round ON personas_turn (run, round)",  # a round read back
]
DOWN = ["DROP INDEX IF EXISTS personas_turn_key_uq", "DROP INDEX IF EXISTS personas_claim_key_uq",
        "DROP INDEX IF EXISTS personas_shard_uq", "DROP INDEX IF EXISTS personas_turn_run_round"]
_QUEUE_LOCK = 0x43484F5255535155  # an advisory lock: two migrators never create the queue's schema twice


async def _queue_schema() -> None:
    """procrastinate's schema, once (its tables are the sign that it is there)."""
    engine = engine_finder()
    assert engine is not None
    if engine.engine_type != "postgres":
        return
    schema = (resources.files("procrastinate.sql") / "schema.sql").read_text(encoding="utf-8")
    conn = await engine.get_new_connection()  # type: ignore[attr-defined]
    try:
        async with conn.transaction():
            await conn.execute(f"SELECT pg_advisory_xact_lock({_QUEUE_LOCK})")
            if await conn.fetchval("SELECT to_regclass('procrastinate_jobs')") is None:
                await conn.execute(schema)  # several statements: execute, not a prepared fetch
    finally:
        await conn.close()


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="personas", description=DESCRIPTION)

    async def up() -> None:
        engine = engine_finder()
        assert engine is not None
        for sql in UP:
            await engine.run_ddl(sql)
        await _queue_schema()

    async def down() -> None:
        engine = engine_finder()
        assert engine is not None
        for sql in DOWN:
            await engine.run_ddl(sql)

    manager.add_raw(up)
    manager.add_raw_backwards(down)
    return manager
