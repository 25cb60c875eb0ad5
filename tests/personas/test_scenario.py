"""Tests for the scenario loader: the shipped scenarios and the spec's example load, scaling, handle prefixes, and
that the planted truths are minable. Bad input: test_scenario_errors.py.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from personas.scenario import (
    BUILTIN_DIR,
    builtin_names,
    builtin_scenario,
    handle_prefix,
    load_scenario,
    scale_counts,
)
from tests.personas.scenario_base import BASE, FIXTURES, edit, parse
from workspace.errors import ValidationFailed

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


def test_meridian_is_the_demo_scenario() -> None:
    s = load_scenario(builtin_scenario())
    summary = s.summary()
    assert summary["name"] == "Meridian Medical Devices" and summary["agents"] == 1000
    tiers = {r.label.tier for r in s.roles}
    assert {"public", "internal", "confidential", "restricted"} <= tiers
    assert len({str(c.label) for c in s.channels}) >= 6
    # about 30 unprompted posts per round at the demo's 1,000 agents: lively, not a flood
    assert 10 <= sum(r.count * r.activity for r in s.roles) <= 60


def test_unknown_builtin_names_the_known_ones() -> None:
    with pytest.raises(ValidationFailed, match="fernbrook-grocers, harbor, ironbridge, lanternfish, meridian"):
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


def test_a_truth_names_its_documents_by_title() -> None:
    assert parse(BASE).truths[0].documents == ()
    text = edit("    match: [alpha, beta]\n", "    match: [alpha, beta]\n    documents: [Note]\n")
    assert parse(text).truths[0].documents == ("Note",)
    # file documents are named by their first '# ' heading, else by the file name
    text = edit("  - title: Note\n", "  - label: {tier: public}\n").replace("    label: {tier: internal}\n", "", 1)
    text = text.replace("    body: Picker counts rose 4% in May.", "    path: titles/*.md")
    text = text.replace("    match: [alpha, beta]\n", "    match: [alpha, beta]\n    documents: [b, Only heading]\n")
    assert parse(text).truths[0].documents == ("b", "Only heading")


def test_truth_terms_written_into_persona_text_or_a_topic_are_warnings() -> None:
    assert parse(BASE).warnings == ()
    persona = "    goals: [ship on time]\n    concerns: [Alpha shipments, the BETA line]\n"
    text = edit("    count: 10\n", "    count: 10\n" + persona)
    text = text.replace("    topic: Money talk", "    topic: Money and alphabet soup")
    s = parse(text)
    found = [(w.file, w.line, w.path) for w in s.warnings]
    assert found == [
        ("t.yaml", 10, "org[0].concerns[0]"),
        ("t.yaml", 10, "org[0].concerns[1]"),
        ("t.yaml", 22, "channels[1].topic"),
    ]
    first, second, topic = (w.message for w in s.warnings)
    assert "truth T1" in first and "'alpha'" in first and "role 'Picker'" in first and "Alpha shipments" in first
    assert "'beta'" in second and "the BETA line" in second
    assert "'alpha'" in topic and "channel 'money'" in topic  # a substring counts: 'alphabet'
    assert s.roles[0].concerns == ("Alpha shipments", "the BETA line")  # a warning, not an error


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
def _words(text: str) -> int:
    return len(re.findall(r"\w+", text))


@pytest.mark.parametrize("name", builtin_names())
def test_every_shipped_scenario_is_an_honest_evaluation(name: str) -> None:
    """spec/evaluation-scenarios.md: truths live only in documents, buried, with specific terms; cross-document
    truths split their terms between documents held at different labels; realistic size."""
    s = load_scenario(builtin_scenario(name))
    assert not s.warnings, s.warnings  # no match term in persona traits, goals, concerns or channel topics
    assert len(s.documents) >= 12 or name == "harbor"
    assert all(250 <= _words(d.body) <= 900 for d in s.documents), [(d.title, _words(d.body)) for d in s.documents]
    assert len(s.truths) >= 6 and {t.kind for t in s.truths} == {"risk", "opportunity"}
    cross = [t for t in s.truths if len(t.documents) > 1]
    assert 2 * len(cross) >= len(s.truths)
    by_title = {d.title: d for d in s.documents}
    for t in s.truths:
        assert len(t.match) == 4 and t.min_match == 3 and t.documents, t.id
        own = [by_title[title] for title in t.documents]
        for term in t.match:
            low = term.lower()
            assert all(low not in d.title.lower() for d in s.documents), (t.id, term)
            assert any(low in d.body.lower() for d in own), (t.id, term)
            assert not any(low in d.body.lower() for d in s.documents if d.title not in t.documents), (t.id, term)
        if len(own) > 1:
            a, b = own
            assert a.label != b.label, t.id
            only_a = [m for m in t.match if m.lower() in a.body.lower() and m.lower() not in b.body.lower()]
            only_b = [m for m in t.match if m.lower() in b.body.lower() and m.lower() not in a.body.lower()]
            assert len(only_a) >= 2 and len(only_b) >= 2, t.id  # one document alone can match 2 of 4, never 3


def test_shipped_scenarios() -> None:
    assert builtin_names() == ["fernbrook-grocers", "harbor", "ironbridge", "lanternfish", "meridian", "tidewater"]
    assert sorted(p.name for p in BUILTIN_DIR.glob("*.yaml")) == []  # each in its own folder with its documents
