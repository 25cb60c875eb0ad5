"""What a domain package contributes to the app: routes, plugins, CLI commands, lifecycle and background jobs.

Each domain has a ``domain.py`` with ``parts(settings) -> DomainParts``; only ``workspace/app.py`` collects them.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from workspace.settings import Settings

Job = Callable[[], Coroutine[Any, Any, None]]
Standalone = Callable[[Settings], AbstractAsyncContextManager[Any]]


@dataclass
class DomainParts:
    name: str
    route_handlers: Sequence[Any] = ()
    plugins: Sequence[Any] = ()
    middleware: Sequence[Any] = ()
    cli_commands: Sequence[click.Command] = ()
    on_startup: Sequence[Job] = ()
    on_shutdown: Sequence[Job] = ()
    background_jobs: Sequence[Job] = ()
    """Long-running loops (agent runtime, mining): inside the web process in the embedded default, else in
    ``chorus worker``."""
    standalone: Sequence[Standalone] = ()
    """What a process without the web app runs while a CLI command works, e.g. channels' broker publisher, so that
    the command's events and hooks (a kill switch closing sockets) reach the web replicas."""
    template_dirs: Sequence[Path] = ()
    static_dirs: dict[str, Path] = field(default_factory=dict)
