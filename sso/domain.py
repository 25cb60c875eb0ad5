"""What the sso domain contributes to the app (collected by workspace/app.py): the authentication middleware,
sign-in and audit routes, the security pages (with their background chain checks), the token cache's hooks, and the
refusal to run the dev login off loopback."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from sso import controllers, pages_security, services_tokens, services_verify
from sso.controllers_audit import AuditController
from sso.controllers_auth import AuthRuntime, build_routes
from sso.mapping import GroupMaps
from sso.middleware import AuthMiddleware
from sso.oidc import OIDCClient
from sso.services_login import LoginFlow
from sso.services_sessions import SessionPolicy
from workspace.domain import DomainParts
from workspace.errors import ConfigError
from workspace.hooks import hooks
from workspace.services import ensure_workspace, get_scheme
from workspace.settings import Settings


def is_loopback(host: str) -> bool:
    if host.strip().lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_dev_login(settings: Settings) -> None:
    """The dev login lets anyone pick any role: refuse to run it unless the server listens on loopback only."""
    if settings.server.dev_login and not is_loopback(settings.server.host):
        raise ConfigError(
            f"CHORUS_DEV_LOGIN is on but the server binds {settings.server.host!r}, which is not a loopback address; "
            "the dev login lets anyone become an admin. Bind 127.0.0.1 (CHORUS_HOST) or turn CHORUS_DEV_LOGIN off "
            "and configure OIDC")


def parts(settings: Settings) -> DomainParts:
    check_dev_login(settings)
    policy = SessionPolicy.from_settings(settings.oidc)
    runtime = AuthRuntime(policy=policy, dev_login=settings.server.dev_login, base_url=settings.server.base_url)

    async def start() -> None:
        # The token cache must forget an agent the moment it is switched off or relabelled in this process.
        hooks.on("member.deactivated", services_tokens.on_member_changed)
        hooks.on("member.label_changed", services_tokens.on_member_changed)
        hooks.on("agent_token.revoked", services_tokens.on_tokens_revoked)
        if settings.oidc.enabled:
            scheme = await get_scheme(await ensure_workspace())
            GroupMaps.parse(settings.oidc.role_map, settings.oidc.clearance_map, scheme)  # bad maps stop start-up
            client = OIDCClient(settings.oidc, f"{settings.server.base_url}/auth/callback")
            runtime.flow = LoginFlow(settings.oidc, client, policy)

    async def stop() -> None:
        await services_verify.stop_all()  # a check cut short is marked interrupted; another may start it again
        if runtime.flow is not None:
            await runtime.flow.client.aclose()
            runtime.flow = None

    return DomainParts(
        name="sso",
        route_handlers=[controllers.me, *build_routes(runtime), AuditController, pages_security.security_router()],
        middleware=[AuthMiddleware(policy, settings.server.public_url)],
        on_startup=[start],
        on_shutdown=[stop],
        template_dirs=[Path(__file__).parent / "templates"],
        static_dirs={"/static/sso": Path(__file__).parent / "static"},
    )
