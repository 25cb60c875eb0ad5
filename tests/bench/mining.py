"""Benchmark: incremental DB-backed mining of what a run said (claims citing document spans, links between them,
and messages people and external agents wrote in their own words) against, in the same run, a bare scan of the
same rows.

    .venv/bin/python -m tests.bench.mining                    # 1,000,000 messages, SQLite
    .venv/bin/python -m tests.bench.mining --messages 100000  # a shorter run
    .venv/bin/python -m tests.bench.mining --engine postgres  # the same on PostgreSQL (a scratch database)
    .venv/bin/python -m tests.bench.mining --smoke            # 5,000 messages: does it run (CI; SQLite, and
                                                              # PostgreSQL too when CHORUS_TEST_POSTGRES_URL is set)
    .venv/bin/python -m tests.bench.mining --json             # the table, then one JSON object on the last line

The built-in demo scenario's documents are loaded; messages are bulk-inserted raw (this measures mining, not
posting): 95% are runtime posts carrying one to three claims (every tenth a link between facts of two documents
that share a name), with their turn rows; 5% are people's or external agents' messages whose sentences are document
facts (people observe by default, CHORUS_HUMANS_MAY_POST=false; the runtime does the talking).
A script, not a test: it prints a table (stage, messages, seconds, messages/s, peak RSS, RSS growth). Only the
"full pipeline" row is mining (``mine_workspace`` passes until nothing is left); seeding the database (the inserts
and a WAL checkpoint on SQLite, ``VACUUM ANALYZE`` and a checkpoint on PostgreSQL) comes before and is reported apart
(``seed_s``), never in the rate; the bare scan and mining then run on fresh connections.

PostgreSQL (``--engine postgres``): a scratch database is created on the server of ``CHORUS_TEST_POSTGRES_URL``
(default ``postgresql://postgres@127.0.0.1:5432/test``) and dropped afterwards; the rows are inserted the way the
product bulk-inserts (:func:`personas.bulk.insert_rows`: one ``INSERT ... SELECT FROM unnest(...)`` a batch).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from insights.services_mining import PASS_LIMIT, forget_state, mine_workspace
from personas.bulk import insert_rows
from personas.runtime import claims
from personas.scenario import builtin_scenario, load_scenario
from personas.services_load import load_scenario_into
from personas.tables import Run
from tests.reliability.cluster import throwaway_database
from workspace import services
from workspace.db import Database
from workspace.migrations import run_migrations
from workspace.settings import DatabaseSettings, Secret

CHUNK = 5000
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
MESSAGE_COLS = (
    "id",
    "channel",
    "seq",
    "author",
    "author_handle",
    "body",
    "client_msg_id",
    "label_level",
    "label_mask",
    "created_at",
    "deleted",
)
MESSAGE_PG = ("bigint", "bigint", "bigint", "bigint", "text", "text", "text", "int", "bigint", "timestamptz", "bool")
TURN_COLS = (
    "run",
    "round",
    "agent",
    "department",
    "channel",
    "kind",
    "intent",
    "outcome",
    "reason",
    "message",
    "documents",
)
TURN_PG = ("bigint", "int", "bigint", "text", "bigint", "text", "text", "text", "text", "bigint", "text")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def populate(db: Database, n: int, seed: int = 7) -> int:
    """The demo scenario's workspace (40 agents) and ``n`` messages with their claims; returns the workspace id."""
    ws = await services.ensure_workspace("bench")
    actor = await services.system_actor(ws)
    await load_scenario_into(actor, load_scenario(builtin_scenario("meridian")), 40)
    library = claims.Library(await services.get_scheme(ws))
    await library.load(ws)
    spans = list(library.facts.values())
    by_entity: dict[str, list[claims.FactSpan]] = {}
    for s in spans:
        for e in s.fact.entities:
            if library.corpus.distinctive(e):
                by_entity.setdefault(e, []).append(s)
    pairs = [(a, b) for group in by_entity.values() for a in group for b in group if a.document < b.document]
    channels = [
        (int(r["id"]), int(r["label_level"]), int(r["label_mask"]))
        for r in await db.fetch(
            "SELECT id, label_level, label_mask FROM chorus_channel WHERE workspace = {} ORDER BY id", ws
        )
    ]
    top = max(channels, key=lambda c: (c[1], bin(c[2]).count("1")))
    authors = [
        (int(r["id"]), str(r["handle"]))
        for r in await db.fetch("SELECT id, handle FROM chorus_member WHERE workspace = {} ORDER BY id LIMIT 40", ws)
    ]
    run = await Run.insert(
        Run(
            workspace=ws,
            scenario="bench",
            status="completed",
            rounds=1,
            rounds_done=1,
            agents=40,
            created_by="bench",
            created_at=dt.datetime.now(dt.UTC),
        )
    )
    run_id = int(run[0]["id"])
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    seqs = dict.fromkeys((c[0] for c in channels), 0)
    top_id = int((await db.fetch("SELECT COALESCE(MAX(id), 0) AS m FROM chorus_message"))[0]["m"])
    Rows = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]

    def make(start: int) -> Rows:
        """The rows of messages ``start`` to ``start + CHUNK`` (chunks are made one after another, in order)."""
        msgs: list[tuple[Any, ...]] = []
        turns: list[tuple[Any, ...]] = []
        rows: list[tuple[Any, ...]] = []
        for i in range(start, min(n, start + CHUNK)):
            mid = top_id + i + 1
            author, handle = authors[i % len(authors)]
            if i % 10 == 9 and pairs:
                a, b = pairs[rng.randrange(len(pairs))]
                ch = top
                rows.append(
                    claims.link_row(
                        ws,
                        run_id,
                        1,
                        mid,
                        ch[0],
                        author,
                        "Lead",
                        "ops",
                        a,
                        b,
                        "compound",
                        "risk",
                        "so it needs one owner who sees both",
                        a.fact.entities[0],
                        a.label,
                    )
                )
                body = f"{a.fact.text} And {b.fact.text}"
            else:
                picked = [spans[rng.randrange(len(spans))] for _ in range(rng.randint(1, 3))]
                ch = next(
                    (
                        c
                        for c in channels
                        if c[1] >= max(p.label.level for p in picked)
                        and all((c[2] & p.label.mask) == p.label.mask for p in picked)
                    ),
                    top,
                )
                body = " ".join(p.fact.text for p in picked)
                if i % 20 != 3:
                    rows += [claims.fact_row(ws, run_id, 1, mid, ch[0], author, "Analyst", "ops", p) for p in picked]
            seqs[ch[0]] += 1
            msgs.append((mid, ch[0], seqs[ch[0]], author, handle, body, f"b-{i}", ch[1], ch[2], now, False))
            if i % 20 != 3:
                turns.append((run_id, 1, author, "ops", ch[0], "reading", "read", "posted", "", mid, "[]"))
        return msgs, turns, rows

    # PostgreSQL: the next chunk is made in a thread while the server writes this one (the server does most of
    # the work). SQLite writes in a thread of this process: a second thread holding the GIL only slows it down.
    async def made(start: int) -> Rows:
        return make(start) if db.is_sqlite else await asyncio.to_thread(make, start)

    nxt: asyncio.Future[Rows] | None = asyncio.ensure_future(made(0)) if n > 0 else None
    for start in range(0, n, CHUNK):
        assert nxt is not None
        msgs, turns, rows = await nxt
        nxt = asyncio.ensure_future(made(start + CHUNK)) if start + CHUNK < n else None
        async with db.transaction():  # the product's bulk insert: executemany on SQLite, unnest on PostgreSQL
            await insert_rows("chorus_message", MESSAGE_COLS, MESSAGE_PG, msgs)
            await insert_rows("personas_turn", TURN_COLS, TURN_PG, turns)
            await claims.store(rows)
    async with db.transaction():
        for channel_id, seq in seqs.items():
            await db.fetch("UPDATE chorus_channel SET last_seq = {} WHERE id = {}", seq, channel_id)
        if not db.is_sqlite:  # the ids were given: the serial goes on after them
            await db.fetch("SELECT setval(pg_get_serial_sequence('chorus_message', 'id'), {})", top_id + n)
    return ws


async def baseline(db: Database, ws: int) -> dict[str, Any]:
    """Reading every claim and message once, with nothing done to them: the floor mining cannot go below."""
    before, started, count = _rss_mb(), time.perf_counter(), 0
    for table in ("personas_claim", "chorus_message"):
        after: int = 0
        while True:
            rows = await db.fetch(f"SELECT * FROM {table} WHERE id > {{}} ORDER BY id LIMIT {{}}", after, CHUNK)
            if not rows:
                break
            after = int(rows[-1]["id"])
            count += len(rows) if table == "chorus_message" else 0
    seconds = time.perf_counter() - started
    return {
        "stage": "bare scan",
        "messages": count,
        "seconds": seconds,
        "rate": count / seconds,
        "rss": _rss_mb(),
        "growth": _rss_mb() - before,
        "passes": 0,
    }


async def full(ws: int) -> dict[str, Any]:
    """The real thing: mine_workspace passes until every claim and message has been read."""
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
    return {
        "stage": "full pipeline",
        "messages": count,
        "seconds": seconds,
        "rate": count / seconds,
        "rss": _rss_mb(),
        "growth": _rss_mb() - before,
        "passes": passes,
        "insights": insights,
    }


async def measure(url: str, n: int) -> list[dict[str, Any]]:
    """Seed a fresh database at ``url`` (not timed as mining), then the bare scan, then mining."""
    db = Database(DatabaseSettings(url=Secret(url)))
    await db.start()
    services.forget_schemes()
    try:
        await run_migrations()
        t = time.perf_counter()
        ws = await populate(db, n)
        # seeding, not mining: SQLite folds the inserts' write-ahead log into the file; PostgreSQL sets the new
        # rows' visibility, gathers the planner's statistics and writes its dirty pages (a checkpoint: else one
        # falls in the timed part). Before anything is timed, so that the bare scan and mining read settled tables.
        if db.is_sqlite:
            await db.fetch("PRAGMA wal_checkpoint(TRUNCATE)")
            settle = "a checkpoint"
        else:
            await db.fetch("VACUUM ANALYZE")
            await db.fetch("CHECKPOINT")  # superuser or pg_checkpoint (the test server's user postgres is)
            settle = "VACUUM ANALYZE and a checkpoint"
        # mining starts on fresh connections, as a miner process would, not on those that bulk-loaded the rows
        # (on PostgreSQL those made the bare scan and mining 20-30% slower than a fresh pool in the same process)
        await db.stop()
        await db.start()
        seeded = time.perf_counter() - t
        print(f"seeded {n} messages (inserts and {settle}, not timed as mining) in {seeded:.1f} s", flush=True)
        return [await baseline(db, ws), await full(ws), {"stage": "seeding", "seconds": seeded}]
    finally:
        await db.stop()


async def run(n: int, engine: str = "sqlite") -> list[dict[str, Any]]:
    if engine == "postgres":
        admin = os.environ.get("CHORUS_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL
        async with throwaway_database(admin) as url:
            return await measure(url, n)
    with tempfile.TemporaryDirectory(prefix="chorus-bench-mining-") as tmp:
        return await measure(f"sqlite:///{Path(tmp) / 'bench.db'}", n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="5,000 messages: a quick check that it runs")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument(
        "--engine",
        choices=["sqlite", "postgres"],
        default=None,
        help="sqlite (the default) or postgres: a scratch database on the server of "
        "CHORUS_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object on the last line")
    args = parser.parse_args()
    n = 5000 if args.smoke else args.messages
    engines = [args.engine or "sqlite"]
    if args.smoke and args.engine is None and os.environ.get("CHORUS_TEST_POSTGRES_URL"):
        engines.append("postgres")  # as the other benchmarks' smoke runs: PostgreSQL too when CI names it
    out: dict[str, Any] = {}
    for engine in engines:
        summary = report(engine, n, asyncio.run(run(n, engine)))
        if out:
            out[engine] = summary
        else:
            out = dict(summary)
    if args.json:
        print(json.dumps(out))


def report(engine: str, n: int, results: list[dict[str, Any]]) -> dict[str, Any]:
    """Print the table of one engine's run; returns its JSON summary."""
    print(
        f"{'engine':<9} {'stage':<14} {'messages':>9} {'seconds':>8} {'msgs/s':>8} {'peak RSS MB':>12} "
        f"{'RSS growth':>11} {'passes':>7}"
    )
    for r in results[:2]:
        print(
            f"{engine:<9} {r['stage']:<14} {r['messages']:>9} {r['seconds']:>8.1f} {r['rate']:>8.0f} "
            f"{r['rss']:>12.0f} {r['growth']:>11.1f} {r['passes']:>7}"
        )
    scan, mined, seeding = results
    print(
        f"{engine}: pass limit {PASS_LIMIT}; insights stored at the end: {mined.get('insights', 0)}; "
        f"rate / bare scan: {mined['rate'] / scan['rate']:.3f}; mining {mined['seconds']:.1f} s "
        f"(seeding the database, not counted: {seeding['seconds']:.1f} s)"
    )
    return {
        "engine": engine,
        "messages": n,
        "rate": round(mined["rate"], 1),
        "scan_rate": round(scan["rate"], 1),
        "ratio": round(mined["rate"] / scan["rate"], 4),
        "mining_s": round(mined["seconds"], 1),
        "scan_s": round(scan["seconds"], 1),
        "seed_s": round(seeding["seconds"], 1),
        "rss_mb": round(mined["rss"], 1),
        "insights": mined.get("insights", 0),
    }


if __name__ == "__main__":
    main()
