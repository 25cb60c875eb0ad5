"""Shared fixtures: a migrated database per test, parametrised over SQLite and PostgreSQL; Redis; and the summary
of skipped tests by what they lacked.

PostgreSQL and Redis come from ``CHORUS_TEST_POSTGRES_URL`` / ``CHORUS_TEST_REDIS_URL``, or else from the default
local ports when a server answers there (``DEFAULT_POSTGRES_URL``, ``DEFAULT_REDIS_URL``). PostgreSQL tests run in a
throwaway database created for this session. A server named by its variable that cannot be used fails the tests
(never skips), and so does a missing one under CHORUS_TEST_REQUIRE_ALL, so CI cannot silently lose them.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support import SKIP_GROUPS, unavailable
from workspace import hooks as hooks_mod
from workspace import services
from workspace.db import Database, all_tables
from workspace.migrations import run_migrations
from workspace.settings import DatabaseSettings, Secret

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class Service:
    """A server the tests may use: ``url`` is empty when there is none, and ``why_not`` says why."""

    url: str
    explicit: bool
    """Named by its CHORUS_TEST_* variable: then a server that cannot be used fails the tests."""
    why_not: str = ""


def _problem(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:120]}".rstrip(": ")


def _postgres_problem(url: str) -> str | None:
    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(url, timeout=3)
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception as exc:
        return _problem(exc)
    return None


def _redis_problem(url: str) -> str | None:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3)
    try:
        client.ping()
    except Exception as exc:
        return _problem(exc)
    finally:
        client.close()  # type: ignore[no-untyped-call]  # redis-py 5.0's close() has no annotations
    return None


def _service(variable: str, default: str, where: str, problem: Callable[[str], str | None]) -> Service:
    """The variable's URL, else the default when a server answers there (probed once, when the tests start)."""
    url = os.environ.get(variable, "")
    if url:
        return Service(url, explicit=True)
    why = problem(default)
    if why is None:
        return Service(default, explicit=False)
    return Service("", explicit=False, why_not=f"{variable} is not set and nothing usable answers at {where} ({why})")


POSTGRES = _service("CHORUS_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL,
                    "127.0.0.1:5432 as user postgres, database test", _postgres_problem)
REDIS = _service("CHORUS_TEST_REDIS_URL", DEFAULT_REDIS_URL, "127.0.0.1:6379", _redis_problem)
POSTGRES_URL = POSTGRES.url
REDIS_URL = REDIS.url
NO_POSTGRES = POSTGRES.why_not
NO_REDIS = REDIS.why_not


def require_postgres() -> str:
    """The PostgreSQL server URL, or skip (fail under CHORUS_TEST_REQUIRE_ALL)."""
    if not POSTGRES_URL:
        unavailable("PostgreSQL", NO_POSTGRES)
    return POSTGRES_URL


def _swap_db(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


async def _admin(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated once; dropped at the end."""
    admin = require_postgres()
    name = f"chorus_t_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # a configured but unreachable server is a failure, not a skip
        unavailable("PostgreSQL", f"cannot create a test database at {admin} ({_problem(exc)}); the user needs "
                    "CREATEDB", required=POSTGRES.explicit)
    url = _swap_db(POSTGRES_URL, name)

    async def migrate() -> None:
        db = Database(DatabaseSettings(url=Secret(url)))
        await db.start()
        try:
            await run_migrations()
        finally:
            await db.stop()

    asyncio.run(migrate())
    yield url
    asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def redis_url() -> str:
    if not REDIS_URL:
        unavailable("Redis", NO_REDIS)
    why = _redis_problem(REDIS_URL)
    if why is not None:
        unavailable("Redis", f"Redis at {REDIS_URL} is not usable ({why})", required=REDIS.explicit)
    return REDIS_URL


async def _truncate(db: Database) -> None:
    names = [t._meta.tablename for t in all_tables() if t._meta.tablename != "migration"]
    names += ["procrastinate_jobs", "procrastinate_workers", "procrastinate_periodic_defers"]  # the shard queue
    await db.fetch(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def engine_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(engine_name: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if engine_name == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'chorus.db'}"


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A migrated, empty database on each engine (the contract-test fixture)."""
    database = Database(DatabaseSettings(url=Secret(database_url)))
    await database.start()
    services.forget_schemes()
    hooks_mod.hooks.clear()
    if database.is_sqlite:
        await run_migrations()
    else:
        await _truncate(database)
    yield database
    await database.stop()
    services.forget_schemes()


@pytest.fixture
def telemetry() -> Iterator[Any]:
    """The process's in-memory telemetry (one per process: OpenTelemetry allows one global provider), reset."""
    from workspace.telemetry import in_memory_telemetry

    tel = in_memory_telemetry()
    tel.reset()
    yield tel
    tel.reset()


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated SQLite database (for tests whose subject is not the engine)."""
    database = Database(DatabaseSettings(url=Secret(f"sqlite:///{tmp_path / 'chorus.db'}")))
    await database.start()
    services.forget_schemes()
    hooks_mod.hooks.clear()
    await run_migrations()
    yield database
    await database.stop()
    services.forget_schemes()


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return text.removeprefix("Skipped: ")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> Generator[None]:
    """End the report (after pytest's short summary, before its count line) with one line per group of
    :data:`tests.support.SKIP_GROUPS`: how many tests skipped for want of it, and why; then any other skips."""
    result = yield
    reasons: dict[str, list[str]] = {group: [] for group in (*SKIP_GROUPS, "other")}
    for report in terminalreporter.stats.get("skipped", []):
        reason = _skip_reason(report)
        group, _, why = reason.partition(": ")
        if group in reasons and group != "other":
            reasons[group].append(why)
        else:
            reasons["other"].append(reason)
    terminalreporter.write_sep("-", "skipped tests by what they need")
    for group, whys in reasons.items():
        if group == "other" and not whys:
            continue
        line = f"skipped {len(whys)} {group} test{'' if len(whys) == 1 else 's'}"
        if whys:
            line += ": " + "; ".join(dict.fromkeys(whys))
        terminalreporter.write_line(line)
    return result
