"""Piccolo tables of the personas domain: roles and personas (agents), documents, chunks and their fingerprints,
canary markers and kill switches. Full-text indexes (FTS5 / tsvector) are raw SQL in a migration, not here.
"""

from __future__ import annotations

from piccolo.columns import (
    BigInt,
    Boolean,
    DoublePrecision,
    ForeignKey,
    Integer,
    Real,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from workspace.tables import Member, Workspace


class PersonaRole(Table, tablename="personas_role"):
    """One org-chart line as loaded: the template its agents were generated from, and the role's label."""

    id: Serial

    workspace = ForeignKey(references=Workspace, null=False, index=True)
    name = Varchar(length=120)
    department = Varchar(length=120, index=True)
    handle_prefix = Varchar(length=40)
    label_level = Integer(default=0)
    label_mask = BigInt(default=0)
    traits = Text(default="[]")  # JSON lists, as in the scenario
    goals = Text(default="[]")
    concerns = Text(default="[]")
    activity = Real(default=0.05)
    language = Varchar(length=35, default="en")
    provider = Varchar(length=40, default="")  # "" = the deployment's CHORUS_LLM_PROVIDER
    model = Varchar(length=120, default="")
    created_at = Timestamptz()


class Persona(Table, tablename="personas_persona"):
    """An agent's persona; its identity, label and ``active`` flag live on the Member row it points at.

    One row per agent, narrow enough that the runtime pages through them by ``member`` (keyset) cheaply.
    """

    id: Serial

    workspace = ForeignKey(references=Workspace, null=False, index=True)
    member = ForeignKey(references=Member, null=False, unique=True)
    role = ForeignKey(references=PersonaRole, null=False, index=True)
    number = Integer(default=1)  # position within the role: handle = f"{prefix}-{number:04d}"
    department = Varchar(length=120, index=True)
    traits = Text(default="[]")
    goals = Text(default="[]")
    concerns = Text(default="[]")
    activity = Real(default=0.05)
    language = Varchar(length=35, default="en")
    provider = Varchar(length=40, default="")
    model = Varchar(length=120, default="")


class ContextDocument(Table, tablename="personas_document"):
    """A business document with its label. Identical body + label in a workspace is stored once."""

    id: Serial

    workspace = ForeignKey(references=Workspace, null=False, index=True)
    title = Varchar(length=300)
    source = Varchar(length=500, default="")  # scenario path, folder file or "api"
    label_level = Integer(default=0)
    label_mask = BigInt(default=0)
    body = Text(default="")
    sha256 = Varchar(length=64, index=True)
    chunks = Integer(default=0)
    created_by = Varchar(length=120, default="")
    created_at = Timestamptz()


class ContextChunk(Table, tablename="personas_chunk"):
    """A passage of a document (~500-800 characters), the unit of search and retrieval; carries the label."""

    id: Serial

    workspace = ForeignKey(references=Workspace, null=False, index=True)
    document = ForeignKey(references=ContextDocument, null=False, index=True)
    ordinal = Integer(default=0)
    text = Text(default="")
    start = Integer(default=-1)  # offset of ``text`` in the document's body (-1: ingested before passages were exact)
    label_level = Integer(default=0)
    label_mask = BigInt(default=0)


class ChunkFingerprint(Table, tablename="personas_fingerprint"):
    """A 64-bit hash of one word shingle of a chunk, with the chunk's label, for the leak guard."""

    id: Serial

    workspace = ForeignKey(references=Workspace, null=False, index=True)
    chunk = ForeignKey(references=ContextChunk, null=False, index=True)
    document = Integer(default=0)
    hash = BigInt(default=0)
    label_level = Integer(default=0)
    label_mask = BigInt(default=0)


class Canary(Table, tablename="personas_canary"):
    """A unique marker planted in a document of one label; it must never appear in a channel below that label."""

    id: Serial

    workspace = ForeignKey(references=Workspace, null=False, index=True)
    document = ForeignKey(references=ContextDocument, null=False)
    marker = Varchar(length=80, unique=True)
    label_level = Integer(default=0)
    label_mask = BigInt(default=0)
    created_at = Timestamptz()


class KillSwitch(Table, tablename="personas_kill_switch"):
    """A kill switch thrown on one agent, role or department; ``active`` until revived."""

    id: Serial

    workspace = ForeignKey(references=Workspace, null=False, index=True)
    scope = Varchar(length=16)  # agent | role | department
    target = Varchar(length=200)  # the handle, role name or department
    active = Boolean(default=True)
    members = Integer(default=0)  # agents deactivated when it was thrown
    reason = Varchar(length=500, default="")
    created_by = Varchar(length=120, default="")
    created_at = Timestamptz()
    revived_at = Timestamptz(null=True, default=None)


# -- agent runtime: runs, turns, budgets, spend (personas/runtime_*.py) ------------------------------------------


class Run(Table, tablename="personas_run"):
    """A simulation run: ``rounds`` rounds (or continuous until stopped), its seed, status, live counts and spend.

    Started through the admin API (status ``pending``) and claimed by whichever process runs the runtime job
    (``worker`` + ``heartbeat_at``), or run inline by ``chorus simulate``.
    """

    id: Serial

    workspace = ForeignKey(references=Workspace, null=False, index=True)
    scenario = Varchar(length=200, default="")
    seed = BigInt(default=0)
    mode = Varchar(length=16, default="rounds")  # rounds | continuous
    status = Varchar(length=16, default="pending", index=True)  # pending|running|completed|stopped|over_budget|failed
    rounds = Integer(default=0)  # planned (0 in continuous mode)
    rounds_done = Integer(default=0)
    interval_s = Real(default=0.0)  # pause between rounds (continuous mode)
    provider = Varchar(length=40, default="offline")
    model = Varchar(length=120, default="")
    agents = Integer(default=0)
    turns = BigInt(default=0)
    messages = BigInt(default=0)
    reactions = BigInt(default=0)
    ignored = BigInt(default=0)
    blocked = BigInt(default=0)
    over_budget = BigInt(default=0)
    errors = BigInt(default=0)
    tokens_in = BigInt(default=0)
    tokens_out = BigInt(default=0)
    cost = DoublePrecision(default=0.0)
    max_tokens = BigInt(null=True, default=None)  # run budget (tokens in + out); None = unlimited
    max_cost = DoublePrecision(null=True, default=None)  # run budget in US dollars; None = unlimited
    stop_requested = Boolean(default=False)
    worker = Varchar(length=120, default="")
    heartbeat_at = Timestamptz(null=True, default=None)
    quality = Text(default="{}")  # JSON: the conversation-quality metrics at the end
    error = Text(default="")
    created_by = Varchar(length=120, default="")
    created_at = Timestamptz()
    started_at = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)


class Turn(Table, tablename="personas_turn"):
    """One agent turn of a run: who, where, what it read, what it cost and what came of it.

    ``outcome``: posted | reacted | ignored | blocked | over_budget | error; ``reason`` says why for the last
    three (leak_guard, rate_limited, deactivated, agent/department/run budget, the provider's error).
    """

    id: Serial

    run = ForeignKey(references=Run, null=False, index=True)
    round = Integer(default=0)
    agent = ForeignKey(references=Member, null=False, index=True)
    department = Varchar(length=120, default="")
    channel = BigInt(null=True, default=None)
    kind = Varchar(length=16, default="")  # notified | triage | unprompted
    intent = Varchar(length=16, default="")
    outcome = Varchar(length=16, default="")
    reason = Varchar(length=200, default="")
    message = BigInt(null=True, default=None, index=True)  # the posted message (or the one reacted to)
    reply_to = BigInt(null=True, default=None)  # the message this post answers
    documents = Text(default="[]")  # JSON list of document ids retrieved for the turn
    tokens_in = Integer(default=0)
    tokens_out = Integer(default=0)
    cost = DoublePrecision(default=0.0)
    latency_ms = Real(default=0.0)
    # The turn's key (run, round, shard, member and the member's ordinal in the shard): unique, so that a retried
    # shard records nothing twice (NULL for turns of earlier releases). The planner reads a round's rows back
    # after its barrier: what each post stated (``facts``, fact keys), asked about, and what the near-duplicate
    # guard judged (``gist``).
    key = Varchar(length=120, null=True, default=None)
    shard = BigInt(default=0)  # the channel whose shard carried the turn (0: recorded by the planner)
    facts = Text(default="[]")
    asked = Varchar(length=200, default="")
    gist = Text(default="")


class Budget(Table, tablename="personas_budget"):
    """A hard limit on tokens (in + out) and/or cost for one agent (``target`` = handle) or department, counted
    over everything the runtime spent for it; run budgets live on :class:`Run`."""

    id: Serial

    workspace = ForeignKey(references=Workspace, null=False, index=True)
    scope = Varchar(length=16)  # agent | department
    target = Varchar(length=200)
    max_tokens = BigInt(null=True, default=None)
    max_cost = DoublePrecision(null=True, default=None)
    created_by = Varchar(length=120, default="")
    created_at = Timestamptz()


class DepartmentSpend(Table, tablename="personas_department_spend"):
    """Tokens and cost the runtime spent per department (all runs), for department budgets and the spend chart."""

    id: Serial

    workspace = ForeignKey(references=Workspace, null=False, index=True)
    department = Varchar(length=120)
    tokens_in = BigInt(default=0)
    tokens_out = BigInt(default=0)
    cost = DoublePrecision(default=0.0)
    turns = BigInt(default=0)


# -- discovery: who reads what, and what they claimed (personas/runtime/plan.py, claims.py) -----------------------


class Reading(Table, tablename="personas_reading"):
    """The reading plan of a run: every chunk of every document gets readers (agents of different roles whose
    clearance allows it), each with a channel at or above the chunk's label to speak of it in. ``read_round`` is
    set when the reader's turn has read it; coverage is counted from these rows."""

    id: Serial

    run = ForeignKey(references=Run, null=False, index=True)
    workspace = ForeignKey(references=Workspace, null=False)
    chunk = BigInt(index=True)
    document = BigInt()
    member = BigInt(index=True)  # chorus_member.id of the reader
    role = BigInt()
    department = Varchar(length=120, default="")
    channel = BigInt()  # where the reader speaks of it
    due_round = Integer(default=1)
    lead = Boolean(default=True)  # the first reader states every fact; a second one corroborates the weightiest
    read_round = Integer(null=True, default=None)


class Claim(Table, tablename="personas_claim"):
    """A statement an agent posted, grounded in a document span: ``kind`` fact (one span) or link (two spans from
    different documents and what they mean together). Offsets are into the chunk's text. The label is the
    document's (a link: the least upper bound of both), so a claim is shown only to readers who dominate it."""

    id: Serial

    workspace = ForeignKey(references=Workspace, null=False, index=True)
    run = BigInt(null=True, default=None, index=True)
    round = Integer(default=0)
    message = BigInt(null=True, default=None, index=True)  # chorus_message.id of the post that carried it
    channel = BigInt(default=0)
    author = BigInt(default=0)  # chorus_member.id
    role = Varchar(length=120, default="")
    department = Varchar(length=120, default="")
    kind = Varchar(length=8, default="fact")  # fact | link
    document = BigInt(default=0)
    chunk = BigInt(default=0)
    span_start = Integer(default=0)
    span_end = Integer(default=0)
    text = Text(default="")  # the statement as written (for a link: the first span's)
    other_document = BigInt(null=True, default=None)
    other_chunk = BigInt(null=True, default=None)
    other_start = Integer(null=True, default=None)
    other_end = Integer(null=True, default=None)
    other_text = Text(default="")
    relation = Varchar(length=40, default="")
    stance = Varchar(length=16, default="")  # a link's kind: risk | opportunity
    consequence = Text(default="")
    entity = Varchar(length=200, default="")
    label_level = Integer(default=0)
    label_mask = BigInt(default=0)
    created_at = Timestamptz()
    key = Varchar(length=140, null=True, default=None)  # the turn's key and the claim's place in it: unique


class Shard(Table, tablename="personas_shard"):
    """One channel's turns of a round of a run, as the planner enqueued them (queue mode): the payload (everything
    the turns need, compressed) and whether a worker has carried them out. Unique per (run, round, shard)."""

    id: Serial

    run = ForeignKey(references=Run, null=False, index=True)
    round = Integer(default=0)
    shard = BigInt(default=0)  # the channel's id
    turns = Integer(default=0)
    status = Varchar(length=16, default="queued")  # queued | drafted (its payload carries the drafts) | done
    payload = Text(default="")
    error = Text(default="")
    created_at = Timestamptz()
    finished_at = Timestamptz(null=True, default=None)
