"""Audit trail API for security reviewers: search (keyset pages), streamed JSONL/CSV export, chain verification."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter
from litestar.response import Stream

from sso.services_audit import AuditFilter, iter_audit, record_export, search_audit, verify_audit
from workspace.actor import Actor
from workspace.cli import CSV_COLUMNS, audit_key, csv_row
from workspace.errors import ValidationFailed
from workspace.web import provide_actor, requires

Opt = Annotated[str | None, QueryParameter()]
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

    @get("/", summary="Search the audit trail (oldest first; pass next_after_seq as after_seq for the next page)")
    async def search(self, actor: NamedDependency[Actor], actor_q: Annotated[str | None, QueryParameter(
                         name="actor", description="member id or handle")] = None,
                     action: Opt = None, entity_type: Opt = None, entity_id: Opt = None,
                     since: When = None, until: When = None,
                     after_seq: Annotated[int, QueryParameter(ge=0)] = 0,
                     limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100) -> dict[str, Any]:
        f = _filter(actor_q, action, entity_type, entity_id, since, until)
        events, next_after = await search_audit(actor, f, after_seq, limit)
        return {"events": events, "next_after_seq": next_after}

    @get("/export", summary="Export matching entries as JSON lines or CSV (streamed)")
    async def export(self, actor: NamedDependency[Actor],
                     fmt: Annotated[str, QueryParameter(name="format", description="jsonl or csv")] = "jsonl",
                     actor_q: Annotated[str | None, QueryParameter(name="actor")] = None,
                     action: Opt = None, entity_type: Opt = None, entity_id: Opt = None,
                     since: When = None, until: When = None) -> Stream:
        if fmt not in {"jsonl", "csv"}:
            raise ValidationFailed(f"format must be jsonl or csv; got {fmt!r}", field="format")
        f = _filter(actor_q, action, entity_type, entity_id, since, until)
        await record_export(actor, fmt, f)

        async def body() -> AsyncIterator[str]:
            if fmt == "csv":
                yield _csv_line(CSV_COLUMNS)
            async for item in iter_audit(actor, f):
                yield _csv_line(csv_row(item)) if fmt == "csv" else json.dumps(item, ensure_ascii=False) + "\n"

        media = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson"
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        return Stream(body(), media_type=media, headers={
            "Content-Disposition": f'attachment; filename="chorus-audit-{stamp}.{fmt}"', "Cache-Control": "no-store"})

    @get("/verify", summary="Verify the hash chain and the latest checkpoint (modified, deleted, reordered, truncated)")
    async def verify(self, request: Request[Any, Any, Any], actor: NamedDependency[Actor]) -> dict[str, Any]:
        return await verify_audit(actor, audit_key(request.app.state.settings))


def _csv_line(values: list[Any]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerow(values)
    return buf.getvalue()
