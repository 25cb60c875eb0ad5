"""Channel pages for signed-in people: the channel list (with messages per channel) and the live channel and thread
views. Live updates come from ``channels/static/live.js`` speaking the ``/ws`` protocol; nothing is posted here.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Router, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from channels import config
from channels.services import access_channel, list_channels, list_messages
from workspace.actor import Actor
from workspace.charts import bar_chart
from workspace.pages import PAGE_EXCEPTION_HANDLERS, PAGE_OPT, page
from workspace.web import provide_actor, requires

PAGE_SIZE = 100
CHART_TOP = 12


@get("/channels", name="channels-list")
async def channel_list(request: Request[Any, Any, Any], actor: NamedDependency[Actor]) -> Template:
    """Every channel the viewer's label dominates, busiest first in the chart."""
    channels = await list_channels(actor)
    busiest = sorted((c for c in channels if c["last_seq"]), key=lambda c: (-c["last_seq"], c["name"]))[:CHART_TOP]
    chart = bar_chart("Messages per channel", [c["name"] for c in busiest], [c["last_seq"] for c in busiest]) \
        if busiest else None
    return page(request, "channels/list.html", channels=channels, chart=chart, total=len(channels))


@get("/channels/{name:str}", name="channels-view")
async def channel_view(request: Request[Any, Any, Any], actor: NamedDependency[Actor], name: FromPath[str],
                       from_seq: Annotated[int | None, QueryParameter(name="from", ge=1)] = None) -> Template:
    """The latest messages (or, with ``?from=N``, the page starting at seq N) and, at the tail, the live feed."""
    channel = await access_channel(actor, name)
    if from_seq is None:
        messages = await list_messages(actor, channel["id"], before_seq=channel["last_seq"] + 1, limit=PAGE_SIZE)
    else:
        messages = await list_messages(actor, channel["id"], after_seq=from_seq - 1, limit=PAGE_SIZE)
    first = messages[0]["seq"] if messages else channel["last_seq"] + 1
    last = messages[-1]["seq"] if messages else (from_seq - 1 if from_seq else channel["last_seq"])
    at_tail = last >= channel["last_seq"]
    return page(request, "channels/view.html", channel=channel, messages=messages, thread=None,
                live=at_tail and not channel["archived"], after_seq=max(last, 0),
                older=max(1, first - PAGE_SIZE) if first > 1 else None,
                newer=last + 1 if not at_tail else None, may_post=config.current.limits.humans_may_post)


@get("/channels/{name:str}/threads/{root_id:int}", name="channels-thread")
async def thread_view(request: Request[Any, Any, Any], actor: NamedDependency[Actor], name: FromPath[str],
                      root_id: FromPath[int]) -> Template:
    """One thread: its root and replies, live."""
    channel = await access_channel(actor, name)
    messages = await list_messages(actor, channel["id"], thread_of=root_id, limit=1000)
    root = next((m for m in messages if m["id"] == root_id), None)
    if root is None:
        from workspace.errors import NotFound

        raise NotFound(f"message {root_id} is not a thread in channel {channel['name']!r}")
    return page(request, "channels/view.html", channel=channel, messages=messages, thread=root,
                live=not channel["archived"], after_seq=channel["last_seq"], older=None, newer=None,
                may_post=False)


def router() -> Router:
    """Every channel page, for signed-in people only (agents use the API); anonymous browsers go to sign in."""
    return Router(path="/", route_handlers=[channel_list, channel_view, thread_view], guards=[requires()],
                  dependencies={"actor": Provide(provide_actor)}, exception_handlers=PAGE_EXCEPTION_HANDLERS,
                  include_in_schema=False, opt=PAGE_OPT)
