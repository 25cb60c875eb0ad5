"""HTML pages of the sso domain: the sign-in pages (refusal, failure, dev login), self-contained so they render
without templates. The security reviewer's pages are in ``pages_security``.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from workspace.labels import LabelScheme
from workspace.services import member_labels

_DEV_BANNER = ('<div class="banner banner-dev" role="status">Dev login is on: anyone on this machine can pick a '
               'role. Never expose this server.</div>')


def _page(title: str, body: str, dev_login: bool) -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{escape(title)} · Chorus</title><link rel="stylesheet" href="/static/chorus.css">'
            '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml"></head><body>'
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


DEMO_HINT = ("Pick “Administrator”: it ticks the admin and security roles and selects the highest clearance, "
             "so every page and every insight is open to you.")
"""What ``chorus demo`` prints and the dev login form says: one sentence, so the two cannot disagree."""
ROLE_TEXT = {"admin": "admin: import, agents, runs, budgets", "security": "security: audit trail, verification",
             "employee": "employee: digest, insights, channels; triage"}
PRESETS = (("employee", "Employee", ("employee",), False),
           ("admin", "Administrator, with security review, at the highest clearance", ("admin", "security"), True),
           ("security", "Security reviewer at the highest clearance", ("security",), True))
"""(value, text, roles, at the highest clearance): the "sign in as" choices."""


async def clearance_choices(workspace_id: int, scheme: LabelScheme) -> list[tuple[str, str]]:
    """The clearances the dev login offers, lowest first, as (label, text): every tier alone, the clearances the
    workspace's agents hold (their roles'), and the highest label of the scheme."""
    held = dict(await member_labels(workspace_id))
    labels = {str(scheme.label(t)): scheme.label(t) for t in scheme.tiers}
    labels.update({str(lab): lab for lab in held})
    top = scheme.top()
    labels[str(top)] = top
    out = []
    for name, lab in sorted(labels.items(), key=lambda kv: (kv[1].level, bin(kv[1].mask).count("1"), kv[0])):
        notes = []
        if lab in held:
            notes.append(f"{held[lab]} agent{'' if held[lab] == 1 else 's'}")
        if lab == top:
            notes.append("highest: sees everything")
        elif lab == scheme.bottom():
            notes.append("lowest")
        out.append((name, f"{name} ({', '.join(notes)})" if notes else name))
    return out


def dev_login_page(scheme: LabelScheme, choices: list[tuple[str, str]], *, roles: Iterable[str], next_path: str,
                   error: str | None = None, handle: str = "", clearance: str = "",
                   picked: Iterable[str] = ("employee",), form_token: str = "") -> str:
    """The dev login form: a handle, who to sign in as (presets), roles and a clearance picked from a list;
    ``form_token`` is the login CSRF token (``sso.controllers_auth.login_csrf_cookie``)."""
    top, bottom = str(scheme.top()), str(scheme.bottom())
    chosen = set(picked)
    current = clearance or bottom
    preset = next((v for v, _, r, high in PRESETS if set(r) == chosen and (not high or current == top)), "")
    presets = "".join(
        f'<label class="choice"><input type="radio" name="preset" value="{v}" data-roles="{",".join(r)}" '
        f'data-clearance="{escape(top if high else "")}"{" checked" if v == preset else ""}> {escape(text)}</label>'
        for v, text, r, high in PRESETS)
    role_boxes = "".join(
        f'<label class="choice"><input type="checkbox" name="roles" value="{r}"{" checked" if r in chosen else ""}>'
        f" {escape(ROLE_TEXT.get(r, r))}</label>" for r in roles)
    options = "".join(f'<option value="{escape(v)}"{" selected" if v == current else ""}>{escape(t)}</option>'
                      for v, t in choices)
    err = f'<p class="card bad" role="alert">{escape(error)}</p>' if error else ""
    body = (f"<h1>Dev login</h1>{err}"
            f'<p class="card" id="dev-hint">{escape(DEMO_HINT)}</p>'
            '<form method="post" action="/auth/dev" class="card dev-login">'
            f'<input type="hidden" name="next" value="{escape(next_path)}">'
            f'<input type="hidden" name="login_csrf" value="{escape(form_token)}">'
            f'<label>Handle <input name="handle" required maxlength="100" value="{escape(handle)}" '
            'placeholder="e.g. ada" autocomplete="username"></label>'
            f"<fieldset><legend>Sign in as</legend>{presets}</fieldset>"
            f"<fieldset><legend>Roles</legend>{role_boxes}</fieldset>"
            f'<p class="field"><label for="clearance">Clearance</label><select name="clearance" id="clearance">'
            f"{options}</select></p>"
            f'<p class="muted small">Your clearance decides what you see: channels, documents and insights whose '
            f"label it covers. A label is a tier ({escape(', '.join(scheme.tiers))}) and compartments.</p>"
            '<button type="submit">Sign in</button></form>'
            '<script src="/static/sso/devlogin.js" defer></script>')
    return _page("Dev login", body, True)
