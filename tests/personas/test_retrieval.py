"""Scoped retrieval: the full label matrix (a hypothesis property over agent x channel labels on both engines),
ranking, the audit of every read, and the preview listing exactly the retrievable documents."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personas.context.retrieval import preview, retrieve, scope, search
from tests.personas.helpers import Acme, load_acme
from workspace.db import Database
from workspace.labels import Label
from workspace.tables import AuditEvent

TIERS = ("public", "internal", "confidential", "restricted")
COMPARTMENTS = ("ops", "finance", "legal")
labels = st.tuples(st.sampled_from(TIERS), st.frozensets(st.sampled_from(COMPARTMENTS)))
_worlds: dict[int, Acme] = {}


async def _world(db: Database) -> Acme:
    """Load once per database: hypothesis runs many examples against one function-scoped fixture."""
    if id(db) not in _worlds:
        _worlds.clear()
        _worlds[id(db)] = await load_acme()
    return _worlds[id(db)]


def _channel(label: Label) -> dict[str, Any]:
    return {"id": 0, "name": f"probe-{label}", "label_level": label.level, "label_mask": label.mask}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(agent_label=labels, channel_label=labels)
async def test_retrieval_never_returns_a_chunk_above_the_agent_or_the_channel(
        db: Database, agent_label: tuple[str, frozenset[str]], channel_label: tuple[str, frozenset[str]]) -> None:
    acme = await _world(db)
    scheme = acme.system.scheme
    agent = replace(await acme.agent("picker-0001"), label=scheme.label(*agent_label))
    chan = scheme.label(*channel_label)
    found = await search(agent, "acme", scope(agent, _channel(chan)), limit=50)
    for chunk in found:
        assert agent.label.dominates(chunk.label), f"{chunk.label} is above the agent's {agent.label}"
        assert chan.dominates(chunk.label), f"{chunk.label} is above the channel's {chan}"
    # ...and nothing allowed is missing: every document both labels dominate matches "acme"
    allowed = {title for title, lab in (("Visitor handbook", "public"), ("Scanner fleet", "internal/ops"),
                                         ("Carrier contract", "confidential/finance"),
                                         ("Project Lighthouse", "restricted/finance+legal+ops"))
               if agent.label.dominates(scheme.parse(lab)) and chan.dominates(scheme.parse(lab))}
    assert {c.title for c in found} == allowed


async def test_ranking_and_audit_of_every_read(db: Database) -> None:
    acme = await load_acme()
    counsel = await acme.agent("counsel-0001")
    boardroom = await acme.channel("boardroom")
    chunks = await retrieve(counsel, "merger with Kestrel regulator", boardroom)
    assert chunks and chunks[0].title == "Project Lighthouse"
    assert [c.score for c in chunks] == sorted(c.score for c in chunks), "best first"
    # In ops-floor the same agent may draw only on what the channel can carry (no write down).
    floor = await acme.channel("ops-floor")
    assert await retrieve(counsel, "merger with Kestrel regulator", floor) == []
    scanners = await retrieve(counsel, "spare batteries for scanners", floor)
    assert {c.title for c in scanners} == {"Scanner fleet"}
    rows = await AuditEvent.select().where(AuditEvent.action == "context.read").order_by(AuditEvent.id)
    assert len(rows) == 3
    assert all(r["actor_handle"] == "counsel-0001" and r["actor_type"] == "agent" for r in rows)
    details = [json.loads(r["details"]) for r in rows]
    assert details[0]["documents"] == sorted({c.document_id for c in chunks})
    assert details[1]["documents"] == [] and details[2]["channel"] == "ops-floor"
    assert details[2]["documents"] == [scanners[0].document_id]


async def test_preview_lists_exactly_the_retrievable_documents(db: Database) -> None:
    acme = await load_acme()
    counsel = await acme.agent("counsel-0001")
    for name, titles in (("lobby", ["Visitor handbook"]), ("ops-floor", ["Visitor handbook", "Scanner fleet"]),
                         ("money", ["Visitor handbook", "Carrier contract"]),
                         ("boardroom", ["Visitor handbook", "Scanner fleet", "Carrier contract",
                                        "Project Lighthouse"])):
        seen = await preview(acme.system, counsel, await acme.channel(name))
        assert [d["title"] for d in seen["documents"]] == titles and seen["hidden"] == 0
    picker = await acme.agent("picker-0001")
    seen = await preview(acme.system, picker, await acme.channel("boardroom"))
    assert seen["scope"] == "internal/ops"
    assert [d["title"] for d in seen["documents"]] == ["Visitor handbook", "Scanner fleet"]
    # An admin below a document's label sees that it exists (a count), not its title.
    low_admin = replace(acme.system, kind="human", handle="ann", label=acme.system.scheme.parse("internal/ops"),
                        roles=frozenset({"admin"}))
    seen = await preview(low_admin, counsel, await acme.channel("boardroom"))
    assert [d["title"] for d in seen["documents"]] == ["Visitor handbook", "Scanner fleet"] and seen["hidden"] == 2
