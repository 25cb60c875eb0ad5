"""Piccolo app for the channels domain's tables."""

from pathlib import Path

from piccolo.conf.apps import AppConfig, table_finder

APP_CONFIG = AppConfig(
    app_name="channels",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=table_finder(modules=["channels.tables"], exclude_imported=True),
    migration_dependencies=["sso.piccolo_app"],
    commands=[],
)
