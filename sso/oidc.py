"""OIDC relying party: discovery, authorization code + PKCE login, ID-token and back-channel logout-token checks.

Protocol only: no HTTP routes, sessions or database here (the caller stores a :class:`LoginRequest` server-side,
deletes it on use, and audits each :class:`OIDCError` ``reason``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import urlencode

import httpx
import httpx2
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError  # type: ignore[import-untyped]
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey
from joserfc.jws import extract_compact, validate_compact

from workspace.errors import NotAuthenticated
from workspace.settings import OIDCSettings

SIGNING_ALGS: frozenset[str] = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"}
)
"""Asymmetric algorithms only: ``none`` and HMAC (keyed with the client secret) are never accepted."""
LEEWAY_S = 60.0
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
_KTY_FOR_ALG = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
_PROTOCOL_CLAIMS = frozenset({"iss", "sub", "aud", "azp", "exp", "iat", "nbf", "nonce", "auth_time", "at_hash", "sid"})
PublicKey = RSAKey | ECKey | OKPKey


class OIDCError(NotAuthenticated):
    """A sign-in or logout-token check failed; ``reason`` is a stable code for the audit trail."""

    code = "oidc_failed"
    title = "Single sign-on failed"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, reason=reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class LoginRequest:
    """What the caller keeps server-side between the redirect and the callback; single use."""

    url: str
    state: str
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)
    redirect_uri: str
    created_at: float


@dataclass(frozen=True, slots=True)
class Identity:
    """Who signed in. Key users by ``(issuer, subject)``, never by email."""

    issuer: str
    subject: str
    email: str | None
    name: str | None
    groups: tuple[str, ...]
    claims: Mapping[str, Any] = field(repr=False)
    sid: str | None = None
    """The provider's session id (matches a back-channel logout token's ``sid``)."""
    id_token: str = field(default="", repr=False)
    """The raw ID token, for ``id_token_hint`` at RP-initiated logout."""


@dataclass(frozen=True, slots=True)
class LogoutClaims:
    """A verified back-channel logout: end the sessions of ``subject`` and/or provider session ``sid``."""

    issuer: str
    subject: str | None
    sid: str | None
    jti: str


def validate_id_token(
    token: str,
    jwks: KeySet,
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    now: float,
    algorithms: Collection[str] = SIGNING_ALGS,
    leeway: float = LEEWAY_S,
) -> dict[str, Any]:
    """Check an ID token's signature and claims (OIDC Core 3.1.3.7); return its claims or raise :class:`OIDCError`."""
    claims = verify_signature(token, jwks, algorithms)
    _check_common(claims, issuer=issuer, client_id=client_id, now=now, leeway=leeway)
    exp = _num(claims.get("exp"))
    if exp is None:
        raise OIDCError("missing_claim", "the ID token has no numeric 'exp' claim")
    if now > exp + leeway:
        raise OIDCError("expired", f"the ID token expired {int(now - exp)} s ago; sign in again")
    got = claims.get("nonce")
    if not isinstance(got, str) or not hmac.compare_digest(got.encode(), nonce.encode()):
        raise OIDCError(
            "bad_nonce", "the ID token's nonce does not match this sign-in (a replayed or foreign token); sign in again"
        )
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise OIDCError("missing_claim", "the ID token has no 'sub' claim")
    return claims


def validate_logout_token(
    token: str,
    jwks: KeySet,
    *,
    issuer: str,
    client_id: str,
    now: float,
    algorithms: Collection[str] = SIGNING_ALGS,
    leeway: float = LEEWAY_S,
    max_age: float = 600.0,
) -> dict[str, Any]:
    """Check a back-channel logout token (OIDC Back-Channel Logout 1.0, 2.6); return its claims."""
    claims = verify_signature(token, jwks, algorithms)
    _check_common(claims, issuer=issuer, client_id=client_id, now=now, leeway=leeway)
    exp, iat = _num(claims.get("exp")), _num(claims["iat"]) or 0.0
    if "exp" in claims and (exp is None or now > exp + leeway):
        raise OIDCError("expired", "the logout token has expired")
    if now - iat > max_age + leeway:
        raise OIDCError("expired", f"the logout token was issued {int(now - iat)} s ago (limit {max_age:.0f} s)")
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_LOGOUT_EVENT), dict):
        raise OIDCError("bad_event", f"the logout token's 'events' claim must contain {BACKCHANNEL_LOGOUT_EVENT}")
    if "nonce" in claims:
        raise OIDCError("nonce_in_logout_token", "a logout token must not carry a nonce (an ID token was sent?)")
    sub, sid = claims.get("sub"), claims.get("sid")
    if not (isinstance(sub, str) and sub) and not (isinstance(sid, str) and sid):
        raise OIDCError("missing_claim", "the logout token has neither 'sub' nor 'sid'")
    if not isinstance(claims.get("jti"), str) or not claims["jti"]:
        raise OIDCError("missing_claim", "the logout token has no 'jti' claim")
    return claims


def verify_signature(token: str, jwks: KeySet, algorithms: Collection[str] = SIGNING_ALGS) -> dict[str, Any]:
    """Verify a compact JWS against ``jwks`` with an asymmetric allowed algorithm; return the JSON payload."""
    try:
        obj = extract_compact(token.encode("ascii"))
    except (JoseError, ValueError, UnicodeError) as exc:
        raise OIDCError("malformed_token", f"the token is not a signed JWT: {exc}") from None
    header = obj.headers()
    alg = header.get("alg")
    if not alg or str(alg).lower() == "none":
        raise OIDCError("unsigned_token", "the token is unsigned (alg 'none'); refusing it")
    allowed = SIGNING_ALGS.intersection(algorithms)
    if alg not in allowed:
        raise OIDCError("bad_alg", f"the token is signed with {alg}; accepted: {', '.join(sorted(allowed))}")
    kid = header.get("kid")
    candidates = _candidate_keys(jwks, str(alg), kid if isinstance(kid, str) else None)
    if not candidates:
        raise OIDCError("unknown_kid", f"no key in the provider's JWKS matches kid {kid!r} for {alg}")
    for key in candidates:
        try:
            if validate_compact(obj, key, algorithms=[str(alg)]):
                break
        except (JoseError, ValueError):
            continue
    else:
        raise OIDCError("bad_signature", "the token's signature does not verify with the provider's keys")
    try:
        claims = json.loads(obj.payload)
    except ValueError:
        raise OIDCError("malformed_token", "the token's payload is not JSON") from None
    if not isinstance(claims, dict):
        raise OIDCError("malformed_token", "the token's payload is not a JSON object")
    return claims


def _candidate_keys(jwks: KeySet, alg: str, kid: str | None) -> list[PublicKey]:
    kty = _KTY_FOR_ALG.get(alg[:2])
    out: list[PublicKey] = []
    for key in jwks.keys:
        if not isinstance(key, RSAKey | ECKey | OKPKey) or key.key_type != kty:
            continue
        if key.get("use") not in (None, "sig") or key.get("alg") not in (None, alg):
            continue
        if kid is not None and key.kid != kid:
            continue
        out.append(key)
    return out


def _check_common(claims: Mapping[str, Any], *, issuer: str, client_id: str, now: float, leeway: float) -> None:
    if claims.get("iss") != issuer:
        raise OIDCError("bad_iss", f"the token was issued by {claims.get('iss')!r}, not by {issuer!r}")
    aud = claims.get("aud")
    auds = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if client_id not in auds:
        raise OIDCError("bad_audience", f"the token is for audience {aud!r}, not for client {client_id!r}")
    azp = claims.get("azp")
    if (len(auds) > 1 or azp is not None) and azp != client_id:
        raise OIDCError("bad_audience", f"the token's authorized party is {azp!r}, not client {client_id!r}")
    iat = _num(claims.get("iat"))
    if iat is None:
        raise OIDCError("missing_claim", "the token has no numeric 'iat' claim")
    if iat > now + leeway:
        raise OIDCError("iat_future", f"the token claims to be issued {int(iat - now)} s in the future; check clocks")


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def import_jwks(data: object) -> KeySet:
    """Import the usable public signing keys of a JWKS document (keys joserfc cannot read are skipped)."""
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, list):
        raise OIDCError("bad_jwks", "the provider's JWKS is not a JSON object with a 'keys' list")
    usable: list[dict[str, Any]] = []
    for entry in keys:
        if not isinstance(entry, dict) or entry.get("kty") not in {"RSA", "EC", "OKP"}:
            continue
        public = {k: v for k, v in entry.items() if k not in {"d", "p", "q", "dp", "dq", "qi"}}
        try:
            KeySet.import_key_set({"keys": [public]})
        except (JoseError, ValueError, TypeError):
            continue
        usable.append(public)
    return KeySet.import_key_set({"keys": usable})


class OIDCClient:
    """One relying party for one provider. Reuse it: it caches the discovery document and the JWKS."""

    def __init__(
        self,
        settings: OIDCSettings,
        redirect_uri: str,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        *,
        leeway_s: float = LEEWAY_S,
        jwks_refresh_cooldown_s: float = 10.0,
        max_login_age_s: float = 600.0,
    ) -> None:
        self.settings = settings
        self.redirect_uri = redirect_uri
        self._own_http = http is None
        self._http = http if http is not None else httpx.AsyncClient(timeout=10.0)
        self._clock = clock
        self._leeway = leeway_s
        self._cooldown = jwks_refresh_cooldown_s
        self._max_login_age = max_login_age_s
        self._metadata: dict[str, Any] | None = None
        self._jwks: KeySet | None = None
        self._jwks_fetched_at = float("-inf")
        self._jwks_lock = asyncio.Lock()
        self._seen_logout: dict[str, float] = {}

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def metadata(self) -> Mapping[str, Any]:
        if self._metadata is None:
            raise OIDCError("not_discovered", "call discover() before using the provider metadata")
        return self._metadata

    async def discover(self, *, refresh: bool = False) -> Mapping[str, Any]:
        """Fetch and cache ``/.well-known/openid-configuration``; refuse it unless its issuer is ours."""
        if self._metadata is not None and not refresh:
            return self._metadata
        url = f"{self.settings.issuer.rstrip('/')}/.well-known/openid-configuration"
        doc = await self._get_json(url, "discovery document")
        if doc.get("issuer") != self.settings.issuer:
            raise OIDCError(
                "bad_iss",
                f"the discovery document at {url} names issuer {doc.get('issuer')!r}, "
                f"but CHORUS_OIDC_ISSUER is {self.settings.issuer!r}; they must be identical",
            )
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(doc.get(name), str):
                raise OIDCError("bad_metadata", f"the provider's discovery document has no {name}")
        self._metadata = doc
        return doc

    async def begin_login(self) -> LoginRequest:
        """Start a sign-in: the URL to redirect the browser to, plus the secrets to keep server-side."""
        meta = await self.discover()
        state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48)
        challenge = _b64url(hashlib.sha256(verifier.encode("ascii")).digest())
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.settings.client_id,
                "redirect_uri": self.redirect_uri,
                "scope": self.settings.scopes,
                "state": state,
                "nonce": nonce,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        endpoint = meta["authorization_endpoint"]
        url = f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"
        return LoginRequest(url, state, nonce, verifier, self.redirect_uri, self._clock())

    async def complete_login(self, pending: LoginRequest, params: Mapping[str, str]) -> Identity:
        """Finish a sign-in from the callback's query parameters; raise :class:`OIDCError` on any failure."""
        meta = await self.discover()
        state = params.get("state", "")
        if not hmac.compare_digest(state.encode(), pending.state.encode()):
            raise OIDCError("bad_state", "the sign-in response does not belong to this browser session; sign in again")
        if self._clock() - pending.created_at > self._max_login_age:
            raise OIDCError("login_expired", "the sign-in took too long; start again")
        if "error" in params:
            desc = params.get("error_description", "")
            raise OIDCError("provider_error", f"the identity provider refused the sign-in: {params['error']} {desc}")
        iss = params.get("iss")
        if meta.get("authorization_response_iss_parameter_supported") and iss is None:
            raise OIDCError("bad_iss", "the provider promises an 'iss' parameter (RFC 9207) but the response has none")
        if iss is not None and iss != self.settings.issuer:
            raise OIDCError("bad_iss", f"the sign-in response comes from {iss!r}, not {self.settings.issuer!r}")
        code = params.get("code")
        if not code:
            raise OIDCError("missing_code", "the sign-in response carries no authorization code")
        token = await self._exchange(code, pending)
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise OIDCError("no_id_token", "the provider's token response has no id_token; is 'openid' in the scopes?")
        claims = await self._verified(
            lambda jwks: validate_id_token(
                id_token,
                jwks,
                issuer=self.settings.issuer,
                client_id=self.settings.client_id,
                nonce=pending.nonce,
                now=self._clock(),
                algorithms=self._algorithms(),
                leeway=self._leeway,
            )
        )
        merged = dict(claims)
        access = token.get("access_token")
        if isinstance(meta.get("userinfo_endpoint"), str) and isinstance(access, str):
            info = await self._userinfo(meta["userinfo_endpoint"], access)
            if info.get("sub") != claims["sub"]:
                raise OIDCError(
                    "userinfo_mismatch", "the provider's userinfo is about another subject than the ID token"
                )
            merged.update({k: v for k, v in info.items() if k not in _PROTOCOL_CLAIMS})
        email, name, sid = merged.get("email"), merged.get("name"), claims.get("sid")
        return Identity(
            issuer=self.settings.issuer,
            subject=claims["sub"],
            email=email if isinstance(email, str) else None,
            name=name if isinstance(name, str) else None,
            groups=self._groups(merged),
            claims=merged,
            sid=sid if isinstance(sid, str) else None,
            id_token=id_token,
        )

    def end_session_url(
        self, id_token_hint: str, post_logout_redirect_uri: str | None = None, state: str | None = None
    ) -> str | None:
        """The provider's RP-initiated logout URL, or None when it has no ``end_session_endpoint``."""
        endpoint = self.metadata.get("end_session_endpoint")
        if not isinstance(endpoint, str):
            return None
        params = {"id_token_hint": id_token_hint, "client_id": self.settings.client_id}
        if post_logout_redirect_uri:
            params["post_logout_redirect_uri"] = post_logout_redirect_uri
        if state:
            params["state"] = state
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"

    async def verify_logout_token(self, token: str) -> LogoutClaims:
        """Verify a back-channel logout token; each token is accepted once per process."""
        await self.discover()
        now = self._clock()
        claims = await self._verified(
            lambda jwks: validate_logout_token(
                token,
                jwks,
                issuer=self.settings.issuer,
                client_id=self.settings.client_id,
                now=now,
                algorithms=self._algorithms(),
                leeway=self._leeway,
            )
        )
        # Tokens older than the max age are refused anyway, so the cache only needs to cover that window.
        self._seen_logout = {k: t for k, t in self._seen_logout.items() if t > now}
        if claims["jti"] in self._seen_logout:
            raise OIDCError("replayed", f"logout token {claims['jti']!r} was already used")
        self._seen_logout[claims["jti"]] = now + 600.0 + 2 * self._leeway
        sub, sid = claims.get("sub"), claims.get("sid")
        return LogoutClaims(
            self.settings.issuer,
            sub if isinstance(sub, str) else None,
            sid if isinstance(sid, str) else None,
            claims["jti"],
        )

    def _algorithms(self) -> frozenset[str]:
        advertised = self.metadata.get("id_token_signing_alg_values_supported")
        if isinstance(advertised, list):
            return SIGNING_ALGS.intersection(advertised)
        return frozenset({"RS256"})  # OIDC Discovery: RS256 is the default when nothing is advertised

    async def _verified(self, check: Callable[[KeySet], dict[str, Any]]) -> dict[str, Any]:
        """Run ``check`` with the cached JWKS; on an unknown kid refetch the JWKS once (after a cooldown)."""
        jwks = await self._keys(force=False)
        try:
            return check(jwks)
        except OIDCError as exc:
            if exc.reason != "unknown_kid":
                raise
        jwks = await self._keys(force=True)
        return check(jwks)

    async def _keys(self, *, force: bool) -> KeySet:
        async with self._jwks_lock:
            stale = self._jwks is None or (force and self._clock() - self._jwks_fetched_at >= self._cooldown)
            if stale:
                self._jwks = import_jwks(await self._get_json(self.metadata["jwks_uri"], "JWKS"))
                self._jwks_fetched_at = self._clock()
            assert self._jwks is not None
            return self._jwks

    async def _exchange(self, code: str, pending: LoginRequest) -> dict[str, Any]:
        methods = self.metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        secret = self.settings.client_secret.reveal()
        method = "none" if not secret else "client_secret_basic"
        if secret and "client_secret_basic" not in methods and "client_secret_post" in methods:
            method = "client_secret_post"
        try:
            async with AsyncOAuth2Client(
                client_id=self.settings.client_id,
                client_secret=secret or None,
                token_endpoint_auth_method=method,
                redirect_uri=pending.redirect_uri,
                timeout=10.0,
            ) as oauth:
                token = await oauth.fetch_token(
                    self.metadata["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=pending.code_verifier,
                    redirect_uri=pending.redirect_uri,
                )
        except OAuthError as exc:
            raise OIDCError(
                "token_error", f"the provider refused the code exchange: {exc.error} {exc.description or ''}"
            ) from None
        except (httpx2.HTTPError, ValueError) as exc:  # authlib's client runs on httpx2
            raise OIDCError("provider_unreachable", f"the code exchange with the provider failed: {exc!r}") from None
        if str(token.get("token_type", "")).lower() != "bearer":
            raise OIDCError("token_error", f"unexpected token_type {token.get('token_type')!r} from the provider")
        return dict(token)

    async def _userinfo(self, url: str, access_token: str) -> dict[str, Any]:
        try:
            resp = await self._http.get(url, headers={"Authorization": f"Bearer {access_token}"})
        except httpx.HTTPError as exc:
            raise OIDCError("provider_unreachable", f"could not reach the userinfo endpoint: {exc!r}") from None
        if resp.status_code != 200 or "json" not in resp.headers.get("content-type", ""):
            raise OIDCError("userinfo_failed", f"the userinfo endpoint answered {resp.status_code} {resp.text[:200]!r}")
        data = resp.json()
        if not isinstance(data, dict):
            raise OIDCError("userinfo_failed", "the userinfo response is not a JSON object")
        return data

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            resp = await self._http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise OIDCError(
                "provider_unreachable", f"could not fetch the provider's {what} at {url}: {exc!r}"
            ) from None
        if resp.status_code != 200:
            raise OIDCError("provider_unreachable", f"the provider's {what} at {url} answered {resp.status_code}")
        try:
            data = resp.json()
        except ValueError:
            raise OIDCError("bad_metadata", f"the provider's {what} at {url} is not JSON") from None
        if not isinstance(data, dict):
            raise OIDCError("bad_metadata", f"the provider's {what} at {url} is not a JSON object")
        return data

    def _groups(self, claims: Mapping[str, Any]) -> tuple[str, ...]:
        """Read the groups claim; a dotted name (``realm_access.roles``) walks nested objects."""
        name = self.settings.groups_claim
        value: Any = claims.get(name)
        if value is None and "." in name:
            value = claims
            for part in name.split("."):
                value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list) and all(isinstance(g, str) for g in value):
            return tuple(dict.fromkeys(value))
        raise OIDCError("bad_groups_claim", f"the {name!r} claim must be a list of strings; got {type(value).__name__}")
