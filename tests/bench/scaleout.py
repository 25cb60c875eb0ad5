"""Benchmark: one run spread over 1, 2 and 4 shard workers on PostgreSQL (the queue), and a fault run.

    CHORUS_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python -m tests.bench.scaleout
    ... -m tests.bench.scaleout --agents 100000 --rounds 3 --latency-ms 20 --json
    ... -m tests.bench.scaleout --smoke        # 300 agents, 2 rounds: does it run (CI)

Each configuration loads Meridian (scaled) into a fresh database and runs the same seed: the planner in this
process (it plans, dispatches one shard per channel and waits at each round's barrier), the shards carried out by N
worker processes (``tests.personas.shard_worker``: ``chorus runs work`` with a provider that answers as an endpoint
provider does: each turn waits ``--latency-ms``, awaited, with up to 8 calls in flight per worker, the default of
``CHORUS_LLM_CONCURRENCY``; 0 = the offline writer alone, pure CPU).
The baseline, measured in the same run, is one worker; ``speedup_N`` = the rounds' time with one worker / with N.
The fault run kills (SIGKILL) one of two workers once it has stored part of round 2: the run must end with the
message and turn counts of the uninterrupted run with one worker, 0 duplicated messages and 0 lost turns.

On this 2-core machine the CPU-bound case cannot go past ~2x (PostgreSQL, the planner and the workers share the
cores); with a provider that waits (an LLM endpoint), more workers mean more calls in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from channels import config
from personas import domain
from personas.llm.offline import OfflineProvider
from personas.runtime.queue import ShardQueue
from personas.runtime.runs import RunOptions, execute_run, start_run
from personas.scenario import builtin_scenario, load_scenario
from personas.services_load import load_scenario_into
from workspace import services
from workspace.db import Database
from workspace.migrations import run_migrations
from workspace.settings import DatabaseSettings, LimitSettings, Secret

ROOT = Path(__file__).resolve().parents[2]
STALL_S = 3.0


def _worker(url: str, latency_ms: float) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "tests.personas.shard_worker", url, "--delay",
                             str(latency_ms / 1000), "--stall", str(STALL_S)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def one(admin_url: str, agents: int, rounds: int, workers: int, latency_ms: float,
              kill: bool = False) -> dict[str, Any]:
    import asyncpg

    name = f"chorus_scaleout_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin_url)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    url = admin_url.rpartition("/")[0] + "/" + name
    db = Database(DatabaseSettings(url=Secret(url)))
    procs: list[subprocess.Popen[bytes]] = []
    planner = ShardQueue(url, stall_s=STALL_S)
    try:
        await db.start()
        await run_migrations()
        services.forget_schemes()
        domain.register_hooks()
        config.configure(LimitSettings(post_rate_per_s=0, write_rate_per_s=0))  # timing must not decide who may post
        ws = await services.ensure_workspace("bench")
        actor = await services.system_actor(ws)
        await load_scenario_into(actor, load_scenario(builtin_scenario("meridian")), agents)
        async with db.transaction():
            await db.fetch("UPDATE personas_persona SET activity = {} WHERE workspace = {}", 0.05, ws)
        run = await start_run(actor, rounds=rounds, seed=7, scenario="meridian", status="running")
        procs = [_worker(url, latency_ms) for _ in range(workers)]
        for _ in range(600):  # the workers are up (registered with the queue) before the clock starts
            rows = await db.fetch("SELECT COUNT(*) AS n FROM procrastinate_workers")
            if int(rows[0]["n"]) >= workers:
                break
            await asyncio.sleep(0.1)
        per_round: list[float] = []
        last = [time.perf_counter()]

        def progress(done: int, total: int) -> None:
            now = time.perf_counter()
            per_round.append(now - last[0])
            last[0] = now

        killed = {"at": 0}

        async def killer() -> None:
            while True:
                await asyncio.sleep(0.05)
                rows = await db.fetch("SELECT COUNT(*) AS n FROM personas_turn WHERE run = {} AND round = 2 AND "
                                      "shard <> 0", int(run["id"]))
                if int(rows[0]["n"]) > 0:
                    killed["at"] = int(rows[0]["n"])
                    os.kill(procs[0].pid, signal.SIGKILL)
                    return

        watcher = asyncio.create_task(killer()) if kill else None
        started = time.perf_counter()
        last[0] = started
        final = await execute_run(int(run["id"]), OfflineProvider(),
                                  RunOptions(dispatch=planner, progress=progress))
        wall = time.perf_counter() - started
        if watcher is not None:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        msgs = await db.fetch("SELECT COUNT(*) AS n, COUNT(DISTINCT m.client_msg_id) AS ids FROM chorus_message m "
                              "JOIN chorus_channel c ON c.id = m.channel WHERE c.workspace = {}", ws)
        turns = await db.fetch("SELECT COUNT(*) AS n, COUNT(DISTINCT key) AS keys FROM personas_turn WHERE run = {}",
                               int(run["id"]))
        return {"workers": workers, "kill": kill, "killed_after_turns": killed["at"], "status": final["status"],
                "rounds_s": sum(per_round), "per_round": per_round, "wall_s": wall,
                "messages": int(msgs[0]["n"]), "distinct_messages": int(msgs[0]["ids"]), "turns": int(turns[0]["n"]),
                "distinct_turns": int(turns[0]["keys"]), "acting": int(final["turns"]) - int(final["ignored"])}
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait()
        await planner.close()
        await db.stop()
        conn = await asyncpg.connect(admin_url)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def bench(admin_url: str, agents: int, rounds: int, latency_ms: float) -> dict[str, Any]:
    runs = {n: await one(admin_url, agents, rounds, n, latency_ms) for n in (1, 2, 4)}
    fault = await one(admin_url, agents, rounds, 2, latency_ms, kill=True)
    base = runs[1]
    return {
        "agents": agents, "rounds": rounds, "latency_ms": latency_ms, "cores": os.cpu_count(),
        "rounds_s": {str(n): round(r["rounds_s"], 3) for n, r in runs.items()},
        "speedup_2": round(base["rounds_s"] / runs[2]["rounds_s"], 3),
        "speedup_4": round(base["rounds_s"] / runs[4]["rounds_s"], 3),
        "messages": base["messages"], "fault_messages": fault["messages"], "fault_status": fault["status"],
        "killed_after_turns": fault["killed_after_turns"],
        "duplicates": fault["messages"] - fault["distinct_messages"],
        "lost_turns": base["turns"] - fault["distinct_turns"],
        "same_messages": fault["messages"] == base["messages"],
        "runs": {str(n): r for n, r in runs.items()}, "fault": fault,
        "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "workers_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
    }


def table(r: dict[str, Any]) -> str:
    head = f"{'workers':>7} {'rounds s':>9} {'speed-up':>8} {'acting turns':>12} {'messages':>8}"
    lines = [f"scale-out: {r['agents']} agents x {r['rounds']} rounds, provider cost {r['latency_ms']:g} ms a turn, "
             f"{r['cores']} cores", head, "-" * len(head)]
    base = r["runs"]["1"]["rounds_s"]
    for n, run in r["runs"].items():
        lines.append(f"{n:>7} {run['rounds_s']:>9.2f} {base / run['rounds_s']:>8.2f} {run['acting']:>12} "
                     f"{run['messages']:>8}")
    lines.append(f"baseline: 1 worker. fault run (2 workers, one killed with SIGKILL after {r['killed_after_turns']} "
                 f"turns of round 2 were stored): {r['fault_status']}, {r['fault_messages']} messages (uninterrupted "
                 f"{r['messages']}), {r['duplicates']} duplicated, {r['lost_turns']} turns lost")
    lines.append(f"RSS: planner {r['rss_mb']} MiB, largest worker {r['workers_rss_mb']} MiB")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="300 agents, 2 rounds")
    parser.add_argument("--agents", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=20.0,
                        help="what a turn costs the provider, awaited as an endpoint's answer (0: the offline "
                             "writer alone)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    args = parser.parse_args()
    pg = os.environ.get("CHORUS_TEST_POSTGRES_URL", "")
    if not pg:
        print("set CHORUS_TEST_POSTGRES_URL: the queue lives in PostgreSQL", file=sys.stderr)
        sys.exit(2)
    agents, rounds = (300, 2) if args.smoke else (args.agents, args.rounds)
    result = asyncio.run(bench(pg, agents, rounds, args.latency_ms))
    print(table(result))
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
