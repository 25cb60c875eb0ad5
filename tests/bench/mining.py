"""Benchmark: incremental DB-backed mining of stored messages (signals stored, cursors advanced, themes over the
bounded window, insights upserted) against, in the same run, signal extraction alone over the same messages.

    .venv/bin/python -m tests.bench.mining                    # 1,000,000 messages, SQLite
    .venv/bin/python -m tests.bench.mining --messages 100000  # a shorter run
    .venv/bin/python -m tests.bench.mining --smoke            # 5,000 messages: does it run (CI)

Messages are bulk-inserted raw (this measures mining, not posting): each is two or three sentences drawn from the
offline provider's in-memory simulation of the built-in scenarios, so themes and near-duplicates look like a run.
A script, not a test: it prints a table (stage, messages, seconds, messages/s, peak RSS, RSS growth).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from insights.services_mining import PASS_LIMIT, WINDOW, forget_state, mine_workspace
from insights.signals import extract, sentences
from personas.scenario import builtin_scenario, load_scenario
from personas.simcore import simulate_in_memory
from workspace import services
from workspace.db import Database
from workspace.labels import LabelScheme
from workspace.migrations import run_migrations
from workspace.settings import DatabaseSettings, Secret

CHANNELS = 8
AUTHORS = 400
CHUNK = 5000


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sentence_pool() -> list[str]:
    pool: list[str] = []
    for name in ("meridian", "harbor"):
        sc = load_scenario(builtin_scenario(name))
        for m in simulate_in_memory(sc, 1500, rounds=12, seed=1).messages:
            pool.extend(s for s in sentences(m.body) if len(s.split()) >= 4)
    return sorted(set(pool))


async def populate(db: Database, n: int, seed: int = 7) -> int:
    """A workspace with channels, agents and ``n`` messages (raw bulk inserts); returns the workspace id."""
    scheme = LabelScheme(compartments=("ops", "sales"))
    ws = await services.ensure_workspace("bench", scheme)
    now = dt.datetime.now(dt.UTC)
    async with db.transaction():
        await db.execute_many(
            "INSERT INTO chorus_channel (workspace, name, topic, label_level, label_mask, archived, last_seq, "
            "created_at) VALUES ({}, {}, {}, {}, {}, {}, {}, {})",
            [(ws, f"bench-{c}", "bench", 1 + c % 2, c % 3, False, 0, now) for c in range(CHANNELS)])
        await db.execute_many(
            "INSERT INTO chorus_member (workspace, kind, handle, display_name, label_level, label_mask, roles, active, "
            "created_at) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {})",
            [(ws, "agent", f"bench-agent-{i}", "b", 1 + i % 3, 3, "", True, now) for i in range(AUTHORS)])
    channels = [int(r["id"]) for r in await db.fetch("SELECT id FROM chorus_channel WHERE workspace = {} "
                                                      "ORDER BY id", ws)]
    members = [(int(r["id"]), r["handle"]) for r in await db.fetch(
        "SELECT id, handle FROM chorus_member WHERE workspace = {} ORDER BY id", ws)]
    pool = sentence_pool()
    rng = random.Random(seed)
    seqs = dict.fromkeys(channels, 0)
    for start in range(0, n, CHUNK):
        rows = []
        for i in range(start, min(n, start + CHUNK)):
            ch = channels[rng.randrange(len(channels))]
            seqs[ch] += 1
            mid, handle = members[rng.randrange(len(members))]
            body = " ".join(rng.sample(pool, rng.choice((2, 2, 3))))
            rows.append((ch, seqs[ch], mid, handle, "agent", f"b{i}", body, None, 0, None, "[]", 1, 0, now, None,
                         False))
        async with db.transaction():
            await db.execute_many(
                "INSERT INTO chorus_message (channel, seq, author, author_handle, author_kind, client_msg_id, body, "
                "thread_of, reply_count, last_reply_seq, mentions, label_level, label_mask, created_at, edited_at, "
                "deleted) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})", rows)
    async with db.transaction():
        await db.execute_many("UPDATE chorus_channel SET last_seq = {} WHERE id = {}",
                              [(seq, ch) for ch, seq in seqs.items()])
    return ws


async def baseline(db: Database, ws: int) -> dict[str, Any]:
    """Signal extraction alone: read every message in keyset batches and extract each sentence's signals."""
    before, started, count, after = _rss_mb(), time.perf_counter(), 0, 0
    while True:
        rows = await db.fetch("SELECT m.id, m.body FROM chorus_message m JOIN chorus_channel c ON c.id = m.channel "
                              "WHERE c.workspace = {} AND m.id > {} ORDER BY m.id LIMIT {}", ws, after, CHUNK)
        if not rows:
            break
        for r in rows:
            for s in sentences(r["body"]):
                extract(r["id"], s)
        count += len(rows)
        after = int(rows[-1]["id"])
    seconds = time.perf_counter() - started
    return {"stage": "signals only", "messages": count, "seconds": seconds, "rate": count / seconds,
            "rss": _rss_mb(), "growth": _rss_mb() - before, "passes": 0}


async def full(ws: int) -> dict[str, Any]:
    """The real thing: mine_workspace passes until every channel's cursor is at its end."""
    forget_state()
    actor = await services.system_actor(ws)
    before, started, count, passes = _rss_mb(), time.perf_counter(), 0, 0
    insights = 0
    while True:
        result = await mine_workspace(actor)
        count += result.messages
        passes += 1
        insights = result.insights
        if not result.more:
            break
    seconds = time.perf_counter() - started
    return {"stage": "full pipeline", "messages": count, "seconds": seconds, "rate": count / seconds,
            "rss": _rss_mb(), "growth": _rss_mb() - before, "passes": passes, "insights": insights}


async def run(n: int) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="chorus-bench-mining-") as tmp:
        db = Database(DatabaseSettings(url=Secret(f"sqlite:///{Path(tmp) / 'bench.db'}")))
        await db.start()
        services.forget_schemes()
        try:
            await run_migrations()
            t = time.perf_counter()
            ws = await populate(db, n)
            print(f"inserted {n} messages in {time.perf_counter() - t:.1f} s", flush=True)
            return [await baseline(db, ws), await full(ws)]
        finally:
            await db.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="5,000 messages: a quick check that it runs")
    parser.add_argument("--messages", type=int, default=1_000_000)
    args = parser.parse_args()
    n = 5000 if args.smoke else args.messages
    results = asyncio.run(run(n))
    print(f"{'stage':<14} {'messages':>9} {'seconds':>8} {'msgs/s':>8} {'peak RSS MB':>12} {'RSS growth':>11} "
          f"{'passes':>7}")
    for r in results:
        print(f"{r['stage']:<14} {r['messages']:>9} {r['seconds']:>8.1f} {r['rate']:>8.0f} {r['rss']:>12.0f} "
              f"{r['growth']:>11.1f} {r['passes']:>7}")
    print(f"window {WINDOW} messages, pass limit {PASS_LIMIT}; insights stored at the end: "
          f"{results[-1].get('insights', 0)}")


if __name__ == "__main__":
    main()
