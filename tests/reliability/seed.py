"""Load-test data through the real services: one workspace, N channels, M agents (personas' bulk generation),
memberships (agent i joins channel i mod N) and one token per agent (sso's bulk issue)."""

from __future__ import annotations

from dataclasses import dataclass

from channels import services as ch
from personas.scenario import Role
from personas.services_agents import create_agents, page_agents
from sso.services_tokens import issue_agent_tokens_bulk
from workspace import services
from workspace.db import Database
from workspace.labels import LabelScheme
from workspace.settings import DatabaseSettings, Secret

SCHEME = LabelScheme(compartments=("ops", "finance"))


@dataclass(frozen=True, slots=True)
class LoadClient:
    member_id: int
    token: str
    channel_id: int


async def seed(database_url: str, agents: int, channels: int) -> list[LoadClient]:
    """Create the load population in the (migrated, empty) database at ``database_url``."""
    db = Database(DatabaseSettings(url=Secret(database_url)))
    await db.start()
    services.forget_schemes()
    try:
        ws = await services.ensure_workspace("default", SCHEME)
        system = await services.system_actor(ws)
        internal = system.scheme.parse("internal")
        chans = [await ch.create_channel(system, f"load-{i:03d}", "load test", internal) for i in range(channels)]
        await create_agents(system, Role(role="Load Agent", department="load", count=agents, label=internal))
        ids: list[int] = []
        while len(ids) < agents:
            page = await page_agents(ws, after=ids[-1] if ids else 0, limit=5000)
            if not page:
                break
            ids.extend(int(r["member_id"]) for r in page)
        for i, channel in enumerate(chans):
            await ch.add_members_bulk(system, channel["id"], ids[i::channels])
        tokens = await issue_agent_tokens_bulk(system, ids)
        return [LoadClient(m, tokens[m], int(chans[i % channels]["id"])) for i, m in enumerate(ids)]
    finally:
        await db.stop()
        services.forget_schemes()
