"""The document page for signed-in people: one business document, with the span an insight cites highlighted
(``/documents/{id}?chunk=C&start=S&end=E``). The label rule and the audit record are in ``documents.read_document``;
a reader whose label does not dominate the document gets a refusal page that names no title.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Router, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from personas.context.documents import read_document
from workspace.actor import Actor
from workspace.pages import PAGE_EXCEPTION_HANDLERS, PAGE_OPT, page
from workspace.web import provide_actor, requires

_Offset = Annotated[int | None, QueryParameter(ge=0, le=10_000_000)]


@get("/documents/{document_id:int}", name="document-view")
async def document_view(request: Request[Any, Any, Any], actor: NamedDependency[Actor], document_id: FromPath[int],
                        chunk: _Offset = None, start: _Offset = None, end: _Offset = None) -> Template:
    """The document's text; with ``chunk`` (and ``start``/``end`` within it), the cited passage marked."""
    doc, span = await read_document(actor, document_id, chunk, start, end)
    body = str(doc["body"])
    parts = (body, "", "")
    if span is not None and not span.problem:
        parts = (body[:span.start], body[span.start:span.end], body[span.end:])
    return page(request, "context/document.html", doc=doc, before=parts[0], cited=parts[1], after=parts[2],
                problem=span.problem if span is not None else "")


def router() -> Router:
    """For every signed-in person (agents read through their turns); anonymous browsers are sent to sign in."""
    return Router(path="/", route_handlers=[document_view], guards=[requires()],
                  dependencies={"actor": Provide(provide_actor)}, exception_handlers=PAGE_EXCEPTION_HANDLERS,
                  include_in_schema=False, opt=PAGE_OPT)
