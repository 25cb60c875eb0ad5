"""A small valid scenario (:data:`BASE`) that the scenario tests edit one line at a time, and helpers to parse it.
The bad-input cases name lines of BASE, so its line numbers matter."""

from __future__ import annotations

from pathlib import Path

import pytest

from personas.scenario import Scenario, ScenarioError, parse_scenario

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "scenarios"

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
