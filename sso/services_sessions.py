"""Human sessions: create, resolve a cookie to an Actor (idle and absolute expiry), end (logout, back-channel).

The cookie carries a random id; only its SHA-256 is stored. Ending a session emits the ``session.ended`` hook so
``channels`` closes that session's WebSockets. No HTTP here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sso import clock
from sso.tables import Session
from workspace import audit
from workspace import db as dbmod
from workspace.actor import Actor, RequestContext
from workspace.audit import Entity
from workspace.errors import Forbidden, NotAuthenticated
from workspace.hooks import hooks
from workspace.services import actor_for_member, get_member
from workspace.settings import OIDCSettings
from workspace.tables import Member

SESSION_COOKIE = "chorus_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
TOUCH_EVERY_S = 60.0
"""``last_seen_at`` is written at most this often per session (the idle limit is far longer)."""


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    idle_s: int = 8 * 3600
    absolute_s: int = 7 * 24 * 3600

    @classmethod
    def from_settings(cls, oidc: OIDCSettings) -> SessionPolicy:
        return cls(idle_s=oidc.session_idle_s, absolute_s=oidc.session_absolute_s)


@dataclass(frozen=True, slots=True)
class NewSession:
    cookie: str
    """The cookie value: shown once, stored only hashed."""
    ref: int
    """The session's non-secret id (audit context, ``session.ended`` hook)."""
    csrf_token: str
    member_id: int


@dataclass(frozen=True, slots=True)
class ResolvedSession:
    ref: int
    member_id: int
    kind: str
    csrf_token: str
    id_token: str | None
    actor: Actor

    def csrf_ok(self, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(str(presented).encode(), self.csrf_token.encode())


# Raw SQL on the hot path (every request of a signed-in person): a Piccolo join costs about 1 ms of Python.
_LOOKUP_SQL = (
    "SELECT s.id, s.kind, s.csrf_token, s.last_seen_at, s.expires_at, s.ended_at, s.end_reason, s.id_token, "
    "m.id AS m_id, m.workspace AS m_workspace, m.kind AS m_kind, m.handle AS m_handle, "
    "m.label_level AS m_label_level, m.label_mask AS m_label_mask, m.roles AS m_roles, m.active AS m_active "
    "FROM chorus_session s JOIN chorus_member m ON m.id = s.member WHERE s.id_hash = {}")


def hash_session_id(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


def _ts(value: Any) -> float:
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()
    return dt.datetime.fromisoformat(str(value)).timestamp()


async def create_session(member_id: int, policy: SessionPolicy, *, kind: str, action: str,
                         details: Mapping[str, Any] | None = None, context: RequestContext | None = None,
                         idp_issuer: str | None = None, idp_subject: str | None = None, idp_sid: str | None = None,
                         id_token: str | None = None) -> NewSession:
    """Start a session for human ``member_id`` and record ``action`` (e.g. ``login.succeeded``) as that person."""
    row = await _member(member_id)
    cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = clock.now()
    async with dbmod.current().transaction():
        created = await Session.insert(Session(
            id_hash=hash_session_id(cookie), member=member_id, kind=kind, csrf_token=csrf,
            created_at=_dt(now), last_seen_at=_dt(now), expires_at=_dt(now + policy.absolute_s),
            idp_issuer=idp_issuer, idp_subject=idp_subject, idp_sid=idp_sid, id_token=id_token))
        ref = int(created[0]["id"])
        ctx = RequestContext(ip=(context or RequestContext()).ip, user_agent=(context or RequestContext()).user_agent,
                             session_id=str(ref), request_id=(context or RequestContext()).request_id)
        actor = await actor_for_member(row, ctx)
        await audit.record(actor, action, Entity("session", ref),
                           {"kind": kind, "roles": sorted(actor.roles), "clearance": str(actor.label),
                            **dict(details or {})})
    return NewSession(cookie=cookie, ref=ref, csrf_token=csrf, member_id=member_id)


async def _member(member_id: int) -> dict[str, Any]:
    rows = await Member.select().where(Member.id == member_id)
    if not rows:
        raise NotAuthenticated(f"member {member_id} does not exist")
    row = rows[0]
    if row["kind"] != "human":
        raise Forbidden(f"{row['handle']!r} is an agent; agents use agent tokens, not sessions")
    return row


def _dt(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


async def resolve_session(cookie: str, policy: SessionPolicy,
                          context: RequestContext | None = None) -> ResolvedSession:
    """The signed-in person behind a session cookie; refuses unknown, ended, idle or too-old sessions."""
    if not cookie or len(cookie) > 200:
        raise NotAuthenticated("no valid session; sign in at /auth/login")
    rows = await dbmod.current().fetch(_LOOKUP_SQL, hash_session_id(cookie))
    if not rows:
        raise NotAuthenticated("your session is unknown (signed out elsewhere, or the server was reset); "
                               "sign in again at /auth/login")
    row = rows[0]
    ref = int(row["id"])
    if row["ended_at"] is not None:
        raise NotAuthenticated(f"your session ended ({row['end_reason'] or 'signed out'}); sign in again at "
                               "/auth/login")
    now = clock.now()
    if now >= _ts(row["expires_at"]):
        await _end([ref], "expired_absolute")
        raise NotAuthenticated(f"your session reached its maximum age of {policy.absolute_s // 3600} h; "
                               "sign in again at /auth/login")
    last_seen = _ts(row["last_seen_at"])
    if now - last_seen >= policy.idle_s:
        await _end([ref], "expired_idle")
        raise NotAuthenticated(f"your session expired after {policy.idle_s // 60} min without activity; "
                               "sign in again at /auth/login")
    member = {k.removeprefix("m_"): v for k, v in row.items() if k.startswith("m_")}
    if not member["active"]:
        raise Forbidden(f"the account {member['handle']!r} is deactivated; ask an administrator")
    if now - last_seen >= TOUCH_EVERY_S:
        await Session.update({Session.last_seen_at: _dt(now)}).where(Session.id == ref)
    base = context or RequestContext()
    ctx = RequestContext(ip=base.ip, user_agent=base.user_agent, session_id=str(ref), request_id=base.request_id)
    actor = await actor_for_member(member, ctx)
    return ResolvedSession(ref=ref, member_id=int(member["id"]), kind=str(row["kind"]),
                           csrf_token=str(row["csrf_token"]), id_token=row["id_token"], actor=actor)


async def _end(refs: list[int], reason: str) -> list[dict[str, Any]]:
    """Mark sessions ended (only those still open) and return their (id, member) rows."""
    if not refs:
        return []
    rows: list[dict[str, Any]] = await Session.update(
        {Session.ended_at: clock.now_dt(), Session.end_reason: reason}).where(
        Session.id.is_in(refs) & Session.ended_at.is_null()).returning(Session.id, Session.member)
    return rows


async def _announce(rows: list[dict[str, Any]], reason: str) -> None:
    for r in rows:
        await hooks.emit("session.ended", session_id=str(r["id"]), member_id=int(r["member"]), reason=reason)


async def end_session(actor: Actor, ref: int, reason: str = "logout") -> bool:
    """Sign out of one session (audited as ``logout``); returns False if it had already ended."""
    async with dbmod.current().transaction():
        rows = await _end([ref], reason)
        if rows:
            await audit.record(actor, "logout", Entity("session", ref), {"reason": reason})
    await _announce(rows, reason)
    return bool(rows)


async def end_idp_sessions(actor: Actor, issuer: str, subject: str | None, sid: str | None,
                           reason: str = "backchannel_logout") -> list[int]:
    """End every open session of provider user ``subject`` and/or provider session ``sid`` (back-channel logout)."""
    where = (Session.idp_issuer == issuer) & Session.ended_at.is_null()
    if sid:
        where &= Session.idp_sid == sid
    if subject:
        where &= Session.idp_subject == subject
    async with dbmod.current().transaction():
        found = await Session.select(Session.id).where(where)
        rows = await _end([int(r["id"]) for r in found], reason)
        await audit.record(actor, "logout.backchannel", Entity("identity", subject or sid or "?"),
                           {"issuer": issuer, "subject": subject, "sid": sid,
                            "sessions": sorted(int(r["id"]) for r in rows)})
    await _announce(rows, reason)
    return sorted(int(r["id"]) for r in rows)


async def end_member_sessions(actor: Actor, member_id: int, reason: str) -> list[int]:
    """End every open session of a person (deactivation); audited."""
    await get_member(actor.workspace_id, member_id)
    async with dbmod.current().transaction():
        found = await Session.select(Session.id).where((Session.member == member_id) & Session.ended_at.is_null())
        rows = await _end([int(r["id"]) for r in found], reason)
        if rows:
            await audit.record(actor, "session.ended", Entity("member", member_id),
                               {"reason": reason, "sessions": sorted(int(r["id"]) for r in rows)})
    await _announce(rows, reason)
    return sorted(int(r["id"]) for r in rows)
