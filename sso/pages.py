"""The few HTML pages of sign-in (refusal, failure, dev login), self-contained so they render before any UI exists.

They use the shared stylesheet's classes; the dev-login banner matches ``workspace/templates/base.html``.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from workspace.labels import LabelScheme

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
