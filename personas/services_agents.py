"""Agents from an org chart: roles, bulk persona generation (chunks of raw-driver inserts, no object per agent),
paging through agents for admins and the runtime, and who among them may read a document. Kill switches and label
changes: services_control.py.

Persona text (traits, goals, concerns) is labelled with its role's label: people see it only when their clearance
dominates that label (:func:`visible_persona`); an admin creates roles and agents only within its own clearance.
"""

from __future__ import annotations

import datetime as dt
import json
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from personas.bulk import insert_rows
from personas.scenario import Role
from personas.tables import KillSwitch, Persona, PersonaRole
from workspace import audit
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.audit import Entity
from workspace.authority import require_authority
from workspace.errors import NotFound, ValidationFailed
from workspace.labels import dominates_ints
from workspace.tables import Member

CHUNK = 1000
# A personal trait per agent so that 300 agents of one role do not all sound alike (Moltbook's flat chatter).
TRAIT_POOL = ("curious", "cautious", "optimistic", "sceptical", "talkative", "quiet", "detail-minded",
              "big-picture", "impatient", "easy-going", "formal", "casual", "worried", "upbeat", "new-hire",
              "veteran")
_MEMBER_COLS = ("workspace", "kind", "handle", "display_name", "label_level", "label_mask", "roles", "active",
                "created_at")
_MEMBER_PG = ("int", "text", "text", "text", "int", "bigint", "text", "bool", "timestamptz")
_PERSONA_COLS = ("workspace", "member", "role", "number", "department", "traits", "goals", "concerns", "activity",
                 "language", "provider", "model")
_PERSONA_PG = ("int", "int", "int", "int", "text", "text", "text", "text", "real", "text", "text", "text")


@dataclass(frozen=True, slots=True)
class RoleResult:
    role: str
    role_id: int
    created: int
    existing: int
    role_created: bool


def handle_for(prefix: str, number: int) -> str:
    """``warehouse-technician-0137``: the role's prefix and the agent's number, zero-padded to four digits."""
    return f"{prefix}-{number:04d}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def ensure_role(actor: Actor, role: Role, *, provider: str = "", model: str = "") -> tuple[int, bool]:
    """The id of the stored role named ``role.role`` (created from the scenario line when missing).

    An existing role keeps its stored label: an admin may have changed it since the scenario was loaded. Creating
    one needs a clearance that dominates its label (refused and audited otherwise).
    """
    actor.require_role("admin")
    rows = await PersonaRole.select(PersonaRole.id).where(
        (PersonaRole.workspace == actor.workspace_id) & (PersonaRole.name == role.role))
    if rows:
        return int(rows[0]["id"]), False
    await require_authority(actor, "role.created", Entity("role", role.role), role.label,
                            doing=f"create role {role.role!r}")
    async with dbmod.current().transaction():
        created = await PersonaRole.insert(PersonaRole(
            workspace=actor.workspace_id, name=role.role, department=role.department,
            handle_prefix=role.handle_prefix, label_level=role.label.level, label_mask=role.label.mask,
            traits=json.dumps(list(role.traits)), goals=json.dumps(list(role.goals)),
            concerns=json.dumps(list(role.concerns)), activity=role.activity, language=role.language,
            provider=provider, model=model, created_at=_now()))
        role_id = int(created[0]["id"])
        await audit.record(actor, "role.created", Entity("role", role_id),
                           {"role": role.role, "department": role.department, "label": str(role.label)})
    return role_id, True


async def create_agents(actor: Actor, role: Role, *, seed: int = 0, provider: str = "", model: str = "",
                        progress: Callable[[int], None] | None = None, chunk: int = CHUNK) -> RoleResult:
    """Make sure role ``role`` has ``role.count`` agents, creating only the missing ones (numbers count up).

    Rows are generated lazily and written ``chunk`` agents per transaction (members, personas and one audit
    entry together), so memory stays flat and a failed load resumes where it stopped when run again.
    ``progress(n)`` is called after each chunk with the number of agents just written (existing ones included).
    """
    actor.require_role("admin")
    role_id, role_created = await ensure_role(actor, role, provider=provider, model=model)
    stored = (await PersonaRole.select().where(PersonaRole.id == role_id))[0]
    top = await Persona.select(Persona.number).where(Persona.role == role_id).order_by(
        Persona.number, ascending=False).limit(1)
    existing = int(top[0]["number"]) if top else 0
    if existing < role.count:  # new agents of the role carry its stored label
        await require_authority(actor, "agents.created", Entity("role", role_id),
                                actor.scheme.from_ints(stored["label_level"], stored["label_mask"]),
                                doing=f"create agents of role {role.role!r}")
    if progress and existing:
        progress(min(existing, role.count))
    active = not await _switched_off(actor.workspace_id, role.role, role.department)
    created = 0
    start = existing + 1
    while start <= role.count:
        stop = min(start + chunk, role.count + 1)
        members = list(_member_rows(actor.workspace_id, stored, range(start, stop), active))
        async with dbmod.current().transaction():
            ids = await insert_rows(Member._meta.tablename, _MEMBER_COLS, _MEMBER_PG, members, returning="handle")
            by_handle = {r["handle"]: r["id"] for r in ids}
            personas = list(_persona_rows(actor.workspace_id, stored, role_id, range(start, stop), by_handle, seed))
            await insert_rows(Persona._meta.tablename, _PERSONA_COLS, _PERSONA_PG, personas)
            await audit.record(actor, "agents.created", Entity("role", role_id), {
                "role": role.role, "count": stop - start, "first": members[0][2], "last": members[-1][2],
                "label": str(actor.scheme.from_ints(stored["label_level"], stored["label_mask"])),
                "active": active})
        created += stop - start
        if progress:
            progress(stop - start)
        start = stop
    return RoleResult(role.role, role_id, created, existing, role_created)


async def _switched_off(workspace_id: int, role: str, department: str) -> bool:
    """New agents of a role or department whose kill switch is on are created switched off."""
    return bool(await KillSwitch.exists().where(
        (KillSwitch.workspace == workspace_id) & (KillSwitch.active == True)  # noqa: E712 - Piccolo needs ==
        & (((KillSwitch.scope == "role") & (KillSwitch.target == role))
           | ((KillSwitch.scope == "department") & (KillSwitch.target == department)))))


def _member_rows(workspace_id: int, role: dict[str, Any], numbers: range, active: bool) -> Iterator[tuple[Any, ...]]:
    now = _now()
    for n in numbers:
        yield (workspace_id, "agent", handle_for(role["handle_prefix"], n), f"{role['name']} {n}",
               role["label_level"], role["label_mask"], "", active, now)


def _persona_rows(workspace_id: int, role: dict[str, Any], role_id: int, numbers: range, ids: dict[str, int],
                  seed: int) -> Iterator[tuple[Any, ...]]:
    traits, goals, concerns = (json.loads(role[k]) for k in ("traits", "goals", "concerns"))
    cache: dict[tuple[int, int], tuple[str, str, str]] = {}
    for n in numbers:
        h = zlib.crc32(f"{seed}:{role['handle_prefix']}:{n}".encode())
        extra, rot = h % len(TRAIT_POOL), n % max(1, len(concerns))
        texts = cache.get((extra, rot))
        if texts is None:
            mine = [*traits, TRAIT_POOL[extra]] if TRAIT_POOL[extra] not in traits else list(traits)
            texts = (json.dumps(mine), json.dumps(_rotate(goals, n)), json.dumps(_rotate(concerns, rot)))
            cache[(extra, rot)] = texts
        # activity varies +-30% around the role's, so a role does not speak in lockstep
        activity = min(1.0, role["activity"] * (0.7 + 0.6 * ((h >> 8) % 1000) / 999))
        yield (workspace_id, ids[handle_for(role["handle_prefix"], n)], role_id, n, role["department"],
               texts[0], texts[1], texts[2], activity, role["language"], role["provider"], role["model"])


def _rotate(items: list[str], n: int) -> list[str]:
    if not items:
        return []
    k = n % len(items)
    return items[k:] + items[:k]


_AGENT_SQL = (
    "SELECT m.id AS member_id, m.handle, m.display_name, m.label_level, m.label_mask, m.active, "
    "p.id AS persona_id, p.number, p.department, p.traits, p.goals, p.concerns, p.activity, p.language, "
    "p.provider, p.model, r.id AS role_id, r.name AS role, r.label_level AS role_label_level, "
    "r.label_mask AS role_label_mask "
    "FROM personas_persona p JOIN chorus_member m ON m.id = p.member JOIN personas_role r ON r.id = p.role "
)
PERSONA_TEXT = ("traits", "goals", "concerns")
"""The labelled parts of a persona (its role's label)."""


async def page_agents(workspace_id: int, *, after: int = 0, limit: int = 1000, role: str | None = None,
                      department: str | None = None, active_only: bool = False, active: bool | None = None,
                      handle_prefix: str | None = None) -> list[dict[str, Any]]:
    """Agents with their personas, ordered by member id after ``after`` (keyset paging: constant cost per page).

    Filters: role, department, ``active`` (True: running; False: switched off) and a handle prefix. The runtime
    pages with ``active_only=True`` (the same as ``active=True``) to skip agents whose kill switch is on.
    """
    if not 1 <= limit <= 10_000:
        raise ValidationFailed("limit must be between 1 and 10000", field="limit")
    sql = _AGENT_SQL + "WHERE p.workspace = {} AND m.id > {}"
    args: list[Any] = [workspace_id, after]
    if role is not None:
        sql += " AND r.name = {}"
        args.append(role)
    if department is not None:
        sql += " AND p.department = {}"
        args.append(department)
    if active_only:
        active = True
    if active is not None:
        sql += " AND m.active = {}"
        args.append(active)
    if handle_prefix:
        escaped = handle_prefix.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        sql += " AND m.handle LIKE {} ESCAPE '\\'"
        args.append(escaped + "%")
    sql += " ORDER BY m.id LIMIT {}"
    args.append(limit)
    rows = await dbmod.current().fetch(sql, *args)
    return [_agent_view(r) for r in rows]


async def list_agents(actor: Actor, *, after: int = 0, limit: int = 1000, role: str | None = None,
                      department: str | None = None, active: bool | None = None,
                      handle_prefix: str | None = None) -> list[dict[str, Any]]:
    """:func:`page_agents` for a person (admins): persona text above the actor's clearance is withheld."""
    actor.require_role("admin")
    rows = await page_agents(actor.workspace_id, after=after, limit=limit, role=role, department=department,
                             active=active, handle_prefix=handle_prefix)
    return [visible_persona(actor, r) for r in rows]


async def get_agent(actor: Actor, member_id: int) -> dict[str, Any]:
    """One agent and its persona; admins (and the system) only. Persona text above the actor's clearance is
    withheld (``persona_hidden``); the agent's handle, role, department and label are the org chart's."""
    actor.require_role("admin")
    rows = await dbmod.current().fetch(_AGENT_SQL + "WHERE p.workspace = {} AND m.id = {}", actor.workspace_id,
                                       member_id)
    if not rows:
        raise NotFound(f"no agent with member id {member_id} in this workspace; list agents with "
                       "GET /api/admin/agents")
    return visible_persona(actor, _agent_view(rows[0]))


async def agent_by_handle(actor: Actor, handle: str) -> dict[str, Any]:
    actor.require_role("admin")
    rows = await dbmod.current().fetch(_AGENT_SQL + "WHERE p.workspace = {} AND m.handle = {}", actor.workspace_id,
                                       handle)
    if not rows:
        raise NotFound(f"no agent with handle {handle!r} in this workspace")
    return visible_persona(actor, _agent_view(rows[0]))


def visible_persona(actor: Actor, agent: dict[str, Any]) -> dict[str, Any]:
    """``agent`` as ``actor`` may see it: the persona text (labelled with the role's label) emptied when the actor's
    clearance does not dominate that label, with ``persona_hidden`` saying so."""
    role_label = actor.scheme.from_ints(int(agent["role_label_level"]), int(agent["role_label_mask"]))
    hidden = actor.kind != "system" and not actor.label.dominates(role_label)
    out = {**agent, "persona_hidden": hidden}
    if hidden:
        out.update({key: [] for key in PERSONA_TEXT})
    return out


def _agent_view(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for key in ("traits", "goals", "concerns"):
        out[key] = json.loads(out[key]) if isinstance(out[key], str) else out[key]
    out["active"] = bool(out["active"])
    return out


async def count_agents(workspace_id: int) -> dict[str, int]:
    """Agents per role name (for reports and the admin overview)."""
    rows = await dbmod.current().fetch(
        "SELECT r.name AS role, COUNT(p.id) AS n FROM personas_role r LEFT JOIN personas_persona p ON p.role = r.id "
        "WHERE r.workspace = {} GROUP BY r.name", workspace_id)
    return {r["role"]: int(r["n"]) for r in rows}


async def document_readers(actor: Actor, documents: Sequence[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Who may read each document (``id``, ``label_level``, ``label_mask``): agents that are switched on, the roles
    with at least one of them, and people; from one grouped read of the members' labels, not a query per document."""
    database = dbmod.current()
    agents = await database.fetch(
        "SELECT m.label_level, m.label_mask, r.name AS role, COUNT(*) AS n FROM personas_persona p "
        "JOIN chorus_member m ON m.id = p.member JOIN personas_role r ON r.id = p.role "
        "WHERE p.workspace = {} AND m.active = {} GROUP BY m.label_level, m.label_mask, r.name",
        actor.workspace_id, True)
    people = await database.fetch(
        "SELECT label_level, label_mask, COUNT(*) AS n FROM chorus_member WHERE workspace = {} AND kind = {} "
        "GROUP BY label_level, label_mask", actor.workspace_id, "human")
    out: dict[int, dict[str, Any]] = {}
    for doc in documents:
        level, mask = int(doc["label_level"]), int(doc["label_mask"])
        able = [r for r in agents if dominates_ints(int(r["label_level"]), int(r["label_mask"]), level, mask)]
        out[int(doc["id"])] = {
            "agents": sum(int(r["n"]) for r in able), "roles": sorted({str(r["role"]) for r in able}),
            "people": sum(int(r["n"]) for r in people
                          if dominates_ints(int(r["label_level"]), int(r["label_mask"]), level, mask))}
    return out
