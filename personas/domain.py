"""What the personas domain contributes to the app (collected by workspace/app.py): the admin and context API,
the scenario/agents/context CLI commands, the leak guard on the ``post.check`` hook, and the admin pages."""

from __future__ import annotations

from pathlib import Path

from personas import controllers, leakguard, pages, pages_admin
from personas.cli import COMMANDS
from workspace.domain import DomainParts
from workspace.hooks import hooks
from workspace.settings import Settings


def register_hooks() -> None:
    """The leak guard checks every post, whatever path it comes by (channels emits ``post.check``)."""
    hooks.on("post.check", leakguard.check_post)


def parts(settings: Settings) -> DomainParts:
    async def on_startup() -> None:
        register_hooks()
        leakguard.invalidate()  # a fresh process (or a test's fresh database) starts with no stale index

    return DomainParts(
        name="personas",
        route_handlers=[*controllers.ROUTES, pages.router([*pages.HANDLERS, *pages_admin.HANDLERS])],
        cli_commands=COMMANDS,
        on_startup=[on_startup],
        template_dirs=[Path(__file__).parent / "templates"],
    )
