"""The audit trail: one write path, :func:`record`; the sealer that hash-chains entries; verification; checkpoints.

:func:`record` is one INSERT inside the caller's transaction (the change and its record commit together), with no
lock. :func:`seal` then appends committed entries to the chain in insertion order: it gives each the next ``seq``
and a hash, SHA-256 over the previous hash and a canonical JSON of the entry, so a modified, deleted, inserted or
reordered sealed entry breaks the chain; a truncated tail is caught against an exported checkpoint. Unsealed
entries carry a negative ``seq``; a sealer task in every process seals them within about a second, and only the
sealer does: :func:`verify` reads, and reports entries still unsealed. Every entry carries the label of what it
describes (the bottom label unless the caller says otherwise), covered by the hash of entries sealed as version 2.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workspace import db as dbmod
from workspace import metrics
from workspace.actor import Actor
from workspace.labels import LabelInts, LabelOutsideScheme, LabelScheme
from workspace.tables import AuditCheckpoint, AuditEvent
from workspace.telemetry import quiet

log = logging.getLogger("chorus.audit")

GENESIS = "0" * 64
_PG_CHAIN_LOCK = 0x43484F52  # "CHOR": advisory lock that serialises sealing on PostgreSQL
SEAL_BATCH = 5000
HASH_VERSION = 2
"""What this release's sealer writes: version 2 hashes the label too; version 1 (entries sealed before labels, or by
an older sealer during a rolling upgrade) does not, and still verifies."""
VERIFY_WAIT_S = 3.0
"""How long :func:`verify` waits for a running sealer to seal the entries committed before it started."""
_INSERT = ("INSERT INTO chorus_audit_event (seq, date_us, workspace_id, action, actor_type, actor_id, actor_handle, "
           "on_behalf_of, entity_type, entity_id, context, details, label_level, label_mask, prev_hash, hash) "
           "VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, '', '')")


@dataclass(frozen=True, slots=True)
class Entity:
    type: str
    id: str | int

    def __str__(self) -> str:
        return f"{self.type}:{self.id}"


def canonical(obj: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 kept; the form that is hashed and stored."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(prev_hash: str, row: Mapping[str, Any], version: int | None = None) -> str:
    """The hash of one entry after ``prev_hash``, as hash version ``version`` (default: the row's own)."""
    version = int(row.get("hash_version") or 1) if version is None else version
    body: dict[str, Any] = {
        "seq": row["seq"],
        "date_us": row["date_us"],
        "workspace_id": row["workspace_id"],
        "action": row["action"],
        "actor": {"type": row["actor_type"], "id": row["actor_id"], "handle": row["actor_handle"],
                  "on_behalf_of": row["on_behalf_of"]},
        "entity": {"type": row["entity_type"], "id": row["entity_id"]},
        "context": row["context"],
        "details": row["details"],
    }
    if version >= 2:
        body["v"] = version
        body["label"] = [int(row["label_level"]), int(row["label_mask"])]
    return hashlib.sha256((prev_hash + canonical(body)).encode()).hexdigest()


async def record(actor: Actor, action: str, entity: Entity, details: Mapping[str, Any] | None = None,
                 *, label: LabelInts | None = None, now_us: int | None = None) -> None:
    """Append one audit entry, unsealed, inside the caller's transaction when there is one.

    Call it from inside the transaction that makes the change, so the change and its record commit together (a
    rolled-back change leaves no entry). It takes no lock: the chain is built afterwards by :func:`seal`.
    ``label``: the label of what the entry describes (a document, a channel, a message, a context read); only
    readers whose clearance dominates it see the entry. None: the bottom label (logins, runs, counts).
    """
    await dbmod.current().fetch(
        _INSERT, *_row(actor, action, entity, details, label,
                       now_us if now_us is not None else time.time_ns() // 1000))
    metrics.audit_event(action=action)


def _row(actor: Actor, action: str, entity: Entity, details: Mapping[str, Any] | None, label: LabelInts | None,
         now_us: int) -> tuple[Any, ...]:
    """The values of ``_INSERT`` for one unsealed entry."""
    pending_seq = -(secrets.randbits(62) + 1)  # unique among unsealed rows; replaced by the chain position
    return (pending_seq, now_us, actor.workspace_id, action, actor.kind, actor.audit_id, actor.handle,
            actor.on_behalf_of, entity.type, str(entity.id), canonical(actor.context.as_dict()),
            canonical(dict(details or {})), label.level if label else 0, label.mask if label else 0)


Entry = (tuple[Actor, str, Entity, Mapping[str, Any] | None]
         | tuple[Actor, str, Entity, Mapping[str, Any] | None, LabelInts | None])
"""One entry for :func:`record_many`: what :func:`record` takes, the label last (optional)."""


async def record_many(entries: Sequence[Entry]) -> None:
    """:func:`record` for many entries at once, in order: one ``executemany`` inside the caller's transaction (the
    agent runtime's per-chunk ``context.read`` entries). Same rows as that many :func:`record` calls."""
    if not entries:
        return
    now_us = time.time_ns() // 1000
    rows = [_row(e[0], e[1], e[2], e[3], e[4] if len(e) > 4 else None, now_us) for e in entries]
    await dbmod.current().execute_many(_INSERT, rows)
    for e in entries:
        metrics.audit_event(action=e[1])


async def seal(limit: int = SEAL_BATCH) -> int:
    """Chain up to ``limit`` committed, unsealed entries (oldest insert first); return how many were sealed.

    One sealer at a time: an advisory lock on PostgreSQL, the IMMEDIATE write transaction on SQLite.
    """
    database = dbmod.current()
    async with database.transaction():
        if not database.is_sqlite:
            await database.fetch("SELECT pg_advisory_xact_lock({})", _PG_CHAIN_LOCK)
        pending = await database.fetch(
            "SELECT * FROM chorus_audit_event WHERE seq < 0 ORDER BY id LIMIT {}", limit)
        if not pending:
            return 0
        tail = await database.fetch("SELECT seq, hash FROM chorus_audit_event WHERE seq > 0 ORDER BY seq DESC LIMIT 1")
        seq, prev_hash = (int(tail[0]["seq"]), str(tail[0]["hash"])) if tail else (0, GENESIS)
        updates = []
        for row in pending:
            seq += 1
            row["seq"] = seq
            digest = entry_hash(prev_hash, row, HASH_VERSION)
            updates.append((seq, prev_hash, digest, HASH_VERSION, row["id"]))
            prev_hash = digest
        await database.execute_many(
            "UPDATE chorus_audit_event SET seq = {}, prev_hash = {}, hash = {}, hash_version = {} WHERE id = {}",
            updates)
    return len(updates)


async def seal_all() -> int:
    """Seal everything committed so far (exports and checkpoints call this first; CLI commands that wrote, before
    they exit; never :func:`verify`)."""
    total = 0
    while (n := await seal()) > 0:
        total += n
    return total


async def sealed_count() -> int:
    """Entries already in the chain (every workspace's: the chain is one)."""
    rows = await dbmod.current().fetch("SELECT COUNT(*) AS n FROM chorus_audit_event WHERE seq > 0")
    return int(rows[0]["n"])


async def pending_count() -> int:
    rows = await dbmod.current().fetch("SELECT COUNT(*) AS n FROM chorus_audit_event WHERE seq < 0")
    return int(rows[0]["n"])


class Sealer:
    """The background task that keeps the chain sealed; every process that writes runs one (they take turns).

    It is stopped by an event, never cancelled mid-transaction (a cancelled SQLite transaction can leak its
    connection thread and keep the interpreter from exiting).
    """

    def __init__(self, interval_s: float = 0.5) -> None:
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def start(self) -> None:
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="audit-sealer")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._stop.set()
        with contextlib.suppress(Exception):
            await self._task
        self._task = None
        with contextlib.suppress(Exception):
            await seal_all()  # leave nothing unsealed behind on a clean shutdown

    async def _run(self) -> None:
        while not self._stop.is_set():
            sealed = 0
            try:
                if await _has_pending():
                    sealed = await seal()
            except Exception:  # a database restart: keep going, the entries wait safely unsealed
                log.warning("audit sealer: sealing failed; retrying", exc_info=True)
            if sealed < SEAL_BATCH:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.interval_s)


async def _has_pending() -> bool:
    """A cheap read (no write lock) so an idle sealer never contends with writers."""
    with quiet():  # twice a second in every process: no span for the idle check
        return bool(await dbmod.current().fetch("SELECT 1 AS x FROM chorus_audit_event WHERE seq < 0 LIMIT 1"))


@dataclass(frozen=True, slots=True)
class VerifyResult:
    events: int
    ok: bool
    first_bad_seq: int | None = None
    reason: str | None = None
    unsealed: int = 0
    """Entries committed before the check began and still outside the chain when it ended."""

    def as_dict(self) -> dict[str, Any]:
        return {"events": self.events, "ok": self.ok, "first_bad_seq": self.first_bad_seq, "reason": self.reason,
                "unsealed": self.unsealed}


async def iter_events(batch: int = 5000) -> AsyncIterator[dict[str, Any]]:
    """Every entry in ``seq`` order, fetched in batches by keyset (constant memory)."""
    last = 0  # unsealed entries have negative seqs and are not part of the chain yet
    while True:
        rows = await AuditEvent.select().where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
        if not rows:
            return
        for row in rows:
            yield row
        last = rows[-1]["seq"]


async def _unsealed(up_to_id: int) -> int:
    rows = await dbmod.current().fetch(
        "SELECT COUNT(*) AS n FROM chorus_audit_event WHERE seq < 0 AND id <= {}", up_to_id)
    return int(rows[0]["n"])


async def _await_sealer(wait_s: float) -> int:
    """How many of the entries unsealed when the check began are still unsealed after up to ``wait_s`` (a running
    sealer seals them within a second; entries written after the check began are not waited for). Reads only."""
    rows = await dbmod.current().fetch("SELECT MAX(id) AS id FROM chorus_audit_event WHERE seq < 0")
    newest = int(rows[0]["id"] or 0)
    if not newest:
        return 0
    deadline = time.monotonic() + wait_s
    left = await _unsealed(newest)
    while left and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        left = await _unsealed(newest)
    return left


async def verify(checkpoint: Mapping[str, Any] | None = None, key: bytes | None = None, *,
                 progress: Callable[[int], Awaitable[None]] | None = None, batch: int = 5000,
                 wait_s: float = VERIFY_WAIT_S) -> VerifyResult:
    """Walk the whole chain. With a checkpoint (and the key that signed it), also detect truncation.

    ``progress(entries_checked)`` is awaited after every ``batch`` entries (a background check reports through it);
    the walk yields to the event loop there too, so a long chain never holds the loop for more than one batch.
    Read-only: it never seals. Entries committed before it began but still unsealed after ``wait_s`` (no sealer
    is running, or they were added to the table behind Chorus's back) make the result not ok: until sealed, nothing
    vouches for them."""
    if checkpoint is not None and key is not None and not checkpoint_signature_ok(checkpoint, key):
        return VerifyResult(0, False, None, "the checkpoint's signature does not match: wrong key or edited file")
    unsealed = await _await_sealer(wait_s)
    result = await _walk(checkpoint, progress, batch)
    if not result.ok or not unsealed:
        return VerifyResult(result.events, result.ok, result.first_bad_seq, result.reason, unsealed)
    return VerifyResult(result.events, False, None, (
        f"{unsealed} entr{'y is' if unsealed == 1 else 'ies are'} not sealed into the chain (written before this "
        f"check, still pending {wait_s:g} s later): no sealer is running (start `chorus serve` or `chorus worker`, "
        "which seal within a second), or they were added outside Chorus. Until sealed, nothing vouches for them"),
        unsealed)


async def _walk(checkpoint: Mapping[str, Any] | None, progress: Callable[[int], Awaitable[None]] | None,
                batch: int) -> VerifyResult:
    expected_seq, prev_hash, count = 1, GENESIS, 0
    checkpoint_seen = False
    async for row in iter_events(batch):
        count += 1
        if count % batch == 0:
            if progress is not None:
                await progress(count)
            await asyncio.sleep(0)
        seq = row["seq"]
        if seq != expected_seq:
            kind = "missing" if seq > expected_seq else "duplicated or reordered"
            return VerifyResult(count, False, expected_seq, f"entry seq {expected_seq} is {kind} (found {seq})")
        if row["prev_hash"] != prev_hash:
            return VerifyResult(count, False, seq, f"entry {seq} does not link to entry {seq - 1} (deleted, "
                                "inserted or reordered entry)")
        if int(row.get("hash_version") or 1) not in (1, HASH_VERSION):
            return VerifyResult(count, False, seq, f"entry {seq} has an unknown hash version {row['hash_version']}")
        if entry_hash(prev_hash, row) != row["hash"]:
            return VerifyResult(count, False, seq, f"entry {seq} was modified (its hash does not match its content)")
        if checkpoint is not None and seq == int(checkpoint["seq"]):
            checkpoint_seen = True
            if row["hash"] != checkpoint["hash"]:
                return VerifyResult(count, False, seq, f"entry {seq} differs from the checkpoint's hash")
        prev_hash = row["hash"]
        expected_seq += 1
    if checkpoint is not None and not checkpoint_seen and int(checkpoint["seq"]) > 0:
        return VerifyResult(count, False, count + 1,
                            f"the trail ends at seq {count} but the checkpoint saw seq {checkpoint['seq']}: truncated")
    return VerifyResult(count, True)


def _sign(payload: Mapping[str, Any], key: bytes) -> str:
    body = canonical({k: payload[k] for k in ("seq", "hash", "created_us")})
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def checkpoint_signature_ok(checkpoint: Mapping[str, Any], key: bytes) -> bool:
    try:
        return hmac.compare_digest(_sign(checkpoint, key), str(checkpoint.get("signature", "")))
    except (KeyError, TypeError):
        return False


async def make_checkpoint(key: bytes) -> dict[str, Any]:
    """Sign the current tail (HMAC-SHA256), store it, and return it (write it to a file to export it)."""
    await seal_all()
    tail = await AuditEvent.select(AuditEvent.seq, AuditEvent.hash).order_by(
        AuditEvent.seq, ascending=False).limit(1)
    seq, last_hash = (tail[0]["seq"], tail[0]["hash"]) if tail else (0, GENESIS)
    payload: dict[str, Any] = {"seq": seq, "hash": last_hash, "created_us": time.time_ns() // 1000}
    payload["signature"] = _sign(payload, key)
    await AuditCheckpoint.insert(AuditCheckpoint(**payload))
    return {"version": 1, "algorithm": "HMAC-SHA256", **payload}


async def last_checkpoint() -> dict[str, Any] | None:
    rows = await AuditCheckpoint.select().order_by(AuditCheckpoint.seq, ascending=False).limit(1)
    return rows[0] if rows else None


def label_text(row: Mapping[str, Any], scheme: LabelScheme | None) -> str:
    """An entry's label by name in ``scheme`` (its integer form ``level:mask`` without a scheme, or when the scheme
    does not know it)."""
    level, mask = int(row.get("label_level") or 0), int(row.get("label_mask") or 0)
    if scheme is not None:
        try:
            return str(scheme.from_ints(level, mask))
        except LabelOutsideScheme:
            pass
    return f"{level}:{mask}"


def export_row(row: Mapping[str, Any], scheme: LabelScheme | None = None) -> dict[str, Any]:
    """The Slack-audit-log shape of one entry, for JSONL/CSV exports and the API."""
    return {
        "id": row["seq"],
        "date_us": row["date_us"],
        "date": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(row["date_us"] / 1e6))
        + f".{row['date_us'] % 1_000_000:06d}Z",
        "workspace_id": row["workspace_id"],
        "action": row["action"],
        "actor": {"type": row["actor_type"], "id": row["actor_id"], "handle": row["actor_handle"],
                  "on_behalf_of": row["on_behalf_of"]},
        "entity": {"type": row["entity_type"], "id": row["entity_id"]},
        "context": json.loads(row["context"]),
        "details": json.loads(row["details"]),
        "label": label_text(row, scheme),
        "prev_hash": row["prev_hash"],
        "hash": row["hash"],
    }
