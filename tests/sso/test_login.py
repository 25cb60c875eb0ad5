"""Sign-in through Chorus's own routes against a real OpenID Provider (npm oidc-provider 9) under uvicorn.

A browser-less httpx client follows redirects between Chorus and the provider and fills the provider's forms.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import uvicorn

from sso.tables import HumanIdentity, Session
from tests.sso.op import Account, OPClient, OpenIDProvider, browse, free_port
from workspace.app import create_app
from workspace.db import Database
from workspace.hooks import hooks
from workspace.labels import LabelScheme
from workspace.services import ensure_workspace
from workspace.settings import Settings
from workspace.tables import AuditEvent, Member

pytestmark = pytest.mark.oidc

ACCOUNTS = {
    "alice": Account(email="alice@corp.test", name="Alice Admin", groups=["chorus-admins", "staff", "finance"]),
    "bob": Account(email="bob@corp.test", name="Bob", groups=["staff"]),
    "mallory": Account(email="mallory@corp.test", groups=["contractors"]),
}
ROLE_MAP = "chorus-admins=admin,chorus-security=security,staff=employee"
CLEARANCE_MAP = "staff=internal,finance=confidential/finance"


@pytest.fixture(scope="module")
def chorus_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def op(chorus_port: int) -> Iterator[OpenIDProvider]:
    base = f"http://127.0.0.1:{chorus_port}"
    client = OPClient(redirect_uris=(f"{base}/auth/callback",), post_logout_redirect_uris=(f"{base}/",),
                      backchannel_logout_uri=f"{base}/auth/backchannel-logout")
    with OpenIDProvider([client], ACCOUNTS) as provider:
        yield provider


@contextlib.asynccontextmanager
async def serve_on(app: Any, port: int) -> AsyncIterator[str]:
    """Like tests.support.live_server, but on a port chosen in advance (the provider must know the redirect URI)."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                                           ws_per_message_deflate=False, timeout_graceful_shutdown=2))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the test server stopped during start-up")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)


@pytest.fixture
async def chorus(db: Database, op: OpenIDProvider, chorus_port: int, tmp_path: Path) -> AsyncIterator[str]:
    await ensure_workspace(scheme=LabelScheme(compartments=("finance", "legal")))
    env = {"CHORUS_DATA_DIR": str(tmp_path), "CHORUS_RUN_WORKERS_IN_PROCESS": "false",
           "CHORUS_PORT": str(chorus_port), "CHORUS_OIDC_ISSUER": op.issuer,
           "CHORUS_OIDC_CLIENT_ID": op.client.client_id, "CHORUS_OIDC_CLIENT_SECRET": op.client.client_secret,
           "CHORUS_OIDC_ROLE_MAP": ROLE_MAP, "CHORUS_OIDC_CLEARANCE_MAP": CLEARANCE_MAP}
    async with serve_on(create_app(Settings.from_env(env), database=db), chorus_port) as url:
        yield url


@pytest.fixture
async def browser() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=15) as client:
        yield client


async def sign_in(browser: httpx.AsyncClient, chorus: str, login: str, next_path: str = "/") -> httpx.Response:
    """Chorus /auth/login -> the provider's forms -> Chorus /auth/callback; returns the callback's response."""
    start = await browser.get(f"{chorus}/auth/login", params={"next": next_path})
    assert start.status_code in (302, 303, 307), start.text
    callback = await browse(browser, start.headers["location"], f"{chorus}/auth/callback", login=login)
    return await browser.get(str(callback))


async def actions(name: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = await AuditEvent.select().where(AuditEvent.action == name).order_by(AuditEvent.id)
    return rows


async def test_round_trip_creates_member_session_and_audit(chorus: str, browser: httpx.AsyncClient) -> None:
    resp = await sign_in(browser, chorus, "alice", next_path="/insights?x=1")
    assert resp.status_code in (302, 303) and resp.headers["location"] == "/insights?x=1"
    cookie = resp.headers["set-cookie"].lower()
    assert "chorus_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # plain http on loopback; https turns it on

    me = (await browser.get(f"{chorus}/auth/me")).json()
    assert (me["handle"], me["roles"], me["clearance"], me["dev_login"]) == (
        "alice", ["admin", "employee"], "confidential/finance", False)
    ident = await HumanIdentity.select().where(HumanIdentity.subject == "alice")
    assert len(ident) == 1 and ident[0]["member"] == me["member_id"]
    ok = await actions("login.succeeded")
    assert len(ok) == 1 and ok[0]["actor_handle"] == "alice" and '"subject":"alice"' in ok[0]["details"]
    assert '"session_id"' in ok[0]["context"]


async def test_group_removed_at_the_provider_demotes_at_next_sign_in(
        chorus: str, browser: httpx.AsyncClient, op: OpenIDProvider) -> None:
    op.set_account("carol", ["chorus-admins", "staff", "finance"], email="carol@corp.test")
    await sign_in(browser, chorus, "carol")
    assert (await browser.get(f"{chorus}/auth/me")).json()["roles"] == ["admin", "employee"]

    op.set_account("carol", ["staff"], email="carol@corp.test")
    async with httpx.AsyncClient(timeout=15) as fresh:  # a new browser: the provider asks for the login again
        await sign_in(fresh, chorus, "carol")
        me = (await fresh.get(f"{chorus}/auth/me")).json()
    assert (me["roles"], me["clearance"]) == (["employee"], "internal")
    changed = await actions("member.roles_changed")
    assert len(changed) == 1 and '"removed":["admin"]' in changed[0]["details"]
    relabelled = await actions("member.label_changed")
    assert len(relabelled) == 1 and '"to":"internal"' in relabelled[0]["details"]
    assert await Member.count().where(Member.handle.like("carol%")) == 1, "same (issuer, subject) -> same member"


async def test_no_mapped_group_is_refused_with_a_page(chorus: str, browser: httpx.AsyncClient) -> None:
    resp = await sign_in(browser, chorus, "mallory")
    assert resp.status_code == 403 and resp.headers["content-type"].startswith("text/html")
    assert "No access to Chorus" in resp.text and "&#x27;contractors&#x27;" in resp.text
    assert "set-cookie" not in resp.headers
    refused = await actions("login.refused")
    assert len(refused) == 1 and '"subject":"mallory"' in refused[0]["details"]
    assert await Member.count().where(Member.handle == "mallory") == 0


async def test_bad_state_and_replayed_callback_are_refused(chorus: str, browser: httpx.AsyncClient) -> None:
    forged = await browser.get(f"{chorus}/auth/callback", params={"state": "forged", "code": "x"})
    assert forged.status_code == 401 and "unknown or was already used" in forged.text

    start = await browser.get(f"{chorus}/auth/login")
    callback = await browse(browser, start.headers["location"], f"{chorus}/auth/callback", login="bob")
    first = await browser.get(str(callback))
    assert first.status_code in (302, 303)
    browser.cookies.clear()
    replay = await browser.get(str(callback))
    assert replay.status_code == 401 and "set-cookie" not in replay.headers
    failed = await actions("login.failed")
    assert [('"reason":"bad_state"' in f["details"]) for f in failed] == [True, True]
    assert (await browser.get(f"{chorus}/auth/me")).status_code == 401


async def test_logout_needs_csrf_then_ends_session_and_redirects_to_provider(
        chorus: str, browser: httpx.AsyncClient, op: OpenIDProvider) -> None:
    await sign_in(browser, chorus, "bob")
    me = (await browser.get(f"{chorus}/auth/me")).json()
    refused = await browser.post(f"{chorus}/auth/logout", data={})
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    assert (await browser.get(f"{chorus}/auth/me")).status_code == 200

    ended: list[dict[str, Any]] = []

    async def record(**kw: Any) -> None:
        ended.append(kw)

    hooks.on("session.ended", record)
    out = await browser.post(f"{chorus}/auth/logout", data={"csrf_token": me["csrf_token"]})
    assert out.status_code == 303
    target = urlsplit(out.headers["location"])
    assert f"{target.scheme}://{target.netloc}" == op.issuer and target.path == "/session/end"
    assert "id_token_hint" in dict(parse_qsl(target.query))
    assert [e["member_id"] for e in ended] == [me["member_id"]]
    assert (await browser.get(f"{chorus}/auth/me")).status_code == 401
    assert len(await actions("logout")) == 1


async def test_backchannel_logout_ends_that_provider_session_only(
        chorus: str, op: OpenIDProvider) -> None:
    ended: list[dict[str, Any]] = []

    async def record(**kw: Any) -> None:
        ended.append(kw)

    hooks.on("session.ended", record)
    async with httpx.AsyncClient(timeout=15) as a, httpx.AsyncClient(timeout=15) as b:
        await sign_in(a, chorus, "bob")
        await sign_in(b, chorus, "bob")
        sessions = await Session.select().order_by(Session.id)
        assert len(sessions) == 2 and sessions[0]["idp_sid"] != sessions[1]["idp_sid"]
        # Browser A signs out at the provider directly; the provider tells Chorus over the back channel.
        end = (f"{op.issuer}/session/end?" + httpx.QueryParams(
            {"id_token_hint": sessions[0]["id_token"], "client_id": op.client.client_id,
             "post_logout_redirect_uri": f"{chorus}/"}).__str__())
        await browse(a, end, f"{chorus}/")
        assert (await a.get(f"{chorus}/auth/me")).status_code == 401, op.log_tail()
        assert (await b.get(f"{chorus}/auth/me")).status_code == 200
    assert [e["session_id"] for e in ended] == [str(sessions[0]["id"])]
    back = await actions("logout.backchannel")
    assert len(back) == 1 and f'"sessions":[{sessions[0]["id"]}]' in back[0]["details"]


async def test_backchannel_logout_refuses_a_bad_token(chorus: str) -> None:
    async with httpx.AsyncClient(timeout=15) as http:
        resp = await http.post(f"{chorus}/auth/backchannel-logout", data={"logout_token": "not.a.jwt"})
        assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"
        assert (await http.post(f"{chorus}/auth/backchannel-logout", data={})).status_code == 400
