"""Load-generator worker: one OS process driving a share of the WebSocket clients (``python -m
tests.reliability.loadgen``). The orchestrator (:mod:`tests.reliability.load`) talks to it over stdin/stdout:

    -> {"urls", "clients": [[member_id, token, channel_id]], "period_s", "duration_s", "seed"}
    <- {"ready": n}            every client connected and subscribed after seq 0
    -> {"go": wall_time}       post at a fixed rate until go + duration_s
    <- {"posted": n}           every post acknowledged or given up
    -> {"final": {cid: seq}}   the channels' last seq in the database
    <- {"result": {...}}       once every client has seen that seq (or the wait limit passed)

Clients are ``channels.client.ChorusClient`` (reconnect with backoff, resubscribe after the last seq), given every
replica's URL as a load balancer would; every ``message`` frame is recorded raw, before the client's own
de-duplication, so the orchestrator can check that the server sent each seq exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
import time
from collections import Counter
from typing import Any

from channels.client import ChorusClient, ChorusError, ConnectionLost

POST_GIVE_UP_S = 90.0
FINAL_WAIT_S = 90.0


class RecordingClient(ChorusClient):
    """Records every message frame's seq (raw) and its publish-to-delivery latency; queues nothing."""

    def __init__(self, urls: list[str], token: str, member_id: int, channel_id: int, stats: Stats) -> None:
        super().__init__(urls, token=token, backoff_initial=0.1, backoff_max=2.0, request_timeout=20.0)
        self.member_id = member_id
        self.channel_id = channel_id
        self.stats = stats
        self.seqs: list[int] = []

    def _dispatch(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "message" and not frame.get("update"):
            cid, seq = int(frame["channel"]), int(frame["seq"])
            self.seqs.append(seq)
            if seq > self.last_seq.get(cid, -1):
                self.last_seq[cid] = seq
                body = str(frame["message"].get("body", ""))
                if body.startswith("t="):
                    self.stats.latencies.append(time.time() - float(body[2:body.index(" ")]))
            return
        if kind == "resync":
            self.stats.resyncs += 1
        elif kind == "error" and frame.get("ref") is None:
            self.stats.errors[f"unsolicited:{frame.get('code')}"] += 1
        super()._dispatch(frame)


class Stats:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors: Counter[str] = Counter()
        self.resyncs = 0
        self.acks: list[tuple[int, int, str]] = []
        self.failed: list[tuple[str, str]] = []
        self.attempted = 0


async def _line() -> dict[str, Any]:
    raw = await asyncio.to_thread(sys.stdin.readline)
    if not raw:
        raise SystemExit("the orchestrator went away")
    out: dict[str, Any] = json.loads(raw)
    return out


def _say(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def post_one(client: RecordingClient, k: int, stats: Stats) -> None:
    """One post, retried with the same client_msg_id through disconnects and retryable errors; every error seen
    on the way is counted by code."""
    cmid = f"m{client.member_id}-{k}"
    body = f"t={time.time():.6f} m{client.member_id} k{k} load test message"
    frame = {"type": "post", "channel": client.channel_id, "body": body, "client_msg_id": cmid}
    stats.attempted += 1
    deadline = time.monotonic() + POST_GIVE_UP_S
    delay = 0.1
    while True:
        try:
            ack = await client.request(frame)
            stats.acks.append((int(ack["channel"]), int(ack["seq"]), cmid))
            return
        except ChorusError as exc:
            stats.errors[exc.code] += 1
            if exc.code not in ("rate_limited", "unavailable") or time.monotonic() > deadline:
                stats.failed.append((cmid, exc.code))
                return
            wait = float(exc.retry_after or delay)
        except PermissionError as exc:  # the client gave up reconnecting (its stream reports it too)
            stats.failed.append((cmid, f"PermissionError: {exc}"))
            return
        except (TimeoutError, ConnectionLost) as exc:
            stats.errors["connection_lost" if isinstance(exc, ConnectionLost) else "timeout"] += 1
            if time.monotonic() > deadline:
                stats.failed.append((cmid, type(exc).__name__))
                return
            wait = delay
        await asyncio.sleep(wait * (0.5 + random.random()))
        delay = min(delay * 2, 2.0)


async def poster(client: RecordingClient, go_loop: float, period: float, duration: float, rng: random.Random,
                 stats: Stats, tasks: set[asyncio.Task[None]]) -> None:
    """Open-loop posting at a fixed rate: a slow ack never delays the next post."""
    loop = asyncio.get_running_loop()
    at = go_loop + rng.uniform(0, period)
    k = 0
    while at < go_loop + duration:
        await asyncio.sleep(max(0.0, at - loop.time()))
        task = asyncio.create_task(post_one(client, k, stats))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        k += 1
        at += period


async def main() -> None:
    conf = await _line()
    stats = Stats()
    urls: list[str] = conf["urls"]
    rng = random.Random(conf.get("seed", 0))
    clients: list[RecordingClient] = []
    gate = asyncio.Semaphore(64)

    async def start(i: int, member: int, token: str, cid: int) -> None:
        # spread clients over the replicas as a load balancer would
        client = RecordingClient([*urls[i % len(urls):], *urls[:i % len(urls)]], token, member, cid, stats)
        async with gate:
            await client.connect()
            await client.subscribe(cid, after_seq=0)
        clients.append(client)

    began = time.monotonic()
    await asyncio.gather(*(start(i, m, t, c) for i, (m, t, c) in enumerate(conf["clients"])))
    _say({"ready": len(clients), "connect_s": round(time.monotonic() - began, 2)})

    go_wall = float((await _line())["go"])
    loop = asyncio.get_running_loop()
    go_loop = loop.time() + (go_wall - time.time())
    tasks: set[asyncio.Task[None]] = set()
    await asyncio.gather(*(poster(c, go_loop, float(conf["period_s"]), float(conf["duration_s"]), rng, stats, tasks)
                           for c in clients))
    while tasks:
        await asyncio.gather(*list(tasks))
    _say({"posted": stats.attempted})

    final = {int(k): int(v) for k, v in (await _line())["final"].items()}
    deadline = time.monotonic() + FINAL_WAIT_S
    while time.monotonic() < deadline:
        if all(c.last_seq.get(c.channel_id, 0) >= final.get(c.channel_id, 0) for c in clients):
            break
        await asyncio.sleep(0.1)
    streams = []
    for c in clients:
        seen = set(c.seqs)
        last = max(seen, default=0)
        first = min(seen, default=0)
        gaps = [s for s in range(1, final.get(c.channel_id, 0) + 1) if s not in seen]
        streams.append({"member": c.member_id, "channel": c.channel_id, "first": first, "last": last,
                        "received": len(c.seqs), "duplicates": len(c.seqs) - len(seen), "missing": len(gaps),
                        "missing_examples": gaps[:5], "reconnects": c.reconnects,
                        "gave_up": repr(c.failure) if c.failure is not None else None})
    result = {"acks": stats.acks, "failed": stats.failed, "attempted": stats.attempted,
              "errors": dict(stats.errors), "resyncs": stats.resyncs, "streams": streams,
              "latencies": [round(x, 5) for x in stats.latencies]}
    _say({"result": result})
    for c in clients:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(c.close(), 5)


if __name__ == "__main__":
    asyncio.run(main())
