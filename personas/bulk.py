"""Bulk inserts with the raw drivers, for imports of many rows (agents, chunks, fingerprints).

PostgreSQL: one ``INSERT ... SELECT FROM unnest(arrays)`` per batch (one round trip, optional ``RETURNING``).
SQLite: ``executemany`` inside the caller's IMMEDIATE transaction; new ids are read back as ``id > max(id)``
before the insert, which is exact because the IMMEDIATE transaction excludes every other writer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workspace import db as dbmod


async def insert_rows(table: str, columns: Sequence[str], pg_types: Sequence[str], rows: Sequence[Sequence[Any]],
                      *, returning: str | None = None, on_conflict: str = "") -> list[dict[str, Any]]:
    """Insert ``rows`` into ``table``; with ``returning="handle"`` return ``[{"id", "handle"}]`` for the new rows.
    ``on_conflict``: e.g. ``ON CONFLICT (key) DO NOTHING`` (idempotent writes; not with ``returning``).

    Must run inside ``Database.transaction()`` (the SQLite id read-back depends on it).
    """
    if not rows:
        return []
    database = dbmod.current()
    tx = database.engine.current_transaction.get()
    if tx is None:
        raise RuntimeError("insert_rows must run inside Database.transaction()")
    cols = ", ".join(columns)
    if database.is_sqlite:
        before = 0
        if returning:
            cur = await tx.connection.execute(f"SELECT COALESCE(MAX(id), 0) AS top FROM {table}")
            before = int((await cur.fetchone())["top"])  # Piccolo's SQLite rows are dicts
        marks = ", ".join("?" for _ in columns)
        await tx.connection.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks}) {on_conflict}", rows)
        if not returning:
            return []
        cur = await tx.connection.execute(f"SELECT id, {returning} FROM {table} WHERE id > ? ORDER BY id", (before,))
        return [{"id": r["id"], returning: r[returning]} for r in await cur.fetchall()]
    arrays = [list(col) for col in zip(*rows, strict=True)]
    unnest = ", ".join(f"${i}::{t}[]" for i, t in enumerate(pg_types, start=1))
    sql = f"INSERT INTO {table} ({cols}) SELECT * FROM unnest({unnest}) {on_conflict}"
    if not returning:
        await tx.connection.execute(sql, *arrays)
        return []
    records = await tx.connection.fetch(f"{sql} RETURNING id, {returning}", *arrays)
    return [{"id": r["id"], returning: r[returning]} for r in records]
