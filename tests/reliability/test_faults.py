"""Faults during load, as one scripted sequence on one deployment (each fault disturbs shared services, so they
stay together and short): kill -9 a replica, restart Redis, restart PostgreSQL, SIGTERM a replica. Clients fail
over to the other replica and resume after their last seq; posts that fail meanwhile get a retryable error and
succeed on retry. Afterwards nothing acknowledged is lost, no stream has a gap or a duplicate, and
``chorus audit verify`` passes. Redis and PostgreSQL are running again whatever happens. Since it restarts them,
it runs only when CHORUS_TEST_POSTGRES_URL and CHORUS_TEST_REDIS_URL name them (as CI does), never on servers the
tests merely found at their default ports.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.conftest import POSTGRES, POSTGRES_URL, REDIS
from tests.reliability.cluster import (
    audit_verify,
    local_services_ok,
    postgres_up,
    redis_up,
    restart_postgres,
    restart_redis,
    start_redis,
    wait_postgres,
)
from tests.reliability.conftest import deployment
from tests.reliability.load import run_load
from tests.support import unavailable

pytestmark = pytest.mark.slow
RETRYABLE_SEEN = {"unavailable", "timeout", "connection_lost", "rate_limited"}


async def test_faults_during_load_lose_nothing(redis_url: str, tmp_path: Path) -> None:
    if not (POSTGRES.explicit and REDIS.explicit):
        unavailable("PostgreSQL", "the fault test restarts PostgreSQL and Redis, so it runs only when "
                    "CHORUS_TEST_POSTGRES_URL and CHORUS_TEST_REDIS_URL name them")
    why = local_services_ok(redis_url, POSTGRES_URL or "postgresql://127.0.0.1/")
    if why:
        pytest.fail(why)
    log: dict[str, object] = {}
    try:
        async with deployment(redis_url, tmp_path, agents=600, channels=12) as dep:
            web0, web1 = dep.web

            async def script() -> None:
                await asyncio.sleep(3)
                log["kill9_exit"] = web0.kill9()  # its clients fail over to web1 and resume by after_seq
                web0.start()
                await web0.ready()
                await asyncio.sleep(3)
                log["redis_down_s"] = round(await asyncio.to_thread(restart_redis, redis_url), 2)
                await asyncio.sleep(4)
                log["postgres_restart_s"] = round(await restart_postgres(POSTGRES_URL), 2)
                await asyncio.sleep(4)
                log["sigterm_exit"] = await asyncio.to_thread(web1.terminate)  # graceful drain: 1012, resume
                web1.start()
                await web1.ready()

            report = await run_load(database_url=dep.database_url, replicas=dep.web, clients=dep.clients,
                                    period_s=20.0, duration_s=26.0, workers=2, log_dir=tmp_path, during=script)
            verify = audit_verify(dep.env)
    finally:
        start_redis(redis_url)
        await wait_postgres(POSTGRES_URL)
    print("fault run:", json.dumps(log), json.dumps(report.summary()))
    assert report.problems == [], report.problems[:10]
    assert report.posts_acked == report.posts_attempted > 0
    assert log["kill9_exit"] == -9 and log["sigterm_exit"] == 0, log
    assert report.reconnects > 0, "clients of the killed and drained replicas reconnected"
    assert "unavailable" in report.errors, f"posts during the PostgreSQL restart got a retryable error: {report.errors}"
    assert {k for k in report.errors if not k.startswith("unsolicited:")} <= RETRYABLE_SEEN, report.errors
    assert verify["exit"] == 0 and verify["ok"] is True, verify
    assert redis_up(redis_url) and await postgres_up(POSTGRES_URL)
