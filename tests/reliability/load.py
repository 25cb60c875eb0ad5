"""The load run: client workers (:mod:`tests.reliability.loadgen`) against running replicas, an optional fault
script in the middle, then the accounting: deliveries/s, latency percentiles, errors, and the checks that nothing
acknowledged was lost and no subscriber missed or received twice any seq.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.reliability.cluster import ROOT, Replica
from tests.reliability.seed import LoadClient

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


@dataclass
class LoadReport:
    clients: int
    channels: int
    duration_s: float
    period_s: float
    posts_attempted: int = 0
    posts_acked: int = 0
    deliveries: int = 0
    deliveries_per_s: float = 0.0
    posts_per_s: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    p999_ms: float = 0.0
    max_ms: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)
    resyncs: int = 0
    reconnects: int = 0
    connect_s: float = 0.0
    server_cpu_s: float = 0.0
    deliveries_per_server_cpu_s: float = 0.0
    problems: list[str] = field(default_factory=list)
    """Every broken promise found (lost, duplicated, missing or unacknowledged); empty when all held."""
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "problems"} | {"problems": self.problems[:20],
                                                                               "problem_count": len(self.problems)}


class Worker:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def send(self, obj: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(obj) + "\n").encode())
        await self.proc.stdin.drain()

    async def expect(self, key: str, limit_s: float) -> Any:
        assert self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), limit_s)
        if not raw:
            raise RuntimeError(f"a load worker exited (status {await self.proc.wait()}) while waiting for {key!r}")
        msg = json.loads(raw)
        if key not in msg:
            raise RuntimeError(f"a load worker said {msg!r}, expected {key!r}")
        return msg[key], msg


async def final_seqs(database_url: str) -> dict[int, int]:
    import asyncpg

    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        rows = await conn.fetch("SELECT id, last_seq FROM chorus_channel")
        return {int(r["id"]): int(r["last_seq"]) for r in rows}
    finally:
        await conn.close()


async def stored_posts(database_url: str) -> tuple[dict[str, tuple[int, int]], list[str]]:
    """client_msg_id -> (channel, seq) of every stored message, and per-channel consistency problems."""
    import asyncpg

    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        rows = await conn.fetch("SELECT channel, seq, client_msg_id FROM chorus_message")
        chans = await conn.fetch("SELECT id, last_seq FROM chorus_channel")
    finally:
        await conn.close()
    problems: list[str] = []
    by_channel: dict[int, list[int]] = {}
    out: dict[str, tuple[int, int]] = {}
    for r in rows:
        by_channel.setdefault(int(r["channel"]), []).append(int(r["seq"]))
        if r["client_msg_id"] in out:
            problems.append(f"client_msg_id {r['client_msg_id']} stored twice")
        out[str(r["client_msg_id"])] = (int(r["channel"]), int(r["seq"]))
    for c in chans:
        seqs = sorted(by_channel.get(int(c["id"]), []))
        if seqs != list(range(1, int(c["last_seq"]) + 1)):
            problems.append(f"channel {c['id']}: stored seqs are not 1..{c['last_seq']} ({len(seqs)} rows)")
    return out, problems


async def run_load(*, database_url: str, replicas: list[Replica], clients: list[LoadClient], period_s: float,
                   duration_s: float, workers: int = 3, log_dir: Path,
                   during: Callable[[], Coroutine[Any, Any, None]] | None = None) -> LoadReport:
    """Drive ``clients`` (split over ``workers`` processes) for ``duration_s``; each posts every ``period_s`` to its
    channel and follows it. ``during`` runs concurrently with the posting (the fault script)."""
    report = LoadReport(clients=len(clients), channels=len({c.channel_id for c in clients}), duration_s=duration_s,
                        period_s=period_s)
    urls = [r.ws_url for r in replicas]
    shares = [clients[i::workers] for i in range(workers)]
    procs: list[Worker] = []
    for i, share in enumerate(shares):
        err = (log_dir / f"loadgen{i}.log").open("ab")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.reliability.loadgen", cwd=ROOT, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=err, limit=2**28,
            env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"})
        err.close()
        procs.append(Worker(proc))
        await procs[-1].send({"urls": urls, "period_s": period_s, "duration_s": duration_s, "seed": i,
                              "clients": [[c.member_id, c.token, c.channel_id] for c in share]})
    try:
        readies = [await w.expect("ready", 300) for w in procs]
        report.connect_s = max(float(m.get("connect_s", 0)) for _, m in readies)
        cpu0 = {r.name: cpu_seconds(r.proc.pid) for r in replicas if r.proc}
        go = time.time() + 1.0
        for w in procs:
            await w.send({"go": go})
        fault: asyncio.Task[None] | None = asyncio.create_task(during()) if during else None
        await asyncio.sleep(max(0.0, go - time.time()))
        for w in procs:
            await w.expect("posted", duration_s + 300)
        posting_s = time.time() - go
        if fault is not None:
            await fault
        final = await final_seqs(database_url)
        for w in procs:
            await w.send({"final": {str(k): v for k, v in final.items()}})
        results = [(await w.expect("result", 300))[0] for w in procs]
        drained_s = time.time() - go
        report.server_cpu_s = sum(cpu_seconds(r.proc.pid) - cpu0.get(r.name, 0.0) for r in replicas if r.proc)
    finally:
        for w in procs:
            if w.proc.returncode is None:
                w.proc.kill()
            await w.proc.wait()
    await account(report, results, final, database_url, posting_s, drained_s)
    return report


async def account(report: LoadReport, results: list[dict[str, Any]], final: dict[int, int], database_url: str,
                  posting_s: float, drained_s: float) -> None:
    errors: Counter[str] = Counter()
    latencies: list[float] = []
    acks: list[tuple[int, int, str]] = []
    for res in results:
        errors.update(res["errors"])
        latencies.extend(res["latencies"])
        acks.extend((int(c), int(s), str(m)) for c, s, m in res["acks"])
        report.posts_attempted += int(res["attempted"])
        report.resyncs += int(res["resyncs"])
        for cmid, code in res["failed"]:
            report.problems.append(f"post {cmid} was never acknowledged (last error {code})")
        for st in res["streams"]:
            report.deliveries += int(st["received"])
            report.reconnects += int(st["reconnects"])
            want = final.get(int(st["channel"]), 0)
            if st.get("gave_up"):
                report.problems.append(f"member {st['member']}'s client stopped reconnecting: {st['gave_up']}")
            if st["duplicates"]:
                report.problems.append(f"member {st['member']} received {st['duplicates']} seq(s) of channel "
                                       f"{st['channel']} twice")
            if st["missing"]:
                report.problems.append(f"member {st['member']} is missing {st['missing']} of seqs 1..{want} in "
                                       f"channel {st['channel']} (e.g. {st['missing_examples']})")
            if want and st["first"] != 1:
                report.problems.append(f"member {st['member']}'s stream of channel {st['channel']} starts at "
                                       f"{st['first']}, not 1")
    report.posts_acked = len(acks)
    stored, db_problems = await stored_posts(database_url)
    report.problems.extend(db_problems)
    for cid, seq, cmid in acks:
        if stored.get(cmid) != (cid, seq):
            report.problems.append(f"acknowledged post {cmid} (channel {cid}, seq {seq}) is stored as "
                                   f"{stored.get(cmid)}")
    latencies.sort()
    report.errors = dict(errors)
    report.posts_per_s = round(report.posts_acked / posting_s, 1)
    report.deliveries_per_s = round(report.deliveries / max(posting_s, 1e-9), 1)
    report.p50_ms, report.p99_ms, report.p999_ms = (round(percentile(latencies, q) * 1000, 1)
                                                    for q in (0.5, 0.99, 0.999))
    report.max_ms = round((latencies[-1] if latencies else 0.0) * 1000, 1)
    report.deliveries_per_server_cpu_s = round(report.deliveries / report.server_cpu_s, 0) if report.server_cpu_s \
        else 0.0
    report.notes.append(f"posting {posting_s:.1f} s, all delivered {drained_s:.1f} s after start")
