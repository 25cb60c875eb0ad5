"""Thin Litestar handlers of the sso domain: who am I (more routes in controllers_auth.py and controllers_audit.py)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency, Provide

from sso.middleware import SESSION_OBJ_KEY
from sso.schemas import Me
from sso.services_sessions import ResolvedSession
from workspace.actor import Actor
from workspace.web import provide_actor, requires


@get("/auth/me", tags=["auth"], summary="The signed-in person: handle, roles, clearance, dev-login flag",
     guards=[requires()], dependencies={"actor": Provide(provide_actor)})
async def me(request: Request[Any, Any, Any], actor: NamedDependency[Actor]) -> Me:
    session = dict(request.scope).get(SESSION_OBJ_KEY)
    csrf = session.csrf_token if isinstance(session, ResolvedSession) else None
    return Me(handle=actor.handle, kind=actor.kind, roles=sorted(actor.roles), clearance=str(actor.label),
              dev_login=bool(request.app.state.settings.server.dev_login), member_id=actor.member_id,
              csrf_token=csrf)
