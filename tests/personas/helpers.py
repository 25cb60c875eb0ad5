"""Test data for the personas tests: a small company (four tiers, three compartments) loaded through the real
scenario service, with one document per label level that the leak-guard and retrieval tests quote from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from channels import config
from channels.services import access_channel
from personas.scenario import Scenario, parse_scenario
from personas.services_agents import page_agents
from personas.services_load import LoadReport, load_scenario_into
from workspace.actor import Actor
from workspace.services import actor_for_member, ensure_workspace, get_member, system_actor
from workspace.settings import LimitSettings

# Each document is distinctive: every one mentions "acme" so that one query matches them all.
HANDBOOK = (
    "Acme welcomes every visitor at the front desk. Badges are printed at reception and returned at the end of "
    "the day. The cafeteria opens at eight and closes after lunch service."
)
SCANNERS = (
    "Acme scanner fleet status for the north warehouse. Fourteen handheld scanners failed their battery test "
    "this week. Spare batteries arrive from the Dover depot on Thursday morning. Until then pickers share the "
    "six working scanners on the mezzanine."
)
CONTRACT = (
    "Acme carrier contract summary for the board of finance. Freight rates with Gull Carriers rise fourteen "
    "percent on the first of January. The volume rebate disappears unless we ship nine thousand pallets a "
    "quarter. Treasury expects the cash impact to reach two million dollars next year."
)
MERGER = (
    "Acme project lighthouse is the planned merger with Kestrel Logistics. Counsel expects the regulator to "
    "review the deal for six months. The exchange ratio values Kestrel at forty dollars a share. Nobody outside "
    "the steering group may learn the codename before the announcement."
)

COUNSEL_CONCERN = "losing the Kestrel deal would cut thirty one percent of our revenue"

SCENARIO = f"""\
version: 1
name: Acme Test
seed: 3
labels:
  compartments: [ops, finance, legal]
org:
  - role: Picker
    department: ops
    count: 6
    label: {{tier: internal, compartments: [ops]}}
    traits: [practical]
    concerns: ["broken scanners", "overtime"]
  - role: Accountant
    department: finance
    count: 3
    label: {{tier: confidential, compartments: [finance]}}
  - role: Counsel
    department: legal
    count: 2
    label: {{tier: restricted, compartments: [ops, finance, legal]}}
    concerns: ["{COUNSEL_CONCERN}"]
  - role: Greeter
    department: front
    count: 2
    label: {{tier: public}}
channels:
  - name: lobby
    topic: Everyone
    label: {{tier: public}}
    members: {{all: true}}
  - name: ops-floor
    topic: Warehouse floor
    label: {{tier: internal, compartments: [ops]}}
    members: {{departments: [ops], roles: [Counsel]}}
  - name: money
    topic: Finance
    label: {{tier: confidential, compartments: [finance]}}
    members: {{roles: [Accountant, Counsel]}}
  - name: boardroom
    topic: Steering group
    label: {{tier: restricted, compartments: [ops, finance, legal]}}
    members: {{roles: [Counsel]}}
documents:
  - title: Visitor handbook
    label: {{tier: public}}
    body: "{HANDBOOK}"
  - title: Scanner fleet
    label: {{tier: internal, compartments: [ops]}}
    body: "{SCANNERS}"
  - title: Carrier contract
    label: {{tier: confidential, compartments: [finance]}}
    body: "{CONTRACT}"
  - title: Project Lighthouse
    label: {{tier: restricted, compartments: [ops, finance, legal]}}
    body: "{MERGER}"
"""
EXPECTED_MEMBERSHIPS = 13 + 8 + 5 + 2  # lobby: all; ops-floor: pickers + counsel; money: 3 + 2; boardroom: 2


def scenario() -> Scenario:
    return parse_scenario(SCENARIO, "acme.yaml", Path("."))


@dataclass
class Acme:
    ws: int
    system: Actor
    report: LoadReport

    async def channel(self, name: str) -> dict[str, Any]:
        return await access_channel(self.system, name)

    async def agent(self, handle: str) -> Actor:
        rows = [a for a in await page_agents(self.ws, limit=100) if a["handle"] == handle]
        assert rows, f"no agent {handle}"
        return await actor_for_member(await get_member(self.ws, rows[0]["member_id"]))


async def load_acme(name: str = "default", agents: int | None = None) -> Acme:
    """Load the Acme scenario into workspace ``name`` (through the real services) and lift post rate limits."""
    config.configure(LimitSettings(post_rate_per_s=0, write_rate_per_s=0))
    ws = await ensure_workspace(name)
    system = await system_actor(ws)
    report = await load_scenario_into(system, scenario(), agents)
    return Acme(ws, await system_actor(ws), report)
