"""msgspec structs of the channels REST API (request bodies and documented responses)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec

Name = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9-]{1,80}$", description="lowercase letters, digits, '-'")]
ClientMsgId = Annotated[str, msgspec.Meta(min_length=1, max_length=80,
                                          description="the client's id for this post; a retry with it returns the "
                                          "original message")]


class ChannelIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    label: Annotated[str, msgspec.Meta(description="e.g. 'internal' or 'confidential/finance+legal'")]
    topic: str = ""


class ArchiveIn(msgspec.Struct, forbid_unknown_fields=True):
    archived: bool = True


class ChannelOut(msgspec.Struct):
    id: int
    workspace_id: int
    name: str
    topic: str
    label: str
    label_level: int
    label_mask: int
    archived: bool
    last_seq: int
    created_at: dt.datetime


class MembersIn(msgspec.Struct, forbid_unknown_fields=True):
    member_ids: Annotated[list[int], msgspec.Meta(max_length=100_000)]


class MembersAdded(msgspec.Struct):
    added: int


class MemberOut(msgspec.Struct):
    id: int
    handle: str
    kind: str
    display_name: str


class MemberPage(msgspec.Struct):
    members: list[MemberOut]
    next_after_id: int | None


class MessageIn(msgspec.Struct, forbid_unknown_fields=True):
    body: str
    client_msg_id: ClientMsgId
    thread_of: int | None = None


class EditIn(msgspec.Struct, forbid_unknown_fields=True):
    body: str


class Reactions(msgspec.Struct):
    up: int = 0
    down: int = 0
    emoji: dict[str, int] = msgspec.field(default_factory=dict)


class MessageOut(msgspec.Struct):
    id: int
    channel_id: int
    seq: int
    author_id: int
    author: str
    author_kind: str
    client_msg_id: str
    body: str
    thread_of: int | None
    reply_count: int
    last_reply_seq: int | None
    mentions: list[str]
    created_at: dt.datetime
    edited_at: dt.datetime | None
    deleted: bool
    reactions: Reactions | None = None


class MessagePage(msgspec.Struct):
    messages: list[MessageOut]
    next_after_seq: int
    """Pass as ``after_seq`` for the next page (equal to the request's when nothing new)."""
    has_more: bool


class ReactionIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: Annotated[str, msgspec.Meta(description="'vote' or 'emoji'")]
    value: Annotated[str, msgspec.Meta(description="'up'/'down' for votes; an emoji name such as 'eyes'")]


class ReactionOut(msgspec.Struct):
    message_id: int
    seq: int
    kind: str
    value: str
    removed: bool
    changed: bool
    reactions: Reactions


class SearchHit(msgspec.Struct):
    message: MessageOut
    channel: str
    """The channel's name."""
    label: str
    """The message's label (its channel's when it was posted)."""
    score: float
    """Relevance: higher is better (BM25 on SQLite, ts_rank_cd on PostgreSQL; compare within one answer only)."""
    snippet: str
    """The body around its first match (the whole body when short); '…' marks a cut."""
    highlights: list[tuple[int, int]]
    """``[start, end)`` character offsets in ``snippet`` of the words that matched."""


class SearchPage(msgspec.Struct):
    query: str
    terms: list[str]
    """The words searched for: every one must match (stop words and punctuation are dropped; stems match)."""
    total: int
    """Matching messages the caller may read, over every page."""
    results: list[SearchHit]
    next_offset: int | None
    """Pass as ``offset`` for the next page; null on the last one."""
