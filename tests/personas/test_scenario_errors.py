"""Bad scenario files: one case per kind of error, each reported with file, line and key path; every problem of a
file collected at once, in file order.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from personas.scenario import ScenarioError, load_scenario, parse_scenario
from tests.personas.scenario_base import BASE, FIXTURES, edit, problems
from workspace.errors import ValidationFailed

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
            edit("    match: [alpha, beta]\n", "    match: [alpha, beta]\n    documents: [Note, Notes]\n"),
            "t.yaml:32: truths[0].documents[1]: unknown document 'Notes' (did you mean 'Note'?); the documents of "
            "this file are Note",
            id="truth-unknown-document",
        ),
        pytest.param(
            edit("    match: [alpha, beta]\n", "    match: [alpha, beta]\n    documents: Note\n"),
            "t.yaml:32: truths[0].documents: expected a list, got a string ('Note')",
            id="truth-documents-type",
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


def test_truth_documents_are_not_checked_against_a_broken_documents_section() -> None:
    text = edit("    body: Picker counts rose 4% in May.", "    path: nothing/*.md")
    text = text.replace("    match: [alpha, beta]\n", "    match: [alpha, beta]\n    documents: [Note]\n")
    assert problems(text) == ["t.yaml:26: documents[0].path: path 'nothing/*.md' matches no file under "
                              f"{FIXTURES}"]


def test_missing_file_is_a_scenario_error() -> None:
    with pytest.raises(ScenarioError, match="cannot read the scenario file"):
        load_scenario(FIXTURES / "does-not-exist.yaml")


def test_a_non_printable_character_is_a_located_scenario_error() -> None:
    with pytest.raises(ScenarioError) as err:
        parse_scenario("version: 1\nname: \x07bell\n", "bad.yaml", Path("."))
    assert "bad.yaml:1: " in err.value.message
    assert "invalid YAML" in err.value.message
