"""What the personas domain contributes to the app (collected by workspace/app.py)."""

from __future__ import annotations

from workspace.domain import DomainParts
from workspace.settings import Settings


def parts(settings: Settings) -> DomainParts:
    return DomainParts(name="personas")
