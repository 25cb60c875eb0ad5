"""Server-rendered page plumbing shared by every domain: the base template's context, the navigation, and the
HTML error pages (sign-in redirect for anonymous browsers) that page routers install as exception handlers.

Domains render their pages with :func:`page`; templates extend ``base.html`` (in ``workspace/templates``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.response import Redirect, Template

from workspace.actor import Actor
from workspace.errors import ChorusError, NotAuthenticated
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


def nav_for(actor: Actor, path: str, served: set[str] | None = None) -> list[dict[str, Any]]:
    """The links ``actor`` may follow; with ``served``, only pages that exist (insights and runs land later)."""
    items = []
    for item in NAV:
        if item.roles and not any(actor.has_role(r) for r in item.roles):
            continue
        if served is not None and item.href not in served:
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
        "nav": nav_for(actor, request.url.path, {r.path for r in request.app.routes}) if actor else [],
        "csrf_token": scope.get("chorus.csrf_token", ""),
        "dev_login": bool(settings and settings.server.dev_login),
        "version": VERSION,
        "when": when,
        "iso": iso,
    }
    base.update(context)
    return Template(template_name=template, context=base, status_code=status_code)


def _as_datetime(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, (int, float)):  # audit timestamps: microseconds since the epoch
        return dt.datetime.fromtimestamp(value / 1e6, dt.UTC)
    if isinstance(value, str) and value:
        try:
            return _as_datetime(dt.datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def when(value: Any) -> str:
    """A timestamp for people: ``2026-11-21 12:34 UTC`` (engines return datetimes or ISO text; audit uses µs)."""
    moment = _as_datetime(value)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def iso(value: Any) -> str:
    """The same timestamp for ``<time datetime=...>``."""
    moment = _as_datetime(value)
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds") if moment else ""


def login_redirect(request: Request[Any, Any, Any]) -> Redirect:
    """Send an anonymous browser to sign in, coming back here afterwards (a form post comes back to its page)."""
    from urllib.parse import quote, urlsplit

    if request.method in {"GET", "HEAD"}:
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    else:
        back = urlsplit(request.headers.get("referer", "")).path or "/"
    return Redirect(path=f"/auth/login?next={quote(back, safe='/=&?')}", status_code=303,
                    headers={"Cache-Control": "no-store"})


def error_page(request: Request[Any, Any, Any], status: int, title: str, message: str) -> Response[Any]:
    """What went wrong, in words, as a page (pages never answer with problem JSON)."""
    return page(request, "error.html", status_code=status, title=title, message=message)


def page_chorus_error(request: Request[Any, Any, Any], exc: ChorusError) -> Response[Any]:
    if isinstance(exc, NotAuthenticated):
        return login_redirect(request)
    return error_page(request, exc.status, exc.title, exc.message)


def page_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if exc.status_code == 401:
        return login_redirect(request)
    return error_page(request, exc.status_code, _phrase(exc.status_code), str(exc.detail))


def _phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


PAGE_EXCEPTION_HANDLERS: dict[Any, Any] = {ChorusError: page_chorus_error, HTTPException: page_http_error}
"""Install on every page router: the sign-in middleware's 401 becomes a redirect to /auth/login, and refusals
(wrong role, CSRF, not found) render ``error.html``. Route-level handlers also catch what the middleware raises."""
PAGE_OPT: dict[str, Any] = {"page": True}


def parts(settings: Any) -> Any:
    """The workspace's own contribution: the base template and the shared static files at ``/static``."""
    from workspace.domain import DomainParts

    return DomainParts(name="workspace", template_dirs=[TEMPLATES], static_dirs={"/static": STATIC})
