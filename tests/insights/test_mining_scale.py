"""What lets mining keep up with a million messages: claims are aggregated by the span they cite (one entry per
fact and per link, never one per claim, with bounded evidence), people's messages are read in worker processes
for large batches, with exactly the facts the process itself would find, and the miner's bulk reads and shortcuts
end with exactly the issues a plain reading of every row makes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest

from channels.services import message_channel_names, message_refs, message_scan, messages_after, messages_by_ids
from insights import issues as issue_mod
from insights import lease
from insights import services_mining as mining
from insights.issues import Collector, Issue, Said, build_issues
from insights.services_mining import POOL_FROM, extract, shutdown_pool
from insights.services_store import KEEP, issue_key
from personas.context.facts import facts
from personas.runtime import claims
from personas.runtime.claims import Library
from workspace import db as db_module
from workspace import services
from workspace.db import Database
from workspace.labels import LabelScheme

TEXTS = ["The KX-12 valve from Brenner failed incoming inspection on three lots in May, and line 4 stopped twice.",
         "Brenner is the only approved supplier of the KX-12 valve and its contract expires on 30 June.",
         "Customers in Oregon asked for the mobile plan and would pay $9 per seat a month."]


def _said(n: int) -> list[Said]:
    out = []
    for i in range(n):
        text = TEXTS[i % len(TEXTS)]
        span = ("7", 1, 100 * (i % len(TEXTS)), 100 * (i % len(TEXTS)) + len(text))
        out.append(Said(i, span, "Plant log", "ops", text, role=f"role-{i % 5}", department=f"d{i % 3}",
                        channel="floor", message=1000 + i))
    return out


def test_the_collector_keeps_one_entry_per_span_with_bounded_evidence_and_the_same_issues() -> None:
    many = _said(5_000)
    collected = Collector()
    assert collected.add(many) == 5_000
    assert len(collected.sources) == len(TEXTS)
    counts = Counter(s.span for s in many)
    assert all(len(s.messages) == issue_mod.EVIDENCE and s.said == counts[s.span] for s in collected.sources.values())
    incremental = Collector()
    for start in range(0, len(many), 700):  # pass by pass
        incremental.add(many[start:start + 700])
    once = build_issues(many)
    assert [(i.key, i.title, i.score) for i in incremental.issues()] == [(i.key, i.title, i.score) for i in once]


async def test_pooled_extraction_finds_exactly_what_the_process_finds() -> None:
    bodies = [f"{TEXTS[i % 3]} Ticket {i} was logged on 3 June." for i in range(POOL_FROM + 50)]
    try:
        pooled = await extract(bodies)
    finally:
        shutdown_pool()
    assert pooled == [facts(b) for b in bodies]
    assert await extract(bodies[:5]) == [facts(b) for b in bodies[:5]]  # a small batch: in this process


def _fingerprint(issues: Sequence[Issue]) -> list[tuple[Any, ...]]:
    """Everything an issue holds that mining decides: key, kind, words, scores, which spans it shows and every
    member's evidence (who said it, where, in which messages)."""
    return [(i.key, i.kind, i.title, i.summary, i.score, i.severity, i.corroboration, i.relation, i.absorbed,
             [s.span for s in i.sources], sorted(i.linked_by), i.link_messages,
             [(m.span, m.said, sorted(m.roles), sorted(m.departments), sorted(m.channels), sorted(m.tiers), m.messages)
              for m in i.members]) for i in issues]


async def _plainly(ws: int, scheme: LabelScheme) -> list[Issue]:
    """The issues a straightforward reading makes: every claim with every column and every message as a dict, a
    :class:`Said` for each, people's messages' facts in this process, then :func:`build_issues` once."""
    library = Library(scheme)
    await library.load(ws)
    database = db_module.current()
    rows: list[dict[str, Any]] = []
    while page := await claims.claims_after(ws, int(rows[-1]["id"]) if rows else 0, 700):
        rows.extend(page)
    names = {int(m["id"]): str(m["channel_name"])
             for m in (await message_refs([int(r["message"]) for r in rows if r["message"]])).values()}
    said = [s for r in rows if (s := mining._said(library, r, names.get(int(r["message"] or 0), ""))) is not None]
    posted = {int(r["message"]) for r in await database.fetch(
        "SELECT message FROM personas_turn WHERE outcome = {} AND message IS NOT NULL", "posted")}
    heard: list[Said] = []
    messages: list[dict[str, Any]] = []
    while page := await messages_after(ws, int(messages[-1]["id"]) if messages else 0, 700):
        messages.extend(page)
    for r in messages:
        if int(r["id"]) in posted or r["deleted"]:
            continue
        mid, doc = int(r["id"]), f"{mining.CHATTER}{int(r['channel'])}"
        body = mining._ADDRESS.sub(lambda m: " " * len(m.group(0)), str(r["body"] or ""))
        heard += [Said(-(mid * 64 + n), (doc, mid, f.start, f.end), f"#{r['channel_name']}", "", f.text,
                       role=str(r["author_handle"]), department="", channel=str(r["channel_name"]), message=mid,
                       label=(int(r["label_level"]), int(r["label_mask"])), fact=f)
                  for n, f in enumerate(facts(body))]
    return build_issues([*heard, *said], library.corpus)


async def test_the_miner_makes_exactly_the_issues_a_plain_reading_of_every_row_makes(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """The miner reads claims and messages as tuples of the columns it uses, in pages it reads ahead, restates
    known spans without building a claim, finds channels by id range and extracts people's facts in batches while
    it reads on; over several passes it must end with the very issues (words, scores, evidence) and stored
    insights that reading every row whole, once, makes."""
    from tests.bench.mining import populate  # the benchmark's workspace: runtime posts with claims, links, people

    ws = await populate(db, 1_500, seed=11)
    # a few deleted messages (their claims cite no channel) and a claim far from the rest (read by id list)
    await db.fetch("UPDATE chorus_message SET deleted = {} WHERE id % 37 = 0", True)
    await db.fetch("UPDATE personas_claim SET message = message + 100000 WHERE id % 211 = 0")
    monkeypatch.setattr(mining, "_READ", 300)
    monkeypatch.setattr(mining, "_EXTRACT_BATCH", 7)
    monkeypatch.setattr(mining, "_EXTRACT_AHEAD", 2)
    mining.forget_state()
    actor = await services.system_actor(ws)
    passes = 0
    while (await mining.mine_workspace(actor, limit=1_000)).more:
        passes += 1
    assert passes >= 2  # several passes, each several pages
    state = mining._states[(lease.MINER, ws)]
    got = state.collected.issues(state.library.corpus)
    want = await _plainly(ws, actor.scheme)
    assert len(want) > 50
    assert _fingerprint(got) == _fingerprint(want)
    stored = await db.fetch("SELECT theme_key, kind, title, score FROM insights_insight WHERE workspace = {} AND "
                            "current = {} ORDER BY score DESC, theme_key", ws, True)
    assert [(r["theme_key"], r["kind"], r["title"], round(float(r["score"]), 6)) for r in stored] == sorted(
        ((issue_key(i), i.kind, i.title[:300], i.score) for i in want[:KEEP]), key=lambda t: (-t[3], t[0]))
    mining.forget_state()


async def test_messages_are_scanned_alike_by_id_range_and_by_id_list(db: Database) -> None:
    """The miner's bulk message reads give the same rows whether the ids are close together (one range, filtered)
    or spread out (lists), and the same channels as :func:`message_refs`."""
    from tests.bench.mining import populate

    await populate(db, 300, seed=3)
    await db.fetch("UPDATE chorus_message SET deleted = {} WHERE id % 7 = 0", True)
    ids = [int(r["id"]) for r in await db.fetch("SELECT id FROM chorus_message ORDER BY id")]
    dense, sparse = ids[10:200], [*ids[::40], ids[-1] + 10_000]
    for chosen in (dense, sparse):
        rows = await message_scan(chosen)
        assert [r[0] for r in rows] == [i for i in chosen if i in set(ids)]
        whole = await messages_by_ids(chosen)
        assert [(r[2], r[4], bool(r[7])) for r in rows] == [
            (whole[r[0]]["channel_name"], whole[r[0]]["body"], bool(whole[r[0]]["deleted"])) for r in rows]
        assert await message_channel_names(chosen) == {
            m: str(r["channel_name"]) for m, r in (await message_refs(chosen)).items()}
