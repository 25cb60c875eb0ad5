"""Reading the audit trail for security reviewers: search with keyset pagination (oldest or newest first) and a
total, export, verify, signed checkpoints, and the titles of the documents entries name. No HTTP here.

Only the ``security`` role reads the trail, and only the entries its clearance dominates (an entry's label is that
of what it describes): searches, totals and exports leave the others out and :func:`count_hidden` says how many
they are. Exports, verifications and checkpoints are themselves audited. Background verification (with progress)
lives in ``sso.services_verify``. The audit trail is the kernel's (``workspace``), so its search lives beside it;
the security pages and API in ``sso`` call it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from piccolo.columns.combination import WhereRaw

from workspace import audit
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.audit import Entity
from workspace.hooks import hooks
from workspace.labels import dominates_sql
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


def _readable(actor: Actor, readable: bool = True) -> WhereRaw:
    """Entries whose label the actor's clearance dominates (or, ``readable=False``, the others)."""
    sql, args = dominates_sql(actor.label, "")
    return WhereRaw(sql if readable else f"NOT ({sql})", *args)


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


async def search_audit(actor: Actor, f: AuditFilter, after_seq: int = 0, limit: int = 100, *,
                       newest_first: bool = False, before_seq: int | None = None
                       ) -> tuple[list[dict[str, Any]], int | None]:
    """One page of the matching entries the actor's clearance dominates and the cursor of the next page (None at the
    end): oldest first after ``after_seq`` (pass the cursor as ``after_seq``), or with ``newest_first`` newest first
    before ``before_seq`` (pass the cursor as ``before_seq``). Every filter applies at once (they combine)."""
    actor.require_role("security")
    limit = max(1, min(limit, MAX_PAGE))
    await audit.seal_all()  # show entries committed a moment ago, not only what the background sealer reached
    where = _where(actor, f, after_seq) & _readable(actor)
    if newest_first and before_seq is not None:
        where &= AuditEvent.seq < before_seq
    query = AuditEvent.select().where(where).order_by(AuditEvent.seq, ascending=not newest_first)
    rows = await query.limit(limit + 1)
    page = [audit.export_row(r, actor.scheme) for r in rows[:limit]]
    return page, (int(rows[limit - 1]["seq"]) if len(rows) > limit else None)


async def count_audit(actor: Actor, f: AuditFilter) -> int:
    """How many sealed entries match ``f`` that the actor may read (the page's total; the same filters as
    :func:`search_audit`)."""
    actor.require_role("security")
    return int(await AuditEvent.count().where(_where(actor, f, 0) & _readable(actor)))


async def count_hidden(actor: Actor, f: AuditFilter) -> int:
    """How many sealed entries match ``f`` above the actor's clearance: left out of its searches and exports."""
    actor.require_role("security")
    return int(await AuditEvent.count().where(_where(actor, f, 0) & _readable(actor, False)))


async def document_titles(actor: Actor, ids: Iterable[Any]) -> dict[int, str | None]:
    """Titles of the documents entries name (``details.documents``, document entities), through the
    ``documents.titles`` hook (personas answers it): ``None`` for a document above the reviewer's clearance or
    gone, so a title is shown only to a reader whose label dominates the document's."""
    wanted = sorted({int(i) for i in ids if str(i).isdigit()})
    if not wanted or not hooks.has("documents.titles"):
        return {}
    found: dict[int, str | None] = {i: None for i in wanted}
    for answer in await hooks.emit("documents.titles", actor=actor, ids=wanted):
        found.update({int(k): v for k, v in (answer or {}).items() if int(k) in found})
    return found


async def make_checkpoint(actor: Actor, key: bytes) -> dict[str, Any]:
    """Sign the chain's current end (what ``chorus audit checkpoint`` writes) for the reviewer to download and keep
    elsewhere; audited as ``audit.checkpoint_created``."""
    actor.require_role("security")
    checkpoint = await audit.make_checkpoint(key)
    async with dbmod.current().transaction():
        await audit.record(actor, "audit.checkpoint_created", Entity("audit", actor.workspace_id),
                           {"seq": checkpoint["seq"], "hash": checkpoint["hash"]})
    return checkpoint


async def iter_audit(actor: Actor, f: AuditFilter, batch: int = 2000) -> AsyncIterator[dict[str, Any]]:
    """Every matching entry the actor may read (export shape), oldest first, in batches by keyset: constant
    memory."""
    actor.require_role("security")
    await audit.seal_all()
    last = 0
    while True:
        rows = await AuditEvent.select().where(_where(actor, f, last) & _readable(actor)).order_by(
            AuditEvent.seq).limit(batch)
        for row in rows:
            yield audit.export_row(row, actor.scheme)
        if len(rows) < batch:
            return
        last = int(rows[-1]["seq"])


async def record_export(actor: Actor, fmt: str, f: AuditFilter, hidden: int = 0) -> None:
    actor.require_role("security")
    async with dbmod.current().transaction():
        await audit.record(actor, "audit.exported", Entity("audit", actor.workspace_id),
                           {"format": fmt, "filters": f.as_dict(), "hidden": hidden})


async def verify_audit(actor: Actor, key: bytes) -> dict[str, Any]:
    """Walk the chain against the latest stored checkpoint; the check itself is audited."""
    actor.require_role("security")
    checkpoint = await audit.last_checkpoint()
    result = await audit.verify(checkpoint, key)
    async with dbmod.current().transaction():
        await audit.record(actor, "audit.verified", Entity("audit", actor.workspace_id), result.as_dict())
    cp = None if checkpoint is None else {k: checkpoint[k] for k in ("seq", "hash", "created_us", "signature")}
    return {**result.as_dict(), "last_checkpoint": cp}
