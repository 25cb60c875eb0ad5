"""Fan-out benchmark (a script, not a test): Chorus /ws against a bare ``websockets.broadcast()`` server.

N subscribers over real sockets, M posts through the full post path (token auth, checks, SQLite insert with the
next seq, audit entry, broker event). Reports deliveries/s, publish-to-delivery p50/p99, the server's CPU seconds
and deliveries per server CPU-second for both servers (their ratio is ``ratio_vs_bare``), then a paced run at
10k deliveries/s for latency. Each server runs in its own process; the subscribers share this one.

    python tests/bench/fanout.py            # 200 and 1,000 subscribers
    python tests/bench/fanout.py --smoke    # a few seconds, for CI
    python tests/bench/fanout.py --json     # {deliveries_per_s, p50_ms, p99_ms, ratio_vs_bare, runs}
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import websockets

ROOT = Path(__file__).resolve().parents[2]
TICK = os.sysconf("SC_CLK_TCK")
MARK = '"body":"t='


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stamp(text: str) -> float | None:
    i = text.find(MARK)
    if i < 0:
        return None
    j = text.find(" ", i + len(MARK))
    return float(text[i + len(MARK):j])


@dataclass
class Result:
    server: str
    subscribers: int
    posts: int
    deliveries: int
    seconds: float
    deliveries_per_s: float
    p50_ms: float
    p99_ms: float
    server_cpu_s: float
    deliveries_per_cpu_s: float
    resyncs: int = 0


# --- the bare server ------------------------------------------------------------------------------------------

async def bare_server(port: int) -> None:
    from websockets.asyncio.server import broadcast, serve

    clients: set[Any] = set()

    async def handler(ws: Any) -> None:
        if ws.request.path == "/pub":
            async for message in ws:
                broadcast(clients, message)
            return
        clients.add(ws)
        try:
            await ws.wait_closed()
        finally:
            clients.discard(ws)

    async with serve(handler, "127.0.0.1", port, compression=None):
        await asyncio.Future()


# --- Chorus set-up ---------------------------------------------------------------------------------------------

async def prepare_chorus(data_dir: Path, subscribers: int, posters: int) -> tuple[int, list[str], list[str]]:
    """A migrated SQLite database with a channel, subscriber agents and member posters, each with a token."""
    sys.path.insert(0, str(ROOT))
    from channels import services as ch
    from sso.services_tokens import issue_agent_token
    from workspace import audit
    from workspace import db as dbmod
    from workspace.audit import Entity
    from workspace.db import Database
    from workspace.migrations import run_migrations
    from workspace.services import ensure_workspace, system_actor
    from workspace.settings import DatabaseSettings, Secret
    from workspace.tables import Member

    database = Database(DatabaseSettings(url=Secret(f"sqlite:///{data_dir / 'chorus.db'}")))
    await database.start()
    try:
        await run_migrations()
        ws = await ensure_workspace()
        system = await system_actor(ws)
        label = system.scheme.parse("internal")
        channel = await ch.create_channel(system, "bench", "fan-out benchmark", label)
        now = dt.datetime.now(dt.UTC)
        async with dbmod.current().transaction():
            rows = [Member(workspace=ws, kind="agent", handle=f"bench-{i}", display_name=f"bench {i}",
                           label_level=label.level, label_mask=label.mask, roles="", active=True, created_at=now)
                    for i in range(subscribers + posters)]
            ids: list[int] = []
            for start in range(0, len(rows), 500):
                ids += [int(r["id"]) for r in await Member.insert(*rows[start:start + 500])]
            await audit.record(system, "member.created", Entity("member", "bench-*"), {"count": len(ids)})
        await ch.add_members_bulk(system, channel["id"], ids[subscribers:])
        tokens = [await issue_agent_token(system, member_id) for member_id in ids]
        return int(channel["id"]), tokens[:subscribers], tokens[subscribers:]
    finally:
        await database.stop()


@contextlib.contextmanager
def server_process(args: list[str], env: dict[str, str], log: Path) -> Any:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def wait_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.05)
    raise RuntimeError("server did not start")


# --- the workload ----------------------------------------------------------------------------------------------

class Subscriber:
    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.seen: set[int] = set()
        self.last = 0
        self.latencies: list[float] = []
        self.resyncs = 0
        self.done = asyncio.Event()

    async def run(self, ws: Any, chorus: bool) -> None:
        async for raw in ws:
            text = raw if isinstance(raw, str) else raw.decode()
            t = stamp(text)
            if t is not None:
                now = time.perf_counter()
                if chorus:
                    seq = int(text[text.find('"seq":') + 6:text.find(",", text.find('"seq":'))])
                    if seq in self.seen:
                        continue
                    self.seen.add(seq)
                    self.last = max(self.last, seq)
                else:
                    self.seen.add(len(self.seen))
                self.latencies.append((now - t) * 1000)
                if len(self.seen) >= self.expected:
                    self.done.set()
            elif chorus and '"type":"resync"' in text:
                self.resyncs += 1
                await ws.send(json.dumps({"v": 1, "type": "subscribe", "channel": json.loads(text)["channel"],
                                          "after_seq": self.last}))


async def workload(name: str, server_pid: int, connect: Callable[[int], Awaitable[Any]], chorus: bool,
                   publish: Callable[[str], Awaitable[None]], subscribers: int, posts: int, body_pad: int,
                   rate: float | None) -> Result:
    subs = [Subscriber(posts) for _ in range(subscribers)]
    sockets = []
    for i in range(subscribers):
        sockets.append(await connect(i))
    tasks = [asyncio.create_task(s.run(ws, chorus)) for s, ws in zip(subs, sockets, strict=True)]
    await asyncio.sleep(0.3)
    cpu0, t0 = cpu_seconds(server_pid), time.perf_counter()
    for i in range(posts):
        if rate:
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        await publish(f"t={time.perf_counter():.6f} " + "x" * body_pad)
    try:
        async with asyncio.timeout(120 + posts / 50):
            await asyncio.gather(*(s.done.wait() for s in subs))
    except TimeoutError:
        got = sum(len(s.seen) for s in subs)
        print(f"{name}: timed out with {got}/{posts * subscribers} deliveries", file=sys.stderr)
    elapsed = time.perf_counter() - t0
    cpu = cpu_seconds(server_pid) - cpu0
    for t in tasks:
        t.cancel()
    for ws in sockets:
        with contextlib.suppress(Exception):
            await ws.close()
    lat = sorted(x for s in subs for x in s.latencies)
    delivered = len(lat)
    return Result(server=name, subscribers=subscribers, posts=posts, deliveries=delivered, seconds=round(elapsed, 3),
                  deliveries_per_s=round(delivered / elapsed), p50_ms=round(statistics.median(lat), 2) if lat else 0,
                  p99_ms=round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 2) if lat else 0,
                  server_cpu_s=round(cpu, 2), deliveries_per_cpu_s=round(delivered / cpu) if cpu else 0,
                  resyncs=sum(s.resyncs for s in subs))


async def chorus_run(tmp: Path, subscribers: int, posts: int, posters: int, rates: list[float | None]
                     ) -> list[Result]:
    channel_id, sub_tokens, post_tokens = await prepare_chorus(tmp, subscribers, posters)
    port = free_port()
    env = {**os.environ, "CHORUS_DATA_DIR": str(tmp), "CHORUS_DATABASE_URL": f"sqlite:///{tmp / 'chorus.db'}",
           "CHORUS_BROKER_URL": "memory://", "CHORUS_PORT": str(port), "CHORUS_RUN_WORKERS_IN_PROCESS": "false",
           "CHORUS_POST_RATE_PER_S": "1000000", "CHORUS_POST_BURST": "1000000",
           "CHORUS_WRITE_RATE_PER_S": "1000000", "CHORUS_WRITE_BURST": "1000000", "CHORUS_MAX_SOCKETS_PER_TOKEN": "0",
           "CHORUS_LOG_LEVEL": "WARNING",
           "CHORUS_WS_BACKLOG": "1000", "PYTHONWARNINGS": "ignore"}
    log = tmp / "chorus-server.log"
    url = f"ws://127.0.0.1:{port}/ws"
    results = []
    serve = os.environ.get("CHORUS_BENCH_SERVE", "from workspace.app import main; main()")
    cmd = [sys.executable, serve] if serve.endswith(".py") else [sys.executable, "-c", serve, "serve"]
    with server_process(cmd, env, log) as proc:
        await wait_port(port, proc, log)

        async def connect(i: int) -> Any:
            ws = await websockets.connect(url, additional_headers={"Authorization": f"Bearer {sub_tokens[i]}"},
                                          compression=None, max_queue=None)
            await ws.recv()  # hello
            await ws.send(json.dumps({"v": 1, "type": "subscribe", "channel": channel_id}))
            return ws

        for rate in rates:
            pubs = [await websockets.connect(url, additional_headers={"Authorization": f"Bearer {t}"},
                                             compression=None) for t in post_tokens]
            for p in pubs:
                await p.recv()
            acks = [asyncio.create_task(_drain(p)) for p in pubs]
            counter = [0]

            async def publish(body: str, pubs: list[Any] = pubs, counter: list[int] = counter,
                              rate: float | None = rate) -> None:
                counter[0] += 1
                await pubs[counter[0] % len(pubs)].send(json.dumps({
                    "v": 1, "type": "post", "channel": channel_id, "body": body,
                    "client_msg_id": f"{rate}-{counter[0]}"}))

            post_rate = rate / subscribers if rate else None
            name = f"chorus (paced {rate:.0f}/s)" if rate else "chorus"
            results.append(await workload(name, proc.pid, connect, True, publish, subscribers, posts, 150, post_rate))
            for t in acks:
                t.cancel()
            for p in pubs:
                await p.close()
    return results


async def _drain(ws: Any) -> None:
    with contextlib.suppress(Exception):
        async for _ in ws:
            pass


async def bare_run(tmp: Path, subscribers: int, posts: int) -> Result:
    port = free_port()
    log = tmp / "bare-server.log"
    args = [sys.executable, str(Path(__file__).resolve()), "--bare-server", str(port)]
    with server_process(args, {**os.environ}, log) as proc:
        await wait_port(port, proc, log)

        async def connect(_: int) -> Any:
            return await websockets.connect(f"ws://127.0.0.1:{port}/sub", compression=None, max_queue=None)

        pub = await websockets.connect(f"ws://127.0.0.1:{port}/pub", compression=None)

        async def publish(body: str) -> None:
            # the same frame size as Chorus's message frame, so both servers move the same bytes
            await pub.send('{"v":1,"type":"message","channel":1,"seq":1,"message":{"id":1,"channel_id":1,'
                           '"seq":1,"author_id":2,"author":"bench-200","author_kind":"agent","client_msg_id":'
                           '"None-1","body":"' + body + '","thread_of":null,"reply_count":0,"last_reply_seq":null,'
                           '"mentions":[],"created_at":"2026-11-21T12:00:00.000000+00:00","edited_at":null,'
                           '"deleted":false}}')

        result = await workload("bare websockets", proc.pid, connect, False, publish, subscribers, posts, 150, None)
        await pub.close()
        return result


async def main(args: argparse.Namespace) -> dict[str, Any]:
    if args.smoke:
        plans = [(10, 20)]
        paced = 1000.0
    else:
        plans = [(200, 1000), (1000, 200)]
        paced = 10_000.0
    runs: list[Result] = []
    for subscribers, posts in plans:
        with tempfile.TemporaryDirectory(prefix="chorus-bench-") as tmp:
            chorus = await chorus_run(Path(tmp), subscribers, posts, posters=4, rates=[None])
            bare = await bare_run(Path(tmp), subscribers, posts)
            runs += [*chorus, bare]
    with tempfile.TemporaryDirectory(prefix="chorus-bench-") as tmp:
        subscribers = plans[0][0]
        paced_posts = max(20, int(paced * (2 if args.smoke else 4) / subscribers))
        runs += await chorus_run(Path(tmp), subscribers, paced_posts, posters=1, rates=[paced])
    first_chorus = next(r for r in runs if r.server == "chorus")
    first_bare = next(r for r in runs if r.server == "bare websockets")
    paced_run = runs[-1]
    return {
        "deliveries_per_s": first_chorus.deliveries_per_s,
        "p50_ms": paced_run.p50_ms,
        "p99_ms": paced_run.p99_ms,
        "ratio_vs_bare": round(first_chorus.deliveries_per_cpu_s / max(1, first_bare.deliveries_per_cpu_s), 3),
        "runs": [asdict(r) for r in runs],
    }


def report(summary: dict[str, Any]) -> None:
    print(f"{'server':<26}{'subs':>6}{'posts':>7}{'deliv/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'cpu s':>8}"
          f"{'deliv/cpu-s':>13}{'resync':>8}")
    for r in summary["runs"]:
        print(f"{r['server']:<26}{r['subscribers']:>6}{r['posts']:>7}{r['deliveries_per_s']:>10}{r['p50_ms']:>9}"
              f"{r['p99_ms']:>9}{r['server_cpu_s']:>8}{r['deliveries_per_cpu_s']:>13}{r['resyncs']:>8}")
    by = {(r["server"], r["subscribers"]): r for r in summary["runs"]}
    for (server, subs), r in by.items():
        bare = by.get(("bare websockets", subs))
        if server == "chorus" and bare and bare["deliveries_per_cpu_s"]:
            print(f"ratio vs bare at {subs} subscribers (deliveries per server CPU-second): "
                  f"{r['deliveries_per_cpu_s'] / bare['deliveries_per_cpu_s']:.2f}")
    print(f"paced: p50 {summary['p50_ms']} ms, p99 {summary['p99_ms']} ms (target p99 < 25 ms)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="a tiny run (a few seconds), for CI")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--bare-server", type=int, default=None, help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.bare_server is not None:
        asyncio.run(bare_server(ns.bare_server))
        sys.exit(0)
    out = asyncio.run(main(ns))
    if ns.json:
        print(json.dumps(out))
    else:
        report(out)
