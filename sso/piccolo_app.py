"""Piccolo app for the sso domain's tables."""

from pathlib import Path

from piccolo.conf.apps import AppConfig, table_finder

APP_CONFIG = AppConfig(
    app_name="sso",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=table_finder(modules=["sso.tables"], exclude_imported=True),
    migration_dependencies=["workspace.piccolo_app"],
    commands=[],
)
