"""Business documents: ingest (scenario, folder, API) into labelled chunks with full-text rows and leak-guard
fingerprints, listing, and canary markers. Retrieval lives in services_retrieval.py, the guard in leakguard.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from personas import leakguard
from personas.bulk import insert_rows
from personas.tables import Canary, ChunkFingerprint, ContextChunk, ContextDocument
from personas.text import chunk_text, document_shingles
from workspace import audit
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.audit import Entity
from workspace.errors import NotFound, TooLarge, ValidationFailed
from workspace.labels import Label

MAX_DOCUMENT_BYTES = 2 * 1024 * 1024
TEXT_SUFFIXES = (".md", ".markdown", ".txt")
CANARY_PREFIX = "chorus-canary-"
_HEADING = re.compile(r"^# +(\S.*?)\s*#*\s*$", re.MULTILINE)
_CHUNK_COLS = ("workspace", "document", "ordinal", "text", "label_level", "label_mask")
_CHUNK_PG = ("int", "int", "int", "text", "int", "bigint")
_FP_COLS = ("workspace", "chunk", "document", "hash", "label_level", "label_mask")
_FP_PG = ("int", "int", "int", "bigint", "int", "bigint")


@dataclass(frozen=True, slots=True)
class NewDocument:
    title: str
    body: str
    label: Label
    source: str = "api"


@dataclass(frozen=True, slots=True)
class IngestResult:
    document_id: int
    title: str
    label: str
    chunks: int
    created: bool  # False: the same text with the same label was already stored

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.document_id, "title": self.title, "label": self.label, "chunks": self.chunks,
                "created": self.created}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _check(doc: NewDocument) -> None:
    if not doc.title.strip():
        raise ValidationFailed("a document needs a title", field="title")
    if len(doc.title) > 300:
        raise ValidationFailed(f"a title has at most 300 characters; got {len(doc.title)}", field="title")
    if not doc.body.strip():
        raise ValidationFailed(f"document {doc.title!r} has an empty body", field="body")
    size = len(doc.body.encode())
    if size > MAX_DOCUMENT_BYTES:
        raise TooLarge(f"document {doc.title!r} is {size} bytes; the limit is {MAX_DOCUMENT_BYTES}: split it")


async def ingest_documents(actor: Actor, docs: Iterable[NewDocument],
                           progress: Callable[[int], None] | None = None) -> list[IngestResult]:
    """Store each document (chunked, full-text indexed, fingerprinted), once per text + label; admins only.

    Each document commits with its audit entry; the leak guard's index is rebuilt on its next check.
    """
    actor.require_role("admin")
    results = []
    for doc in docs:
        _check(doc)
        results.append(await _ingest_one(actor, doc))
        if progress:
            progress(1)
    if any(r.created for r in results):
        leakguard.invalidate(actor.workspace_id)
    return results


async def ingest_document(actor: Actor, title: str, body: str, label: Label, source: str = "api") -> IngestResult:
    return (await ingest_documents(actor, [NewDocument(title, body, label, source)]))[0]


async def _ingest_one(actor: Actor, doc: NewDocument) -> IngestResult:
    digest = hashlib.sha256(doc.body.encode()).hexdigest()
    label = doc.label
    async with dbmod.current().transaction():
        same = await ContextDocument.select(ContextDocument.id, ContextDocument.chunks).where(
            (ContextDocument.workspace == actor.workspace_id) & (ContextDocument.sha256 == digest)
            & (ContextDocument.label_level == label.level) & (ContextDocument.label_mask == label.mask)).limit(1)
        if same:
            return IngestResult(int(same[0]["id"]), doc.title, str(label), int(same[0]["chunks"]), False)
        passages = chunk_text(doc.body)
        created = await ContextDocument.insert(ContextDocument(
            workspace=actor.workspace_id, title=doc.title.strip(), source=doc.source[:500],
            label_level=label.level, label_mask=label.mask, body=doc.body, sha256=digest, chunks=len(passages),
            created_by=actor.handle, created_at=_now()))
        doc_id = int(created[0]["id"])
        await _add_chunks(actor.workspace_id, doc_id, label, passages, first_ordinal=0)
        await audit.record(actor, "document.ingested", Entity("document", doc_id), {
            "title": doc.title.strip(), "label": str(label), "source": doc.source, "chunks": len(passages),
            "sha256": digest})
    return IngestResult(doc_id, doc.title.strip(), str(label), len(passages), True)


async def _add_chunks(workspace_id: int, doc_id: int, label: Label, passages: Sequence[str],
                      first_ordinal: int) -> None:
    rows = [(workspace_id, doc_id, first_ordinal + i, text, label.level, label.mask)
            for i, text in enumerate(passages)]
    ids = await insert_rows(ContextChunk._meta.tablename, _CHUNK_COLS, _CHUNK_PG, rows, returning="ordinal")
    by_ordinal = {int(r["ordinal"]): int(r["id"]) for r in ids}
    prints = [(workspace_id, by_ordinal[first_ordinal + i], doc_id, h, label.level, label.mask)
              for i, text in enumerate(passages) for h in sorted(document_shingles(text))]
    for start in range(0, len(prints), 5000):
        await insert_rows(ChunkFingerprint._meta.tablename, _FP_COLS, _FP_PG, prints[start:start + 5000])


def read_folder(root: Path, label: Label) -> list[NewDocument]:
    """Every Markdown or text file under ``root`` (recursive, sorted); titles from the first '# ' heading."""
    if not root.is_dir():
        raise ValidationFailed(f"{root} is not a folder", field="dir")
    docs = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValidationFailed(f"cannot read {path}: {exc}", field="dir") from None
        if not text.strip():
            continue
        found = _HEADING.search(text)
        title = (found.group(1) if found else path.stem).strip()[:300]
        docs.append(NewDocument(title, text, label, f"{root.name}/{path.relative_to(root).as_posix()}"))
    if not docs:
        raise ValidationFailed(f"no .md or .txt files with text under {root}", field="dir")
    return docs


async def list_documents(actor: Actor) -> list[dict[str, Any]]:
    """Documents the actor's label dominates (titles are context too), newest first."""
    from workspace.labels import not_mask

    rows = await dbmod.current().fetch(
        "SELECT id, title, source, label_level, label_mask, chunks, created_by, created_at FROM personas_document "
        "WHERE workspace = {} AND label_level <= {} AND (label_mask & {}) = 0 ORDER BY id DESC",
        actor.workspace_id, actor.label.level, not_mask(actor.label))
    return [{**r, "label": str(actor.scheme.from_ints(r["label_level"], r["label_mask"]))} for r in rows]


async def get_document(actor: Actor, document_id: int) -> dict[str, Any]:
    """One document with its body, if the actor's label dominates it."""
    rows = await ContextDocument.select().where(
        (ContextDocument.workspace == actor.workspace_id) & (ContextDocument.id == document_id))
    if not rows:
        raise NotFound(f"document {document_id} does not exist in this workspace")
    row = rows[0]
    label = actor.scheme.from_ints(row["label_level"], row["label_mask"])
    if not actor.label.dominates(label):
        raise NotFound(f"document {document_id} does not exist in this workspace")  # do not confirm it exists
    async with dbmod.current().transaction():
        await audit.record(actor, "document.read", Entity("document", document_id), {"label": str(label)})
    return {**row, "label": str(label)}


async def plant_canaries(actor: Actor) -> list[dict[str, Any]]:
    """Plant one unique marker per document label (a new passage in that label's first document), recorded in
    the canary table; labels that already have a canary keep theirs. Returns every canary with its marker."""
    actor.require_role("admin")
    docs = await ContextDocument.select(ContextDocument.id, ContextDocument.label_level,
                                        ContextDocument.label_mask).where(
        ContextDocument.workspace == actor.workspace_id).order_by(ContextDocument.id)
    have = {(r["label_level"], r["label_mask"]) for r in await Canary.select(
        Canary.label_level, Canary.label_mask).where(Canary.workspace == actor.workspace_id)}
    first_doc: dict[tuple[int, int], int] = {}
    for d in docs:
        first_doc.setdefault((d["label_level"], d["label_mask"]), int(d["id"]))
    for (level, mask), doc_id in first_doc.items():
        if (level, mask) in have:
            continue
        label = actor.scheme.from_ints(level, mask)
        marker = CANARY_PREFIX + secrets.token_hex(8)
        async with dbmod.current().transaction():
            top = await ContextChunk.select(ContextChunk.ordinal).where(ContextChunk.document == doc_id).order_by(
                ContextChunk.ordinal, ascending=False).limit(1)
            ordinal = int(top[0]["ordinal"]) + 1 if top else 0
            passage = f"Internal reference for this {label.tier} material: {marker} (quote it when citing)."
            await _add_chunks(actor.workspace_id, doc_id, label, [passage], first_ordinal=ordinal)
            created = await Canary.insert(Canary(workspace=actor.workspace_id, document=doc_id, marker=marker,
                                                 label_level=level, label_mask=mask, created_at=_now()))
            await audit.record(actor, "context.canary_planted", Entity("document", doc_id),
                               {"label": str(label), "canary": int(created[0]["id"])})
    leakguard.invalidate(actor.workspace_id)
    rows = await Canary.select().where(Canary.workspace == actor.workspace_id).order_by(Canary.id)
    return [{"id": r["id"], "document": r["document"], "marker": r["marker"],
             "label": str(actor.scheme.from_ints(r["label_level"], r["label_mask"]))} for r in rows]
