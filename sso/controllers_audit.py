"""Audit trail API for security reviewers: search (keyset pages, either order, an optional total), streamed JSONL/CSV
export, chain verification (at once, or in the background with progress), signed checkpoints.

Searches and exports hold only the entries the reviewer's clearance dominates and say how many matches they left out
(``hidden`` in a search, the ``X-Chorus-Hidden-Entries`` header of an export)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter
from litestar.response import Stream

from sso import services_verify
from workspace.actor import Actor
from workspace.audit_search import (
    AuditFilter,
    count_audit,
    count_hidden,
    iter_audit,
    make_checkpoint,
    record_export,
    search_audit,
    verify_audit,
)
from workspace.cli import CSV_COLUMNS, audit_key, csv_row
from workspace.errors import ValidationFailed
from workspace.web import provide_actor, requires

Opt = Annotated[str | None, QueryParameter()]
HIDDEN_HEADER = "X-Chorus-Hidden-Entries"
When = Annotated[dt.datetime | None, QueryParameter(description="ISO 8601 date-time; without a zone it is UTC")]


def _us(value: dt.datetime | None) -> int | None:
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return int(aware.timestamp() * 1_000_000)


def _filter(actor: str | None, action: str | None, entity_type: str | None, entity_id: str | None,
            since: dt.datetime | None, until: dt.datetime | None) -> AuditFilter:
    return AuditFilter(actor=actor, action=action, entity_type=entity_type, entity_id=entity_id,
                       since_us=_us(since), until_us=_us(until))


class AuditController(Controller):
    path = "/api/audit"
    tags = ["audit"]
    guards = [requires("security")]
    dependencies = {"actor": Provide(provide_actor)}

    @get("/", summary="Search the audit trail (filters combine; keyset pages in either order)",
         description="order=oldest (the default): pass next_after_seq as after_seq for the next page. "
         "order=newest: pass next_before_seq as before_seq. total=true adds how many entries match in all. Only "
         "entries your clearance dominates are returned or counted; hidden says how many matches are above it.")
    async def search(self, actor: NamedDependency[Actor], actor_q: Annotated[str | None, QueryParameter(
                         name="actor", description="member id or handle")] = None,
                     action: Opt = None, entity_type: Opt = None, entity_id: Opt = None,
                     since: When = None, until: When = None,
                     after_seq: Annotated[int, QueryParameter(ge=0)] = 0,
                     before_seq: Annotated[int | None, QueryParameter(ge=1)] = None,
                     order: Annotated[str, QueryParameter(pattern="^(oldest|newest)$")] = "oldest",
                     total: Annotated[bool, QueryParameter(description="count every match")] = False,
                     limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100) -> dict[str, Any]:
        f = _filter(actor_q, action, entity_type, entity_id, since, until)
        newest = order == "newest"
        events, cursor = await search_audit(actor, f, after_seq, limit, newest_first=newest, before_seq=before_seq)
        out: dict[str, Any] = {"events": events, "next_before_seq" if newest else "next_after_seq": cursor,
                               "hidden": await count_hidden(actor, f)}
        if total:
            out["total"] = await count_audit(actor, f)
        return out

    @get("/export", summary="Export matching entries as JSON lines or CSV (streamed; X-Chorus-Hidden-Entries: how "
                            "many matches above your clearance were left out)")
    async def export(self, actor: NamedDependency[Actor],
                     fmt: Annotated[str, QueryParameter(name="format", description="jsonl or csv")] = "jsonl",
                     actor_q: Annotated[str | None, QueryParameter(name="actor")] = None,
                     action: Opt = None, entity_type: Opt = None, entity_id: Opt = None,
                     since: When = None, until: When = None) -> Stream:
        if fmt not in {"jsonl", "csv"}:
            raise ValidationFailed(f"format must be jsonl or csv; got {fmt!r}", field="format")
        f = _filter(actor_q, action, entity_type, entity_id, since, until)
        hidden = await count_hidden(actor, f)
        await record_export(actor, fmt, f, hidden)

        async def body() -> AsyncIterator[str]:
            if fmt == "csv":
                yield _csv_line(CSV_COLUMNS)
            async for item in iter_audit(actor, f):
                yield _csv_line(csv_row(item)) if fmt == "csv" else json.dumps(item, ensure_ascii=False) + "\n"

        media = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson"
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        return Stream(body(), media_type=media, headers={
            "Content-Disposition": f'attachment; filename="chorus-audit-{stamp}.{fmt}"', "Cache-Control": "no-store",
            HIDDEN_HEADER: str(hidden)})

    @get("/verify", summary="Verify the hash chain and the latest checkpoint now, in this request (modified, deleted, "
         "reordered, truncated); for a long trail start a background check with POST /api/audit/verifications")
    async def verify(self, request: Request[Any, Any, Any], actor: NamedDependency[Actor]) -> dict[str, Any]:
        return await verify_audit(actor, audit_key(request.app.state.settings))

    @post("/verifications", status_code=202, summary="Start a background check of the whole chain (or get the one "
          "running); follow it with GET /api/audit/verifications/latest")
    async def start_verification(self, request: Request[Any, Any, Any], actor: NamedDependency[Actor]
                                 ) -> dict[str, Any]:
        return {"job": await services_verify.start(actor, audit_key(request.app.state.settings))}

    @get("/verifications/latest", summary="The latest background check (progress while it runs) and the last one "
         "that finished (when the chain was last verified, and what it found)")
    async def latest_verification(self, actor: NamedDependency[Actor]) -> dict[str, Any]:
        return {"job": await services_verify.latest(actor), "last_verified": await services_verify.last_finished(actor)}

    @post("/checkpoints", status_code=201, summary="Sign the chain's current end (HMAC-SHA256): keep the answer "
          "elsewhere; `chorus audit verify --checkpoint FILE` detects a truncated trail with it (audited)")
    async def checkpoint(self, request: Request[Any, Any, Any], actor: NamedDependency[Actor]) -> dict[str, Any]:
        return await make_checkpoint(actor, audit_key(request.app.state.settings))


def _csv_line(values: list[Any]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerow(values)
    return buf.getvalue()
