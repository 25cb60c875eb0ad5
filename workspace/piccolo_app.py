"""Piccolo app for the core tables (workspaces, members, audit trail)."""

from pathlib import Path

from piccolo.conf.apps import AppConfig, table_finder

APP_CONFIG = AppConfig(
    app_name="workspace",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=table_finder(modules=["workspace.tables"], exclude_imported=True),
    migration_dependencies=[],
    commands=[],
)
