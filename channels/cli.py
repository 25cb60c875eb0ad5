"""``chorus export messages``: the compliance export, one JSON object per message (JSON lines), audited as
``messages.exported`` before the first line is written."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

import click

from workspace import audit
from workspace import db as dbmod
from workspace.audit import Entity
from workspace.cli import run_with_db
from workspace.db import Database
from workspace.errors import NotFound
from workspace.labels import Stored
from workspace.services import ensure_workspace, get_scheme, system_actor

EXPORT_BATCH = 2000


async def iter_export(workspace_id: int, channel: str | None = None) -> AsyncIterator[dict[str, Any]]:
    """Every message of the workspace (or of one channel) in (channel, seq) order, read by keyset in batches."""
    database = dbmod.current()
    scheme = await get_scheme(workspace_id)
    sql = "SELECT id, name FROM chorus_channel WHERE workspace = {}"
    args: list[Any] = [workspace_id]
    if channel is not None:
        sql += " AND name = {}"
        args.append(channel)
    channels = await database.fetch(sql + " ORDER BY id", *args)
    if channel is not None and not channels:
        raise NotFound(f"there is no channel named {channel!r}; `chorus export messages` without --channel "
                       "exports every channel")
    for ch in channels:
        after = 0
        while True:
            rows = await database.fetch(
                "SELECT m.id, m.seq, m.author_handle, m.author_kind, m.body, m.thread_of, m.label_level, "
                "m.label_mask, m.created_at, m.edited_at, m.deleted, m.client_msg_id, p.seq AS thread_seq "
                "FROM chorus_message m LEFT JOIN chorus_message p ON p.id = m.thread_of "
                "WHERE m.channel = {} AND m.seq > {} ORDER BY m.seq LIMIT {}", ch["id"], after, EXPORT_BATCH)
            for r in rows:
                yield {
                    "channel": ch["name"], "channel_id": ch["id"], "seq": r["seq"], "id": r["id"],
                    "author": r["author_handle"], "author_kind": r["author_kind"], "body": r["body"],
                    "label": str(scheme.from_ints(int(r["label_level"]), int(r["label_mask"]))),
                    "thread_of": r["thread_of"], "thread_of_seq": r["thread_seq"],
                    "created_at": r["created_at"].isoformat(),
                    "edited_at": r["edited_at"].isoformat() if r["edited_at"] else None,
                    "deleted": bool(r["deleted"]), "client_msg_id": r["client_msg_id"],
                }
            if len(rows) < EXPORT_BATCH:
                break
            after = rows[-1]["seq"]


async def record_export(workspace_id: int, channel: str | None, to: str) -> None:
    """Put the export on the record (as the CLI's system actor). An export of one channel carries that channel's
    label (the entry names it); one of every channel names none and carries the bottom label."""
    cli = await system_actor(workspace_id, handle="cli")
    database = dbmod.current()
    label = None
    if channel is not None:
        rows = await database.fetch("SELECT label_level, label_mask FROM chorus_channel WHERE workspace = {} "
                                    "AND name = {}", workspace_id, channel)
        if not rows:
            raise NotFound(f"there is no channel named {channel!r}; `chorus export messages` without --channel "
                           "exports every channel")
        label = Stored.of(rows[0])
    async with database.transaction():
        await audit.record(cli, "messages.exported", Entity("channel" if channel else "workspace",
                                                            channel or workspace_id),
                           {"channel": channel, "format": "jsonl", "to": to, "via": "cli"}, label=label)


async def write_export(out: IO[str], workspace: str, channel: str | None, to: str = "stdout") -> int:
    ws = await ensure_workspace(workspace)
    await record_export(ws, channel, to)
    count = 0
    async for item in iter_export(ws, channel):
        out.write(json.dumps(item, ensure_ascii=False) + "\n")
        count += 1
    return count


@click.group(name="export")
def export_group() -> None:
    """Compliance exports."""


@export_group.command(name="messages")
@click.option("--channel", default=None, help="Only this channel (by name).")
@click.option("--jsonl", "jsonl", is_flag=True, default=True, help="JSON lines (the only format; the default).")
@click.option("--workspace", default="default", show_default=True, help="Workspace name.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file instead of standard output.")
def export_messages(channel: str | None, jsonl: bool, workspace: str, out: Path | None) -> None:
    """Every message with channel, seq, author handle, body, label, thread and timestamps, one JSON per line."""

    async def go(_: Database) -> int:
        if out is None:
            return await write_export(sys.stdout, workspace, channel)
        with out.open("w", encoding="utf-8") as fh:
            return await write_export(fh, workspace, channel, str(out))

    count = run_with_db(go)
    click.echo(f"exported {count} message(s)", err=True)
