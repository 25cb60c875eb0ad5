"""Loading a checked scenario into a workspace: labels, roles and agents, channels, memberships, documents.

Idempotent by names and handles: a second load creates only what is missing and says so in the report. Used by
``chorus scenario load``, the admin import API and (later) ``chorus simulate`` / ``chorus demo``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from personas.scenario_model import Scenario
from personas.services_agents import create_agents
from personas.services_documents import NewDocument, ingest_documents
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.errors import NotFound
from workspace.labels import Label, LabelScheme
from workspace.services import extend_scheme

Progress = Callable[[int], None]


@dataclass
class LoadReport:
    workspace_id: int
    scenario: str
    agents_target: int = 0
    roles_created: int = 0
    agents_created: int = 0
    agents_existing: int = 0
    channels_created: int = 0
    channels_existing: int = 0
    memberships_added: int = 0
    documents_created: int = 0
    documents_existing: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.roles_created or self.agents_created or self.channels_created or self.memberships_added
                    or self.documents_created)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__} | {"changed": self.changed}

    def lines(self) -> list[str]:
        """What the load did, for people."""
        out = [
            f"scenario {self.scenario!r} in workspace {self.workspace_id} ({self.seconds:.1f} s)",
            f"  agents:      {self.agents_created} created, {self.agents_existing} already there "
            f"(target {self.agents_target}; {self.roles_created} new roles)",
            f"  channels:    {self.channels_created} created, {self.channels_existing} already there",
            f"  memberships: {self.memberships_added} added",
            f"  documents:   {self.documents_created} ingested, {self.documents_existing} already there",
        ]
        if not self.changed:
            out.append("  nothing to do: everything in the scenario was already loaded")
        out.extend(f"  warning: {w}" for w in self.warnings)
        return out


def load_steps(scenario: Scenario, agents: int | None = None) -> int:
    """How many progress steps :func:`load_scenario_into` reports (one per agent, channel and document)."""
    sized = scenario.scaled(agents) if agents else scenario
    return sized.agents + len(sized.channels) + len(sized.documents)


def _remap(scheme: LabelScheme, label: Label) -> Label:
    """The same tier and compartments in the workspace's scheme (its bit positions may differ from the file's)."""
    return scheme.label(label.tier, label.compartments)


async def load_scenario_into(actor: Actor, scenario: Scenario, agents: int | None = None,
                             progress: Progress | None = None) -> LoadReport:
    """Create ``scenario`` in ``actor``'s workspace (admins and the system), scaled to ``agents`` if given.

    Each part commits on its own (agents in chunks), so an interrupted load is completed by running it again.
    """
    from channels.services import access_channel, add_members_bulk, create_channel

    actor.require_role("admin")
    started = time.perf_counter()
    sized = scenario.scaled(agents) if agents else scenario
    report = LoadReport(actor.workspace_id, scenario.name, agents_target=sized.agents)
    scheme = await extend_scheme(actor, scenario.scheme.tiers, scenario.scheme.compartments)
    actor = replace(actor, scheme=scheme,
                    label=scheme.top() if actor.kind == "system" else _remap(scheme, actor.label))

    role_ids: dict[str, int] = {}
    for role in sized.roles:
        result = await create_agents(actor, replace(role, label=_remap(scheme, role.label)), seed=scenario.seed or 0,
                                     progress=progress)
        role_ids[role.role] = result.role_id
        report.roles_created += int(result.role_created)
        report.agents_created += result.created
        report.agents_existing += result.existing
        if result.existing > role.count:
            report.warnings.append(f"role {role.role!r} already has {result.existing} agents, more than the "
                                   f"{role.count} asked for; none were removed")

    for spec in sized.channels:
        label = _remap(scheme, spec.label)
        try:
            channel = await access_channel(actor, spec.name)
            report.channels_existing += 1
            if (channel["label_level"], channel["label_mask"]) != (label.level, label.mask):
                report.warnings.append(f"channel {spec.name!r} exists with label {channel['label']}, not {label} as "
                                       "in the scenario; it was left as it is")
        except NotFound:
            channel = await create_channel(actor, spec.name, spec.topic, label)
            report.channels_created += 1
        ids = [role_ids[r.role] for r in sized.role_members(spec)]
        members, below = await _eligible_members(ids, channel)
        if below:
            report.warnings.append(f"{below} agent(s) of channel {spec.name!r}'s roles have labels below "
                                   f"{channel['label']} (changed since an earlier load) and were not added")
        report.memberships_added += await add_members_bulk(actor, int(channel["id"]), members)
        if progress:
            progress(1)

    docs = [NewDocument(d.title, d.body, _remap(scheme, d.label), f"{scenario.name}:{d.source}")
            for d in sized.documents]
    for ingested in await ingest_documents(actor, docs, progress=progress):
        if ingested.created:
            report.documents_created += 1
        else:
            report.documents_existing += 1
    report.seconds = round(time.perf_counter() - started, 3)
    return report


async def _eligible_members(role_ids: list[int], channel: dict[str, Any]) -> tuple[list[int], int]:
    """Agent ids of ``role_ids`` whose labels dominate the channel's, and how many do not."""
    if not role_ids:
        return [], 0
    marks = ", ".join("{}" for _ in role_ids)
    rows = await dbmod.current().fetch(
        "SELECT m.id, CASE WHEN m.label_level >= {} AND ({} & ~m.label_mask) = 0 THEN 1 ELSE 0 END AS ok "
        f"FROM personas_persona p JOIN chorus_member m ON m.id = p.member WHERE p.role IN ({marks}) ORDER BY m.id",
        channel["label_level"], channel["label_mask"], *role_ids)
    ok = [int(r["id"]) for r in rows if int(r["ok"])]
    return ok, len(rows) - len(ok)
