"""The security reviewer's pages, rendered from ``sso/templates/sso``: the audit trail (newest first, a total,
filters that combine, details as fields, exports), the chain check (started here, run in the background, with
progress and when it last ran), signed checkpoints to download, blocked posts and document reads (with document
titles, within the reviewer's clearance). Entries above the reviewer's clearance are not shown, only counted. The
rules live in ``workspace.audit_search`` and ``services_verify``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter
from litestar.response import Redirect

from sso import services_verify
from workspace.actor import Actor
from workspace.audit import last_checkpoint
from workspace.audit_search import (
    AuditFilter,
    count_audit,
    count_hidden,
    document_titles,
    make_checkpoint,
    search_audit,
)
from workspace.cli import audit_key
from workspace.errors import ChorusError, ValidationFailed
from workspace.pages import PAGE_EXCEPTION_HANDLERS, PAGE_OPT, page
from workspace.web import provide_actor, requires

AUDIT_PAGE = 50
_Q = Annotated[str | None, QueryParameter()]
_Before = Annotated[int | None, QueryParameter(ge=1, description="show entries before this seq (older ones)")]
DOCUMENT_KEYS = frozenset({"documents", "document", "other_document"})
"""Detail keys that hold document ids: shown as titles."""


def _when_us(text: str | None, field: str) -> int | None:
    """``datetime-local`` input (``2026-11-21T12:30``, UTC when no zone is given) -> microseconds."""
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(f"{field} must be a date and time like 2026-11-21T12:30; got {text!r}",
                               field=field) from None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return int(aware.timestamp() * 1_000_000)


def _export_links(params: dict[str, str]) -> dict[str, str]:
    return {fmt: "/api/audit/export?" + urlencode({"format": fmt, **params}) for fmt in ("jsonl", "csv")}


def _api_time(key: str, value: str) -> str:
    """The export API reads since/until as ISO 8601 (UTC without a zone): the form's values pass through."""
    return value if key not in {"since", "until"} or len(value) != 16 else value + ":00"


def _ids(value: Any) -> list[int]:
    items = value if isinstance(value, list) else [value]
    return [int(v) for v in items if isinstance(v, int) or (isinstance(v, str) and v.isdigit())]


def _document_ids(events: Iterable[Mapping[str, Any]]) -> set[int]:
    found: set[int] = set()
    for e in events:
        if e["entity"]["type"] == "document":
            found.update(_ids(e["entity"]["id"]))
        for key in DOCUMENT_KEYS & set(e["details"]):
            found.update(_ids(e["details"][key]))
    return found


def document_name(doc_id: int, titles: Mapping[int, str | None]) -> str:
    title = titles.get(doc_id)
    return f"{title} (#{doc_id})" if title else f"document #{doc_id} (above your clearance, or deleted)"


def _text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{str(k).replace('_', ' ')}: {_text(v)}" for k, v in value.items()) or "none"
    if isinstance(value, float):
        return f"{value:,.6g}"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    return str(value)


def detail_fields(details: Mapping[str, Any], titles: Mapping[int, str | None]) -> list[tuple[str, str]]:
    """An entry's details as (label, text) pairs for people: words instead of keys, lists joined, yes/no, and
    document ids as their titles."""
    out = []
    for key, value in details.items():
        if key in DOCUMENT_KEYS and _ids(value):
            text = "; ".join(document_name(i, titles) for i in _ids(value))
        elif key in DOCUMENT_KEYS:
            text = "none"
        else:
            text = _text(value)
        out.append((key.replace("_", " "), text))
    return out


def entity_text(entity: Mapping[str, Any], titles: Mapping[int, str | None]) -> str:
    if entity["type"] == "document" and _ids(entity["id"]):
        return document_name(_ids(entity["id"])[0], titles)
    return f"{entity['type']} {entity['id']}"


async def _shown(actor: Actor, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each entry with ``fields`` (details for people) and ``entity_text``, document titles looked up once."""
    titles = await document_titles(actor, _document_ids(events))
    for e in events:
        e["fields"] = detail_fields(e["details"], titles)
        e["entity_text"] = entity_text(e["entity"], titles)
        e["document_names"] = [document_name(i, titles) for i in _ids(e["details"].get("documents", []))]
    return events


@get("/security/audit", name="security-audit")
async def audit_page(request: Request[Any, Any, Any], actor: NamedDependency[Actor],
                     who: Annotated[str | None, QueryParameter(name="actor")] = None, action: _Q = None,
                     entity_type: _Q = None, entity_id: _Q = None, since: _Q = None, until: _Q = None,
                     before_seq: _Before = None) -> Response[Any]:
    """Search the trail newest first (keyset pages), with how many entries match, export what matches, see the
    last checkpoint. Every filter given applies (they combine)."""
    raw = {"actor": who, "action": action, "entity_type": entity_type, "entity_id": entity_id, "since": since,
           "until": until}
    params = {k: v.strip() for k, v in raw.items() if v and v.strip()}
    error: str | None = None
    events: list[dict[str, Any]] = []
    next_before: int | None = None
    total = hidden = 0
    try:
        f = AuditFilter(actor=params.get("actor"), action=params.get("action"),
                        entity_type=params.get("entity_type"), entity_id=params.get("entity_id"),
                        since_us=_when_us(params.get("since"), "since"),
                        until_us=_when_us(params.get("until"), "until"))
        events, next_before = await search_audit(actor, f, limit=AUDIT_PAGE, newest_first=True,
                                                 before_seq=before_seq)
        total = await count_audit(actor, f)
        hidden = await count_hidden(actor, f)
    except ChorusError as exc:
        error = exc.message
    return page(request, "sso/audit.html", status_code=400 if error else 200, events=await _shown(actor, events),
                params=params, error=error, before_seq=before_seq, next_before=next_before, total=total, hidden=hidden,
                query=urlencode(params), checkpoint=await last_checkpoint(),
                exports=_export_links({k: _api_time(k, v) for k, v in params.items()}))


@get("/security/verify", name="security-verify")
async def verify_page(request: Request[Any, Any, Any], actor: NamedDependency[Actor]) -> Response[Any]:
    """When the chain was last verified and what was found; a check in progress with its progress; checkpoints."""
    return page(request, "sso/verify.html", job=await services_verify.latest(actor),
                last=await services_verify.last_finished(actor), checkpoint=await last_checkpoint())


@post("/security/verify", name="security-verify-start")
async def verify_start(request: Request[Any, Any, Any], actor: NamedDependency[Actor]) -> Redirect:
    """Start a check of the whole chain in the background (or join the one running) and show its progress."""
    await services_verify.start(actor, audit_key(request.app.state.settings))
    return Redirect(path="/security/verify", status_code=303)


@post("/security/checkpoint", name="security-checkpoint", status_code=200)
async def checkpoint_download(request: Request[Any, Any, Any], actor: NamedDependency[Actor]) -> Response[bytes]:
    """Sign the chain's current end and hand it over as a file to keep elsewhere (``chorus audit verify
    --checkpoint FILE`` reads it); audited."""
    checkpoint = await make_checkpoint(actor, audit_key(request.app.state.settings))
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return Response(json.dumps(checkpoint, indent=2).encode() + b"\n", media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="chorus-checkpoint-{checkpoint["seq"]}-{stamp}.json"',
        "Cache-Control": "no-store"})


@get("/security/blocked", name="security-blocked")
async def blocked_page(request: Request[Any, Any, Any], actor: NamedDependency[Actor],
                       before_seq: _Before = None) -> Response[Any]:
    """Posts the leak guard refused, newest first: who, where, which documents' text it carried."""
    f = AuditFilter(action="post.blocked")
    events, next_before = await search_audit(actor, f, limit=AUDIT_PAGE, newest_first=True, before_seq=before_seq)
    return page(request, "sso/blocked.html", events=await _shown(actor, events), before_seq=before_seq,
                next_before=next_before, total=await count_audit(actor, f), hidden=await count_hidden(actor, f),
                exports=_export_links({"action": "post.blocked"}))


@get("/security/reads", name="security-reads")
async def reads_page(request: Request[Any, Any, Any], actor: NamedDependency[Actor],
                     agent: _Q = None, before_seq: _Before = None) -> Response[Any]:
    """Which documents each agent's turns read (``context.read``), newest first, for one agent or all."""
    handle = (agent or "").strip() or None
    f = AuditFilter(actor=handle, action="context.read")
    events, next_before = await search_audit(actor, f, limit=AUDIT_PAGE, newest_first=True, before_seq=before_seq)
    params = {"agent": handle} if handle else {}
    return page(request, "sso/reads.html", events=await _shown(actor, events), agent=handle or "",
                before_seq=before_seq, next_before=next_before, query=urlencode(params),
                total=await count_audit(actor, f), hidden=await count_hidden(actor, f),
                exports=_export_links({"action": "context.read", **({"actor": handle} if handle else {})}))


SECURITY_HANDLERS = [audit_page, verify_page, verify_start, checkpoint_download, blocked_page, reads_page]


def security_router() -> Router:
    """Security reviewers only; anonymous browsers are sent to sign in."""
    return Router(path="/", route_handlers=SECURITY_HANDLERS, guards=[requires("security")],
                  dependencies={"actor": Provide(provide_actor)}, exception_handlers=PAGE_EXCEPTION_HANDLERS,
                  include_in_schema=False, opt=PAGE_OPT)
