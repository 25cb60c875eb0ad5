"""A real deployment on 127.0.0.1 for the reliability tests and the load benchmark: a throwaway PostgreSQL
database, ``chorus migrate``, N ``chorus serve`` replicas on free ports sharing it and Redis, and the fault
switches (kill -9, SIGTERM, restart Redis, restart PostgreSQL) that always leave the services running.

No pytest here: ``tests/bench/load.py`` uses it as a script.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[2]
SECRET = "reliability-" + "k" * 40  # shared by the replicas (sessions and CSRF are checked on any of them)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def swap_db(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


async def _admin(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def throwaway_database(admin_url: str) -> AsyncIterator[str]:
    """A fresh PostgreSQL database on ``admin_url``'s server, dropped afterwards; yields its URL."""
    name = f"chorus_rel_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    await _admin(admin_url, f'CREATE DATABASE "{name}"')
    try:
        yield swap_db(admin_url, name)
    finally:
        await wait_postgres(admin_url)
        await _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def base_env(database_url: str, broker_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHORUS_")}
    env.update({"CHORUS_DATABASE_URL": database_url, "CHORUS_BROKER_URL": broker_url,
                "CHORUS_DATA_DIR": str(data_dir), "CHORUS_SECRET_KEY": SECRET, "CHORUS_HOST": "127.0.0.1",
                "CHORUS_RUN_WORKERS_IN_PROCESS": "false", "CHORUS_POST_RATE_PER_S": "1000",
                "CHORUS_POST_BURST": "1000", "CHORUS_WRITE_RATE_PER_S": "1000",
                "CHORUS_WRITE_BURST": "1000", "CHORUS_MAX_SOCKETS_PER_TOKEN": "0", "CHORUS_LOG_LEVEL": "WARNING",
                "CHORUS_SHUTDOWN_GRACE_S": "5",
                "CHORUS_DATABASE_POOL_MAX": "10", "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(ROOT)})
    env.update(extra)
    return env


def chorus(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the ``chorus`` CLI in its own process (what an operator runs)."""
    return subprocess.run([sys.executable, "-c", "from workspace.app import main; main()", *args], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)


def audit_verify(env: dict[str, str]) -> dict[str, Any]:
    """``chorus audit verify --json``; returns its JSON plus ``exit`` (the process's status)."""
    done = chorus(["audit", "verify", "--json"], env, timeout=300)
    try:
        out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        out = {"ok": False, "stdout": done.stdout[-2000:], "stderr": done.stderr[-2000:]}
    out["exit"] = done.returncode
    return out


@dataclass
class Replica:
    """One ``chorus serve`` process."""

    name: str
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    exits: list[int] = field(default_factory=list)
    """Exit statuses of earlier runs of this replica (kill -9: -9; SIGTERM: 0 when the drain was graceful)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self) -> None:
        log = self.log_path.open("ab")
        env = {**self.env, "CHORUS_PORT": str(self.port)}
        self.proc = subprocess.Popen([sys.executable, "-c", "from workspace.app import main; main()", "serve"],
                                     env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    async def ready(self, limit_s: float = 60.0) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + limit_s
        async with httpx.AsyncClient(base_url=self.url, timeout=2) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"replica {self.name} exited with {self.proc.returncode}: "
                                       f"{self.log_path.read_text(errors='replace')[-3000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/readyz")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"replica {self.name} was not ready within {limit_s:.0f} s")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        code = self.proc.wait(timeout=30)
        self.exits.append(code)
        return code

    def terminate(self, limit_s: float = 30.0) -> int:
        """SIGTERM (graceful drain) and wait; returns the exit status (a SIGKILL after ``limit_s`` if it hangs)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=limit_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = 1000 + self.proc.wait()
        self.exits.append(code)
        return code

    def stop(self) -> None:
        if self.alive():
            self.terminate()


@contextlib.asynccontextmanager
async def replicas(env: dict[str, str], work: Path, count: int = 2) -> AsyncIterator[list[Replica]]:
    """``count`` replicas started and ready; stopped (SIGTERM, then SIGKILL) whatever happens."""
    group = [Replica(f"web{i}", env, work / f"web{i}.log") for i in range(count)]
    try:
        for r in group:
            r.start()
        for r in group:
            await r.ready()
        yield group
    finally:
        for r in group:
            with contextlib.suppress(Exception):
                r.stop()


# --- Redis and PostgreSQL restarts (shared services: keep them short, always restore) -------------------------

def redis_up(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def _redis_addr(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 6379


def local_services_ok(redis_url: str, postgres_url: str) -> str | None:
    """Why the fault tests cannot restart these services (None when they can)."""
    host, _ = _redis_addr(redis_url)
    if host not in ("127.0.0.1", "localhost") or not shutil.which("redis-server"):
        return f"restarting Redis needs a local redis-server; {redis_url} is not one"
    if urlsplit(postgres_url).hostname not in ("127.0.0.1", "localhost") or not shutil.which("pg_ctlcluster"):
        return "restarting PostgreSQL needs a local cluster managed by pg_ctlcluster"
    return None


def stop_redis(url: str) -> None:
    host, port = _redis_addr(url)
    subprocess.run(["redis-cli", "-h", host, "-p", str(port), "shutdown", "nosave"], check=False,
                   capture_output=True, timeout=10)


def start_redis(url: str) -> None:
    host, port = _redis_addr(url)
    if not redis_up(url):
        subprocess.run(["redis-server", "--daemonize", "yes", "--bind", host, "--port", str(port), "--save", "",
                        "--appendonly", "no"], check=False, capture_output=True, timeout=10)
    for _ in range(200):
        if redis_up(url):
            return
        time.sleep(0.05)
    raise RuntimeError(f"Redis at {url} did not come back")


def restart_redis(url: str) -> float:
    """Stop Redis (no save) and start it again at once; returns how long it was down, in seconds."""
    began = time.monotonic()
    try:
        stop_redis(url)
        for _ in range(100):
            if not redis_up(url):
                break
            time.sleep(0.05)
    finally:
        start_redis(url)
    return time.monotonic() - began


def _pg_version() -> str:
    return sorted(os.listdir("/etc/postgresql"))[-1]


async def postgres_up(url: str) -> bool:
    import asyncpg

    try:
        conn = await asyncpg.connect(url, timeout=2)
    except Exception:
        return False
    await conn.close()
    return True


async def wait_postgres(url: str, limit_s: float = 60.0) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if await postgres_up(url):
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"PostgreSQL at {url} did not come back within {limit_s:.0f} s")


async def restart_postgres(url: str) -> float:
    """``pg_ctlcluster ... restart`` (fast shutdown: open connections are cut); waits until it accepts again and
    makes sure it is started even when the restart command failed. Returns the seconds it took."""
    began = time.monotonic()
    cmd = ["pg_ctlcluster", "--skip-systemctl-redirect", _pg_version(), "main"]
    try:
        await asyncio.to_thread(subprocess.run, [*cmd, "restart"], check=False, capture_output=True, timeout=120)
    finally:
        if not await postgres_up(url):
            await asyncio.to_thread(subprocess.run, [*cmd, "start"], check=False, capture_output=True, timeout=120)
        await wait_postgres(url)
    return time.monotonic() - began
