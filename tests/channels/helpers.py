"""Test data for the channels tests: a workspace with compartments, agents and people, channels, members.

Agents are created with a member row plus its audit entry (what personas' import does in bulk); people through
``workspace.services.create_human``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from channels import config
from workspace import audit
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.audit import Entity
from workspace.labels import LabelScheme
from workspace.services import actor_for_member, create_human, ensure_workspace, get_member, system_actor
from workspace.settings import LimitSettings
from workspace.tables import Member

SCHEME = LabelScheme(compartments=("ops", "sales", "finance"))


@dataclass
class World:
    ws: int
    system: Actor


async def world(name: str = "default") -> World:
    ws = await ensure_workspace(name, SCHEME)
    return World(ws=ws, system=await system_actor(ws))


async def agents(w: World, prefix: str, count: int, label: str = "internal") -> list[int]:
    """``count`` agent members ``{prefix}-{n}`` with ``label``, in one transaction; returns their ids."""
    lab = w.system.scheme.parse(label)
    now = dt.datetime.now(dt.UTC)
    async with dbmod.current().transaction():
        rows = [Member(workspace=w.ws, kind="agent", handle=f"{prefix}-{i}", display_name=f"{prefix} {i}",
                       label_level=lab.level, label_mask=lab.mask, roles="", active=True, created_at=now)
                for i in range(1, count + 1)]
        ids: list[int] = []
        for start in range(0, len(rows), 1000):
            created = await Member.insert(*rows[start:start + 1000])
            ids.extend(int(r["id"]) for r in created)
        await audit.record(w.system, "member.created", Entity("member", f"{prefix}-*"),
                           {"kind": "agent", "count": count, "label": str(lab)})
    return ids


async def agent(w: World, handle: str, label: str = "internal") -> Actor:
    """One agent member ``handle`` (the prefix form of :func:`agents` without the number)."""
    lab = w.system.scheme.parse(label)
    async with dbmod.current().transaction():
        created = await Member.insert(Member(
            workspace=w.ws, kind="agent", handle=handle, display_name=handle, label_level=lab.level,
            label_mask=lab.mask, roles="", active=True, created_at=dt.datetime.now(dt.UTC)))
        member_id = int(created[0]["id"])
        await audit.record(w.system, "member.created", Entity("member", member_id),
                           {"kind": "agent", "handle": handle, "label": str(lab)})
    return await actor_for_member(await get_member(w.ws, member_id))


async def human(w: World, handle: str, label: str = "internal", roles: Sequence[str] = ("employee",)) -> Actor:
    member_id = await create_human(w.system, handle, handle.title(), w.system.scheme.parse(label), frozenset(roles))
    return await actor_for_member(await get_member(w.ws, member_id))


def generous_limits(**overrides: object) -> LimitSettings:
    """Limits that never rate-limit a test unless it asks to."""
    values: dict[str, object] = {"post_rate_per_s": 10_000.0, "post_burst": 10_000, "write_rate_per_s": 10_000.0,
                                 "write_burst": 10_000}
    values.update(overrides)
    limits = LimitSettings(**values)  # type: ignore[arg-type]
    config.configure(limits)
    return limits
