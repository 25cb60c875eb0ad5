"""Business documents: ingest (scenario, folder, API, the documents page) into labelled chunks with full-text rows
and leak-guard fingerprints, listing, deletion, and canary markers (who may read a document:
``personas.services_agents.document_readers``). Retrieval lives in
retrieval.py, the guard in leakguard.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from personas.bulk import insert_rows
from personas.context import leakguard
from personas.context.passages import chunk_spans
from personas.context.text import document_shingles
from personas.tables import Canary, ChunkFingerprint, ContextChunk, ContextDocument
from workspace import audit
from workspace import db as dbmod
from workspace.actor import Actor
from workspace.audit import Entity
from workspace.authority import above, require_authority
from workspace.db_sql import in_batches
from workspace.errors import AboveClearance, NotFound, TooLarge, ValidationFailed
from workspace.labels import Label, dominates_sql

MAX_DOCUMENT_BYTES = 2 * 1024 * 1024
TEXT_SUFFIXES = (".md", ".markdown", ".txt")
CANARY_PREFIX = "chorus-canary-"
_HEADING = re.compile(r"^# +(\S.*?)\s*#*\s*$", re.MULTILINE)
_CHUNK_COLS = ("workspace", "document", "ordinal", "text", "label_level", "label_mask", "start")
_CHUNK_PG = ("int", "int", "int", "text", "int", "bigint", "int")
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
    """Store each document (chunked, full-text indexed, fingerprinted), once per text + label; admins only, and only
    with labels the admin's clearance dominates (refused and audited before anything is stored).

    Each document commits with its audit entry; the leak guard reads the new chunks on its next check.
    """
    actor.require_role("admin")
    docs = list(docs)
    higher = [d for d in docs if above(actor, [d.label])]
    if higher:
        doing = (f"ingest document {higher[0].title.strip()!r}" if len(higher) == 1
                 else f"ingest {len(higher)} of these {len(docs)} documents (the first: {higher[0].title.strip()!r})")
        await require_authority(actor, "document.ingested", Entity("document", higher[0].title.strip()[:120]),
                                [d.label for d in higher], doing=doing)
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
    """One document from a person or program (the admin API, the documents page): its label must be one the actor's
    own clearance dominates (no one files a document they could not read)."""
    return (await ingest_documents(actor, [NewDocument(title, body, label, source)]))[0]


async def may_file(actor: Actor, label: Label, what: str = "a document") -> None:
    """Refuse (audited, ``workspace.authority``) filing ``what`` with a label the actor's clearance does not dominate:
    for a page that checks the label before it reads the uploaded files (the ingest checks again)."""
    await require_authority(actor, "document.ingested", Entity("document", what[:120]), label,
                            doing=f"file {what} labelled {label} (pick a label at or below your clearance)")


def title_of(text: str, fallback: str) -> str:
    """A document's title: its first '# ' heading, else ``fallback`` (a file's name without its suffix)."""
    found = _HEADING.search(text)
    return (found.group(1) if found else fallback).strip()[:300]


async def _ingest_one(actor: Actor, doc: NewDocument) -> IngestResult:
    digest = hashlib.sha256(doc.body.encode()).hexdigest()
    label = doc.label
    async with dbmod.current().transaction():
        same = await ContextDocument.select(ContextDocument.id, ContextDocument.chunks).where(
            (ContextDocument.workspace == actor.workspace_id) & (ContextDocument.sha256 == digest)
            & (ContextDocument.label_level == label.level) & (ContextDocument.label_mask == label.mask)).limit(1)
        if same:
            return IngestResult(int(same[0]["id"]), doc.title, str(label), int(same[0]["chunks"]), False)
        passages = [(doc.body[a:b], a) for a, b in chunk_spans(doc.body)]
        created = await ContextDocument.insert(ContextDocument(
            workspace=actor.workspace_id, title=doc.title.strip(), source=doc.source[:500],
            label_level=label.level, label_mask=label.mask, body=doc.body, sha256=digest, chunks=len(passages),
            created_by=actor.handle, created_at=_now()))
        doc_id = int(created[0]["id"])
        await _add_chunks(actor.workspace_id, doc_id, label, passages, first_ordinal=0)
        await audit.record(actor, "document.ingested", Entity("document", doc_id), {
            "title": doc.title.strip(), "label": str(label), "source": doc.source, "chunks": len(passages),
            "sha256": digest}, label=label)
    return IngestResult(doc_id, doc.title.strip(), str(label), len(passages), True)


async def _add_chunks(workspace_id: int, doc_id: int, label: Label, passages: Sequence[tuple[str, int]],
                      first_ordinal: int) -> None:
    """Store passages as chunks with their full-text rows and fingerprints; each passage is ``(text, start)``:
    its offset in the document's body, or -1 for text that is not part of the body (a canary)."""
    rows = [(workspace_id, doc_id, first_ordinal + i, text, label.level, label.mask, start)
            for i, (text, start) in enumerate(passages)]
    ids = await insert_rows(ContextChunk._meta.tablename, _CHUNK_COLS, _CHUNK_PG, rows, returning="ordinal")
    by_ordinal = {int(r["ordinal"]): int(r["id"]) for r in ids}
    # the previous release's leak guard reads these word shingles; this one fingerprints the chunks' text itself.
    # Written until no process of that release is left (then the table is dropped: expand, then contract).
    prints = [(workspace_id, by_ordinal[first_ordinal + i], doc_id, h, label.level, label.mask)
              for i, (text, _) in enumerate(passages) for h in sorted(document_shingles(text))]
    for start in range(0, len(prints), 5000):
        await insert_rows(ChunkFingerprint._meta.tablename, _FP_COLS, _FP_PG, prints[start:start + 5000])


def _files_inside(root: Path) -> list[Path]:
    """The Markdown and text files under ``root`` (recursive, sorted), never reached through a symlink that leads
    out of it: such a link (to a file or a folder) is refused, naming it, before anything is read. A link that stays
    inside is read as its target, once; symlinked folders are not descended (their targets are walked anyway)."""
    base = root.resolve()
    found: dict[Path, Path] = {}
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in sorted([*dirs, *files]):
            path = Path(folder) / name
            if not path.is_symlink():
                continue
            target = path.resolve()
            if not target.is_relative_to(base):
                raise ValidationFailed(f"{path} is a symlink to {target}, outside {root}: ingest reads only files "
                                       "inside the folder; copy the file in or remove the link", field="dir")
        for name in files:
            path = Path(folder) / name
            if path.suffix.lower() in TEXT_SUFFIXES and path.is_file():
                if path.is_symlink():
                    found.setdefault(path.resolve(), path)
                else:
                    found[path.resolve()] = path  # a file and a link to it: read once, under the file's own name
    return sorted(set(found.values()))


def read_folder(root: Path, label: Label) -> list[NewDocument]:
    """Every Markdown or text file under ``root`` (recursive, sorted; see :func:`_files_inside` for symlinks);
    titles from the first '# ' heading."""
    if not root.is_dir():
        raise ValidationFailed(f"{root} is not a folder", field="dir")
    docs = []
    for path in _files_inside(root):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValidationFailed(f"cannot read {path}: {exc}", field="dir") from None
        if not text.strip():
            continue
        docs.append(NewDocument(title_of(text, path.stem), text, label,
                                f"{root.name}/{path.relative_to(root).as_posix()}"))
    if not docs:
        raise ValidationFailed(f"no .md or .txt files with text under {root}", field="dir")
    return docs


async def list_documents(actor: Actor) -> list[dict[str, Any]]:
    """Documents the actor's label dominates (titles are context too), newest first."""
    readable, label_args = dominates_sql(actor.label, "")
    rows = await dbmod.current().fetch(
        "SELECT id, title, source, label_level, label_mask, chunks, created_by, created_at FROM personas_document "
        f"WHERE workspace = {{}} AND {readable} ORDER BY id DESC", actor.workspace_id, *label_args)
    return [{**r, "label": str(actor.scheme.from_ints(r["label_level"], r["label_mask"]))} for r in rows]


async def access_document(actor: Actor, document_id: int) -> dict[str, Any]:
    """Fetch a document and apply the label rule in one call (there is no other way to get one): the actor's label
    must dominate the document's (no read up). Raises NotFound when it does not exist in the actor's workspace and
    AboveClearance (403: the label it needs, never its title) when the actor may not read it. Records nothing:
    the callers that show its text audit the read."""
    rows = await ContextDocument.select().where(
        (ContextDocument.workspace == actor.workspace_id) & (ContextDocument.id == document_id))
    if not rows:
        raise NotFound(f"document {document_id} does not exist in this workspace")
    row = rows[0]
    label = actor.scheme.from_ints(row["label_level"], row["label_mask"])
    if not actor.label.dominates(label):
        raise AboveClearance(f"document {document_id} requires label {label}; {actor.kind} {actor.handle!r} has "
                             f"{actor.label}", what="document", needs=str(label), has=str(actor.label))
    return {**row, "label": str(label)}


async def get_document(actor: Actor, document_id: int) -> dict[str, Any]:
    """One document with its body, if the actor's label dominates it; the read is audited (``document.read``)."""
    row = await access_document(actor, document_id)
    async with dbmod.current().transaction():
        await audit.record(actor, "document.read", Entity("document", document_id), {"label": row["label"]},
                           label=actor.scheme.parse(row["label"]))
    return row


@dataclass(frozen=True, slots=True)
class CitedSpan:
    """Where a cited span sits in a document's body (``start``/``end`` are offsets into the body), or why it could
    not be placed (``problem``)."""

    chunk: int
    start: int = 0
    end: int = 0
    problem: str = ""


async def read_document(actor: Actor, document_id: int, chunk: int | None = None, start: int | None = None,
                        end: int | None = None) -> tuple[dict[str, Any], CitedSpan | None]:
    """A document for a person to read, with a cited span placed in its body: ``chunk`` (a chunk id of this
    document) and ``start``/``end`` (character offsets into that chunk's text; the whole chunk when absent), as
    insights cite them. The label rule applies (:func:`access_document`) and the read is audited, with the span."""
    row = await access_document(actor, document_id)
    span = None if chunk is None else await _place(document_id, str(row["body"]), chunk, start, end)
    details: dict[str, Any] = {"label": row["label"], "via": "page"}
    if span is not None:
        details["cited"] = {"chunk": chunk, "start": start, "end": end}
    async with dbmod.current().transaction():
        await audit.record(actor, "document.read", Entity("document", document_id), details,
                           label=actor.scheme.parse(row["label"]))
    return row, span


async def _place(document_id: int, body: str, chunk: int, start: int | None, end: int | None) -> CitedSpan:
    rows = await ContextChunk.select(ContextChunk.start, ContextChunk.text).where(
        (ContextChunk.id == chunk) & (ContextChunk.document == document_id))
    if not rows:
        return CitedSpan(chunk, problem="The cited passage is not part of this document any more.")
    text, offset = str(rows[0]["text"]), int(rows[0]["start"])
    a = 0 if start is None else start
    b = len(text) if end is None else end
    if not 0 <= a < b <= len(text):
        return CitedSpan(chunk, problem="The cited passage's position does not fit this document's text.")
    if offset < 0 or body[offset + a:offset + b] != text[a:b]:
        return CitedSpan(chunk, problem="The cited passage is not in the document's text as stored now.")
    return CitedSpan(chunk, offset + a, offset + b)


async def delete_document(actor: Actor, document_id: int) -> dict[str, Any]:
    """Delete a document the admin's label dominates, with its chunks, full-text rows, fingerprints and canaries, in
    one transaction with its audit entry; agents stop retrieving it and the leak guard forgets it at once.
    Turns and claims that cited it keep their ids (their history stays; the text is gone)."""
    actor.require_role("admin")
    rows = await ContextDocument.select(ContextDocument.id, ContextDocument.title, ContextDocument.label_level,
                                        ContextDocument.label_mask, ContextDocument.chunks,
                                        ContextDocument.source).where(
        (ContextDocument.workspace == actor.workspace_id) & (ContextDocument.id == document_id))
    label = actor.scheme.from_ints(rows[0]["label_level"], rows[0]["label_mask"]) if rows else None
    if not rows or label is None or not actor.label.dominates(label):
        raise NotFound(f"document {document_id} does not exist in this workspace")  # do not confirm it exists
    doc = rows[0]
    database = dbmod.current()
    async with database.transaction():
        await database.fetch("DELETE FROM personas_fingerprint WHERE document = {}", document_id)
        await database.fetch("DELETE FROM personas_canary WHERE document = {}", document_id)
        await database.fetch("DELETE FROM personas_chunk WHERE document = {}", document_id)
        await database.fetch("DELETE FROM personas_document WHERE id = {}", document_id)
        await audit.record(actor, "document.deleted", Entity("document", document_id), {
            "title": doc["title"], "label": str(label), "chunks": int(doc["chunks"]), "source": doc["source"]},
            label=label)
    leakguard.invalidate(actor.workspace_id)
    return {"id": document_id, "title": doc["title"], "label": str(label), "chunks": int(doc["chunks"])}


async def count_above(actor: Actor) -> int:
    """How many documents of the workspace the actor's label does not dominate (counted, never listed)."""
    readable, label_args = dominates_sql(actor.label, "")
    rows = await dbmod.current().fetch(
        f"SELECT COUNT(*) AS n FROM personas_document WHERE workspace = {{}} AND NOT ({readable})",
        actor.workspace_id, *label_args)
    return int(rows[0]["n"])


async def readable_titles(actor: Actor, ids: Sequence[int]) -> dict[int, str | None]:
    """Titles of the given documents of the actor's workspace: the title where the actor's label dominates the
    document's, ``None`` where it does not (a title is context too) or the document is gone. Answers the
    ``documents.titles`` hook for pages that show document ids recorded elsewhere (the audit pages)."""
    out: dict[int, str | None] = {int(i): None for i in ids}
    wanted = sorted(out)
    for part, marks in in_batches(wanted):
        for r in await dbmod.current().fetch(
                f"SELECT id, title, label_level, label_mask FROM personas_document WHERE workspace = {{}} "
                f"AND id IN ({marks})", actor.workspace_id, *part):
            label = actor.scheme.from_ints(int(r["label_level"]), int(r["label_mask"]))
            out[int(r["id"])] = str(r["title"]) if actor.label.dominates(label) else None
    return out


async def readable_documents(actor: Actor, ids: Iterable[int]) -> tuple[dict[int, dict[str, Any]], set[int]]:
    """Of the given document ids, those the actor's label dominates, as ``{id: {id, title, label}}``, and the ids
    that exist but are above the actor's label (titles are context too: those are only counted by callers)."""
    wanted = sorted({int(i) for i in ids})
    readable: dict[int, dict[str, Any]] = {}
    above: set[int] = set()
    for part, marks in in_batches(wanted):
        for r in await dbmod.current().fetch(
                f"SELECT id, title, label_level, label_mask FROM personas_document WHERE workspace = {{}} "
                f"AND id IN ({marks})", actor.workspace_id, *part):
            label = actor.scheme.from_ints(int(r["label_level"]), int(r["label_mask"]))
            if actor.label.dominates(label):
                readable[int(r["id"])] = {"id": int(r["id"]), "title": str(r["title"]), "label": str(label)}
            else:
                above.add(int(r["id"]))
    return readable, above


async def plant_canaries(actor: Actor) -> list[dict[str, Any]]:
    """Plant one unique marker per document label (a new passage in that label's first document), recorded in
    the canary table; labels that already have a canary keep theirs. Returns every canary with its marker. An admin
    plants and sees canaries only of the labels its clearance dominates (a canary is written into the document)."""
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
        label = actor.scheme.from_ints(level, mask)
        if (level, mask) in have or above(actor, [label]):
            continue
        marker = CANARY_PREFIX + secrets.token_hex(8)
        async with dbmod.current().transaction():
            top = await ContextChunk.select(ContextChunk.ordinal).where(ContextChunk.document == doc_id).order_by(
                ContextChunk.ordinal, ascending=False).limit(1)
            ordinal = int(top[0]["ordinal"]) + 1 if top else 0
            passage = f"Internal reference for this {label.tier} material: {marker} (quote it when citing)."
            await _add_chunks(actor.workspace_id, doc_id, label, [(passage, -1)], first_ordinal=ordinal)
            created = await Canary.insert(Canary(workspace=actor.workspace_id, document=doc_id, marker=marker,
                                                 label_level=level, label_mask=mask, created_at=_now()))
            await audit.record(actor, "context.canary_planted", Entity("document", doc_id),
                               {"label": str(label), "canary": int(created[0]["id"])}, label=label)
    leakguard.invalidate(actor.workspace_id)
    rows = await Canary.select().where(Canary.workspace == actor.workspace_id).order_by(Canary.id)
    labelled = [(r, actor.scheme.from_ints(r["label_level"], r["label_mask"])) for r in rows]
    return [{"id": r["id"], "document": r["document"], "marker": r["marker"], "label": str(label)}
            for r, label in labelled if not above(actor, [label])]


async def chunks_after(workspace_id: int, after_id: int, limit: int) -> list[dict[str, Any]]:
    """A page of the workspace's chunks with an id above ``after_id``, by id: id, document, ordinal, start and
    label (no text). For planning who reads what; reading a chunk's text goes through :func:`read_chunks`."""
    return await dbmod.current().fetch(
        "SELECT id, document, ordinal, start, label_level, label_mask FROM personas_chunk "
        "WHERE workspace = {} AND id > {} ORDER BY id LIMIT {}", workspace_id, after_id, limit)


async def document_titles(ids: Sequence[int]) -> dict[int, str]:
    """Titles of the given documents (no label check: callers show them only where the label allows)."""
    out: dict[int, str] = {}
    for part, marks in in_batches(ids):
        for r in await dbmod.current().fetch(f"SELECT id, title FROM personas_document WHERE id IN ({marks})", *part):
            out[int(r["id"])] = str(r["title"])
    return out


async def documents_for_reading(workspace_id: int, after_id: int = 0) -> list[dict[str, Any]]:
    """Every document of the workspace above ``after_id`` with its body, label and chunks (id, ordinal, start,
    text): what the agent runtime extracts facts from. Only the runtime calls this; what an agent reads is
    recorded per turn (``context.read``) and bounded by the reading plan's labels."""
    database = dbmod.current()
    docs = await database.fetch(
        "SELECT id, title, body, label_level, label_mask FROM personas_document WHERE workspace = {} AND id > {} "
        "ORDER BY id", workspace_id, after_id)
    by_id = {int(d["id"]): {**d, "chunks": []} for d in docs}
    if by_id:
        for c in await database.fetch(
                "SELECT id, document, ordinal, start, text FROM personas_chunk WHERE workspace = {} AND document > {} "
                "ORDER BY document, ordinal", workspace_id, after_id):
            doc = by_id.get(int(c["document"]))
            if doc is not None:
                doc["chunks"].append(c)
    return list(by_id.values())


async def documents_by_ids(workspace_id: int, ids: Sequence[int]) -> list[dict[str, Any]]:
    """Id, title and label of the given documents of a workspace (no label check: the caller shows a title only
    to a reader whose label dominates it)."""
    out: list[dict[str, Any]] = []
    ids = sorted(set(ids))
    for part, marks in in_batches(ids):
        out += await dbmod.current().fetch(
            "SELECT id, title, label_level, label_mask FROM personas_document WHERE workspace = {} "
            f"AND id IN ({marks})", workspace_id, *part)
    return out
