"""OpenTelemetry: spans and metrics recorded in memory for HTTP, WebSocket sessions, database calls, audit events,
agent turns, LLM calls and mining runs; OTLP export only when the OTEL_* variables ask for it."""

from __future__ import annotations

import asyncio
import http.server
import json
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from litestar import WebSocket, get, websocket
from litestar.params import FromPath
from opentelemetry.trace import SpanKind

from tests.support import LiveServer, live_server
from workspace import audit, metrics, services
from workspace.app import create_app
from workspace.audit import Entity
from workspace.db import Database
from workspace.errors import ConfigError
from workspace.settings import Settings
from workspace.tables import AuditEvent
from workspace.telemetry import (
    Telemetry,
    in_memory_telemetry,
    llm_span,
    mining_span,
    setup_telemetry,
    turn_span,
)


@get("/_test/items/{item_id:int}", opt={"public": True}, sync_to_thread=False)
def get_item(item_id: FromPath[int]) -> dict[str, int]:
    return {"id": item_id}


@websocket("/_test/rooms/{room:str}", opt={"public": True})
async def echo_room(socket: WebSocket[Any, Any, Any]) -> None:
    await socket.accept()
    while True:
        text = await socket.receive_text()
        if text == "bye":
            await socket.close()
            return
        await socket.send_text(text.upper())


@pytest.fixture
def tel() -> Iterator[Telemetry]:
    telemetry = in_memory_telemetry()
    telemetry.reset()
    yield telemetry
    telemetry.reset()


@pytest.fixture
async def server(db: Database, tmp_path: Path, tel: Telemetry) -> AsyncIterator[LiveServer]:
    settings = Settings.from_env({"CHORUS_DATA_DIR": str(tmp_path), "CHORUS_RUN_WORKERS_IN_PROCESS": "false"})
    app = create_app(settings, database=db, telemetry=tel)
    app.register(get_item)
    app.register(echo_room)
    async with live_server(app) as srv:
        yield srv


def _settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"CHORUS_DATA_DIR": str(tmp_path), **env})


async def test_http_span_is_named_by_route_template_not_raw_path(server: LiveServer, tel: Telemetry) -> None:
    async with server.client() as client:
        for item in (17, 18):
            assert (await client.get(f"/_test/items/{item}")).json() == {"id": item}
    servers = [s for s in tel.finished_spans() if s.kind == SpanKind.SERVER]
    assert [s.name for s in servers] == ["GET /_test/items/{item_id:int}"] * 2
    assert all(s.attributes and s.attributes["http.route"] == "/_test/items/{item_id:int}" for s in servers)
    assert not any("/17" in s.name or "/18" in s.name for s in tel.finished_spans())
    # The ASGI instrumentation's duration metric must not grow one series per item either.
    targets = {p.attributes.get("http.target") for p in tel.metric_points("http.server.duration")}
    assert targets == {"/_test/items/{item_id:int}"}


async def test_unrouted_request_span_has_no_raw_path(server: LiveServer, tel: Telemetry) -> None:
    async with server.client() as client:
        assert (await client.get("/no/such/page/12345")).status_code == 404
    servers = [s for s in tel.finished_spans() if s.kind == SpanKind.SERVER]
    assert [s.name for s in servers] == ["GET"]


async def test_websocket_session_is_one_span(server: LiveServer, tel: Telemetry) -> None:
    async with websockets.connect(f"{server.ws_url}/_test/rooms/ops", compression=None) as ws:
        for word in ("a", "b", "c"):
            await ws.send(word)
            assert await ws.recv() == word.upper()
        await ws.send("bye")
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()
    await _until(lambda: any(s.kind == SpanKind.SERVER for s in tel.finished_spans()))
    spans = tel.finished_spans()
    assert [s.name for s in spans if s.kind == SpanKind.SERVER] == ["WS /_test/rooms/{room:str}"]
    assert not [s.name for s in spans if "receive" in s.name or "send" in s.name]


async def test_database_calls_are_child_spans_of_the_request(server: LiveServer, tel: Telemetry,
                                                             db: Database) -> None:
    async with server.client() as client:
        assert (await client.get("/readyz")).status_code == 200
    spans = tel.finished_spans()
    request = next(s for s in spans if s.kind == SpanKind.SERVER)
    assert request.name == "GET /readyz"
    # Background tasks (the audit sealer) query on their own traces; the request's queries share its trace.
    queries = [s for s in spans if s.kind == SpanKind.CLIENT and s.attributes
               and s.attributes.get("db.system") == ("sqlite" if db.is_sqlite else "postgresql")
               and s.context and request.context and s.context.trace_id == request.context.trace_id]
    assert queries, [s.name for s in spans]
    ping = next(q for q in queries if q.attributes and q.attributes["db.query.text"] == "SELECT 1")
    assert ping.name == "SELECT"
    assert ping.parent is not None and request.context is not None
    assert ping.parent.span_id == request.context.span_id


async def test_database_spans_cover_piccolo_queries_and_bulk_writes(db: Database, tel: Telemetry,
                                                                     tmp_path: Path) -> None:
    from workspace.telemetry_db import instrument_database, uninstrument_database

    instrument_database(db, tel)
    try:
        ws_id = await services.ensure_workspace()
        actor = await services.system_actor(ws_id)
        async with db.transaction():
            await audit.record(actor, "test.probe", Entity("probe", 1), {"n": 1})
        await audit.seal()
    finally:
        uninstrument_database(db)
    names = [s.name for s in tel.finished_spans() if s.kind == SpanKind.CLIENT]
    table = AuditEvent._meta.tablename
    assert f"INSERT {table}" in names, names
    assert f"SELECT {table}" in names, names
    before = len(tel.finished_spans())
    await db.fetch("SELECT 1")
    assert len(tel.finished_spans()) == before, "uninstrument_database left the wrapper in place"


async def test_audit_record_counts_events_by_action(db: Database, tel: Telemetry) -> None:
    ws_id = await services.ensure_workspace()
    actor = await services.system_actor(ws_id)
    tel.reset()
    async with db.transaction():
        await audit.record(actor, "channel.created", Entity("channel", 1))
        await audit.record(actor, "channel.created", Entity("channel", 2))
        await audit.record(actor, "member.deactivated", Entity("member", 3))
    points = {p.attributes["action"]: p.value for p in tel.metric_points(metrics.AUDIT_EVENTS)}
    assert points == {"channel.created": 2, "member.deactivated": 1}


def test_turn_and_llm_spans_carry_model_tokens_and_outcome(tel: Telemetry) -> None:
    with turn_span(agent="acct-17", department="finance", channel_id=4) as turn:
        turn.documents([11, 12])
        with llm_span(model="smollm2-135m", provider="openai", department="finance") as call:
            call.usage(input_tokens=90, output_tokens=33, cost_usd=0.002)
        turn.outcome = "posted"
    spans = {s.name: s for s in tel.finished_spans()}
    llm, turn_s = spans["chat smollm2-135m"], spans["agent.turn"]
    assert llm.kind == SpanKind.CLIENT
    assert llm.parent is not None and turn_s.context is not None and llm.parent.span_id == turn_s.context.span_id
    assert llm.attributes is not None and turn_s.attributes is not None
    assert llm.attributes["gen_ai.request.model"] == "smollm2-135m"
    assert llm.attributes["gen_ai.usage.input_tokens"] == 90
    assert llm.attributes["gen_ai.usage.output_tokens"] == 33
    assert float(llm.attributes["chorus.llm.latency_ms"]) >= 0  # type: ignore[arg-type]
    assert turn_s.attributes["chorus.turn.outcome"] == "posted"
    assert turn_s.attributes["chorus.agent.handle"] == "acct-17"
    assert list(turn_s.attributes["chorus.turn.documents"]) == [11, 12]  # type: ignore[arg-type]
    tokens = {(p.attributes["direction"], p.attributes["department"], p.attributes["model"]): p.value
              for p in tel.metric_points(metrics.LLM_TOKENS)}
    assert tokens == {("input", "finance", "smollm2-135m"): 90, ("output", "finance", "smollm2-135m"): 33}
    cost = tel.metric_points(metrics.LLM_COST)
    assert [(p.attributes, round(p.value, 6)) for p in cost] == [({"department": "finance"}, 0.002)]
    turns = [(p.attributes, p.value) for p in tel.metric_points(metrics.AGENT_TURNS)]
    assert turns == [({"outcome": "posted", "department": "finance"}, 1)]
    durations = tel.metric_points(metrics.LLM_DURATION)
    assert [(p.attributes, p.count) for p in durations] == [({"model": "smollm2-135m", "outcome": "ok"}, 1)]


def test_failed_turn_is_counted_as_error(tel: Telemetry) -> None:
    with pytest.raises(RuntimeError), turn_span(agent="ops-3", department="ops"):
        raise RuntimeError("provider down")
    (span,) = tel.finished_spans()
    assert span.attributes is not None and span.attributes["chorus.turn.outcome"] == "error"
    assert not span.status.is_ok
    assert [p.attributes for p in tel.metric_points(metrics.AGENT_TURNS)] == [{"outcome": "error",
                                                                              "department": "ops"}]


def test_mining_span_carries_its_counts(tel: Telemetry) -> None:
    with mining_span(workspace_id=1) as run:
        run.counts(messages=420, insights=5)
    (span,) = tel.finished_spans()
    assert span.name == "mining.run"
    assert span.attributes is not None
    assert (span.attributes["chorus.mining.messages"], span.attributes["chorus.mining.insights"]) == (420, 5)
    # The product's own metrics (sockets, posts, blocks, turns, LLM calls) are proven in tests/test_metrics.py.


def test_instruments_created_before_the_provider_report_to_it() -> None:
    # A fresh interpreter: OpenTelemetry's global provider is set once per process.
    script = """
import json
from workspace import metrics
metrics.audit_event(action="early")          # creates the instrument while no provider exists (a no-op)
from workspace.telemetry import in_memory_telemetry
tel = in_memory_telemetry()
metrics.audit_event(action="late")
print(json.dumps([[p.attributes, p.value] for p in tel.metric_points(metrics.AUDIT_EVENTS)]))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(out.stdout) == [[{"action": "late"}, 1]]


def test_telemetry_is_off_unless_enabled(tmp_path: Path) -> None:
    tel = setup_telemetry(_settings(tmp_path), environ={})
    assert not tel.enabled and tel.tracer_provider is None and tel.meter_provider is None
    assert not tel.install()


def test_otlp_export_only_when_otel_variables_ask(tmp_path: Path) -> None:
    on = _settings(tmp_path, CHORUS_TELEMETRY="true")
    assert setup_telemetry(on, environ={}).exporting == ()
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}
    assert setup_telemetry(on, environ=endpoint).exporting == ("traces:otlp", "metrics:otlp")
    no_traces = {**endpoint, "OTEL_TRACES_EXPORTER": "none"}
    assert setup_telemetry(on, environ=no_traces).exporting == ("metrics:otlp",)
    assert setup_telemetry(on, environ={"OTEL_TRACES_EXPORTER": "otlp"}).exporting == ("traces:otlp",)
    assert not setup_telemetry(on, environ={**endpoint, "OTEL_SDK_DISABLED": "true"}).enabled
    with pytest.raises(ConfigError, match="4318"):
        setup_telemetry(on, environ={**endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
    # The endpoint alone turns telemetry on (Settings reads it too).
    assert setup_telemetry(_settings(tmp_path, **endpoint), environ=endpoint).enabled


class _Collector(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        _Collector.received.append((self.path, body))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_spans_reach_an_otlp_http_collector(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    collector = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=collector.serve_forever, daemon=True)
    thread.start()
    _Collector.received.clear()
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.server_address[1]}",
           "OTEL_METRICS_EXPORTER": "none", "OTEL_SERVICE_NAME": "chorus-test"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    try:
        tel = setup_telemetry(_settings(tmp_path, **env))
        with tel.tracer().start_as_current_span("exported.span"):
            pass
        tel.shutdown(timeout_s=10)
    finally:
        collector.shutdown()
        collector.server_close()
    bodies = [body for path, body in _Collector.received if path == "/v1/traces"]
    assert bodies, _Collector.received
    request = ExportTraceServiceRequest.FromString(bodies[0])
    names = [s.name for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]
    services_ = {a.value.string_value for rs in request.resource_spans for a in rs.resource.attributes
                 if a.key == "service.name"}
    assert names == ["exported.span"]
    assert services_ == {"chorus-test"}


async def _until(predicate: object, attempts: int = 500) -> None:
    import asyncio

    assert callable(predicate)
    for _ in range(attempts):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def test_idle_background_polls_make_no_spans(db: Database, tel: Telemetry, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: every process traced its idle polls, about 3-4 database spans a second with nothing to do."""
    from personas.runtime import runs

    polls = {"runs": 0, "audit": 0}
    claim, pending = runs.claim_run, audit._has_pending
    enough = asyncio.Event()

    def counted(kind: str, fn: Any) -> Any:
        async def wrapper(*args: Any) -> Any:
            result = await fn(*args)
            polls[kind] += 1
            if min(polls.values()) >= 3:
                enough.set()
            return result
        return wrapper

    monkeypatch.setattr(runs, "claim_run", counted("runs", claim))
    monkeypatch.setattr(audit, "_has_pending", counted("audit", pending))
    await services.ensure_workspace()
    app = create_app(_settings(tmp_path, CHORUS_RUN_WORKERS_IN_PROCESS="true"), database=db, telemetry=tel)
    async with app.lifespan():
        await asyncio.wait_for(enough.wait(), 60)
        assert [s for s in tel.finished_spans() if _is_poll(s)] == []
        await db.fetch("SELECT 1 AS x FROM chorus_audit_event WHERE seq < 0 LIMIT 1")  # outside quiet(): traced
        assert len([s for s in tel.finished_spans() if _is_poll(s)]) == 1


def _is_poll(span: Any) -> bool:
    text = str(span.attributes.get("db.query.text", ""))
    return text.startswith(("SELECT id FROM personas_run WHERE (status", "SELECT 1 AS x FROM chorus_audit_event"))


def test_prometheus_scrape_endpoint_besides_otlp(tmp_path: Path) -> None:
    """OTEL_METRICS_EXPORTER=prometheus serves the process's metrics at /metrics (OpenTelemetry's Prometheus
    exporter); it turns telemetry on by itself (Settings reads it) and can be listed beside otlp."""
    import urllib.request

    env = {"OTEL_METRICS_EXPORTER": "prometheus", "OTEL_EXPORTER_PROMETHEUS_HOST": "127.0.0.1",
           "OTEL_EXPORTER_PROMETHEUS_PORT": "0"}
    assert _settings(tmp_path, OTEL_METRICS_EXPORTER="otlp,prometheus").telemetry.enabled
    tel = setup_telemetry(_settings(tmp_path, OTEL_METRICS_EXPORTER="prometheus"), environ=env)
    assert tel.enabled and tel.exporting == ("metrics:prometheus(127.0.0.1:0/metrics)",)
    assert tel.meter_provider is not None
    tel.meter_provider.get_meter("chorus").create_counter("chorus.agent.turns").add(3, {"outcome": "posted"})
    tel.serve_prometheus()  # install() does this; the test process keeps its in-memory providers installed
    try:
        port = tel.prometheus_server.server_port
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    finally:
        tel.shutdown(1.0)
    assert 'chorus_agent_turns_total{' in text and 'outcome="posted"' in text and "} 3.0" in text
    assert tel.prometheus_server is None
    with pytest.raises(ConfigError, match="OTEL_EXPORTER_PROMETHEUS_PORT"):
        setup_telemetry(_settings(tmp_path, CHORUS_TELEMETRY="true"),
                        environ={"OTEL_METRICS_EXPORTER": "prometheus", "OTEL_EXPORTER_PROMETHEUS_PORT": "x"})
