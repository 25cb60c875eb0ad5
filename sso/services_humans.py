"""People: create or update a human member from a sign-in (roles and clearance re-applied every time), audited.

Identity lookup by (issuer, subject) lives here too. No HTTP here.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sso import clock
from sso.tables import HumanIdentity
from workspace import audit
from workspace import db as dbmod
from workspace.actor import HUMAN_ROLES, Actor
from workspace.audit import Entity
from workspace.errors import Forbidden, ValidationFailed
from workspace.hooks import hooks
from workspace.labels import Label
from workspace.services import create_human, member_label
from workspace.tables import Member


def identity_key(issuer: str, subject: str) -> str:
    return hashlib.sha256(f"{issuer}\x00{subject}".encode()).hexdigest()


async def apply_human(actor: Actor, handle: str, display_name: str, roles: frozenset[str], label: Label) -> int:
    """Create human ``handle`` or bring its roles and clearance up to date; each change is audited.

    Called at every sign-in, so a group removed at the identity provider removes the role at the next sign-in.
    """
    unknown = set(roles) - set(HUMAN_ROLES)
    if unknown or not roles:
        raise ValidationFailed(f"roles must be some of {', '.join(HUMAN_ROLES)}; got {sorted(roles) or 'none'}",
                               field="roles")
    rows = await Member.select().where((Member.workspace == actor.workspace_id) & (Member.handle == handle))
    if not rows:
        return await create_human(actor, handle, display_name or handle, label, roles)
    row = rows[0]
    member_id = int(row["id"])
    if row["kind"] != "human":
        raise Forbidden(f"{handle!r} is an agent's handle; a person cannot sign in as an agent")
    if not row["active"]:
        raise Forbidden(f"the account {handle!r} is deactivated in Chorus; ask an administrator to reactivate it")
    old_roles = frozenset(r for r in str(row["roles"] or "").split(",") if r)
    old_label = member_label(actor.scheme, row)
    label_changed = (old_label.level, old_label.mask) != (label.level, label.mask)
    if old_roles == roles and not label_changed and (not display_name or display_name == row["display_name"]):
        return member_id
    async with dbmod.current().transaction():
        await Member.update({Member.roles: ",".join(sorted(roles)), Member.label_level: label.level,
                             Member.label_mask: label.mask,
                             Member.display_name: display_name or row["display_name"]}).where(Member.id == member_id)
        if old_roles != roles:
            await audit.record(actor, "member.roles_changed", Entity("member", member_id),
                               {"handle": handle, "from": sorted(old_roles), "to": sorted(roles),
                                "added": sorted(roles - old_roles), "removed": sorted(old_roles - roles)})
        if label_changed:
            await audit.record(actor, "member.label_changed", Entity("member", member_id),
                               {"handle": handle, "from": str(old_label), "to": str(label)})
    if label_changed:
        await hooks.emit("member.label_changed", workspace_id=actor.workspace_id, member_id=member_id, label=label)
    return member_id


async def find_identity(issuer: str, subject: str) -> dict[str, Any] | None:
    rows = await HumanIdentity.select().where(HumanIdentity.key == identity_key(issuer, subject))
    return rows[0] if rows else None


async def link_identity(member_id: int, issuer: str, subject: str, email: str | None) -> None:
    """Record that (issuer, subject) is member ``member_id`` (first sign-in) and stamp the sign-in time."""
    now = clock.now_dt()
    key = identity_key(issuer, subject)
    async with dbmod.current().transaction():
        if await HumanIdentity.exists().where(HumanIdentity.key == key):
            await HumanIdentity.update({HumanIdentity.last_login_at: now, HumanIdentity.email: email}).where(
                HumanIdentity.key == key)
        else:
            await HumanIdentity.insert(HumanIdentity(key=key, issuer=issuer, subject=subject, member=member_id,
                                                     email=email, created_at=now, last_login_at=now))
