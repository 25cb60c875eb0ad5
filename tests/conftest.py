"""Shared fixtures: a migrated database per test, parametrised over SQLite and (when configured) PostgreSQL.

With ``CHORUS_TEST_POSTGRES_URL`` set, PostgreSQL tests run in a throwaway database created for this session;
if that server cannot be reached the tests fail (never skip), so CI cannot silently lose them.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from workspace import hooks as hooks_mod
from workspace import services
from workspace.db import Database, all_tables
from workspace.migrations import run_migrations
from workspace.settings import DatabaseSettings, Secret

POSTGRES_URL = os.environ.get("CHORUS_TEST_POSTGRES_URL", "")
REDIS_URL = os.environ.get("CHORUS_TEST_REDIS_URL", "")
NO_POSTGRES = "CHORUS_TEST_POSTGRES_URL is not set (CI sets it; see README)"
NO_REDIS = "CHORUS_TEST_REDIS_URL is not set (CI sets it; see README)"


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
    if not POSTGRES_URL:
        pytest.skip(reason=NO_POSTGRES)
    name = f"chorus_t_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        asyncio.run(_admin(POSTGRES_URL, f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # a configured but unreachable server is a failure, not a skip
        pytest.fail(f"CHORUS_TEST_POSTGRES_URL is set but PostgreSQL is not usable: {exc}")
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
    asyncio.run(_admin(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def redis_url() -> str:
    if not REDIS_URL:
        pytest.skip(reason=NO_REDIS)
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=5).ping()
    except Exception as exc:
        pytest.fail(f"CHORUS_TEST_REDIS_URL is set but Redis is not usable: {exc}")
    return REDIS_URL


async def _truncate(db: Database) -> None:
    names = [t._meta.tablename for t in all_tables() if t._meta.tablename != "migration"]
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
