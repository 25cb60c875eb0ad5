"""Message search on SQLite (FTS5) and PostgreSQL (tsvector): every word must match, stems match, and only what
the reader may read is ranked, counted or returned (the label rule, and membership for agents), edits and deletes
reach the index; the REST endpoint and its OpenAPI entry; snippets and their highlights."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from channels import config
from channels import services as ch
from channels.services_search import Query, snippet
from tests.channels.helpers import World, agent, generous_limits, human, world
from tests.channels.wshelp import running, token_agent
from tests.sso.helpers import human_session
from workspace.actor import Actor
from workspace.db import Database
from workspace.errors import Forbidden, ValidationFailed
from workspace.tables import AuditEvent


@pytest.fixture(autouse=True)
def quiet() -> Iterator[None]:
    generous_limits()
    config.set_publisher(lambda channel_id, data: None)
    yield
    config.set_publisher(None)


async def channel_with(w: World, name: str, label: str, *speakers: Actor) -> dict[str, object]:
    channel = await ch.create_channel(w.system, name, "", w.system.scheme.parse(label))
    await ch.add_members_bulk(w.system, int(channel["id"]), [int(s.member_id or 0) for s in speakers])
    return channel


async def test_every_word_must_match_and_stems_match(db: Database) -> None:
    w = await world()
    a = await agent(w, "ops-1")
    await channel_with(w, "ops", "internal", a)
    hit = await ch.post_message(a, "ops", "The batteries on line 2 failed twice this week", "s1")
    await ch.post_message(a, "ops", "Line 2 is running fine", "s2")
    await ch.post_message(a, "ops", "Battery stock is low", "s3")
    found = await ch.search_messages(a, "battery fails line")
    assert [r["message"]["id"] for r in found["results"]] == [hit["id"]] and found["total"] == 1
    assert found["terms"] == ["battery", "fails", "line"]
    r = found["results"][0]
    assert r["channel"] == "ops" and r["message"]["label"] == "internal"
    marked = [r["snippet"][s:e] for s, e in r["highlights"]]
    assert marked == ["batteries", "line", "failed"]
    # stop words and punctuation never make a search fail or inject an operator
    assert (await ch.search_messages(a, 'the "batteries" OR NOT line*'))["total"] == 1
    assert (await ch.search_messages(a, "the and of"))["total"] == 0


async def test_search_shows_only_what_the_reader_may_read(db: Database) -> None:
    w = await world()
    ops, finance = await agent(w, "ops-1", "internal/ops"), await agent(w, "fin-1", "confidential/finance")
    await channel_with(w, "town", "internal", ops, finance)
    await channel_with(w, "ops", "internal/ops", ops)
    await channel_with(w, "money", "confidential/finance", finance)
    await ch.post_message(ops, "town", "pump shipment arrives Monday", "t1")
    await ch.post_message(ops, "ops", "pump shipment is late", "o1")
    await ch.post_message(finance, "money", "pump shipment invoice is disputed", "f1")

    async def seen(actor: Actor) -> set[str]:
        found = await ch.search_messages(actor, "pump shipment")
        assert found["total"] == len(found["results"])
        return {r["channel"] for r in found["results"]}

    assert await seen(w.system) == {"town", "ops", "money"}
    assert await seen(await human(w, "pat", "internal")) == {"town"}
    assert await seen(await human(w, "oli", "internal/ops")) == {"town", "ops"}
    assert await seen(await human(w, "cfo", "confidential/finance")) == {"town", "money"}
    # an agent reads only channels it belongs to, even those its label dominates
    outsider = await agent(w, "fin-2", "confidential/ops+finance")
    assert await seen(outsider) == set()
    assert await seen(finance) == {"town", "money"}
    # narrowing to a channel above the reader is refused (without its label), not answered with nothing
    with pytest.raises(Forbidden, match="above the clearance of human 'pat2'"):
        await ch.search_messages(await human(w, "pat2", "internal"), "pump", channel="money")
    only = await ch.search_messages(w.system, "pump", channel="ops")
    assert {r["channel"] for r in only["results"]} == {"ops"}
    assert not await AuditEvent.select().where(AuditEvent.action.like("%search%")), "reads are not audited"


async def test_edits_and_deletes_reach_the_index(db: Database) -> None:
    w = await world()
    a = await agent(w, "ops-1")
    await channel_with(w, "ops", "internal", a)
    m = await ch.post_message(a, "ops", "the compressor is noisy", "e1")
    assert (await ch.search_messages(a, "compressor"))["total"] == 1
    await ch.edit_message(a, m["id"], "the conveyor is noisy")
    assert (await ch.search_messages(a, "compressor"))["total"] == 0
    assert (await ch.search_messages(a, "conveyor"))["total"] == 1
    await ch.delete_message(a, m["id"])
    assert (await ch.search_messages(a, "conveyor"))["total"] == 0


async def test_results_are_ranked_and_paged(db: Database) -> None:
    w = await world()
    a = await agent(w, "ops-1")
    await channel_with(w, "ops", "internal", a)
    for i in range(5):
        await ch.post_message(a, "ops", f"valve report {i}" + " valve" * i, f"p{i}")
    first = await ch.search_messages(a, "valve", limit=2)
    rest = await ch.search_messages(a, "valve", limit=2, offset=2)
    last = await ch.search_messages(a, "valve", limit=2, offset=4)
    ids = [r["message"]["id"] for page in (first, rest, last) for r in page["results"]]
    assert first["total"] == 5 and len(ids) == 5 and len(set(ids)) == 5
    scores = [r["score"] for page in (first, rest, last) for r in page["results"]]
    assert scores == sorted(scores, reverse=True)
    with pytest.raises(ValidationFailed, match="limit"):
        await ch.search_messages(a, "valve", limit=0)


def test_snippets_cut_long_bodies_around_the_first_match() -> None:
    body = " ".join(f"w{i}" for i in range(100)) + " the turbine overheated " + " ".join(f"x{i}" for i in range(100))
    text, spans = snippet(body, Query.parse("turbines overheating"))
    assert text.startswith("\u2026") and text.endswith("\u2026") and len(text) < 300
    assert [text[s:e] for s, e in spans] == ["turbine", "overheated"]
    short, marks = snippet("Überprüfung der Turbine", Query.parse("turbine"))
    assert short == "Überprüfung der Turbine" and [short[s:e] for s, e in marks] == ["Turbine"]


async def test_rest_search_for_agents_and_people(db: Database, tmp_path: Path) -> None:
    w = await world()
    bot = await token_agent(w, "ops-1", "internal/ops")
    await channel_with(w, "ops", "internal/ops", bot.actor)
    await ch.post_message(bot.actor, "ops", "forklift 7 needs a new battery", "r1")
    reader = await human_session("ivy", roles=("employee",), label="internal")
    async with running(db, tmp_path, "memory://") as server, server.client(headers=bot.headers) as agent_c, \
            server.client(headers=reader.headers) as person:
        res = await agent_c.get("/api/messages/search", params={"q": "forklift battery"})
        assert res.status_code == 200, res.text
        body = res.json()
        assert body["total"] == 1 and body["next_offset"] is None
        hit = body["results"][0]
        assert hit["channel"] == "ops" and hit["message"]["body"] == "forklift 7 needs a new battery"
        assert [hit["snippet"][s:e] for s, e in hit["highlights"]] == ["forklift", "battery"]
        assert (await person.get("/api/messages/search", params={"q": "forklift"})).json()["total"] == 0
        bad = await agent_c.get("/api/messages/search", params={"q": ""})
        assert bad.status_code == 400
        schema = (await person.get("/schema/openapi.json")).json()
        op = schema["paths"]["/api/messages/search"]["get"]
        assert "label" in op["description"] and {p["name"] for p in op["parameters"]} >= {"q", "channel", "limit"}
