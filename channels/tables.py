"""Piccolo tables of the channels domain: channels, membership, messages (per-channel ``seq``), mentions, reactions.

Composite unique constraints and multi-column indexes are raw SQL in a migration (Piccolo has no syntax for them).
"""

from __future__ import annotations

from piccolo.columns import BigInt, Boolean, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.table import Table

from workspace.tables import Member, Workspace


class Channel(Table, tablename="chorus_channel"):
    """A channel. ``last_seq`` is the per-channel counter: a post increments it in the insert's transaction."""

    id: Serial

    workspace = ForeignKey(references=Workspace, null=False, index=True)
    name = Varchar(length=80)  # unique per workspace (raw index)
    topic = Text(default="")
    label_level = Integer(default=0)
    label_mask = BigInt(default=0)
    archived = Boolean(default=False)
    last_seq = BigInt(default=0)
    created_at = Timestamptz()


class ChannelMember(Table, tablename="chorus_channel_member"):
    """Membership: who may post in a channel (reading needs only label dominance). Unique (channel, member)."""

    id: Serial

    channel = ForeignKey(references=Channel, null=False, index=True)
    member = ForeignKey(references=Member, null=False, index=True)
    joined_at = Timestamptz()


class Message(Table, tablename="chorus_message"):
    """A message. ``seq`` is unique per channel; a delete keeps the row (and its seq) as a tombstone.

    ``thread_of`` is the id of the thread's root message (replies to a reply attach to the root). ``mentions`` is
    the JSON list of mentioned handles (the rows of :class:`Mention` are the queryable form). The label is the
    channel's at posting time, so exports and insights carry it without a join.
    """

    id: Serial

    channel = ForeignKey(references=Channel, null=False)
    seq = BigInt()
    author = ForeignKey(references=Member, null=False, index=True)
    author_handle = Varchar(length=120)
    author_kind = Varchar(length=8)
    client_msg_id = Varchar(length=80)
    body = Text(default="")
    thread_of = BigInt(null=True, default=None)
    reply_count = Integer(default=0)
    last_reply_seq = BigInt(null=True, default=None)
    mentions = Text(default="[]")
    label_level = Integer(default=0)
    label_mask = BigInt(default=0)
    created_at = Timestamptz()
    edited_at = Timestamptz(null=True, default=None)
    deleted = Boolean(default=False)


class Mention(Table, tablename="chorus_mention"):
    """One @mention of a channel member in a message (the runtime answers mentions first)."""

    id: Serial

    message = ForeignKey(references=Message, null=False, index=True)
    channel = ForeignKey(references=Channel, null=False)
    member = ForeignKey(references=Member, null=False)
    seq = BigInt()


class Reaction(Table, tablename="chorus_reaction"):
    """A vote (``kind='vote'``, value up/down) or an emoji (``kind='emoji'``). ``slot`` is ``vote`` or
    ``emoji:<name>``; unique (message, member, slot) gives one vote and one of each emoji per member."""

    id: Serial

    message = ForeignKey(references=Message, null=False, index=True)
    member = ForeignKey(references=Member, null=False)
    kind = Varchar(length=8)
    value = Varchar(length=64)
    slot = Varchar(length=72)
    created_at = Timestamptz()
