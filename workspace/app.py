"""The composition root: ``create_app(settings)`` wires every domain into one Litestar app; ``run_worker`` runs
their background jobs without HTTP (``chorus worker``); ``main`` is the CLI.

This is the only module allowed to import every domain package.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

import click
from litestar import Litestar
from litestar.config.compression import CompressionConfig
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

import channels.domain
import insights.domain
import personas.domain
import sso.domain
from workspace import audit, logscrub, pages
from workspace import cli as core_cli
from workspace.db import Database
from workspace.domain import DomainParts
from workspace.errors import ChorusError
from workspace.settings import Settings
from workspace.telemetry import Telemetry, setup_telemetry
from workspace.telemetry_db import instrument_database, uninstrument_database
from workspace.telemetry_http import http_middleware, http_plugins
from workspace.web import EXCEPTION_HANDLERS, document_problem_responses, healthz, proxy_middleware, readyz
from workspace.web_headers import DocsPageHashes, add_security_headers

log = logging.getLogger("chorus")
VERSION = "0.1.0"


def domain_parts(settings: Settings) -> list[DomainParts]:
    """Every domain's contribution, lowest layer first."""
    return [pages.parts(settings), sso.domain.parts(settings), channels.domain.parts(settings),
            personas.domain.parts(settings), insights.domain.parts(settings)]


RESTART_FIRST_S = 1.0
"""The pause before a failed background job is restarted (web process); it doubles with each failure in a row."""
RESTART_MAX_S = 60.0
STEADY_S = 300.0
"""A job that ran this long before failing starts its backoff afresh."""


class BackgroundJobs:
    """Runs the domains' long-running loops as tasks and stops them on shutdown.

    No job's end goes unnoticed: a job that fails is logged with its traceback and then, in the web process
    (``restart``), started again after a pause that doubles up to ``RESTART_MAX_S``; in ``chorus worker``
    (``restart`` False) its failure ends :meth:`wait`, and the worker exits 1 so that Kubernetes restarts it."""

    def __init__(self, parts: Sequence[DomainParts], *, restart: bool = True) -> None:
        self.jobs = [job for p in parts for job in p.background_jobs]
        self.tasks: list[asyncio.Task[None]] = []
        self.restart = restart

    async def start(self) -> None:
        self.tasks = [asyncio.create_task(self._supervise(job), name=getattr(job, "__name__", "job"))
                      for job in self.jobs]
        for task in self.tasks:
            task.add_done_callback(_log_job_end)

    async def _supervise(self, job: Callable[[], Awaitable[None]]) -> None:
        name = getattr(job, "__name__", "job")
        failures = 0
        while True:
            began = time.monotonic()
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background job %s failed", name)
                if not self.restart:
                    raise
                failures = 1 if time.monotonic() - began >= STEADY_S else failures + 1
                pause = min(RESTART_MAX_S, RESTART_FIRST_S * 2 ** (failures - 1))
                log.warning("background job %s: restarting in %.1f s (%d failure(s) in a row)", name, pause, failures)
                await asyncio.sleep(pause)
                continue
            log.info("background job %s finished", name)
            return

    async def wait(self, stop: asyncio.Event) -> BaseException | None:
        """Until ``stop`` is set (returns None) or a job fails (returns its exception; the worker exits non-zero)."""
        stopper = asyncio.create_task(stop.wait(), name="stop")
        running = set(self.tasks)
        try:
            while True:
                done, _ = await asyncio.wait({stopper, *running}, return_when=asyncio.FIRST_COMPLETED)
                for task in done - {stopper}:
                    running.discard(task)
                    if not task.cancelled() and task.exception() is not None:
                        return task.exception()
                if stopper in done:
                    return None
        finally:
            stopper.cancel()

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Cancel every job and wait up to ``timeout_s`` for them to finish their clean-up."""
        for task in self.tasks:
            task.cancel()
        if self.tasks:
            _, pending = await asyncio.wait(self.tasks, timeout=timeout_s)
            for task in pending:
                log.warning("background job %s did not stop within %.1f s; abandoning it", task.get_name(), timeout_s)
        self.tasks = []


def _log_job_end(task: asyncio.Task[None]) -> None:
    """Every job task's end is looked at (so none is left with an exception nobody retrieved); the failure itself
    was logged by the supervisor."""
    if not task.cancelled() and task.exception() is not None:
        log.debug("background job %s ended with a failure", task.get_name())


class Deadline:
    """The shutdown budget: ``CHORUS_SHUTDOWN_GRACE_S`` counted from the signal (or from now), never below 1 s per
    step so that each clean-up step gets a chance."""

    def __init__(self, grace_s: float, started: float | None) -> None:
        self.end = (started if started is not None else time.monotonic()) + grace_s

    def remaining(self) -> float:
        return max(1.0, self.end - time.monotonic())


async def _bounded(step: Callable[[], Awaitable[Any]], deadline: Deadline, what: str) -> None:
    try:
        await asyncio.wait_for(step(), timeout=deadline.remaining())
    except TimeoutError:
        log.warning("shutdown: %s did not finish in time; skipping it", what)
    except Exception:
        log.exception("shutdown: %s failed", what)


def create_app(settings: Settings, *, database: Database | None = None, telemetry: Telemetry | None = None) -> Litestar:
    """Build the web app. ``database`` and ``telemetry`` let tests share an already-started engine and in-memory
    exporters; what is passed in is not stopped on shutdown, what is created here is."""
    settings = settings.ensure_secret_key()
    logscrub.install()  # before anything logs a URL: uvicorn's access log, the WebSocket handshakes
    db = database or Database(settings.database)
    tel = telemetry or setup_telemetry(settings)
    parts = domain_parts(settings)
    background = BackgroundJobs(parts if settings.server.run_workers_in_process else [])

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if telemetry is None and tel.install() and tel.exporting:
            log.info("telemetry: exporting %s", ", ".join(tel.exporting))
        await db.start()
        instrument_database(db, tel)
        sealer = audit.Sealer()
        await sealer.start()
        for p in parts:
            for hook in p.on_startup:
                await hook()
        await background.start()
        try:
            yield
        finally:
            # Uvicorn has already stopped accepting and closed the WebSockets (code 1012, service restart); what
            # is left must fit in the rest of the grace period, counted from the signal when serve_app saw one.
            deadline = Deadline(settings.server.shutdown_grace_s, app.state.get("shutdown_requested_at"))
            await background.stop(deadline.remaining())
            for p in reversed(parts):
                for hook in p.on_shutdown:
                    await _bounded(hook, deadline, f"{p.name} shutdown hook {getattr(hook, '__name__', hook)}")
            await _bounded(sealer.stop, deadline, "sealing the audit trail")
            uninstrument_database(db)
            if database is None:
                await _bounded(db.stop, deadline, "closing the database")
            if telemetry is None:
                await asyncio.to_thread(tel.shutdown, min(5.0, deadline.remaining()))

    template_dirs: list[Any] = [d for p in parts for d in p.template_dirs]
    handlers: list[Any] = [healthz, readyz]
    for p in parts:
        handlers.extend(p.route_handlers)
        for prefix, folder in p.static_dirs.items():
            handlers.append(create_static_files_router(path=prefix, directories=[folder], name=f"static-{p.name}",
                                                       include_in_schema=False))
    app = Litestar(
        route_handlers=handlers,
        plugins=[*http_plugins(tel), *(pl for p in parts for pl in p.plugins)],
        middleware=[*proxy_middleware(settings.server.trusted_proxies), *http_middleware(tel),
                    DefineMiddleware(DocsPageHashes, prefix="/schema"), *(m for p in parts for m in p.middleware)],
        before_send=[add_security_headers],
        exception_handlers={**EXCEPTION_HANDLERS, HTTPException: pages.http_error_for_browsers},
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(
            title="Chorus", version=VERSION, path="/schema", render_plugins=[pages.api_docs_plugin()],
            description="Workspace for role-scoped AI agents: channels, context, insights, audit.",
            components=Components(security_schemes={
                "agentToken": SecurityScheme(type="http", scheme="bearer", description="Agent token"),
                "session": SecurityScheme(type="apiKey", security_scheme_in="cookie", name="chorus_session",
                                          description="Human session from /auth/login"),
            }),
        ),
        template_config=TemplateConfig(directory=template_dirs, engine=JinjaTemplateEngine) if template_dirs else None,
        compression_config=CompressionConfig(backend="gzip", minimum_size=2048),
        request_max_body_size=1024 * 1024,
        debug=False,
    )
    document_problem_responses(app)
    app.state.settings = settings
    app.state.database = db
    app.state.telemetry = tel
    app.state.background = background
    return app


async def run_worker(settings: Settings, *, database: Database | None = None, telemetry: Telemetry | None = None,
                     stop: asyncio.Event | None = None) -> int:
    """``chorus worker``: every domain's background jobs (agent runtime, mining, digests) with the database, the
    broker and the domains' start-up hooks, but no HTTP server, until SIGTERM/SIGINT or ``stop`` is set.

    Returns the exit status: 0 after a requested stop, 1 when a job failed (so that Kubernetes restarts the pod).
    """
    settings = replace(settings, server=replace(settings.server, run_workers_in_process=True))
    tel = telemetry or setup_telemetry(settings, role="worker")
    if telemetry is None:
        tel.install()
    app = create_app(settings, database=database, telemetry=tel)
    app.state.background.restart = False  # a failed job ends the worker (exit 1): Kubernetes restarts the pod
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()

    def request_stop(signum: int) -> None:
        log.info("worker: %s received, stopping within %.1f s", signal.Signals(signum).name,
                 settings.server.shutdown_grace_s)
        app.state.setdefault("shutdown_requested_at", time.monotonic())
        stop.set()

    handled = [s for s in (signal.SIGTERM, signal.SIGINT) if _can_handle_signals()]
    for sig in handled:
        loop.add_signal_handler(sig, request_stop, sig)
    failure: BaseException | None = None
    try:
        async with app.lifespan():
            background: BackgroundJobs = app.state.background
            log.info("worker: running %d background job(s): %s", len(background.tasks),
                     ", ".join(t.get_name() for t in background.tasks) or "none registered yet")
            failure = await background.wait(stop)
            if failure is not None:
                log.error("worker: a background job failed (%s: %s); stopping with status 1",
                          type(failure).__name__, failure)
                app.state.setdefault("shutdown_requested_at", time.monotonic())
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
        if telemetry is None:
            await asyncio.to_thread(tel.shutdown, 5.0)
    return 1 if failure is not None else 0


def _can_handle_signals() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def build_cli(settings: Settings) -> click.Group:
    """The ``chorus`` group with every domain's commands; their commands run inside the domains' standalone parts
    (the broker publisher), so what a command publishes or emits reaches the web replicas."""
    group = core_cli.root
    parts = domain_parts(settings)
    for p in parts:
        for command in p.cli_commands:
            group.add_command(command)
    core_cli.use_standalone([s for p in parts for s in p.standalone])
    return group


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: ``chorus``."""
    logscrub.install()
    try:
        settings = Settings.from_env()
    except ChorusError as exc:
        click.echo(f"chorus: configuration error: {exc.message}", err=True)
        sys.exit(2)
    core_cli.configure(settings, create_app, worker=run_worker)
    group = build_cli(settings)
    group.main(args=list(argv) if argv is not None else None, prog_name="chorus")
