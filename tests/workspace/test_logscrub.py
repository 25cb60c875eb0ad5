"""Secrets never reach logs or traces: credentials in query strings (a WebSocket's ``?token=``), in Authorization
headers and agent tokens anywhere are masked in every log record of the process (uvicorn's access log included)
and in the HTTP server spans' attributes."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import websockets
from litestar import get
from opentelemetry.trace import SpanKind

from tests.support import LiveServer, live_server
from workspace.app import create_app
from workspace.db import Database
from workspace.logscrub import REDACTED, scrub
from workspace.settings import Settings
from workspace.telemetry import Telemetry, in_memory_telemetry

SECRET = "chorus_at_" + "S3cr3tS3cr3tS3cr3t"
OTHER = "hunter2-not-a-chorus-token"


@get("/_test/echo", opt={"public": True}, sync_to_thread=False)
def echo() -> dict[str, str]:
    return {"ok": "yes"}


@pytest.mark.parametrize("text", [
    f'127.0.0.1:5 - "WebSocket /ws?token={SECRET}" [accepted]',
    f'"GET /api/x?a=1&token={OTHER}&b=2 HTTP/1.1" 200',
    f"GET /auth/callback?code={OTHER}&state=abc",
    f"Authorization: Bearer {OTHER}",
    f"headers={{'authorization': 'Bearer {OTHER}'}}",
    f"refused {SECRET[:20]}",
    f"client_secret={OTHER} api_key={OTHER}",
])
def test_scrub_masks_every_credential(text: str) -> None:
    out = scrub(text)
    assert OTHER not in out and SECRET not in out and SECRET[:20] not in out, out
    assert REDACTED in out


def test_scrub_leaves_ordinary_text_alone() -> None:
    for text in ("GET /api/channels?limit=50&after=3 HTTP/1.1", "monkey=business", "the token bucket is empty"):
        assert scrub(text) == text


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextlib.contextmanager
def captured(*names: str) -> Iterator[list[str]]:
    handler = Lines()
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
    try:
        yield handler.lines
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)


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
    app.register(echo)
    async with live_server(app) as srv:
        yield srv


async def _hit(server: LiveServer) -> None:
    async with server.client() as client:
        assert (await client.get(f"/_test/echo?token={OTHER}&x=1",
                                 headers={"authorization": f"Bearer {OTHER}"})).status_code == 200
        await client.get(f"/api/channels?token={SECRET}", headers={"authorization": f"Bearer {SECRET}"})
    with contextlib.suppress(Exception):
        async with websockets.connect(f"{server.ws_url}/ws?token={SECRET}", compression=None) as ws:
            await ws.recv()


async def test_access_log_and_app_logs_never_hold_a_token(server: LiveServer) -> None:
    with captured("uvicorn.access", "uvicorn.error", "chorus") as lines:
        await _hit(server)
        logging.getLogger("chorus.test").warning("upstream said %s for %s", f"token={OTHER}", f"Bearer {SECRET}")
        try:
            raise RuntimeError(f"GET https://llm.example/v1?api_key={OTHER} failed")
        except RuntimeError:
            logging.getLogger("chorus.test").exception("provider call failed")
    text = "\n".join(lines)
    assert "/_test/echo?token=" in text, f"the access log did not record the request at all:\n{text}"
    assert "/ws?token=" in text, f"the WebSocket handshake was not logged:\n{text}"
    assert OTHER not in text and SECRET not in text, f"a credential reached the log:\n{text}"


async def test_server_spans_hold_no_token(server: LiveServer, tel: Telemetry) -> None:
    await _hit(server)
    spans = [s for s in tel.finished_spans() if s.kind == SpanKind.SERVER]
    assert spans
    seen = [f"{k}={v!s}" for s in spans for k, v in (s.attributes or {}).items()]
    assert any("token=" in a for a in seen), f"no span recorded the query string at all: {seen}"
    leaked = [a for a in seen if OTHER in a or SECRET in a]
    assert not leaked, f"span attributes hold a credential: {leaked}"
    points = [f"{k}={v!s}" for p in tel.metric_points("http.server.duration") for k, v in p.attributes.items()]
    assert points and not [a for a in points if OTHER in a or SECRET in a], points
