"""Benchmark: bulk persona generation (members + personas + audit, in 1,000-agent transactions) on SQLite and
PostgreSQL, against a bare raw-driver insert of the same number of member-shaped rows in the same run.

    .venv/bin/python -m tests.bench.personas                  # 100,000 agents, SQLite (+ PostgreSQL if set)
    .venv/bin/python -m tests.bench.personas --smoke          # 2,000 agents: does it run (CI)
    CHORUS_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python -m tests.bench.personas

A script, not a test: it prints a table (engine, agents, seconds, rows/s, peak RSS, ratio to the baseline).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import resource
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from personas.scenario import builtin_scenario, load_scenario
from personas.services_agents import create_agents
from workspace import services
from workspace.db import Database
from workspace.migrations import run_migrations
from workspace.settings import DatabaseSettings, Secret


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _baseline(db: Database, ws: int, n: int) -> float:
    """The floor: the same member rows through the raw driver (executemany / unnest), no personas, no audit."""
    now = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    for start in range(0, n, 1000):
        rows = [(ws, "agent", f"baseline-{i:06d}", "b", 1, 1, "", True, now)
                for i in range(start, min(n, start + 1000))]
        async with db.transaction():
            if db.is_sqlite:
                await db.execute_many("INSERT INTO chorus_member (workspace, kind, handle, display_name, label_level, "
                                      "label_mask, roles, active, created_at) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, "
                                      "{})", rows)
            else:
                tx = db.engine.current_transaction.get()
                assert tx is not None
                cols = list(zip(*rows, strict=True))
                await tx.connection.execute(
                    "INSERT INTO chorus_member (workspace, kind, handle, display_name, label_level, label_mask, roles, "
                    "active, created_at) SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], "
                    "$5::int[], $6::bigint[], $7::text[], $8::bool[], $9::timestamptz[])", *[list(c) for c in cols])
    return time.perf_counter() - started


async def run(url: str, agents: int) -> dict[str, Any]:
    db = Database(DatabaseSettings(url=Secret(url)))
    await db.start()
    try:
        await run_migrations()
        services.forget_schemes()
        ws = await services.ensure_workspace(f"bench-{uuid.uuid4().hex[:8]}")
        sc = load_scenario(builtin_scenario("meridian")).scaled(agents)
        system = await services.system_actor(ws)
        scheme = await services.extend_scheme(system, sc.scheme.tiers, sc.scheme.compartments)
        system = replace(system, scheme=scheme, label=scheme.top())
        rss_before = _rss_mb()
        started = time.perf_counter()
        for role in sc.roles:
            await create_agents(system, replace(role, label=scheme.label(role.label.tier, role.label.compartments)))
        seconds = time.perf_counter() - started
        rss = _rss_mb()
        baseline = await _baseline(db, ws, agents)
        return {"engine": "sqlite" if db.is_sqlite else "postgres", "agents": agents, "seconds": seconds,
                "rows_s": agents * 2 / seconds, "rss_mb": rss, "rss_growth_mb": rss - rss_before,
                "baseline_s": baseline, "ratio": seconds / baseline}
    finally:
        await db.stop()


async def _pg_database(admin_url: str) -> tuple[str, str]:
    import asyncpg

    name = f"chorus_bench_{os.getpid()}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return admin_url.rpartition("/")[0] + "/" + name, name


async def _drop_pg(admin_url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="2,000 agents: a quick check that it runs")
    parser.add_argument("--agents", type=int, default=100_000)
    args = parser.parse_args()
    agents = 2000 if args.smoke else args.agents
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(asyncio.run(run(f"sqlite:///{Path(tmp) / 'bench.db'}", agents)))
    pg = os.environ.get("CHORUS_TEST_POSTGRES_URL", "")
    if pg:
        url, name = asyncio.run(_pg_database(pg))
        try:
            results.append(asyncio.run(run(url, agents)))
        finally:
            asyncio.run(_drop_pg(pg, name))
    print(f"{'engine':<9} {'agents':>8} {'seconds':>8} {'rows/s':>9} {'peak RSS MB':>12} {'RSS growth':>11} "
          f"{'baseline s':>11} {'x baseline':>11}")
    for r in results:
        print(f"{r['engine']:<9} {r['agents']:>8} {r['seconds']:>8.2f} {r['rows_s']:>9.0f} {r['rss_mb']:>12.0f} "
              f"{r['rss_growth_mb']:>11.1f} {r['baseline_s']:>11.2f} {r['ratio']:>11.1f}")
    print("rows/s counts member + persona rows; the baseline inserts member rows only, raw driver, no audit.")
    if any(r["seconds"] > 30 for r in results) and not args.smoke:
        print("over the 30 s target", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
