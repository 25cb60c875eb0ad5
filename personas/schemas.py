"""msgspec structs of the personas HTTP API (request bodies; responses are the services' plain dicts)."""

from __future__ import annotations

from typing import Annotated

import msgspec

LabelText = Annotated[str, msgspec.Meta(min_length=1, max_length=400,
                                        description="tier or tier/comp+comp, e.g. confidential/finance+legal")]


class LabelChange(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    label: LabelText


class DocumentIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    body: Annotated[str, msgspec.Meta(min_length=1, max_length=2 * 1024 * 1024)]
    label: LabelText


class ScenarioIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    yaml: Annotated[str, msgspec.Meta(min_length=1, max_length=1024 * 1024,
                                      description="the scenario file's text (documents inline: no paths)")]
    agents: Annotated[int, msgspec.Meta(ge=1, le=100_000)] | None = None


class SwitchIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    agent: str | None = None
    role: str | None = None
    department: str | None = None
    reason: Annotated[str, msgspec.Meta(max_length=500)] = ""


class IssuedToken(msgspec.Struct, frozen=True):
    member_id: int
    handle: str
    token: str
    """Shown once: only its hash is stored."""
