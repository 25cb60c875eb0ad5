"""Piccolo tables of the insights domain: mining cursors and leases, per-message signals, insights with their
citations, triage comments and stored digests. No rules here (:mod:`insights.services`).
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

from channels.tables import Channel
from workspace.tables import Member, Workspace


class MiningCursor(Table, tablename="insights_mining_cursor"):
    """How far mining has read one channel: every message with ``seq <= last_seq`` has its signals stored."""

    id: Serial

    workspace = ForeignKey(references=Workspace, null=False, index=True)
    channel = ForeignKey(references=Channel, null=False, unique=True)
    last_seq = BigInt(default=0)
    updated_at = Timestamptz()


class MiningLease(Table, tablename="insights_mining_lease"):
    """Who mines a workspace: one row per workspace, taken atomically by one process until ``expires_at`` and renewed
    while it mines; other processes skip their pass while it is held (:mod:`insights.lease`)."""

    id: Serial

    workspace = ForeignKey(references=Workspace, null=False, unique=True)
    holder = Varchar(length=160, default="")
    expires_at = Timestamptz()


class MessageSignal(Table, tablename="insights_message_signal"):
    """What mining kept of one message: who said it (role, department, tier at mining time), the documents its
    turn drew on, its cue weights. The miner's themes are rebuilt from these rows (plus the message bodies)."""

    id: Serial

    workspace = ForeignKey(references=Workspace, null=False, index=True)
    message = BigInt(unique=True)  # chorus_message.id (no FK: mining bulk-inserts many rows per transaction)
    channel = BigInt(index=True)
    seq = BigInt(default=0)
    author_handle = Varchar(length=120, default="")
    role = Varchar(length=120, default="")
    department = Varchar(length=120, default="")
    tier_level = Integer(default=0)
    label_level = Integer(default=0)  # the message's (its channel's) label
    label_mask = BigInt(default=0)
    thread_of = BigInt(null=True, default=None)
    reply_to = BigInt(null=True, default=None)
    doc_ids = Text(default="[]")  # JSON list of document ids (strings) the author's turn drew on
    risk = Real(default=0.0)
    opportunity = Real(default=0.0)
    sentiment = Real(default=0.0)
    question = Boolean(default=False)
    created_at = Timestamptz()


class Insight(Table, tablename="insights_insight"):
    """A scored risk or opportunity with its evidence. ``theme_key`` is stable across mining runs (a re-run updates
    the row); ``current`` is false once a later run no longer supports it. The label is the least upper bound of
    its evidence's labels (messages' channels and cited documents)."""

    id: Serial

    workspace = ForeignKey(references=Workspace, null=False, index=True)
    theme_key = Varchar(length=80, index=True)
    kind = Varchar(length=16)  # risk | opportunity
    title = Varchar(length=300, default="")
    summary = Text(default="")
    score = DoublePrecision(default=0.0, index=True)
    severity = Real(default=0.0)
    confidence = Real(default=0.0)
    agents = Integer(default=0)
    departments = Integer(default=0)
    tiers = Integer(default=0)
    department_names = Text(default=",")  # ",ops,sales," so a department filter is one LIKE
    channel_names = Text(default="[]")  # JSON list
    novelty = Real(default=1.0)
    trend = Real(default=0.0)
    unacknowledged = Boolean(default=False)
    open_questions = Integer(default=0)
    messages = Integer(default=0)
    terms = Text(default="[]")  # JSON list of key terms
    citations = Text(default="[]")  # JSON [{message, channel_id, channel, seq}]
    documents = Text(default="[]")  # JSON list of document ids
    spans = Text(default="[]")  # JSON [{document, chunk, start, end, title}]: the cited spans (offsets into the chunk)
    relation = Varchar(length=40, default="")  # how a joined issue's facts relate ("" for one document)
    corroboration = Real(default=0.0)
    roles = Text(default="[]")  # JSON list of the roles that stated or linked it
    evidence = Text(default="[]")  # JSON list of supporting message ids (capped), to follow the theme across runs
    label_level = Integer(default=0)
    label_mask = BigInt(default=0)
    status = Varchar(length=16, default="open", index=True)  # open | acknowledged | dismissed
    assignee = BigInt(null=True, default=None)  # a human member's id
    assignee_handle = Varchar(length=120, default="")
    current = Boolean(default=True, index=True)
    last_message = BigInt(default=0)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class InsightComment(Table, tablename="insights_comment"):
    """A triage comment on an insight."""

    id: Serial

    insight = ForeignKey(references=Insight, null=False, index=True)
    author = ForeignKey(references=Member, null=False)
    author_handle = Varchar(length=120, default="")
    body = Text(default="")
    created_at = Timestamptz()


class Digest(Table, tablename="insights_digest"):
    """One reader's digest for a period: the insights their label dominates, as Markdown and HTML."""

    id: Serial

    workspace = ForeignKey(references=Workspace, null=False, index=True)
    member = ForeignKey(references=Member, null=False, index=True)
    period = Varchar(length=8)  # daily | weekly
    since = Timestamptz()
    markdown = Text(default="")
    html = Text(default="")
    insight_ids = Text(default="[]")
    created_at = Timestamptz()
