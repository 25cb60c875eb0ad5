"""The loaded form of a scenario: frozen dataclasses, member resolution, scaling to an agent total and handle
prefixes. Pure data; parsing and validation of the YAML live in :mod:`personas.scenario.parse`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from personas.scenario.reader import Problem
from workspace.labels import Label, LabelScheme

TruthKind = Literal["risk", "opportunity"]
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
HANDLE_PREFIX_MAX = 40


def handle_prefix(role_name: str) -> str:
    """A readable slug for agent handles: ``"Warehouse Technician"`` -> ``"warehouse-technician"``.

    Accents are folded to ASCII, anything else that is not a letter or digit becomes one '-', and the result is
    cut to 40 characters on a word boundary where possible. A name with no letters or digits gives ``"agent"``.
    """
    folded = unicodedata.normalize("NFKD", role_name).encode("ascii", "ignore").decode("ascii").lower()
    slug = _NOT_SLUG.sub("-", folded).strip("-")
    if len(slug) > HANDLE_PREFIX_MAX:
        cut = slug[:HANDLE_PREFIX_MAX]
        slug = (cut.rsplit("-", 1)[0] if "-" in cut else cut).strip("-")
    return slug or "agent"


@dataclass(frozen=True, slots=True)
class Role:
    """One line of the org chart; ``count`` agents are generated from it."""

    role: str
    department: str
    count: int
    label: Label
    traits: tuple[str, ...] = ()
    goals: tuple[str, ...] = ()
    concerns: tuple[str, ...] = ()
    activity: float = 0.05
    language: str = "en"

    @property
    def handle_prefix(self) -> str:
        return handle_prefix(self.role)


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """A channel to create. Its members are the union of ``departments``, ``roles`` and (if ``all``) everyone."""

    name: str
    topic: str
    label: Label
    departments: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    all: bool = False


@dataclass(frozen=True, slots=True)
class Document:
    """Business context with a resolved title and body. ``path`` is the file it came from (``None`` if inline);
    ``source`` is a stable reference: the path relative to the scenario file, or ``documents[i]`` for inline ones.
    """

    title: str
    body: str
    label: Label
    source: str
    path: Path | None = None


@dataclass(frozen=True, slots=True)
class Truth:
    """A planted risk or opportunity, used only to evaluate mining."""

    id: str
    kind: TruthKind
    title: str
    match: tuple[str, ...]
    min_match: int = 2
    documents: tuple[str, ...] = ()
    """Titles of the documents of this scenario that hold the truth's evidence (for the evaluation's funnel)."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """A company to simulate. ``seed`` is ``None`` when the file does not give one."""

    name: str
    scheme: LabelScheme
    roles: tuple[Role, ...]
    channels: tuple[ChannelSpec, ...]
    documents: tuple[Document, ...] = ()
    truths: tuple[Truth, ...] = ()
    seed: int | None = None
    source: str = "<scenario>"
    warnings: tuple[Problem, ...] = field(default=(), compare=False, repr=False)
    """What is valid but likely wrong (a truth's match term written into persona text or a topic), in file order."""

    @property
    def agents(self) -> int:
        return sum(r.count for r in self.roles)

    @property
    def departments(self) -> tuple[str, ...]:
        """Department names in order of first appearance in the org chart."""
        return tuple(dict.fromkeys(r.department for r in self.roles))

    def role(self, name: str) -> Role:
        for r in self.roles:
            if r.role == name:
                return r
        raise KeyError(f"scenario {self.name!r} has no role {name!r}")

    def channel(self, name: str) -> ChannelSpec:
        for c in self.channels:
            if c.name == name:
                return c
        raise KeyError(f"scenario {self.name!r} has no channel {name!r}")

    def role_members(self, channel: ChannelSpec | str) -> list[Role]:
        """The roles whose agents join ``channel`` (the union of its member clauses), in org-chart order."""
        spec = self.channel(channel) if isinstance(channel, str) else channel
        depts, names = set(spec.departments), set(spec.roles)
        return [r for r in self.roles if spec.all or r.department in depts or r.role in names]

    def readable_documents(self, label: Label) -> list[Document]:
        """Documents that ``label`` dominates, e.g. those a channel with that label may carry."""
        return [d for d in self.documents if label.dominates(d.label)]

    def scaled(self, agents: int) -> Scenario:
        """This scenario with role counts scaled to a total of exactly ``max(agents, len(roles))``.

        Counts stay proportional to the file's (largest-remainder rounding, ties to the earlier role); every role
        keeps at least one agent, and roles lifted to one are taken out before the rest are shared out.
        """
        counts = scale_counts([r.count for r in self.roles], agents)
        roles = tuple(replace(r, count=n) for r, n in zip(self.roles, counts, strict=True))
        return replace(self, roles=roles)

    def summary(self) -> dict[str, Any]:
        """Counts for a CLI line or an admin preview."""
        return {
            "name": self.name,
            "roles": len(self.roles),
            "agents": self.agents,
            "departments": len(self.departments),
            "channels": len(self.channels),
            "documents": len(self.documents),
            "truths": len(self.truths),
        }


def scale_counts(weights: list[int], total: int) -> list[int]:
    """Share ``max(total, len(weights))`` among positive ``weights``: each at least 1, the rest proportional."""
    if not weights:
        return []
    if any(w < 1 for w in weights):
        raise ValueError("every weight must be at least 1")
    target = max(total, len(weights))
    fixed: set[int] = set()
    while True:
        free = [i for i in range(len(weights)) if i not in fixed]
        budget = target - len(fixed)
        weight = sum(weights[i] for i in free)
        quotas = {i: Fraction(budget * weights[i], weight) for i in free}
        newly = {i for i, q in quotas.items() if q < 1}
        if not newly:
            break
        fixed |= newly  # each of these gets exactly 1; the others' quotas only grow, so this ends
    result = [1] * len(weights)
    for i, q in quotas.items():
        result[i] = int(q)  # floor: quotas are positive
    left = target - sum(result)
    by_remainder = sorted(quotas, key=lambda i: (-(quotas[i] - int(quotas[i])), i))
    for i in by_remainder[:left]:
        result[i] += 1
    return result
