"""The one rule for administrative power: an admin may create, read, grant, relabel or mint a credential only for
labels its own clearance dominates (the dominance rule of :mod:`workspace.labels`, nothing else).

Services call :func:`require_authority` before they change anything; a refusal is recorded (``authority.refused``,
labelled with the refused admin's own clearance, so reviewers cleared like that admin see it) in a transaction of its
own and raised as :class:`workspace.errors.Forbidden`. The system actor (CLI, runtime) keeps full power.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable, Mapping
from typing import Any

from workspace import audit
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.audit import Entity
from workspace.errors import Forbidden
from workspace.labels import Label

REFUSED = "authority.refused"


def above(actor: Actor, labels: Iterable[Label]) -> list[Label]:
    """The labels among ``labels`` that ``actor``'s clearance does not dominate (none for the system actor)."""
    if actor.kind == "system":
        return []
    return [label for label in labels if not actor.label.dominates(label)]


async def require_authority(actor: Actor, attempted: str, entity: Entity, labels: Label | Iterable[Label], *,
                            doing: str, details: Mapping[str, Any] | None = None, hint: str = "") -> None:
    """Refuse (and audit) ``attempted`` on ``entity`` unless ``actor``'s clearance dominates every one of ``labels``.

    ``doing`` says what was asked, for people ("issue a token for agent 'ceo-0001'", "create channel 'board'"). Call
    it before the change's write transaction: the refusal's record commits on its own, and nothing of the change is
    written. ``hint`` replaces the refusal's last sentence (what to do instead).
    """
    refused = above(actor, [labels] if isinstance(labels, Label) else list(labels))
    if not refused:
        return
    database = dbmod.current()
    if database.in_transaction():
        raise RuntimeError("require_authority runs before the change's transaction: a refusal inside it would be "
                           "rolled back with the change")
    top = max(refused, key=lambda label: label.level)
    need = Label(top.tier, frozenset().union(*(label.compartments for label in refused)), top.level,
                 functools.reduce(operator.or_, (label.mask for label in refused)))
    async with database.transaction():
        await audit.record(actor, REFUSED, entity, {
            "attempted": attempted, "doing": doing, "needs": str(need), "clearance": str(actor.label),
            **dict(details or {})}, label=actor.label)
    raise Forbidden(
        f"{actor.kind} {actor.handle!r} (clearance {actor.label}) may not {doing}: that needs clearance {need}, "
        f"which {actor.label} does not dominate. An admin may create, read, grant, relabel or issue credentials only "
        f"within its own clearance; nothing was changed. {hint or f'Ask an admin cleared for {need}'}")
