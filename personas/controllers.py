"""Thin Litestar handlers of the personas domain: the admin API (agents, roles, tokens, kill switches, documents,
scenario import, preview) and context search for agents and people."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter

from channels.services import access_channel
from personas import services_agents, services_control
from personas.context import retrieval
from personas.context.documents import get_document, ingest_document, list_documents, plant_canaries
from personas.scenario import parse_scenario
from personas.schemas import DocumentIn, IssuedToken, LabelChange, ScenarioIn, SwitchIn
from personas.services_load import load_scenario_into
from personas.tables import PersonaRole
from sso import services_tokens
from workspace.actor import Actor
from workspace.services import actor_for_member, get_member
from workspace.web import agent_or_human, provide_actor, requires

ChannelRef = Annotated[str, QueryParameter(description="channel name or id", min_length=1, max_length=80)]


def _channel_ref(value: str) -> int | str:
    return int(value) if value.isdigit() else value


class AdminAgentsController(Controller):
    path = "/api/admin"
    tags = ["admin: agents"]
    guards = [requires("admin")]
    dependencies = {"actor": Provide(provide_actor)}

    @get("/roles", summary="Roles with their labels and agent counts")
    async def roles(self, actor: NamedDependency[Actor]) -> list[dict[str, Any]]:
        rows = await PersonaRole.select().where(PersonaRole.workspace == actor.workspace_id).order_by(PersonaRole.id)
        counts = await services_agents.count_agents(actor.workspace_id)
        return [{"id": r["id"], "name": r["name"], "department": r["department"], "agents": counts.get(r["name"], 0),
                 "label": str(actor.scheme.from_ints(r["label_level"], r["label_mask"]))} for r in rows]

    @patch("/roles/{role:str}", summary="Change a role's label (all its agents, at once; audited)")
    async def set_role_label(self, actor: NamedDependency[Actor], role: FromPath[str],
                             data: JSONBody[LabelChange]) -> dict[str, Any]:
        return await services_control.set_role_label(actor, role, actor.scheme.parse(data.label))

    @get("/agents", summary="Agents with personas, by member id (pass next_after as after for the next page)")
    async def agents(self, actor: NamedDependency[Actor],
                     role: Annotated[str | None, QueryParameter()] = None,
                     department: Annotated[str | None, QueryParameter()] = None,
                     after: Annotated[int, QueryParameter(ge=0)] = 0,
                     limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100) -> dict[str, Any]:
        rows = await services_agents.list_agents(actor, after=after, limit=limit, role=role, department=department)
        for r in rows:
            r["label"] = str(actor.scheme.from_ints(r["label_level"], r["label_mask"]))
        return {"agents": rows, "next_after": rows[-1]["member_id"] if len(rows) == limit else None}

    @get("/agents/{member_id:int}", summary="One agent and its persona")
    async def agent(self, actor: NamedDependency[Actor], member_id: FromPath[int]) -> dict[str, Any]:
        row = await services_agents.get_agent(actor, member_id)
        return {**row, "label": str(actor.scheme.from_ints(row["label_level"], row["label_mask"]))}

    @patch("/agents/{member_id:int}", summary="Change an agent's label (at once; audited)")
    async def set_agent_label(self, actor: NamedDependency[Actor], member_id: FromPath[int],
                              data: JSONBody[LabelChange]) -> dict[str, Any]:
        return await services_control.set_agent_label(actor, member_id, actor.scheme.parse(data.label))

    @get("/agents/{member_id:int}/preview", summary="Exactly the documents this agent can retrieve in a channel")
    async def preview(self, actor: NamedDependency[Actor], member_id: FromPath[int],
                      channel: ChannelRef) -> dict[str, Any]:
        await services_agents.get_agent(actor, member_id)
        agent = await actor_for_member(await get_member(actor.workspace_id, member_id))
        chan = await access_channel(actor, _channel_ref(channel))
        return await retrieval.preview(actor, agent, chan)

    @get("/agents/{member_id:int}/tokens", summary="An agent's tokens: prefix, created, last used, revoked")
    async def tokens(self, actor: NamedDependency[Actor], member_id: FromPath[int]) -> list[dict[str, Any]]:
        return await services_tokens.list_agent_tokens(actor, member_id)

    @post("/agents/{member_id:int}/tokens", summary="Issue a new token (rotates: previous tokens stop working)")
    async def issue(self, actor: NamedDependency[Actor], member_id: FromPath[int]) -> IssuedToken:
        agent = await services_agents.get_agent(actor, member_id)
        token = await services_tokens.issue_agent_token(actor, member_id)
        return IssuedToken(member_id=member_id, handle=agent["handle"], token=token)

    @delete("/agents/{member_id:int}/tokens", status_code=200, summary="Revoke every token of an agent")
    async def revoke(self, actor: NamedDependency[Actor], member_id: FromPath[int]) -> dict[str, int]:
        await services_agents.get_agent(actor, member_id)
        return {"revoked": await services_tokens.revoke_agent_tokens(actor, member_id)}

    @get("/kill-switches", summary="Kill switches, newest first")
    async def switches(self, actor: NamedDependency[Actor],
                       active: Annotated[bool, QueryParameter()] = False) -> list[dict[str, Any]]:
        return await services_control.list_switches(actor, active_only=active)

    @post("/kill-switches", summary="Switch off one agent, a role or a department (at once; audited)")
    async def kill(self, actor: NamedDependency[Actor], data: JSONBody[SwitchIn]) -> dict[str, Any]:
        result = await services_control.kill(actor, agent=data.agent, role=data.role, department=data.department,
                                             reason=data.reason)
        return result.as_dict()

    @post("/kill-switches/revive", summary="Turn kill switches off (agents another switch covers stay off)")
    async def revive(self, actor: NamedDependency[Actor], data: JSONBody[SwitchIn]) -> dict[str, Any]:
        result = await services_control.revive(actor, agent=data.agent, role=data.role, department=data.department)
        return result.as_dict()


class AdminContextController(Controller):
    path = "/api/admin"
    tags = ["admin: context"]
    guards = [requires("admin")]
    dependencies = {"actor": Provide(provide_actor)}

    @get("/documents", summary="Documents your label dominates, newest first")
    async def documents(self, actor: NamedDependency[Actor]) -> list[dict[str, Any]]:
        return await list_documents(actor)

    @post("/documents", summary="Ingest one document (Markdown or text) with a label")
    async def ingest(self, actor: NamedDependency[Actor], data: JSONBody[DocumentIn]) -> dict[str, Any]:
        result = await ingest_document(actor, data.title, data.body, actor.scheme.parse(data.label))
        return result.as_dict()

    @get("/documents/{document_id:int}", summary="One document with its body")
    async def document(self, actor: NamedDependency[Actor], document_id: FromPath[int]) -> dict[str, Any]:
        return await get_document(actor, document_id)

    @post("/canaries", summary="Plant one canary marker per document label (once) and list them")
    async def canaries(self, actor: NamedDependency[Actor]) -> list[dict[str, Any]]:
        return await plant_canaries(actor)

    @post("/scenarios", summary="Import a scenario (YAML text, documents inline); idempotent")
    async def import_scenario(self, actor: NamedDependency[Actor], data: JSONBody[ScenarioIn]) -> dict[str, Any]:
        with tempfile.TemporaryDirectory() as empty:  # uploaded scenarios may not read server files
            scenario = parse_scenario(data.yaml, "upload.yaml", Path(empty))
        report = await load_scenario_into(actor, scenario, data.agents)
        return report.as_dict()


class ContextController(Controller):
    path = "/api/context"
    tags = ["context"]
    guards = [agent_or_human]
    dependencies = {"actor": Provide(provide_actor)}

    @get("/search", opt={"agents": True},
         summary="Passages you may read that the channel may carry, best first (audited)")
    async def search(self, actor: NamedDependency[Actor], channel: ChannelRef,
                     q: Annotated[str, QueryParameter(min_length=1, max_length=500)],
                     limit: Annotated[int, QueryParameter(ge=1, le=20)] = 5) -> dict[str, Any]:
        chan = await access_channel(actor, _channel_ref(channel))
        chunks = await retrieval.retrieve(actor, q, chan, limit)
        return {"channel": chan["name"], "scope": str(retrieval.scope(actor, chan)),
                "chunks": [c.as_dict() for c in chunks]}


ROUTES = [AdminAgentsController, AdminContextController, ContextController]
