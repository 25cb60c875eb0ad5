"""Unique member handles per workspace (a raw unique index; identical DDL on SQLite and PostgreSQL)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-21T12:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique (workspace, handle) on chorus_member"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="workspace", description=DESCRIPTION)

    async def create_index() -> None:
        from piccolo.apps.migrations.tables import Migration

        await Migration.raw(
            "CREATE UNIQUE INDEX IF NOT EXISTS chorus_member_workspace_handle ON chorus_member (workspace, handle)"
        )

    manager.add_raw(create_index)
    return manager
