"""OpenTelemetry: providers and exporters (:func:`setup_telemetry`) and the span helpers the agent runtime and mining
call (:func:`turn_span`, :func:`llm_span`, :func:`mining_span`). HTTP/WebSocket spans: :mod:`workspace.telemetry_http`;
database spans: :mod:`workspace.telemetry_db`.

Export is configured only by the standard ``OTEL_*`` variables and is off unless they ask for it: OTLP/HTTP, and
for scrapers a Prometheus endpoint (``OTEL_METRICS_EXPORTER=prometheus``: OpenTelemetry's Prometheus exporter on
``OTEL_EXPORTER_PROMETHEUS_HOST``:``OTEL_EXPORTER_PROMETHEUS_PORT``, path ``/metrics``). Metric instruments live in
``workspace.metrics``. Nothing here touches global state at import time.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from typing import Any

from opentelemetry import metrics as otel_metrics
from opentelemetry import trace
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, UpDownCounter
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    InMemoryMetricReader,
    MetricReader,
    NumberDataPoint,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Span, SpanKind, Tracer

from workspace import metrics
from workspace.errors import ConfigError
from workspace.settings import Settings

log = logging.getLogger("chorus.telemetry")
TRACER_NAME = "chorus"
_installed: Telemetry | None = None
_in_memory: Telemetry | None = None


@dataclass(frozen=True, slots=True)
class MetricPoint:
    name: str
    attributes: dict[str, Any]
    value: float
    """The sum for counters, the current delta for up-down counters, the sum of recorded values for histograms."""
    count: int = 0
    """Histograms: how many values were recorded."""


@dataclass
class Telemetry:
    """The process's providers. ``enabled`` False means every instrument and span is a no-op."""

    enabled: bool
    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None
    span_exporter: SpanExporter | None = None
    metric_reader: MetricReader | None = None
    exporting: tuple[str, ...] = ()
    """What leaves the process, e.g. ``("traces:otlp", "metrics:otlp")``; empty when nothing is exported."""
    prometheus: tuple[str, int] | None = None
    """(host, port) of the Prometheus scrape endpoint this process serves once installed; None: no endpoint."""
    prometheus_registry: Any = None
    prometheus_server: Any = None
    """The running scrape server (``prometheus_client``'s, a daemon thread); its ``server_port`` is the bound port."""
    _points: list[MetricPoint] = field(default_factory=list)

    def tracer(self, name: str = TRACER_NAME) -> Tracer:
        return (self.tracer_provider or trace.NoOpTracerProvider()).get_tracer(name)

    def install(self) -> bool:
        """Make these the process's global providers (once per process; OpenTelemetry refuses a second)."""
        global _installed
        if not self.enabled or self.tracer_provider is None or self.meter_provider is None:
            return False
        if _installed is self:
            return True
        if _installed is not None or not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
            log.warning("OpenTelemetry providers are already installed in this process; keeping the first ones")
            return False
        trace.set_tracer_provider(self.tracer_provider)
        otel_metrics.set_meter_provider(self.meter_provider)
        _installed = self
        self.serve_prometheus()
        return True

    def serve_prometheus(self) -> None:
        """Start the Prometheus scrape endpoint (``/metrics``) when one is configured; idempotent."""
        if self.prometheus is None or self.prometheus_server is not None:
            return
        from prometheus_client import start_http_server

        host, port = self.prometheus
        try:
            self.prometheus_server, _ = start_http_server(port, addr=host, registry=self.prometheus_registry)
        except OSError as exc:
            raise ConfigError(f"cannot serve Prometheus metrics on {host}:{port} ({exc}); set "
                              "OTEL_EXPORTER_PROMETHEUS_PORT to a free port (each process needs its own)") from exc
        log.info("telemetry: Prometheus metrics on http://%s:%s/metrics", host, self.prometheus_server.server_port)

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Flush and stop the exporters, giving up after ``timeout_s`` (a dead collector must not block exit)."""
        if not self.enabled:
            return

        if self.prometheus_server is not None:
            self.prometheus_server.shutdown()
            self.prometheus_server.server_close()
            self.prometheus_server = None

        def stop() -> None:
            if self.tracer_provider is not None:
                self.tracer_provider.force_flush(int(timeout_s * 1000))
                self.tracer_provider.shutdown()
            if self.meter_provider is not None:
                self.meter_provider.shutdown(timeout_millis=timeout_s * 1000)

        # A daemon thread: the SDK's shutdown calls are blocking and an unreachable collector must not hold the exit.
        thread = threading.Thread(target=stop, name="otel-shutdown", daemon=True)
        thread.start()
        thread.join(timeout_s)
        if thread.is_alive():
            log.warning("telemetry exporters did not flush within %.1f s; exiting without them", timeout_s)

    # In-memory inspection, for tests (needs an InMemorySpanExporter / InMemoryMetricReader).

    def finished_spans(self) -> list[ReadableSpan]:
        if not isinstance(self.span_exporter, InMemorySpanExporter):
            raise TypeError("finished_spans() needs setup_telemetry(..., span_exporter=InMemorySpanExporter())")
        return list(self.span_exporter.get_finished_spans())

    def metric_points(self, name: str) -> list[MetricPoint]:
        """Every point of metric ``name`` recorded since :meth:`reset` (the reader must use delta temporality)."""
        self._collect()
        return [p for p in self._points if p.name == name]

    def reset(self) -> None:
        """Forget the spans and metric points recorded so far."""
        if isinstance(self.span_exporter, InMemorySpanExporter):
            self.span_exporter.clear()
        self._collect()
        self._points.clear()

    def _collect(self) -> None:
        if not isinstance(self.metric_reader, InMemoryMetricReader):
            raise TypeError("metric_points() needs setup_telemetry(..., metric_reader=InMemoryMetricReader(...))")
        data = self.metric_reader.get_metrics_data()
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    for p in metric.data.data_points:
                        attributes = dict(p.attributes or {})
                        if isinstance(p, NumberDataPoint):
                            self._points.append(MetricPoint(metric.name, attributes, p.value))
                        else:
                            self._points.append(MetricPoint(metric.name, attributes, p.sum, p.count))


def setup_telemetry(settings: Settings, *, role: str = "web", span_exporter: SpanExporter | None = None,
                    metric_reader: MetricReader | None = None,
                    environ: Mapping[str, str] | None = None) -> Telemetry:
    """Build (but do not install) the tracer and meter providers.

    On when ``settings.telemetry.enabled`` or when an exporter/reader is passed in (tests). The OTLP/HTTP exporters
    are added only when the ``OTEL_*`` variables ask for them (``OTEL_EXPORTER_OTLP_ENDPOINT``, a per-signal
    endpoint, or ``OTEL_TRACES_EXPORTER``/``OTEL_METRICS_EXPORTER=otlp``); the Prometheus endpoint when
    ``OTEL_METRICS_EXPORTER`` lists ``prometheus`` (served from :meth:`Telemetry.install`); ``OTEL_SDK_DISABLED=true``
    turns it off.
    """
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return Telemetry(enabled=False)
    if not (settings.telemetry.enabled or span_exporter is not None or metric_reader is not None):
        return Telemetry(enabled=False)
    protocol = env.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf").strip() or "http/protobuf"
    if protocol != "http/protobuf":
        raise ConfigError(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported: Chorus ships the OTLP/HTTP "
                          "exporter; set http/protobuf and point OTEL_EXPORTER_OTLP_ENDPOINT at the collector's HTTP "
                          "port (usually 4318)")
    resource = Resource.create({SERVICE_NAME: settings.telemetry.service_name, SERVICE_VERSION: _version(),
                                "chorus.process.role": role})
    exporting: list[str] = []
    tracer_provider = TracerProvider(resource=resource)
    if span_exporter is not None:
        tracer_provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    if _otlp_wanted(env, "traces"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        exporting.append("traces:otlp")
    readers: list[MetricReader] = [metric_reader] if metric_reader is not None else []
    if _otlp_wanted(env, "metrics"):
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
        exporting.append("metrics:otlp")
    prometheus = _prometheus_wanted(env)
    registry: Any = None
    if prometheus is not None:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import CollectorRegistry

        registry = CollectorRegistry()  # this process's own: nothing else lands on the endpoint
        readers.append(PrometheusMetricReader(registry=registry))
        exporting.append(f"metrics:prometheus({prometheus[0]}:{prometheus[1]}/metrics)")
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    return Telemetry(enabled=True, tracer_provider=tracer_provider, meter_provider=meter_provider,
                     span_exporter=span_exporter, metric_reader=metric_reader, exporting=tuple(exporting),
                     prometheus=prometheus, prometheus_registry=registry)


def in_memory_telemetry() -> Telemetry:
    """The process-wide in-memory telemetry for tests: installed once, ``reset()`` between tests.

    OpenTelemetry allows one global provider per process, so every test shares this one.
    """
    global _in_memory
    if _in_memory is None:
        delta = AggregationTemporality.DELTA
        reader = InMemoryMetricReader(preferred_temporality={Counter: delta, UpDownCounter: delta, Histogram: delta})
        conf = Settings.from_env({"CHORUS_DATA_DIR": "/nonexistent", "CHORUS_TELEMETRY": "true"})
        _in_memory = setup_telemetry(conf, span_exporter=InMemorySpanExporter(), metric_reader=reader, environ={})
        if not _in_memory.install():
            raise RuntimeError("in_memory_telemetry(): another OpenTelemetry provider was installed first")
    return _in_memory


def _otlp_wanted(env: Mapping[str, str], signal: str) -> bool:
    chosen = {n.strip().lower() for n in env.get(f"OTEL_{signal.upper()}_EXPORTER", "").split(",") if n.strip()}
    if "none" in chosen:
        return False
    if "otlp" in chosen:
        return True
    return bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT"))


def _prometheus_wanted(env: Mapping[str, str]) -> tuple[str, int] | None:
    """(host, port) when ``OTEL_METRICS_EXPORTER`` lists ``prometheus`` (OpenTelemetry's variables and defaults)."""
    chosen = {n.strip().lower() for n in env.get("OTEL_METRICS_EXPORTER", "").split(",") if n.strip()}
    if "prometheus" not in chosen:
        return None
    raw = env.get("OTEL_EXPORTER_PROMETHEUS_PORT", "9464").strip() or "9464"
    try:
        port = int(raw)
    except ValueError:
        raise ConfigError(f"OTEL_EXPORTER_PROMETHEUS_PORT must be a port number; got {raw!r}") from None
    return env.get("OTEL_EXPORTER_PROMETHEUS_HOST", "localhost").strip() or "localhost", port


def _version() -> str:
    try:
        return metadata.version("chorus")
    except metadata.PackageNotFoundError:
        return "0"


# Span helpers for the agent runtime and mining. They use the global tracer (a proxy until a provider is
# installed) so callers need no Telemetry object; they also record the matching metrics in workspace.metrics.

@cache
def _tracer() -> Tracer:
    return trace.get_tracer(TRACER_NAME)


@dataclass
class Turn:
    """What an agent turn reports into its span; set ``outcome`` before the block ends."""

    span: Span
    outcome: str = "completed"
    """``posted`` | ``silent`` | ``blocked`` | ``budget`` | ``error`` (set automatically on an exception)."""

    def documents(self, ids: Sequence[int]) -> None:
        """The documents retrieved for this turn (their reads are audited separately)."""
        self.span.set_attribute("chorus.turn.documents", list(ids))
        self.span.set_attribute("chorus.turn.document_count", len(ids))


@contextmanager
def turn_span(*, agent: str, department: str, channel_id: int | None = None,
              run_id: int | None = None) -> Iterator[Turn]:
    """One agent turn: a span ``agent.turn`` and, when it ends, one ``chorus.agent.turns`` count by outcome."""
    attributes: dict[str, Any] = {"chorus.agent.handle": agent, "chorus.department": department}
    if channel_id is not None:
        attributes["chorus.channel.id"] = channel_id
    if run_id is not None:
        attributes["chorus.run.id"] = run_id
    with _tracer().start_as_current_span("agent.turn", attributes=attributes) as span:
        turn = Turn(span)
        try:
            yield turn
        except BaseException:
            turn.outcome = "error"
            raise
        finally:
            span.set_attribute("chorus.turn.outcome", turn.outcome)
            metrics.agent_turn(outcome=turn.outcome, department=department)


@dataclass
class LLMCall:
    """What an LLM call reports into its span; call :meth:`usage` once the provider answered."""

    span: Span
    model: str
    department: str

    def usage(self, *, input_tokens: int, output_tokens: int, cost_usd: float = 0.0,
              response_model: str | None = None) -> None:
        """Tokens and cost: span attributes plus the ``chorus.llm.tokens``/``chorus.llm.cost_usd`` counters."""
        self.span.set_attribute("gen_ai.usage.input_tokens", input_tokens)
        self.span.set_attribute("gen_ai.usage.output_tokens", output_tokens)
        self.span.set_attribute("chorus.llm.cost_usd", cost_usd)
        if response_model:
            self.span.set_attribute("gen_ai.response.model", response_model)
        metrics.llm_usage(model=self.model, department=self.department, input_tokens=input_tokens,
                          output_tokens=output_tokens, cost_usd=cost_usd)


@contextmanager
def llm_span(*, model: str, provider: str, department: str = "", operation: str = "chat") -> Iterator[LLMCall]:
    """One LLM call: a client span ``"chat <model>"`` (GenAI conventions) with tokens and latency."""
    attributes = {"gen_ai.operation.name": operation, "gen_ai.provider.name": provider, "gen_ai.system": provider,
                  "gen_ai.request.model": model, "chorus.department": department}
    started = time.perf_counter()
    with _tracer().start_as_current_span(f"{operation} {model}", kind=SpanKind.CLIENT, attributes=attributes) as span:
        outcome = "ok"
        try:
            yield LLMCall(span, model, department)
        except BaseException:
            outcome = "error"
            raise
        finally:
            ms = (time.perf_counter() - started) * 1000
            span.set_attribute("chorus.llm.latency_ms", round(ms, 3))
            metrics.llm_duration(ms, model=model, outcome=outcome)


@dataclass
class MiningRun:
    span: Span

    def counts(self, **counts: int) -> None:
        """E.g. ``run.counts(messages=420, signals=37, insights=5)`` -> ``chorus.mining.messages`` etc."""
        for key, value in counts.items():
            self.span.set_attribute(f"chorus.mining.{key}", value)


@contextmanager
def mining_span(*, workspace_id: int, kind: str = "incremental") -> Iterator[MiningRun]:
    """One mining pass: a span ``mining.run`` carrying how much it read and produced."""
    attributes: dict[str, Any] = {"chorus.workspace.id": workspace_id, "chorus.mining.kind": kind}
    with _tracer().start_as_current_span("mining.run", attributes=attributes) as span:
        yield MiningRun(span)


@contextmanager
def quiet() -> Iterator[None]:
    """No spans for what runs inside: the idle polls of background loops (claiming runs, the run heartbeat, the
    audit sealer's check) run every second or two and would fill traces with identical empty queries. It sets
    OpenTelemetry's own suppression flag, which the database spans (and any instrumentation) honour."""
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    with suppress_instrumentation():
        yield
