"""Checking the audit chain in the background: a security reviewer starts a check, the process that took the request
walks the chain in a task and writes its progress to ``chorus_audit_verification``, and any replica's page reads it
from there ("checked 40,000 of 67,000", then the result and when it was last verified). No HTTP here.

One check runs at a time per workspace; a second request while one runs returns the running one. A check whose
process died (no heartbeat for :data:`STALE_S`) counts as interrupted and a new one may start.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from typing import Any

from sso.tables import AuditVerification
from workspace import audit
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.audit import Entity

log = logging.getLogger("chorus.audit.verify")
STALE_S = 30.0
BATCH = 1000
"""Entries per step of the walk: the loop is held for one step at a time (a few milliseconds)."""
REPORT_S = 0.5
_tasks: dict[int, asyncio.Task[None]] = {}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: Any) -> dt.datetime | None:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return None


def job_view(row: dict[str, Any] | None) -> dict[str, Any] | None:
    """The public shape of a check: status (``interrupted`` when its process stopped beating), progress, result."""
    if row is None:
        return None
    status = row["status"]
    beat = _aware(row["heartbeat_at"])
    if status == "running" and (beat is None or (_now() - beat).total_seconds() > STALE_S):
        status = "interrupted"
    total, checked = int(row["total"]), int(row["checked"])
    return {
        "id": int(row["id"]), "status": status, "started_by": row["started_by"],
        "started_at": _aware(row["started_at"]), "finished_at": _aware(row["finished_at"]),
        "checked": checked, "total": max(total, checked),
        "percent": 100 if status == "done" else (min(99, checked * 100 // total) if total else 0),
        "ok": row["ok"], "first_bad_seq": row["first_bad_seq"], "reason": row["reason"] or None,
        "checkpoint_seq": row["checkpoint_seq"],
    }


async def latest(actor: Actor) -> dict[str, Any] | None:
    """The newest check of the actor's workspace (running or not)."""
    actor.require_role("security")
    rows = await AuditVerification.select().where(AuditVerification.workspace == actor.workspace_id).order_by(
        AuditVerification.id, ascending=False).limit(1)
    return job_view(rows[0] if rows else None)


async def last_finished(actor: Actor) -> dict[str, Any] | None:
    """The newest check that reached a result: "last verified at"."""
    actor.require_role("security")
    rows = await AuditVerification.select().where(
        (AuditVerification.workspace == actor.workspace_id) & (AuditVerification.status == "done")).order_by(
        AuditVerification.id, ascending=False).limit(1)
    return job_view(rows[0] if rows else None)


async def start(actor: Actor, key: bytes) -> dict[str, Any]:
    """Start a check in this process (or return the one already running) and return it at once."""
    actor.require_role("security")
    current = await latest(actor)
    if current is not None and current["status"] == "running":
        return current
    await audit.seal_all()
    total = await audit.sealed_count()
    async with dbmod.current().transaction():
        created = await AuditVerification.insert(AuditVerification(
            workspace=actor.workspace_id, status="running", started_by=actor.handle, started_at=_now(),
            heartbeat_at=_now(), total=total, checked=0))
    job_id = int(created[0]["id"])
    # the job as started, read before its task can run: a short trail may be walked before a read after it
    view = await latest(actor)
    assert view is not None
    _tasks[job_id] = asyncio.create_task(_run(actor, key, job_id), name=f"audit-verify-{job_id}")
    _tasks[job_id].add_done_callback(lambda _: _tasks.pop(job_id, None))
    return view


async def _run(actor: Actor, key: bytes, job_id: int) -> None:
    last_report = time.monotonic()

    async def progress(checked: int) -> None:
        nonlocal last_report
        if time.monotonic() - last_report >= REPORT_S:
            last_report = time.monotonic()
            await AuditVerification.update({AuditVerification.checked: checked,
                                            AuditVerification.heartbeat_at: _now()}).where(
                AuditVerification.id == job_id)

    try:
        checkpoint = await audit.last_checkpoint()
        result = await audit.verify(checkpoint, key, progress=progress, batch=BATCH)
        async with dbmod.current().transaction():
            await audit.record(actor, "audit.verified", Entity("audit", actor.workspace_id),
                               {**result.as_dict(), "job": job_id})
            await AuditVerification.update({
                AuditVerification.status: "done", AuditVerification.checked: result.events,
                AuditVerification.ok: result.ok, AuditVerification.first_bad_seq: result.first_bad_seq,
                AuditVerification.reason: result.reason or "", AuditVerification.finished_at: _now(),
                AuditVerification.heartbeat_at: _now(),
                AuditVerification.checkpoint_seq: None if checkpoint is None else int(checkpoint["seq"]),
            }).where(AuditVerification.id == job_id)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await _end(job_id, "interrupted", "the server stopped during the check; start it again")
        raise
    except Exception as exc:
        log.exception("audit verification %s failed", job_id)
        with contextlib.suppress(Exception):
            await _end(job_id, "failed", f"the check could not finish: {type(exc).__name__}: {exc}"[:500])


async def _end(job_id: int, status: str, reason: str) -> None:
    await AuditVerification.update({AuditVerification.status: status, AuditVerification.reason: reason,
                                    AuditVerification.finished_at: _now()}).where(AuditVerification.id == job_id)


async def stop_all() -> None:
    """Cancel this process's checks (shutdown): each is marked interrupted."""
    tasks = list(_tasks.values())
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def wait_all() -> None:
    """Wait for this process's running checks (tests, and a CLI that must not exit under one)."""
    await asyncio.gather(*list(_tasks.values()), return_exceptions=True)
