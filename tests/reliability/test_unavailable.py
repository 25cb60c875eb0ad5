"""Database restarts read as a retryable ``unavailable`` (HTTP 503, WebSocket error frame), never as an internal
error; other failures are not disguised as one. (The fault test shows it end to end with a real restart.)"""

from __future__ import annotations

import asyncpg
import pytest

from workspace.errors import Unavailable, unavailable_from


@pytest.mark.parametrize("exc", [
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    asyncpg.exceptions.InterfaceError("connection is closed"),
    asyncpg.exceptions._base.InternalClientError("cannot switch to state 15; another operation (2) is in progress"),
    ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)"),
])
def test_database_down_is_unavailable(exc: BaseException) -> None:
    down = unavailable_from(exc)
    assert down is not None and down.code == "unavailable" and down.retryable
    assert down.status == 503 and "retry" in down.message.lower()


def test_an_unavailable_error_passes_through() -> None:
    exc = Unavailable("cannot reach PostgreSQL")
    assert unavailable_from(exc) is exc


def test_a_wrapped_driver_error_is_found_through_its_cause() -> None:
    outer = RuntimeError("query failed")
    outer.__cause__ = asyncpg.exceptions.AdminShutdownError("terminating connection")
    assert unavailable_from(outer) is not None


@pytest.mark.parametrize("exc", [
    ValueError("bad"),
    asyncpg.exceptions.UniqueViolationError("duplicate key value"),
    asyncpg.exceptions.InterfaceError("cannot perform operation: another operation is in progress"),
    FileNotFoundError(2, "No such file"),
])
def test_other_failures_are_not_called_unavailable(exc: BaseException) -> None:
    assert unavailable_from(exc) is None
