"""Channel pages for signed-in people: the channel list, a channel as a list of threads (roots with their reply
counts, newest at the bottom, a bounded page) with a thread panel, and message search. Live updates, older history
on scroll and the new-message marker come from ``channels/static/live.js`` speaking the ``/ws`` protocol; without
the script the pages still work through links. Nothing is posted here.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from litestar import Request, Router, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from channels import config
from channels.emoji import EMOJI, reaction_chips
from channels.services import access_channel, get_message, list_channels, list_messages, search_messages
from workspace.actor import Actor
from workspace.charts import bar_chart
from workspace.errors import ChorusError, NotFound
from workspace.pages import PAGE_EXCEPTION_HANDLERS, PAGE_OPT, page
from workspace.web import provide_actor, requires

PAGE_SIZE = 50
"""Thread roots on a channel page (the live script keeps at most a few hundred in the page)."""
THREAD_LIMIT = 1000
SEARCH_PAGE = 20
CHART_TOP = 12
_Seq = Annotated[int | None, QueryParameter(ge=1)]


@get("/channels", name="channels-list")
async def channel_list(request: Request[Any, Any, Any], actor: NamedDependency[Actor]) -> Template:
    """Every channel the viewer's label dominates, busiest first in the chart."""
    channels = await list_channels(actor)
    busiest = sorted((c for c in channels if c["last_seq"]), key=lambda c: (-c["last_seq"], c["name"]))[:CHART_TOP]
    chart = bar_chart("Messages per channel", [c["name"] for c in busiest], [c["last_seq"] for c in busiest]) \
        if busiest else None
    return page(request, "channels/list.html", channels=channels, chart=chart, total=len(channels))


async def _channel_page(request: Request[Any, Any, Any], actor: Actor, name: str, *, from_seq: int | None = None,
                        before_seq: int | None = None, thread_id: int | None = None) -> Template:
    """A page of thread roots (the latest, those from ``from_seq``, or those before ``before_seq``), with the
    thread of ``thread_id`` open beside them. A ``from_seq`` that is a reply opens its thread at its root."""
    channel = await access_channel(actor, name)
    cid, tail = channel["id"], channel["last_seq"]
    if from_seq is not None:
        found = await list_messages(actor, cid, after_seq=from_seq - 1, limit=1, with_reactions=False)
        if found and found[0]["seq"] == from_seq and found[0]["thread_of"]:
            thread_id = thread_id or found[0]["thread_of"]
            from_seq = (await get_message(actor, found[0]["thread_of"]))["seq"]
        roots = await list_messages(actor, cid, after_seq=from_seq - 1, limit=PAGE_SIZE, roots_only=True)
    else:
        roots = await list_messages(actor, cid, before_seq=before_seq or tail + 1, limit=PAGE_SIZE, roots_only=True)
    thread: dict[str, Any] | None = None
    replies: list[dict[str, Any]] = []
    if thread_id is not None:
        found = await list_messages(actor, cid, thread_of=thread_id, limit=THREAD_LIMIT)
        thread = next((m for m in found if m["id"] == thread_id and not m["thread_of"]), None)
        if thread is None:
            raise NotFound(f"message {thread_id} is not the start of a thread in channel {channel['name']!r}")
        replies = [m for m in found if m["id"] != thread_id]
    first = roots[0]["seq"] if roots else None
    newest_root = await list_messages(actor, cid, before_seq=tail + 1, limit=1, roots_only=True,
                                      with_reactions=False) if roots else []
    at_tail = not roots or (bool(newest_root) and roots[-1]["seq"] >= newest_root[0]["seq"])
    has_older = bool(first) and bool(await list_messages(actor, cid, before_seq=first, limit=1, roots_only=True,
                                                        with_reactions=False))
    return page(request, "channels/view.html", channel=channel, messages=roots, thread=thread, replies=replies,
                live=not channel["archived"], at_tail=at_tail, after_seq=tail, has_older=has_older,
                older_before=first if has_older else None,
                newer_from=roots[-1]["seq"] + 1 if roots and not at_tail else None,
                may_post=config.current.limits.humans_may_post, chips=reaction_chips,
                emoji_json=json.dumps(EMOJI, ensure_ascii=False))


@get("/channels/{name:str}", name="channels-view")
async def channel_view(request: Request[Any, Any, Any], actor: NamedDependency[Actor], name: FromPath[str],
                       from_seq: Annotated[int | None, QueryParameter(name="from", ge=1)] = None,
                       before: _Seq = None) -> Template:
    """The latest threads and the live feed; ``?from=N`` the page starting at seq N (its thread open when N is a
    reply: permalinks and cited evidence land there); ``?before=N`` the page before seq N."""
    return await _channel_page(request, actor, name, from_seq=from_seq, before_seq=before)


@get("/channels/{name:str}/threads/{root_id:int}", name="channels-thread")
async def thread_view(request: Request[Any, Any, Any], actor: NamedDependency[Actor], name: FromPath[str],
                      root_id: FromPath[int]) -> Template:
    """The channel with one thread open in the panel beside it (its root and replies, live)."""
    return await _channel_page(request, actor, name, thread_id=root_id)


def marked(text: str, highlights: list[list[int]]) -> list[tuple[str, bool]]:
    """``text`` cut into (part, is_match) pieces at the highlight offsets, for ``<mark>`` without raw HTML."""
    out: list[tuple[str, bool]] = []
    at = 0
    for start, end in sorted(highlights):
        if start < at:
            continue
        if start > at:
            out.append((text[at:start], False))
        out.append((text[start:end], True))
        at = end
    if at < len(text):
        out.append((text[at:], False))
    return out


@get("/search", name="messages-search")
async def search_page(request: Request[Any, Any, Any], actor: NamedDependency[Actor],
                      q: Annotated[str | None, QueryParameter(max_length=500)] = None,
                      channel: Annotated[str | None, QueryParameter(max_length=80)] = None,
                      offset: Annotated[int, QueryParameter(ge=0, le=1000)] = 0) -> Template:
    """Full-text search over the messages the viewer may read, best first, with the matching words marked."""
    text, where = (q or "").strip(), (channel or "").strip() or None
    found: dict[str, Any] = {"total": 0, "results": [], "terms": []}
    error = None
    if text:
        try:
            found = await search_messages(actor, text, where, SEARCH_PAGE, offset)
        except ChorusError as exc:
            error = exc.message
    for r in found["results"]:
        r["parts"] = marked(r["snippet"], r["highlights"])
        r["link"] = f"/channels/{r['channel']}?from={r['message']['seq']}#m-{r['message']['seq']}"
    shown = offset + len(found["results"])
    return page(request, "channels/search.html", status_code=400 if error else 200, q=text, channel=where,
                channels=await list_channels(actor), found=found, error=error, offset=offset,
                next_offset=shown if shown < min(found["total"], 1001) and found["results"] else None,
                prev_offset=max(0, offset - SEARCH_PAGE) if offset else None)


def router() -> Router:
    """Every channel page, for signed-in people only (agents use the API); anonymous browsers go to sign in."""
    return Router(path="/", route_handlers=[channel_list, channel_view, thread_view, search_page],
                  guards=[requires()], dependencies={"actor": Provide(provide_actor)},
                  exception_handlers=PAGE_EXCEPTION_HANDLERS, include_in_schema=False, opt=PAGE_OPT)
