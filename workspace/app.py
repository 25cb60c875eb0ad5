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
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

import channels.domain
import insights.domain
import personas.domain
import sso.domain
from workspace import audit, pages
from workspace import cli as core_cli
from workspace.db import Database
from workspace.domain import DomainParts
from workspace.errors import ChorusError
from workspace.settings import Settings
from workspace.telemetry import (
    Telemetry,
    http_middleware,
    http_plugins,
    instrument_database,
    setup_telemetry,
    uninstrument_database,
)
from workspace.web import EXCEPTION_HANDLERS, document_problem_responses, healthz, readyz

log = logging.getLogger("chorus")
VERSION = "0.1.0"


def domain_parts(settings: Settings) -> list[DomainParts]:
    """Every domain's contribution, lowest layer first."""
    return [pages.parts(settings), sso.domain.parts(settings), channels.domain.parts(settings),
            personas.domain.parts(settings), insights.domain.parts(settings)]


class BackgroundJobs:
    """Runs the domains' long-running loops as tasks and stops them on shutdown."""

    def __init__(self, parts: Sequence[DomainParts]) -> None:
        self.jobs = [job for p in parts for job in p.background_jobs]
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.tasks = [asyncio.create_task(job(), name=getattr(job, "__name__", "job")) for job in self.jobs]
        for task in self.tasks:
            task.add_done_callback(_log_job_end)

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
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("background job %s failed", task.get_name(), exc_info=exc)
    else:
        log.info("background job %s finished", task.get_name())


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
        middleware=[*http_middleware(tel), *(m for p in parts for m in p.middleware)],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(
            title="Chorus", version=VERSION, path="/schema", render_plugins=[SwaggerRenderPlugin()],
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


@click.command()
@click.option("--scenario", "scenario_name", default="meridian", show_default=True,
              help="A scenario file, or the name of a built-in one (meridian, harbor).")
@click.option("--agents", default=1000, show_default=True, type=click.IntRange(1, 100_000),
              help="Scale the scenario's org chart to about this many agents.")
@click.option("--port", default=None, type=int, help="Port (default CHORUS_PORT, 8000).")
@click.option("--provider", type=click.Choice(["offline", "local"]), default="offline", show_default=True,
              help="offline: the deterministic writer; local: a real small model (needs the local-llm extra).")
@click.option("--interval", default=3.0, show_default=True, type=click.FloatRange(0, 3600),
              help="Seconds between simulation rounds.")
def demo(scenario_name: str, agents: int, port: int | None, provider: str, interval: float) -> None:
    """Run the whole product on the embedded default: SQLite in the data dir, agents talking, insights mined.

    A second start reuses the data dir (nothing is loaded twice). Ctrl-C stops it cleanly.
    """
    from dataclasses import replace
    from pathlib import Path

    from personas.runtime_runs import list_runs, start_run
    from personas.scenario import builtin_scenario, load_scenario
    from personas.services_load import load_scenario_into, load_steps
    from workspace.migrations import run_migrations
    from workspace.services import ensure_workspace, system_actor

    conf = core_cli.settings()
    if not conf.database.is_sqlite:
        raise click.UsageError("chorus demo runs on the embedded SQLite default; unset CHORUS_DATABASE_URL")
    conf = replace(conf, server=replace(conf.server, host="127.0.0.1", port=port or conf.server.port,
                                        dev_login=True, run_workers_in_process=True),
                   llm=replace(conf.llm, provider=provider))
    path = Path(scenario_name) if Path(scenario_name).suffix in {".yaml", ".yml"} else builtin_scenario(scenario_name)
    scenario = load_scenario(path)

    async def prepare(_: Database) -> str:
        await run_migrations()
        actor = await system_actor(await ensure_workspace(), handle="demo")
        steps = load_steps(scenario, agents)
        with click.progressbar(length=steps, label=f"loading {scenario.name}", file=sys.stderr) as bar:
            report = await load_scenario_into(actor, scenario, agents, progress=lambda n: bar.update(n))
        runs = await list_runs(actor)
        if not any(r["status"] in {"pending", "running"} and r["mode"] == "continuous" for r in runs):
            await start_run(actor, continuous=True, seed=scenario.seed, interval_s=interval, provider=provider,
                            scenario=scenario.name)
        return "\n".join(report.lines())

    summary = core_cli.run_with_db(prepare, migrate=False, settings_=conf)
    url = f"http://127.0.0.1:{conf.server.port}/"
    click.echo(f"\n{summary}")
    click.echo(f"Open {url}")
    click.echo("  1. Sign in with the dev login: pick 'admin' (and 'security') and the highest clearance.")
    click.echo("  2. Channels: open a channel and watch the agents talk live.")
    click.echo("  3. Digest and Insights: risks and opportunities appear after the first mining pass (about a minute).")
    click.echo("  4. Agents: pick one and see exactly what it can read in each channel; Audit: verify the trail.")
    click.echo(f"Data lives in {conf.data_dir.resolve()}; Ctrl-C stops, a second start picks up where it left off.\n")
    core_cli.serve_app(conf)


def build_cli(settings: Settings) -> click.Group:
    group = core_cli.root
    group.add_command(demo)
    for p in domain_parts(settings):
        for command in p.cli_commands:
            group.add_command(command)
    return group


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: ``chorus``."""
    try:
        settings = Settings.from_env()
    except ChorusError as exc:
        click.echo(f"chorus: configuration error: {exc.message}", err=True)
        sys.exit(2)
    core_cli.configure(settings, create_app, worker=run_worker)
    group = build_cli(settings)
    group.main(args=list(argv) if argv is not None else None, prog_name="chorus")
