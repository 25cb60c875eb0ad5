"""Migrations: the tables in code and the migrations shipped must agree, and both engines migrate cleanly."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest
from piccolo.apps.migrations.commands.new import AutoMigrationManager
from piccolo.conf.apps import Finder

from workspace.db import PICCOLO_CONF, Database
from workspace.migrations import pending_migrations, run_migrations

ROOT = Path(__file__).resolve().parents[2]
APPS = ["workspace", "sso", "channels", "personas", "insights"]


@pytest.mark.parametrize("app", APPS)
async def test_tables_and_migrations_agree(app: str) -> None:
    os.environ.setdefault("PICCOLO_CONF", PICCOLO_CONF)
    config = Finder().get_app_config(app)
    statements = await AutoMigrationManager(auto_input="y").get_alter_statements(app_config=config)
    changes = [s for group in statements for s in group.statements]
    assert not changes, (
        f"the tables of '{app}' differ from its migrations; run "
        f"`PICCOLO_CONF=workspace.piccolo_conf piccolo migrations new {app} --auto` and review it:\n"
        + "\n".join(changes))


async def test_every_migration_is_applied_on_both_engines(db: Database) -> None:
    assert await pending_migrations() == []
    assert await run_migrations() == [], "a second run applies nothing"


def test_migrations_never_import_app_code() -> None:
    offenders = []
    for app in APPS:
        for path in (ROOT / app / "piccolo_migrations").glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in APPS:
                    offenders.append(f"{path.relative_to(ROOT)} imports {node.module}")
    assert not offenders, "migrations are shipped to strangers and must not import app code:\n" + "\n".join(offenders)
