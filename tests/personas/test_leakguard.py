"""The leak guard: verbatim copies and light rewrites (case, whitespace, punctuation, reordered sentences) of a
document above the channel's label are refused through post_message and audited; unrelated text, and text the
channel may carry, goes through. Canary markers never reach a channel below their label."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Callable

import pytest

from channels.services import Post, deferred_events, member_channels, post_batch, post_message, read_messages
from personas.context import leakguard
from personas.context.documents import NewDocument, ingest_documents, plant_canaries
from personas.context.leakindex import DOCUMENT, LeakIndex
from personas.domain import register_hooks
from personas.errors import LeakBlocked
from personas.services_agents import page_agents
from tests.personas.helpers import CONTRACT, HANDBOOK, MERGER, SCANNERS, Acme, load_acme
from workspace.db import Database
from workspace.errors import ChorusError
from workspace.labels import LabelScheme
from workspace.services import actor_for_member, extend_scheme, get_member, system_actor
from workspace.tables import AuditEvent

REVIEWS = ("Acme performance reviews for the night shift close on Friday. Two supervisors are moving to the "
           "Dover depot and one picker receives a final written warning for repeated absence.")


def _sentences(text: str) -> list[str]:
    return [s.strip() + "." for s in text.split(".") if s.strip()]


REWRITES: dict[str, Callable[[str], str]] = {
    "verbatim": lambda t: t,
    "upper case": lambda t: t.upper(),
    "whitespace": lambda t: "   \n".join(t.split(" ")),
    "punctuation": lambda t: t.replace(".", " -- ").replace(",", ""),
    "reordered": lambda t: " ".join(reversed(_sentences(t))),
    "two sentences quoted in chatter": lambda t: "Heard this today: " + " ".join(_sentences(t)[1:3]) + " Wild.",
}


async def _post(actor_world: Acme, handle: str, channel: str, body: str) -> dict[str, object]:
    agent = await actor_world.agent(handle)
    return await post_message(agent, channel, body, uuid.uuid4().hex)


@pytest.mark.parametrize("rewrite", list(REWRITES))
async def test_copies_and_light_rewrites_are_blocked(db: Database, rewrite: str) -> None:
    register_hooks()
    acme = await load_acme()
    body = REWRITES[rewrite](CONTRACT)
    # Counsel may read the contract but ops-floor (internal/ops) may not carry it.
    with pytest.raises(LeakBlocked) as caught:
        await _post(acme, "counsel-0001", "ops-floor", body)
    err = caught.value
    assert err.code == "leak_blocked" and err.status == 403
    assert "confidential/finance" in err.message and "ops-floor" in err.message
    assert "Gull" not in err.message and "fourteen" not in err.message.lower(), "the error never repeats content"
    blocked = await AuditEvent.select().where(AuditEvent.action == "post.blocked")
    assert len(blocked) == 1 and blocked[0]["actor_handle"] == "counsel-0001"
    details = json.loads(blocked[0]["details"])
    assert details["label"] == "confidential/finance" and details["channel"] == "ops-floor"
    assert details["documents"] and not details["canary"]
    assert await read_messages(await acme.channel("ops-floor")) == [], "nothing was posted"


@pytest.mark.parametrize("body", [
    "Does anyone know when the scanner batteries arrive? My shift starts at six.",
    "The freight rates everyone talks about are public knowledge now, nothing to see.",
    "Acme merger rumours again, ignore them and keep picking.",
    SCANNERS,  # internal/ops: exactly what ops-floor may carry
    HANDBOOK,
])
async def test_unrelated_or_permitted_text_goes_through(db: Database, body: str) -> None:
    register_hooks()
    acme = await load_acme()
    message = await _post(acme, "counsel-0001", "ops-floor", body)
    assert message["body"] == body
    assert await AuditEvent.count().where(AuditEvent.action == "post.blocked") == 0


async def test_people_are_checked_too_and_restricted_text_is_refused_in_money(db: Database) -> None:
    register_hooks()
    acme = await load_acme()
    with pytest.raises(LeakBlocked, match="restricted/finance"):
        await _post(acme, "counsel-0002", "money", MERGER)
    with pytest.raises(LeakBlocked, match="restricted"):
        await leakguard.check_post(actor=acme.system, channel=await acme.channel("lobby"), body=MERGER)


async def test_a_document_in_a_compartment_newer_than_the_posters_scheme_is_blocked_and_recorded(db: Database
                                                                                                   ) -> None:
    register_hooks()
    acme = await load_acme()
    counsel = await acme.agent("counsel-0001")  # holds the scheme as it is now, as a socket or a run round would
    admin = await system_actor(acme.ws)
    scheme = await extend_scheme(admin, admin.scheme.tiers, ("hr",))  # as another process would
    label = scheme.parse("confidential/hr")
    await ingest_documents(await system_actor(acme.ws), [NewDocument("Reviews", REVIEWS, label)])
    with pytest.raises(ChorusError) as stale:
        counsel.scheme.from_ints(label.level, label.mask)
    assert stale.value.code == "label_outside_scheme"
    with pytest.raises(LeakBlocked, match="labelled confidential/hr"):
        await post_message(counsel, "ops-floor", REVIEWS, uuid.uuid4().hex)
    blocked = await AuditEvent.select().where(AuditEvent.action == "post.blocked")
    assert [json.loads(b["details"])["label"] for b in blocked] == ["confidential/hr"]


def test_find_leak_is_pure_and_needs_more_than_a_coincidence() -> None:
    scheme = LabelScheme(compartments=("finance",))
    secret = scheme.parse("confidential/finance")
    index = leakguard.Index()
    index.index.add_text(DOCUMENT, 7, secret.level, secret.mask, CONTRACT)
    public = scheme.parse("public")
    leak = leakguard.find_leak(index, scheme, public, CONTRACT.lower())
    assert leak is not None and (leak.level, leak.mask) == (secret.level, secret.mask)
    assert leak.sources == (("document", 7),) and leak.how == "copy"
    assert leakguard.find_leak(index, scheme, secret, CONTRACT) is None, "the channel may carry it"
    one_phrase = "Our rates with Gull Carriers rise but that is all I know about logistics plans today"
    assert leakguard.find_leak(index, scheme, public, one_phrase) is None, "one shared 4-word phrase is chance"
    short = "with Gull Carriers rise fourteen"
    assert leakguard.find_leak(index, scheme, public, short) is not None, "a short post that is all copy"


def test_a_rounds_drafts_protect_its_later_channels_posts_and_permit_nothing() -> None:
    """What the turns of a round are to say protects the posts of that round in channels after it in the plan
    (whichever is stored first), at the label of the channel it is for; a draft the channel may carry permits
    nothing, and other posts ignore drafts."""
    scheme = LabelScheme(compartments=("ops", "finance"))
    ops, top = scheme.parse("internal/ops"), scheme.parse("confidential/ops+finance")
    said = ("Our steering group meets the Harwick auditors next Thursday about the Marlow pallet yard lease and "
            "the Penrose overtime settlement.")
    index = LeakIndex()
    index.add_draft((1, 2), 10, top.level, top.mask, said)
    index.add_draft((1, 2), 11, ops.level, ops.mask, said)  # the post's own: permits nothing
    leak = index.find(ops.level, ops.mask, said, (1, 2), 11)
    assert leak is not None and (leak.level, leak.mask) == (top.level, top.mask)
    reworded = "Next Thursday the Harwick auditors meet our steering group on the Penrose overtime settlement and " \
               "the Marlow pallet yard lease."
    assert index.find(ops.level, ops.mask, reworded, (1, 2), 11) is not None, "a paraphrase of the draft too"
    assert index.find(top.level, top.mask, said, (1, 2), 10) is None, "the channel may carry it"
    assert index.find(ops.level, ops.mask, said, (1, 2), 9) is None, "a channel before it in the plan: first"
    assert index.find(ops.level, ops.mask, said, None, 11) is None, "not a post of that round: a draft is no text"
    assert index.find(ops.level, ops.mask, said, (1, 3), 11) is None, "nor of another round"
    index.forget_drafts((1, 2))
    assert index.find(ops.level, ops.mask, said, (1, 2), 11) is None


async def test_canaries_never_appear_below_their_label(db: Database) -> None:
    """Traffic from every agent in every channel it belongs to: quotes of every document and every canary
    marker, in sentences of chatter. Afterwards no channel holds a marker its label does not dominate."""
    register_hooks()
    acme = await load_acme()
    canaries = await plant_canaries(acme.system)
    assert {c["label"] for c in canaries} == {"public", "internal/ops", "confidential/finance",
                                              "restricted/finance+legal+ops"}
    assert await plant_canaries(acme.system) == canaries, "planting twice keeps one marker per label"
    scheme = acme.system.scheme
    texts = [HANDBOOK, SCANNERS, CONTRACT, MERGER]
    rng = random.Random(11)
    posted = blocked = 0
    for row in await page_agents(acme.ws, limit=100):
        agent = await actor_for_member(await get_member(acme.ws, row["member_id"]))
        for channel in await member_channels(agent):
            for canary in canaries:
                bodies = [f"Quoting the file: {canary['marker']} as it says.",
                          f"ref {canary['marker'].upper()}",
                          " ".join(rng.sample(_sentences(rng.choice(texts)), 2))]
                for body in bodies:
                    try:
                        await post_message(agent, channel["id"], body, uuid.uuid4().hex)
                        posted += 1
                    except LeakBlocked:
                        blocked += 1
                    except ChorusError as exc:  # anything else would mean the traffic did not run as intended
                        raise AssertionError(f"unexpected refusal: {exc.message}") from exc
    assert posted > 0 and blocked > 0
    leaks_found = 0
    allowed_seen = 0
    for name in ("lobby", "ops-floor", "money", "boardroom"):
        channel = await acme.channel(name)
        label = scheme.parse(channel["label"])
        bodies = [m["body"].lower() for m in await read_messages(channel, limit=1000)]
        for canary in canaries:
            present = any(canary["marker"] in b for b in bodies)
            if label.dominates(scheme.parse(canary["label"])):
                allowed_seen += present
            else:
                leaks_found += present
    assert leaks_found == 0
    assert allowed_seen > 0, "markers do get through where the label allows: the check above could fail"
    assert await AuditEvent.count().where(AuditEvent.action == "post.blocked") == blocked


async def test_a_message_that_commits_after_the_cursor_passed_it_is_protected_from_the_next_round(
        db: Database) -> None:
    """Another process's post whose transaction commits after this process's index read past its id (a later id
    committed first) is read when a run's next round starts, so that round's posts are checked against it."""
    if db.is_sqlite:
        pytest.skip("one writer at a time on SQLite: a later id cannot commit first")
    register_hooks()
    acme = await load_acme()
    said = ("Our steering group meets the Harwick auditors next Thursday about the Marlow pallet yard lease and "
            "the Penrose overtime settlement.")
    boardroom = await acme.channel("boardroom")
    counsel, other = await acme.agent("counsel-0001"), await acme.agent("counsel-0002")
    stored, release = asyncio.Event(), asyncio.Event()
    stored_id: list[int] = []

    async def slow() -> None:  # another process's shard: its chunk's transaction stays open a while
        async with deferred_events(), db.transaction():
            posts = await post_batch(int(boardroom["id"]), [Post(counsel, said, uuid.uuid4().hex)])
            assert posts[0].message is not None
            stored_id.append(int(posts[0].message["id"]))
            stored.set()
            await release.wait()

    task = asyncio.create_task(slow())
    await stored.wait()
    leakguard.invalidate()  # this process never saw that post checked: another process did
    await post_message(counsel, "money", "The Kestrel invoices are reconciled for October.", uuid.uuid4().hex)
    leakguard.invalidate(acme.ws)
    idx = await leakguard.index_for(acme.ws)  # reads past the open transaction's id
    assert idx.messages > int(stored_id[0])
    release.set()
    await task
    await leakguard.protect_round(acme.ws, (1, 2), [])  # the next round starts here
    with leakguard.posting_round((1, 2)), pytest.raises(LeakBlocked):
        await post_message(other, "ops-floor", said, uuid.uuid4().hex)
