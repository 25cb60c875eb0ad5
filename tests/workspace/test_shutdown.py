"""Graceful shutdown of real processes: ``chorus serve`` and ``chorus worker`` get SIGTERM (as Kubernetes sends it)
and must stop accepting, close WebSockets with 1012 (service restart), finish requests in flight, run their
shutdown hooks and exit with status 0 within CHORUS_SHUTDOWN_GRACE_S (plus a margin for the interpreter)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

GRACE_S = 5.0
EXIT_MARGIN_S = 10.0  # interpreter teardown on a shared 2-core machine; the grace itself is the contract
START_TIMEOUT_S = 120.0  # start-up only (imports, migrations); never part of an assertion about speed

MAIN = "import sys; from workspace.app import main; main(sys.argv[1:])"

# A real `serve_app` run with two extra routes: a slow request (to be in flight during shutdown) and a WebSocket.
SERVE_WITH_PROBES = """
import asyncio, gc, sys
from pathlib import Path
from typing import Any
from litestar import WebSocket, get, websocket
from workspace import cli as core_cli
from workspace.app import create_app
from workspace.settings import Settings

@get("/_test/slow", opt={"public": True})
async def slow() -> dict[str, bool]:
    print("slow request started", file=sys.stderr, flush=True)
    await asyncio.sleep(2)
    return {"done": True}

@get("/_test/gc", opt={"public": True})
async def gc_state() -> dict[str, int]:
    return {"frozen": gc.get_freeze_count(), "tracked": len(gc.get_objects())}

@websocket("/_test/ws", opt={"public": True})
async def ws(socket: WebSocket[Any, Any, Any]) -> None:
    await socket.accept()
    await socket.send_text("hello")
    while True:
        await socket.receive_text()

def factory(settings: Settings, **kwargs: Any) -> Any:
    app = create_app(settings, **kwargs)
    app.register(slow)
    app.register(ws)
    app.register(gc_state)
    async def mark() -> None:
        Path(sys.argv[1]).write_text("shutdown hook ran")
    app.on_shutdown.append(mark)
    return app

settings = Settings.from_env()
core_cli.configure(settings, factory)
core_cli.serve_app(settings)
"""


class Process:
    """A child process whose output is collected line by line (so the test can wait for a log line)."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([sys.executable, *args], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line.rstrip())
                self._changed.notify_all()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, text: str, timeout: float = START_TIMEOUT_S) -> None:
        with self._changed:
            ok = self._changed.wait_for(lambda: any(text in line for line in self.lines) or self.proc.poll()
                                        is not None, timeout)
        if not ok or not any(text in line for line in self.lines):
            raise AssertionError(f"never printed {text!r}; output so far:\n{self.output}")

    def signal_and_wait(self, sig: int, timeout: float) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(
                f"still running {timeout:.0f} s after {signal.Signals(sig).name}:\n{self.output}") from None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._reader.join()
        assert self.proc.stdout is not None
        self.proc.stdout.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("CHORUS_", "OTEL_"))}
    environ.update({"CHORUS_DATA_DIR": str(tmp_path / "data"), "CHORUS_PORT": str(_free_port()),
                    "CHORUS_SHUTDOWN_GRACE_S": str(GRACE_S), "CHORUS_LOG_LEVEL": "INFO",
                    "CHORUS_RUN_WORKERS_IN_PROCESS": "false", "PYTHONUNBUFFERED": "1"})
    return environ


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for p in started:
        p.close()


async def _wait_ready(url: str, proc: Process) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        for _ in range(int(START_TIMEOUT_S * 10)):
            if proc.proc.poll() is not None:
                raise AssertionError(f"the server exited during start-up:\n{proc.output}")
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never became ready:\n{proc.output}")


async def _refuses_connections(base: str, proc: Process) -> bool:
    """True once a new connection is refused; False if the process exited before we could tell."""
    async with httpx.AsyncClient(timeout=2) as client:
        while proc.proc.poll() is None:
            try:
                await client.get(f"{base}/readyz")
            except httpx.ConnectError:
                return True
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.02)
    return False


async def test_chorus_serve_exits_0_on_sigterm_and_stops_being_ready(env: dict[str, str],
                                                                     processes: list[Process]) -> None:
    base = f"http://127.0.0.1:{env['CHORUS_PORT']}"
    proc = Process(["-c", MAIN, "serve", "--migrate"], env)
    processes.append(proc)
    await _wait_ready(f"{base}/readyz", proc)
    # /ws needs an agent token (channels); without one a kept-alive HTTP connection stands in for a client.
    async with httpx.AsyncClient(base_url=base, timeout=5) as kept:
        assert (await kept.get("/healthz")).status_code == 200
        status = await asyncio.to_thread(proc.signal_and_wait, signal.SIGTERM, GRACE_S + EXIT_MARGIN_S)
        assert status == 0, proc.output
        with pytest.raises(httpx.ConnectError):
            await kept.get("/readyz")
    assert "Application shutdown complete" in proc.output


async def test_sigterm_drains_requests_closes_websockets_with_1012_and_runs_hooks(
        env: dict[str, str], processes: list[Process], tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{env['CHORUS_PORT']}"
    marker = tmp_path / "shutdown-marker"
    proc = Process(["-c", SERVE_WITH_PROBES, str(marker)], env)
    processes.append(proc)
    await _wait_ready(f"{base}/healthz", proc)
    async with websockets.connect(f"ws://127.0.0.1:{env['CHORUS_PORT']}/_test/ws", compression=None) as ws, \
            httpx.AsyncClient(base_url=base, timeout=30) as client:
        assert await ws.recv() == "hello"
        slow = asyncio.create_task(client.get("/_test/slow"))
        await asyncio.to_thread(proc.wait_for_line, "slow request started")
        proc.proc.send_signal(signal.SIGTERM)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), GRACE_S + EXIT_MARGIN_S)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012  # service restart: resume later
        assert await _refuses_connections(base, proc), "the server kept accepting after SIGTERM"
        response = await slow
    assert response.status_code == 200 and response.json() == {"done": True}, "the request in flight was cut"
    status = await asyncio.to_thread(proc.proc.wait, GRACE_S + EXIT_MARGIN_S)
    assert status == 0, proc.output
    assert marker.read_text() == "shutdown hook ran"


async def test_serve_freezes_its_start_up_heap_out_of_the_collector(env: dict[str, str], processes: list[Process],
                                                                   tmp_path: Path) -> None:
    # A full collection walks every tracked object holding the GIL; start-up objects frozen, it walks only what
    # the connections made (tests/bench/fanout.py: a ~100 ms pause in the paced window before, ~12 ms after).
    base = f"http://127.0.0.1:{env['CHORUS_PORT']}"
    proc = Process(["-c", SERVE_WITH_PROBES, str(tmp_path / "marker")], env)
    processes.append(proc)
    await _wait_ready(f"{base}/healthz", proc)
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        state = (await client.get("/_test/gc")).json()
    assert state["frozen"] > 50_000, state
    assert state["tracked"] < state["frozen"] / 5, state


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_chorus_worker_exits_0_on_signal(env: dict[str, str], processes: list[Process], sig: int) -> None:
    proc = Process(["-c", MAIN, "worker", "--migrate"], env)
    processes.append(proc)
    proc.wait_for_line("worker: running")
    assert proc.signal_and_wait(sig, GRACE_S + EXIT_MARGIN_S) == 0, proc.output
    assert f"{signal.Signals(sig).name} received" in proc.output
