"""Workspace and member rules: creating tenants, their label schemes, members and actors. No HTTP here."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from workspace import audit
from workspace import db as dbmod
from workspace.actor import HUMAN_ROLES, Actor
from workspace.audit import Entity
from workspace.errors import Conflict, NotFound, ValidationFailed
from workspace.labels import Label, LabelScheme
from workspace.tables import Member, Workspace

DEFAULT_WORKSPACE = "default"
_schemes: dict[int, LabelScheme] = {}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def scheme_of(row: dict[str, Any]) -> LabelScheme:
    return LabelScheme(tuple(json.loads(row["tiers"])), tuple(json.loads(row["compartments"])))


async def get_scheme(workspace_id: int) -> LabelScheme:
    """The workspace's label scheme (cached per process; schemes only ever grow)."""
    cached = _schemes.get(workspace_id)
    if cached is not None:
        return cached
    rows = await Workspace.select().where(Workspace.id == workspace_id)
    if not rows:
        raise NotFound(f"workspace {workspace_id} does not exist")
    scheme = scheme_of(rows[0])
    _schemes[workspace_id] = scheme
    return scheme


def forget_schemes() -> None:
    """Drop the scheme cache (tests that switch databases)."""
    _schemes.clear()


async def ensure_workspace(name: str = DEFAULT_WORKSPACE, scheme: LabelScheme | None = None) -> int:
    """Return the id of workspace ``name``, creating it (with ``scheme`` or the default scheme) when missing."""
    rows = await Workspace.select(Workspace.id).where(Workspace.name == name)
    if rows:
        return int(rows[0]["id"])
    scheme = scheme or LabelScheme()
    async with dbmod.current().transaction():
        rows = await Workspace.select(Workspace.id).where(Workspace.name == name)
        if rows:
            return int(rows[0]["id"])
        created = await Workspace.insert(Workspace(
            name=name, tiers=json.dumps(list(scheme.tiers)), compartments=json.dumps(list(scheme.compartments)),
            created_at=_now()))
        ws_id = int(created[0]["id"])
        await audit.record(Actor.system(ws_id, scheme), "workspace.created", Entity("workspace", ws_id),
                           {"name": name, "labels": scheme.as_dict()})
    return ws_id


async def system_actor(workspace_id: int, handle: str = "system", on_behalf_of: str | None = None) -> Actor:
    return Actor.system(workspace_id, await get_scheme(workspace_id), handle=handle, on_behalf_of=on_behalf_of)


async def extend_scheme(actor: Actor, tiers: tuple[str, ...], compartments: tuple[str, ...]) -> LabelScheme:
    """Adopt a scenario's labels: the tiers must match the workspace's; new compartments are appended."""
    actor.require_role("admin")
    current = await get_scheme(actor.workspace_id)
    if tuple(tiers) != current.tiers:
        members = await Member.count().where(Member.workspace == actor.workspace_id)
        if members:
            raise ValidationFailed(
                f"this workspace's tiers are {', '.join(current.tiers)}; the new labels list "
                f"{', '.join(tiers)}. Tiers cannot change once members exist: use a new workspace",
                field="labels.tiers")
        current = LabelScheme(tuple(tiers), current.compartments)
    new = current.extended(compartments)
    if new == await get_scheme(actor.workspace_id):
        return new
    async with dbmod.current().transaction():
        await Workspace.update({Workspace.tiers: json.dumps(list(new.tiers)),
                                Workspace.compartments: json.dumps(list(new.compartments))}).where(
            Workspace.id == actor.workspace_id)
        await audit.record(actor, "workspace.labels_changed", Entity("workspace", actor.workspace_id),
                           {"labels": new.as_dict()})
    _schemes[actor.workspace_id] = new
    return new


async def create_human(actor: Actor, handle: str, display_name: str, label: Label, roles: frozenset[str]) -> int:
    """Create a human member (SSO calls this on first sign-in)."""
    unknown = set(roles) - set(HUMAN_ROLES)
    if unknown:
        raise ValidationFailed(f"unknown role(s) {', '.join(sorted(unknown))}; roles are {', '.join(HUMAN_ROLES)}",
                               field="roles")
    async with dbmod.current().transaction():
        exists = await Member.exists().where((Member.workspace == actor.workspace_id) & (Member.handle == handle))
        if exists:
            raise Conflict(f"a member with handle {handle!r} already exists in this workspace")
        created = await Member.insert(Member(
            workspace=actor.workspace_id, kind="human", handle=handle, display_name=display_name,
            label_level=label.level, label_mask=label.mask, roles=",".join(sorted(roles)), created_at=_now()))
        member_id = int(created[0]["id"])
        await audit.record(actor, "member.created", Entity("member", member_id),
                           {"kind": "human", "handle": handle, "label": str(label), "roles": sorted(roles)})
    return member_id


async def get_member(workspace_id: int, member_id: int) -> dict[str, Any]:
    rows = await Member.select().where((Member.workspace == workspace_id) & (Member.id == member_id))
    if not rows:
        raise NotFound(f"member {member_id} does not exist in this workspace")
    return rows[0]


async def get_member_by_handle(workspace_id: int, handle: str) -> dict[str, Any]:
    rows = await Member.select().where((Member.workspace == workspace_id) & (Member.handle == handle))
    if not rows:
        raise NotFound(f"no member with handle {handle!r} in this workspace")
    return rows[0]


async def actor_for_member(row: dict[str, Any], context: Any = None) -> Actor:
    """Build the Actor for a stored member row."""
    from workspace.actor import RequestContext

    scheme = await get_scheme(int(row["workspace"]))
    roles = frozenset(r for r in str(row.get("roles") or "").split(",") if r)
    return Actor(workspace_id=int(row["workspace"]), kind=row["kind"], handle=row["handle"],
                 label=scheme.from_ints(row["label_level"], row["label_mask"]), scheme=scheme,
                 member_id=int(row["id"]), roles=roles if row["kind"] == "human" else frozenset(),
                 context=context or RequestContext())


def member_label(scheme: LabelScheme, row: dict[str, Any]) -> Label:
    return scheme.from_ints(row["label_level"], row["label_mask"])
