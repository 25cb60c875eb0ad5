"""The composition root: ``create_app(settings)`` wires every domain into one Litestar app; ``main`` is the CLI.

This is the only module allowed to import every domain package.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Sequence
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
from workspace import cli as core_cli
from workspace.db import Database
from workspace.domain import DomainParts
from workspace.errors import ChorusError
from workspace.settings import Settings
from workspace.web import EXCEPTION_HANDLERS, healthz, readyz

log = logging.getLogger("chorus")
VERSION = "0.1.0"


def domain_parts(settings: Settings) -> list[DomainParts]:
    """Every domain's contribution, lowest layer first."""
    return [sso.domain.parts(settings), channels.domain.parts(settings), personas.domain.parts(settings),
            insights.domain.parts(settings)]


class BackgroundJobs:
    """Runs the domains' long-running loops as tasks and stops them on shutdown."""

    def __init__(self, parts: Sequence[DomainParts]) -> None:
        self.jobs = [job for p in parts for job in p.background_jobs]
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.tasks = [asyncio.create_task(job(), name=getattr(job, "__name__", "job")) for job in self.jobs]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks = []


def create_app(settings: Settings, *, database: Database | None = None) -> Litestar:
    """Build the web app. ``database`` lets tests share an already-started engine."""
    settings = settings.ensure_secret_key()
    db = database or Database(settings.database)
    parts = domain_parts(settings)
    background = BackgroundJobs(parts if settings.server.run_workers_in_process else [])

    @contextlib.asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await db.start()
        for p in parts:
            for hook in p.on_startup:
                await hook()
        await background.start()
        try:
            yield
        finally:
            await background.stop()
            for p in reversed(parts):
                for hook in p.on_shutdown:
                    with contextlib.suppress(Exception):
                        await hook()
            if database is None:
                await db.stop()

    template_dirs: list[Any] = [d for p in parts for d in p.template_dirs]
    handlers: list[Any] = [healthz, readyz]
    for p in parts:
        handlers.extend(p.route_handlers)
        for prefix, folder in p.static_dirs.items():
            handlers.append(create_static_files_router(path=prefix, directories=[folder], name=f"static-{p.name}",
                                                       include_in_schema=False))
    app = Litestar(
        route_handlers=handlers,
        plugins=[pl for p in parts for pl in p.plugins],
        middleware=[m for p in parts for m in p.middleware],
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
    app.state.settings = settings
    app.state.database = db
    return app


def build_cli(settings: Settings) -> click.Group:
    group = core_cli.root
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
    core_cli.configure(settings, create_app)
    group = build_cli(settings)
    group.main(args=list(argv) if argv is not None else None, prog_name="chorus")
