"""Security headers: every HTML response gets a Content-Security-Policy that allows no inline script or style and
no framing, every response ``nosniff`` and a Referrer-Policy.

Pages load their scripts and styles from ``/static`` ('self'); nothing inline, no ``on*=`` handlers, no ``style=``
attributes (``tests/security/test_headers.py`` crawls the pages for them). The one page Chorus does not write, the
API docs that Litestar's OpenAPI plugin renders with an inline start-up script and style, is allowed exactly those
blocks by their SHA-256 hashes (:class:`DocsPageHashes`), never ``'unsafe-inline'``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

SOURCES: dict[str, str] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",  # also the same-origin WebSocket of the live channel view
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
}
"""The policy of every HTML page. No ``form-action``: signing out is a form post that the server redirects to the
identity provider's logout page, whose origin only its discovery document names."""
ALWAYS: list[tuple[bytes, bytes]] = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]
_CSP = b"content-security-policy"
_INLINE_SCRIPT = re.compile(rb"<script\b(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script>", re.IGNORECASE | re.DOTALL)
_STYLE_BLOCK = re.compile(rb"<style\b[^>]*>(.*?)</style>", re.IGNORECASE | re.DOTALL)


def policy(script_hashes: Sequence[str] = (), style_hashes: Sequence[str] = ()) -> str:
    """The Content-Security-Policy text, with the given inline blocks allowed by hash."""
    sources = dict(SOURCES)
    if script_hashes:
        sources["script-src"] += " " + " ".join(script_hashes)
    if style_hashes:
        sources["style-src"] += " " + " ".join(style_hashes)
    return "; ".join(f"{name} {value}" for name, value in sources.items())


STRICT = policy().encode()


def _is_html(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(k.lower() == b"content-type" and v.lower().startswith(b"text/html") for k, v in headers)


async def add_security_headers(message: Message, scope: Scope) -> None:
    """Litestar ``before_send`` hook: runs on every message the app sends, so it also covers responses no route
    handled (an unknown address, a refused method). Leaves a policy a route already set (the API docs) alone."""
    if message["type"] != "http.response.start":
        return
    headers = list(message.get("headers") or [])
    present = {k.lower() for k, _ in headers}
    headers.extend(pair for pair in ALWAYS if pair[0] not in present)
    if _CSP not in present and _is_html(headers):
        headers.append((_CSP, STRICT))
        headers.append((b"x-frame-options", b"DENY"))
    message["headers"] = headers


def _sha256(block: bytes) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(block).digest()).decode() + "'"


class DocsPageHashes:
    """ASGI middleware for the API docs (paths under ``prefix``): the HTML body is read whole (uncompressed: the
    request's Accept-Encoding is dropped, the page is rarely asked for) and its inline script and style blocks are
    allowed by hash in the page's own policy. Every other request passes straight through."""

    def __init__(self, app: ASGIApp, prefix: str = "/schema") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        plain: Any = dict(scope)
        plain["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"]
        start: dict[str, Any] = {}
        body: list[bytes] = []

        async def hashing_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body" or not start:
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body"):
                return
            await send(_with_hashes(start, b"".join(body)))  # type: ignore[arg-type]
            await send({"type": "http.response.body", "body": b"".join(body), "more_body": False})

        await self.app(plain, receive, hashing_send)


def _with_hashes(start: dict[str, Any], body: bytes) -> dict[str, Any]:
    headers = [(k, v) for k, v in start.get("headers") or [] if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    if _is_html(headers):
        csp = policy([_sha256(b) for b in _INLINE_SCRIPT.findall(body)],
                     [_sha256(b) for b in _STYLE_BLOCK.findall(body)])
        headers = [(k, v) for k, v in headers if k.lower() != _CSP]
        headers += [(_CSP, csp.encode()), (b"x-frame-options", b"DENY")]
    return {**start, "headers": headers}
