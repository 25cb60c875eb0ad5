"""The Actor: who is acting, in which workspace, with which label and roles, from where.

Every service function takes an Actor first; authorization and the audit trail both read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from workspace.errors import MissingRole
from workspace.labels import Label, LabelScheme

ActorKind = Literal["human", "agent", "system"]
HUMAN_ROLES = ("admin", "security", "employee")


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Where a request came from; copied into every audit entry."""

    ip: str | None = None
    user_agent: str | None = None
    session_id: str | None = None
    request_id: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in (("ip", self.ip), ("user_agent", self.user_agent),
                                  ("session_id", self.session_id), ("request_id", self.request_id)) if v}


@dataclass(frozen=True, slots=True)
class Actor:
    workspace_id: int
    kind: ActorKind
    handle: str
    label: Label
    scheme: LabelScheme
    member_id: int | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    on_behalf_of: str | None = None
    context: RequestContext = RequestContext()

    @classmethod
    def system(cls, workspace_id: int, scheme: LabelScheme, handle: str = "system",
               on_behalf_of: str | None = None) -> Actor:
        """The CLI and background jobs: top label, every role."""
        return cls(workspace_id=workspace_id, kind="system", handle=handle, label=scheme.top(), scheme=scheme,
                   roles=frozenset(HUMAN_ROLES), on_behalf_of=on_behalf_of)

    @property
    def audit_id(self) -> str:
        return str(self.member_id) if self.member_id is not None else self.handle

    def has_role(self, role: str) -> bool:
        return self.kind == "system" or role in self.roles

    def require_role(self, *roles: str) -> None:
        """Raise Forbidden unless the actor holds one of ``roles`` (system actors hold every role)."""
        if self.kind == "system" or any(r in self.roles for r in roles):
            return
        held = ", ".join(sorted(self.roles)) or "none"
        who = f"{self.kind} {self.handle!r}"
        raise MissingRole(f"{who} needs the role {' or '.join(roles)} for this; it has: {held}", roles=tuple(roles),
                          held=tuple(sorted(self.roles)))

    def with_context(self, context: RequestContext) -> Actor:
        return replace(self, context=context)
