"""Load benchmark (a script, not a test): 2 ``chorus serve`` replicas on PostgreSQL + Redis, 2,000 WebSocket agent
clients in 3 client processes, each posting to its channel at a fixed rate and following it, for 60 s.

Reports deliveries/s, publish-to-delivery p50/p99/p999, errors and server CPU, and checks that nothing was lost
or duplicated (exit status 1 otherwise), then runs ``chorus audit verify``. Needs CHORUS_TEST_POSTGRES_URL and
CHORUS_TEST_REDIS_URL (a throwaway database is created on that server and dropped afterwards).

    python tests/bench/load.py                 # 2,000 clients, 20 channels, a post every 100 s each, 60 s
    python tests/bench/load.py --smoke         # 100 clients for 5 s, for CI
    python tests/bench/load.py --json          # one JSON object
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.reliability.cluster import audit_verify, base_env, chorus, replicas, throwaway_database  # noqa: E402
from tests.reliability.load import LoadReport, run_load  # noqa: E402
from tests.reliability.seed import seed  # noqa: E402


async def bench(admin_pg: str, redis_url: str, clients: int, channels: int, period_s: float, duration_s: float,
                workers: int, work: Path) -> tuple[LoadReport, dict[str, object], dict[str, float]]:
    timings: dict[str, float] = {}
    async with throwaway_database(admin_pg) as url:
        env = base_env(url, redis_url, work)
        t = time.monotonic()
        done = chorus(["migrate"], env)
        if done.returncode != 0:
            raise RuntimeError(f"chorus migrate failed: {done.stderr[-2000:]}")
        timings["migrate_s"] = round(time.monotonic() - t, 2)
        t = time.monotonic()
        population = await seed(url, clients, channels)
        timings["seed_s"] = round(time.monotonic() - t, 2)
        async with replicas(env, work, 2) as group:
            report = await run_load(database_url=url, replicas=group, clients=population, period_s=period_s,
                                    duration_s=duration_s, workers=workers, log_dir=work)
        verify = audit_verify(env)
    return report, verify, timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="100 clients for 5 s (CI)")
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--channels", type=int, default=20)
    parser.add_argument("--period", type=float, default=100.0, help="seconds between one client's posts")
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=3, help="client processes")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.smoke:
        args.clients, args.channels, args.period, args.duration, args.workers = 100, 5, 2.0, 5.0, 2
    admin_pg = os.environ.get("CHORUS_TEST_POSTGRES_URL", "")
    redis_url = os.environ.get("CHORUS_TEST_REDIS_URL", "")
    if not (admin_pg and redis_url):
        message = "load benchmark skipped: set CHORUS_TEST_POSTGRES_URL and CHORUS_TEST_REDIS_URL"
        if os.environ.get("CHORUS_TEST_REQUIRE_ALL") == "1":
            sys.exit(message.replace("skipped", "cannot run"))
        print(message)
        return
    with tempfile.TemporaryDirectory(prefix="chorus-load-") as tmp:
        report, verify, timings = asyncio.run(bench(admin_pg, redis_url, args.clients, args.channels, args.period,
                                                    args.duration, args.workers, Path(tmp)))
    out = {**report.summary(), **timings, "audit_verify": verify}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"load: {report.clients} clients, {report.channels} channels, a post every {report.period_s:g} s "
              f"each, {report.duration_s:g} s, 2 replicas (PostgreSQL + Redis)")
        print(f"  connect+subscribe {report.connect_s:.1f} s; posts acked {report.posts_acked}/"
              f"{report.posts_attempted} ({report.posts_per_s}/s)")
        print(f"  deliveries {report.deliveries} ({report.deliveries_per_s:,.0f}/s); latency p50 {report.p50_ms} ms,"
              f" p99 {report.p99_ms} ms, p999 {report.p999_ms} ms, max {report.max_ms} ms")
        print(f"  server CPU {report.server_cpu_s:.1f} s ({report.deliveries_per_server_cpu_s:,.0f} deliveries per "
              f"server CPU-second); errors {report.errors or 'none'}; resyncs {report.resyncs}; "
              f"reconnects {report.reconnects}")
        print(f"  audit verify: exit {verify.get('exit')} ok={verify.get('ok')} events={verify.get('events')}")
        print(f"  problems: {len(report.problems)}" + "".join(f"\n    {p}" for p in report.problems[:10]))
    if report.problems or verify.get("exit") != 0 or not verify.get("ok"):
        sys.exit(1)


if __name__ == "__main__":
    main()
