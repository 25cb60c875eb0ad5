"""Security labels: a tier plus a set of compartments; dominance, least upper bound and an agent's scope.

Every rule about who may see what reduces to one test, "A dominates B": in Python :func:`dominates_ints` (and
:meth:`Label.dominates`), in SQL the condition :func:`dominates_sql` builds. A :class:`LabelScheme` (per workspace)
names the tiers, lowest first, and the compartments; a label also has an integer form (``level``, ``mask``: bit i
is compartment i) that the database stores. Decoding that form with a scheme that lacks one of its bits is an
error (:class:`LabelOutsideScheme`), never a label with the bit dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from workspace.errors import ChorusError, ValidationFailed

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
        return dominates_ints(self.level, self.mask, other.level, other.mask)

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
        """Rebuild a label from its stored integer form; :class:`LabelOutsideScheme` when this scheme lacks its
        tier or one of its compartment bits (never a label with the bit dropped: that one would be lower)."""
        if not 0 <= level < len(self.tiers) or mask < 0 or mask >> len(self.compartments):
            raise LabelOutsideScheme(self, level, mask)
        comps = frozenset(name for i, name in enumerate(self.compartments) if mask >> i & 1)
        return Label(tier=self.tiers[level], compartments=comps, level=level, mask=mask)

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

    def extended(self, compartments: Iterable[str]) -> LabelScheme:
        """This scheme with extra compartments appended (existing bit positions never move)."""
        extra = [c for c in compartments if c not in self.compartments]
        return LabelScheme(self.tiers, self.compartments + tuple(dict.fromkeys(extra)))

    def as_dict(self) -> dict[str, list[str]]:
        return {"tiers": list(self.tiers), "compartments": list(self.compartments)}


class LabelOutsideScheme(ChorusError):
    """A stored label has a tier or compartment bit that the label scheme decoding it does not define."""

    code = "label_outside_scheme"
    status = 409
    title = "Label outside the workspace's label scheme"
    retryable = True

    def __init__(self, scheme: LabelScheme, level: int, mask: int) -> None:
        unknown = [i for i in range(max(mask, 0).bit_length()) if mask >> i & 1 and i >= len(scheme.compartments)]
        what = [f"tier {level}"] if not 0 <= level < len(scheme.tiers) else []
        what += [f"compartment bit {', '.join(map(str, unknown))}"] if unknown else []
        what += ["a negative mask"] if mask < 0 else []
        super().__init__(
            f"a stored label (level {level}, mask {mask}) has {' and '.join(what)}, which the label scheme this "
            f"process holds does not define (tiers {', '.join(scheme.tiers)}; compartments "
            f"{', '.join(scheme.compartments) or 'none'}): the workspace's labels changed after it was loaded. "
            "Retry (the next request loads them); if it persists, that row was written under another scheme and "
            "must be relabelled", level=level, mask=mask)


class LabelInts(Protocol):
    """Anything with a label's integer form: a :class:`Label`, or :class:`Stored` read from a row."""

    @property
    def level(self) -> int: ...

    @property
    def mask(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Stored:
    """A label's integer form as a row stores it (``label_level``, ``label_mask``), where no names are needed."""

    level: int
    mask: int

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Stored:
        return cls(int(row["label_level"]), int(row["label_mask"]))

    @classmethod
    def lub(cls, labels: Iterable[LabelInts]) -> Stored:
        """The least upper bound on the integer form, where no scheme is needed (or the one at hand may be older
        than the labels): the highest tier, the union of compartment bits; the bottom label for none."""
        level, mask = 0, 0
        for lab in labels:
            level, mask = max(level, lab.level), mask | lab.mask
        return cls(level, mask)


def dominates_ints(level: int, mask: int, other_level: int, other_mask: int) -> bool:
    """The dominance rule on the integer form: ``(level, mask)`` may read ``(other_level, other_mask)``."""
    return level >= other_level and (other_mask & ~mask) == 0


def _not_mask(label: LabelInts) -> int:
    """The bitwise complement of a label's mask within 62 bits, for ``(mask & not_mask) = 0`` queries."""
    return ~label.mask & ((1 << MAX_COMPARTMENTS) - 1)


def dominates_sql(reader: LabelInts | str, read: LabelInts | str) -> tuple[str, list[int]]:
    """The SQL condition "``reader`` dominates ``read``", with ``{}`` placeholders, and its arguments in order.

    Each side is either a label (given: its integers become arguments) or a string naming rows' label columns: a
    table alias (``"c"`` for ``c.label_level``/``c.label_mask``) or ``""`` for unqualified columns. So
    ``dominates_sql(actor.label, "")`` keeps the rows the actor may read (no read up), ``dominates_sql("m", label)``
    the members that may read ``label``, and ``dominates_sql("m", "c")`` pairs where member m may read channel c.
    The same text on SQLite and PostgreSQL (labels are two integers so that either engine can test this).
    """
    if isinstance(read, str) and not isinstance(reader, str):
        level, mask = _columns(read)
        return f"{level} <= {{}} AND ({mask} & {{}}) = 0", [reader.level, _not_mask(reader)]
    if isinstance(reader, str) and not isinstance(read, str):
        level, mask = _columns(reader)
        return f"{level} >= {{}} AND ({{}} & ~{mask}) = 0", [read.level, read.mask]
    if isinstance(reader, str) and isinstance(read, str):
        (r_level, r_mask), (level, mask) = _columns(reader), _columns(read)
        return f"{r_level} >= {level} AND ({mask} & ~{r_mask}) = 0", []
    raise TypeError("two given labels: compare them with Label.dominates, not in SQL")


def _columns(alias: str) -> tuple[str, str]:
    if alias and not alias.isidentifier():
        raise ValueError(f"{alias!r} is not a table alias")
    prefix = f"{alias}." if alias else ""
    return f"{prefix}label_level", f"{prefix}label_mask"


def agent_scope(agent: Label, channel: Label) -> Label:
    """What an agent may draw on when it speaks in a channel: the greatest lower bound of its label and the
    channel's (the lower tier, the shared compartments). A document is usable there exactly when this dominates
    it: the agent may read it (no read up) and the channel may carry it (no write down)."""
    low = agent if agent.level <= channel.level else channel
    return Label(tier=low.tier, compartments=agent.compartments & channel.compartments, level=low.level,
                 mask=agent.mask & channel.mask)
