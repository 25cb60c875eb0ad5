"""What a domain package contributes to the app: routes, plugins, CLI commands, lifecycle and background jobs.

Each domain has a ``domain.py`` with ``parts(settings) -> DomainParts``; only ``workspace/app.py`` collects them.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

Job = Callable[[], Coroutine[Any, Any, None]]


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
    template_dirs: Sequence[Path] = ()
    static_dirs: dict[str, Path] = field(default_factory=dict)
