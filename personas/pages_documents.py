"""The admin's documents page: the documents the admin's clearance dominates, each with its label and who may read
it (agents, their roles, people), upload of Markdown and text files with a label, and deletion after a confirmation.
Everything goes through the document services (``personas.context.documents``), which audit it; readers are counted
by ``services_agents.document_readers``.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect

from personas import services_agents
from personas.context import documents
from workspace.actor import Actor
from workspace.errors import ChorusError, NotFound, ValidationFailed
from workspace.pages import page

MAX_FILES = 20
NOTICES = {"deleted": "Document deleted: agents no longer retrieve it and the leak guard forgot it."}


async def _labels_in_use(actor: Actor, docs: list[dict[str, Any]]) -> list[str]:
    """Labels to offer: those of existing documents and the plain tiers, all within the admin's clearance."""
    seen = {d["label"] for d in docs} | {t for t in actor.scheme.tiers if actor.label.dominates(actor.scheme.parse(t))}
    return sorted(seen, key=lambda s: (actor.scheme.parse(s).level, s))


async def _documents_page(request: Request[Any, Any, Any], actor: Actor, status_code: int = 200,
                          **extra: Any) -> Response[Any]:
    docs = await documents.list_documents(actor)
    who = await services_agents.document_readers(actor, docs)
    for d in docs:
        d["readers"] = who[int(d["id"])]
    return page(request, "personas/documents.html", status_code=status_code, documents=docs,
                hidden=await documents.count_above(actor), labels=await _labels_in_use(actor, docs),
                scheme=actor.scheme, **extra)


@get("/admin/documents", name="admin-documents")
async def documents_page(request: Request[Any, Any, Any], actor: NamedDependency[Actor],
                         done: Annotated[str | None, QueryParameter()] = None) -> Response[Any]:
    """Documents newest first with their labels and readers; the upload form."""
    return await _documents_page(request, actor, notice=NOTICES.get(done or ""))


def _text_of(upload: UploadFile, data: bytes) -> tuple[str, str]:
    """(title, text) of an uploaded Markdown or text file, or a ValidationFailed naming the file."""
    name = PurePath(upload.filename or "").name
    if PurePath(name).suffix.lower() not in documents.TEXT_SUFFIXES:
        raise ValidationFailed(f"{name or 'a file'} is not a Markdown or text file; upload .md, .markdown or .txt "
                               "files", field="files")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed(f"{name} is not UTF-8 text; save it as UTF-8 and upload it again",
                               field="files") from None
    return documents.title_of(text, PurePath(name).stem), text


@post("/admin/documents", name="admin-documents-upload", status_code=200)
async def upload(request: Request[Any, Any, Any], actor: NamedDependency[Actor]) -> Response[Any]:
    """Ingest the uploaded files with one label: every file is checked before any is stored."""
    form = await request.form()
    label_text = str(form.get("label") or "").strip()
    files = [f for f in form.getall("files") if isinstance(f, UploadFile) and (f.filename or "")]
    try:
        if not files:
            raise ValidationFailed("choose one or more Markdown or text files to upload", field="files")
        if len(files) > MAX_FILES:
            raise ValidationFailed(f"upload at most {MAX_FILES} files at once; got {len(files)}", field="files")
        if not label_text:
            raise ValidationFailed("give the documents a label, e.g. internal or confidential/finance", field="label")
        label = actor.scheme.parse(label_text)
        await documents.may_file(actor, label, f"{len(files)} uploaded file{'s' if len(files) != 1 else ''}")
        ready = [(f, *_text_of(f, await f.read())) for f in files]
        results = [await documents.ingest_document(actor, title, text, label,
                                                   source=f"upload/{PurePath(f.filename or '').name}")
                   for f, title, text in ready]
    except ChorusError as exc:
        return await _documents_page(request, actor, exc.status, error=exc.message, typed_label=label_text)
    return await _documents_page(request, actor, uploaded=[r.as_dict() for r in results], typed_label=label_text)


async def _readable(actor: Actor, document_id: int) -> dict[str, Any]:
    found = next((d for d in await documents.list_documents(actor) if int(d["id"]) == document_id), None)
    if found is None:
        raise NotFound(f"document {document_id} does not exist in this workspace")
    found["readers"] = (await services_agents.document_readers(actor, [found]))[document_id]
    return found


@post("/admin/documents/{document_id:int}/delete", name="admin-documents-delete", status_code=200)
async def delete(request: Request[Any, Any, Any], actor: NamedDependency[Actor],
                 document_id: FromPath[int]) -> Response[Any]:
    """Without ``confirm=yes``: what deleting would take away, and a button to do it. With it: delete."""
    form = await request.form()
    if str(form.get("confirm") or "") != "yes":
        return page(request, "personas/document_delete.html", document=await _readable(actor, document_id))
    await documents.delete_document(actor, document_id)
    return Redirect(path="/admin/documents?done=deleted", status_code=303)


HANDLERS = [documents_page, upload, delete]
