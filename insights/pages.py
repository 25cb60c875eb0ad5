"""Pages of the insights domain: the home page (the reader's latest digest once digests exist; until then, where to
start). The insight list, insight pages with evidence and triage slot in here when the insights services land.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get
from litestar.di import NamedDependency, Provide
from litestar.response import Template

from channels.services import list_channels
from workspace.actor import Actor
from workspace.pages import PAGE_EXCEPTION_HANDLERS, PAGE_OPT, page
from workspace.web import provide_actor, requires


@get("/", name="home")
async def home(request: Request[Any, Any, Any], actor: NamedDependency[Actor]) -> Template:
    """The signed-in person's start page: their digest, and the channels their clearance opens."""
    channels = await list_channels(actor, include_archived=False)
    busiest = sorted(channels, key=lambda c: -c["last_seq"])[:5]
    return page(request, "insights/home.html", channels=len(channels), busiest=busiest, digest=None)


def router() -> Router:
    """Pages for every signed-in person; anonymous browsers are sent to sign in."""
    return Router(path="/", route_handlers=[home], guards=[requires()], dependencies={"actor": Provide(provide_actor)},
                  exception_handlers=PAGE_EXCEPTION_HANDLERS, include_in_schema=False, opt=PAGE_OPT)
