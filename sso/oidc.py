"""OIDC relying party: discovery, authorization code + PKCE login (authlib builds the URL and the challenge and
exchanges the code), userinfo, RP-initiated logout and back-channel logout tokens. One HTTP client (authlib's,
on httpx2) per relying party, and one relying party per process.

Protocol only: no HTTP routes, sessions or database here (the caller stores a :class:`LoginRequest` server-side,
deletes it on use, and audits each :class:`OIDCError` ``reason``). The token checks are in :mod:`sso.oidc_tokens`.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

import httpx2
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.common.urls import add_params_to_uri  # type: ignore[import-untyped]
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError  # type: ignore[import-untyped]
from joserfc.jwk import KeySet

from sso.oidc_tokens import (
    LEEWAY_S,
    LOGOUT_MAX_AGE_S,
    SIGNING_ALGS,
    OIDCError,
    import_jwks,
    validate_id_token,
    validate_logout_token,
)
from workspace.settings import OIDCSettings

_PROTOCOL_CLAIMS = frozenset({"iss", "sub", "aud", "azp", "exp", "iat", "nbf", "nonce", "auth_time", "at_hash", "sid"})
HTTP_TIMEOUT_S = 10.0


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


class OIDCClient:
    """One relying party for one provider. Reuse it: it caches the discovery document and the JWKS, and holds the
    one HTTP client (an authlib ``AsyncOAuth2Client``) that talks to the provider."""

    def __init__(
        self,
        settings: OIDCSettings,
        redirect_uri: str,
        clock: Callable[[], float] = time.time,
        *,
        leeway_s: float = LEEWAY_S,
        jwks_refresh_cooldown_s: float = 10.0,
        max_login_age_s: float = 600.0,
    ) -> None:
        self.settings = settings
        self.redirect_uri = redirect_uri
        secret = settings.client_secret.reveal()
        # One client for every request: discovery, JWKS, the code exchange (authlib adds the client authentication
        # and the PKCE verifier) and userinfo. It never sends a token of its own (``withhold_token``), so sign-ins
        # running at the same time share it safely.
        self._http = AsyncOAuth2Client(
            client_id=settings.client_id,
            client_secret=secret or None,
            scope=settings.scopes,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=HTTP_TIMEOUT_S,
        )
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
        # 43 characters of [A-Za-z0-9] carry 256 bits; the PKCE verifier may be 43-128 characters (RFC 7636 4.1)
        state, nonce, verifier = generate_token(43), generate_token(43), generate_token(64)
        url, _ = self._http.create_authorization_url(
            meta["authorization_endpoint"], state=state, code_verifier=verifier, nonce=nonce
        )
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
        return str(add_params_to_uri(endpoint, list(params.items())))

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
        self._seen_logout[claims["jti"]] = now + LOGOUT_MAX_AGE_S + 2 * self._leeway
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
            token = await self._http.fetch_token(
                self.metadata["token_endpoint"],
                grant_type="authorization_code",
                code=code,
                code_verifier=pending.code_verifier,
                redirect_uri=pending.redirect_uri,
                auth=self._http.client_auth(method),
            )
        except OAuthError as exc:
            raise OIDCError(
                "token_error", f"the provider refused the code exchange: {exc.error} {exc.description or ''}"
            ) from None
        except (httpx2.HTTPError, ValueError) as exc:
            raise OIDCError("provider_unreachable", f"the code exchange with the provider failed: {exc!r}") from None
        finally:
            self._http.token = None  # authlib keeps the last token on the client; this process has no use for it
        if str(token.get("token_type", "")).lower() != "bearer":
            raise OIDCError("token_error", f"unexpected token_type {token.get('token_type')!r} from the provider")
        return dict(token)

    async def _userinfo(self, url: str, access_token: str) -> dict[str, Any]:
        try:
            resp = await self._http.request(
                "GET", url, withhold_token=True, headers={"Authorization": f"Bearer {access_token}"}
            )
        except httpx2.HTTPError as exc:
            raise OIDCError("provider_unreachable", f"could not reach the userinfo endpoint: {exc!r}") from None
        if resp.status_code != 200 or "json" not in resp.headers.get("content-type", ""):
            raise OIDCError("userinfo_failed", f"the userinfo endpoint answered {resp.status_code} {resp.text[:200]!r}")
        data = resp.json()
        if not isinstance(data, dict):
            raise OIDCError("userinfo_failed", "the userinfo response is not a JSON object")
        return data

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            resp = await self._http.request("GET", url, withhold_token=True, headers={"Accept": "application/json"})
        except httpx2.HTTPError as exc:
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
