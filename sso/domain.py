"""What the sso domain contributes to the app (collected by workspace/app.py)."""

from __future__ import annotations

from sso import controllers, services_tokens
from sso.middleware import AuthMiddleware
from sso.services_sessions import SessionPolicy
from workspace.domain import DomainParts
from workspace.hooks import hooks
from workspace.settings import Settings


def parts(settings: Settings) -> DomainParts:
    async def register_hooks() -> None:
        # The token cache must forget an agent the moment it is switched off or relabelled in this process.
        hooks.on("member.deactivated", services_tokens.on_member_changed)
        hooks.on("member.label_changed", services_tokens.on_member_changed)

    return DomainParts(
        name="sso",
        route_handlers=[controllers.me],
        middleware=[AuthMiddleware(SessionPolicy.from_settings(settings.oidc))],
        on_startup=[register_hooks],
    )
