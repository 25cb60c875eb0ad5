"""A workspace's label scheme as stored: extensions append compartments and never give one bit to two of them,
and every read returns what is stored now (no per-process copy that another writer can leave behind)."""

from __future__ import annotations

import asyncio

from workspace.db import Database
from workspace.labels import DEFAULT_TIERS
from workspace.services import ensure_workspace, extend_scheme, get_scheme, system_actor
from workspace.tables import AuditEvent


async def test_concurrent_extensions_keep_every_compartment_on_its_own_bit(db: Database) -> None:
    ws = await ensure_workspace("acme")
    admin = await system_actor(ws)
    await extend_scheme(admin, DEFAULT_TIERS, ("finance",))
    results = await asyncio.gather(*(extend_scheme(admin, DEFAULT_TIERS, (name,))
                                     for name in ("legal", "hr", "exec")))
    stored = await get_scheme(ws)
    assert stored.compartments[0] == "finance", "an existing bit never moves"
    assert sorted(stored.compartments[1:]) == ["exec", "hr", "legal"], stored
    for name, seen in zip(("legal", "hr", "exec"), results, strict=True):
        assert seen.compartments.index(name) == stored.compartments.index(name), (name, seen, stored)
    changes = await AuditEvent.count().where(AuditEvent.action == "workspace.labels_changed")
    assert changes == 4


async def test_an_extension_that_adds_nothing_writes_nothing(db: Database) -> None:
    ws = await ensure_workspace("acme")
    admin = await system_actor(ws)
    first = await extend_scheme(admin, DEFAULT_TIERS, ("finance", "legal"))
    again = await extend_scheme(admin, DEFAULT_TIERS, ("legal",))
    assert again == first == await get_scheme(ws)
    assert await AuditEvent.count().where(AuditEvent.action == "workspace.labels_changed") == 1
