"""Test harness for a real OpenID Provider (npm ``oidc-provider`` 9, ``tests/sso/oidc_op/server.mjs``).

Installs the npm package when missing, runs the provider on a free 127.0.0.1 port, restarts it (same port) to rotate
keys, and drives its dev login/consent/logout forms with httpx. Not a mock: every token comes from the real OP.
"""

from __future__ import annotations

import fcntl
import html
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import httpx
import pytest
from joserfc.jwk import RSAKey

from tests.support import unavailable

OP_DIR = Path(__file__).with_name("oidc_op")
REQUIRE_ENV = "CHORUS_TEST_REQUIRE_OIDC_OP"
"""When set (CI), a missing node/npm fails the tests instead of skipping them."""


@dataclass(frozen=True, slots=True)
class OPClient:
    """One client registered at the provider (OAuth client metadata)."""

    client_id: str = "chorus"
    client_secret: str = "chorus-test-secret-0123456789abcdef"
    redirect_uris: tuple[str, ...] = ("http://127.0.0.1:8000/auth/callback",)
    post_logout_redirect_uris: tuple[str, ...] = ()
    backchannel_logout_uri: str | None = None
    token_endpoint_auth_method: str = "client_secret_basic"

    def metadata(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        if self.backchannel_logout_uri is None:
            del out["backchannel_logout_uri"]
        else:
            out["backchannel_logout_session_required"] = True
        return out


@dataclass(slots=True)
class Account:
    """A user at the provider; any login name not listed signs in with no groups."""

    email: str | None = None
    name: str | None = None
    groups: list[str] = field(default_factory=list)


def ensure_installed() -> None:
    """``npm ci`` (or ``npm install``) in tests/sso/oidc_op when node_modules is missing; skip without node."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        unavailable("OIDC provider", "node and npm are needed to run the real OpenID Provider (oidc-provider 9)",
                    required=bool(os.environ.get(REQUIRE_ENV)))
    if (OP_DIR / "node_modules" / "oidc-provider" / "package.json").exists():
        return
    with open(OP_DIR / ".install.lock", "w") as lock:  # several test processes may start at once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (OP_DIR / "node_modules" / "oidc-provider" / "package.json").exists():
            return
        verb = ["ci"] if (OP_DIR / "package-lock.json").exists() else ["install"]
        done = subprocess.run(
            [npm, *verb, "--no-audit", "--no-fund"],
            cwd=OP_DIR,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"npm {verb[0]} in {OP_DIR} failed:\n{done.stderr[-2000:]}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def new_signing_key(kid: str | None = None) -> dict[str, Any]:
    """A private RSA signing JWK in the form oidc-provider's ``jwks`` option wants."""
    kid = kid or f"k-{os.urandom(6).hex()}"
    key = RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})
    return dict(key.as_dict(private=True))


class OpenIDProvider:
    """One running provider process. ``issuer`` is ``http://127.0.0.1:<port>``; use as a context manager."""

    def __init__(
        self,
        clients: Sequence[OPClient] = (OPClient(),),
        accounts: Mapping[str, Account] | None = None,
        *,
        port: int | None = None,
        id_token_ttl_s: int = 3600,
        workdir: Path | None = None,
    ) -> None:
        self.port = port or free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.clients = list(clients)
        self.id_token_ttl_s = id_token_ttl_s
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="chorus-op-")
        self.workdir = workdir or Path(self._tmp.name if self._tmp else ".")
        self.accounts: dict[str, Account] = dict(accounts or {})
        self.signing_keys: list[dict[str, Any]] = [new_signing_key()]
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = self.workdir / "op.log"

    @property
    def client(self) -> OPClient:
        return self.clients[0]

    @property
    def kid(self) -> str:
        """The kid the provider signs with now."""
        return str(self.signing_keys[0]["kid"])

    def public_jwks(self) -> dict[str, Any]:
        private = {"d", "p", "q", "dp", "dq", "qi"}
        return {"keys": [{k: v for k, v in key.items() if k not in private} for key in self.signing_keys]}

    def set_account(self, login: str, groups: Sequence[str], email: str | None = None, name: str | None = None) -> None:
        """Add or change a user; the running provider re-reads accounts on every lookup (no restart)."""
        self.accounts[login] = Account(email=email, name=name, groups=list(groups))
        self._write_accounts()

    def start(self) -> OpenIDProvider:
        ensure_installed()
        self._write_accounts()
        (self.workdir / "jwks.json").write_text(json.dumps({"keys": self.signing_keys}))
        config = {
            "port": self.port,
            "issuer": self.issuer,
            "clients": [c.metadata() for c in self.clients],
            "jwks_path": str(self.workdir / "jwks.json"),
            "accounts_path": str(self.workdir / "accounts.json"),
            "ttl": {"IdToken": self.id_token_ttl_s, "AccessToken": self.id_token_ttl_s},
        }
        (self.workdir / "config.json").write_text(json.dumps(config))
        with open(self._log, "ab") as log:
            self._proc = subprocess.Popen(
                ["node", "server.mjs", str(self.workdir / "config.json")],
                cwd=OP_DIR,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "NODE_ENV": "test", "DEBUG": ""},
            )
        self._wait_ready()
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def restart(self) -> None:
        """Stop and start on the same port (clients, accounts and keys as they are now); sessions are lost."""
        self.stop()
        self.start()

    def rotate_keys(self, *, keep_old: bool = False) -> str:
        """Sign with a brand-new key from now on (restarts the provider); returns the new kid."""
        fresh = new_signing_key()
        self.signing_keys = [fresh, *self.signing_keys] if keep_old else [fresh]
        self.restart()
        return str(fresh["kid"])

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> OpenIDProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write_accounts(self) -> None:
        data = {login: {k: v for k, v in asdict(acc).items() if v is not None} for login, acc in self.accounts.items()}
        tmp = self.workdir / "accounts.json.tmp"
        tmp.write_text(json.dumps(data))
        tmp.replace(self.workdir / "accounts.json")  # atomic: the provider may be reading it

    def _wait_ready(self, timeout: float = 20.0) -> None:
        url = f"{self.issuer}/.well-known/openid-configuration"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise RuntimeError(f"the OpenID Provider exited with {self._proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the OpenID Provider did not answer {url} within {timeout} s:\n{self.log_tail()}")

    def log_tail(self) -> str:
        return self._log.read_text(errors="replace")[-3000:] if self._log.exists() else "(no log)"


def op_fixture(
    clients: Sequence[OPClient] = (OPClient(),),
    accounts: Mapping[str, Account] | None = None,
    *,
    scope: Any = "module",
    id_token_ttl_s: int = 3600,
) -> Any:
    """A pytest fixture that runs one provider for ``scope``: ``op = op_fixture(accounts={...})`` in a test module."""

    @pytest.fixture(scope=scope)
    def _op() -> Iterator[OpenIDProvider]:
        with OpenIDProvider(clients, accounts, id_token_ttl_s=id_token_ttl_s) as provider:
            yield provider

    return _op


# --- driving the provider's dev interaction pages like a browser ---------------------------------------------

_FORM = re.compile(r"<form\b[^>]*\baction=\"([^\"]*)\"[^>]*>(.*?)</form>", re.S | re.I)
_INPUT = re.compile(r"<input\b[^>]*>", re.I)
_ATTR = re.compile(r"(\w+)=\"([^\"]*)\"")


def _forms(page: str) -> list[tuple[str, dict[str, str]]]:
    out = []
    for action, body in _FORM.findall(page):
        fields: dict[str, str] = {}
        for tag in _INPUT.findall(body):
            attrs = dict(_ATTR.findall(tag))
            if "name" in attrs:
                fields[attrs["name"]] = html.unescape(attrs.get("value", ""))
        out.append((html.unescape(action), fields))
    return out


async def browse(http: httpx.AsyncClient, url: str, stop_at: str, *, login: str | None = None) -> httpx.URL:
    """Follow redirects and submit the OP's login/consent/logout forms until a redirect points at ``stop_at``.

    ``http`` keeps the OP's cookies (a second sign-in with the same client reuses the OP session). Returns the URL
    the browser would now load (e.g. the RP callback with ``code``, ``state`` and ``iss``), without loading it.
    """
    method, data = "GET", None
    for _ in range(20):
        resp = await http.request(method, url, data=data, follow_redirects=False)
        if resp.is_redirect:
            url = urljoin(url, resp.headers["location"])
            method, data = "GET", None
            if url.startswith(stop_at):
                return httpx.URL(url)
            continue
        forms = _forms(resp.text)
        if resp.status_code != 200 or not forms:
            raise AssertionError(f"unexpected page from the OP at {url}: {resp.status_code} {resp.text[:500]}")
        action, fields = forms[0]
        if fields.get("prompt") == "login":
            if login is None:
                raise AssertionError("the OP asks for a login but no login name was given")
            fields.update(login=login, password="any")
        if "xsrf" in fields:  # RP-initiated logout confirmation: "yes, sign me out of the OP too"
            fields["logout"] = "yes"
        url, method, data = urljoin(url, action), "POST", fields
    raise AssertionError(f"too many steps before reaching {stop_at}")


async def sign_in(http: httpx.AsyncClient, authorization_url: str, redirect_uri: str, login: str) -> dict[str, str]:
    """Complete a sign-in at the OP; return the callback's query parameters (``code``, ``state``, ``iss``...)."""
    callback = await browse(http, authorization_url, redirect_uri, login=login)
    return dict(parse_qsl(urlsplit(str(callback)).query))
