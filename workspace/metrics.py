"""The one registry of Chorus's OpenTelemetry metrics: every instrument, its unit and its attribute names.

Domains record through the functions here (never ``create_counter`` of their own), so names and attributes stay
consistent. Instruments come from ``opentelemetry.metrics.get_meter("chorus")``: no-ops until a MeterProvider is
installed (``workspace.telemetry``), and bound to it as soon as one is, even if created before.
"""

from __future__ import annotations

from functools import cache

from opentelemetry import metrics
from opentelemetry.metrics import Counter, Histogram, Meter, UpDownCounter

METER_NAME = "chorus"

# Metric names (the names exporters and dashboards see).
WS_CONNECTIONS = "chorus.ws.connections"
WS_DELIVERIES = "chorus.ws.deliveries"
POST_DURATION = "chorus.post.duration"
AGENT_TURNS = "chorus.agent.turns"
LLM_TOKENS = "chorus.llm.tokens"
LLM_COST = "chorus.llm.cost_usd"
LLM_DURATION = "chorus.llm.duration"
POSTS_BLOCKED = "chorus.posts.blocked"
AUDIT_EVENTS = "chorus.audit.events"

# Attribute keys. Values must come from small fixed sets (never ids, handles or raw paths: one time series each).
ATTR_MEMBER_KIND = "member.kind"  # "agent" | "human"
ATTR_OUTCOME = "outcome"  # turns: "posted" | "silent" | "blocked" | "budget" | "error"; posts: "ok" | "error"
ATTR_DEPARTMENT = "department"  # a persona's department from the org chart ("" when unknown)
ATTR_DIRECTION = "direction"  # "input" | "output"
ATTR_MODEL = "model"  # the LLM model name as configured
ATTR_REASON = "reason"  # blocked posts: "leak_guard" | "rate_limited" | "too_large" | "forbidden" | "invalid"
ATTR_ACTION = "action"  # audit action, e.g. "channel.created"
ATTR_PATH = "path"  # WebSocket deliveries: "direct" (written by the channel's relay) | "queued" (by the feed's task)


@cache
def meter() -> Meter:
    """The Chorus meter (a proxy until a provider is installed; cached so instruments are created once)."""
    return metrics.get_meter(METER_NAME)


@cache
def _ws_connections() -> UpDownCounter:
    return meter().create_up_down_counter(WS_CONNECTIONS, unit="{connection}",
                                          description="Open WebSocket connections, by member.kind")


@cache
def _ws_deliveries() -> Counter:
    return meter().create_counter(WS_DELIVERIES, unit="{message}",
                                  description="Events delivered to WebSocket clients (its rate is deliveries/s)")


@cache
def _post_duration() -> Histogram:
    return meter().create_histogram(POST_DURATION, unit="ms",
                                    description="post_message latency from call to commit, by member.kind, outcome")


@cache
def _agent_turns() -> Counter:
    return meter().create_counter(AGENT_TURNS, unit="{turn}", description="Agent turns, by outcome, department")


@cache
def _llm_tokens() -> Counter:
    return meter().create_counter(LLM_TOKENS, unit="{token}",
                                  description="LLM tokens, by direction (input/output), department, model")


@cache
def _llm_cost() -> Counter:
    return meter().create_counter(LLM_COST, unit="USD", description="LLM spend in US dollars, by department")


@cache
def _llm_duration() -> Histogram:
    return meter().create_histogram(LLM_DURATION, unit="ms", description="LLM call latency, by model, outcome")


@cache
def _posts_blocked() -> Counter:
    return meter().create_counter(POSTS_BLOCKED, unit="{post}", description="Posts refused, by reason")


@cache
def _audit_events() -> Counter:
    return meter().create_counter(AUDIT_EVENTS, unit="{event}", description="Audit events recorded, by action")


def ws_connection_opened(member_kind: str) -> None:
    """A WebSocket was accepted (call :func:`ws_connection_closed` with the same kind when it ends)."""
    _ws_connections().add(1, {ATTR_MEMBER_KIND: member_kind})


def ws_connection_closed(member_kind: str) -> None:
    _ws_connections().add(-1, {ATTR_MEMBER_KIND: member_kind})


def ws_delivered(count: int = 1, path: str = "direct") -> None:
    """``count`` events were written to sockets (batch the calls: one per fan-out, not one per socket)."""
    _ws_deliveries().add(count, {ATTR_PATH: path})


def post_duration(ms: float, *, member_kind: str, outcome: str = "ok") -> None:
    _post_duration().record(ms, {ATTR_MEMBER_KIND: member_kind, ATTR_OUTCOME: outcome})


def agent_turn(*, outcome: str, department: str) -> None:
    """One agent turn ended (``workspace.telemetry.turn_span`` calls this; don't call it again for that turn)."""
    _agent_turns().add(1, {ATTR_OUTCOME: outcome, ATTR_DEPARTMENT: department})


def llm_usage(*, model: str, department: str, input_tokens: int, output_tokens: int, cost_usd: float = 0.0) -> None:
    """Tokens and spend of one LLM call (``workspace.telemetry.llm_span`` calls this from ``LLMCall.usage``)."""
    if input_tokens:
        _llm_tokens().add(input_tokens, {ATTR_DIRECTION: "input", ATTR_DEPARTMENT: department, ATTR_MODEL: model})
    if output_tokens:
        _llm_tokens().add(output_tokens, {ATTR_DIRECTION: "output", ATTR_DEPARTMENT: department, ATTR_MODEL: model})
    if cost_usd:
        _llm_cost().add(cost_usd, {ATTR_DEPARTMENT: department})


def llm_duration(ms: float, *, model: str, outcome: str) -> None:
    _llm_duration().record(ms, {ATTR_MODEL: model, ATTR_OUTCOME: outcome})


def post_blocked(*, reason: str) -> None:
    _posts_blocked().add(1, {ATTR_REASON: reason})


def audit_event(*, action: str) -> None:
    _audit_events().add(1, {ATTR_ACTION: action})
