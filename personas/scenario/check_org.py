"""Scenario checks, org chart: each role's name (unique, and unique as an agent-handle prefix), department, count,
label, persona text (traits, goals, concerns), activity and language.
"""

from __future__ import annotations

import re

from personas.scenario.check_labels import LabelChecks
from personas.scenario.model import Role, handle_prefix
from personas.scenario.reader import MISSING, LineList, LineMap

DEFAULT_ACTIVITY = 0.05
_BCP47 = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")  # "looks like" BCP 47: en, en-GB, zh-Hant-TW
_ROLE = (("role", "department", "count", "label"), ("traits", "goals", "concerns", "activity", "language"))


class OrgChecks(LabelChecks):
    """The ``org`` section: one :class:`Role` per entry."""

    def org(self, top: LineMap) -> list[Role]:
        roles: list[Role] = []
        seen: dict[str, str] = {}
        prefixes: dict[str, str] = {}
        entries = self.items(top, "org", "")
        if "org" in top and not entries and isinstance(top["org"], LineList) and not top["org"]:
            self.add(self.line(top, "org"), "org", "the org chart needs at least one role")
        for m, at in entries:
            self.keys(m, at, _ROLE)
            name = self.get(m, "role", at, "string", None)
            if isinstance(name, str):
                name = name.strip()
                if name in seen:
                    self.add(self.line(m, "role"), f"{at}.role", f"role {name!r} is already defined at {seen[name]}")
                    name = None
                else:
                    seen[name] = at
                    prefix = handle_prefix(name)
                    if prefix in prefixes:
                        self.add(
                            self.line(m, "role"),
                            f"{at}.role",
                            f"role {name!r} gives the same agent handles ({prefix}-0001, ...) as role "
                            f"{prefixes[prefix]!r}; rename one of them",
                        )
                    prefixes.setdefault(prefix, name)
            department = self.get(m, "department", at, "string", None)
            count = self.get(m, "count", at, "integer", None)
            if isinstance(count, int) and count < 1:
                self.add(self.line(m, "count"), f"{at}.count", f"count must be at least 1, got {count}")
            label = self.label(m, at)
            traits = self.strings(m, "traits", at)
            goals = self.strings(m, "goals", at)
            concerns = self.strings(m, "concerns", at)
            activity = self.get(m, "activity", at, "number", DEFAULT_ACTIVITY)
            if activity is not MISSING and not 0 <= activity <= 1:
                self.add(
                    self.line(m, "activity"),
                    f"{at}.activity",
                    f"activity is a chance per round, between 0 and 1; got {activity}",
                )
            language = self.get(m, "language", at, "string", "en")
            if isinstance(language, str) and not _BCP47.match(language.strip()):
                self.add(
                    self.line(m, "language"),
                    f"{at}.language",
                    f"language {language!r} is not a BCP 47 tag such as en, en-GB or pt-BR",
                )
            if (
                isinstance(name, str)
                and isinstance(department, str)
                and isinstance(count, int)
                and count >= 1
                and label is not None
                and traits is not None
                and goals is not None
                and concerns is not None
                and isinstance(activity, int | float)
                and 0 <= activity <= 1
                and isinstance(language, str)
            ):
                roles.append(
                    Role(
                        name,
                        department.strip(),
                        count,
                        label,
                        traits,
                        goals,
                        concerns,
                        float(activity),
                        language.strip(),
                    )
                )
        return roles
