"""Piccolo app for the insights domain's tables."""

from pathlib import Path

from piccolo.conf.apps import AppConfig, table_finder

APP_CONFIG = AppConfig(
    app_name="insights",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=table_finder(modules=["insights.tables"], exclude_imported=True),
    migration_dependencies=["personas.piccolo_app"],
    commands=[],
)
