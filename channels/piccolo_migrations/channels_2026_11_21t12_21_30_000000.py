"""Composite unique constraints and indexes of the channels tables (raw SQL: Piccolo has no syntax for them).

The same statements run on SQLite and PostgreSQL.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-21T12:21:30:000000"
VERSION = "1.38.0"
DESCRIPTION = ("unique channel name per workspace, membership, (channel, seq), idempotency key and reaction slot; "
               "indexes for reading by (channel, created_at), threads and mentions")

UP = [
    "CREATE UNIQUE INDEX IF NOT EXISTS chorus_channel_ws_name_uq ON chorus_channel (workspace, name)",
    "CREATE UNIQUE INDEX IF NOT EXISTS chorus_channel_member_uq ON chorus_channel_member (channel, member)",
    "CREATE UNIQUE INDEX IF NOT EXISTS chorus_message_seq_uq ON chorus_message (channel, seq)",
    "CREATE UNIQUE INDEX IF NOT EXISTS chorus_message_client_uq ON chorus_message (channel, author, client_msg_id)",
    "CREATE INDEX IF NOT EXISTS chorus_message_created_idx ON chorus_message (channel, created_at)",
    "CREATE INDEX IF NOT EXISTS chorus_message_thread_idx ON chorus_message (channel, thread_of, seq)",
    "CREATE INDEX IF NOT EXISTS chorus_mention_member_idx ON chorus_mention (member, channel, seq)",
    "CREATE UNIQUE INDEX IF NOT EXISTS chorus_reaction_slot_uq ON chorus_reaction (message, member, slot)",
]
DOWN = [
    "DROP INDEX IF EXISTS chorus_reaction_slot_uq",
    "DROP INDEX IF EXISTS chorus_mention_member_idx",
    "DROP INDEX IF EXISTS chorus_message_thread_idx",
    "DROP INDEX IF EXISTS chorus_message_created_idx",
    "DROP INDEX IF EXISTS chorus_message_client_uq",
    "DROP INDEX IF EXISTS chorus_message_seq_uq",
    "DROP INDEX IF EXISTS chorus_channel_member_uq",
    "DROP INDEX IF EXISTS chorus_channel_ws_name_uq",
]


async def _run(statements: list[str]) -> None:
    engine = engine_finder()
    assert engine is not None
    for sql in statements:
        await engine.run_ddl(sql)


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="channels", description=DESCRIPTION)

    async def up() -> None:
        await _run(UP)

    async def down() -> None:
        await _run(DOWN)

    manager.add_raw(up)
    manager.add_raw_backwards(down)
    return manager
