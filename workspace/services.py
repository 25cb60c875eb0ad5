"""Workspace and member rules: creating tenants, their label schemes, members and actors. No HTTP here."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from typing import Any

from workspace import audit
from workspace import db as dbmod
from workspace.actor import HUMAN_ROLES, Actor
from workspace.audit import Entity
from workspace.errors import Conflict, NotFound, ValidationFailed
from workspace.labels import Label, LabelScheme
from workspace.tables import Member, Workspace

DEFAULT_WORKSPACE = "default"
# Parsed schemes by workspace, with the stored text they came from: that text is the version every read compares.
_schemes: dict[int, tuple[str, str, LabelScheme]] = {}
_SCHEME_SQL = "SELECT tiers, compartments FROM chorus_workspace WHERE id = {}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _parsed(ws: int, row: dict[str, Any]) -> LabelScheme:
    """The scheme of a stored workspace row (its ``tiers`` and ``compartments`` JSON), parsed once per version."""
    tiers, comps = str(row["tiers"]), str(row["compartments"])
    cached = _schemes.get(ws)
    if cached is not None and cached[0] == tiers and cached[1] == comps:
        return cached[2]
    scheme = LabelScheme(tuple(json.loads(tiers)), tuple(json.loads(comps)))
    _schemes[ws] = (tiers, comps, scheme)
    return scheme


async def get_scheme(workspace_id: int) -> LabelScheme:
    """The workspace's label scheme as stored now: one primary-key read per call, parsed again only when the
    stored text changed. Never cached across requests: another process (a CLI, a worker, another replica) may have
    added a compartment, and a scheme without it cannot decode the labels that use it."""
    rows = await dbmod.current().fetch(_SCHEME_SQL, workspace_id)
    if not rows:
        raise NotFound(f"workspace {workspace_id} does not exist")
    return _parsed(workspace_id, rows[0])


def forget_schemes() -> None:
    """Drop the parsed schemes (tests that switch databases; every read checks the stored text anyway)."""
    _schemes.clear()


async def current_actor(actor: Actor) -> Actor:
    """``actor`` with its workspace's label scheme as stored now (one primary-key read): for actors that outlive a
    request (cached by token, held by a socket). The same object when the scheme has not changed."""
    scheme = await get_scheme(actor.workspace_id)
    if scheme == actor.scheme:
        return actor
    return replace(actor, scheme=scheme, label=scheme.from_ints(actor.label.level, actor.label.mask))


async def ensure_workspace(name: str = DEFAULT_WORKSPACE, scheme: LabelScheme | None = None) -> int:
    """Return the id of workspace ``name``, creating it (with ``scheme`` or the default scheme) when missing."""
    rows = await Workspace.select(Workspace.id).where(Workspace.name == name)
    if rows:
        return int(rows[0]["id"])
    scheme = scheme or LabelScheme()
    database = dbmod.current()
    async with database.transaction():
        # ON CONFLICT: processes starting at once on an empty database (replicas, a worker, a CLI) all ensure it
        created = await database.fetch(
            "INSERT INTO chorus_workspace (name, tiers, compartments, created_at) VALUES ({}, {}, {}, {}) "
            "ON CONFLICT (name) DO NOTHING RETURNING id", name, json.dumps(list(scheme.tiers)),
            json.dumps(list(scheme.compartments)), _now())
        if not created:
            rows = await Workspace.select(Workspace.id).where(Workspace.name == name)
            return int(rows[0]["id"])
        ws_id = int(created[0]["id"])
        await audit.record(Actor.system(ws_id, scheme), "workspace.created", Entity("workspace", ws_id),
                           {"name": name, "labels": scheme.as_dict()})
    return ws_id


async def system_actor(workspace_id: int, handle: str = "system", on_behalf_of: str | None = None) -> Actor:
    return Actor.system(workspace_id, await get_scheme(workspace_id), handle=handle, on_behalf_of=on_behalf_of)


async def extend_scheme(actor: Actor, tiers: tuple[str, ...], compartments: tuple[str, ...]) -> LabelScheme:
    """Adopt a scenario's labels: the tiers must match the workspace's; new compartments are appended.

    The new scheme is built from the one stored inside the write transaction and written only if that is still
    the stored one: two processes adding different compartments at once must not give both the same bit."""
    actor.require_role("admin")
    database = dbmod.current()
    async with database.transaction():
        for _ in range(3):  # PostgreSQL: a concurrent change makes the UPDATE match nothing; read it and retry
            stored = await database.fetch(_SCHEME_SQL, actor.workspace_id)
            if not stored:
                raise NotFound(f"workspace {actor.workspace_id} does not exist")
            old = stored[0]
            current = _parsed(actor.workspace_id, old)
            if tuple(tiers) != current.tiers:
                members = await Member.count().where(Member.workspace == actor.workspace_id)
                if members:
                    raise ValidationFailed(
                        f"this workspace's tiers are {', '.join(current.tiers)}; the new labels list "
                        f"{', '.join(tiers)}. Tiers cannot change once members exist: use a new workspace",
                        field="labels.tiers")
            new = LabelScheme(tuple(tiers), current.compartments).extended(compartments)
            if new == current:
                return current
            written = await database.fetch(
                "UPDATE chorus_workspace SET tiers = {}, compartments = {} WHERE id = {} AND tiers = {} "
                "AND compartments = {} RETURNING id", json.dumps(list(new.tiers)),
                json.dumps(list(new.compartments)), actor.workspace_id, old["tiers"], old["compartments"])
            if written:
                await audit.record(actor, "workspace.labels_changed", Entity("workspace", actor.workspace_id),
                                   {"labels": new.as_dict()})
                return new
    raise Conflict("the workspace's labels kept changing while these were added; nothing was changed: run this "
                   "again")


async def create_human(actor: Actor, handle: str, display_name: str, label: Label, roles: frozenset[str]) -> int:
    """Create a human member (SSO calls this on first sign-in)."""
    unknown = set(roles) - set(HUMAN_ROLES)
    if unknown:
        raise ValidationFailed(f"unknown role(s) {', '.join(sorted(unknown))}; roles are {', '.join(HUMAN_ROLES)}",
                               field="roles")
    database = dbmod.current()
    async with database.transaction():
        created = await database.fetch(  # ON CONFLICT: two first sign-ins of one person at once
            "INSERT INTO chorus_member (workspace, kind, handle, display_name, label_level, label_mask, roles, active, "
            "created_at) VALUES ({}, 'human', {}, {}, {}, {}, {}, {}, {}) ON CONFLICT (workspace, handle) DO NOTHING "
            "RETURNING id", actor.workspace_id, handle, display_name, label.level, label.mask,
            ",".join(sorted(roles)), True, _now())
        if not created:
            raise Conflict(f"a member with handle {handle!r} already exists in this workspace")
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

    scheme = await get_scheme(int(row["workspace"]))  # the request's check of the stored scheme
    roles = frozenset(r for r in str(row.get("roles") or "").split(",") if r)
    return Actor(workspace_id=int(row["workspace"]), kind=row["kind"], handle=row["handle"],
                 label=scheme.from_ints(row["label_level"], row["label_mask"]), scheme=scheme,
                 member_id=int(row["id"]), roles=roles if row["kind"] == "human" else frozenset(),
                 context=context or RequestContext())


def member_label(scheme: LabelScheme, row: dict[str, Any]) -> Label:
    return scheme.from_ints(row["label_level"], row["label_mask"])


async def member_labels(workspace_id: int) -> list[tuple[Label, int]]:
    """The distinct labels the workspace's agents hold (their roles' clearances), with how many agents hold each."""
    scheme = await get_scheme(workspace_id)
    rows = await dbmod.current().fetch(
        "SELECT label_level, label_mask, COUNT(*) AS n FROM chorus_member WHERE workspace = {} AND kind = {} "
        "GROUP BY label_level, label_mask", workspace_id, "agent")
    return [(scheme.from_ints(int(r["label_level"]), int(r["label_mask"])), int(r["n"])) for r in rows]
