"""Sign-in routes: /auth/login, /auth/callback, /auth/logout, /auth/backchannel-logout and the dev login.

Thin: the flows live in ``services_login`` / ``services_sessions``; here are cookies, redirects and pages.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import MediaType, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter
from litestar.response import Redirect

from sso.mapping import ROLES, NoMappedGroup
from sso.middleware import SESSION_OBJ_KEY
from sso.oidc_tokens import OIDCError
from sso.pages import clearance_choices, dev_login_page, message_page
from sso.services_humans import apply_human
from sso.services_login import LoginFlow, safe_return_to
from sso.services_sessions import (
    SESSION_COOKIE,
    NewSession,
    ResolvedSession,
    SessionPolicy,
    create_session,
    end_session,
)
from workspace.actor import Actor
from workspace.errors import ChorusError, Unavailable, ValidationFailed
from workspace.pages import PAGE_OPT
from workspace.services import ensure_workspace, get_scheme, system_actor
from workspace.web import provide_actor, request_context, requires

log = logging.getLogger("chorus.sso")
SIGN_IN_PAGE = {"public": True, **PAGE_OPT}
"""Public routes that answer a browser with a page (or a redirect to one)."""
NO_STORE = {"Cache-Control": "no-store"}


@dataclass
class AuthRuntime:
    """Per-app state the routes share: the login flow (None when OIDC is not configured) and the session policy."""

    policy: SessionPolicy
    dev_login: bool
    base_url: str
    flow: LoginFlow | None = None

    def require_flow(self) -> LoginFlow:
        if self.flow is None:
            raise Unavailable("single sign-on is not configured: set CHORUS_OIDC_ISSUER, CHORUS_OIDC_CLIENT_ID, "
                              "CHORUS_OIDC_CLIENT_SECRET and CHORUS_OIDC_ROLE_MAP (or run `chorus demo` for the "
                              "loopback-only dev login)")
        return self.flow


def _html(body: str, status: int = 200) -> Response[str]:
    return Response(body, status_code=status, media_type=MediaType.HTML, headers=NO_STORE)


def session_cookie(rt: AuthRuntime, request: Request[Any, Any, Any], new: NewSession) -> Cookie:
    secure = rt.base_url.startswith("https://") or request.url.scheme == "https"
    return Cookie(key=SESSION_COOKIE, value=new.cookie, httponly=True, secure=secure, samesite="lax", path="/",
                  max_age=rt.policy.absolute_s)


LOGIN_CSRF_COOKIE = "chorus_login_csrf"
LOGIN_CSRF_FIELD = "login_csrf"
LOGIN_CSRF_REFUSED = ("This sign-in was not sent from Chorus's own dev login page: its form token is missing or does "
                      "not match the one this browser was given (a page on another site may try to sign you in as "
                      "someone else). Open /auth/dev and sign in again.")


def login_csrf_cookie(request: Request[Any, Any, Any], token: str) -> Cookie:
    """The dev login form's token, also held in a cookie that no other site's page can send (SameSite=Strict) or
    read (HttpOnly): a form post counts only when both agree (login CSRF, double submit)."""
    return Cookie(key=LOGIN_CSRF_COOKIE, value=token, httponly=True, samesite="strict", path="/auth/dev",
                  secure=request.url.scheme == "https", max_age=3600)


def login_form_ok(request: Request[Any, Any, Any], presented: object) -> bool:
    """The post came from our own form: its token matches the cookie, and a browser's ``Origin`` (when sent) is
    this server's."""
    origin = request.headers.get("origin")
    if origin and origin.lower().split("://", 1)[-1].rstrip("/") != request.headers.get("host", "").lower():
        return False
    held = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    return bool(held) and isinstance(presented, str) and hmac.compare_digest(presented.encode(), held.encode())


def build_routes(rt: AuthRuntime) -> list[Any]:
    """The sso routes bound to ``rt`` (the dev-login ones only when it is on)."""
    deps = {"rt": Provide(lambda: rt, sync_to_thread=False)}

    @get("/auth/login", tags=["auth"], summary="Start single sign-on (redirects to the identity provider)",
         opt=SIGN_IN_PAGE, dependencies=deps)
    async def login(rt: NamedDependency[AuthRuntime],
                    next_path: Annotated[str | None, QueryParameter(name="next")] = None) -> Response[Any]:
        if rt.flow is None and rt.dev_login:
            return Redirect(path="/auth/dev", query_params={"next": safe_return_to(next_path)})
        try:
            url = await rt.require_flow().begin(next_path)
        except ChorusError as exc:
            return _html(message_page("Sign-in is unavailable", exc.message, dev_login=rt.dev_login, retry=None),
                         exc.status if exc.status >= 500 else 503)
        return Redirect(path=url, headers=NO_STORE)

    @get("/auth/callback", tags=["auth"], summary="Where the identity provider sends the browser back",
         opt=SIGN_IN_PAGE, dependencies=deps)
    async def callback(request: Request[Any, Any, Any], rt: NamedDependency[AuthRuntime]) -> Response[Any]:
        params = {k: str(v) for k, v in request.query_params.items()}
        try:
            done = await rt.require_flow().complete(params, request_context(request))
        except NoMappedGroup as exc:
            return _html(message_page("No access to Chorus", exc.message, dev_login=rt.dev_login, retry=None), 403)
        except OIDCError as exc:
            return _html(message_page("Sign-in failed", exc.message, dev_login=rt.dev_login, detail=exc.reason), 401)
        except ChorusError as exc:
            return _html(message_page("Sign-in refused", exc.message, dev_login=rt.dev_login, retry=None),
                         exc.status)
        resp: Response[Any] = Redirect(path=done.return_to, headers=NO_STORE)
        resp.set_cookie(session_cookie(rt, request, done.session))
        return resp

    @post("/auth/logout", tags=["auth"], summary="Sign out (form post with the CSRF token); also at the provider",
          guards=[requires()], dependencies={**deps, "actor": Provide(provide_actor)}, status_code=303)
    async def logout(request: Request[Any, Any, Any], rt: NamedDependency[AuthRuntime],
                     actor: NamedDependency[Actor]) -> Response[Any]:
        session = dict(request.scope).get(SESSION_OBJ_KEY)
        target = "/"
        if isinstance(session, ResolvedSession):
            await end_session(actor, session.ref)
            if rt.flow is not None:
                target = rt.flow.end_session_url(session.id_token, f"{rt.base_url}/") or "/"
        resp: Response[Any] = Redirect(path=target, status_code=303, headers=NO_STORE)
        resp.delete_cookie(SESSION_COOKIE, path="/")
        return resp

    @post("/auth/backchannel-logout", tags=["auth"], summary="OIDC back-channel logout (the provider posts a token)",
          opt={"public": True}, dependencies=deps, status_code=200)
    async def backchannel_logout(request: Request[Any, Any, Any], rt: NamedDependency[AuthRuntime]) -> Response[Any]:
        form = await request.form()
        token = form.get("logout_token")
        if not isinstance(token, str) or not token:
            return Response({"error": "invalid_request", "error_description": "logout_token is required"},
                            status_code=400, headers=NO_STORE)
        try:
            ended = await rt.require_flow().backchannel_logout(token)
        except OIDCError as exc:
            log.warning("back-channel logout refused: %s (%s)", exc.reason, exc.message)
            return Response({"error": "invalid_request", "error_description": exc.message}, status_code=400,
                            headers=NO_STORE)
        return Response({"ended_sessions": len(ended)}, headers=NO_STORE)

    routes: list[Any] = [login, callback, logout, backchannel_logout]
    if rt.dev_login:
        routes += dev_routes(deps)
    return routes


def dev_routes(deps: dict[str, Provide]) -> list[Any]:
    """The loopback-only dev login (``sso.domain`` refuses to start it on any other bind address)."""

    @get("/auth/dev", tags=["auth"], summary="Dev login form (demo only, loopback only)", opt=SIGN_IN_PAGE,
         dependencies=deps)
    async def dev_form(request: Request[Any, Any, Any],
                       next_path: Annotated[str | None, QueryParameter(name="next")] = None) -> Response[str]:
        ws = await ensure_workspace()
        scheme = await get_scheme(ws)
        token = secrets.token_urlsafe(32)
        resp = _html(dev_login_page(scheme, await clearance_choices(ws, scheme), roles=ROLES,
                                    next_path=safe_return_to(next_path), form_token=token))
        resp.set_cookie(login_csrf_cookie(request, token))
        return resp

    @post("/auth/dev", tags=["auth"], summary="Dev login: become a person with the roles and clearance you pick",
          opt={"public": True}, dependencies=deps, status_code=303)
    async def dev_submit(request: Request[Any, Any, Any], rt: NamedDependency[AuthRuntime]) -> Response[Any]:
        form = await request.form()
        if not login_form_ok(request, form.get(LOGIN_CSRF_FIELD)):
            return _html(message_page("Sign-in refused", LOGIN_CSRF_REFUSED, dev_login=True, retry="/auth/dev"), 403)
        handle = str(form.get("handle") or "").strip().lower()
        roles = frozenset(str(r) for r in form.getall("roles", []))
        clearance = str(form.get("clearance") or "").strip()
        next_path = safe_return_to(str(form.get("next") or "/"))
        ws = await ensure_workspace()
        scheme = await get_scheme(ws)
        try:
            if not handle:
                raise ValidationFailed("handle is required: pick a name such as 'ada'", field="handle")
            label = scheme.parse(clearance)
            system = (await system_actor(ws, handle="dev-login")).with_context(request_context(request))
            member_id = await apply_human(system, handle, handle, roles, label)
            new = await create_session(member_id, rt.policy, kind="dev", action="login.dev",
                                       context=request_context(request),
                                       details={"handle": handle, "picked_roles": sorted(roles),
                                                "picked_clearance": str(label)})
        except ChorusError as exc:
            page = dev_login_page(scheme, await clearance_choices(ws, scheme), roles=ROLES, next_path=next_path,
                                  error=exc.message, handle=handle, clearance=clearance, picked=roles,
                                  form_token=str(form.get(LOGIN_CSRF_FIELD)))
            return _html(page, exc.status)
        resp: Response[Any] = Redirect(path=next_path, status_code=303, headers=NO_STORE)
        resp.set_cookie(session_cookie(rt, request, new))
        return resp

    return [dev_form, dev_submit]

