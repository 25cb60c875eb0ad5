"""The audit chain: every kind of tampering is detected, on SQLite and PostgreSQL; labels are covered by the hash
of entries sealed as version 2 while version-1 entries still verify; verification never writes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from workspace import audit
from workspace.audit import Entity
from workspace.db import Database
from workspace.errors import Conflict
from workspace.services import ensure_workspace, system_actor
from workspace.tables import AuditEvent

KEY = b"test-audit-key"


async def _trail(n: int) -> None:
    ws = await ensure_workspace("acme")  # records workspace.created as entry 1
    actor = await system_actor(ws)
    for i in range(n - 1):
        await audit.record(actor, "test.event", Entity("thing", i), {"i": i, "note": "ünïcode ok"})
    assert await audit.seal_all() == n


async def test_an_untouched_trail_verifies(db: Database) -> None:
    await _trail(10)
    result = await audit.verify()
    assert result.as_dict() == {"events": 10, "ok": True, "first_bad_seq": None, "reason": None, "unsealed": 0}


async def test_entries_have_the_slack_audit_shape(db: Database) -> None:
    await _trail(2)
    rows = await AuditEvent.select().order_by(AuditEvent.seq)
    item = audit.export_row(rows[1])
    assert set(item) >= {"id", "date", "action", "actor", "entity", "context", "details"}
    assert item["actor"] == {"type": "system", "id": "system", "handle": "system", "on_behalf_of": None}
    assert item["entity"] == {"type": "thing", "id": "0"}
    assert item["details"] == {"i": 0, "note": "ünïcode ok"}
    assert rows[1]["prev_hash"] == rows[0]["hash"]


async def test_a_modified_entry_is_caught(db: Database) -> None:
    await _trail(6)
    await AuditEvent.update({AuditEvent.details: '{"i":99,"note":"ünïcode ok"}'}).where(AuditEvent.seq == 4)
    result = await audit.verify()
    assert (result.ok, result.first_bad_seq) == (False, 4)
    assert "modified" in (result.reason or "")


async def test_a_modified_entry_with_a_recomputed_hash_is_caught_at_the_next_link(db: Database) -> None:
    await _trail(6)
    row = (await AuditEvent.select().where(AuditEvent.seq == 3))[0]
    row["action"] = "test.innocent"
    forged = audit.entry_hash(row["prev_hash"], row)
    await AuditEvent.update({AuditEvent.action: "test.innocent", AuditEvent.hash: forged}).where(AuditEvent.seq == 3)
    result = await audit.verify()
    assert (result.ok, result.first_bad_seq) == (False, 4)


async def test_a_deleted_entry_is_caught(db: Database) -> None:
    await _trail(6)
    await AuditEvent.delete().where(AuditEvent.seq == 3)
    result = await audit.verify()
    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert "missing" in (result.reason or "")


async def test_an_inserted_entry_is_caught(db: Database) -> None:
    await _trail(6)
    # Make room at seq 4 and insert a well-formed entry linked to entry 3, as a careful forger would.
    for seq in range(6, 3, -1):
        await AuditEvent.update({AuditEvent.seq: seq + 1}).where(AuditEvent.seq == seq)
    prev = (await AuditEvent.select().where(AuditEvent.seq == 3))[0]
    row: dict[str, Any] = {**prev, "seq": 4, "action": "test.forged", "prev_hash": prev["hash"]}
    row.pop("id")
    row["hash"] = audit.entry_hash(prev["hash"], row)
    await AuditEvent.insert(AuditEvent(**row))
    result = await audit.verify()
    assert (result.ok, result.first_bad_seq) == (False, 5)
    assert "does not link" in (result.reason or "")


async def test_reordered_entries_are_caught(db: Database) -> None:
    await _trail(6)
    await AuditEvent.update({AuditEvent.seq: 1000}).where(AuditEvent.seq == 3)
    await AuditEvent.update({AuditEvent.seq: 3}).where(AuditEvent.seq == 4)
    await AuditEvent.update({AuditEvent.seq: 4}).where(AuditEvent.seq == 1000)
    result = await audit.verify()
    assert (result.ok, result.first_bad_seq) == (False, 3)


async def test_truncation_is_caught_against_an_exported_checkpoint(db: Database) -> None:
    await _trail(8)
    checkpoint = await audit.make_checkpoint(KEY)
    assert checkpoint["seq"] == 8
    await AuditEvent.delete().where(AuditEvent.seq > 6)
    assert (await audit.verify()).ok, "without a checkpoint a clean truncation is invisible"
    result = await audit.verify(checkpoint, KEY)
    assert (result.ok, result.first_bad_seq) == (False, 7)
    assert "truncated" in (result.reason or "")


async def test_a_rewritten_tail_is_caught_against_the_checkpoint(db: Database) -> None:
    await _trail(5)
    checkpoint = await audit.make_checkpoint(KEY)
    row = (await AuditEvent.select().where(AuditEvent.seq == 5))[0]
    row["details"] = '{"rewritten":true}'
    await AuditEvent.update({AuditEvent.details: row["details"],
                             AuditEvent.hash: audit.entry_hash(row["prev_hash"], row)}).where(AuditEvent.seq == 5)
    result = await audit.verify(checkpoint, KEY)
    assert (result.ok, result.first_bad_seq) == (False, 5)


async def test_an_edited_checkpoint_file_is_refused(db: Database) -> None:
    await _trail(3)
    checkpoint = await audit.make_checkpoint(KEY)
    assert (await audit.verify(checkpoint, KEY)).ok
    result = await audit.verify({**checkpoint, "seq": 2}, KEY)
    assert not result.ok
    assert "signature" in (result.reason or "")
    assert not (await audit.verify(checkpoint, b"another key")).ok


async def test_concurrent_writers_keep_one_unbroken_chain(db: Database) -> None:
    ws = await ensure_workspace("acme")
    actor = await system_actor(ws)
    await asyncio.gather(*(audit.record(actor, "test.parallel", Entity("n", i)) for i in range(25)))
    await audit.seal_all()
    result = await audit.verify()
    assert (result.ok, result.events) == (True, 26)


async def test_a_failed_change_leaves_no_audit_entry(db: Database) -> None:
    ws = await ensure_workspace("acme")
    actor = await system_actor(ws)

    async def doomed_change() -> None:
        async with db.transaction():
            await audit.record(actor, "test.doomed", Entity("n", 1))
            raise Conflict("the change failed after its audit entry was written")

    with pytest.raises(Conflict):
        await doomed_change()
    assert await AuditEvent.count().where(AuditEvent.action == "test.doomed") == 0


async def test_record_appends_unsealed_and_seal_chains_in_insertion_order(db: Database) -> None:
    ws = await ensure_workspace("acme")  # entry 1, unsealed
    actor = await system_actor(ws)
    for i in range(3):
        await audit.record(actor, "test.order", Entity("n", i))
    assert await audit.pending_count() == 4
    assert [r async for r in audit.iter_events()] == [], "unsealed entries are not part of the chain yet"
    assert await audit.seal(limit=2) == 2
    assert await audit.seal() == 2
    rows = await AuditEvent.select(AuditEvent.seq, AuditEvent.entity_id, AuditEvent.id).order_by(AuditEvent.seq)
    assert [r["seq"] for r in rows] == [1, 2, 3, 4]
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows), "chain order is insertion order"
    assert (await audit.verify()).ok


async def test_concurrent_sealers_build_one_chain(db: Database) -> None:
    ws = await ensure_workspace("acme")
    actor = await system_actor(ws)
    for i in range(40):
        await audit.record(actor, "test.parallel", Entity("n", i))
    counts = await asyncio.gather(*(audit.seal(limit=7) for _ in range(8)))
    assert sum(counts) == 41
    assert await audit.pending_count() == 0
    result = await audit.verify()
    assert (result.ok, result.events) == (True, 41)


async def test_the_background_sealer_seals_and_flushes_on_stop(db: Database) -> None:
    ws = await ensure_workspace("acme")
    actor = await system_actor(ws)
    sealer = audit.Sealer(interval_s=0.05)
    await sealer.start()
    try:
        await audit.record(actor, "test.background", Entity("n", 1))
        for _ in range(200):  # bounded wait for the task, not a timing claim
            if await audit.pending_count() == 0:
                break
            await asyncio.sleep(0.05)
        assert await audit.pending_count() == 0
    finally:
        await sealer.stop()
    await audit.record(actor, "test.background", Entity("n", 2))
    await sealer.start()
    await sealer.stop()
    assert await audit.pending_count() == 0, "stop() seals what is left"


async def _counts(db: Database) -> tuple[int, int]:
    rows = await db.fetch("SELECT COUNT(*) AS n, SUM(CASE WHEN seq < 0 THEN 1 ELSE 0 END) AS pending "
                          "FROM chorus_audit_event")
    return int(rows[0]["n"]), int(rows[0]["pending"] or 0)


async def test_verify_never_seals_and_reports_what_is_unsealed(db: Database) -> None:
    await _trail(4)
    actor = await system_actor(await ensure_workspace("acme"))
    for i in range(3):
        await audit.record(actor, "test.pending", Entity("n", i))
    before = await _counts(db)
    result = await audit.verify(wait_s=0.2)
    assert (result.ok, result.events, result.unsealed, result.first_bad_seq) == (False, 4, 3, None)
    assert "3 entries are not sealed" in (result.reason or "")
    assert await _counts(db) == before == (7, 3), "verification wrote to the trail"


async def test_verify_waits_for_a_running_sealer(db: Database) -> None:
    await _trail(2)
    actor = await system_actor(await ensure_workspace("acme"))
    sealer = audit.Sealer(interval_s=0.05)
    await sealer.start()
    try:
        await audit.record(actor, "test.sealed_by_the_sealer", Entity("n", 1))
        result = await audit.verify()
    finally:
        await sealer.stop()
    assert (result.ok, result.events, result.unsealed) == (True, 3, 0)


async def _labelled_trail(db: Database) -> int:
    """Entry 1 (workspace.created) at the bottom label, then one restricted entry; returns the restricted seq."""
    ws = await ensure_workspace("acme")
    actor = await system_actor(ws)
    await audit.record(actor, "test.secret", Entity("doc", 1), {"title": "Board pack"}, label=actor.scheme.top())
    await audit.seal_all()
    return 2


async def test_a_lowered_label_is_caught(db: Database) -> None:
    seq = await _labelled_trail(db)
    row = (await AuditEvent.select().where(AuditEvent.seq == seq))[0]
    assert (row["label_level"], row["hash_version"]) == (3, 2)
    await AuditEvent.update({AuditEvent.label_level: 0, AuditEvent.label_mask: 0}).where(AuditEvent.seq == seq)
    result = await audit.verify()
    assert (result.ok, result.first_bad_seq) == (False, seq)


async def test_a_downgraded_hash_version_is_caught(db: Database) -> None:
    seq = await _labelled_trail(db)
    await AuditEvent.update({AuditEvent.hash_version: 1, AuditEvent.label_level: 0,
                             AuditEvent.label_mask: 0}).where(AuditEvent.seq == seq)
    assert (await audit.verify()).first_bad_seq == seq
    await AuditEvent.update({AuditEvent.hash_version: 7}).where(AuditEvent.seq == seq)
    result = await audit.verify()
    assert result.first_bad_seq == seq and "unknown hash version" in (result.reason or "")


async def test_entries_sealed_before_labels_still_verify(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Version 1: what every entry sealed before this release is (and what an older sealer writes during a rolling
    upgrade); the chain may mix both versions."""
    ws = await ensure_workspace("acme")
    actor = await system_actor(ws)
    await audit.record(actor, "test.old", Entity("n", 1))
    monkeypatch.setattr(audit, "HASH_VERSION", 1)
    await audit.seal_all()
    monkeypatch.undo()
    await audit.record(actor, "test.new", Entity("n", 2), label=actor.scheme.top())
    await audit.seal_all()
    versions = [r["hash_version"] for r in await AuditEvent.select(AuditEvent.hash_version).order_by(AuditEvent.seq)]
    assert versions == [1, 1, 2]
    assert (await audit.verify()).ok


async def test_record_many_carries_labels_and_exports_name_them(db: Database) -> None:
    ws = await ensure_workspace("acme")
    actor = await system_actor(ws)
    top = actor.scheme.top()
    await audit.record_many([(actor, "test.plain", Entity("n", 1), None),
                             (actor, "test.labelled", Entity("n", 2), {"x": 1}, top)])
    await audit.seal_all()
    rows = await AuditEvent.select().where(AuditEvent.action.like("test.%")).order_by(AuditEvent.seq)
    assert [(r["label_level"], r["label_mask"]) for r in rows] == [(0, 0), (top.level, top.mask)]
    assert [audit.export_row(r, actor.scheme)["label"] for r in rows] == ["public", str(top)]
    assert audit.export_row(rows[1])["label"] == f"{top.level}:{top.mask}", "without a scheme: the integer form"
