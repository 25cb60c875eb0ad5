"""Admin control over agents: kill switches (per agent, role or department) and label changes (per agent or role),
each effective at once: rows change in bulk, channels drop members that no longer dominate them, hooks fire.

Within the admin's own clearance (``workspace.authority``): a relabel needs a clearance that dominates the label
before and after (lowering a restricted role would declassify its persona text); a revive one that dominates every
agent it may turn back on. Throwing a kill switch only takes reach away and reveals nothing, so any admin may, on any
agent: in an emergency no clearance check may stand between an admin and the off switch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from personas.services_agents import get_agent
from personas.tables import KillSwitch, PersonaRole
from workspace import audit
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.audit import Entity
from workspace.authority import require_authority
from workspace.errors import NotFound, ValidationFailed
from workspace.hooks import hooks
from workspace.labels import Label

Scope = Literal["agent", "role", "department"]
SCOPES: tuple[Scope, ...] = ("agent", "role", "department")


@dataclass(frozen=True, slots=True)
class SwitchResult:
    scope: Scope
    target: str
    members: int  # agents whose active flag changed
    member_ids: tuple[int, ...]
    switch_id: int | None

    def as_dict(self) -> dict[str, Any]:
        return {"scope": self.scope, "target": self.target, "members": self.members, "switch_id": self.switch_id}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def pick_scope(agent: str | None, role: str | None, department: str | None) -> tuple[Scope, str]:
    """Exactly one of agent handle, role name or department."""
    given = [(s, v) for s, v in zip(SCOPES, (agent, role, department), strict=True) if v]
    if len(given) != 1:
        raise ValidationFailed("name exactly one of: an agent (handle), a role or a department", field="scope")
    return given[0]


_TARGET_SQL = {
    "agent": "m.handle = {}",
    "role": "r.name = {}",
    "department": "p.department = {}",
}
_SCOPE_SQL = ("SELECT m.id, m.active, m.label_level, m.label_mask FROM personas_persona p "
              "JOIN chorus_member m ON m.id = p.member "
              "JOIN personas_role r ON r.id = p.role WHERE p.workspace = {} AND ")
_STILL_KILLED = (
    " AND NOT EXISTS (SELECT 1 FROM personas_kill_switch k WHERE k.workspace = p.workspace AND k.active = {} AND "
    "((k.scope = 'agent' AND k.target = m.handle) OR (k.scope = 'role' AND k.target = r.name) OR "
    "(k.scope = 'department' AND k.target = p.department)))"
)


async def _targets(actor: Actor, scope: Scope, target: str, *, exclude_killed: bool = False) -> list[dict[str, Any]]:
    sql = _SCOPE_SQL + _TARGET_SQL[scope]
    args: list[Any] = [actor.workspace_id, target]
    if exclude_killed:
        sql += _STILL_KILLED
        args.append(True)
    rows = await dbmod.current().fetch(sql, *args)
    if not rows and not exclude_killed:
        raise NotFound(f"no agents with {scope} {target!r} in this workspace; check the spelling (GET "
                       "/api/admin/agents lists agents with their roles and departments)")
    return rows


async def _set_active(ids: Sequence[int], active: bool) -> None:
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        marks = ", ".join("{}" for _ in chunk)
        await dbmod.current().fetch(f"UPDATE chorus_member SET active = {{}} WHERE id IN ({marks})", active, *chunk)


async def kill(actor: Actor, *, agent: str | None = None, role: str | None = None, department: str | None = None,
               reason: str = "") -> SwitchResult:
    """Switch agents off: their tokens and posts are refused, the runtime skips them and ``member.deactivated``
    tells channels to close their sockets now. Recorded as a kill switch (new agents of a switched-off role or
    department are created off) and audited."""
    actor.require_role("admin")
    scope, target = pick_scope(agent, role, department)
    rows = await _targets(actor, scope, target)
    changed = [int(r["id"]) for r in rows if r["active"]]
    async with dbmod.current().transaction():
        await _set_active(changed, False)
        created = await KillSwitch.insert(KillSwitch(
            workspace=actor.workspace_id, scope=scope, target=target, active=True, members=len(changed),
            reason=reason[:500], created_by=actor.handle, created_at=_now()))
        switch_id = int(created[0]["id"])
        await audit.record(actor, "agents.killed", Entity("kill_switch", switch_id), {
            "scope": scope, "target": target, "members": len(changed), "already_off": len(rows) - len(changed),
            "reason": reason[:500]})
    all_ids = [int(r["id"]) for r in rows]
    await hooks.emit("member.deactivated", workspace_id=actor.workspace_id, member_ids=all_ids,
                     member_id=all_ids[0] if len(all_ids) == 1 else None, reason="kill_switch")
    return SwitchResult(scope, target, len(changed), tuple(all_ids), switch_id)


async def revive(actor: Actor, *, agent: str | None = None, role: str | None = None,
                 department: str | None = None) -> SwitchResult:
    """Turn the matching kill switches off and reactivate their agents, except agents that another switch still
    covers (reviving a role leaves an individually killed agent off). Audited."""
    actor.require_role("admin")
    scope, target = pick_scope(agent, role, department)
    covered = await _targets(actor, scope, target)  # NotFound for a misspelt target
    await require_authority(actor, "agents.revived", Entity(scope, target),
                            {actor.scheme.from_ints(r["label_level"], r["label_mask"]) for r in covered},
                            doing=f"revive {scope} {target!r} ({len(covered)} agent{'s' if len(covered) != 1 else ''})")
    async with dbmod.current().transaction():
        switches = await KillSwitch.update({KillSwitch.active: False, KillSwitch.revived_at: _now()}).where(
            (KillSwitch.workspace == actor.workspace_id) & (KillSwitch.scope == scope)
            & (KillSwitch.target == target) & (KillSwitch.active == True)  # noqa: E712 - Piccolo needs ==
        ).returning(KillSwitch.id)
        rows = await _targets(actor, scope, target, exclude_killed=True)
        changed = [int(r["id"]) for r in rows if not r["active"]]
        await _set_active(changed, True)
        await audit.record(actor, "agents.revived", Entity(scope, target), {
            "scope": scope, "target": target, "members": len(changed),
            "switches": [int(s["id"]) for s in switches]})
    return SwitchResult(scope, target, len(changed), tuple(changed), None)


async def preview_switch(actor: Actor, action: Literal["kill", "revive"], *, agent: str | None = None,
                         role: str | None = None, department: str | None = None) -> dict[str, Any]:
    """What :func:`kill` or :func:`revive` would do now, without doing it: ``agents`` the target covers and
    ``affected``, those whose state would change (for a revive, agents no other switch keeps off)."""
    actor.require_role("admin")
    scope, target = pick_scope(agent, role, department)
    rows = await _targets(actor, scope, target)
    if action == "kill":
        affected = sum(1 for r in rows if r["active"])
    else:
        others = _STILL_KILLED.replace("k.active = {} AND",
                                       "k.active = {} AND NOT (k.scope = {} AND k.target = {}) AND")
        kept = await dbmod.current().fetch(_SCOPE_SQL + _TARGET_SQL[scope] + others, actor.workspace_id, target,
                                           True, scope, target)
        affected = sum(1 for r in kept if not r["active"])
    return {"action": action, "scope": scope, "target": target, "agents": len(rows),
            "active": sum(1 for r in rows if r["active"]), "affected": affected}


async def list_switches(actor: Actor, active_only: bool = False) -> list[dict[str, Any]]:
    actor.require_role("admin")
    query = KillSwitch.select().where(KillSwitch.workspace == actor.workspace_id)
    if active_only:
        query = query.where(KillSwitch.active == True)  # noqa: E712 - Piccolo needs ==
    return list(await query.order_by(KillSwitch.id, ascending=False))


async def set_agent_label(actor: Actor, member_id: int, label: Label) -> dict[str, Any]:
    """Change one agent's label now: channels it no longer dominates drop it; ``member.label_changed`` fires."""
    actor.require_role("admin")
    agent = await get_agent(actor, member_id)
    before = actor.scheme.from_ints(agent["label_level"], agent["label_mask"])
    await require_authority(actor, "agent.label_changed", Entity("member", member_id), [before, label],
                            doing=f"relabel agent {agent['handle']!r} from {before} to {label}")
    async with dbmod.current().transaction():
        await dbmod.current().fetch("UPDATE chorus_member SET label_level = {}, label_mask = {} WHERE id = {}",
                                    label.level, label.mask, member_id)
        await audit.record(actor, "agent.label_changed", Entity("member", member_id),
                           {"handle": agent["handle"], "from": str(before), "to": str(label)})
    removed = await drop_undominated_memberships(actor, [member_id])
    await hooks.emit("member.label_changed", workspace_id=actor.workspace_id, member_id=member_id,
                     member_ids=[member_id], label=label)
    return {"id": member_id, "handle": agent["handle"], "label": str(label), "previous": str(before),
            "removed_from": removed}


async def set_role_label(actor: Actor, role: str, label: Label) -> dict[str, Any]:
    """Change a role's label and every one of its agents' at once (same effects as :func:`set_agent_label`)."""
    actor.require_role("admin")
    rows = await PersonaRole.select().where((PersonaRole.workspace == actor.workspace_id) & (PersonaRole.name == role))
    if not rows:
        raise NotFound(f"no role {role!r} in this workspace; GET /api/admin/roles lists them")
    stored = rows[0]
    before = actor.scheme.from_ints(stored["label_level"], stored["label_mask"])
    agents = await dbmod.current().fetch(  # an agent may have been relabelled apart from its role
        "SELECT DISTINCT m.label_level, m.label_mask FROM personas_persona p JOIN chorus_member m ON m.id = p.member "
        "WHERE p.role = {}", stored["id"])
    current = [actor.scheme.from_ints(r["label_level"], r["label_mask"]) for r in agents]
    await require_authority(actor, "role.label_changed", Entity("role", stored["id"]), [before, label, *current],
                            doing=f"relabel role {role!r} (and its agents) from {before} to {label}")
    database = dbmod.current()
    async with database.transaction():
        await PersonaRole.update({PersonaRole.label_level: label.level, PersonaRole.label_mask: label.mask}).where(
            PersonaRole.id == stored["id"])
        await database.fetch(
            "UPDATE chorus_member SET label_level = {}, label_mask = {} WHERE id IN "
            "(SELECT member FROM personas_persona WHERE role = {})", label.level, label.mask, stored["id"])
        ids = [int(r["member"]) for r in await database.fetch(
            "SELECT member FROM personas_persona WHERE role = {} ORDER BY member", stored["id"])]
        await audit.record(actor, "role.label_changed", Entity("role", stored["id"]),
                           {"role": role, "from": str(before), "to": str(label), "agents": len(ids)})
    removed = await drop_undominated_memberships(actor, ids)
    await hooks.emit("member.label_changed", workspace_id=actor.workspace_id, member_id=None, member_ids=ids,
                     label=label)
    return {"role": role, "label": str(label), "previous": str(before), "agents": len(ids),
            "removed_from": removed}


async def drop_undominated_memberships(actor: Actor, member_ids: Sequence[int]) -> dict[str, int]:
    """Remove ``member_ids`` from every channel whose label they no longer dominate; returns removals per channel.

    Goes through ``channels.services.remove_member`` (one audited removal each) so that channels stays the only
    writer of its tables.
    """
    from channels.services import remove_member, undominated_memberships

    pairs = await undominated_memberships(member_ids)
    removed: dict[str, int] = {}
    for pair in pairs:
        await remove_member(actor, int(pair["channel"]), int(pair["member"]))
        removed[pair["name"]] = removed.get(pair["name"], 0) + 1
    return removed
