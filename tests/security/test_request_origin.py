"""Probes: who a request comes from. ``X-Forwarded-For`` is believed only from the proxies listed in
CHORUS_TRUSTED_PROXIES (none by default, loopback included), and the dev login form refuses a post that did not
come from its own page (a form token bound to a SameSite=Strict cookie: login CSRF)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.security.conftest import Target
from tests.support import live_server
from workspace.app import create_app
from workspace.db import Database
from workspace.settings import Settings

SPOOFED = "203.0.113.9"


async def _ips_of(target: Target, action: str) -> list[str | None]:
    async with target.client("sue") as http:
        res = await http.get("/api/audit", params={"action": action, "actor": "tara"})
        assert res.status_code == 200, res.text
        return [e["context"].get("ip") for e in res.json()["events"]]


async def _create_channel(client: Any, name: str) -> None:
    res = await client.post("/api/channels", json={"name": name, "label": "internal"},
                            headers={"x-forwarded-for": SPOOFED})
    assert res.status_code == 201, res.text


async def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(target: Target, db: Database,
                                                                           database_url: str, tmp_path: Path) -> None:
    async with target.client("tara") as http:
        await _create_channel(http, "from-loopback")
    assert await _ips_of(target, "channel.created") == ["127.0.0.1"], "a loopback peer is no proxy by default"
    settings = Settings.from_env({"CHORUS_DATA_DIR": str(tmp_path), "CHORUS_DATABASE_URL": database_url,
                                  "CHORUS_RUN_WORKERS_IN_PROCESS": "false", "CHORUS_TRUSTED_PROXIES": "127.0.0.1"})
    person = target.people["tara"]
    async with live_server(create_app(settings, database=db)) as proxied, \
            proxied.client(cookies=person.cookies, headers={"x-csrf-token": person.csrf_token}) as http:
        await _create_channel(http, "via-proxy")
    ips = await _ips_of(target, "channel.created")
    assert sorted(ip or "" for ip in ips) == sorted(["127.0.0.1", SPOOFED]), ips


def test_trusted_proxies_setting_is_parsed_and_checked(tmp_path: Path) -> None:
    import pytest

    from workspace.errors import ConfigError

    base = {"CHORUS_DATA_DIR": str(tmp_path)}
    assert Settings.from_env(base).server.trusted_proxies == ()
    conf = Settings.from_env({**base, "CHORUS_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1"})
    assert conf.server.trusted_proxies == ("10.0.0.0/8", "127.0.0.1")
    with pytest.raises(ConfigError, match="CHORUS_TRUSTED_PROXIES"):
        Settings.from_env({**base, "CHORUS_TRUSTED_PROXIES": "proxy.example"})


def _form_token(html: str) -> str:
    found = re.search(r'name="login_csrf" value="([^"]+)"', html)
    assert found, "the dev login form carries a form token"
    return found.group(1)


FORM = {"handle": "mallory-victim", "roles": ["admin"], "clearance": "internal", "next": "/"}


async def _dev_logins(target: Target) -> int:
    async with target.client("sue") as http:
        return len((await http.get("/api/audit", params={"action": "login.dev"})).json()["events"])


async def test_dev_login_refuses_a_post_from_another_page(target: Target) -> None:
    before = await _dev_logins(target)
    async with target.client() as http:  # a cross-site form post: no form token, no cookie from the form
        forged = await http.post("/auth/dev", data=FORM)
        assert forged.status_code == 403, forged.text
        assert "chorus_session" not in forged.headers.get("set-cookie", "")
        assert "/auth/dev" in forged.text, "the refusal says where to sign in"
    async with target.client() as http:  # the attacker's own token replayed into the victim's browser
        token = _form_token((await http.get("/auth/dev")).text)
    async with target.client() as http:
        replayed = await http.post("/auth/dev", data={**FORM, "login_csrf": token})
        assert replayed.status_code == 403, replayed.text
    async with target.client() as http:
        form = await http.get("/auth/dev")
        cookie = form.headers.get("set-cookie", "")
        assert "samesite=strict" in cookie.lower() and "httponly" in cookie.lower(), cookie
        other_site = await http.post("/auth/dev", data={**FORM, "login_csrf": _form_token(form.text)},
                                     headers={"origin": "https://evil.example"})
        assert other_site.status_code == 403, other_site.text
        done = await http.post("/auth/dev", data={**FORM, "login_csrf": _form_token(form.text)})
        assert done.status_code == 303, done.text
    assert await _dev_logins(target) == before + 1, "only the post from the form's own page signed in"
