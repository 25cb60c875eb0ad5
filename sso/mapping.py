"""Identity-provider groups -> Chorus roles and clearance label; re-applied at every sign-in.

Parses ``CHORUS_OIDC_ROLE_MAP`` / ``CHORUS_OIDC_CLEARANCE_MAP`` and maps one user's groups (pure functions, no I/O).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from workspace.errors import ConfigError, Forbidden, ValidationFailed
from workspace.labels import Label, LabelScheme

ROLES: tuple[str, ...] = ("admin", "security", "employee")
ROLE_MAP_ENV = "CHORUS_OIDC_ROLE_MAP"
CLEARANCE_MAP_ENV = "CHORUS_OIDC_CLEARANCE_MAP"


class NoMappedGroup(Forbidden):
    """The user signed in at the provider but none of their groups grants a Chorus role."""

    code = "no_mapped_group"


@dataclass(frozen=True, slots=True)
class Mapped:
    roles: frozenset[str]
    clearance: Label
    groups: tuple[str, ...]
    """The user's groups that matched either map (for the audit record)."""


@dataclass(frozen=True, slots=True)
class GroupMaps:
    """Both maps, parsed: group -> roles and group -> label."""

    roles: Mapping[str, frozenset[str]]
    clearance: Mapping[str, Label]

    @classmethod
    def parse(cls, role_map: str, clearance_map: str, scheme: LabelScheme) -> GroupMaps:
        return cls(parse_role_map(role_map), parse_clearance_map(clearance_map, scheme))

    def map(self, groups: Iterable[str], scheme: LabelScheme) -> Mapped:
        return map_identity(groups, self.roles, self.clearance, scheme)


def _pairs(text: str, env: str, example: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        group, sep, value = entry.rpartition("=")
        group, value = group.strip(), value.strip()
        if not sep or not group or not value:
            raise ConfigError(f"{env} entry {entry!r} is not 'group=value'; write e.g. {example!r}")
        out.append((group, value))
    return out


def parse_role_map(text: str) -> dict[str, frozenset[str]]:
    """Parse ``group=role,...``; a group may be listed once per role it grants."""
    out: dict[str, frozenset[str]] = {}
    for group, role in _pairs(text, ROLE_MAP_ENV, "chorus-admins=admin,staff=employee"):
        if role not in ROLES:
            raise ConfigError(
                f"{ROLE_MAP_ENV} maps group {group!r} to unknown role {role!r}; roles are {', '.join(ROLES)}"
            )
        out[group] = out.get(group, frozenset()) | {role}
    return out


def parse_clearance_map(text: str, scheme: LabelScheme) -> dict[str, Label]:
    """Parse ``group=label,...`` against the workspace's label scheme; a group may appear once."""
    out: dict[str, Label] = {}
    for group, label in _pairs(text, CLEARANCE_MAP_ENV, "finance=confidential/finance,staff=internal"):
        if group in out:
            raise ConfigError(f"{CLEARANCE_MAP_ENV} lists group {group!r} twice; give each group one label")
        try:
            out[group] = scheme.parse(label)
        except ValidationFailed as exc:
            raise ConfigError(f"{CLEARANCE_MAP_ENV} entry {group}={label}: {exc.message}") from None
    return out


def map_identity(
    groups: Iterable[str],
    role_map: Mapping[str, frozenset[str]],
    clearance_map: Mapping[str, Label],
    scheme: LabelScheme,
) -> Mapped:
    """Roles = union over the user's groups; clearance = least upper bound of their groups' labels (else bottom).

    Raises :class:`NoMappedGroup` when no group grants a role (a clearance-only match is not enough to get in).
    """
    mine = tuple(dict.fromkeys(groups))
    roles = frozenset(role for g in mine for role in role_map.get(g, ()))
    if not roles:
        has = ", ".join(repr(g) for g in mine) or "no groups"
        granting = ", ".join(repr(g) for g in sorted(role_map)) or "none (set CHORUS_OIDC_ROLE_MAP)"
        hint = " (their groups grant a clearance but no role)" if any(g in clearance_map for g in mine) else ""
        raise NoMappedGroup(
            f"none of this user's groups grants a Chorus role{hint}: the provider sent {has}; "
            f"groups that grant a role are {granting}. Ask an administrator to add the user to one of them."
        )
    clearance = scheme.lub(clearance_map[g] for g in mine if g in clearance_map)
    matched = tuple(g for g in mine if g in role_map or g in clearance_map)
    return Mapped(roles=roles, clearance=clearance, groups=matched)
