"""Loading a checked scenario into a workspace: labels, roles and agents, channels, memberships, documents.

Idempotent by names and handles: a second load creates only what is missing and says so in the report. Used by
``chorus scenario load``, the admin import API and page, ``chorus simulate`` and ``chorus demo``.
:func:`plan_scenario_load` says what a load would create without writing anything (the import page's dry run). An
admin loads (or plans) only a scenario whose every role, channel and document label its clearance dominates:
anything above it refuses the whole load, and the dry run too (audited), before the workspace changes at all, its
label scheme included.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from personas.context.documents import NewDocument, ingest_documents
from personas.scenario import Scenario
from personas.services_agents import create_agents
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.audit import Entity
from workspace.authority import above, require_authority
from workspace.errors import Forbidden, NotFound, ValidationFailed
from workspace.labels import Label, LabelScheme, Stored, dominates_sql
from workspace.services import extend_scheme, get_scheme

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


@dataclass
class LoadPlan:
    """What :func:`load_scenario_into` would create now (nothing is written to make it)."""

    scenario: str
    agents_target: int
    compartments: list[str] = field(default_factory=list)
    roles: list[dict[str, Any]] = field(default_factory=list)
    """Every role: ``{name, department, label, new, existing, to_create}``."""
    channels: list[dict[str, Any]] = field(default_factory=list)
    """Channels to create: ``{name, label, topic}``."""
    channels_existing: int = 0
    documents: list[dict[str, Any]] = field(default_factory=list)
    """Documents to ingest: ``{title, label, bytes}``."""
    documents_existing: int = 0
    loaded: list[str] = field(default_factory=list)
    """Scenarios whose documents this workspace already holds."""
    warnings: list[str] = field(default_factory=list)

    @property
    def agents_to_create(self) -> int:
        return sum(int(r["to_create"]) for r in self.roles)

    @property
    def changes(self) -> bool:
        return bool(self.compartments or self.agents_to_create or any(r["new"] for r in self.roles)
                    or self.channels or self.documents)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__} | {
            "agents_to_create": self.agents_to_create, "changes": self.changes}


async def loaded_scenarios(workspace_id: int) -> list[str]:
    """Names of the scenarios whose documents this workspace holds (their sources are ``<scenario>:<path>``)."""
    rows = await dbmod.current().fetch("SELECT DISTINCT source FROM personas_document WHERE workspace = {}",
                                       workspace_id)
    return sorted({str(r["source"]).split(":", 1)[0] for r in rows if ":" in str(r["source"])})


async def plan_scenario_load(actor: Actor, scenario: Scenario, agents: int | None = None) -> LoadPlan:
    """The dry run of :func:`load_scenario_into`: the same comparisons against the workspace, no writes (but a
    scenario above the actor's clearance is refused and the refusal audited, as the load would)."""
    actor.require_role("admin")
    sized = scenario.scaled(agents) if agents else scenario
    await require_scenario_authority(actor, sized, attempted="scenario.planned")
    plan = LoadPlan(scenario.name, sized.agents, loaded=await loaded_scenarios(actor.workspace_id))
    if plan.loaded and scenario.name not in plan.loaded:
        plan.warnings.append(f"this workspace already holds scenario {', '.join(map(repr, plan.loaded))}; importing "
                             f"{scenario.name!r} adds a second company's roles, channels and documents beside it")
    current = await get_scheme(actor.workspace_id)
    actor = replace(actor, scheme=current)  # decode what is stored with the stored scheme, however old the actor
    database = dbmod.current()
    members = await database.fetch("SELECT COUNT(*) AS n FROM chorus_member WHERE workspace = {}",
                                   actor.workspace_id)
    if tuple(scenario.scheme.tiers) != current.tiers and int(members[0]["n"]):
        raise ValidationFailed(f"this workspace's tiers are {', '.join(current.tiers)}; the scenario lists "
                               f"{', '.join(scenario.scheme.tiers)}. Tiers cannot change once members exist: use a "
                               "new workspace", field="labels.tiers")
    scheme = LabelScheme(tuple(scenario.scheme.tiers), current.compartments).extended(scenario.scheme.compartments)
    plan.compartments = [c for c in scheme.compartments if c not in current.compartments]

    stored = {r["name"]: r for r in await database.fetch(
        "SELECT r.name, r.department, r.label_level, r.label_mask, (SELECT MAX(p.number) FROM personas_persona p "
        "WHERE p.role = r.id) AS top FROM personas_role r WHERE r.workspace = {}", actor.workspace_id)}
    for role in sized.roles:
        have = stored.get(role.role)
        existing = int(have["top"] or 0) if have else 0
        label = scheme.from_ints(have["label_level"], have["label_mask"]) if have else _remap(scheme, role.label)
        plan.roles.append({"name": role.role, "department": role.department, "label": str(label),
                           "new": have is None, "existing": existing, "to_create": max(0, role.count - existing)})

    from channels.services import access_channel

    for spec in sized.channels:
        label = _remap(scheme, spec.label)
        try:
            have = await access_channel(actor, spec.name)  # the same lookup the load makes
        except NotFound:
            plan.channels.append({"name": spec.name, "label": str(label), "topic": spec.topic})
            continue
        except Forbidden as exc:
            plan.warnings.append(f"{exc.message}: the import would stop there")
            continue
        plan.channels_existing += 1
        if (int(have["label_level"]), int(have["label_mask"])) != (label.level, label.mask):
            plan.warnings.append(f"channel {spec.name!r} exists with label {have['label']}, not {label} as in "
                                 "the scenario; it would be left as it is")

    digests = {(r["sha256"], int(r["label_level"]), int(r["label_mask"])) for r in await database.fetch(
        "SELECT sha256, label_level, label_mask FROM personas_document WHERE workspace = {}", actor.workspace_id)}
    for doc in sized.documents:
        label = _remap(scheme, doc.label)
        if (hashlib.sha256(doc.body.encode()).hexdigest(), label.level, label.mask) in digests:
            plan.documents_existing += 1
        else:
            plan.documents.append({"title": doc.title, "label": str(label), "bytes": len(doc.body.encode())})
    return plan


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
    await require_scenario_authority(actor, sized)
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


async def require_scenario_authority(actor: Actor, scenario: Scenario, *, attempted: str = "scenario.loaded") -> None:
    """Refuse (audited) a scenario that would create a role, channel or document above ``actor``'s clearance; no
    write happens before this check. Labels are compared by name in the workspace's scheme as the load would extend
    it (in memory here), so a compartment the workspace does not have yet is one the actor does not hold. A scenario
    whose tiers differ from the workspace's is left to :func:`extend_scheme`, which refuses it."""
    if actor.kind == "system" or scenario.scheme.tiers != actor.scheme.tiers:
        return
    scheme = actor.scheme.extended(scenario.scheme.compartments)
    mine = replace(actor, scheme=scheme, label=_remap(scheme, actor.label))
    named = ([(f"role {r.role!r}", r.label) for r in scenario.roles]
             + [(f"channel {c.name!r}", c.label) for c in scenario.channels]
             + [(f"document {d.title!r}", d.label) for d in scenario.documents])
    higher = [(what, label) for what, raw in named for label in [_remap(scheme, raw)] if above(mine, [label])]
    if not higher:
        return
    shown = "; ".join(f"{what} ({label})" for what, label in higher[:10])
    more = f" and {len(higher) - 10} more" if len(higher) > 10 else ""
    new = [c for c in scheme.compartments if c not in actor.scheme.compartments
           and any(c in label.compartments for _, label in higher)]
    hint = (f"The compartment{'s' if len(new) > 1 else ''} {', '.join(new)} {'are' if len(new) > 1 else 'is'} new to "
            "this workspace, so no one is cleared for them yet: an operator loads this scenario with `chorus "
            "scenario load`, which acts as the system" if new else "")
    await require_authority(mine, attempted, Entity("scenario", scenario.name[:120]),
                            [label for _, label in higher],
                            doing=f"load scenario {scenario.name!r}, which creates {shown}{more}",
                            details={"above": len(higher), "new_compartments": new}, hint=hint)


async def _eligible_members(role_ids: list[int], channel: dict[str, Any]) -> tuple[list[int], int]:
    """Agent ids of ``role_ids`` whose labels dominate the channel's, and how many do not."""
    if not role_ids:
        return [], 0
    marks = ", ".join("{}" for _ in role_ids)
    may_read, label_args = dominates_sql("m", Stored.of(channel))
    rows = await dbmod.current().fetch(
        f"SELECT m.id, CASE WHEN {may_read} THEN 1 ELSE 0 END AS ok "
        f"FROM personas_persona p JOIN chorus_member m ON m.id = p.member WHERE p.role IN ({marks}) ORDER BY m.id",
        *label_args, *role_ids)
    ok = [int(r["id"]) for r in rows if int(r["ok"])]
    return ok, len(rows) - len(ok)
