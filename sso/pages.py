"""HTML pages of the sso domain: the sign-in pages (refusal, failure, dev login), self-contained so they render
without templates, and the security reviewer's pages (audit search and export, chain verification, blocked posts,
document reads), rendered from ``sso/templates/sso``. The audit rules live in ``services_audit``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from html import escape
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, Response, Router, get
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter

from sso.services_audit import AuditFilter, search_audit, verify_audit
from workspace.actor import Actor
from workspace.audit import last_checkpoint
from workspace.cli import audit_key
from workspace.errors import ChorusError, ValidationFailed
from workspace.labels import LabelScheme
from workspace.pages import PAGE_EXCEPTION_HANDLERS, PAGE_OPT, page
from workspace.web import provide_actor, requires

_DEV_BANNER = ('<div class="banner banner-dev" role="status">Dev login is on: anyone on this machine can pick a '
               'role. Never expose this server.</div>')


def _page(title: str, body: str, dev_login: bool) -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{escape(title)} · Chorus</title><link rel="stylesheet" href="/static/chorus.css"></head><body>'
            f'{_DEV_BANNER if dev_login else ""}<header class="top"><a class="brand" href="/">Chorus</a></header>'
            f'<main id="main">{body}</main></body></html>')


def message_page(title: str, message: str, *, dev_login: bool, retry: str | None = "/auth/login",
                 detail: str | None = None) -> str:
    """A refusal or failure: what happened, in words, and what to do next."""
    parts = [f"<h1>{escape(title)}</h1>", f'<p class="card" role="alert">{escape(message)}</p>']
    if detail:
        parts.append(f'<p class="muted small">Reference: {escape(detail)}</p>')
    if retry:
        parts.append(f'<p><a href="{escape(retry)}">Try signing in again</a></p>')
    return _page(title, "".join(parts), dev_login)


def dev_login_page(scheme: LabelScheme, *, roles: Iterable[str], next_path: str, error: str | None = None,
                   handle: str = "", clearance: str = "") -> str:
    """The dev login form: pick a handle, roles and a clearance label."""
    role_boxes = "".join(
        f'<label style="flex-direction:row;gap:6px"><input type="checkbox" name="roles" value="{r}"'
        f'{" checked" if r == "employee" else ""}> {r}</label>' for r in roles)
    tiers = ", ".join(scheme.tiers)
    comps = ", ".join(scheme.compartments) or "none defined"
    err = f'<p class="card bad" role="alert">{escape(error)}</p>' if error else ""
    body = (f"<h1>Dev login</h1>{err}"
            '<form method="post" action="/auth/dev" class="card">'
            f'<input type="hidden" name="next" value="{escape(next_path)}">'
            f'<label>Handle <input name="handle" required maxlength="100" value="{escape(handle)}" '
            'placeholder="e.g. ada"></label>'
            f'<fieldset><legend>Roles</legend>{role_boxes}</fieldset>'
            f'<label>Clearance <input name="clearance" required value="{escape(clearance or scheme.tiers[0])}" '
            'placeholder="e.g. confidential/finance"></label>'
            f'<p class="muted small">Tiers: {escape(tiers)}. Compartments: {escape(comps)}. '
            "Write tier/compartment+compartment.</p>"
            '<button type="submit">Sign in</button></form>')
    return _page("Dev login", body, True)


# --- security pages (server-rendered templates under sso/templates/sso) --------------------------------------------

AUDIT_PAGE = 50
_Q = Annotated[str | None, QueryParameter()]


def _when_us(text: str | None, field: str) -> int | None:
    """``datetime-local`` input (``2026-11-21T12:30``, UTC when no zone is given) -> microseconds."""
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(f"{field} must be a date and time like 2026-11-21T12:30; got {text!r}",
                               field=field) from None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return int(aware.timestamp() * 1_000_000)


def _export_links(params: dict[str, str]) -> dict[str, str]:
    return {fmt: "/api/audit/export?" + urlencode({"format": fmt, **params}) for fmt in ("jsonl", "csv")}


@get("/security/audit", name="security-audit")
async def audit_page(request: Request[Any, Any, Any], actor: NamedDependency[Actor],
                     who: Annotated[str | None, QueryParameter(name="actor")] = None, action: _Q = None,
                     entity_type: _Q = None, entity_id: _Q = None, since: _Q = None, until: _Q = None,
                     after_seq: Annotated[int, QueryParameter(ge=0)] = 0) -> Response[Any]:
    """Search the trail (oldest first, keyset pages), export what matches, see the last checkpoint."""
    raw = {"actor": who, "action": action, "entity_type": entity_type, "entity_id": entity_id, "since": since,
           "until": until}
    params = {k: v.strip() for k, v in raw.items() if v and v.strip()}
    error: str | None = None
    events: list[dict[str, Any]] = []
    next_after: int | None = None
    try:
        f = AuditFilter(actor=params.get("actor"), action=params.get("action"),
                        entity_type=params.get("entity_type"), entity_id=params.get("entity_id"),
                        since_us=_when_us(params.get("since"), "since"),
                        until_us=_when_us(params.get("until"), "until"))
        events, next_after = await search_audit(actor, f, after_seq, AUDIT_PAGE)
    except ChorusError as exc:
        error = exc.message
    checkpoint = await last_checkpoint()
    return page(request, "sso/audit.html", status_code=400 if error else 200, events=events, params=params,
                error=error, after_seq=after_seq, next_after=next_after, query=urlencode(params),
                exports=_export_links({k: _api_time(k, v) for k, v in params.items()}), checkpoint=checkpoint)


def _api_time(key: str, value: str) -> str:
    """The export API reads since/until as ISO 8601 (UTC without a zone): the form's values pass through."""
    return value if key not in {"since", "until"} or len(value) != 16 else value + ":00"


@get("/security/verify", name="security-verify")
async def verify_page(request: Request[Any, Any, Any], actor: NamedDependency[Actor]) -> Response[Any]:
    """Walk the whole chain now against the latest checkpoint (the check is itself audited)."""
    result = await verify_audit(actor, audit_key(request.app.state.settings))
    return page(request, "sso/verify.html", result=result)


@get("/security/blocked", name="security-blocked")
async def blocked_page(request: Request[Any, Any, Any], actor: NamedDependency[Actor],
                       after_seq: Annotated[int, QueryParameter(ge=0)] = 0) -> Response[Any]:
    """Posts the leak guard refused: who, where, which documents' text it carried."""
    events, next_after = await search_audit(actor, AuditFilter(action="post.blocked"), after_seq, AUDIT_PAGE)
    return page(request, "sso/blocked.html", events=events, after_seq=after_seq, next_after=next_after,
                exports=_export_links({"action": "post.blocked"}))


@get("/security/reads", name="security-reads")
async def reads_page(request: Request[Any, Any, Any], actor: NamedDependency[Actor],
                     agent: _Q = None, after_seq: Annotated[int, QueryParameter(ge=0)] = 0) -> Response[Any]:
    """Which documents each agent's turns read (``context.read``), for one agent or all."""
    handle = (agent or "").strip() or None
    f = AuditFilter(actor=handle, action="context.read")
    events, next_after = await search_audit(actor, f, after_seq, AUDIT_PAGE)
    params = {"agent": handle} if handle else {}
    return page(request, "sso/reads.html", events=events, agent=handle or "", after_seq=after_seq,
                next_after=next_after, query=urlencode(params),
                exports=_export_links({"action": "context.read", **({"actor": handle} if handle else {})}))


SECURITY_HANDLERS = [audit_page, verify_page, blocked_page, reads_page]


def security_router() -> Router:
    """Security reviewers only; anonymous browsers are sent to sign in."""
    return Router(path="/", route_handlers=SECURITY_HANDLERS, guards=[requires("security")],
                  dependencies={"actor": Provide(provide_actor)}, exception_handlers=PAGE_EXCEPTION_HANDLERS,
                  include_in_schema=False, opt=PAGE_OPT)
