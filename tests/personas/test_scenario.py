"""Tests for the scenario loader: the shipped scenarios and the spec's example load, scaling, handle prefixes,
that the planted truths are minable, and one bad-input case per kind of error (message, key path and line).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from personas.scenario import (
    BUILTIN_DIR,
    Scenario,
    ScenarioError,
    builtin_scenario,
    handle_prefix,
    load_scenario,
    parse_scenario,
    scale_counts,
)
from workspace.errors import ValidationFailed

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "scenarios"

# A small valid scenario; the bad-input cases below edit one line of it, so its line numbers matter.
BASE = """\
version: 1
name: Test Co
labels:
  compartments: [ops, finance]
org:
  - role: Picker
    department: ops
    count: 10
    label: {tier: internal, compartments: [ops]}
  - role: Controller
    department: finance
    count: 2
    label: {tier: confidential, compartments: [finance]}
channels:
  - name: floor
    topic: Warehouse floor
    label: {tier: internal, compartments: [ops]}
    members: {departments: [ops]}
  - name: money
    topic: Money talk
    label: {tier: confidential, compartments: [finance]}
    members: {roles: [Controller]}
documents:
  - title: Note
    label: {tier: internal}
    body: Picker counts rose 4% in May.
truths:
  - id: T1
    kind: risk
    title: A risk
    match: [alpha, beta]
"""


def parse(text: str, base_dir: Path = FIXTURES) -> Scenario:
    return parse_scenario(text, "t.yaml", base_dir)


def edit(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, 1)


def problems(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        parse(text)
    return [str(p) for p in caught.value.problems]


# -- good input ---------------------------------------------------------------------------------------------------


def test_base_fixture_is_valid() -> None:
    s = parse(BASE)
    assert s.name == "Test Co"
    assert [r.role for r in s.roles] == ["Picker", "Controller"]
    assert s.roles[0].activity == 0.05 and s.roles[0].language == "en"
    assert str(s.channel("money").label) == "confidential/finance"
    assert s.documents[0].title == "Note" and s.documents[0].path is None
    assert s.truths[0].min_match == 2
    assert s.seed is None


def test_meridian_is_the_demo_scenario_and_meets_the_brief() -> None:
    s = load_scenario(builtin_scenario())
    summary = s.summary()
    assert summary == {
        "name": "Meridian Medical Devices",
        "roles": 12,
        "agents": 1000,
        "departments": 10,
        "channels": 9,
        "documents": 18,
        "truths": 6,
    }
    tiers = {r.label.tier for r in s.roles}
    assert {"public", "internal", "confidential", "restricted"} <= tiers
    assert len({str(c.label) for c in s.channels}) >= 6
    assert any(d.path is None for d in s.documents) and any(d.path is not None for d in s.documents)
    assert {t.kind for t in s.truths} == {"risk", "opportunity"}
    assert all(t.min_match == 2 for t in s.truths)
    # about 30 unprompted posts per round at the demo's 1,000 agents: lively, not a flood
    assert 20 <= sum(r.count * r.activity for r in s.roles) <= 60


def test_harbor_loads_and_differs_from_meridian() -> None:
    s = load_scenario(builtin_scenario("harbor"))
    m = load_scenario(builtin_scenario("meridian"))
    assert s.summary()["roles"] >= 6 and len(s.channels) == 4 and len(s.documents) >= 8
    assert 5 <= len(s.truths) <= 6
    assert set(s.scheme.compartments).isdisjoint(m.scheme.compartments)
    assert set(s.departments) != set(m.departments)


def test_unknown_builtin_names_the_known_ones() -> None:
    with pytest.raises(ValidationFailed, match="harbor, meridian"):
        builtin_scenario("nope")


def test_spec_example_loads_with_file_documents() -> None:
    s = load_scenario(FIXTURES / "spec_example.yaml")
    assert s.name == "Northwind Freight" and s.seed == 7
    assert s.scheme.compartments == ("finance", "legal", "hr", "ops", "sales", "exec")
    assert [r.role for r in s.role_members("ops-floor")] == ["Warehouse Associate", "Dispatcher"]
    titles = {d.source: d.title for d in s.documents}
    # the first '# ' heading anywhere in the file, else the file name
    assert titles == {
        "documents[0]": "Q3 carrier contract summary",
        "docs/ops/refrigeration_units.md": "refrigeration_units",
        "docs/ops/scanners.md": "Scanner fleet",
    }
    scanners = next(d for d in s.documents if d.title == "Scanner fleet")
    assert "80 handheld scanners" in scanners.body and scanners.path == FIXTURES / "docs/ops/scanners.md"
    assert str(scanners.label) == "internal/ops"
    assert s.truths[0].match == ("kestrel", "refrigeration", "sole supplier")


def test_role_members_takes_the_union() -> None:
    s = parse(edit("    members: {roles: [Controller]}", "    members: {roles: [Controller], departments: [finance]}"))
    assert [r.role for r in s.role_members("money")] == ["Controller"]
    text = edit("compartments: [finance]}", "compartments: [finance, ops]}")
    text = text.replace("    members: {departments: [ops]}", "    members: {roles: [Controller], departments: [ops]}")
    s = parse(text)
    assert [r.role for r in s.role_members(s.channel("floor"))] == ["Picker", "Controller"]  # org-chart order


def test_title_given_for_a_single_file() -> None:
    text = edit("    body: Picker counts rose 4% in May.", "    path: titles/a.md")
    assert parse(text).documents[0].title == "Note"
    text = edit("  - title: Note\n", "  - label: {tier: public}\n").replace("    label: {tier: internal}\n", "", 1)
    text = text.replace("    body: Picker counts rose 4% in May.", "    path: titles/*.md")
    assert [d.title for d in parse(text).documents] == ["Only heading", "b"]


# -- handles and scaling -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Warehouse Technician", "warehouse-technician"),
        ("R&D  Engineer (II)", "r-d-engineer-ii"),
        ("Pâtissière", "patissiere"),
        ("  VP, Sales  ", "vp-sales"),
        ("???", "agent"),
        ("Chief " * 20, "chief-chief-chief-chief-chief-chief"),
    ],
)
def test_handle_prefix(name: str, slug: str) -> None:
    assert handle_prefix(name) == slug
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", handle_prefix(name))


def test_scaled_is_proportional_with_exact_total() -> None:
    s = load_scenario(builtin_scenario())
    assert s.scaled(1000) == s
    ten = s.scaled(10_000)
    assert ten.agents == 10_000
    assert ten.role("Assembly Technician").count == 3000 and ten.role("VP Sales").count == 20
    small = s.scaled(100)
    assert small.agents == 100
    # the three smallest roles (quotas 0.6, 0.2, 0.2) are lifted to one each; 97 are shared among the rest
    assert [small.role(n).count for n in ("Plant Manager", "VP Sales", "Chief Executive Officer")] == [1, 1, 1]
    assert small.role("Assembly Technician").count == 29  # 97 * 300 / 992 = 29.3
    assert s.scaled(3).agents == len(s.roles)  # never fewer than one per role
    assert s.agents == 1000  # the original is untouched


def test_scale_counts_lifts_small_roles_before_sharing_the_rest() -> None:
    assert scale_counts([1000, 1, 1], 10) == [8, 1, 1]
    assert scale_counts([1, 1, 1], 4) == [2, 1, 1]  # ties go to the earlier role
    assert scale_counts([], 5) == []
    with pytest.raises(ValueError, match="at least 1"):
        scale_counts([3, 0], 5)


@given(
    st.lists(st.integers(min_value=1, max_value=100_000), min_size=1, max_size=30),
    st.integers(min_value=0, max_value=200_000),
)
def test_scale_counts_properties(weights: list[int], total: int) -> None:
    counts = scale_counts(weights, total)
    target = max(total, len(weights))
    assert sum(counts) == target
    assert all(c >= 1 for c in counts)
    for i, wi in enumerate(weights):
        for j, wj in enumerate(weights):
            if wi > wj:
                assert counts[i] >= counts[j]
    if all(target * w >= sum(weights) for w in weights):  # nobody needed lifting: plain largest remainder
        for w, c in zip(weights, counts, strict=True):
            assert abs(c - target * w / sum(weights)) < 1


# -- the planted truths can be mined -----------------------------------------------------------------------------

# truth id -> the document that states it, the roles whose goals/concerns carry it, the channel where both meet
PLANTED = {
    "meridian": {
        "R1": ("Incoming inspection log, Q3", {"Quality Inspector", "Assembly Technician"}, "plant-floor"),
        "R2": ("Field service notes, October", {"Field Service Engineer", "Customer Support Agent"}, "field-service"),
        "O3": ("Customer feedback, Q3", {"Sales Representative"}, "sales-pipeline"),
        "O4": ("Returned unit inventory", {"Supply Chain Planner"}, "supply-planning"),
        "O5": ("Hospital IT requests", {"Firmware Engineer"}, "firmware-dev"),
        "R6": ("Q3 board pack", {"VP Sales", "Chief Executive Officer"}, "exec-staff"),
    },
    "harbor": {
        "HR1": ("Platform runbook notes", {"Site Reliability Engineer"}, "eng"),
        "HR2": ("Support ticket digest, January", {"Support Specialist"}, "customers"),
        "HO1": ("Sales notes, Q4", {"Account Executive"}, "customers"),
        "HO2": ("Cloud cost review", {"Site Reliability Engineer"}, "eng"),
        "HR3": ("Board memo, January", {"Chief Technology Officer", "Chief Executive Officer"}, "leadership"),
    },
}


def _hits(text: str, terms: tuple[str, ...]) -> int:
    low = text.lower()
    return sum(term.lower() in low for term in terms)


def _sentences(body: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+|\n+", body) if s.strip() and not s.startswith("#")]


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_truths_are_stated_once_and_reachable(name: str) -> None:
    s = load_scenario(builtin_scenario(name))
    assert {t.id for t in s.truths} == set(PLANTED[name])
    for truth in s.truths:
        doc_title, roles, channel = PLANTED[name][truth.id]
        # only the planted document has a sentence that alone finds the truth; distractors share at most one term
        stating = {d.title for d in s.documents for line in _sentences(d.body) if _hits(line, truth.match) >= 2}
        assert stating == {doc_title}, truth.id
        spec = s.channel(channel)
        assert doc_title in {d.title for d in s.readable_documents(spec.label)}, truth.id
        members = {r.role for r in s.role_members(spec)}
        for role in roles:
            r = s.role(role)
            assert any(_hits(line, truth.match) >= truth.min_match for line in r.goals + r.concerns), (truth.id, role)
        assert roles & members, truth.id


def test_lower_tier_truths_are_unacknowledged_above() -> None:
    s = load_scenario(builtin_scenario())
    restricted = [r for r in s.roles if r.label.tier == "restricted"]
    for tid in ("R1", "R2", "O3"):
        truth = next(t for t in s.truths if t.id == tid)
        doc = next(d for d in s.documents if d.title == PLANTED["meridian"][tid][0])
        assert doc.label.tier == "internal"
        for r in restricted:
            assert all(_hits(line, truth.match) == 0 for line in r.goals + r.concerns), (tid, r.role)


def test_every_meridian_sentence_stands_alone() -> None:
    s = load_scenario(builtin_scenario())
    for d in s.documents:
        for line in _sentences(d.body):
            assert line.rstrip().endswith("."), (d.title, line)
            assert len(line.split()) >= 5, (d.title, line)


# -- bad input: one case per kind of error --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(BASE + "colour: blue\n", "t.yaml:32: colour: unknown key 'colour'", id="unknown-top-key"),
        pytest.param(
            edit("    count: 10\n", "    count: 10\n    colour: red\n"),
            "t.yaml:9: org[0].colour: unknown key 'colour'; the keys here are role, department",
            id="nested",
        ),
        pytest.param(
            edit("    count: 10\n", "    cuont: 10\n"),
            "t.yaml:8: org[0].cuont: unknown key 'cuont' (did you mean 'count'?)",
            id="typo-key",
        ),
        pytest.param(
            edit("{tier: internal}", "{tier: internal, colour: red}"),
            "t.yaml:25: documents[0].label.colour: unknown key 'colour'",
            id="unknown-label-key",
        ),
        pytest.param(edit("name: Test Co\n", ""), "t.yaml:1: name: missing required key 'name'", id="missing-top"),
        pytest.param(
            edit("    count: 10\n", ""), "t.yaml:6: org[0].count: missing required key 'count'", id="missing-nested"
        ),
        pytest.param(
            edit("tier: internal, compartments: [ops]", "tier: secret, compartments: [ops]"),
            "t.yaml:9: org[0].label.tier: unknown tier 'secret'; the tiers are public, internal, "
            "confidential, restricted",
            id="unknown-tier",
        ),
        pytest.param(
            edit("compartments: [finance]}", "compartments: [fiance]}"),
            "t.yaml:13: org[1].label.compartments[0]: unknown compartment 'fiance' (did you mean 'finance'?)"
            "; the compartments are ops, finance",
            id="unknown-compartment",
        ),
        pytest.param(
            edit("{departments: [ops]}", "{departments: [opz]}"),
            "t.yaml:18: channels[0].members.departments[0]: unknown department 'opz' (did you mean 'ops'?)",
            id="unknown-department",
        ),
        pytest.param(
            edit("{roles: [Controller]}", "{roles: [Controler]}"),
            "t.yaml:22: channels[1].members.roles[0]: unknown role 'Controler' (did you mean 'Controller'?)",
            id="unknown-role",
        ),
        pytest.param(
            edit("{roles: [Controller]}", "{roles: [Controller, Picker]}"),
            "t.yaml:22: channels[1].members: channel 'money' is labelled confidential/finance, which these "
            "members' labels do not dominate: 'Picker' (internal/ops)",
            id="member-below-label",
        ),
        pytest.param(
            edit("    members: {departments: [ops]}", "    members: {all: true}"),
            "channel 'floor' is labelled internal/ops, which these members' labels do not dominate: "
            "'Controller' (confidential/finance)",
            id="all-below-label",
        ),
        pytest.param(
            edit("    members: {departments: [ops]}", "    members: {}"),
            "t.yaml:18: channels[0].members: members name nobody",
            id="members-empty",
        ),
        pytest.param(
            edit("  - role: Controller", "  - role: Picker"),
            "t.yaml:10: org[1].role: role 'Picker' is already defined at org[0]",
            id="duplicate-role",
        ),
        pytest.param(
            edit("  - role: Controller", "  - role: picker"),
            "t.yaml:10: org[1].role: role 'picker' gives the same agent handles (picker-0001, ...) as role 'Picker'",
            id="duplicate-handle",
        ),
        pytest.param(
            edit("  - name: money", "  - name: floor"),
            "t.yaml:19: channels[1].name: channel 'floor' is already defined at channels[0]",
            id="duplicate-channel",
        ),
        pytest.param(
            BASE + "  - id: T1\n    kind: opportunity\n    match: [gamma, delta]\n",
            "t.yaml:32: truths[1].id: truth id 'T1' is already used at truths[0]",
            id="duplicate-truth",
        ),
        pytest.param(
            edit("  - name: floor", "  - name: Floor_1"),
            "t.yaml:15: channels[0].name: channel name 'Floor_1' must be 1-80 characters of a-z, 0-9 and '-'",
            id="bad-channel-name",
        ),
        pytest.param(edit("  - name: floor", "  - name: " + "a" * 81), "must be 1-80 characters", id="long-name"),
        pytest.param(
            edit("    count: 10", "    count: 0"),
            "t.yaml:8: org[0].count: count must be at least 1, got 0",
            id="count-0",
        ),
        pytest.param(
            edit("    count: 10", "    count: ten"),
            "t.yaml:8: org[0].count: expected an integer, got a string ('ten')",
            id="count-type",
        ),
        pytest.param(
            edit("    count: 10", "    count: 2.5"),
            "t.yaml:8: org[0].count: expected an integer, got a number (2.5)",
            id="count-float",
        ),
        pytest.param(
            edit("    count: 10\n", "    count: 10\n    activity: 2\n"),
            "t.yaml:9: org[0].activity: activity is a chance per round, between 0 and 1; got 2",
            id="activity-2",
        ),
        pytest.param(
            edit("    count: 10\n", "    count: 10\n    activity: often\n"),
            "t.yaml:9: org[0].activity: expected a number, got a string ('often')",
            id="activity-type",
        ),
        pytest.param(
            edit("    count: 10\n", "    count: 10\n    language: english_uk\n"),
            "t.yaml:9: org[0].language: language 'english_uk' is not a BCP 47 tag",
            id="language",
        ),
        pytest.param(
            edit("    count: 10\n", "    count: 10\n    traits: [calm, 3]\n"),
            "t.yaml:9: org[0].traits[1]: expected a string, got a number (3)",
            id="traits-item",
        ),
        pytest.param(
            edit("    count: 10\n", "    count: 10\n    goals: ship it\n"),
            "t.yaml:9: org[0].goals: expected a list, got a string ('ship it')",
            id="goals-type",
        ),
        pytest.param(
            edit("    body: Picker counts rose 4% in May.\n", ""),
            "t.yaml:24: documents[0]: a document needs 'body' (inline text) or 'path'",
            id="doc-neither",
        ),
        pytest.param(
            edit(
                "    body: Picker counts rose 4% in May.\n",
                "    body: Picker counts rose 4% in May.\n    path: docs/ops/*.md\n",
            ),
            "t.yaml:24: documents[0]: a document has either 'body' (inline text) or 'path' (files), not both",
            id="doc-both",
        ),
        pytest.param(
            edit("    label: {tier: internal}\n", ""),
            "t.yaml:24: documents[0].label: missing required key 'label'",
            id="doc-label",
        ),
        pytest.param(
            edit("  - title: Note\n    label: {tier: internal}\n", "  - label: {tier: internal}\n"),
            "t.yaml:24: documents[0].title: an inline document needs a 'title'",
            id="doc-title",
        ),
        pytest.param(
            edit("    body: Picker counts rose 4% in May.", "    path: nowhere/*.md"),
            "t.yaml:26: documents[0].path: path 'nowhere/*.md' matches no file under",
            id="glob-nothing",
        ),
        pytest.param(
            edit("    body: Picker counts rose 4% in May.", "    path: ../*.py"),
            "t.yaml:26: documents[0].path: path '../*.py' must be relative to the scenario file and stay in its folder",
            id="glob-escape",
        ),
        pytest.param(
            edit("    body: Picker counts rose 4% in May.", "    path: /etc/*"),
            "t.yaml:26: documents[0].path: path '/etc/*' must be relative",
            id="glob-absolute",
        ),
        pytest.param(
            edit("    body: Picker counts rose 4% in May.", "    path: titles/*.md"),
            "t.yaml:24: documents[0].title: 'title' names a single document but path 'titles/*.md' matches 2",
            id="title-for-many",
        ),
        pytest.param(
            edit("    kind: risk", "    kind: threat"),
            "t.yaml:29: truths[0].kind: unknown kind 'threat'; a truth is a risk or an opportunity",
            id="truth-kind",
        ),
        pytest.param(
            BASE + "    min_match: 3\n",
            "t.yaml:32: truths[0].min_match: min_match is 3 but match has 2 terms; set min_match to between 1 and 2",
            id="min-match-high",
        ),
        pytest.param(BASE + "    min_match: 0\n", "t.yaml:32: truths[0].min_match: min_match is 0", id="min-match-0"),
        pytest.param(
            edit("    match: [alpha, beta]", "    match: [alpha]"),
            "t.yaml:31: truths[0].match: min_match is 2 (the default) but match has 1 term; set min_match to 1",
            id="min-match-default",
        ),
        pytest.param(
            edit("    match: [alpha, beta]", "    match: []"),
            "t.yaml:31: truths[0].match: match needs at least one term",
            id="match-empty",
        ),
        pytest.param(
            edit("version: 1", "version: 2"),
            "t.yaml:1: version: unsupported version 2; this Chorus reads version 1",
            id="version",
        ),
        pytest.param(edit("version: 1", "version: '1'"), "t.yaml:1: version: expected an integer", id="version-str"),
        pytest.param(
            edit("name: Test Co\n", "name: Test Co\nseed: lucky\n"),
            "t.yaml:3: seed: expected an integer, got a string ('lucky')",
            id="seed",
        ),
        pytest.param(
            edit("  compartments: [ops, finance]", "  compartments: [ops, ops]"),
            "t.yaml:4: labels.compartments: compartment 'ops' is listed twice",
            id="scheme",
        ),
        pytest.param(
            edit("    count: 10\n", "    count: 10\n    count: 11\n"),
            "t.yaml:9: org[0].count: this key is written twice",
            id="duplicate-key",
        ),
        pytest.param(edit("org:\n", "org: 5\nx:\n"), "t.yaml:5: org: expected a list, got a number (5)", id="org-type"),
        pytest.param(
            edit("channels:\n", "channels:\n  - just a name\n"),
            "t.yaml:15: channels[0]: expected a mapping (key: value lines), got a string",
            id="item-type",
        ),
        pytest.param(
            edit("    topic: Warehouse floor", "    topic: Warehouse: floor"),
            "t.yaml:16: invalid YAML: mapping values are not allowed here",
            id="yaml-syntax",
        ),
        pytest.param(
            edit(
                "    label: {tier: internal, compartments: [ops]}\n    members",
                "    label: {tier: internal, compartments: [ops]\n    members",
            ),
            "t.yaml:18: invalid YAML: expected ',' or '}'",
            id="yaml-flow",
        ),
        pytest.param(
            "- version: 1\n- name: x\n",
            "t.yaml:1: the scenario must be a mapping of keys at the top; got a list",
            id="top-list",
        ),
        pytest.param(
            "just words\n", "t.yaml:1: the scenario must be a mapping of keys at the top; got a string", id="top-scalar"
        ),
        pytest.param("", "t.yaml:1: the scenario must be a mapping of keys at the top; got nothing", id="empty"),
    ],
)
def test_bad_input(text: str, expected: str) -> None:
    found = problems(text)
    assert any(expected in p for p in found), found


def test_collects_every_problem_in_file_order() -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(FIXTURES / "many_problems.yaml")
    err = caught.value
    where = [(p.line, p.path) for p in err.problems]
    assert where == [
        (1, "version"),
        (6, "org[0].count"),
        (7, "org[0].label.tier"),
        (8, "org[0].activity"),
        (9, "org[1].role"),
        (12, "org[1].label.compartments[0]"),
        (14, "channels[0].name"),
        (17, "channels[0].members.departments[0]"),
        (20, "truths[0].kind"),
        (21, "truths[0].match"),
    ]
    assert isinstance(err, ValidationFailed) and err.status == 400
    assert err.message.startswith(f"10 problems in scenario {FIXTURES / 'many_problems.yaml'}:\n")
    assert err.errors[0] == {
        "field": "version",
        "message": "unsupported version 2; this Chorus reads version 1",
        "location": f"{FIXTURES / 'many_problems.yaml'}:1",
    }


def test_missing_file_is_a_scenario_error() -> None:
    with pytest.raises(ScenarioError, match="cannot read the scenario file"):
        load_scenario(FIXTURES / "does-not-exist.yaml")


def test_shipped_files_are_only_the_two_scenarios() -> None:
    assert sorted(p.name for p in BUILTIN_DIR.glob("*.yaml")) == ["harbor.yaml", "meridian.yaml"]


def test_a_non_printable_character_is_a_located_scenario_error() -> None:
    from personas.scenario import ScenarioError, parse_scenario

    with pytest.raises(ScenarioError) as err:
        parse_scenario("version: 1\nname: \x07bell\n", "bad.yaml", Path("."))
    assert "bad.yaml:1: " in err.value.message
    assert "invalid YAML" in err.value.message
