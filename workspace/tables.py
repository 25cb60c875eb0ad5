"""Core tables: workspaces (tenants with their label scheme), members (humans and agents) and the audit trail."""

from __future__ import annotations

from piccolo.columns import BigInt, Boolean, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table


class Workspace(Table, tablename="chorus_workspace"):
    """A tenant. Its label scheme (tiers lowest first, compartments in bit order) is stored as JSON text."""

    id: Serial

    name = Varchar(length=120, unique=True)
    tiers = Text(default='["public","internal","confidential","restricted"]')
    compartments = Text(default="[]")
    created_at = Timestamptz()


class Member(Table, tablename="chorus_member"):
    """A human or an agent in a workspace. The label is stored as integers so SQL can test dominance."""

    id: Serial

    workspace = ForeignKey(references=Workspace, null=False, index=True)
    kind = Varchar(length=8)  # human | agent
    handle = Varchar(length=120)  # unique per workspace: index chorus_member_workspace_handle (migration)
    display_name = Varchar(length=200, default="")
    label_level = Integer(default=0)
    label_mask = BigInt(default=0)
    roles = Varchar(length=120, default="")  # humans: comma-separated admin,security,employee
    active = Boolean(default=True)  # false: kill switch on / deactivated
    created_at = Timestamptz()


class AuditEvent(Table, tablename="chorus_audit_event"):
    """One hash-chained audit entry. JSON fields are canonical text so the hash is stable on every engine.

    The label is that of what the entry describes (a restricted document's read is restricted); readers of the
    trail see only entries their clearance dominates. ``hash_version`` says which fields the hash covers: 1 (every
    entry sealed before labels existed, or by an older sealer during a rolling upgrade) leaves the label out, 2
    covers it."""

    id: Serial

    seq = BigInt(unique=True)
    date_us = BigInt(index=True, index_method=IndexMethod.btree)  # microseconds since the epoch, UTC
    workspace_id = Integer(null=True, default=None)
    action = Varchar(length=80, index=True)
    actor_type = Varchar(length=16)
    actor_id = Varchar(length=64)
    actor_handle = Varchar(length=120, index=True)
    on_behalf_of = Varchar(length=120, null=True, default=None)
    entity_type = Varchar(length=40, index=True)
    entity_id = Varchar(length=120, index=True)
    context = Text(default="{}")
    details = Text(default="{}")
    prev_hash = Varchar(length=64)
    hash = Varchar(length=64)
    label_level = Integer(default=0)
    label_mask = BigInt(default=0)
    hash_version = Integer(default=1)


class AuditCheckpoint(Table, tablename="chorus_audit_checkpoint"):
    """A signed statement 'the chain had N events ending in hash H', kept in the database and exportable."""

    id: Serial

    seq = BigInt()
    hash = Varchar(length=64)
    created_us = BigInt()
    signature = Varchar(length=128)
