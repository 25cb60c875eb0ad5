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


class BudgetExceeded(ChorusError):
    code = "over_budget"
    status = 402
    title = "Budget exhausted"


class Unavailable(ChorusError):
    """A dependency (database, broker, provider) is down; the client should retry."""

    code = "unavailable"
    status = 503
    title = "Service unavailable"
    retryable = True
