"""HTTP and WebSocket telemetry: Litestar's OpenTelemetry plugin bound to the process's providers, and the middleware
that names each server span (and its duration metric) after the matched route template, never the raw path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace

from workspace.logscrub import scrub
from workspace.telemetry import Telemetry

URL_ATTRIBUTES = ("http.url", "http.target", "url.full", "url.query")
"""Span attributes that may hold a query string (old and new HTTP semantic conventions)."""


def http_plugins(telemetry: Telemetry) -> list[Any]:
    """Litestar's OpenTelemetry plugin bound to ``telemetry``'s providers ([] when telemetry is off)."""
    if not telemetry.enabled:
        return []
    from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin

    config = OpenTelemetryConfig(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider,
                                 scope_span_details_extractor=_unrouted_span_details,
                                 server_request_hook_handler=scrub_span_urls, exclude_spans=["receive", "send"])
    return [OpenTelemetryPlugin(config)]


def scrub_span_urls(span: Any, scope: Any) -> None:
    """Mask credentials (a WebSocket's ``?token=``) in the URL attributes the ASGI instrumentation recorded when
    it started the server span: spans are exported, and an exporter is no place for a token."""
    attributes = getattr(span, "attributes", None) or {}
    for key in URL_ATTRIBUTES:
        value = attributes.get(key)
        if isinstance(value, str):
            clean = scrub(value)
            if clean != value:
                span.set_attribute(key, clean)


def http_middleware(telemetry: Telemetry) -> list[Any]:
    """The after-routing middleware that renames server spans to the route template ([] when telemetry is off)."""
    return [route_span_namer] if telemetry.enabled else []


def _unrouted_span_details(scope: Any) -> tuple[str, dict[str, Any]]:
    # Before routing only the method is known; the raw path would make one span name (and one metric series) per
    # channel id, so route_span_namer fills in the template once the router has matched.
    return (str(scope.get("method") or "WS"), {})


@dataclass(frozen=True, slots=True)
class _Route:
    path_format: str  # read by the ASGI instrumentation for its duration metric's http.target


def route_span_namer(app: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """ASGI middleware (runs after routing): name the current server span ``"GET /api/x/{id:int}"``."""

    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        span = trace.get_current_span()
        if span.is_recording():
            template = _route_template(scope)
            if template:
                is_ws = scope.get("type") == "websocket"
                span.update_name(f"WS {template}" if is_ws else f"{scope.get('method', 'GET')} {template}")
                span.set_attribute("http.route", template)
                scope["route"] = _Route(template)
        await app(scope, receive, send)

    return middleware


def _route_template(scope: Any) -> str | None:
    """The matched route's path with its parameter types (``/api/channels/{channel_id:int}``)."""
    path_format = scope.get("path_template")
    if not isinstance(path_format, str):
        return None
    app = scope.get("app")
    typed = _typed_paths(app) if app is not None else {}
    return typed.get(path_format, path_format)


def _typed_paths(app: Any) -> dict[str, str]:
    # Kept in the app's state (Litestar objects have __slots__ and no weak references); built on first use.
    state = app.state
    typed: dict[str, str] | None = state.get("chorus.typed_routes")
    if typed is None:
        typed = state["chorus.typed_routes"] = {route.path_format: route.path for route in app.routes}
    return typed
