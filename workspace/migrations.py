"""Applying and inspecting Piccolo migrations of every domain app, on whichever engine is configured."""

from __future__ import annotations

import contextlib
import io
import os

from piccolo.apps.migrations.commands.base import BaseMigrationManager
from piccolo.apps.migrations.commands.forwards import run_forwards
from piccolo.apps.migrations.tables import Migration

from workspace.db import PICCOLO_CONF
from workspace.errors import ConfigError


async def run_migrations(quiet: bool = True) -> list[str]:
    """Apply every pending migration of every app (in dependency order); return the ids applied."""
    os.environ.setdefault("PICCOLO_CONF", PICCOLO_CONF)
    before = await pending_migrations()
    out = io.StringIO()
    with contextlib.redirect_stdout(out) if quiet else contextlib.nullcontext():
        result = await run_forwards("all")
    if not result.success:
        raise ConfigError(f"migrations failed: {result.message}\n{out.getvalue()}")
    return before


async def pending_migrations() -> list[str]:
    """Ids of migrations not yet applied (all of them on an empty database)."""
    os.environ.setdefault("PICCOLO_CONF", PICCOLO_CONF)
    manager = BaseMigrationManager()
    ran: set[tuple[str, str]] = set()
    if await Migration.table_exists():
        rows = await Migration.select(Migration.app_name, Migration.name)
        ran = {(r["app_name"], r["name"]) for r in rows}
    pending: list[str] = []
    for config in manager.get_app_configs():
        modules = manager.get_migration_modules(config.resolved_migrations_folder_path)
        for migration_id in manager.get_migration_ids(modules):
            if (config.app_name, migration_id) not in ran:
                pending.append(f"{config.app_name}:{migration_id}")
    return pending
