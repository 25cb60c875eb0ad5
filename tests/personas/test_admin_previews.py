"""What the admin pages show before they act, on SQLite and PostgreSQL: a kill switch's count of agents it changes
(matching what the switch then does), a scenario import's dry run (matching what the import then creates, nothing
written before), and documents with who may read them, filed only within the admin's clearance and deleted with
everything derived from them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from personas.context import leakguard
from personas.context.documents import delete_document, ingest_document, list_documents
from personas.context.retrieval import retrieve
from personas.services_agents import document_readers as readers
from personas.services_control import kill, preview_switch, revive
from personas.services_load import load_scenario_into, plan_scenario_load
from personas.tables import Canary, ChunkFingerprint, ContextChunk, ContextDocument, PersonaRole
from tests.personas.helpers import load_acme, scenario
from workspace.db import Database
from workspace.errors import Forbidden, NotFound
from workspace.services import ensure_workspace, system_actor
from workspace.tables import AuditEvent, Member


async def test_a_switch_preview_counts_what_the_switch_then_changes(db: Database) -> None:
    acme = await load_acme()
    before = await preview_switch(acme.system, "kill", role="Picker")
    assert before == {"action": "kill", "scope": "role", "target": "Picker", "agents": 6, "active": 6,
                      "affected": 6}
    assert await Member.count().where(Member.active == False) == 0  # noqa: E712 - a preview writes nothing
    await kill(acme.system, agent="picker-0002")
    assert (await preview_switch(acme.system, "kill", role="Picker"))["affected"] == 5
    assert (await kill(acme.system, role="Picker")).members == 5
    # reviving the role brings back the agents no other switch keeps off
    preview = await preview_switch(acme.system, "revive", role="Picker")
    assert (preview["agents"], preview["active"], preview["affected"]) == (6, 0, 5)
    assert (await revive(acme.system, role="Picker")).members == 5
    with pytest.raises(NotFound):
        await preview_switch(acme.system, "kill", department="nowhere")


async def test_the_import_dry_run_shows_what_the_import_creates_and_writes_nothing(db: Database) -> None:
    ws = await ensure_workspace()
    system = await system_actor(ws)
    counts = [await Member.count(), await PersonaRole.count(), await ContextDocument.count(),
              await AuditEvent.count()]
    plan = await plan_scenario_load(system, scenario())
    assert [await Member.count(), await PersonaRole.count(), await ContextDocument.count(),
            await AuditEvent.count()] == counts, "a dry run writes nothing"
    assert plan.compartments == ["ops", "finance", "legal"] and plan.agents_to_create == 13
    assert [(r["name"], r["to_create"], r["new"]) for r in plan.roles] == [
        ("Picker", 6, True), ("Accountant", 3, True), ("Counsel", 2, True), ("Greeter", 2, True)]
    assert {c["name"] for c in plan.channels} == {"lobby", "ops-floor", "money", "boardroom"}
    assert len(plan.documents) == 4 and plan.loaded == [] and plan.changes
    report = await load_scenario_into(system, scenario())
    assert (report.agents_created, report.channels_created, report.documents_created) == (13, 4, 4)

    again = await plan_scenario_load(system, scenario(), agents=26)
    assert again.loaded == ["Acme Test"] and not again.compartments and not again.channels
    assert again.agents_to_create == 13 and not any(r["new"] for r in again.roles)
    assert again.documents_existing == 4 and not again.documents
    other = await plan_scenario_load(system, replace(scenario(), name="Other Co"))
    assert any("already holds scenario 'Acme Test'" in w for w in other.warnings)


async def test_documents_list_their_readers_and_are_filed_and_deleted_within_clearance(db: Database) -> None:
    acme = await load_acme()
    docs = {d["title"]: d for d in await list_documents(acme.system)}
    who = await readers(acme.system, list(docs.values()))
    by_title = {t: who[int(d["id"])] for t, d in docs.items()}
    public = next(r for t, r in by_title.items() if docs[t]["label"] == "public")
    assert public["agents"] == 13 and public["roles"] == ["Accountant", "Counsel", "Greeter", "Picker"]
    finance = next(r for t, r in by_title.items() if docs[t]["label"] == "confidential/finance")
    assert finance["agents"] == 5 and finance["roles"] == ["Accountant", "Counsel"]
    await kill(acme.system, role="Accountant")
    finance_id = next(int(d["id"]) for d in docs.values() if d["label"] == "confidential/finance")
    assert (await readers(acme.system, [docs_by_id(docs, finance_id)]))[finance_id]["roles"] == ["Counsel"]

    admin = replace(acme.system, kind="human", handle="ada", label=acme.system.scheme.parse("internal/ops"),
                    roles=frozenset({"admin"}))
    with pytest.raises(Forbidden, match="may not ingest document 'Cash': that needs clearance confidential/finance"):
        await ingest_document(admin, "Cash", "The cash plan.", acme.system.scheme.parse("confidential/finance"))
    with pytest.raises(NotFound):
        await delete_document(admin, finance_id)  # above the admin: not confirmed to exist

    counsel = await acme.agent("counsel-0001")
    channel = await acme.channel("money")
    assert any(c.document_id == finance_id for c in await retrieve(counsel, "carrier contract", channel))
    await leakguard.index_for(acme.ws)  # the guard holds the document until the delete invalidates it
    deleted = await delete_document(acme.system, finance_id)
    assert deleted["label"] == "confidential/finance"
    assert not await ContextChunk.count().where(ContextChunk.document == finance_id)
    assert not await ChunkFingerprint.count().where(ChunkFingerprint.document == finance_id)
    assert not await Canary.count().where(Canary.document == finance_id)
    assert not any(c.document_id == finance_id for c in await retrieve(counsel, "carrier contract", channel))
    rows = await AuditEvent.select().where(AuditEvent.action == "document.deleted")
    assert [(r["entity_id"], r["actor_handle"]) for r in rows] == [(str(finance_id), "system")]


def docs_by_id(docs: dict[str, dict[str, object]], doc_id: int) -> dict[str, object]:
    return next(d for d in docs.values() if int(str(d["id"])) == doc_id)
