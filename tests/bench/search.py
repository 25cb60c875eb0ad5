"""Benchmark: message search (SQLite FTS5, PostgreSQL tsvector + GIN) and what its index costs a post.

1. Post cost on SQLite: CPU seconds per post through ``post_message`` with the full-text triggers and, in the same
   run, with them dropped (the baseline).
2. Search latency over N stored messages in 20 channels of mixed labels: a person whose label reads half of them,
   and an agent that is a member of 3 channels (the label rule and membership are in the query that ranks), for
   queries from rare to common words; median and p95 of repeated runs. PostgreSQL too when
   ``CHORUS_TEST_POSTGRES_URL`` is set.

    .venv/bin/python -m tests.bench.search               # 100,000 messages
    .venv/bin/python -m tests.bench.search --smoke       # 2,000 messages: does it run (CI)

A script, not a test: it prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import statistics
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from channels import config
from channels import services as ch
from channels.piccolo_migrations import channels_2026_12_04t16_20_00_000000 as fts_migration
from tests.channels.helpers import World, agent, generous_limits
from workspace import services
from workspace.db import Database
from workspace.labels import LabelScheme
from workspace.migrations import run_migrations
from workspace.settings import DatabaseSettings, Secret

_TOPICAL = ("pump valve sensor battery shipment supplier invoice forklift line press alarm audit recall warranty "
            "backlog forecast margin discount tender contract clinic hospital order defect rework calibration label "
            "customer complaint freight pallet inventory quarter budget hiring shift overtime safety training")
_FILLER = "the team said we need to check this week and next before friday because of the"
WORDS, COMMON = tuple(_TOPICAL.split()), tuple(_FILLER.split())
QUERIES = ["calibration recall", "battery", "supplier invoice", "pump valve sensor", "week"]
POSTS = 2000


def body(rng: random.Random) -> str:
    picked = [rng.choice(WORDS) if rng.random() < 0.35 else rng.choice(COMMON) for _ in range(rng.randint(12, 40))]
    return " ".join(picked).capitalize() + "."


async def post_cost(posts: int) -> tuple[float, float]:
    """Microseconds of CPU per post with the full-text triggers, and with them dropped (SQLite)."""
    out = []
    for with_index in (True, False):
        with tempfile.TemporaryDirectory() as tmp:
            db = Database(DatabaseSettings(url=Secret(f"sqlite:///{Path(tmp) / 'p.db'}")))
            await db.start()
            try:
                services.forget_schemes()
                await run_migrations()
                if not with_index:
                    for sql in fts_migration.SQLITE_DOWN:
                        await db.fetch(sql)
                generous_limits()
                config.set_publisher(lambda channel_id, data: None)
                ws = await services.ensure_workspace("bench")
                system = await services.system_actor(ws)
                poster = await agent(World(ws=ws, system=system), "poster")
                channel = await ch.create_channel(system, "ops", "", system.scheme.parse("internal"))
                await ch.add_members_bulk(system, channel["id"], [int(poster.member_id or 0)])
                rng = random.Random(1)
                for i in range(200):  # warm up
                    await ch.post_message(poster, "ops", body(rng), f"w{i}")
                started = time.process_time()
                for i in range(posts):
                    await ch.post_message(poster, "ops", body(rng), f"p{i}")
                out.append((time.process_time() - started) / posts * 1e6)
            finally:
                config.set_publisher(None)
                await db.stop()
    return out[0], out[1]


async def search_latency(url: str, messages: int, repeats: int) -> list[dict[str, Any]]:
    db = Database(DatabaseSettings(url=Secret(url)))
    await db.start()
    try:
        await run_migrations()
        services.forget_schemes()
        ws = await services.ensure_workspace(f"bench-{uuid.uuid4().hex[:8]}",
                                             LabelScheme(compartments=("ops", "sales", "finance")))
        system = await services.system_actor(ws)
        labels = ["public", "internal", "internal/ops", "internal/sales", "confidential/finance"]
        channels = [await ch.create_channel(system, f"c{i}", "", system.scheme.parse(labels[i % len(labels)]))
                    for i in range(20)]
        bot = await agent(World(ws=ws, system=system), "reader-bot", "confidential/ops+sales+finance")
        for c in channels[:3]:
            await ch.add_members_bulk(system, c["id"], [int(bot.member_id or 0)])
        rng = random.Random(7)
        now = dt.datetime.now(dt.UTC)
        seqs = dict.fromkeys((c["id"] for c in channels), 0)
        started = time.perf_counter()
        for start in range(0, messages, 1000):
            rows = []
            for i in range(start, min(messages, start + 1000)):
                c = channels[i % len(channels)]
                seqs[c["id"]] += 1
                rows.append((c["id"], seqs[c["id"]], int(bot.member_id or 0), "reader-bot", "agent", f"b{i}",
                             body(rng), c["label_level"], c["label_mask"], now, False))
            async with db.transaction():
                await db.execute_many(
                    "INSERT INTO chorus_message (channel, seq, author, author_handle, author_kind, client_msg_id, "
                    "body, label_level, label_mask, created_at, deleted, reply_count, mentions) "
                    "VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, 0, '[]')", rows)
        load_s = time.perf_counter() - started
        person = replace(system, kind="human", handle="reader", label=system.scheme.parse("internal/ops+sales"),
                         member_id=None)
        results = []
        for who, actor in (("person", person), ("agent", bot)):
            for q in QUERIES:
                times, total = [], 0
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    found = await ch.search_messages(actor, q, limit=20)
                    times.append((time.perf_counter() - t0) * 1000)
                    total = found["total"]
                times.sort()
                results.append({"engine": "sqlite" if db.is_sqlite else "postgres", "messages": messages,
                                "reader": who, "query": q, "hits": total, "p50_ms": statistics.median(times),
                                "p95_ms": times[min(len(times) - 1, int(len(times) * 0.95))], "load_s": load_s})
        return results
    finally:
        await db.stop()


async def _pg(admin_url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="2,000 messages: a quick check that it runs")
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    messages, repeats, posts = (2000, 3, 200) if args.smoke else (args.messages, 21, POSTS)
    with_index, without = asyncio.run(post_cost(posts))
    print(f"post CPU on SQLite: {with_index:.0f} us with the search index, {without:.0f} us without "
          f"({with_index - without:+.0f} us, x{with_index / without:.2f}) over {posts} posts")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows += asyncio.run(search_latency(f"sqlite:///{Path(tmp) / 'bench.db'}", messages, repeats))
    pg = os.environ.get("CHORUS_TEST_POSTGRES_URL", "")
    if pg:
        name = f"chorus_bench_search_{os.getpid()}"
        asyncio.run(_pg(pg, f'CREATE DATABASE "{name}"'))
        try:
            rows += asyncio.run(search_latency(pg.rpartition("/")[0] + "/" + name, messages, repeats))
        finally:
            asyncio.run(_pg(pg, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print(f"{'engine':<9} {'messages':>9} {'reader':<7} {'query':<20} {'hits':>7} {'p50 ms':>8} {'p95 ms':>8}")
    for r in rows:
        print(f"{r['engine']:<9} {r['messages']:>9} {r['reader']:<7} {r['query']:<20} {r['hits']:>7} "
              f"{r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f}")
    print("person: reads 16 of 20 channels by label; agent: a member of 3. Each search counts every hit, then ranks "
          "and returns the best 20.")


if __name__ == "__main__":
    main()
