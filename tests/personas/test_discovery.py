"""Discovery in the runtime, on SQLite and PostgreSQL: every chunk is read (by two roles where the org allows it)
within the first rounds, each reader speaks where the chunk's label is allowed, every claim cites a real span,
facts from two compartments meet in a channel at their least upper bound (opened when the org has none), the
miner turns that link into one insight, and persona text changes the voice, never what is claimed."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from channels import config
from insights.services_mining import forget_state, mine_workspace
from personas import domain
from personas.llm.base import ClaimOut
from personas.runtime import claims as claim_store
from personas.runtime.plan import coverage
from personas.runtime.runs import simulate
from personas.scenario import Scenario, parse_scenario
from tests.personas.scenario_base import FIXTURES
from workspace.actor import Actor
from workspace.db import Database
from workspace.services import ensure_workspace, get_scheme, system_actor
from workspace.settings import LimitSettings

SCENARIO = """\
version: 1
name: Coldline
seed: 3
labels:
  compartments: [ops, finance, exec]
org:
  - role: Technician
    department: ops
    count: 12
    label: {tier: internal, compartments: [ops]}
    traits: [blunt]
    goals: ["keep the plant running"]
    concerns: ["overtime"]
    activity: 0.1
  - role: Planner
    department: planning
    count: 6
    label: {tier: internal, compartments: [ops]}
    activity: 0.1
  - role: Controller
    department: finance
    count: 4
    label: {tier: confidential, compartments: [finance]}
    activity: 0.1
  - role: Treasurer
    department: treasury
    count: 3
    label: {tier: confidential, compartments: [finance]}
    activity: 0.1
  - role: Director
    department: leadership
    count: 2
    label: {tier: restricted, compartments: [ops, finance, exec]}
    activity: 0.2
channels:
  - name: all-hands
    topic: Everything
    label: {tier: public}
    members: {all: true}
  - name: plant
    topic: The plant
    label: {tier: internal, compartments: [ops]}
    members: {departments: [ops, planning, leadership]}
  - name: money
    topic: Money
    label: {tier: confidential, compartments: [finance]}
    members: {departments: [finance, treasury, leadership]}
documents:
  - title: Refrigeration maintenance plan
    label: {tier: internal, compartments: [ops]}
    body: |
      # Refrigeration maintenance plan

      The blast freezer on Line 3 is cooled by a Kestrel KR-90 chiller installed in 2014.
      The KR-90 compressor failed twice in August and was repaired both times by Kestrel's field team.
      Replacement of the KR-90 is scheduled for 14 June, and Kestrel is the only approved supplier of its parts.

      Line 1 and Line 2 use Arctica units that passed their annual inspection in May.
  - title: Supplier credit watch
    label: {tier: confidential, compartments: [finance]}
    body: |
      # Supplier credit watch

      Kestrel Refrigeration entered administration on 3 May and has stopped shipping spare parts.
      Our payables to Kestrel stand at $48,000, due on 30 June.

      Northgate Packaging renewed its credit insurance for two years at the same premium.
  - title: Board minutes
    label: {tier: restricted, compartments: [exec]}
    body: |
      # Board minutes

      The board approved a budget of $2.4 million for a second freezer line, subject to a supplier review by 1 July.
"""


def _scenario(text: str = SCENARIO) -> Scenario:
    return parse_scenario(text, "coldline.yaml", FIXTURES)


async def _actor(name: str) -> Actor:
    domain.register_hooks()  # the leak guard, as the app wires it
    config.configure(LimitSettings())
    return await system_actor(await ensure_workspace(name))


async def _claims(db: Database, ws: int) -> list[dict[str, Any]]:
    return await claim_store.claims_after(ws, 0, 10_000)


async def test_every_chunk_is_read_by_two_roles_within_the_first_rounds_and_claims_cite_real_spans(
        db: Database) -> None:
    actor = await _actor("cover")
    summary = await simulate(actor, _scenario(), None, 5, seed=3)
    cov = await coverage(summary.run_id)
    assert cov["chunks"] >= 3 and cov["read"] == cov["chunks"]  # 100% read by round 5
    # no channel of the org may carry the restricted/exec board minutes: the runtime opened one for the directors
    desks = await db.fetch("SELECT name FROM chorus_channel WHERE workspace = {} AND name LIKE {}",
                           actor.workspace_id, "desk-%")
    assert [d["name"] for d in desks] == ["desk-exec-restricted"]
    scheme = await get_scheme(actor.workspace_id)
    low = await coverage(summary.run_id, scheme.parse("confidential/finance+ops"))  # an admin below the minutes
    assert "Board minutes" not in [d["title"] for d in low["documents"]] and low["read"] == cov["read"]
    assert "Board minutes" in [d["title"] for d in cov["documents"]]
    assert cov["read_by_two_roles"] == cov["chunks"] - 1  # two roles could read each but the minutes (directors)
    rows = await _claims(db, actor.workspace_id)
    assert rows and {r["kind"] for r in rows} >= {"fact"}
    library = claim_store.Library(await get_scheme(actor.workspace_id))
    await library.load(actor.workspace_id)
    for r in rows:  # every claim's span is a real slice of its chunk, stating that fact
        text = library.chunk_text[int(r["chunk"])]
        key = f"{r['document']}:{r['chunk']}:{r['span_start']}:{r['span_end']}"
        assert key in library.facts and text[int(r["span_start"]):int(r["span_end"])].strip()
    readings = await db.fetch(
        "SELECT r.channel, c.label_level, c.label_mask, k.label_level AS chunk_level, k.label_mask AS chunk_mask "
        "FROM personas_reading r JOIN chorus_channel c ON c.id = r.channel JOIN personas_chunk k ON k.id = r.chunk "
        "WHERE r.run = {}", summary.run_id)
    assert readings and all(r["label_level"] >= r["chunk_level"] and (r["label_mask"] & r["chunk_mask"])
                            == r["chunk_mask"] for r in readings)  # nobody speaks below what it read


async def test_facts_from_two_compartments_meet_at_their_least_upper_bound_and_become_one_insight(
        db: Database) -> None:
    forget_state()
    actor = await _actor("join")
    await simulate(actor, _scenario(), None, 6, seed=3)
    links = [r for r in await _claims(db, actor.workspace_id) if r["kind"] == "link"]
    assert links, "the KR-90 plan and Kestrel's administration were never linked"
    scheme = await get_scheme(actor.workspace_id)
    both = scheme.parse("confidential/finance+ops")
    for r in links:
        label = scheme.from_ints(int(r["label_level"]), int(r["label_mask"]))
        assert label.dominates(both) and r["other_document"] != r["document"]
        channel = (await db.fetch("SELECT name, label_level, label_mask FROM chorus_channel WHERE id = {}",
                                  r["channel"]))[0]
        assert scheme.from_ints(channel["label_level"], channel["label_mask"]).dominates(label)
    opened = await db.fetch("SELECT name FROM chorus_channel WHERE workspace = {} AND name LIKE {}",
                            actor.workspace_id, "join-%")
    assert [o["name"] for o in opened] == ["join-finance-ops-confidential"]  # the org had no such channel
    actor = await system_actor(actor.workspace_id)  # the scenario added compartments: a fresh actor knows them
    await mine_workspace(actor)
    from insights import services as insight_services

    rows, _ = await insight_services.list_insights(actor)
    joined = [i for i in rows if "Supplier credit watch" in i["summary"] and "maintenance plan" in i["summary"]]
    assert len(joined) == 1 and joined[0]["kind"] == "risk" and joined[0]["label"] == str(
        scheme.lub([scheme.parse("internal/ops"), scheme.parse("confidential/finance")]))


async def test_persona_text_shapes_the_voice_never_what_is_claimed(db: Database) -> None:
    plain = _scenario()
    bare = replace(plain, roles=tuple(replace(r, traits=(), goals=(), concerns=()) for r in plain.roles))
    spans: list[set[tuple[str, str]]] = []
    for name, scenario in (("voiced", plain), ("bare", bare)):
        actor = await _actor(name)
        await simulate(actor, scenario, None, 4, seed=3)
        spans.append({(str(r["kind"]), str(r["text"])) for r in await _claims(db, actor.workspace_id)})
    assert spans[0] and spans[0] == spans[1]


def test_a_claim_that_cites_nothing_real_is_refused() -> None:
    from workspace.labels import LabelScheme

    library = claim_store.Library(LabelScheme(compartments=("ops",)))
    label = library.scheme.parse("internal/ops")
    body = "# Plan\n\nThe KR-90 chiller failed twice in August and was repaired by the field team.\n"
    library.add_document(1, "Plan", body, label, [{"id": 7, "start": 0, "text": body}])
    real = next(iter(library.facts))
    assert library.resolve(ClaimOut(key=real), [7]) is library.facts[real]
    assert library.resolve(ClaimOut(quote="The KR-90 chiller failed twice in August"), [7]) is not None
    assert library.resolve(ClaimOut(quote="The KR-90 chiller was replaced in March by a rival"), [7]) is None
    assert library.resolve(ClaimOut(key="1:7:0:9999"), [7]) is None
    assert library.resolve(ClaimOut(quote="chiller"), [7]) is None  # too short to cite anything


@pytest.fixture(autouse=True)
def _fresh_miner() -> None:
    forget_state()


async def test_the_one_agent_who_may_read_two_compartments_states_several_links_a_round(db: Database) -> None:
    # only the heads of a company often see two silos at once; one link a round each would leave joins waiting
    from personas.runtime.discover import LINKS_PER_LINKER

    forget_state()
    actor = await _actor("one-linker")
    text = SCENARIO.replace("    count: 2\n    label: {tier: restricted", "    count: 1\n    label: {tier: restricted")
    text = text.replace("      Line 1 and Line 2 use Arctica units",
                        "      The glycol pump GP-4 on Line 2 is single-source from Brightwell Pumps, the only maker "
                        "of its seals.\n\n      Line 1 and Line 2 use Arctica units")
    text = text.replace("      Northgate Packaging renewed",
                        "      Brightwell Pumps filed for insolvency on 2 May and has stopped all deliveries.\n\n"
                        "      Northgate Packaging renewed")
    await simulate(actor, _scenario(text), None, 6, seed=3)
    links = [r for r in await _claims(db, actor.workspace_id) if r["kind"] == "link"]
    per_turn: dict[tuple[int, int], int] = {}
    for r in links:
        per_turn[(int(r["round"]), int(r["author"]))] = per_turn.get((int(r["round"]), int(r["author"])), 0) + 1
    assert len({author for _, author in per_turn}) == 1, per_turn  # nobody else may read both
    assert 1 < max(per_turn.values()) <= LINKS_PER_LINKER, per_turn
