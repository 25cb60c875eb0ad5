"""Every metric the README names is emitted by the product: the tests drive the app (a real socket opens and
closes, posts are timed, posts are refused by the leak guard and by the size limit) and a run (agent turns, calls
to an OpenAI-compatible endpoint), then read the metrics from the in-memory reader. None calls ``workspace.metrics``
itself."""

from __future__ import annotations

import asyncio
import http.server
import json
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from personas import domain as personas_domain
from personas.llm.openai_compat import OpenAIProvider, Price
from personas.runtime.runs import simulate
from personas.scenario import builtin_scenario, load_scenario
from tests.channels.wshelp import raw_socket, recv_until, running, send
from tests.personas.helpers import CONTRACT, load_acme
from tests.sso.helpers import agent_token_for
from workspace import metrics
from workspace.db import Database
from workspace.services import ensure_workspace, system_actor
from workspace.telemetry import Telemetry

ROOT = Path(__file__).resolve().parents[1]
# Which test below proves each metric; together they must cover every metric the README names.
THROUGH_THE_APP = {metrics.WS_CONNECTIONS, metrics.WS_DELIVERIES, metrics.POST_DURATION, metrics.POSTS_BLOCKED,
                   metrics.AUDIT_EVENTS}
THROUGH_A_RUN = {metrics.AGENT_TURNS, metrics.LLM_TOKENS, metrics.LLM_COST, metrics.LLM_DURATION}


def readme_metrics() -> set[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Telemetry", 1)[1].split("\n## ", 1)[0]
    bullet = section.split("- Metrics:", 1)[1].split("plus the standard", 1)[0]
    return set(re.findall(r"`(chorus\.[a-z_.]+)`", bullet))


def registered_metrics() -> set[str]:
    return {value for name, value in vars(metrics).items() if name.isupper() and isinstance(value, str)
            and value.startswith("chorus.")}


def test_the_readme_names_every_metric_and_each_is_proven_below() -> None:
    assert readme_metrics() == registered_metrics()
    assert registered_metrics() == THROUGH_THE_APP | THROUGH_A_RUN


def _sums(tel: Telemetry, name: str, *keys: str) -> dict[tuple[Any, ...], float]:
    """Total of every point of ``name`` since the reset, by the values of attribute ``keys``."""
    out: dict[tuple[Any, ...], float] = {}
    for p in tel.metric_points(name):
        key = tuple(p.attributes.get(k) for k in keys)
        out[key] = out.get(key, 0) + p.value
    return out


def _counts(tel: Telemetry, name: str, *keys: str) -> dict[tuple[Any, ...], int]:
    out: dict[tuple[Any, ...], int] = {}
    for p in tel.metric_points(name):
        key = tuple(p.attributes.get(k) for k in keys)
        out[key] = out.get(key, 0) + p.count
    return out


async def _until(check: Callable[[], bool]) -> None:
    for _ in range(500):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def test_a_socket_posts_and_refusals_through_the_app(db: Database, tmp_path: Path, telemetry: Telemetry) -> None:
    acme = await load_acme()
    counsel = await acme.agent("counsel-0001")  # may read the contract; ops-floor (internal/ops) may not carry it
    assert counsel.member_id is not None
    token = await agent_token_for(counsel.member_id)
    async with running(db, tmp_path, "memory://", telemetry=telemetry, CHORUS_MAX_MESSAGE_BYTES="2000") as server:
        telemetry.reset()
        ws = await raw_socket(server, {"Authorization": f"Bearer {token}"})
        assert _sums(telemetry, metrics.WS_CONNECTIONS, "member.kind") == {("agent",): 1}
        await send(ws, {"type": "subscribe", "channel": "ops-floor", "ref": "s"})
        await recv_until(ws, "subscribed")
        await send(ws, {"type": "post", "channel": "ops-floor", "body": "scanners look fine today",
                        "client_msg_id": "ok-1"})
        await recv_until(ws, "ack")
        await recv_until(ws, "message")
        await send(ws, {"type": "post", "channel": "ops-floor", "body": CONTRACT, "client_msg_id": "leak-1"})
        assert (await recv_until(ws, "error"))["code"] == "leak_blocked"
        await send(ws, {"type": "post", "channel": "ops-floor", "body": "x" * 2001, "client_msg_id": "big-1"})
        assert (await recv_until(ws, "error"))["code"] == "too_large"
        await ws.close()
        await _until(lambda: _sums(telemetry, metrics.WS_CONNECTIONS, "member.kind") == {("agent",): 0})
    assert sum(_sums(telemetry, metrics.WS_DELIVERIES).values()) >= 1
    assert _counts(telemetry, metrics.POST_DURATION, "member.kind", "outcome") == {
        ("agent", "ok"): 1, ("agent", "error"): 2}
    assert _sums(telemetry, metrics.POSTS_BLOCKED, "reason") == {("leak_guard",): 1, ("too_large",): 1}
    audited = _sums(telemetry, metrics.AUDIT_EVENTS, "action")
    assert audited[("message.posted",)] == 1 and audited[("post.blocked",)] == 1


REPLY = json.dumps({"message": "Line 2 waits for sensors; who owns the fix?", "facts": [1], "quotes": []})


class _FakeChat(http.server.BaseHTTPRequestHandler):
    """An OpenAI-compatible Chat Completions endpoint that always answers the same turn (the runtime asks for a
    JSON object: the message and the numbers of the facts it states)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        body = json.dumps({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "fake-model",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": REPLY}}],
            "usage": {"prompt_tokens": 40, "completion_tokens": 9, "total_tokens": 49}}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def chat_endpoint() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeChat)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


async def test_agent_turns_and_llm_calls_through_a_run(db: Database, telemetry: Telemetry, chat_endpoint: str) -> None:
    personas_domain.register_hooks()
    actor = await system_actor(await ensure_workspace("metrics"))
    provider = OpenAIProvider(base_url=chat_endpoint, model="fake-model", max_retries=0,
                              prices={"fake-model": Price(1.0, 2.0)})
    try:
        summary = await simulate(actor, load_scenario(builtin_scenario("meridian")), 12, 1, seed=3,
                                 provider=provider)
    finally:
        await provider.client.close()
    assert summary.status == "completed" and summary.messages > 0
    turns = _sums(telemetry, metrics.AGENT_TURNS, "outcome")
    assert turns.get(("posted",), 0) == summary.messages
    calls = sum(_counts(telemetry, metrics.LLM_DURATION, "model", "outcome").values())
    assert calls >= summary.messages
    assert _counts(telemetry, metrics.LLM_DURATION, "model", "outcome").keys() == {("fake-model", "ok")}
    tokens = _sums(telemetry, metrics.LLM_TOKENS, "direction")
    assert tokens == {("input",): 40 * calls, ("output",): 9 * calls}
    assert sum(_sums(telemetry, metrics.LLM_COST).values()) == pytest.approx(calls * (0.040 + 0.018))
