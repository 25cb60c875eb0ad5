"""Agent tokens: issue (rotating), revoke, list, and authenticate a bearer token to an agent Actor. No HTTP here.

Only SHA-256 hashes are stored. Authentication is one indexed query, cached for a few seconds per process and
dropped at once, in every process, when a token is revoked or rotated or its member deactivated (the
``agent_token.revoked`` and ``member.deactivated`` hooks, which ``channels`` carries to every replica and which also
close the sockets opened with the token). A token carries its agent's reach, so
an admin may issue one only for an agent whose label the admin's clearance dominates (``workspace.authority``);
revoking takes reach away and is open to every admin.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sso import clock
from sso.tables import AgentToken
from workspace import audit
from workspace import db as dbmod
from workspace.actor import Actor, RequestContext
from workspace.audit import Entity
from workspace.authority import require_authority
from workspace.errors import Forbidden, NotAuthenticated, ValidationFailed
from workspace.hooks import hooks
from workspace.labels import dominates_sql
from workspace.services import actor_for_member, current_actor, get_member, member_label

TOKEN_PREFIX = "chorus_at_"  # noqa: S105 (a public marker, not a secret)
CACHE_TTL_S = 5.0
"""How long a verified token is trusted without a query (another replica's revocation takes this long)."""
LAST_USED_EVERY_S = 60.0
"""``last_used_at`` is written at most this often per token, so the hot path stays read-only."""


@dataclass(frozen=True, slots=True)
class _Cached:
    actor: Actor
    token_id: int
    expires: float


# Raw SQL on the hot path: building the equivalent Piccolo join costs about 1 ms of Python per request.
_LOOKUP_SQL = (
    "SELECT t.id, t.token_hash, t.prefix, t.revoked_at, m.id AS m_id, m.workspace AS m_workspace, "
    "m.kind AS m_kind, m.handle AS m_handle, m.label_level AS m_label_level, m.label_mask AS m_label_mask, "
    "m.roles AS m_roles, m.active AS m_active "
    "FROM chorus_agent_token t JOIN chorus_member m ON m.id = t.member WHERE t.token_hash = {}")
_cache: dict[str, _Cached] = {}
_last_used_written: dict[str, float] = {}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def forget_cached(member_id: int | None = None) -> None:
    """Drop cached tokens (of one member, or all): after a revocation, a kill switch or a label change."""
    if member_id is None:
        _cache.clear()
        return
    for key in [k for k, v in _cache.items() if v.actor.member_id == member_id]:
        _cache.pop(key, None)


async def _agent_row(actor: Actor, member_id: int) -> dict[str, Any]:
    row = await get_member(actor.workspace_id, member_id)
    if row["kind"] != "agent":
        raise ValidationFailed(f"member {row['handle']!r} is a {row['kind']}, not an agent; only agents get agent "
                               "tokens (people sign in with SSO)", field="member_id")
    return row


async def issue_agent_token(actor: Actor, member_id: int) -> str:
    """Issue a new token for agent ``member_id`` and revoke its previous ones; the token is returned only here."""
    actor.require_role("admin")
    row = await _agent_row(actor, member_id)
    await require_authority(actor, "agent_token.issued", Entity("member", member_id),
                            member_label(actor.scheme, row), doing=f"issue a token for agent {row['handle']!r}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    prefix = token[: len(TOKEN_PREFIX) + 6]
    now = clock.now_dt()
    async with dbmod.current().transaction():
        revoked = await AgentToken.update({AgentToken.revoked_at: now}).where(
            (AgentToken.member == member_id) & AgentToken.revoked_at.is_null()).returning(AgentToken.id,
                                                                                           AgentToken.token_hash)
        created = await AgentToken.insert(AgentToken(member=member_id, token_hash=hash_token(token), prefix=prefix,
                                                     created_at=now))
        await audit.record(actor, "agent_token.issued", Entity("member", member_id),
                           {"handle": row["handle"], "token_id": created[0]["id"], "prefix": prefix,
                            "revoked_previous": [r["id"] for r in revoked]})
    forget_cached(member_id)
    await _closed([str(r["token_hash"]) for r in revoked])
    return token


BULK_CHUNK = 1000


async def issue_agent_tokens_bulk(actor: Actor, member_ids: list[int]) -> dict[int, str]:
    """Issue one new token for each agent in ``member_ids`` (revoking their previous ones) in one transaction with
    one audit entry; returns ``{member_id: token}`` (the only place the tokens are seen). All or nothing: an id that
    is not an agent of this workspace, or one above the actor's clearance, fails the whole call. For load tests and
    scripted provisioning of many agents; one token at a time is :func:`issue_agent_token`."""
    actor.require_role("admin")
    wanted = list(dict.fromkeys(int(m) for m in member_ids))
    if not wanted:
        return {}
    await _require_bulk_authority(actor, wanted)
    database = dbmod.current()
    now = clock.now_dt()
    tokens: dict[int, str] = {}
    revoked: list[str] = []
    async with database.transaction():
        for start in range(0, len(wanted), BULK_CHUNK):
            chunk = wanted[start:start + BULK_CHUNK]
            marks = ", ".join("{}" for _ in chunk)
            rows = await database.fetch(f"SELECT id FROM chorus_member WHERE workspace = {{}} AND kind = 'agent' "
                                        f"AND id IN ({marks})", actor.workspace_id, *chunk)
            missing = sorted(set(chunk) - {int(r["id"]) for r in rows})
            if missing:
                shown = ", ".join(str(m) for m in missing[:10])
                raise ValidationFailed(f"{len(missing)} member id(s) are not agents of this workspace ({shown}"
                                       f"{', ...' if len(missing) > 10 else ''}); no token was issued",
                                       field="member_ids")
            revoked.extend(str(r["token_hash"]) for r in await database.fetch(
                f"UPDATE chorus_agent_token SET revoked_at = {{}} WHERE revoked_at IS NULL AND member IN ({marks}) "
                "RETURNING token_hash", now, *chunk))
            new_rows = []
            for member_id in chunk:
                token = TOKEN_PREFIX + secrets.token_urlsafe(32)
                tokens[member_id] = token
                new_rows.append((member_id, hash_token(token), token[: len(TOKEN_PREFIX) + 6], now))
            await database.execute_many(
                "INSERT INTO chorus_agent_token (member, token_hash, prefix, created_at) VALUES ({}, {}, {}, {})",
                new_rows)
        await audit.record(actor, "agent_token.issued_bulk", Entity("workspace", actor.workspace_id),
                           {"count": len(wanted), "first_member": wanted[0], "last_member": wanted[-1]})
    for member_id in wanted:
        forget_cached(member_id)
    await _closed(revoked)
    return tokens


async def _require_bulk_authority(actor: Actor, member_ids: list[int]) -> None:
    """Refuse (audited) a bulk issue that includes any agent whose label the actor's clearance does not dominate."""
    if actor.kind == "system":
        return
    may_read, label_args = dominates_sql(actor.label, "")
    above: list[dict[str, Any]] = []
    for start in range(0, len(member_ids), BULK_CHUNK):
        chunk = member_ids[start:start + BULK_CHUNK]
        marks = ", ".join("{}" for _ in chunk)
        above.extend(await dbmod.current().fetch(
            f"SELECT id, handle, label_level, label_mask FROM chorus_member WHERE workspace = {{}} AND id IN ({marks}) "
            f"AND NOT ({may_read}) ORDER BY id", actor.workspace_id, *chunk, *label_args))
    if above:
        shown = ", ".join(repr(r["handle"]) for r in above[:5]) + (", ..." if len(above) > 5 else "")
        await require_authority(actor, "agent_token.issued_bulk", Entity("workspace", actor.workspace_id),
                                [member_label(actor.scheme, r) for r in above],
                                doing=f"issue tokens for {len(above)} of the {len(member_ids)} agents ({shown})",
                                details={"above": len(above), "first_above": int(above[0]["id"])})


async def revoke_agent_tokens(actor: Actor, member_id: int) -> int:
    """Revoke every active token of agent ``member_id``; returns how many were revoked."""
    actor.require_role("admin")
    row = await _agent_row(actor, member_id)
    async with dbmod.current().transaction():
        revoked = await AgentToken.update({AgentToken.revoked_at: clock.now_dt()}).where(
            (AgentToken.member == member_id) & AgentToken.revoked_at.is_null()).returning(AgentToken.id,
                                                                                           AgentToken.token_hash)
        await audit.record(actor, "agent_token.revoked", Entity("member", member_id),
                           {"handle": row["handle"], "token_ids": [r["id"] for r in revoked]})
    forget_cached(member_id)
    await _closed([str(r["token_hash"]) for r in revoked])
    return len(revoked)


async def _closed(token_hashes: list[str]) -> None:
    """After the commit: the ``agent_token.revoked`` hook, through which ``channels`` closes the sockets opened
    with these tokens on every replica and every process drops them from its token cache."""
    if token_hashes:
        await hooks.emit("agent_token.revoked", token_hashes=token_hashes)


async def list_agent_tokens(actor: Actor, member_id: int) -> list[dict[str, Any]]:
    """Metadata of an agent's tokens, newest first (never the token or its hash)."""
    actor.require_role("admin")
    await _agent_row(actor, member_id)
    rows = await AgentToken.select(AgentToken.id, AgentToken.prefix, AgentToken.created_at, AgentToken.last_used_at,
                                   AgentToken.revoked_at).where(AgentToken.member == member_id).order_by(
        AgentToken.id, ascending=False)
    return [{**r, "active": r["revoked_at"] is None} for r in rows]


async def authenticate_agent_token(token: str, context: RequestContext | None = None) -> Actor:
    """The agent Actor for a bearer token; refuses unknown or revoked tokens and deactivated agents."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise NotAuthenticated(f"that is not a Chorus agent token (they start with {TOKEN_PREFIX!r}); ask an admin "
                               "for one")
    digest = hash_token(token)
    now = time.monotonic()
    cached = _cache.get(digest)
    if cached is not None and cached.expires > now:
        # The member is cached for a few seconds; the label scheme is checked on every request (another process
        # may have added a compartment that this actor's copy of the scheme cannot decode).
        actor = await current_actor(cached.actor)
        if actor is not cached.actor:
            _cache[digest] = _Cached(actor, cached.token_id, cached.expires)
        await _touch(cached.token_id, digest)
        return actor.with_context(context or RequestContext())
    rows = await dbmod.current().fetch(_LOOKUP_SQL, digest)
    # The lookup is by hash, so timing reveals nothing about the token; compare again in constant time anyway.
    if not rows or not hmac.compare_digest(rows[0]["token_hash"], digest):
        raise NotAuthenticated("unknown agent token; check it was copied whole, or ask an admin to issue a new one")
    row = rows[0]
    member = {k.removeprefix("m_"): v for k, v in row.items() if k.startswith("m_")}
    if row["revoked_at"] is not None:
        raise NotAuthenticated(f"agent token {row['prefix']}... of {member['handle']!r} was revoked at "
                               f"{str(row['revoked_at'])[:19]} UTC; ask an admin for a new one")
    if member["kind"] != "agent":
        raise Forbidden(f"token {row['prefix']}... belongs to a {member['kind']}, not an agent")
    if not member["active"]:
        raise Forbidden(f"agent {member['handle']!r} is deactivated (kill switch); an admin must reactivate it")
    actor = await actor_for_member(member)
    _cache[digest] = _Cached(actor, int(row["id"]), now + CACHE_TTL_S)
    await _touch(int(row["id"]), digest)
    return actor.with_context(context or RequestContext())


async def _touch(token_id: int, digest: str) -> None:
    now = clock.now()
    if now - _last_used_written.get(digest, float("-inf")) < LAST_USED_EVERY_S:
        return
    _last_used_written[digest] = now
    await AgentToken.update({AgentToken.last_used_at: clock.now_dt()}).where(AgentToken.id == token_id)


async def on_tokens_revoked(token_hashes: list[str] | None = None, **_: Any) -> None:
    """Hook handler for agent_token.revoked (here or, through the broker, in another process): forget them."""
    for digest in token_hashes or ():
        _cache.pop(str(digest), None)


async def on_member_changed(member_id: int | None = None, member_ids: list[int] | None = None, **_: Any) -> None:
    """Hook handler for member.deactivated / member.label_changed: drop the cached actors at once (all of them when
    the event names no member, e.g. a whole role switched off)."""
    ids = [member_id] if member_id is not None else list(member_ids or [])
    if not ids:
        forget_cached()
    for one in ids:
        forget_cached(one)

