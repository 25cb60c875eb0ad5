"""Server-rendered page plumbing shared by every domain: the base template's context, the navigation, and the
HTML error pages (sign-in redirect for anonymous browsers) that page routers install as exception handlers.

Domains render their pages with :func:`page`; templates extend ``base.html`` (in ``workspace/templates``).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import HTTPException
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.response import File, Redirect, Template

from workspace.actor import Actor
from workspace.errors import (
    AboveClearance,
    ChorusError,
    CsrfRejected,
    MissingRole,
    NotAuthenticated,
    NotFound,
    Unavailable,
    ValidationFailed,
    unavailable_from,
)
from workspace.web import current_actor

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
VERSION = "0.1.0"
log = logging.getLogger("chorus.pages")


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
    NavItem("/admin/documents", "Documents", ("admin",)),
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


def error_page(request: Request[Any, Any, Any], status: int, title: str, message: str,
               hint: str | None = None) -> Response[Any]:
    """What went wrong, in words, as a page (pages never answer with problem JSON); ``hint``: what to do next."""
    return page(request, "error.html", status_code=status, title=title, message=message, hint=hint)


ROLE_NAMES = {"admin": "administrators", "security": "security reviewers", "employee": "employees"}


def _people(roles: tuple[str, ...]) -> str:
    return " or ".join(ROLE_NAMES.get(r, f"the role {r}") for r in roles)


def users_words(exc: ChorusError, actor: Actor | None) -> tuple[str, str, str | None]:
    """(title, message, hint) for a refusal or failure on a page, said to the person reading it: what happened and
    what to do, without the developer's terms (roles by what people do, no ids, no API routes)."""
    if isinstance(exc, MissingRole):
        held = ", ".join(sorted(exc.held)) or "no role"
        who = f"You are signed in as {actor.handle} ({held})." if actor else ""
        return ("Not part of your role", f"This page is for {_people(exc.roles)}. {who}".strip(),
                f"If your work needs it, ask an administrator to give you the {' or '.join(exc.roles)} role.")
    if isinstance(exc, AboveClearance):
        needs = f"needs the clearance {exc.needs}" if exc.needs else "is above your clearance"
        return ("Above your clearance",
                f"The {exc.what} {needs}; yours is {exc.has}.",
                "Ask an administrator if your work needs a higher clearance.")
    if isinstance(exc, CsrfRejected):
        return ("This form has expired",
                "The form was not sent: it did not carry this page's security token (a CSRF check), which happens "
                "when a page was open for a long time or was signed in again elsewhere.",
                "Reload the page and send the form again.")
    if isinstance(exc, NotFound):
        return ("Not found", "There is nothing here: the link may be wrong, or what it pointed to was removed.",
                None)
    if isinstance(exc, Unavailable):
        return ("Chorus is busy", "Chorus could not reach its database just now; nothing was changed.",
                "Try again in a few seconds.")
    if isinstance(exc, ValidationFailed):
        return ("Please check what you entered", exc.message, None)
    return (exc.title, exc.message, None)


def page_chorus_error(request: Request[Any, Any, Any], exc: ChorusError) -> Response[Any]:
    if isinstance(exc, NotAuthenticated):
        return login_redirect(request)
    title, message, hint = users_words(exc, current_actor(request))
    return error_page(request, exc.status, title, message, hint)


HTTP_WORDS = {
    403: ("Not allowed", "You may not open this page."),
    404: ("Not found", "There is nothing here: the link may be wrong, or what it pointed to was removed."),
    405: ("Not available", "This address cannot be used that way; follow a link or a button instead."),
    413: ("Too large", "What you sent is larger than Chorus accepts."),
}


def page_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if exc.status_code == 401:
        return login_redirect(request)
    title, message = HTTP_WORDS.get(exc.status_code, (_phrase(exc.status_code), str(exc.detail)))
    return error_page(request, exc.status_code, title, message)


def page_internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """An unexpected failure on a page: logged with a reference the person can quote."""
    down = unavailable_from(exc)
    if down is not None:
        return page_chorus_error(request, down)
    ref = uuid.uuid4().hex[:12]
    log.exception("unhandled error %s on page %s %s", ref, request.method, request.url.path)
    return error_page(request, 500, "Something went wrong",
                      "Something went wrong on our side; nothing was half-written.",
                      f"Try again; if it keeps happening, quote reference {ref} to an administrator.")


def _phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


BROWSER_PREFIXES_OFF = ("/api/", "/ws", "/auth/", "/schema", "/healthz", "/readyz", "/static/")


def http_error_for_browsers(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """The app-wide handler for HTTP errors outside any page router (an unknown address): a browser asking for
    HTML gets an error page, every API client the problem details as before."""
    from workspace.web import http_error_handler

    wants_html = "text/html" in request.headers.get("accept", "")
    if wants_html and request.method in {"GET", "HEAD"} and not request.url.path.startswith(BROWSER_PREFIXES_OFF):
        return page_http_error(request, exc)
    return http_error_handler(request, exc)


PAGE_EXCEPTION_HANDLERS: dict[Any, Any] = {ChorusError: page_chorus_error, HTTPException: page_http_error,
                                           Exception: page_internal_error}
"""Install on every page router: the sign-in middleware's 401 becomes a redirect to /auth/login, and refusals
(wrong role, above clearance, CSRF, not found, a failure) render ``error.html`` in people's words
(:func:`users_words`). Route-level handlers also catch what the middleware raises."""
PAGE_OPT: dict[str, Any] = {"page": True}
"""Marks a route that answers browsers with a page (every page router, the sign-in pages): the accessibility test
finds the pages to check by this mark, so a new page is checked without being listed."""


@get("/favicon.ico", opt={"public": True}, include_in_schema=False, sync_to_thread=False,
     cache_control=CacheControlHeader(max_age=86400))
def favicon() -> File:
    """Browsers ask for /favicon.ico on every page that names no icon (the API docs, raw JSON)."""
    return File(STATIC / "favicon.ico", media_type="image/x-icon", content_disposition_type="inline")


SWAGGER_ASSETS = "/static/swagger-ui"
ICON_LINK = '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'


def swagger_assets() -> Path:
    """The Swagger UI files shipped by the ``swagger-ui-py`` package, served at ``/static/swagger-ui`` so that the
    API docs page loads nothing from the network (found without importing the package)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is missing: pip install -e . installs it")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


class ApiDocs(SwaggerRenderPlugin):
    """Swagger UI from local assets, with Chorus's icon, the page's language and a few style overrides
    (``static/api-docs.css``) so that it passes the accessibility check every page does. Deep links are off: they put
    a link inside each operation's button (nested interactive controls)."""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        html = super().render(request, openapi_schema)
        return html.replace(b"<html>", b'<html lang="en">', 1).replace(b"deepLinking: true", b"deepLinking: false", 1)


def api_docs_plugin() -> SwaggerRenderPlugin:
    """The API docs page at /schema/swagger (and /schema)."""
    return ApiDocs(js_url=f"{SWAGGER_ASSETS}/swagger-ui-bundle.js", css_url=f"{SWAGGER_ASSETS}/swagger-ui.css",
                   standalone_preset_js_url=f"{SWAGGER_ASSETS}/swagger-ui-standalone-preset.js", favicon=ICON_LINK,
                   style='<link rel="stylesheet" href="/static/api-docs.css">')


def parts(settings: Any) -> Any:
    """The workspace's own contribution: the base template, the shared static files at ``/static``, the favicon and
    the API docs' assets."""
    from workspace.domain import DomainParts

    return DomainParts(name="workspace", route_handlers=[favicon], template_dirs=[TEMPLATES],
                       static_dirs={"/static": STATIC, SWAGGER_ASSETS: swagger_assets()})
