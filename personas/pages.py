"""Admin pages for agents: the agent list (keyset pages over up to 100,000 agents, filters), one agent's page with
"what this agent can see" per channel, label changes, tokens and kill switches (confirmed first). Roles and import
live in ``pages_admin.py``, documents in ``pages_documents.py``, runs in ``runtime/pages.py``. Every change goes
through the personas/sso services, which audit it.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect

from channels.services import access_channel, list_channels, member_channels
from personas import services_agents, services_control
from personas.context import retrieval
from personas.tables import PersonaRole
from sso import services_tokens
from workspace.actor import Actor
from workspace.errors import ChorusError, NotFound
from workspace.pages import PAGE_EXCEPTION_HANDLERS, PAGE_OPT, page
from workspace.services import actor_for_member, get_member
from workspace.web import provide_actor, requires

PAGE_SIZE = 50
NO_STORE = {"Cache-Control": "no-store"}
Opt = Annotated[str | None, QueryParameter()]
NOTICES = {
    "label": "Label changed. It applies at once: channels the agent no longer dominates dropped it.",
    "revoked": "Every token of this agent was revoked; its live connections are refused from now on.",
    "killed": "Kill switch on: the agent is switched off and its sockets were closed.",
    "revived": "Kill switch off: the agent is active again (unless a role or department switch still covers it).",
}


async def roles_of(actor: Actor) -> list[dict[str, Any]]:
    """The workspace's roles with labels and agent counts (the same view as GET /api/admin/roles)."""
    rows = await PersonaRole.select().where(PersonaRole.workspace == actor.workspace_id).order_by(PersonaRole.name)
    counts = await services_agents.count_agents(actor.workspace_id)
    return [{"id": r["id"], "name": r["name"], "department": r["department"], "agents": counts.get(r["name"], 0),
             "label": str(actor.scheme.from_ints(r["label_level"], r["label_mask"]))} for r in rows]


def _labelled(actor: Actor, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for r in rows:
        r["label"] = str(actor.scheme.from_ints(r["label_level"], r["label_mask"]))
    return rows


async def _page_of_agents(actor: Actor, after: int, role: str | None, department: str | None,
                          status: str | None, prefix: str | None = None) -> tuple[list[dict[str, Any]], int | None]:
    """One page after member id ``after``; returns (agents, next_after). Every filter runs in the query."""
    active = {"active": True, "off": False}.get(status or "")
    rows = await services_agents.list_agents(actor, after=after, limit=PAGE_SIZE + 1, role=role,
                                             department=department, active=active, handle_prefix=prefix)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return _labelled(actor, rows), (rows[-1]["member_id"] if more else None)


@get("/admin/agents", name="admin-agents")
async def agent_list(request: Request[Any, Any, Any], actor: NamedDependency[Actor], q: Opt = None,
                     role: Opt = None, department: Opt = None, status: Opt = None,
                     after: Annotated[int, QueryParameter(ge=0)] = 0) -> Response[Any]:
    """Agents by member id, PAGE_SIZE at a time; ``q`` is a handle (an exact one opens it; else a prefix), a role
    or a department."""
    roles = await roles_of(actor)
    departments = sorted({r["department"] for r in roles})
    note = None
    prefix: str | None = None
    query = (q or "").strip()
    if query:
        try:
            found = await services_agents.agent_by_handle(actor, query.lower())
            return Redirect(path=f"/admin/agents/{found['member_id']}", status_code=303)
        except NotFound:
            match_role = next((r["name"] for r in roles if r["name"].lower() == query.lower()), None)
            match_dept = next((d for d in departments if d.lower() == query.lower()), None)
            if match_role:
                role = match_role
            elif match_dept:
                department = match_dept
            else:
                prefix = query.lower()
    role = role or None
    department = department or None
    status = status if status in {"active", "off"} else None
    agents, next_after = await _page_of_agents(actor, after, role, department, status, prefix)
    if prefix and not agents and not after:
        note = (f"No agent handle starts with {query!r}, and no role or department has that name. Search by a "
                "handle or its beginning (e.g. assembly-technician-00), a role name or a department.")
    filters = {k: v for k, v in (("role", role), ("department", department), ("status", status), ("q", prefix))
               if v}
    return page(request, "personas/agents.html", agents=agents, roles=roles, departments=departments,
                total=sum(r["agents"] for r in roles), filters=filters, q=query, note=note, after=after,
                next_after=next_after)


async def _agent_context(actor: Actor, member_id: int, channel: str | None) -> dict[str, Any]:
    agent = await services_agents.get_agent(actor, member_id)
    agent["label"] = str(actor.scheme.from_ints(agent["label_level"], agent["label_mask"]))
    agent_actor = await actor_for_member(await get_member(actor.workspace_id, member_id))
    every = await list_channels(actor)
    readable = {c["id"] for c in every}  # a channel above the admin's clearance is counted, not named
    joined = await member_channels(agent_actor)
    memberships = [c for c in joined if c["id"] in readable]
    for c in memberships:
        c["scope"] = str(retrieval.scope(agent_actor, c))
    selected = channel or (memberships[0]["name"] if memberships else (every[0]["name"] if every else None))
    preview = None
    if selected:
        chan = await access_channel(actor, int(selected) if selected.isdigit() else selected)
        preview = await retrieval.preview(actor, agent_actor, chan)
    switches = [s for s in await services_control.list_switches(actor, active_only=True)
                if (s["scope"], s["target"]) in {("agent", agent["handle"]), ("role", agent["role"]),
                                                 ("department", agent["department"])}]
    return {"agent": agent, "memberships": memberships, "hidden_memberships": len(joined) - len(memberships),
            "channels": every, "selected": selected,
            "preview": preview, "tokens": await services_tokens.list_agent_tokens(actor, member_id),
            "switches": switches, "scheme": actor.scheme}


@get("/admin/agents/{member_id:int}", name="admin-agent")
async def agent_page(request: Request[Any, Any, Any], actor: NamedDependency[Actor], member_id: FromPath[int],
                     channel: Opt = None, done: Opt = None) -> Response[Any]:
    """One agent: persona, label, channels with what it may draw on in each, the documents preview, tokens."""
    ctx = await _agent_context(actor, member_id, channel)
    return page(request, "personas/agent.html", notice=NOTICES.get(done or ""), **ctx)


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    form = await request.form()
    return {k: str(v).strip() for k, v in form.items() if isinstance(v, str)}


async def _redisplay(request: Request[Any, Any, Any], actor: Actor, member_id: int, exc: ChorusError,
                     channel: str | None = None, **extra: Any) -> Response[Any]:
    """Show the agent page again with what went wrong (and what the admin typed)."""
    ctx = await _agent_context(actor, member_id, channel)
    return page(request, "personas/agent.html", status_code=exc.status, error=exc.message, **ctx, **extra)


def _back(member_id: int, done: str, channel: str | None) -> Redirect:
    suffix = f"&channel={channel}" if channel else ""
    return Redirect(path=f"/admin/agents/{member_id}?done={done}{suffix}", status_code=303)


@post("/admin/agents/{member_id:int}/label", name="admin-agent-label")
async def change_label(request: Request[Any, Any, Any], actor: NamedDependency[Actor],
                       member_id: FromPath[int]) -> Response[Any]:
    form = await _form(request)
    channel = form.get("channel") or None
    try:
        await services_control.set_agent_label(actor, member_id, actor.scheme.parse(form.get("label", "")))
    except ChorusError as exc:
        return await _redisplay(request, actor, member_id, exc, channel, typed_label=form.get("label", ""))
    return _back(member_id, "label", channel)


@post("/admin/agents/{member_id:int}/tokens", name="admin-agent-token")
async def issue_token(request: Request[Any, Any, Any], actor: NamedDependency[Actor],
                      member_id: FromPath[int]) -> Response[Any]:
    """Issue (rotate) a token and show it on this response only: it is never stored or shown again."""
    await services_agents.get_agent(actor, member_id)
    token = await services_tokens.issue_agent_token(actor, member_id)
    ctx = await _agent_context(actor, member_id, None)
    response = page(request, "personas/agent.html", new_token=token, **ctx)
    response.headers.update(NO_STORE)
    return response


@post("/admin/agents/{member_id:int}/tokens/revoke", name="admin-agent-revoke")
async def revoke_tokens(actor: NamedDependency[Actor], member_id: FromPath[int]) -> Response[Any]:
    await services_agents.get_agent(actor, member_id)
    await services_tokens.revoke_agent_tokens(actor, member_id)
    return _back(member_id, "revoked", None)


@post("/admin/agents/{member_id:int}/kill", name="admin-agent-kill", status_code=200)
async def kill_agent(request: Request[Any, Any, Any], actor: NamedDependency[Actor],
                     member_id: FromPath[int]) -> Response[Any]:
    """Switch one agent off, after a page that confirms it (``confirm=yes``)."""
    form = await _form(request)
    agent = await services_agents.get_agent(actor, member_id)
    if form.get("confirm") != "yes":
        preview = await services_control.preview_switch(actor, "kill", agent=agent["handle"])
        return page(request, "personas/switch_confirm.html", preview=preview, reason=form.get("reason", ""),
                    action_url=f"/admin/agents/{member_id}/kill", back=f"/admin/agents/{member_id}")
    await services_control.kill(actor, agent=agent["handle"], reason=form.get("reason", ""))
    return _back(member_id, "killed", None)


@post("/admin/agents/{member_id:int}/revive", name="admin-agent-revive")
async def revive_agent(actor: NamedDependency[Actor], member_id: FromPath[int]) -> Response[Any]:
    agent = await services_agents.get_agent(actor, member_id)
    await services_control.revive(actor, agent=agent["handle"])
    return _back(member_id, "revived", None)


HANDLERS = [agent_list, agent_page, change_label, issue_token, revoke_tokens, kill_agent, revive_agent]


def router(handlers: list[Any]) -> Router:
    """Admin pages: signed-in admins only; anonymous browsers are sent to sign in."""
    return Router(path="/", route_handlers=handlers, guards=[requires("admin")],
                  dependencies={"actor": Provide(provide_actor)}, exception_handlers=PAGE_EXCEPTION_HANDLERS,
                  include_in_schema=False, opt=PAGE_OPT)
