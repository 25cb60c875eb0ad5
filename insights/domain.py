"""What the insights domain contributes to the app (collected by workspace/app.py): for now, the home page."""

from __future__ import annotations

from pathlib import Path

from insights import pages
from workspace.domain import DomainParts
from workspace.settings import Settings


def parts(settings: Settings) -> DomainParts:
    return DomainParts(name="insights", route_handlers=[pages.router()],
                       template_dirs=[Path(__file__).parent / "templates"])
