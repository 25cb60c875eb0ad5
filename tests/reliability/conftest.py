"""A deployment for the load and fault tests: a throwaway PostgreSQL database migrated by ``chorus migrate``, the
load population (agents with tokens, channels) and two ``chorus serve`` replicas on Redis.

Without PostgreSQL and Redis (see tests/conftest.py) these tests skip; with them named but unreachable they fail.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import require_postgres
from tests.reliability.cluster import Replica, base_env, chorus, replicas, throwaway_database
from tests.reliability.seed import LoadClient, seed


@dataclass
class Deployment:
    database_url: str
    env: dict[str, str]
    clients: list[LoadClient]
    web: list[Replica]
    work: Path


@contextlib.asynccontextmanager
async def deployment(redis_url: str, work: Path, agents: int, channels: int) -> AsyncIterator[Deployment]:
    async with throwaway_database(require_postgres()) as url:
        env = base_env(url, redis_url, work)
        done = chorus(["migrate"], env)
        assert done.returncode == 0, f"chorus migrate failed: {done.stderr[-2000:]}"
        population = await seed(url, agents, channels)
        async with replicas(env, work, 2) as web:
            yield Deployment(url, env, population, web, work)
