"""Piccolo app for the personas domain's tables."""

from pathlib import Path

from piccolo.conf.apps import AppConfig, table_finder

APP_CONFIG = AppConfig(
    app_name="personas",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=table_finder(modules=["personas.tables"], exclude_imported=True),
    migration_dependencies=["channels.piccolo_app"],
    commands=[],
)
