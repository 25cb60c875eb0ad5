"""Domain errors. Services raise these; the HTTP layer turns them into RFC 9457 problem details and the
WebSocket layer into typed ``error`` frames. No Litestar import here.
"""

from __future__ import annotations

from typing import Any


class ChorusError(Exception):
    """Base class: ``code`` is stable (used in WebSocket frames and problem ``type``), ``message`` is for people."""

    code = "error"
    status = 400
    title = "Bad request"
    retryable = False

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"https://chorus.dev/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.message,
            "code": self.code,
        }
        body.update(self.extra)
        return body


class ConfigError(ChorusError):
    code = "config_error"
    status = 500
    title = "Configuration error"


class ValidationFailed(ChorusError):
    """Bad input. ``field`` names where; ``errors`` holds ``{field, message}`` entries."""

    code = "validation_failed"
    status = 400
    title = "Invalid input"

    def __init__(self, message: str, field: str | None = None, errors: list[dict[str, str]] | None = None) -> None:
        errs = errors if errors is not None else ([{"field": field, "message": message}] if field else [])
        super().__init__(message, errors=errs)
        self.field = field
        self.errors = errs


class NotAuthenticated(ChorusError):
    code = "not_authenticated"
    status = 401
    title = "Sign-in required"


class Forbidden(ChorusError):
    code = "forbidden"
    status = 403
    title = "Forbidden"


class MissingRole(Forbidden):
    """The actor lacks every role that would allow this: ``roles`` (any one is enough), ``held`` (what it has)."""

    def __init__(self, message: str, roles: tuple[str, ...], held: tuple[str, ...]) -> None:
        super().__init__(message)
        self.roles = roles
        self.held = held


class AboveClearance(Forbidden):
    """No read up: ``what`` (e.g. "channel #ops") needs label ``needs``; the actor's label ``has`` does not dominate
    it. Pages say so in people's words; the message names no title of what was refused."""

    def __init__(self, message: str, what: str, needs: str, has: str) -> None:
        super().__init__(message)
        self.what = what
        self.needs = needs
        self.has = has


class CsrfRejected(Forbidden):
    """A cookie-authenticated write without the session's CSRF token (``sso`` raises its subclass)."""


class NotFound(ChorusError):
    code = "not_found"
    status = 404
    title = "Not found"


class Conflict(ChorusError):
    code = "conflict"
    status = 409
    title = "Conflict"


class TooLarge(ChorusError):
    code = "too_large"
    status = 413
    title = "Too large"


class RateLimited(ChorusError):
    code = "rate_limited"
    status = 429
    title = "Too many requests"
    retryable = True

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message, retry_after=round(retry_after, 3))
        self.retry_after = retry_after


class Unavailable(ChorusError):
    """A dependency (database, broker, provider) is down; the client should retry."""

    code = "unavailable"
    status = 503
    title = "Service unavailable"
    retryable = True


# Driver errors that mean "the database is restarting or unreachable", by class name so that this module imports no
# driver: asyncpg's connection and shutdown errors (SQLSTATE class 08 and 57P0x), closed pools, refused sockets.
_UNAVAILABLE_NAMES = frozenset({
    "ConnectionDoesNotExistError", "ConnectionFailureError", "CannotConnectNowError", "AdminShutdownError",
    "CrashShutdownError", "ConnectionRejectionError", "ClientCannotConnectError", "InterfaceError",
    "InternalClientError", "ConnectionResetError", "ConnectionRefusedError", "BrokenPipeError",
})


def unavailable_from(exc: BaseException) -> Unavailable | None:
    """The retryable :class:`Unavailable` for a database driver error that means "down or restarting", else None.

    Used where unexpected exceptions are turned into answers (HTTP problem details, WebSocket error frames), so a
    database restart reads as "retry shortly" instead of an internal error. Nothing was written: the transaction
    that failed is rolled back by the server.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, Unavailable):
            return current
        if _is_unavailable(current):
            name = type(current).__name__
            return Unavailable(f"the database is unavailable ({name}); nothing was written. Retry in a few "
                               "seconds with the same client_msg_id", retry_after=1.0)
        current = current.__cause__ or current.__context__
    return None


def _is_unavailable(exc: BaseException) -> bool:
    name, module, text = type(exc).__name__, type(exc).__module__, str(exc).lower()
    if isinstance(exc, OSError):
        return name in _UNAVAILABLE_NAMES or "connect" in text
    if not module.startswith("asyncpg"):
        return False
    if name == "InternalClientError" and "cannot switch to state" in text:
        # A pooled connection left mid-operation by a server restart; the statement never ran (posts are
        # idempotent on client_msg_id, so the retry is safe). Seen in the PostgreSQL-restart fault test.
        return True
    if name in ("InterfaceError", "InternalClientError"):  # also raised for misuse: only closed connections count
        return "closed" in text or ("connection" in text and "another operation" not in text)
    return name in _UNAVAILABLE_NAMES or "pool is closing" in text
