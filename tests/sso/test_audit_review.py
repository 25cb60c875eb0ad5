"""The security reviewer's services on SQLite and PostgreSQL: the trail newest first with a total and filters that
combine, document titles only within the reviewer's clearance, the chain check as a background job with progress
(and what it finds when an entry was altered), and signed checkpoints that are themselves audited."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest

from personas.context.documents import ingest_document
from personas.domain import register_hooks
from sso import services_verify
from sso.tables import AuditVerification
from workspace import audit
from workspace.actor import Actor
from workspace.audit import Entity
from workspace.audit_search import AuditFilter, count_audit, document_titles, make_checkpoint, search_audit
from workspace.db import Database
from workspace.errors import Forbidden
from workspace.labels import LabelScheme
from workspace.services import ensure_workspace, system_actor
from workspace.tables import AuditEvent

KEY = b"review-key"
SCHEME = LabelScheme(compartments=("finance",))


async def reviewer(label: str = "restricted/finance", roles: tuple[str, ...] = ("security",)) -> Actor:
    system = await system_actor(await ensure_workspace("acme", SCHEME))
    return replace(system, kind="human", handle="sam", label=system.scheme.parse(label), roles=frozenset(roles))


async def trail(n: int) -> Actor:
    system = await system_actor(await ensure_workspace("acme", SCHEME))
    for i in range(n):
        await audit.record(system, "test.login" if i % 2 else "test.post", Entity("member", i % 3),
                           {"i": i})
    await audit.seal_all()
    return system


async def test_newest_first_pages_with_a_total_and_filters_that_combine(db: Database) -> None:
    await trail(30)
    sam = await reviewer()
    first, cursor = await search_audit(sam, AuditFilter(), limit=10, newest_first=True)
    seqs = [e["id"] for e in first]
    assert seqs == sorted(seqs, reverse=True) and seqs[0] == 31 and cursor == seqs[-1]
    assert cursor is not None
    second, _ = await search_audit(sam, AuditFilter(), limit=10, newest_first=True, before_seq=cursor)
    assert [e["id"] for e in second] == list(range(cursor - 1, cursor - 11, -1))
    assert await count_audit(sam, AuditFilter()) == 31
    both = AuditFilter(action="test.login", entity_type="member", entity_id="1")
    rows, _ = await search_audit(sam, both, limit=100, newest_first=True)
    assert rows and all(r["action"] == "test.login" and r["entity"]["id"] == "1" for r in rows)
    assert await count_audit(sam, both) == len(rows) == len([i for i in range(30) if i % 2 and i % 3 == 1])
    assert await count_audit(sam, AuditFilter(action="test.", since_us=first[0]["date_us"] + 1)) == 0
    assert await count_audit(sam, AuditFilter(action="test.login", until_us=first[0]["date_us"] + 1)) == 15
    with pytest.raises(Forbidden, match="needs the role security"):
        await count_audit(await reviewer(roles=("employee",)), AuditFilter())


async def test_document_titles_only_within_the_reviewers_clearance(db: Database) -> None:
    register_hooks()
    system = await trail(1)
    memo = await ingest_document(system, "Board memo", "The board will sell the plant.",
                                 system.scheme.parse("restricted/finance"))
    notice = await ingest_document(system, "Canteen notice", "Lunch moves to noon.", system.scheme.parse("internal"))
    ids = [memo.document_id, notice.document_id, 999]
    assert await document_titles(await reviewer(), ids) == {memo.document_id: "Board memo",
                                                           notice.document_id: "Canteen notice", 999: None}
    low = await reviewer("internal")
    assert await document_titles(low, ids) == {memo.document_id: None, notice.document_id: "Canteen notice",
                                               999: None}


async def test_the_chain_check_runs_in_the_background_and_reports_progress(db: Database,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    await trail(40)
    sam = await reviewer()
    monkeypatch.setattr(services_verify, "BATCH", 7)
    monkeypatch.setattr(services_verify, "REPORT_S", 0.0)
    seen: list[int] = []
    real_update = AuditVerification.update

    def spy(values: dict[Any, Any], *args: Any, **kwargs: Any) -> Any:
        if AuditVerification.checked in values and AuditVerification.status not in values:
            seen.append(int(values[AuditVerification.checked]))
        return real_update(values, *args, **kwargs)

    monkeypatch.setattr(AuditVerification, "update", spy)
    job = await services_verify.start(sam, KEY)
    assert job["status"] == "running" and job["total"] == 41 and job["started_by"] == "sam"
    assert (await services_verify.start(sam, KEY))["id"] == job["id"], "one check at a time"
    await services_verify.wait_all()
    assert seen == [7, 14, 21, 28, 35], "progress is written as the walk goes"
    done = await services_verify.latest(sam)
    assert done is not None and done["status"] == "done" and done["ok"] is True and done["percent"] == 100
    assert done["checked"] == 41 and isinstance(done["finished_at"], dt.datetime)
    assert (await services_verify.last_finished(sam)) == done
    recorded = await AuditEvent.select().where(AuditEvent.action == "audit.verified")
    assert [r["actor_handle"] for r in recorded] == ["sam"] and f'"job":{job["id"]}' in recorded[0]["details"]


async def test_a_check_finds_an_altered_entry_and_a_dead_check_counts_as_interrupted(db: Database) -> None:
    await trail(12)
    sam = await reviewer()
    await AuditEvent.update({AuditEvent.details: '{"i":999}'}).where(AuditEvent.seq == 5)
    await services_verify.start(sam, KEY)
    await services_verify.wait_all()
    broken = await services_verify.latest(sam)
    assert broken is not None and (broken["status"], broken["ok"], broken["first_bad_seq"]) == ("done", False, 5)
    assert "modified" in (broken["reason"] or "")
    stale = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=services_verify.STALE_S + 5)
    await AuditVerification.insert(AuditVerification(workspace=sam.workspace_id, status="running", started_by="x",
                                                     started_at=stale, heartbeat_at=stale, total=10, checked=3))
    dead = await services_verify.latest(sam)
    assert dead is not None and dead["status"] == "interrupted"
    assert (await services_verify.last_finished(sam)) == broken
    restarted = await services_verify.start(sam, KEY)  # an interrupted check does not block a new one
    assert restarted["id"] != dead["id"] and restarted["status"] == "running"
    await services_verify.wait_all()


async def test_a_downloaded_checkpoint_is_signed_and_audited(db: Database) -> None:
    await trail(5)
    sam = await reviewer()
    checkpoint = await make_checkpoint(sam, KEY)
    assert checkpoint["seq"] == 6 and audit.checkpoint_signature_ok(checkpoint, KEY)
    await audit.seal_all()  # the checkpoint's own entry, as the server's sealer would (verify never seals)
    assert (await audit.verify(checkpoint, KEY)).ok
    rows = await AuditEvent.select().where(AuditEvent.action == "audit.checkpoint_created")
    assert [r["actor_handle"] for r in rows] == ["sam"]
    with pytest.raises(Forbidden):
        await make_checkpoint(await reviewer(roles=("admin",)), KEY)
