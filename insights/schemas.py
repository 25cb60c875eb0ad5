"""msgspec structs of the insights and digests API (request bodies and documented responses)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec


class Corroboration(msgspec.Struct):
    agents: int
    departments: int
    tiers: int
    score: float = 0.0  # independent corroboration (0-1) when mining records it
    sources: int = 0  # cited document passages
    roles: int = 0  # roles that stated or linked it


class InsightOut(msgspec.Struct):
    id: int
    kind: str
    title: str
    summary: str
    score: float
    severity: float
    confidence: float
    corroboration: Corroboration
    departments: list[str]
    channels: list[str]
    novelty: float
    trend: float
    unacknowledged: bool
    open_questions: int
    messages: int
    terms: list[str]
    label: str
    status: str
    assignee: str | None
    current: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class InsightPage(msgspec.Struct):
    insights: list[InsightOut]
    next_cursor: str | None = None


class CitedMessage(msgspec.Struct):
    id: int
    channel: str
    seq: int
    author: str
    created_at: dt.datetime
    excerpt: str
    link: str


class CitedDocument(msgspec.Struct):
    id: int
    title: str
    label: str
    href: str = ""  # the document page, at the cited passage when the insight cites one


class CommentOut(msgspec.Struct):
    id: int
    author: str
    body: str
    created_at: dt.datetime


class InsightDetail(InsightOut):
    cited_messages: list[CitedMessage] = msgspec.field(default_factory=list)
    documents: list[CitedDocument] = msgspec.field(default_factory=list)
    withheld: int = 0
    comments: list[CommentOut] = msgspec.field(default_factory=list)


class TriageIn(msgspec.Struct, forbid_unknown_fields=True):
    action: Literal["acknowledge", "dismiss", "reopen", "assign", "comment"]
    assignee: Annotated[str, msgspec.Meta(max_length=120, description="assign: a person's handle; empty to "
                                                                      "unassign")] | None = None
    comment: Annotated[str, msgspec.Meta(max_length=4000, description="comment (optional with the other "
                                                                      "actions)")] | None = None


class DigestIn(msgspec.Struct, forbid_unknown_fields=True):
    period: Literal["daily", "weekly"] = "daily"


class DigestOut(msgspec.Struct):
    id: int
    period: str
    member_id: int
    since: dt.datetime
    created_at: dt.datetime
    markdown: str
    html: str
    insight_ids: list[int]
