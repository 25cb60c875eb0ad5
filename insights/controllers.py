"""Thin REST handlers of the insights domain (``/api/insights``, ``/api/digests``): for signed-in people only
(agents are refused by the guard); reading needs any human role, triage employee or admin (the service checks)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from insights import services as svc
from insights.schemas import DigestIn, DigestOut, InsightDetail, InsightOut, InsightPage, TriageIn
from workspace.actor import Actor
from workspace.web import provide_actor, requires


def _insight(row: dict[str, Any]) -> InsightOut:
    return msgspec.convert(row, InsightOut)


class InsightController(Controller):
    path = "/api/insights"
    tags = ["insights"]
    guards = [requires()]
    dependencies = {"actor": Provide(provide_actor)}

    @get("/", summary="Insights the caller's label dominates, best score first (keyset pages)")
    async def list_insights(
        self, actor: NamedDependency[Actor],
        kind: Annotated[str | None, QueryParameter(description="risk | opportunity")] = None,
        severity_min: Annotated[float | None, QueryParameter(ge=0, le=1, description="minimum severity")] = None,
        status: Annotated[str | None, QueryParameter(description="open | acknowledged | dismissed")] = None,
        department: Annotated[str | None, QueryParameter(description="a department among the evidence's")] = None,
        include_retired: Annotated[bool, QueryParameter(description="also insights later passes no longer "
                                                                    "support")] = False,
        cursor: Annotated[str | None, QueryParameter(description="next_cursor of the previous page")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> InsightPage:
        f = svc.InsightFilter(kind=kind, min_severity=severity_min, status=status, department=department,
                              include_retired=include_retired)
        rows, nxt = await svc.list_insights(actor, f, cursor=cursor, limit=limit)
        return InsightPage(insights=[_insight(r) for r in rows], next_cursor=nxt)

    @get("/{insight_id:int}", summary="One insight with its cited messages (the ones the caller may read, with "
                                      "links) and documents")
    async def get_insight(self, actor: NamedDependency[Actor], insight_id: FromPath[int]) -> InsightDetail:
        return msgspec.convert(await svc.get_insight(actor, insight_id), InsightDetail)

    @post("/{insight_id:int}/triage", summary="Acknowledge, dismiss, reopen, assign or comment (employees, admins; "
                                              "audited)", status_code=HTTP_200_OK)
    async def triage(self, actor: NamedDependency[Actor], insight_id: FromPath[int],
                     data: JSONBody[TriageIn]) -> InsightDetail:
        out = await svc.triage(actor, insight_id, data.action, assignee=data.assignee, comment=data.comment)
        return msgspec.convert(out, InsightDetail)


class DigestController(Controller):
    path = "/api/digests"
    tags = ["insights"]
    guards = [requires()]
    dependencies = {"actor": Provide(provide_actor)}

    @get("/latest", summary="The caller's latest digest of the period (written now when there is none yet)")
    async def latest(self, actor: NamedDependency[Actor],
                     period: Annotated[str, QueryParameter(description="daily | weekly")] = "daily") -> DigestOut:
        digest = await svc.latest_digest(actor, period)
        assert digest is not None
        return msgspec.convert(digest, DigestOut)

    @get("/{digest_id:int}", summary="One of the caller's digests")
    async def get_digest(self, actor: NamedDependency[Actor], digest_id: FromPath[int]) -> DigestOut:
        return msgspec.convert(await svc.get_digest(actor, digest_id), DigestOut)

    @post("/", summary="Write the caller's digest for a period now", status_code=HTTP_201_CREATED)
    async def generate(self, actor: NamedDependency[Actor], data: JSONBody[DigestIn]) -> DigestOut:
        return msgspec.convert(await svc.generate_digest(actor, data.period), DigestOut)


ROUTES = [InsightController, DigestController]
