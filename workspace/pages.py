"""Server-rendered page plumbing shared by every domain: the base template's context and the navigation.

Domains render their pages with :func:`page`; templates extend ``base.html`` (in ``workspace/templates``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litestar import Request
from litestar.response import Redirect, Template

from workspace.actor import Actor
from workspace.web import current_actor

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
VERSION = "0.1.0"


@dataclass(frozen=True, slots=True)
class NavItem:
    href: str
    label: str
    roles: tuple[str, ...] = ()
    """Shown only to actors holding one of these roles (empty: every signed-in person)."""


NAV: list[NavItem] = [
    NavItem("/", "Digest"),
    NavItem("/insights", "Insights"),
    NavItem("/channels", "Channels"),
    NavItem("/admin/agents", "Agents", ("admin",)),
    NavItem("/admin/runs", "Runs", ("admin",)),
    NavItem("/admin/import", "Import", ("admin",)),
    NavItem("/security/audit", "Audit", ("security",)),
]


def nav_for(actor: Actor, path: str) -> list[dict[str, Any]]:
    items = []
    for item in NAV:
        if item.roles and not any(actor.has_role(r) for r in item.roles):
            continue
        current = path == item.href if item.href == "/" else path.startswith(item.href)
        items.append({"href": item.href, "label": item.label, "current": current})
    return items


def page(request: Request[Any, Any, Any], template: str, status_code: int = 200, **context: Any) -> Template:
    """Render ``template`` with the signed-in actor, the navigation, the CSRF token and the dev-login banner."""
    actor = current_actor(request)
    settings = getattr(request.app.state, "settings", None)
    scope = dict(request.scope)
    base: dict[str, Any] = {
        "actor": actor,
        "nav": nav_for(actor, request.url.path) if actor else [],
        "csrf_token": scope.get("chorus.csrf_token", ""),
        "dev_login": bool(settings and settings.server.dev_login),
        "version": VERSION,
    }
    base.update(context)
    return Template(template_name=template, context=base, status_code=status_code)


def login_redirect(request: Request[Any, Any, Any]) -> Redirect:
    """Send an anonymous browser to sign in, coming back here afterwards."""
    from urllib.parse import quote

    return Redirect(path=f"/auth/login?next={quote(request.url.path)}")


def parts(settings: Any) -> Any:
    """The workspace's own contribution: the base template and the shared static files at ``/static``."""
    from workspace.domain import DomainParts

    return DomainParts(name="workspace", template_dirs=[TEMPLATES], static_dirs={"/static": STATIC})
