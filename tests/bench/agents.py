"""Benchmark: the DB-backed agent runtime, 100,000 agents (Meridian scaled), 10 rounds, offline provider, on SQLite
and PostgreSQL: turns/s, round times, scheduler overhead per turn excluding provider time, peak RSS; the baseline
measured in the same run is the provider alone (its share of each round).

    .venv/bin/python -m tests.bench.agents                   # 100,000 agents, 10 rounds, SQLite (+ PostgreSQL if set)
    .venv/bin/python -m tests.bench.agents --smoke           # 500 agents, 2 rounds: does it run (CI)
    CHORUS_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python -m tests.bench.agents

A script, not a test. What "5% activity" means: ``--activity 0.05`` (the default) sets every persona's activity to
5% before the run, so about 5% of the agents speak UNPROMPTED in each round (a new thread root each). Everything
else comes on top: agents answering the messages addressed to them (replies, @-mentions) and agents triaging the
new roots of their channels (reply, react or ignore). Round 1 has nothing to answer yet, so it is the
unprompted-only round; rounds 2+ are full rounds. Both are printed, per round, with the turns of each kind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import tempfile
import time
import uuid
from typing import Any

from channels import config
from personas import domain
from personas.llm.offline import OfflineProvider
from personas.runtime.runs import RunOptions, SimClock, execute_run, start_run
from personas.scenario import builtin_scenario, load_scenario
from personas.services_load import load_scenario_into
from workspace import services
from workspace.db import Database
from workspace.migrations import run_migrations
from workspace.settings import DatabaseSettings, LimitSettings, Secret


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class TimedProvider(OfflineProvider):
    """The offline provider, timing itself: the baseline (provider work) inside each round."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds = 0.0
        self.calls = 0

    def compose(self, request: Any) -> Any:
        started = time.perf_counter()
        try:
            return super().compose(request)
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1


async def bench(url: str, agents: int, rounds: int, activity: float, engine: str) -> dict[str, Any]:
    db = Database(DatabaseSettings(url=Secret(url)))
    await db.start()
    try:
        await run_migrations()
        services.forget_schemes()
        domain.register_hooks()
        config.configure(LimitSettings())
        ws = await services.ensure_workspace(f"bench-{uuid.uuid4().hex[:6]}")
        actor = await services.system_actor(ws)
        started = time.perf_counter()
        await load_scenario_into(actor, load_scenario(builtin_scenario("meridian")), agents)
        load_s = time.perf_counter() - started
        if activity > 0:
            async with db.transaction():
                await db.fetch("UPDATE personas_persona SET activity = {} WHERE workspace = {}", activity, ws)
        run = await start_run(actor, rounds=rounds, seed=7, scenario="meridian", status="running")
        provider = TimedProvider()
        clock = SimClock()
        config.current.bucket = config.TokenBucket(1.0, 10, clock)
        config.current.writes = config.write_bucket(config.current.limits, clock)
        per_round: list[tuple[float, float]] = []
        last = [time.perf_counter(), 0.0]

        def progress(done: int, total: int) -> None:
            now = time.perf_counter()
            per_round.append((now - last[0], provider.seconds - last[1]))
            last[0], last[1] = now, provider.seconds
            clock.now = done * 60.0
            print(f"  {engine}: round {done}/{total} {per_round[-1][0]:.1f} s (provider {per_round[-1][1]:.1f} s), "
                  f"RSS {_rss_mb():.0f} MiB", file=sys.stderr, flush=True)

        started = time.perf_counter()
        last[0] = started
        final = await execute_run(int(run["id"]), provider, RunOptions(progress=progress))
        wall = time.perf_counter() - started
        finish_s = time.perf_counter() - last[0]  # after the last round: the run's quality metrics, its end
        kinds = await db.fetch("SELECT round, kind, outcome, COUNT(*) AS n FROM personas_turn WHERE run = {} "
                               "GROUP BY round, kind, outcome", int(run["id"]))
        rows = []
        for i, (round_s, prov_s) in enumerate(per_round, start=1):
            mine = [k for k in kinds if int(k["round"]) == i]

            def count(kind: str | None = None, outcome: str | None = None, acting: bool = True,
                      mine: list[dict[str, Any]] = mine) -> int:
                return sum(int(k["n"]) for k in mine if (kind is None or k["kind"] == kind)
                           and (outcome is None or k["outcome"] == outcome)
                           and (not acting or k["outcome"] != "ignored"))

            rows.append({"round": i, "s": round_s, "provider_s": prov_s, "unprompted": count("unprompted"),
                         "notified": count("notified"), "triage": count("triage"),
                         "ignored": count(outcome="ignored", acting=False), "posts": count(outcome="posted"),
                         "reactions": count(outcome="reacted"), "acting": count()})
        acting = int(final["turns"]) - int(final["ignored"])
        return {
            "engine": engine, "agents": agents, "rounds": len(per_round), "load_s": load_s, "wall_s": wall,
            "rounds_s": wall - finish_s, "finish_s": finish_s, "activity": activity,
            "turns": int(final["turns"]), "acting": acting, "messages": int(final["messages"]),
            "reactions": int(final["reactions"]), "blocked": int(final["blocked"]), "provider_s": provider.seconds,
            "max_round_s": max(r for r, _ in per_round), "rss_mb": _rss_mb(), "status": final["status"],
            "quality": final["quality"], "per_round": rows,
        }
    finally:
        await db.stop()


def _table(results: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    for r in results:
        lines.append(f"{r['engine']}: {r['agents']} agents, activity {r['activity']:g}: about "
                     f"{r['activity'] * r['agents']:.0f} unprompted speakers a round; answers and triage on top")
        lines.append(f"  {'round':>5} {'kind':<10} {'unprompted':>10} {'notified':>8} {'triage':>7} {'ignored':>8} "
                     f"{'posts':>6} {'reacts':>6} {'round s':>8} {'prov s':>7} {'ovh ms/turn':>11}")
        for p in r["per_round"]:
            ovh = (p["s"] - p["provider_s"]) / max(1, p["acting"]) * 1000
            kind = "unprompted" if p["notified"] + p["triage"] + p["ignored"] == 0 else "full"
            lines.append(f"  {p['round']:>5} {kind:<10} {p['unprompted']:>10} {p['notified']:>8} {p['triage']:>7} "
                         f"{p['ignored']:>8} {p['posts']:>6} {p['reactions']:>6} {p['s']:>8.1f} "
                         f"{p['provider_s']:>7.1f} {ovh:>11.2f}")
    head = (f"{'engine':<10} {'agents':>7} {'rounds':>6} {'turns':>8} {'acting/rnd':>10} {'msgs':>7} "
            f"{'unprompted rnd s':>16} {'max full rnd s':>14} {'rounds s':>8} {'turns/s':>8} {'prov s':>7} "
            f"{'ovh ms/turn':>11} {'x baseline':>10} {'finish s':>8} {'RSS MiB':>8}")
    lines += ["", head, "-" * len(head)]
    for r in results:
        overhead = (r["rounds_s"] - r["provider_s"]) / max(1, r["acting"]) * 1000
        ratio = r["rounds_s"] / max(r["provider_s"], 1e-9)
        first = [p["s"] for p in r["per_round"] if p["round"] == 1]
        full = [p["s"] for p in r["per_round"] if p["round"] > 1]
        lines.append(
            f"{r['engine']:<10} {r['agents']:>7} {r['rounds']:>6} {r['turns']:>8} "
            f"{r['acting'] / max(1, r['rounds']):>10.0f} {r['messages']:>7} {(first or [0.0])[0]:>16.1f} "
            f"{max(full or [0.0]):>14.1f} {r['rounds_s']:>8.1f} {r['turns'] / r['rounds_s']:>8.0f} "
            f"{r['provider_s']:>7.1f} {overhead:>11.2f} {ratio:>10.1f} {r['finish_s']:>8.1f} {r['rss_mb']:>8.0f}")
    lines.append("unprompted rnd = round 1 (only the ~activity x agents unprompted speakers; nothing to answer yet); "
                 "full rnd = rounds 2+ (unprompted + answers to mentions/threads + triage of new roots).")
    lines.append("turns/s counts every recorded turn (triage 'ignored' included); ovh ms/turn = (round time - provider "
                 "time) / acting turns (posts, reactions, blocked); x baseline = round time / provider-only time; "
                 "finish = after the last round (quality metrics over the stored messages, the run's end).")
    for r in results:
        lines.append(f"{r['engine']}: load {r['load_s']:.1f} s; status {r['status']}; quality {r['quality']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="500 agents, 2 rounds")
    parser.add_argument("--agents", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--activity", type=float, default=0.05, help="every persona's activity (0: keep the file's)")
    parser.add_argument("--engine", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--json", action="store_true", help="print one JSON object on the last line (the first "
                        "engine's result; with both engines each is under its name too)")
    args = parser.parse_args()
    agents, rounds = (500, 2) if args.smoke else (args.agents, args.rounds)
    results = []
    if args.engine in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            results.append(asyncio.run(bench(f"sqlite:///{tmp}/bench.db", agents, rounds, args.activity, "sqlite")))
    pg = os.environ.get("CHORUS_TEST_POSTGRES_URL", "")
    if args.engine in ("postgres", "both") and pg:
        results.append(asyncio.run(_pg(pg, agents, rounds, args.activity)))
    print(_table(results))
    if args.json and results:
        out = dict(results[0])
        out["ratio"] = round(out["rounds_s"] / max(out["provider_s"], 1e-9), 2)
        out.update({r["engine"]: r for r in results[1:]})
        print(json.dumps(out))


async def _pg(admin_url: str, agents: int, rounds: int, activity: float) -> dict[str, Any]:
    import asyncpg

    name = f"chorus_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin_url)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    try:
        return await bench(admin_url.rpartition("/")[0] + "/" + name, agents, rounds, activity, "postgres")
    finally:
        conn = await asyncpg.connect(admin_url)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


if __name__ == "__main__":
    main()
