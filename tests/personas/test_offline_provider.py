"""The offline provider: deterministic, extractive (it says what its facts say and nothing else, naming the
source), every task, and a voice from the persona's traits that never decides content."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from personas.llm.base import (
    TASKS,
    ChannelInfo,
    ContextMessage,
    FactRef,
    LinkRef,
    PersonaInfo,
    Provider,
    TurnRequest,
    count_tokens,
)
from personas.llm.offline import OfflineProvider, sentence

VALVES = FactRef("4:9:10:62", "The reject rate for K-9 valves rose to 4% in May", "Inspection log", "Valves",
                 "risk", "K-9")
SOURCE = FactRef("4:9:63:110", "Only Brenner Valves supplies the K-9 valve today.", "Inspection log", "Valves",
                 "risk", "Brenner Valves")
CONTRACT = FactRef("7:2:0:70", "The Brenner Valves framework agreement expires on 30 June.", "Contract register",
                   "", "risk", "Brenner Valves")
PERSONA = PersonaInfo("inspector-1", "Inspector", "quality", "internal", ("skeptical", "precise"),
                      ("stop bad lots early",), ("the reject rate keeps climbing",))
CHANNEL = ChannelInfo("floor", "Inspection and line stoppages", "internal")
ROOT = ContextMessage(7, "tech-3", "Technician", "internal", "Line 1 stopped again waiting for K-9 valves.", 7,
                      channel="floor")


def request(task: str = "read", seed: int = 1, **kw: object) -> TurnRequest:
    return TurnRequest(persona=PERSONA, channel=CHANNEL, task=task, intent="new_topic", seed=seed,  # type: ignore[arg-type]
                       facts=(VALVES, SOURCE), **kw)  # type: ignore[arg-type]


async def test_same_request_same_text_and_a_provider() -> None:
    prov = OfflineProvider()
    assert isinstance(prov, Provider)
    a, b = await prov.complete(request()), await prov.complete(request())
    assert a == b
    assert a.tokens_out == count_tokens(a.text) and a.tokens_in > a.tokens_out and a.cost == 0.0


def test_a_reading_states_every_fact_it_was_given_with_its_source_and_claims_them() -> None:
    result = OfflineProvider().compose(request())
    assert "Inspection log" in result.text
    for fact in (VALVES, SOURCE):
        assert sentence(fact.text) in result.text
    assert [c.key for c in result.claims] == [VALVES.key, SOURCE.key]


def test_persona_goals_and_concerns_never_reach_the_text() -> None:
    for task in TASKS:
        text = OfflineProvider().compose(request(task, answering=ROOT)).text
        assert "reject rate keeps climbing" not in text and "bad lots" not in text


def test_traits_shape_the_voice_not_the_content() -> None:
    terse = replace(request(), persona=replace(PERSONA, traits=("terse",)))
    careful = OfflineProvider().compose(request()).text
    short = OfflineProvider().compose(terse).text
    assert careful != short
    for fact in (VALVES, SOURCE):
        assert sentence(fact.text) in careful and sentence(fact.text) in short


def test_a_link_states_both_facts_both_sources_and_what_they_mean_together() -> None:
    link = LinkRef(SOURCE, CONTRACT, "dependency", "so trouble at Brenner Valves would reach what depends on it",
                   "Brenner Valves")
    result = OfflineProvider().compose(replace(request("link"), facts=(SOURCE, CONTRACT), link=link, answering=ROOT))
    assert result.text.startswith("@tech-3 ")
    assert sentence(SOURCE.text) in result.text and sentence(CONTRACT.text).rstrip(".") in result.text
    # the consequence closes the second fact's sentence: a frame sentence of its own ("Trouble with X reaches what
    # depends on it.") would be the same in every link on X, and the leak guard would take a link posted in one
    # compartment's channel for a repeat of one posted in another's
    assert "Contract register" in result.text and ", so trouble at Brenner Valves" in result.text
    assert {c.key for c in result.claims} == {SOURCE.key, CONTRACT.key}
    assert result.consequence == link.consequence


@pytest.mark.parametrize("task", ["ask", "ack"])
def test_questions_restate_the_fact_claim_nothing_and_ask(task: str) -> None:
    result = OfflineProvider().compose(request(task, answering=ROOT))
    assert result.text.startswith("@tech-3 ") and result.text.endswith("?")
    assert result.claims == () and result.mentions == ("tech-3",)


def test_an_answer_and_a_carried_fact_claim_what_they_state() -> None:
    answer = OfflineProvider().compose(replace(request("answer", answering=ROOT), facts=(CONTRACT,)))
    assert sentence(CONTRACT.text) in answer.text and [c.key for c in answer.claims] == [CONTRACT.key]
    carried = OfflineProvider().compose(replace(request("pass", answering=ROOT), facts=(VALVES,)))
    assert "#floor" in carried.text and [c.key for c in carried.claims] == [VALVES.key]


def test_every_sentence_is_a_fact_or_a_framing_without_figures() -> None:
    """Nothing invented: any figure in the text comes from a fact."""
    for task in TASKS:
        text = OfflineProvider().compose(request(task, answering=ROOT)).text
        figures = {f.rstrip(".,") for f in re.findall(r"\d[\d.,%]*", re.sub(r"@[\w-]+", "", text))}
        allowed = {f.rstrip(".,") for f in re.findall(r"\d[\d.,%]*", VALVES.text + SOURCE.text + ROOT.body)}
        assert figures <= allowed, (task, text)


def test_variety_across_agents() -> None:
    texts = {OfflineProvider().compose(replace(request(seed=s), persona=replace(PERSONA, handle=f"a-{s}"))).text
             for s in range(20)}
    assert len(texts) >= 2
