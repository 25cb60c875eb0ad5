"""Security labels: a tier plus a set of compartments, dominance and least upper bound.

Every rule about who may see what reduces to :meth:`Label.dominates`. A :class:`LabelScheme` (per workspace)
names the tiers, lowest first, and the compartments; a label also has an integer form (``level``, ``mask``) so
that SQL can test dominance with ``level <= :L AND (mask & :not_M) = 0`` on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from workspace.errors import ValidationFailed

DEFAULT_TIERS: tuple[str, ...] = ("public", "internal", "confidential", "restricted")
MAX_COMPARTMENTS = 62  # bits of a signed 64-bit integer, leaving the sign bit alone
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


@dataclass(frozen=True, slots=True, order=False)
class Label:
    """A tier and compartments. Compare with :meth:`dominates`; never with ``<``."""

    tier: str
    compartments: frozenset[str] = field(default_factory=frozenset)
    level: int = 0
    mask: int = 0

    def dominates(self, other: Label) -> bool:
        """True when this label may read ``other``: tier at least as high and every compartment included."""
        return self.level >= other.level and (other.mask & ~self.mask) == 0

    def __str__(self) -> str:
        if not self.compartments:
            return self.tier
        return f"{self.tier}/{'+'.join(sorted(self.compartments))}"

    def as_dict(self) -> dict[str, Any]:
        return {"tier": self.tier, "compartments": sorted(self.compartments)}


@dataclass(frozen=True, slots=True)
class LabelScheme:
    """The tiers (lowest first) and compartments of one workspace."""

    tiers: tuple[str, ...] = DEFAULT_TIERS
    compartments: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.tiers:
            raise ValidationFailed("a label scheme needs at least one tier", field="labels.tiers")
        for kind, names in (("tier", self.tiers), ("compartment", self.compartments)):
            seen: set[str] = set()
            for name in names:
                if not _NAME.match(name):
                    raise ValidationFailed(
                        f"{kind} name {name!r} is not valid: use lowercase letters, digits, '-' or '_' "
                        "(starting with a letter, at most 40 characters)",
                        field=f"labels.{kind}s",
                    )
                if name in seen:
                    raise ValidationFailed(f"{kind} {name!r} is listed twice", field=f"labels.{kind}s")
                seen.add(name)
        if len(self.compartments) > MAX_COMPARTMENTS:
            raise ValidationFailed(
                f"at most {MAX_COMPARTMENTS} compartments are supported; got {len(self.compartments)}",
                field="labels.compartments",
            )

    def label(self, tier: str, compartments: Iterable[str] = ()) -> Label:
        """Build a label, checking that the tier and every compartment exist in this scheme."""
        if tier not in self.tiers:
            raise ValidationFailed(
                f"unknown tier {tier!r}; this workspace's tiers are {', '.join(self.tiers)}", field="tier"
            )
        comps = frozenset(compartments)
        mask = 0
        for comp in comps:
            try:
                mask |= 1 << self.compartments.index(comp)
            except ValueError:
                known = ", ".join(self.compartments) or "(none defined)"
                raise ValidationFailed(
                    f"unknown compartment {comp!r}; this workspace's compartments are {known}", field="compartments"
                ) from None
        return Label(tier=tier, compartments=comps, level=self.tiers.index(tier), mask=mask)

    def parse(self, text: str) -> Label:
        """Parse ``tier`` or ``tier/comp+comp`` (e.g. ``internal/ops+finance``)."""
        raw = text.strip().lower()
        if not raw:
            raise ValidationFailed(
                "a label is required, e.g. 'internal' or 'confidential/finance+legal'", field="label")
        tier, _, rest = raw.partition("/")
        comps = [c.strip() for c in rest.split("+")] if rest else []
        if any(not c for c in comps):
            raise ValidationFailed(
                f"label {text!r} has an empty compartment; write e.g. 'confidential/finance+legal'", field="label"
            )
        return self.label(tier.strip(), comps)

    def from_dict(self, data: Mapping[str, Any]) -> Label:
        """Build a label from ``{tier: ..., compartments: [...]}`` (the scenario form)."""
        comps = data.get("compartments") or []
        if not isinstance(comps, Sequence) or isinstance(comps, str):
            raise ValidationFailed("compartments must be a list of names", field="compartments")
        return self.label(str(data.get("tier", "")), [str(c) for c in comps])

    def from_ints(self, level: int, mask: int) -> Label:
        """Rebuild a label from its stored integer form."""
        comps = [name for i, name in enumerate(self.compartments) if mask >> i & 1]
        return self.label(self.tiers[level], comps)

    def bottom(self) -> Label:
        return self.label(self.tiers[0])

    def top(self) -> Label:
        return self.label(self.tiers[-1], self.compartments)

    def lub(self, labels: Iterable[Label]) -> Label:
        """Least upper bound: the highest tier and the union of compartments (the bottom label for none)."""
        level, mask = 0, 0
        for lab in labels:
            level = max(level, lab.level)
            mask |= lab.mask
        return self.from_ints(level, mask)

    def glb(self, a: Label, b: Label) -> Label:
        """Greatest lower bound: the lower tier and the shared compartments."""
        return self.from_ints(min(a.level, b.level), a.mask & b.mask)

    def extended(self, compartments: Iterable[str]) -> LabelScheme:
        """This scheme with extra compartments appended (existing bit positions never move)."""
        extra = [c for c in compartments if c not in self.compartments]
        return LabelScheme(self.tiers, self.compartments + tuple(dict.fromkeys(extra)))

    def as_dict(self) -> dict[str, list[str]]:
        return {"tiers": list(self.tiers), "compartments": list(self.compartments)}


def not_mask(label: Label) -> int:
    """The bitwise complement of a label's mask within 62 bits, for ``(mask & not_mask) = 0`` queries."""
    return ~label.mask & ((1 << MAX_COMPARTMENTS) - 1)
