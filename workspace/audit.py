"""The audit trail: one write path, :func:`record`, hash-chaining every entry; verification; signed checkpoints.

Each entry's hash is SHA-256 over the previous hash and a canonical JSON of the entry, so a modified, deleted,
inserted or reordered entry breaks the chain; a truncated tail is caught against an exported checkpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from workspace import db as dbmod
from workspace import metrics
from workspace.actor import Actor
from workspace.tables import AuditCheckpoint, AuditEvent

GENESIS = "0" * 64
_PG_CHAIN_LOCK = 0x43484F52  # "CHOR": advisory lock that serialises appends to the chain on PostgreSQL


@dataclass(frozen=True, slots=True)
class Entity:
    type: str
    id: str | int

    def __str__(self) -> str:
        return f"{self.type}:{self.id}"


def canonical(obj: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 kept; the form that is hashed and stored."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    body = {
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
    return hashlib.sha256((prev_hash + canonical(body)).encode()).hexdigest()


async def record(actor: Actor, action: str, entity: Entity, details: Mapping[str, Any] | None = None,
                 *, now_us: int | None = None) -> int:
    """Append one audit entry (inside the caller's transaction when there is one) and return its ``seq``.

    Call it from inside the transaction that makes the change, so the change and its record commit together.
    """
    database = dbmod.current()
    async with database.transaction():
        if not database.is_sqlite:
            await database.fetch("SELECT pg_advisory_xact_lock({})", _PG_CHAIN_LOCK)
        tail = await AuditEvent.select(AuditEvent.seq, AuditEvent.hash).order_by(
            AuditEvent.seq, ascending=False).limit(1)
        prev_seq, prev_hash = (tail[0]["seq"], tail[0]["hash"]) if tail else (0, GENESIS)
        row: dict[str, Any] = {
            "seq": prev_seq + 1,
            "date_us": now_us if now_us is not None else time.time_ns() // 1000,
            "workspace_id": actor.workspace_id,
            "action": action,
            "actor_type": actor.kind,
            "actor_id": actor.audit_id,
            "actor_handle": actor.handle,
            "on_behalf_of": actor.on_behalf_of,
            "entity_type": entity.type,
            "entity_id": str(entity.id),
            "context": canonical(actor.context.as_dict()),
            "details": canonical(dict(details or {})),
        }
        row["prev_hash"] = prev_hash
        row["hash"] = entry_hash(prev_hash, row)
        await AuditEvent.insert(AuditEvent(**row))
    metrics.audit_event(action=action)
    return int(row["seq"])


@dataclass(frozen=True, slots=True)
class VerifyResult:
    events: int
    ok: bool
    first_bad_seq: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"events": self.events, "ok": self.ok, "first_bad_seq": self.first_bad_seq, "reason": self.reason}


async def iter_events(batch: int = 5000) -> AsyncIterator[dict[str, Any]]:
    """Every entry in ``seq`` order, fetched in batches by keyset (constant memory)."""
    last = -1
    while True:
        rows = await AuditEvent.select().where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
        if not rows:
            return
        for row in rows:
            yield row
        last = rows[-1]["seq"]


async def verify(checkpoint: Mapping[str, Any] | None = None, key: bytes | None = None) -> VerifyResult:
    """Walk the whole chain. With a checkpoint (and the key that signed it), also detect truncation."""
    if checkpoint is not None and key is not None and not checkpoint_signature_ok(checkpoint, key):
        return VerifyResult(0, False, None, "the checkpoint's signature does not match: wrong key or edited file")
    expected_seq, prev_hash, count = 1, GENESIS, 0
    checkpoint_seen = False
    async for row in iter_events():
        count += 1
        seq = row["seq"]
        if seq != expected_seq:
            kind = "missing" if seq > expected_seq else "duplicated or reordered"
            return VerifyResult(count, False, expected_seq, f"entry seq {expected_seq} is {kind} (found {seq})")
        if row["prev_hash"] != prev_hash:
            return VerifyResult(count, False, seq, f"entry {seq} does not link to entry {seq - 1} (deleted, "
                                "inserted or reordered entry)")
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


def export_row(row: Mapping[str, Any]) -> dict[str, Any]:
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
        "prev_hash": row["prev_hash"],
        "hash": row["hash"],
    }
