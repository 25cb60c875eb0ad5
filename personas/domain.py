"""What the personas domain contributes to the app (collected by workspace/app.py): the admin and context API,
the scenario/agents/context CLI commands, the leak guard on the ``post.check`` hook, the admin pages, and the
agent runtime (runs API, ``chorus simulate``, the background job that executes runs)."""

from __future__ import annotations

from pathlib import Path

from personas import cli_runtime, controllers, controllers_runs, leakguard, pages, pages_admin
from personas.cli import COMMANDS
from personas.runtime_runs import RuntimeJob
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

    async def agent_runtime() -> None:
        """Executes the runs started through the admin API (embedded: in the server; at scale: chorus worker)."""
        from personas.providers import make_provider

        await RuntimeJob(lambda: make_provider(settings.llm), cli_runtime.runtime_options(settings, None))()

    return DomainParts(
        name="personas",
        route_handlers=[*controllers.ROUTES, *controllers_runs.ROUTES,
                        pages.router([*pages.HANDLERS, *pages_admin.HANDLERS])],
        cli_commands=[*COMMANDS, *cli_runtime.COMMANDS],
        on_startup=[on_startup],
        background_jobs=[agent_runtime],
        template_dirs=[Path(__file__).parent / "templates"],
    )
