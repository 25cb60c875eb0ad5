"""The channels domain's service API (rules, no HTTP): one import point for other domains and the web layer.

Channels and membership live in ``services_channels``, messages in ``services_messages``, reactions in
``services_reactions``; this module re-exports their public functions (and ``deferred_events``, which callers that
post inside their own transaction wrap around it).
"""

from __future__ import annotations

from channels.events import deferred_events
from channels.services_channels import (
    access_channel,
    add_members_bulk,
    create_channel,
    is_member,
    join_channel,
    leave_channel,
    list_channels,
    list_members,
    member_channels,
    remove_member,
    set_archived,
)
from channels.services_messages import (
    delete_message,
    edit_message,
    get_message,
    list_messages,
    parse_mentions,
    post_message,
    read_messages,
    submit_message,
)
from channels.services_reactions import react

__all__ = [
    "access_channel", "add_members_bulk", "create_channel", "deferred_events", "delete_message", "edit_message",
    "get_message", "is_member", "join_channel", "leave_channel", "list_channels", "list_members", "list_messages",
    "member_channels", "parse_mentions", "post_message", "react", "read_messages", "remove_member", "set_archived",
    "submit_message",
]
