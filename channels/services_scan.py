"""Bulk reads of messages for background readers that go through a workspace's whole history (mining): pages as
tuples of only the columns they use, read in id order, and the channels of many messages at once. No label check:
callers show a message's text only to readers whose label dominates the message's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workspace import db as dbmod
from workspace.db_sql import in_batches

SCAN_COLUMNS = ("id", "channel", "channel_name", "author_handle", "body", "label_level", "label_mask", "deleted")
"""What :func:`message_scan` returns, in this order."""

DENSE = 4
"""Ids spread over at most this many times their count are read as one id range (then filtered), else by list."""


async def message_ids_after(workspace_id: int, after_id: int, limit: int) -> list[tuple[int, Any]]:
    """A page of the workspace's message ids above ``after_id``, by id, each with its ``deleted`` flag (deleted
    ones included). The messages are walked by id and their channel looked up (the ``CROSS JOIN`` keeps SQLite
    from walking each channel's messages and sorting them: a page then costs what it returns, not what is left
    after it)."""
    return await dbmod.current().fetch_rows(
        "SELECT m.id, m.deleted FROM chorus_message m CROSS JOIN chorus_channel c WHERE c.id = m.channel "
        "AND m.id > {} AND c.workspace = {} ORDER BY m.id LIMIT {}", after_id, workspace_id, limit)


async def message_scan(message_ids: Sequence[int]) -> list[tuple[Any, ...]]:
    """These messages (deleted ones included), by id, as tuples of :data:`SCAN_COLUMNS`; ids close together are
    read as one range of ids, others by list."""
    ids = sorted(set(message_ids))
    if not ids:
        return []
    database = dbmod.current()
    sql = ("SELECT m.id, m.channel, c.name, m.author_handle, m.body, m.label_level, m.label_mask, m.deleted "
           "FROM chorus_message m CROSS JOIN chorus_channel c WHERE c.id = m.channel AND ")
    if ids[-1] - ids[0] < 2 * len(ids):
        wanted = set(ids)
        return [r for r in await database.fetch_rows(sql + "m.id BETWEEN {} AND {} ORDER BY m.id", ids[0], ids[-1])
                if r[0] in wanted]
    out: list[tuple[Any, ...]] = []
    for part, marks in in_batches(ids):
        out += await database.fetch_rows(sql + f"m.id IN ({marks}) ORDER BY m.id", *part)
    return out


async def message_channel_names(message_ids: Sequence[int]) -> dict[int, str]:
    """The name of the channel of each message that is not deleted (deleted and unknown ids are left out), as
    :func:`channels.services_messages.message_refs` gives it, in a few statements for many ids: ids close together
    (a page of a run's claims) are read as one range of ids, others by list."""
    ids = sorted(set(message_ids))
    out: dict[int, str] = {}
    if not ids:
        return out
    database = dbmod.current()
    sql = ("SELECT m.id, c.name FROM chorus_message m CROSS JOIN chorus_channel c WHERE c.id = m.channel "
           "AND m.deleted = {} AND ")
    if ids[-1] - ids[0] < DENSE * len(ids) + 1000:
        wanted = set(ids)
        for mid, name in await database.fetch_rows(sql + "m.id BETWEEN {} AND {}", False, ids[0], ids[-1]):
            if mid in wanted:
                out[int(mid)] = str(name)
        return out
    for part, marks in in_batches(ids):
        for mid, name in await database.fetch_rows(sql + f"m.id IN ({marks})", False, *part):
            out[int(mid)] = str(name)
    return out
