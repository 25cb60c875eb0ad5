"""The channels domain's service API (rules, no HTTP): one import point for other domains and the web layer.

Channels and membership live in ``services_channels``, messages in ``services_messages``, reactions in
``services_reactions``, search in ``services_search``; this module re-exports their public functions (and
``deferred_events``, which callers that post inside their own transaction wrap around it).
"""

from __future__ import annotations

from channels.events import deferred_events
from channels.services_batch import Post, post_batch
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
    undominated_memberships,
)
from channels.services_messages import (
    delete_message,
    edit_message,
    get_message,
    highest_reply_levels,
    latest_messages,
    list_messages,
    memberships_after,
    mentions_between,
    message_id_back,
    message_refs,
    messages_after,
    messages_by_ids,
    parse_mentions,
    post_message,
    read_messages,
    submit_message,
    top_message_id,
    workspace_channels,
)
from channels.services_reactions import react
from channels.services_scan import message_channel_names, message_ids_after, message_scan
from channels.services_search import search_messages

__all__ = [
    "Post", "access_channel", "add_members_bulk", "create_channel", "deferred_events", "delete_message",
    "edit_message", "get_message", "highest_reply_levels", "is_member", "join_channel", "latest_messages",
    "leave_channel", "list_channels", "list_members", "list_messages", "member_channels", "memberships_after",
    "mentions_between", "message_channel_names", "message_id_back", "message_ids_after", "message_refs",
    "message_scan", "messages_after", "messages_by_ids", "parse_mentions", "post_batch", "post_message", "react",
    "read_messages", "remove_member", "search_messages", "set_archived", "submit_message", "top_message_id",
    "undominated_memberships", "workspace_channels",
]
