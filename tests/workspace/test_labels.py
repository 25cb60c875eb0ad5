"""Labels: dominance (in Python and in SQL on each engine), least upper bound, an agent's scope, parsing and
decoding, checked exhaustively over a small scheme."""

from __future__ import annotations

import itertools

import pytest

from workspace.db import Database
from workspace.errors import ValidationFailed
from workspace.labels import Label, LabelOutsideScheme, LabelScheme, Stored, agent_scope, dominates_sql

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


@pytest.mark.parametrize("agent", LABELS, ids=str)
def test_an_agents_scope_is_the_greatest_lower_bound(agent: Label) -> None:
    for channel in LABELS:
        g = agent_scope(agent, channel)
        assert agent.dominates(g) and channel.dominates(g)
        lowers = [c for c in LABELS if agent.dominates(c) and channel.dominates(c)]
        assert all(g.dominates(c) for c in lowers), f"scope({agent}, {channel}) = {g} is not greatest"
        assert g == SCHEME.from_ints(g.level, g.mask)  # the same label the scheme would build, names included


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


@pytest.mark.parametrize(("level", "mask", "named"), [
    (2, 1 << 3, "compartment bit 3"),  # a compartment added after this scheme was loaded
    (1, 0b1010_0001, "compartment bit 5, 7"),
    (4, 0, "tier 4"),
    (-1, 0, "tier -1"),
])
def test_decoding_a_label_outside_the_scheme_is_an_error_not_a_drop(level: int, mask: int, named: str) -> None:
    with pytest.raises(LabelOutsideScheme) as err:
        SCHEME.from_ints(level, mask)
    assert named in err.value.message and "Retry" in err.value.message
    assert err.value.retryable and err.value.code == "label_outside_scheme"
    bigger = SCHEME.extended(["hr"])  # the scheme as it is once the compartment exists
    assert str(bigger.from_ints(2, 1 << 3)) == "confidential/hr"


def test_a_lub_with_bits_outside_the_scheme_is_refused() -> None:
    newer = SCHEME.extended(["hr"]).parse("internal/hr")
    with pytest.raises(LabelOutsideScheme):
        SCHEME.lub([SCHEME.parse("internal"), newer])


def _table() -> str:
    rows = ", ".join(f"({i}, {x.level}, CAST({x.mask} AS BIGINT))" for i, x in enumerate(LABELS))  # as stored
    return f"WITH l(id, label_level, label_mask) AS (VALUES {rows}) "


def _expected() -> set[tuple[int, int]]:
    return {(i, j) for i, a in enumerate(LABELS) for j, b in enumerate(LABELS) if a.dominates(b)}


async def test_the_sql_predicate_keeps_exactly_what_a_label_may_read(db: Database) -> None:
    got = set()
    for i, reader in enumerate(LABELS):
        readable, args = dominates_sql(reader, "")
        got |= {(i, int(r["id"])) for r in await db.fetch(f"{_table()}SELECT id FROM l WHERE {readable}", *args)}
    assert got == _expected()


async def test_the_sql_predicate_keeps_exactly_who_may_read_a_label(db: Database) -> None:
    got = set()
    for j, read in enumerate(LABELS):
        may_read, args = dominates_sql("m", Stored(read.level, read.mask))
        got |= {(int(r["id"]), j) for r in await db.fetch(f"{_table()}SELECT m.id FROM l m WHERE {may_read}", *args)}
    assert got == _expected()


async def test_the_sql_predicate_compares_two_rows(db: Database) -> None:
    may_read, args = dominates_sql("m", "c")
    assert args == []
    rows = await db.fetch(f"{_table()}SELECT m.id AS m, c.id AS c FROM l m, l c WHERE {may_read}")
    assert {(int(r["m"]), int(r["c"])) for r in rows} == _expected()


def test_the_sql_predicate_refuses_what_it_cannot_mean() -> None:
    with pytest.raises(TypeError):
        dominates_sql(SCHEME.bottom(), SCHEME.top())
    with pytest.raises(ValueError, match="not a table alias"):
        dominates_sql("m; DROP TABLE x", SCHEME.top())


@pytest.mark.parametrize(
    ("tiers", "comps", "message"),
    [((), (), "at least one tier"), (("a", "a"), (), "listed twice"), (("low",), ("Bad Name",), "not valid")],
)
def test_bad_schemes_are_refused(tiers: tuple[str, ...], comps: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        LabelScheme(tiers, comps)
