"""Scenario checks, labels: the ``labels`` section (tiers, compartments) and every ``label: {tier, compartments}``
elsewhere in the file, checked against that scheme. The other sections build on :class:`LabelChecks`.
"""

from __future__ import annotations

from personas.scenario.reader import MISSING, LineMap, ShapeChecker, hint, join_path, one_of
from workspace.errors import ValidationFailed
from workspace.labels import DEFAULT_TIERS, Label, LabelScheme

_LABELS = ((), ("tiers", "compartments"))
_LABEL = (("tier",), ("compartments",))


class LabelChecks(ShapeChecker):
    """Reads the file's label scheme (``scheme`` is None once it is broken: labels are then not checked further)."""

    def __init__(self, source: str) -> None:
        super().__init__(source)
        self.scheme: LabelScheme | None = LabelScheme()

    def labels(self, top: LineMap) -> None:
        section = self.get(top, "labels", "", "mapping", None)
        if section is None:
            return
        if section is MISSING:
            self.scheme = None
            return
        self.keys(section, "labels", _LABELS)
        tiers = self.strings(section, "tiers", "labels") if "tiers" in section else DEFAULT_TIERS
        comps = self.strings(section, "compartments", "labels")
        if tiers is None or comps is None:
            self.scheme = None
            return
        try:
            self.scheme = LabelScheme(tuple(tiers), tuple(comps))
        except ValidationFailed as exc:
            key = (exc.field or "labels").rpartition(".")[2]
            self.add(self.line(section, key), exc.field or "labels", exc.message)
            self.scheme = None

    def label(self, m: LineMap, path: str) -> Label | None:
        value = self.get(m, "label", path, "mapping")
        if value is MISSING or value is None:
            return None
        at = join_path(path, "label")
        self.keys(value, at, _LABEL)
        tier = self.get(value, "tier", at, "string", None)
        comps = self.strings(value, "compartments", at)
        scheme = self.scheme
        if scheme is None or not isinstance(tier, str) or comps is None:
            return None
        ok = True
        if tier not in scheme.tiers:
            self.add(
                self.line(value, "tier"),
                f"{at}.tier",
                f"unknown tier {tier!r}{hint(tier, scheme.tiers)}; the tiers are {one_of(scheme.tiers)}",
            )
            ok = False
        comp_lines = value["compartments"].item_lines if "compartments" in value else []
        for i, comp in enumerate(comps):
            if comp not in scheme.compartments:
                where = (
                    "the compartments are " + one_of(scheme.compartments)
                    if scheme.compartments
                    else ("no compartments are defined")
                )
                self.add(
                    comp_lines[i],
                    f"{at}.compartments[{i}]",
                    f"unknown compartment {comp!r}{hint(comp, scheme.compartments)}; {where} "
                    "(add it under labels.compartments)",
                )
                ok = False
        return scheme.label(tier, comps) if ok else None
