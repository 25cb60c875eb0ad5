"""``Database.fetch_rows`` (bulk scans) on each engine: plain tuples in the statement's order, NULLs as ``None``, no
rows as an empty list, inside a transaction and outside one (PostgreSQL sends them as one array per column)."""

from __future__ import annotations

from workspace.db import Database

ROWS = ("WITH v(a, b) AS (VALUES (3, 'c'), (1, NULL), (2, 'b'), (4, 'd')) "
        "SELECT a, b FROM v WHERE a < {} ORDER BY a DESC")


async def test_rows_are_tuples_in_the_statements_order(db: Database) -> None:
    rows = await db.fetch_rows(ROWS, 4)
    assert rows == [(3, "c"), (2, "b"), (1, None)]
    assert {type(r) for r in rows} == {tuple}
    assert await db.fetch_rows(ROWS, 0) == []
    async with db.transaction():
        assert await db.fetch_rows(ROWS, 3) == [(2, "b"), (1, None)]
        assert await db.fetch_rows(ROWS, 1) == []
