"""Mining on hand-made records (signals, themes, dedupe, labels, incrementality) and end to end on the Harbor
scenario at small scale through the in-memory simulation (recall and quality floors, not timing).
"""

from __future__ import annotations

from insights.evaluate import evaluate, ranked_from
from insights.pipeline import Miner, mine_records
from insights.scoring import Insight
from insights.signals import entities, extract, sentences
from personas.quality import MessageRecord, measure
from personas.scenario import builtin_scenario, load_scenario
from personas.simcore import simulate_in_memory
from workspace.labels import LabelScheme

SCHEME = LabelScheme(compartments=("ops", "exec"))
INTERNAL = SCHEME.parse("internal/ops")
EXEC = SCHEME.parse("restricted/exec")


def rec(i: int, author: str, body: str, channel: str = "ops", tier: int = 1, dept: str = "ops",
        thread_of: int | None = None, label: object = INTERNAL, docs: tuple[str, ...] = ()) -> MessageRecord:
    return MessageRecord(id=i, channel=channel, author=author, body=body, thread_of=thread_of, department=dept,
                         tier=SCHEME.tiers[tier], tier_level=tier, label=label, doc_ids=docs)  # type: ignore[arg-type]


def test_signals_find_cues_entities_and_questions() -> None:
    risk = extract(1, "Lot 77 of the KX-12 valve failed inspection; Brenner Valves is the sole supplier. Who owns it?")
    assert risk.risk >= 2 and risk.opportunity == 0 and risk.question
    assert {"KX-12", "Brenner Valves"} <= set(risk.entities)
    opp = extract(2, "312 prospects joined the waitlist and would pay $9 per seat, a 20% uplift.")
    assert opp.opportunity >= 2 and opp.risk == 0 and opp.quantities == 2
    assert {"$9", "20%"} <= set(entities("joined the waitlist and would pay $9 per seat, a 20% uplift"))
    assert "3.2.1" in entities("firmware 3.2.1 reboots on 4 August")
    assert extract(3, "Thanks, great lunch today").sentiment > 0 > extract(4, "bad, broken and late").sentiment


def test_sentences_drop_addressing_and_framing() -> None:
    assert sentences('@bob-2 Per the ops log: "The KX-12 valve failed twice." Who owns it?') == [
        "Per the ops log:", "The KX-12 valve failed twice.", "Who owns it?"]


def _valve_chatter(start: int, n: int, tier: int = 1) -> list[MessageRecord]:
    phrasing = ["The KX-12 valve from Brenner keeps failing inspection on line {i}.",
                "Another KX-12 valve lot failed incoming inspection, Brenner is our sole supplier ({i}).",
                "Line {i} stopped again because KX-12 valves failed inspection."]
    return [rec(start + i, f"tech-{i}", phrasing[i % 3].format(i=i), tier=tier) for i in range(n)]


def test_a_theme_becomes_a_cited_labelled_insight() -> None:
    msgs = [*_valve_chatter(1, 6),
            rec(50, "ceo-1", "The Brenner KX-12 valve keeps failing inspection; it is on the board agenda.",
                channel="exec", tier=3, dept="exec", label=EXEC),
            rec(60, "tech-1", "Lunch is at noon in the canteen.")]
    insights, _ = mine_records(msgs, SCHEME)
    top = insights[0]
    assert top.kind == "risk" and "KX-12" in top.title
    assert set(top.message_ids) <= {m.id for m in msgs} - {60} and len(top.message_ids) >= 3
    assert top.label == SCHEME.lub([INTERNAL, EXEC])  # the least upper bound of its evidence
    assert top.agents >= 4 and top.departments == 2


def test_near_duplicates_do_not_inflate_a_score() -> None:
    base = _valve_chatter(1, 4)
    copies = [rec(100 + i, f"bot-{i}", base[0].body) for i in range(30)]
    plain, _ = mine_records(base, SCHEME)
    spammed, _ = mine_records(base + copies, SCHEME)
    def key(found: list[Insight]) -> list[tuple[float, int, int, tuple[int, ...]]]:
        return [(i.score, i.messages, i.agents, i.message_ids) for i in found]

    assert key(spammed) == key(plain)


def test_raised_by_lower_tiers_without_a_higher_tier_answer_is_flagged() -> None:
    msgs = [*_valve_chatter(1, 6), rec(90, "boss-1", "Noted.", tier=3, dept="exec", label=INTERNAL)]
    flagged, _ = mine_records(msgs, SCHEME)
    assert flagged[0].unacknowledged and "no response from higher tiers" in flagged[0].summary
    answered = [*msgs, rec(91, "boss-1", "On it, calling Brenner about KX-12 today.", tier=3, dept="exec",
                           thread_of=1)]
    acknowledged, _ = mine_records(answered, SCHEME)
    assert not acknowledged[0].unacknowledged


def test_mining_is_incremental_and_never_mines_twice() -> None:
    msgs = _valve_chatter(1, 9)
    miner = Miner(SCHEME)
    first = miner.mine(msgs[:5])
    assert miner.mine(msgs[:5]) == first  # the same batch again: nothing new is mined
    final = miner.mine(msgs)  # an overlapping batch: only the 4 new ones are added
    assert miner.mine(msgs) == final and len(miner.records) == 9
    for theme in miner.index.themes:
        assert set(theme.evidence) <= {m.id for m in msgs}
    assert sum(i.messages for i in final) > sum(i.messages for i in first)


def test_harbor_small_run_finds_most_truths_and_talks_well() -> None:
    scenario = load_scenario(builtin_scenario("harbor"))
    res = simulate_in_memory(scenario, 204, rounds=6, seed=3)
    quality = measure(res.messages, res.channels, res.agents)
    assert quality.reciprocity >= 0.3 and quality.flat_thread_share <= 0.4
    assert quality.on_topic_rate >= 0.8 and quality.duplicate_rate <= 0.03
    insights, _ = mine_records(res.messages, scenario.scheme, res.doc_labels, batch_size=100)
    bodies = {m.id: m.body for m in res.messages}
    result = evaluate(ranked_from(insights, bodies), scenario.truths, k=10, reader=scenario.scheme.top())
    assert result["recall_at_k"] >= 0.8, result["insights"][:10]
    assert all(i.message_ids and set(i.message_ids) <= set(bodies) for i in insights)
    # labels: an insight citing the restricted leadership channel is restricted
    for i in insights:
        assert i.label is not None
        assert all(i.label.dominates(m.label) for m in res.messages if m.id in i.message_ids and m.label)
