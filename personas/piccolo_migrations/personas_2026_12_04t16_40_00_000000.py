"""One spend row per (workspace, department): runs of one workspace on two workers added their first spend at the
same moment and split it over two rows. Duplicates already stored are merged into the oldest row, then a unique
index makes the runtime's upsert (``ON CONFLICT``) possible. Raw SQL, the same on SQLite and PostgreSQL.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-04T16:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique (workspace, department) on personas_department_spend, duplicates merged first"

_SUM = ("(SELECT SUM(d.{0}) FROM personas_department_spend d WHERE d.workspace = personas_department_spend.workspace "
        "AND d.department = personas_department_spend.department)")
UP = [
    "UPDATE personas_department_spend SET "
    + ", ".join(f"{c} = {_SUM.format(c)}" for c in ("tokens_in", "tokens_out", "cost", "turns"))
    + " WHERE id IN (SELECT MIN(id) FROM personas_department_spend GROUP BY workspace, department "
    "HAVING COUNT(*) > 1)",
    "DELETE FROM personas_department_spend WHERE id NOT IN "
    "(SELECT MIN(id) FROM personas_department_spend GROUP BY workspace, department)",
    "CREATE UNIQUE INDEX IF NOT EXISTS personas_department_spend_uq ON personas_department_spend "
    "(workspace, department)",
]
DOWN = ["DROP INDEX IF EXISTS personas_department_spend_uq"]


async def _run(statements: list[str]) -> None:
    engine = engine_finder()
    assert engine is not None
    for sql in statements:
        await engine.run_ddl(sql)


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="personas", description=DESCRIPTION)

    async def up() -> None:
        await _run(UP)

    async def down() -> None:
        await _run(DOWN)

    manager.add_raw(up)
    manager.add_raw_backwards(down)
    return manager
