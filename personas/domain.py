"""What the personas domain contributes to the app (collected by workspace/app.py): the admin and context API,
the scenario/agents/context CLI commands, the leak guard on the ``post.check`` hook, the admin pages (agents, roles,
import, documents) with their scripts, the document page for readers (personas/context/pages.py), and the agent
runtime's parts (runs API and page, ``chorus simulate``, the
background job that executes runs; see personas/runtime/domain.py)."""

from __future__ import annotations

from pathlib import Path

from personas import controllers, pages, pages_admin, pages_documents
from personas.cli import COMMANDS
from personas.context import documents, leakguard
from personas.context import pages as context_pages
from personas.runtime import domain as runtime_domain
from workspace.domain import DomainParts
from workspace.hooks import hooks
from workspace.settings import Settings


def register_hooks() -> None:
    """The leak guard checks every post, whatever path it comes by (channels emits ``post.check``); the audit pages
    (sso) show document titles, within the reader's clearance, through ``documents.titles``."""
    hooks.on("post.check", leakguard.check_post)
    hooks.on("documents.titles", documents.readable_titles)


def parts(settings: Settings) -> DomainParts:
    async def on_startup() -> None:
        register_hooks()
        leakguard.invalidate()  # a fresh process (or a test's fresh database) starts with no stale index

    runtime = runtime_domain.parts(settings)
    return DomainParts(
        name="personas",
        route_handlers=[*controllers.ROUTES, *runtime.route_handlers,
                        pages.router([*pages.HANDLERS, *pages_admin.HANDLERS, *pages_documents.HANDLERS]),
                        context_pages.router()],
        cli_commands=[*COMMANDS, *runtime.cli_commands],
        on_startup=[on_startup, *runtime.on_startup],
        on_shutdown=runtime.on_shutdown,
        background_jobs=runtime.background_jobs,
        template_dirs=[Path(__file__).parent / "templates", Path(__file__).parent / "context" / "templates",
                       *runtime.template_dirs],
        static_dirs={"/static/personas": Path(__file__).parent / "static", **runtime.static_dirs},
    )
