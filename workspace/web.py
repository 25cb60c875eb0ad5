"""HTTP plumbing shared by every domain: RFC 9457 problem details, the request's Actor, health endpoints.

Authentication middleware (in ``sso``) puts the Actor into ``scope["chorus.actor"]``; handlers receive it through
the ``actor`` dependency, which refuses anonymous requests. Role checks are guards: ``requires("admin")``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from litestar import Litestar, Request, Response, get
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, NotAuthorizedException, SerializationException, ValidationException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.spec.enums import OpenAPIType
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from workspace import db as dbmod
from workspace.actor import Actor, RequestContext
from workspace.db_values import INT64_MAX
from workspace.errors import (
    ChorusError,
    Forbidden,
    NotAuthenticated,
    RateLimited,
    Unavailable,
    ValidationFailed,
    unavailable_from,
)

ACTOR_KEY = "chorus.actor"
TOKEN_KEY = "chorus.token_hash"  # noqa: S105 (a scope key, not a secret)
"""The SHA-256 of the agent token a request or socket authenticated with (sockets are closed by it on revocation
and counted by it against CHORUS_MAX_SOCKETS_PER_TOKEN)."""
PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("chorus.http")


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> Response[dict[str, Any]]:
    return Response(content=body, status_code=int(body["status"]), media_type=PROBLEM_JSON, headers=headers)


def chorus_error_handler(request: Request[Any, Any, Any], exc: ChorusError) -> Response[dict[str, Any]]:
    body = exc.problem()
    body["instance"] = request.url.path
    if isinstance(exc, ValidationFailed) and exc.field is None and body.get("errors") == _UNNAMED_OUT_OF_RANGE:
        # refused at the database (workspace/db_values.py), which does not know the name: the request does
        big = _big_params(request)
        if big:
            body["errors"] = [{"field": k, "message": "out of range"} for k in big]
            body["detail"] = f"{', '.join(big)}: {body['detail'].removeprefix('number ')}"
    headers = {"Retry-After": str(max(1, round(exc.retry_after + 0.499)))} if isinstance(exc, RateLimited) else None
    if isinstance(exc, Unavailable):
        headers = {"Retry-After": str(max(1, round(float(exc.extra.get("retry_after", 1)) + 0.499)))}
    if isinstance(exc, NotAuthenticated):
        headers = {"WWW-Authenticate": 'Bearer realm="chorus"'}
    return problem_response(body, headers)


def validation_handler(request: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    errors = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            errors.append({"field": str(item.get("key") or item.get("source") or ""),
                           "message": str(item.get("message", ""))})
    detail = "; ".join(f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors) or exc.detail
    return problem_response({
        "type": "https://chorus.dev/problems/validation_failed", "title": "Invalid input", "status": 400,
        "detail": detail, "code": "validation_failed", "errors": errors, "instance": request.url.path})


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    status = exc.status_code
    if status == 400 and _json_decode_error(exc) is not None:
        return malformed_json_response(request, str(_json_decode_error(exc)))
    code = {401: "not_authenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
            413: "too_large", 429: "rate_limited"}.get(status, "http_error")
    return problem_response({
        "type": f"https://chorus.dev/problems/{code}", "title": _title(status), "status": status,
        "detail": exc.detail, "code": code, "instance": request.url.path}, exc.headers)


def _json_decode_error(exc: BaseException) -> SerializationException | None:
    """The body-decoding failure behind a 400 (Litestar wraps it in a ClientException), if that is what it was."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, SerializationException):
            return current
        current = current.__cause__
    return None


def malformed_json_response(request: Request[Any, Any, Any], why: str) -> Response[dict[str, Any]]:
    """A body that is not JSON at all (``{``, trailing bytes): say where parsing stopped, not just "Bad Request"."""
    size = request.headers.get("content-length")
    where = why.removeprefix("JSON is malformed: ")
    if "truncated" in why:
        where = (f"the body ended before the JSON value was complete (after {size} bytes)" if size
                 else "the body ended before the JSON value was complete")
    return problem_response({
        "type": "https://chorus.dev/problems/malformed_json", "title": "Malformed JSON", "status": 400,
        "detail": f"the request body is not valid JSON: {where}; send one JSON object of the documented shape "
                  "(see /schema)",
        "code": "malformed_json", "errors": [{"field": "body", "message": where}], "instance": request.url.path})


def undecodable_body_handler(request: Request[Any, Any, Any],
                             exc: RecursionError | UnicodeDecodeError) -> Response[dict[str, Any]]:
    """A body that cannot be decoded (invalid UTF-8, JSON nested deeply enough to exhaust the recursion limit)
    is bad input, not a server fault: 400, not 500."""
    why = "is not valid UTF-8" if isinstance(exc, UnicodeDecodeError) else "is nested too deeply"
    return problem_response({
        "type": "https://chorus.dev/problems/validation_failed", "title": "Invalid input", "status": 400,
        "detail": f"the request body {why}; send UTF-8 JSON of the documented shape (see /schema)",
        "code": "validation_failed", "errors": [{"field": "body", "message": why}], "instance": request.url.path})


_UNNAMED_OUT_OF_RANGE = [{"field": "number", "message": "out of range"}]


def _big_params(request: Request[Any, Any, Any]) -> list[str]:
    """The request's path and query parameters holding an integer no 64-bit column holds."""
    return [k for k, v in {**request.query_params, **request.path_params}.items()
            if str(v).lstrip("-").isdigit() and abs(int(v)) > INT64_MAX]


def _out_of_range(exc: BaseException) -> bool:
    """A number from the request that the database cannot hold (an id past 2**63): SQLite's driver raises
    OverflowError, asyncpg a DataError "value out of int64 range", both before anything is written."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OverflowError):
            return True
        if type(current).__module__.startswith("asyncpg") and "out of int" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    down = unavailable_from(exc)
    if down is not None:  # the database is restarting: a retryable 503, not an internal error
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        return chorus_error_handler(request, down)
    if _out_of_range(exc):
        big = _big_params(request)
        where = ", ".join(big) or "a number in the request"
        return problem_response({
            "type": "https://chorus.dev/problems/validation_failed", "title": "Invalid input", "status": 400,
            "detail": f"{where} is out of range: ids and counts are 64-bit integers (at most {INT64_MAX})",
            "code": "validation_failed", "errors": [{"field": k, "message": "out of range"} for k in big],
            "instance": request.url.path})
    ref = uuid.uuid4().hex[:12]
    log.exception("unhandled error %s on %s %s", ref, request.method, request.url.path)
    return problem_response({
        "type": "https://chorus.dev/problems/internal_error", "title": "Internal server error",
        "status": HTTP_500_INTERNAL_SERVER_ERROR, "code": "internal_error",
        "detail": f"something went wrong on our side; nothing was half-written. Quote reference {ref} to an admin.",
        "instance": request.url.path})


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


EXCEPTION_HANDLERS: dict[Any, Callable[..., Response[Any]]] = {
    ChorusError: chorus_error_handler,
    ValidationException: validation_handler,
    HTTPException: http_error_handler,
    RecursionError: undecodable_body_handler,
    UnicodeDecodeError: undecodable_body_handler,
    Exception: internal_error_handler,
}


def document_problem_responses(app: Litestar) -> None:
    """Make the OpenAPI document say what errors really look like: every error answer is
    ``application/problem+json`` (Litestar declares its 400s as ``{status_code, detail}`` JSON), and any status
    not listed (401, 403, 404, 409, 413, 429, 503, ...) is a problem too (the ``default`` response).

    Called once by the composition root after the app is built; the schema is generated here and cached."""
    from litestar._openapi.plugin import OpenAPIPlugin
    from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, Reference, Schema

    openapi = app.plugins.get(OpenAPIPlugin).provide_openapi()
    openapi.components.schemas["Problem"] = Schema(
        type=OpenAPIType.OBJECT, required=["type", "title", "status", "detail", "code"],
        description="RFC 9457 problem details: 'code' is stable; 'detail' says what was wrong and what to do",
        properties={
            "type": Schema(type=OpenAPIType.STRING), "title": Schema(type=OpenAPIType.STRING),
            "status": Schema(type=OpenAPIType.INTEGER), "detail": Schema(type=OpenAPIType.STRING),
            "code": Schema(type=OpenAPIType.STRING), "instance": Schema(type=OpenAPIType.STRING),
            "retry_after": Schema(type=OpenAPIType.NUMBER),
            "errors": Schema(type=OpenAPIType.ARRAY, items=Schema(type=OpenAPIType.OBJECT, properties={
                "field": Schema(type=[OpenAPIType.STRING, OpenAPIType.NULL]),
                "message": Schema(type=OpenAPIType.STRING)})),
        })
    problem = {PROBLEM_JSON: OpenAPIMediaType(schema=Reference(ref="#/components/schemas/Problem"))}
    for item in (openapi.paths or {}).values():
        for method in ("get", "put", "post", "delete", "patch"):
            operation = getattr(item, method, None)
            if operation is None:
                continue
            responses = operation.responses if operation.responses is not None else {}
            for status, response in list(responses.items()):
                if status[:1] in ("4", "5") and isinstance(response, OpenAPIResponse):
                    response.content = dict(problem)
            responses.setdefault("default", OpenAPIResponse(
                description="Problem details (RFC 9457) for any error not listed: 401 sign in, 403 not allowed, "
                            "404 not found, 409 conflict, 413 too large, 429 rate limited, 503 retry later",
                content=dict(problem)))
            operation.responses = responses
    app.plugins.get(OpenAPIPlugin)._openapi_schema = None  # regenerate the JSON from the amended document


def proxy_middleware(trusted: Sequence[str]) -> list[Any]:
    """Believe ``X-Forwarded-For`` and ``X-Forwarded-Proto`` only from a peer in ``trusted`` (addresses or CIDR
    networks, CHORUS_TRUSTED_PROXIES), through uvicorn's proxy-headers middleware; none by default, so that a client
    cannot choose the address its requests are audited and rate limited under. ``[]`` when nothing is trusted."""
    if not trusted:
        return []
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    hosts = list(trusted)

    def wrap(app: Any) -> Any:
        return ProxyHeadersMiddleware(app, trusted_hosts=hosts)

    return [wrap]


def request_context(connection: ASGIConnection[Any, Any, Any, Any]) -> RequestContext:
    client = connection.client.host if connection.client else None
    return RequestContext(
        ip=client,
        user_agent=connection.headers.get("user-agent"),
        session_id=_scope_str(connection, "chorus.session_id"),
        request_id=connection.headers.get("x-request-id") or _scope_str(connection, "chorus.request_id"),
    )


def _scope_str(connection: ASGIConnection[Any, Any, Any, Any], key: str) -> str | None:
    value = dict(connection.scope).get(key)
    return value if isinstance(value, str) else None


def current_actor(connection: ASGIConnection[Any, Any, Any, Any]) -> Actor | None:
    actor = dict(connection.scope).get(ACTOR_KEY)
    return actor if isinstance(actor, Actor) else None


async def provide_actor(request: Request[Any, Any, Any]) -> Actor:
    """The authenticated Actor of this request; anonymous requests get 401."""
    actor = current_actor(request)
    if actor is None:
        raise NotAuthenticated("sign in first (a session cookie from /auth/login, or an agent token as "
                               "'Authorization: Bearer <token>')")
    return actor


def requires(*roles: str, humans_only: bool = True) -> Callable[[ASGIConnection[Any, Any, Any, Any],
                                                                   BaseRouteHandler], None]:
    """A guard: the caller must be signed in as a human (unless ``humans_only=False``) holding one of ``roles``."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        actor = current_actor(connection)
        if actor is None:
            raise NotAuthorizedException("sign in first")
        if humans_only and actor.kind == "agent":
            raise Forbidden(f"agent {actor.handle!r} cannot use this route: it is for signed-in people")
        if roles:
            actor.require_role(*roles)

    return guard


def agent_or_human(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """A guard for routes that agents and people both use (channels, messages)."""
    if current_actor(connection) is None:
        raise NotAuthorizedException("sign in first")


@get("/healthz", include_in_schema=True, tags=["health"], summary="Liveness: the process is up",
     opt={"public": True}, sync_to_thread=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", tags=["health"], summary="Readiness: database reachable and migrations applied",
     opt={"public": True})
async def readyz() -> Response[dict[str, Any]]:
    from workspace.migrations import pending_migrations

    try:
        await dbmod.current().ping()
        pending = await pending_migrations()
    except Unavailable as exc:
        return problem_response(exc.problem())
    if pending:
        return problem_response({
            "type": "https://chorus.dev/problems/unavailable", "title": "Not ready", "status": 503,
            "code": "migrations_pending",
            "detail": f"{len(pending)} migration(s) not applied ({', '.join(pending[:5])}); run `chorus migrate`"})
    return Response({"status": "ready"})
