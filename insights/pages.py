"""Pages of the insights domain for signed-in people: the home page (the reader's latest digest, written on demand),
the insight list (filters, keyset pages, an insights-over-time chart) and one insight with its evidence and the
triage forms. Stable hooks for browser tests: ``#digest``, ``#insight-list``, ``.insight[data-insight-id]``,
``#evidence``, ``#triage``.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, QueryParameter
from litestar.response import Redirect, Template
from markupsafe import Markup

from channels.services import list_channels
from insights import services as svc
from insights.services_insights import KINDS, STATUSES, TRIAGE_ROLES
from workspace.actor import Actor
from workspace.charts import line_chart
from workspace.errors import ValidationFailed
from workspace.pages import PAGE_EXCEPTION_HANDLERS, PAGE_OPT, page
from workspace.web import provide_actor, requires

PAGE_SIZE = 25
CHART_DAYS = 30


@get("/", name="home")
async def home(request: Request[Any, Any, Any], actor: NamedDependency[Actor],
               period: Annotated[str, QueryParameter(description="daily | weekly")] = "daily") -> Template:
    """The signed-in person's start page: their latest digest (written now if there is none), and their channels."""
    if period not in ("daily", "weekly"):
        raise ValidationFailed("period must be daily or weekly", field="period")
    digest = await svc.latest_digest(actor, period)
    channels = await list_channels(actor, include_archived=False)
    busiest = sorted(channels, key=lambda c: -c["last_seq"])[:5]
    html = Markup(digest["html"]) if digest else None  # noqa: S704 - rendered by services_digests, every value escaped
    return page(request, "insights/home.html", channels=len(channels), busiest=busiest, digest=digest,
                digest_html=html, period=period)


def _severity(value: str | None) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except ValueError:
        raise ValidationFailed(f"minimum severity must be a number between 0 and 1; got {value!r}",
                               field="severity_min") from None


@get("/insights", name="insights-list")
async def insight_list(request: Request[Any, Any, Any], actor: NamedDependency[Actor],
                       kind: Annotated[str | None, QueryParameter()] = None,
                       severity_min: Annotated[str | None, QueryParameter()] = None,
                       status: Annotated[str | None, QueryParameter()] = None,
                       department: Annotated[str | None, QueryParameter()] = None,
                       cursor: Annotated[str | None, QueryParameter()] = None) -> Template:
    """Insights the viewer's label dominates, best first, with filters and an insights-over-time chart."""
    f = svc.InsightFilter(kind=kind or None, min_severity=_severity(severity_min), status=status or None,
                          department=department or None)
    rows, nxt = await svc.list_insights(actor, f, cursor=cursor or None, limit=PAGE_SIZE)
    series = await svc.insights_over_time(actor, CHART_DAYS)
    chart = line_chart(f"Insights first seen per day, last {CHART_DAYS} days", [d[5:] for d, _, _ in series],
                       [float(r + o) for _, r, o in series], " insights")
    params = {"kind": kind or "", "severity_min": severity_min or "", "status": status or "",
              "department": department or ""}
    return page(request, "insights/list.html", insights=rows, next_cursor=nxt, chart=chart, filters=params,
                kinds=KINDS, statuses=STATUSES)


@get("/insights/{insight_id:int}", name="insights-view")
async def insight_view(request: Request[Any, Any, Any], actor: NamedDependency[Actor],
                       insight_id: FromPath[int]) -> Template:
    """One insight: what, how strong, its cited messages (links into their channels) and documents, triage."""
    insight = await svc.get_insight(actor, insight_id)
    may_triage = any(actor.has_role(r) for r in TRIAGE_ROLES)
    return page(request, "insights/view.html", insight=insight, may_triage=may_triage)


@post("/insights/{insight_id:int}/triage", name="insights-triage", status_code=303)
async def insight_triage(actor: NamedDependency[Actor], insight_id: FromPath[int],
                         data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
                         ) -> Redirect:
    """The triage form (CSRF checked by the sign-in middleware); back to the insight afterwards."""
    await svc.triage(actor, insight_id, data.get("action", ""), assignee=data.get("assignee"),
                     comment=data.get("comment"))
    return Redirect(path=f"/insights/{insight_id}#triage", status_code=303)


def router() -> Router:
    """Pages for every signed-in person; anonymous browsers are sent to sign in."""
    return Router(path="/", route_handlers=[home, insight_list, insight_view, insight_triage], guards=[requires()],
                  dependencies={"actor": Provide(provide_actor)}, exception_handlers=PAGE_EXCEPTION_HANDLERS,
                  include_in_schema=False, opt=PAGE_OPT)
