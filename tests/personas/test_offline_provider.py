"""The offline provider: deterministic, grounded in its snippets and the message it answers, every intent, varied
across agents; and the simulation core that drives it (scheduling, label-scoped retrieval, determinism).
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from personas.providers.base import (
    ChannelInfo,
    ContextMessage,
    Participant,
    PersonaInfo,
    Provider,
    Snippet,
    TurnRequest,
    count_tokens,
)
from personas.providers.offline import OfflineProvider, doc_sentences
from personas.quality import MessageRecord, duplicate_rate, measure, shingles
from personas.scenario import builtin_scenario, load_scenario
from personas.simcore import World, retrieve, simulate_in_memory

FACTS = Snippet("docs/log.md", "Inspection log", "The reject rate for K-9 valves rose to 4% in May. "
                "Only Brenner Valves supplies the K-9 valve today.")
PERSONA = PersonaInfo("inspector-1", "Inspector", "quality", "internal", ("skeptical", "precise"),
                      ("stop bad lots early",), ("the K-9 reject rate keeps climbing",))
CHANNEL = ChannelInfo("floor", "Inspection and line stoppages", "internal")
ROOT = ContextMessage(7, "tech-3", "Technician", "internal", "Line 1 stopped again waiting for K-9 valves.", 7)


def request(intent: str = "new_topic", handle: str = "inspector-1", seed: int = 1, **kw: object) -> TurnRequest:
    persona = PersonaInfo(handle, *[getattr(PERSONA, f) for f in
                                    ("role", "department", "tier", "traits", "goals", "concerns", "language")])
    return TurnRequest(persona=persona, channel=CHANNEL, intent=intent, seed=seed,  # type: ignore[arg-type]
                       snippets=(FACTS,), focus=PERSONA.concerns[0], **kw)  # type: ignore[arg-type]


async def test_same_request_same_text_and_a_provider() -> None:
    prov = OfflineProvider()
    assert isinstance(prov, Provider)
    a, b = await prov.complete(request()), await prov.complete(request())
    assert a == b
    assert (await prov.complete(request(seed=2))).text != a.text
    assert a.tokens_out == count_tokens(a.text) and a.tokens_in > a.tokens_out and a.cost == 0.0


def test_grounded_in_a_snippet_sentence_and_cites_it() -> None:
    result = OfflineProvider().compose(request())
    sentences = doc_sentences(FACTS.text)
    assert any(s.rstrip(".") in result.text or s[1:].rstrip(".") in result.text for s in sentences)
    assert result.cited == (FACTS.doc_id,)
    assert "K-9 reject rate keeps climbing" in result.text  # the persona's concern, in its words


def test_without_snippets_it_cites_nothing_and_quotes_nothing() -> None:
    req = TurnRequest(persona=PERSONA, channel=CHANNEL, intent="new_topic", seed=1, focus=PERSONA.concerns[0])
    result = OfflineProvider().compose(req)
    assert result.cited == () and "Brenner" not in result.text


@pytest.mark.parametrize("intent", ["reply", "agree", "disagree", "ask"])
def test_answers_address_the_author_and_echo_the_message(intent: str) -> None:
    texts = [OfflineProvider().compose(request(intent, seed=s, answering=ROOT, recent=(ROOT,))).text
             for s in range(6)]
    assert all(t.startswith("@tech-3 ") for t in texts)
    echoed = sum(1 for t in texts if re.search(r"K-9|valves|Line 1|stopped", t.split(".")[0]))
    assert echoed >= 4  # the first sentence picks up what the message said


def test_escalation_mentions_a_higher_tier_member() -> None:
    boss = Participant("plant-manager-1", "Plant Manager", "confidential", 2)
    result = OfflineProvider().compose(request("escalate", escalate_to=(boss,)))
    assert "@plant-manager-1" in result.text and result.mentions == ("plant-manager-1",)


def test_never_answers_itself() -> None:
    own = ContextMessage(9, "inspector-1", "Inspector", "internal", "K-9 valves again.", 9)
    result = OfflineProvider().compose(request("reply", answering=own))
    assert not result.text.startswith("@inspector-1")


def test_agents_sharing_a_persona_and_a_fact_do_not_repeat_canned_sentences() -> None:
    prov = OfflineProvider()
    texts = [prov.compose(request(intent, handle=f"inspector-{i}", seed=i, answering=ROOT)).text
             for i in range(200) for intent in ("new_topic", "agree", "ask")]
    assert len(set(texts)) >= 0.99 * len(texts)
    # one persona, one focus, two facts, 200 agents: the worst case for variety, still few near-duplicates
    assert duplicate_rate([MessageRecord(i, "c", f"a{i}", t) for i, t in enumerate(texts)]) <= 0.03
    # a sentence many agents write verbatim must carry content (a document sentence or the persona's own goal or
    # concern, or what the message it answers said), never be a canned line
    content = frozenset().union(*(shingles(x) for x in (*doc_sentences(FACTS.text), *PERSONA.goals,
                                                         *PERSONA.concerns, ROOT.body)))
    counts = Counter(s for t in texts for s in re.split(r"(?<=[.?!])\s+", t))
    frequent = [s for s, n in counts.items() if n > len(texts) * 0.02]
    assert frequent  # the check below looks at something
    assert all(shingles(s) & content for s in frequent), [s for s in frequent if not shingles(s) & content]


def test_retrieval_obeys_both_labels() -> None:
    world = World(load_scenario(builtin_scenario("meridian")).scaled(200))
    ceo = next(a for a in world.agents if a.role.role == "Chief Executive Officer")
    support = next(a for a in world.agents if a.role.role == "Customer Support Agent")
    town_hall = world.channels["town-hall"].spec.label
    snippets = retrieve(world, ceo, "town-hall", "Lakeshore RFP revenue board pack supplier quality", limit=20)
    titles = {s.title for s in snippets}
    assert titles and all(town_hall.dominates(d.label) for d in world.scenario.documents if d.title in titles)
    assert "Q3 board pack" not in titles  # the CEO may read it, the channel may not carry it
    exec_snips = retrieve(world, ceo, "exec-staff", "Lakeshore RFP revenue", limit=20)
    assert "Q3 board pack" in {s.title for s in exec_snips}
    assert all(support.label.dominates(d.label) for d in world.scenario.documents
               if d.title in {s.title for s in retrieve(world, support, "support-desk", "battery firmware pump")})


def test_simulation_is_deterministic_and_speaks_only_where_members() -> None:
    scenario = load_scenario(builtin_scenario("harbor"))
    a = simulate_in_memory(scenario, 120, rounds=4, seed=5)
    b = simulate_in_memory(scenario, 120, rounds=4, seed=5)
    assert [m.body for m in a.messages] == [m.body for m in b.messages] and a.messages
    assert [m.body for m in simulate_in_memory(scenario, 120, rounds=4, seed=6).messages] != [
        m.body for m in a.messages]
    world = World(scenario.scaled(120))
    for m in a.messages:
        agent = world.by_handle[m.author]
        assert m.channel in agent.channels
        assert all(agent.label.dominates(a.doc_labels[d]) and m.label is not None and m.label.dominates(a.doc_labels[d])
                   for d in m.doc_ids)


def test_quality_floors_on_a_small_run() -> None:
    scenario = load_scenario(builtin_scenario("meridian"))
    res = simulate_in_memory(scenario, 300, rounds=6, seed=3)
    q = measure(res.messages, res.channels, res.agents)
    assert q.reciprocity >= 0.3 and q.flat_thread_share <= 0.4
    assert q.duplicate_rate <= 0.03 and q.on_topic_rate >= 0.8
    assert res.turns == len(res.messages) + res.reactions
