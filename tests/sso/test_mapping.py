"""Group -> role/clearance mapping: parsing the two env maps and mapping a user's groups (tabular)."""

from __future__ import annotations

import pytest

from sso.mapping import GroupMaps, NoMappedGroup, map_identity, parse_clearance_map, parse_role_map
from workspace.errors import ConfigError, Forbidden
from workspace.labels import LabelScheme

SCHEME = LabelScheme(compartments=("finance", "legal", "hr"))
ROLE_MAP = "chorus-admins=admin, chorus-security=security,staff=employee,chorus-admins=employee"
CLEARANCE_MAP = "finance=confidential/finance,staff=internal,legal=confidential/legal,board=restricted"


@pytest.mark.parametrize(
    ("groups", "roles", "clearance", "matched"),
    [
        (["staff"], {"employee"}, "internal", ("staff",)),
        (["staff", "finance"], {"employee"}, "confidential/finance", ("staff", "finance")),
        (["staff", "finance", "legal"], {"employee"}, "confidential/finance+legal", ("staff", "finance", "legal")),
        (["chorus-admins", "chorus-security"], {"admin", "security", "employee"}, "public", None),
        (["chorus-security", "board", "finance"], {"security"}, "restricted/finance", None),
        (["staff", "unrelated", "staff"], {"employee"}, "internal", ("staff",)),
    ],
)
def test_map_identity(groups: list[str], roles: set[str], clearance: str, matched: tuple[str, ...] | None) -> None:
    maps = GroupMaps.parse(ROLE_MAP, CLEARANCE_MAP, SCHEME)
    got = maps.map(groups, SCHEME)
    assert got.roles == frozenset(roles)
    assert got.clearance == SCHEME.parse(clearance)
    if matched is not None:
        assert got.groups == matched


@pytest.mark.parametrize(
    ("groups", "says"),
    [
        ([], "no groups"),
        (["Staff", "contractors"], "'Staff', 'contractors'"),
        (["finance"], "grant a clearance but no role"),
    ],
)
def test_no_mapped_group_says_what_the_user_has_and_what_is_configured(groups: list[str], says: str) -> None:
    maps = GroupMaps.parse(ROLE_MAP, CLEARANCE_MAP, SCHEME)
    with pytest.raises(NoMappedGroup) as err:
        maps.map(groups, SCHEME)
    assert isinstance(err.value, Forbidden) and err.value.status == 403
    assert says in err.value.message
    assert "'chorus-admins', 'chorus-security', 'staff'" in err.value.message


def test_empty_role_map_points_at_the_variable() -> None:
    with pytest.raises(NoMappedGroup, match="CHORUS_OIDC_ROLE_MAP"):
        map_identity(["staff"], {}, {}, SCHEME)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("a=admin", {"a": {"admin"}}),
        (" a = admin , ,b=security,", {"a": {"admin"}, "b": {"security"}}),
        ("a=admin,a=security", {"a": {"admin", "security"}}),
        ("cn=ops=employee", {"cn=ops": {"employee"}}),
    ],
)
def test_parse_role_map(text: str, expected: dict[str, set[str]]) -> None:
    assert parse_role_map(text) == {k: frozenset(v) for k, v in expected.items()}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a=boss", "unknown role 'boss'; roles are admin, security, employee"),
        ("a", "entry 'a' is not 'group=value'"),
        ("=admin", "entry '=admin' is not 'group=value'"),
        ("a=", "entry 'a=' is not 'group=value'"),
    ],
)
def test_parse_role_map_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_role_map(text)
    assert message in err.value.message and "CHORUS_OIDC_ROLE_MAP" in err.value.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("finance=secret", "unknown tier 'secret'"),
        ("finance=confidential/payroll", "unknown compartment 'payroll'"),
        ("finance=internal,finance=confidential", "lists group 'finance' twice"),
        ("finance", "is not 'group=value'"),
    ],
)
def test_parse_clearance_map_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_clearance_map(text, SCHEME)
    assert message in err.value.message and "CHORUS_OIDC_CLEARANCE_MAP" in err.value.message


def test_parse_clearance_map() -> None:
    got = parse_clearance_map("finance=Confidential/finance+legal, staff=internal", SCHEME)
    assert got == {"finance": SCHEME.parse("confidential/finance+legal"), "staff": SCHEME.parse("internal")}
