"""Authentication middleware (HTTP and WebSocket): bearer agent token or session cookie -> ``scope["chorus.actor"]``.

Deny by default: only routes with ``opt={"public": True}`` (plus static assets and the OpenAPI schema) admit anonymous
callers, and agents reach only routes marked for them (``tags=["agents"]`` or ``opt={"agents": True}``).
Cookie-authenticated unsafe requests must carry the session's CSRF token (header, or a field of an urlencoded or
multipart form).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from sso.services_sessions import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE, SessionPolicy, resolve_session
from sso.services_tokens import authenticate_agent_token, hash_token
from workspace.actor import Actor
from workspace.errors import ChorusError, CsrfRejected, Forbidden, NotAuthenticated, TooLarge
from workspace.web import ACTOR_KEY, TOKEN_KEY, request_context

SESSION_KEY = "chorus.session_id"
SESSION_OBJ_KEY = "chorus.session"
CSRF_SCOPE_KEY = "chorus.csrf_token"
AGENT_TAG = "agents"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_FORM_BYTES = 1024 * 1024
CLOSE_NOT_AUTHENTICATED = 4401
"""The WebSocket close code of refused credentials (channels/PROTOCOL.md)."""
MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # a file upload form: a few documents of up to 2 MiB each


class AuthMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP, ScopeType.WEBSOCKET)

    def __init__(self, policy: SessionPolicy, public_url: str = "") -> None:
        self.policy = policy
        self.public_origin = _origin_of(public_url) if public_url else ""

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        handler = scope.get("route_handler")
        public = is_public(scope, handler)
        try:
            receive = await self.authenticate(scope, receive)
        except ChorusError as exc:
            receive = getattr(exc, "replay", receive)  # a CSRF check may have read the body already
            # Public routes (sign-in pages, health) work with a stale cookie or a bad token: they treat the caller
            # as anonymous. Everywhere else the caller learns exactly what is wrong with the credential.
            if not public and scope["type"] == ScopeType.WEBSOCKET:
                await refuse_websocket(receive, send, exc.message)
                return
            if not public:
                raise
            scope.pop(ACTOR_KEY, None)  # type: ignore[misc]
            scope.pop(SESSION_KEY, None)  # type: ignore[misc]
        if not public:
            actor = current_actor_of(scope)
            if actor is None and scope["type"] == ScopeType.WEBSOCKET:
                await refuse_websocket(receive, send, "not authenticated: send an agent token (Authorization: "
                                       "Bearer) or sign in for a session cookie")
                return
            if actor is None:
                raise NotAuthenticated("sign in first (a session cookie from /auth/login, or an agent token as "
                                       "'Authorization: Bearer <token>')")
            if actor.kind == "agent" and not is_for_agents(handler):
                raise Forbidden(f"agent {actor.handle!r} cannot use {scope['path']}: agent tokens reach only the "
                                "agent API (channels and messages); this route is for signed-in people")
        await next_app(scope, receive, send)

    async def authenticate(self, scope: Scope, receive: Receive) -> Receive:
        conn: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope)
        kind, method = str(scope["type"]), str(dict(scope).get("method", ""))
        auth = conn.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            token = auth[7:].strip()
            actor = await authenticate_agent_token(token, request_context(conn))
            scope[ACTOR_KEY] = actor  # type: ignore[literal-required]
            scope[TOKEN_KEY] = hash_token(token)  # type: ignore[literal-required]
            return receive
        if kind == "websocket":
            # Browsers cannot set headers on a WebSocket; agents may pass the token as a subprotocol-free query.
            query_token = conn.query_params.get("token")
            if query_token:
                actor = await authenticate_agent_token(query_token, request_context(conn))
                scope[ACTOR_KEY] = actor  # type: ignore[literal-required]
                scope[TOKEN_KEY] = hash_token(query_token)  # type: ignore[literal-required]
                return receive
        cookie = conn.cookies.get(SESSION_COOKIE)
        if not cookie:
            return receive
        if kind == "websocket":
            self._check_origin(conn)
        session = await resolve_session(cookie, self.policy, request_context(conn))
        scope[SESSION_KEY] = str(session.ref)  # type: ignore[literal-required]
        scope[SESSION_OBJ_KEY] = session  # type: ignore[literal-required]
        scope[CSRF_SCOPE_KEY] = session.csrf_token  # type: ignore[literal-required]
        scope[ACTOR_KEY] = session.actor  # type: ignore[literal-required]
        if kind == "http" and method in UNSAFE_METHODS:
            return await _check_csrf(conn, scope, method, receive, session.csrf_ok)
        return receive


    def _check_origin(self, conn: ASGIConnection[Any, Any, Any, Any]) -> None:
        """Refuse a cookie-authenticated WebSocket opened by another site's page (cross-site WebSocket hijacking).

        Browsers always send ``Origin`` on a WebSocket handshake and send cookies cross-site, so the origin must be
        this server's (its Host header, or CHORUS_PUBLIC_URL behind a proxy). Clients without ``Origin`` are not
        browsers and cannot hold a victim's cookie.
        """
        origin = conn.headers.get("origin")
        if not origin:
            return
        seen = _origin_of(origin)
        host = conn.headers.get("host", "").lower()
        if seen.split("://", 1)[-1] == host or (self.public_origin and seen == self.public_origin):
            return
        raise Forbidden(f"WebSocket from origin {origin!r} refused: session cookies only work from pages served by "
                        "this Chorus server (set CHORUS_PUBLIC_URL if it runs behind a proxy)")


async def refuse_websocket(receive: Receive, send: Send, why: str) -> None:
    """Refuse a WebSocket's credentials as PROTOCOL.md says: accept, then close with 4401 and the reason (a close
    before the accept reaches the client as a bare HTTP 403, which says nothing of what to do)."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept", "subprotocol": None, "headers": []})
    reason = why.encode()[:120].decode(errors="ignore")  # a close reason holds at most 123 bytes
    await send({"type": "websocket.close", "code": CLOSE_NOT_AUTHENTICATED, "reason": reason})


def _origin_of(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url.strip().lower())
    return f"{parts.scheme}://{parts.netloc}"


def is_public(scope: Scope, handler: Any) -> bool:
    """Routes anyone may call: ``opt={"public": True}``, static assets and the OpenAPI schema."""
    if handler is None:
        return False
    if handler.opt.get("public"):
        return True
    if str(getattr(handler, "name", "") or "").startswith("static-"):
        return True  # stylesheets and scripts for the sign-in pages; nothing in them is secret
    config = getattr(scope.get("app"), "openapi_config", None)
    prefix = getattr(config, "path", None)
    return bool(prefix) and (scope["path"] == prefix or scope["path"].startswith(f"{prefix}/"))


def is_for_agents(handler: Any) -> bool:
    if handler.opt.get("agents"):
        return True
    resolve = getattr(handler, "resolve_tags", None)
    tags = resolve() if callable(resolve) else getattr(handler, "tags", None)
    return AGENT_TAG in (tags or ())


def current_actor_of(scope: Scope) -> Actor | None:
    actor = dict(scope).get(ACTOR_KEY)
    return actor if isinstance(actor, Actor) else None


async def _check_csrf(conn: ASGIConnection[Any, Any, Any, Any], scope: Scope, method: str, receive: Receive,
                      ok: Callable[[str | None], bool]) -> Receive:
    """Double submit keyed to the session: header ``X-CSRF-Token`` or form field ``csrf_token``."""
    if ok(conn.headers.get(CSRF_HEADER)):
        return receive
    ctype = conn.headers.get("content-type", "")
    if ctype.startswith("application/x-www-form-urlencoded"):
        body, replay = await _buffer(receive)
        values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get(CSRF_FIELD, [])
        if values and ok(values[0]):
            return replay
        receive = replay
    elif ctype.startswith("multipart/form-data"):  # a file upload form (the documents page)
        body, replay = await _buffer(receive, MAX_UPLOAD_BYTES)
        if ok(multipart_field(body, ctype, CSRF_FIELD)):
            return replay
        receive = replay
    scope.pop(ACTOR_KEY, None)  # type: ignore[misc]
    raise CSRFFailed(f"this {method} needs the session's CSRF token (header X-CSRF-Token or form field "
                     f"{CSRF_FIELD}); reload the page and try again", replay=receive)


class CSRFFailed(CsrfRejected):
    """Carries the body-replaying ``receive`` so that a public route can still read the form it was sent."""

    def __init__(self, message: str, replay: Receive) -> None:
        super().__init__(message)
        self.replay = replay


def multipart_field(body: bytes, content_type: str, name: str) -> str | None:
    """The value of the plain (not file) field ``name`` of a ``multipart/form-data`` body, or None."""
    boundary = next((p.strip()[9:].strip('"') for p in content_type.split(";")
                     if p.strip().lower().startswith("boundary=")), "")
    if not boundary:
        return None
    wanted = f'name="{name}"'.encode()
    for part in body.split(b"--" + boundary.encode()):
        head, sep, value = part.partition(b"\r\n\r\n")
        if sep and wanted in head and b"filename=" not in head:
            return value.removesuffix(b"\r\n").decode("utf-8", "replace")
    return None


async def _buffer(receive: Receive, limit: int = MAX_FORM_BYTES) -> tuple[bytes, Receive]:
    """Read the whole body, then hand the next app a receive() that replays it."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"form bodies are limited to {limit:,} bytes")
        chunks.append(chunk)
        more = bool(message.get("more_body", False))
    body = b"".join(chunks)
    sent = False

    async def replay() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
