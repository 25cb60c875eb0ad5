"""OIDC token checks: signatures against the provider's JWKS, ID-token claims (OIDC Core 3.1.3.7, through authlib's
``CodeIDToken`` on joserfc's claims registry) and back-channel logout tokens. Pure: no HTTP, no clock of its own.

The relying party that fetches the keys and tokens is :mod:`sso.oidc`.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Collection, Mapping
from typing import Any

from authlib.oauth2.claims import JWTClaims  # type: ignore[import-untyped]
from authlib.oidc.core import CodeIDToken, IDToken  # type: ignore[import-untyped]
from joserfc.errors import ClaimError, ExpiredTokenError, JoseError
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey
from joserfc.jws import extract_compact, validate_compact

from workspace.errors import NotAuthenticated

SIGNING_ALGS: frozenset[str] = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"}
)
"""Asymmetric algorithms only: ``none`` and HMAC (keyed with the client secret) are never accepted."""
LEEWAY_S = 60.0
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_MAX_AGE_S = 600.0
_KTY_FOR_ALG = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
PublicKey = RSAKey | ECKey | OKPKey


class OIDCError(NotAuthenticated):
    """A sign-in or logout-token check failed; ``reason`` is a stable code for the audit trail."""

    code = "oidc_failed"
    title = "Single sign-on failed"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, reason=reason)
        self.reason = reason


class _LogoutToken(JWTClaims):  # type: ignore[misc]
    """A logout token's registered claims, with the ID token's ``azp`` rule (OIDC Back-Channel Logout 1.0, 2.6)."""

    validate_azp = IDToken.validate_azp

    def validate(self, now: int | None = None, leeway: int = 0) -> None:
        super().validate(now, leeway)
        self.validate_azp()


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
    """Check an ID token's signature and claims (OIDC Core 3.1.3.7); return its claims or raise :class:`OIDCError`.

    iss, aud (and azp), exp, iat, nbf and sub are checked by authlib's ``CodeIDToken``; the nonce here, in constant
    time, since a missing one must fail too."""
    header, claims = _signed(token, jwks, algorithms)
    checked = CodeIDToken(claims, header, options=_registered(issuer, client_id, "exp", "sub"),
                          params={"client_id": client_id})
    _check_claims(checked, claims, issuer=issuer, client_id=client_id, now=now, leeway=leeway, what="ID token")
    got = claims.get("nonce")
    if not isinstance(got, str) or not hmac.compare_digest(got.encode(), nonce.encode()):
        raise OIDCError(
            "bad_nonce", "the ID token's nonce does not match this sign-in (a replayed or foreign token); sign in again"
        )
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
    max_age: float = LOGOUT_MAX_AGE_S,
) -> dict[str, Any]:
    """Check a back-channel logout token (OIDC Back-Channel Logout 1.0, 2.6); return its claims."""
    header, claims = _signed(token, jwks, algorithms)
    checked = _LogoutToken(claims, header, options=_registered(issuer, client_id),
                           params={"client_id": client_id})
    _check_claims(checked, claims, issuer=issuer, client_id=client_id, now=now, leeway=leeway, what="logout token")
    iat = float(claims["iat"])
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


def _registered(issuer: str, client_id: str, *required: str) -> dict[str, dict[str, Any]]:
    """joserfc claim options: iss and aud must name us; iat and ``required`` must be present."""
    options: dict[str, dict[str, Any]] = {
        "iss": {"essential": True, "value": issuer},
        "aud": {"essential": True, "values": [client_id]},
        "iat": {"essential": True},
    }
    for name in required:
        options[name] = {"essential": True}
    return options


def _check_claims(checked: JWTClaims, claims: Mapping[str, Any], *, issuer: str, client_id: str, now: float,
                  leeway: float, what: str) -> None:
    """Run authlib's checks; turn joserfc's claim errors into :class:`OIDCError` reasons the audit trail knows."""
    try:
        checked.validate(now=int(now), leeway=int(leeway))
    except ClaimError as exc:
        raise _refusal(exc, claims, issuer=issuer, client_id=client_id, now=now, what=what) from None


def _refusal(exc: ClaimError, claims: Mapping[str, Any], *, issuer: str, client_id: str, now: float,
             what: str) -> OIDCError:
    names = exc.claim.split(",")  # a MissingClaimError may name several
    name = next((n for n in ("iss", "aud", "azp") if n in names), names[0])
    if name == "iss":
        return OIDCError("bad_iss", f"the token was issued by {claims.get('iss')!r}, not by {issuer!r}")
    if name == "aud":
        return OIDCError("bad_audience", f"the token is for audience {claims.get('aud')!r}, not for client "
                                         f"{client_id!r}")
    if name == "azp":
        return OIDCError("bad_audience", f"the token's authorized party is {claims.get('azp')!r}, not client "
                                         f"{client_id!r}")
    exp, iat = _num(claims.get("exp")), _num(claims.get("iat"))
    if name == "exp" and what == "logout token":
        return OIDCError("expired", "the logout token has expired")
    if isinstance(exc, ExpiredTokenError) and exp is not None:
        return OIDCError("expired", f"the {what} expired {int(now - exp)} s ago; sign in again")
    if name == "iat" and iat is not None:
        return OIDCError("iat_future", f"the token claims to be issued {int(iat - now)} s in the future; check clocks")
    if name == "nbf":
        return OIDCError("not_yet_valid", f"the {what} is not valid before {claims.get('nbf')!r}; check clocks")
    if name in {"exp", "iat", "sub", "jti"}:
        kind = "numeric " if name in {"exp", "iat"} else ""
        return OIDCError("missing_claim", f"the {what} has no {kind}{name!r} claim")
    return OIDCError("bad_claim", f"the {what}'s {name!r} claim is not valid: {exc.description}")


def verify_signature(token: str, jwks: KeySet, algorithms: Collection[str] = SIGNING_ALGS) -> dict[str, Any]:
    """Verify a compact JWS against ``jwks`` with an asymmetric allowed algorithm; return the JSON payload."""
    return _signed(token, jwks, algorithms)[1]


def _signed(token: str, jwks: KeySet, algorithms: Collection[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a compact JWS whose signature verifies with a key of ``jwks``."""
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
    return dict(header), claims


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


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


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
