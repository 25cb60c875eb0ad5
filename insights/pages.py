"""Pages of the insights domain for signed-in people: the home page (the reader's digest, computed for the clearance
they have now), the insight list (filters, keyset pages, severity against corroboration, insights over time) and one
insight with its evidence (cited messages and document passages as links) and the triage forms. Stable hooks for
browser tests: ``#digest``, ``#insight-list``, ``.insight[data-insight-id]``, ``#evidence``, ``#triage``,
``a.cited-document``, ``#legend``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from litestar import Request, Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, QueryParameter
from litestar.response import Redirect, Template
from markupsafe import Markup

from channels.services import list_channels
from insights import services as svc
from insights.services_insights import (
    KINDS,
    SEVERITY_BANDS,
    STATUSES,
    TRIAGE_ROLES,
    corroboration_words,
    severity_band,
)
from workspace.actor import Actor
from workspace.charts import Point, line_chart, scatter_chart
from workspace.errors import ValidationFailed
from workspace.pages import PAGE_EXCEPTION_HANDLERS, PAGE_OPT, page
from workspace.web import provide_actor, requires

PAGE_SIZE = 25
CHART_DAYS = 30


@get("/", name="home")
async def home(request: Request[Any, Any, Any], actor: NamedDependency[Actor],
               period: Annotated[str, QueryParameter(description="daily | weekly")] = "daily") -> Template:
    """The signed-in person's start page: their digest as of now, for the clearance they have now, and channels."""
    if period not in ("daily", "weekly"):
        raise ValidationFailed("period must be daily or weekly", field="period")
    digest = await svc.current_digest(actor, period)
    channels = await list_channels(actor, include_archived=False)
    busiest = sorted(channels, key=lambda c: -c["last_seq"])[:5]
    html = Markup(digest["html"])  # noqa: S704 - rendered by services_digests, every value escaped
    return page(request, "insights/home.html", channels=len(channels), busiest=busiest, digest=digest,
                digest_html=html, period=period, bands=SEVERITY_BANDS)


def _severity(value: str | None) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except ValueError:
        raise ValidationFailed(f"minimum severity must be a number between 0 and 1; got {value!r}",
                               field="severity_min") from None


def decision_chart(rows: list[dict[str, Any]]) -> Markup | None:
    """Severity against corroboration, one linked dot per insight on this page: what to act on first (top right),
    what to check before acting (high severity, little corroboration)."""
    if not rows:
        return None
    scored = any(r["corroboration"]["score"] for r in rows)
    if scored:
        x_title, split, x_max = "independent corroboration (0-1)", 0.5, 1.0
        xs = [float(r["corroboration"]["score"]) for r in rows]
    else:  # until mining records corroboration: how many departments raised it
        x_title, split, x_max = "departments that raised it", 1.5, 4.0
        xs = [float(r["corroboration"]["departments"]) for r in rows]
    points = [Point(x, float(r["severity"]), r["title"], f"/insights/{r['id']}", r["kind"])
              for x, r in zip(xs, rows, strict=True)]
    return scatter_chart("Severity against corroboration, insights on this page", points, x_title, "severity",
                         x_split=split, y_split=0.7, x_max=x_max, y_max=1.0,
                         quadrants=("Check the evidence first", "Act first", "Low priority", "Keep an eye on"))


BUCKET_WORDS = {60: "minute", 300: "5 minutes", 900: "15 minutes", 3600: "hour", 6 * 3600: "6 hours",
                86_400: "day"}


async def time_chart(actor: Actor) -> Markup:
    """Insights first seen over time, from the first one to now in buckets that fit (minutes for a demo an hour
    old, days for a month): a month of days would draw a flat line with one step at the end."""
    bucket, series = await svc.insights_timeline(actor, CHART_DAYS)
    fmt = "%m-%d" if bucket >= 86_400 else ("%H:%M" if series[-1][0] - series[0][0] < dt.timedelta(days=1)
                                            else "%m-%d %H:%M")
    return line_chart(f"Insights first seen per {BUCKET_WORDS[bucket]}, since {series[0][0]:%Y-%m-%d %H:%M} UTC",
                      [start.strftime(fmt) for start, _, _ in series], [float(r + o) for _, r, o in series],
                      " insights")


@get("/insights", name="insights-list")
async def insight_list(request: Request[Any, Any, Any], actor: NamedDependency[Actor],
                       kind: Annotated[str | None, QueryParameter()] = None,
                       severity_min: Annotated[str | None, QueryParameter()] = None,
                       status: Annotated[str | None, QueryParameter()] = None,
                       department: Annotated[str | None, QueryParameter()] = None,
                       cursor: Annotated[str | None, QueryParameter()] = None) -> Template:
    """Insights the viewer's label dominates, best first, with filters, severity against corroboration, and an
    insights-over-time chart."""
    f = svc.InsightFilter(kind=kind or None, min_severity=_severity(severity_min), status=status or None,
                          department=department or None)
    rows, nxt = await svc.list_insights(actor, f, cursor=cursor or None, limit=PAGE_SIZE)
    params = {"kind": kind or "", "severity_min": severity_min or "", "status": status or "",
              "department": department or ""}
    return page(request, "insights/list.html", insights=rows, next_cursor=nxt, chart=await time_chart(actor),
                decision=decision_chart(rows), filters=params, kinds=KINDS, statuses=STATUSES, bands=SEVERITY_BANDS,
                band=severity_band, corroboration=corroboration_words)


@get("/insights/{insight_id:int}", name="insights-view")
async def insight_view(request: Request[Any, Any, Any], actor: NamedDependency[Actor],
                       insight_id: FromPath[int]) -> Template:
    """One insight: what, how strong, its cited messages (links into their channels) and documents, triage."""
    insight = await svc.get_insight(actor, insight_id)
    may_triage = any(actor.has_role(r) for r in TRIAGE_ROLES)
    return page(request, "insights/view.html", insight=insight, may_triage=may_triage, bands=SEVERITY_BANDS,
                band=severity_band, corroboration=corroboration_words)


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
