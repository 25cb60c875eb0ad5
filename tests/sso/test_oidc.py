"""OIDC relying party against a real OpenID Provider (npm oidc-provider 9), plus crafted-token checks.

Round trip, key rotation, back-channel logout and discovery run against the real OP; claim edge cases use tokens
signed here with joserfc and the pure ``validate_*`` functions.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs

import httpx
import httpx2
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey

from sso.oidc import OIDCClient
from sso.oidc_tokens import BACKCHANNEL_LOGOUT_EVENT, OIDCError, validate_id_token, validate_logout_token
from tests.sso.op import Account, OPClient, OpenIDProvider, browse, free_port, op_fixture, sign_in
from workspace.errors import NotAuthenticated
from workspace.settings import OIDCSettings, Secret

CALLBACK = "http://127.0.0.1:8000/auth/callback"
AFTER_LOGOUT = "http://127.0.0.1:8000/signed-out"
ACCOUNTS = {"alice": Account(email="alice@corp.test", name="Alice Example", groups=["staff", "finance"])}


class _LogoutReceiver(BaseHTTPRequestHandler):
    """Plays the RP's back-channel logout endpoint: records each POSTed logout_token."""

    tokens: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0"))).decode()
        self.tokens.extend(parse_qs(body).get("logout_token", []))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[str, list[str]]]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _LogoutReceiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/auth/backchannel-logout", _LogoutReceiver.tokens
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def op(receiver: tuple[str, list[str]]) -> Iterator[OpenIDProvider]:
    clients = [
        OPClient(
            redirect_uris=(CALLBACK,), post_logout_redirect_uris=(AFTER_LOGOUT,), backchannel_logout_uri=receiver[0]
        ),
        OPClient(client_id="other-app", client_secret="other-secret-0123456789abcdef", redirect_uris=(CALLBACK,)),
    ]
    with OpenIDProvider(clients, ACCOUNTS) as provider:
        yield provider


rotating_op = op_fixture(accounts=ACCOUNTS, scope="function")


def settings_for(op: OpenIDProvider, client: OPClient | None = None, **kw: Any) -> OIDCSettings:
    client = client or op.client
    args: dict[str, Any] = {"issuer": op.issuer, "client_id": client.client_id, **kw}
    return OIDCSettings(client_secret=Secret(client.client_secret), **args)


@pytest.fixture
async def browser() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


# --- against the real provider ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_round_trip_gives_identity_with_groups_and_rereads_groups(
    op: OpenIDProvider, browser: httpx.AsyncClient
) -> None:
    async with OIDCClient(settings_for(op), CALLBACK) as rp:
        pending = await rp.begin_login()
        assert pending.url.startswith(f"{op.issuer}/auth?") and "code_challenge_method=S256" in pending.url
        assert pending.code_verifier not in pending.url and pending.nonce in pending.url
        params = await sign_in(browser, pending.url, CALLBACK, "alice")
        assert params["iss"] == op.issuer
        ident = await rp.complete_login(pending, params)
        assert (ident.issuer, ident.subject) == (op.issuer, "alice")
        assert (ident.email, ident.name, ident.groups) == ("alice@corp.test", "Alice Example", ("staff", "finance"))
        assert ident.id_token.count(".") == 2 and ident.sid

        op.set_account("alice", ["chorus-admins"], email="alice@corp.test")
        again = await rp.begin_login()
        assert again.state != pending.state and again.nonce != pending.nonce
        ident2 = await rp.complete_login(again, await sign_in(browser, again.url, CALLBACK, "alice"))
        assert ident2.groups == ("chorus-admins",) and ident2.subject == "alice"
        op.set_account("alice", ["staff", "finance"], email="alice@corp.test", name="Alice Example")


@pytest.mark.asyncio
async def test_one_http_client_for_every_request_to_the_provider(
    op: OpenIDProvider, browser: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[str] = []
    for module in (httpx, httpx2):
        counted = _counted(module.AsyncClient.__init__, module.__name__, made)
        monkeypatch.setattr(module.AsyncClient, "__init__", counted)
    async with OIDCClient(settings_for(op), CALLBACK) as rp:
        for _ in range(2):  # discovery, JWKS, and per sign-in a code exchange and a userinfo call
            pending = await rp.begin_login()
            ident = await rp.complete_login(pending, await sign_in(browser, pending.url, CALLBACK, "alice"))
            assert ident.email == "alice@corp.test"
    assert made == ["httpx2"]  # authlib's client, made once with the relying party


def _counted(init: Any, name: str, made: list[str]) -> Any:
    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        made.append(name)
        init(self, *args, **kwargs)

    return counting


@pytest.mark.asyncio
async def test_callback_checks_state_iss_and_provider_errors(op: OpenIDProvider, browser: httpx.AsyncClient) -> None:
    async with OIDCClient(settings_for(op), CALLBACK) as rp:
        pending = await rp.begin_login()
        params = await sign_in(browser, pending.url, CALLBACK, "bob")
        cases = [
            ({**params, "state": params["state"][:-1] + "x"}, "bad_state"),
            ({k: v for k, v in params.items() if k != "state"}, "bad_state"),
            ({k: v for k, v in params.items() if k != "iss"}, "bad_iss"),
            ({**params, "iss": "https://evil.example"}, "bad_iss"),
            ({"state": pending.state, "error": "access_denied", "error_description": "nope"}, "provider_error"),
            ({"state": pending.state, "iss": op.issuer}, "missing_code"),
        ]
        for bad, reason in cases:
            with pytest.raises(OIDCError) as err:
                await rp.complete_login(pending, bad)
            assert err.value.reason == reason, bad
            assert isinstance(err.value, NotAuthenticated) and err.value.problem()["reason"] == reason
        # the untouched response still works: none of the refusals above consumed the code
        ident = await rp.complete_login(pending, params)
        assert ident.subject == "bob" and ident.groups == ()


@pytest.mark.asyncio
async def test_nonce_mismatch_and_code_replay_are_refused(op: OpenIDProvider, browser: httpx.AsyncClient) -> None:
    async with OIDCClient(settings_for(op), CALLBACK) as rp:
        pending = await rp.begin_login()
        params = await sign_in(browser, pending.url, CALLBACK, "alice")
        with pytest.raises(OIDCError) as err:
            await rp.complete_login(replace(pending, nonce="a-nonce-from-another-login"), params)
        assert err.value.reason == "bad_nonce"
        with pytest.raises(OIDCError) as err:  # the code was spent by the refused attempt: the OP says no
            await rp.complete_login(pending, params)
        assert err.value.reason == "token_error" and "invalid_grant" in err.value.message


@pytest.mark.asyncio
async def test_pkce_verifier_must_match(op: OpenIDProvider, browser: httpx.AsyncClient) -> None:
    async with OIDCClient(settings_for(op), CALLBACK) as rp:
        pending = await rp.begin_login()
        params = await sign_in(browser, pending.url, CALLBACK, "alice")
        with pytest.raises(OIDCError) as err:
            await rp.complete_login(replace(pending, code_verifier="x" * 64), params)
        assert err.value.reason == "token_error"


@pytest.mark.asyncio
async def test_token_for_another_client_is_refused(op: OpenIDProvider, browser: httpx.AsyncClient) -> None:
    other = op.clients[1]
    async with OIDCClient(settings_for(op, other), CALLBACK) as rp:
        pending = await rp.begin_login()
        ident = await rp.complete_login(pending, await sign_in(browser, pending.url, CALLBACK, "alice"))
    with pytest.raises(OIDCError) as err:
        validate_id_token(
            ident.id_token,
            _keyset(op.public_jwks()),
            issuer=op.issuer,
            client_id="chorus",
            nonce=pending.nonce,
            now=time.time(),
        )
    assert err.value.reason == "bad_audience" and "'other-app'" in err.value.message


@pytest.mark.asyncio
async def test_discovery_refuses_a_different_issuer(op: OpenIDProvider) -> None:
    async with OIDCClient(settings_for(op, issuer=op.issuer + "/"), CALLBACK) as rp:
        with pytest.raises(OIDCError) as err:
            await rp.discover()
    assert err.value.reason == "bad_iss" and op.issuer in err.value.message


@pytest.mark.asyncio
async def test_key_rotation_refetches_jwks_once_after_cooldown(
    rotating_op: OpenIDProvider, browser: httpx.AsyncClient
) -> None:
    op, now = rotating_op, [time.time()]
    async with OIDCClient(settings_for(op), CALLBACK, clock=lambda: now[0], jwks_refresh_cooldown_s=10) as rp:
        first = await rp.begin_login()
        await rp.complete_login(first, await sign_in(browser, first.url, CALLBACK, "alice"))
        old_kid = op.kid
        new_kid = op.rotate_keys()
        assert new_kid != old_kid

        early = await rp.begin_login()  # JWKS fetched 0 s ago: an unknown kid must not trigger a refetch storm
        with pytest.raises(OIDCError) as err:
            await rp.complete_login(early, await sign_in(browser, early.url, CALLBACK, "alice"))
        assert err.value.reason == "unknown_kid" and new_kid in err.value.message

        now[0] += 11
        later = await rp.begin_login()
        ident = await rp.complete_login(later, await sign_in(browser, later.url, CALLBACK, "alice"))
        assert _header(ident.id_token)["kid"] == new_kid and ident.groups == ("staff", "finance")


@pytest.mark.asyncio
async def test_rp_initiated_and_backchannel_logout(
    op: OpenIDProvider, receiver: tuple[str, list[str]], browser: httpx.AsyncClient
) -> None:
    _, received = receiver
    async with OIDCClient(settings_for(op), CALLBACK) as rp:
        pending = await rp.begin_login()
        ident = await rp.complete_login(pending, await sign_in(browser, pending.url, CALLBACK, "carol"))
        url = rp.end_session_url(ident.id_token, AFTER_LOGOUT, state="s1")
        assert url is not None and url.startswith(f"{op.issuer}/session/end?")
        received.clear()
        back = await browse(browser, url, AFTER_LOGOUT)
        assert back.params["state"] == "s1"
        assert len(received) == 1, op.log_tail()
        claims = await rp.verify_logout_token(received[0])
        assert (claims.issuer, claims.subject, claims.sid) == (op.issuer, "carol", ident.sid)
        with pytest.raises(OIDCError) as err:
            await rp.verify_logout_token(received[0])
        assert err.value.reason == "replayed"
        with pytest.raises(OIDCError) as err:  # an ID token is not a logout token
            await rp.verify_logout_token(ident.id_token)
        assert err.value.reason == "bad_event"


# --- crafted tokens against the pure validators -------------------------------------------------------------------

ISS, CLIENT, NONCE, NOW = "https://idp.example", "chorus", "n-0123456789", 1_800_000_000.0
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})
JWKS = KeySet.import_key_set({"keys": [KEY.as_dict(private=False)]})


def _keyset(data: dict[str, Any]) -> KeySet:
    return KeySet.import_key_set(data)  # type: ignore[arg-type]


def _header(token: str) -> dict[str, Any]:
    head = token.split(".", maxsplit=1)[0]
    return dict(json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))))


def _claims(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"iss": ISS, "sub": "u1", "aud": CLIENT, "exp": NOW + 300, "iat": NOW, "nonce": NONCE}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def _sign(claims: dict[str, Any], key: Any = KEY, header: dict[str, Any] | None = None) -> str:
    return jwt.encode(header or {"alg": "RS256", "kid": "k1"}, claims, key, algorithms=["RS256", "ES256", "HS256"])


def _check(token: str, **kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"issuer": ISS, "client_id": CLIENT, "nonce": NONCE, "now": NOW, **kw}
    return validate_id_token(token, JWKS, **args)


def _unsigned(claims: dict[str, Any]) -> str:
    def enc(d: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    return f"{enc({'alg': 'none', 'kid': 'k1'})}.{enc(claims)}."


OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})


@pytest.mark.parametrize(
    ("token", "kw", "reason"),
    [
        pytest.param(_unsigned(_claims()), {}, "unsigned_token", id="alg-none"),
        pytest.param(_sign(_claims(), OTHER_KEY), {}, "bad_signature", id="wrong-key-same-kid"),
        pytest.param(_sign(_claims(), OTHER_KEY, {"alg": "RS256", "kid": "k9"}), {}, "unknown_kid", id="unknown-kid"),
        pytest.param(
            _sign(_claims(), OctKey.import_key("client-secret-used-as-hmac-key-0123456789"), {"alg": "HS256"}),
            {},
            "bad_alg",
            id="hmac",
        ),
        pytest.param(
            _sign(_claims(), ECKey.generate_key("P-256"), {"alg": "ES256", "kid": "e1"}),
            {"algorithms": {"RS256"}},
            "bad_alg",
            id="alg-not-advertised",
        ),
        pytest.param(_sign(_claims(iss="https://evil.example")), {}, "bad_iss", id="iss"),
        pytest.param(_sign(_claims(aud="someone-else")), {}, "bad_audience", id="aud"),
        pytest.param(_sign(_claims(aud=[CLIENT, "api"])), {}, "bad_audience", id="multi-aud-no-azp"),
        pytest.param(_sign(_claims(aud=[CLIENT, "api"], azp="api")), {}, "bad_audience", id="multi-aud-wrong-azp"),
        pytest.param(_sign(_claims(exp=NOW - 61)), {}, "expired", id="expired"),
        pytest.param(_sign(_claims(exp=None)), {}, "missing_claim", id="no-exp"),
        pytest.param(_sign(_claims(iat=NOW + 61)), {}, "iat_future", id="iat-future"),
        pytest.param(_sign(_claims(nbf=NOW + 61)), {}, "not_yet_valid", id="nbf-future"),
        pytest.param(_sign(_claims(nonce=None)), {}, "bad_nonce", id="no-nonce"),
        pytest.param(_sign(_claims(nonce="n-other")), {}, "bad_nonce", id="other-nonce"),
        pytest.param(_sign(_claims(sub=None)), {}, "missing_claim", id="no-sub"),
        pytest.param("not.a.jwt", {}, "malformed_token", id="garbage"),
    ],
)
def test_id_token_refusals(token: str, kw: dict[str, Any], reason: str) -> None:
    with pytest.raises(OIDCError) as err:
        _check(token, **kw)
    assert err.value.reason == reason


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param(_claims(), id="plain"),
        pytest.param(_claims(exp=NOW - 59, iat=NOW + 59), id="within-leeway"),
        pytest.param(_claims(aud=[CLIENT, "api"], azp=CLIENT), id="multi-aud-with-azp"),
    ],
)
def test_id_token_accepted(claims: dict[str, Any]) -> None:
    assert _check(_sign(claims))["sub"] == "u1"


def _logout(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": ISS,
        "aud": CLIENT,
        "iat": NOW,
        "jti": "j1",
        "sub": "u1",
        "sid": "s1",
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        pytest.param(_logout(nonce="n"), "nonce_in_logout_token", id="nonce"),
        pytest.param(_logout(events=None), "bad_event", id="no-events"),
        pytest.param(_logout(events={"http://example/other": {}}), "bad_event", id="other-event"),
        pytest.param(_logout(sub=None, sid=None), "missing_claim", id="no-sub-no-sid"),
        pytest.param(_logout(jti=None), "missing_claim", id="no-jti"),
        pytest.param(_logout(iat=NOW - 3600), "expired", id="stale"),
        pytest.param(_logout(aud="other"), "bad_audience", id="aud"),
        pytest.param(_logout(iss="https://evil.example"), "bad_iss", id="iss"),
    ],
)
def test_logout_token_refusals(claims: dict[str, Any], reason: str) -> None:
    with pytest.raises(OIDCError) as err:
        validate_logout_token(_sign(claims), JWKS, issuer=ISS, client_id=CLIENT, now=NOW)
    assert err.value.reason == reason


@pytest.mark.parametrize("drop", ["sub", "sid"])
def test_logout_token_needs_only_one_of_sub_and_sid(drop: str) -> None:
    claims = validate_logout_token(_sign(_logout(**{drop: None})), JWKS, issuer=ISS, client_id=CLIENT, now=NOW)
    assert drop not in claims and claims["jti"] == "j1"
