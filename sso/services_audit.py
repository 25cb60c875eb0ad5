"""Reading the audit trail for security reviewers: search with keyset pagination, export, verify. No HTTP here.

Only the ``security`` role reads the trail; exports and verifications are themselves audited.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from typing import Any

from workspace import audit
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.audit import Entity
from workspace.tables import AuditEvent

MAX_PAGE = 500


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor: str | None = None
    """A member id or a handle (matches either)."""
    action: str | None = None
    """Exact action, or a prefix ending in ``.`` / ``*`` (``login.`` or ``login*`` matches every login event)."""
    entity_type: str | None = None
    entity_id: str | None = None
    since_us: int | None = None
    until_us: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _where(actor: Actor, f: AuditFilter, after_seq: int) -> Any:
    where = (AuditEvent.seq > after_seq) & (AuditEvent.workspace_id == actor.workspace_id)
    if f.actor:
        where &= (AuditEvent.actor_handle == f.actor) | (AuditEvent.actor_id == f.actor)
    if f.action:
        if f.action.endswith(("*", ".")):
            where &= AuditEvent.action.like(f.action.rstrip("*").replace("%", "").replace("_", "\\_") + "%")
        else:
            where &= AuditEvent.action == f.action
    if f.entity_type:
        where &= AuditEvent.entity_type == f.entity_type
    if f.entity_id:
        where &= AuditEvent.entity_id == f.entity_id
    if f.since_us is not None:
        where &= AuditEvent.date_us >= f.since_us
    if f.until_us is not None:
        where &= AuditEvent.date_us < f.until_us
    return where


async def search_audit(actor: Actor, f: AuditFilter, after_seq: int = 0,
                       limit: int = 100) -> tuple[list[dict[str, Any]], int | None]:
    """One page of matching entries, oldest first, and the ``after_seq`` of the next page (None at the end)."""
    actor.require_role("security")
    limit = max(1, min(limit, MAX_PAGE))
    await audit.seal_all()  # show entries committed a moment ago, not only what the background sealer reached
    rows = await AuditEvent.select().where(_where(actor, f, after_seq)).order_by(AuditEvent.seq).limit(limit + 1)
    page = [audit.export_row(r) for r in rows[:limit]]
    return page, (int(rows[limit - 1]["seq"]) if len(rows) > limit else None)


async def iter_audit(actor: Actor, f: AuditFilter, batch: int = 2000) -> AsyncIterator[dict[str, Any]]:
    """Every matching entry (export shape), oldest first, in batches by keyset: constant memory."""
    actor.require_role("security")
    await audit.seal_all()
    last = 0
    while True:
        rows = await AuditEvent.select().where(_where(actor, f, last)).order_by(AuditEvent.seq).limit(batch)
        for row in rows:
            yield audit.export_row(row)
        if len(rows) < batch:
            return
        last = int(rows[-1]["seq"])


async def record_export(actor: Actor, fmt: str, f: AuditFilter) -> None:
    actor.require_role("security")
    async with dbmod.current().transaction():
        await audit.record(actor, "audit.exported", Entity("audit", actor.workspace_id),
                           {"format": fmt, "filters": f.as_dict()})


async def verify_audit(actor: Actor, key: bytes) -> dict[str, Any]:
    """Walk the chain against the latest stored checkpoint; the check itself is audited."""
    actor.require_role("security")
    checkpoint = await audit.last_checkpoint()
    result = await audit.verify(checkpoint, key)
    async with dbmod.current().transaction():
        await audit.record(actor, "audit.verified", Entity("audit", actor.workspace_id), result.as_dict())
    cp = None if checkpoint is None else {k: checkpoint[k] for k in ("seq", "hash", "created_us", "signature")}
    return {**result.as_dict(), "last_checkpoint": cp}
