"""Labels: dominance, least upper bound and parsing, checked exhaustively over a small scheme."""

from __future__ import annotations

import itertools

import pytest

from workspace.errors import ValidationFailed
from workspace.labels import Label, LabelScheme

SCHEME = LabelScheme(("public", "internal", "confidential", "restricted"), ("finance", "legal", "ops"))
TIER_RANK = {"public": 0, "internal": 1, "confidential": 2, "restricted": 3}


def every_label() -> list[Label]:
    comps = SCHEME.compartments
    subsets = [c for n in range(len(comps) + 1) for c in itertools.combinations(comps, n)]
    return [SCHEME.label(t, s) for t in SCHEME.tiers for s in subsets]


LABELS = every_label()


def test_the_table_covers_every_label() -> None:
    assert len(LABELS) == 4 * 8
    assert len({str(x) for x in LABELS}) == 32


@pytest.mark.parametrize("a", LABELS, ids=str)
def test_dominance_matches_the_definition_for_every_pair(a: Label) -> None:
    for b in LABELS:
        expected = TIER_RANK[a.tier] >= TIER_RANK[b.tier] and set(a.compartments) >= set(b.compartments)
        assert a.dominates(b) is expected, f"{a} dominates {b} should be {expected}"


@pytest.mark.parametrize("a", LABELS, ids=str)
def test_lub_is_the_least_upper_bound(a: Label) -> None:
    for b in LABELS:
        j = SCHEME.lub([a, b])
        assert j.dominates(a) and j.dominates(b)
        uppers = [c for c in LABELS if c.dominates(a) and c.dominates(b)]
        assert all(c.dominates(j) for c in uppers), f"lub({a}, {b}) = {j} is not least"
        g = SCHEME.glb(a, b)
        assert a.dominates(g) and b.dominates(g)


def test_lub_of_nothing_is_the_bottom() -> None:
    assert SCHEME.lub([]) == SCHEME.label("public")


@pytest.mark.parametrize("label", LABELS, ids=str)
def test_parse_round_trips(label: Label) -> None:
    assert SCHEME.parse(str(label)) == label
    assert SCHEME.from_ints(label.level, label.mask) == label
    assert SCHEME.from_dict(label.as_dict()) == label


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("internal/ops+finance", ("internal", {"ops", "finance"})),
        ("  Confidential/Legal ", ("confidential", {"legal"})),
        ("restricted", ("restricted", set())),
    ],
)
def test_parse_accepts_the_documented_forms(text: str, expected: tuple[str, set[str]]) -> None:
    label = SCHEME.parse(text)
    assert (label.tier, set(label.compartments)) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("secret", "unknown tier 'secret'; this workspace's tiers are public, internal, confidential, restricted"),
        ("internal/hr", "unknown compartment 'hr'; this workspace's compartments are finance, legal, ops"),
        ("internal/ops+", "has an empty compartment"),
        ("", "a label is required"),
    ],
)
def test_parse_errors_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        SCHEME.parse(text)
    assert message in err.value.message


def test_str_is_canonical() -> None:
    assert str(SCHEME.parse("internal/ops+finance")) == "internal/finance+ops"


def test_extending_a_scheme_keeps_existing_bits() -> None:
    bigger = SCHEME.extended(["hr", "finance"])
    assert bigger.compartments == ("finance", "legal", "ops", "hr")
    old = SCHEME.parse("internal/ops+legal")
    assert bigger.from_ints(old.level, old.mask) == bigger.parse("internal/ops+legal")


@pytest.mark.parametrize(
    ("tiers", "comps", "message"),
    [((), (), "at least one tier"), (("a", "a"), (), "listed twice"), (("low",), ("Bad Name",), "not valid")],
)
def test_bad_schemes_are_refused(tiers: tuple[str, ...], comps: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        LabelScheme(tiers, comps)
