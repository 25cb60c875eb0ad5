"""OIDC sign-in and logout flows around :class:`sso.oidc.OIDCClient`: pending logins (single use, short-lived),
identity -> member by (issuer, subject), groups -> roles and clearance at every sign-in, sessions, audit.

No HTTP here: the controllers turn results and errors into redirects, cookies and pages.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sso import clock
from sso.mapping import GroupMaps, NoMappedGroup
from sso.oidc import Identity, LoginRequest, OIDCClient
from sso.oidc_tokens import OIDCError
from sso.services_humans import apply_human, find_identity, link_identity
from sso.services_sessions import NewSession, SessionPolicy, create_session, end_idp_sessions
from sso.tables import PendingLogin
from workspace import audit
from workspace import db as dbmod
from workspace.actor import RequestContext
from workspace.audit import Entity
from workspace.errors import ChorusError
from workspace.services import ensure_workspace, get_member, get_scheme, system_actor
from workspace.settings import OIDCSettings
from workspace.tables import Member

PENDING_TTL_S = 600.0
_HANDLE_CHARS = re.compile(r"[^a-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class SignedIn:
    session: NewSession
    return_to: str
    handle: str


def safe_return_to(value: str | None) -> str:
    """Only same-site absolute paths (no scheme, no host, no ``//``): an open redirect would leak the session."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value[:500]


def _state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


class LoginFlow:
    """Sign-in and logout with one provider; one per process (the client caches discovery and the JWKS)."""

    def __init__(self, settings: OIDCSettings, client: OIDCClient, policy: SessionPolicy) -> None:
        self.settings = settings
        self.client = client
        self.policy = policy

    async def begin(self, return_to: str | None) -> str:
        """Store a pending login and return the provider URL to redirect the browser to."""
        pending = await self.client.begin_login()
        now = clock.now()
        async with dbmod.current().transaction():
            # Expired pending logins are dead weight; sweeping them here keeps the table small without a job.
            await PendingLogin.delete().where(PendingLogin.created_at < _dt(now - PENDING_TTL_S))
            await PendingLogin.insert(PendingLogin(
                state_hash=_state_hash(pending.state), nonce=pending.nonce, code_verifier=pending.code_verifier,
                redirect_uri=pending.redirect_uri, return_to=safe_return_to(return_to), created_at=_dt(now)))
        return pending.url

    async def complete(self, params: Mapping[str, str], context: RequestContext) -> SignedIn:
        """Finish a sign-in from the callback parameters; every failure is audited and re-raised."""
        ws = await ensure_workspace()
        system = (await system_actor(ws, handle="sso")).with_context(context)
        identity: Identity | None = None
        try:
            row = await _take_pending(params.get("state", ""))
            pending = LoginRequest(url="", state=params.get("state", ""), nonce=row["nonce"],
                                   code_verifier=row["code_verifier"], redirect_uri=row["redirect_uri"],
                                   created_at=_ts(row["created_at"]))
            identity = await self.client.complete_login(pending, params)
            scheme = await get_scheme(ws)
            mapped = GroupMaps.parse(self.settings.role_map, self.settings.clearance_map, scheme).map(
                identity.groups, scheme)
            handle = await _handle_for(ws, identity)
            member_id = await apply_human(system, handle, identity.name or "", mapped.roles, mapped.clearance)
            await link_identity(member_id, identity.issuer, identity.subject, identity.email)
            session = await create_session(
                member_id, self.policy, kind="oidc", action="login.succeeded", context=context,
                details={"issuer": identity.issuer, "subject": identity.subject, "groups": list(mapped.groups)},
                idp_issuer=identity.issuer, idp_subject=identity.subject, idp_sid=identity.sid,
                id_token=identity.id_token)
        except NoMappedGroup as exc:
            await _record_failure(system, "login.refused", identity, exc.code, exc.message)
            raise
        except OIDCError as exc:
            await _record_failure(system, "login.failed", identity, exc.reason, exc.message)
            raise
        except ChorusError as exc:  # e.g. a deactivated account
            await _record_failure(system, "login.refused", identity, exc.code, exc.message)
            raise
        return SignedIn(session=session, return_to=str(row["return_to"]), handle=handle)

    def end_session_url(self, id_token: str | None, after: str) -> str | None:
        """Where to send the browser for RP-initiated logout at the provider (None when it has no endpoint)."""
        if not id_token:
            return None
        try:
            return self.client.end_session_url(id_token, post_logout_redirect_uri=after)
        except OIDCError:
            return None

    async def backchannel_logout(self, logout_token: str) -> list[int]:
        """Verify a provider's logout token and end the matching sessions; returns their ids."""
        claims = await self.client.verify_logout_token(logout_token)
        ws = await ensure_workspace()
        system = await system_actor(ws, handle="sso", on_behalf_of=f"{claims.issuer}#{claims.subject or claims.sid}")
        return await end_idp_sessions(system, claims.issuer, claims.subject, claims.sid)


async def _take_pending(state: str) -> dict[str, Any]:
    """Remove and return the pending login for ``state`` (single use); refuse unknown or stale ones."""
    if not state:
        raise OIDCError("bad_state", "the sign-in response has no state; start again at /auth/login")
    # DELETE ... RETURNING: of two concurrent callbacks with the same state, exactly one gets the row.
    rows: list[dict[str, Any]] = await PendingLogin.delete().where(
        PendingLogin.state_hash == _state_hash(state)).returning(*PendingLogin.all_columns())
    if not rows:
        raise OIDCError("bad_state", "this sign-in response is unknown or was already used (a replayed or forged "
                                     "callback); start again at /auth/login")
    if clock.now() - _ts(rows[0]["created_at"]) > PENDING_TTL_S:
        raise OIDCError("login_expired", "the sign-in took too long; start again at /auth/login")
    return rows[0]


async def _handle_for(workspace_id: int, identity: Identity) -> str:
    """The member handle: the linked member's, else one derived from the claims (never used to find people)."""
    linked = await find_identity(identity.issuer, identity.subject)
    if linked is not None:
        return str((await get_member(workspace_id, int(linked["member"])))["handle"])
    claims = identity.claims
    raw = str(claims.get("preferred_username") or (identity.email or "").split("@")[0] or identity.subject)
    base = _HANDLE_CHARS.sub("-", raw.lower()).strip("-._")[:100] or "user"
    handle, n = base, 1
    # A new identity never takes over an existing member with the same name: it gets the next free handle.
    while await Member.exists().where((Member.workspace == workspace_id) & (Member.handle == handle)):
        n += 1
        handle = f"{base}-{n}"
    return handle


async def _record_failure(system: Any, action: str, identity: Identity | None, reason: str, message: str) -> None:
    subject = identity.subject if identity else None
    await audit.record(system, action, Entity("identity", subject or "unknown"),
                       {"reason": reason, "message": message[:500], "issuer": identity.issuer if identity else None,
                        "subject": subject, "groups": list(identity.groups) if identity else []})


def _dt(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def _ts(value: Any) -> float:
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()
    return dt.datetime.fromisoformat(str(value)).timestamp()
