"""Scenario checks, channels: names, topics, labels, and members (departments, roles or everyone) that exist in the
org chart and whose labels all dominate the channel's.
"""

from __future__ import annotations

import re

from personas.scenario.check_labels import LabelChecks
from personas.scenario.model import ChannelSpec, Role
from personas.scenario.reader import MISSING, LineList, LineMap, hint, one_of

_CHANNEL_NAME = re.compile(r"^[a-z0-9-]{1,80}$")
_CHANNEL = (("name", "topic", "label", "members"), ())
_MEMBERS = ((), ("departments", "roles", "all"))


class ChannelChecks(LabelChecks):
    """The ``channels`` section: one :class:`ChannelSpec` per entry, its members resolved against the org chart."""

    def channels(self, top: LineMap, roles: list[Role]) -> list[ChannelSpec]:
        out: list[ChannelSpec] = []
        seen: dict[str, str] = {}
        entries = self.items(top, "channels", "")
        if "channels" in top and isinstance(top["channels"], LineList) and not top["channels"]:
            self.add(self.line(top, "channels"), "channels", "at least one channel is needed")
        # names are checked against the file's text, so that a role with some other error is not also "unknown"
        org = top.get("org")
        entries_org = [e for e in org if isinstance(e, LineMap)] if isinstance(org, LineList) else []
        role_names = list(dict.fromkeys(str(e["role"]).strip() for e in entries_org if "role" in e))
        departments = list(dict.fromkeys(str(e["department"]).strip() for e in entries_org if "department" in e))
        for m, at in entries:
            self.keys(m, at, _CHANNEL)
            name = self.get(m, "name", at, "string", None)
            if isinstance(name, str):
                if not _CHANNEL_NAME.match(name):
                    self.add(
                        self.line(m, "name"),
                        f"{at}.name",
                        f"channel name {name!r} must be 1-80 characters of a-z, 0-9 and '-'",
                    )
                    name = None
                elif name in seen:
                    self.add(self.line(m, "name"), f"{at}.name", f"channel {name!r} is already defined at {seen[name]}")
                    name = None
                else:
                    seen[name] = at
            topic = self.get(m, "topic", at, "string", None)
            label = self.label(m, at)
            members = self.members(m, at, departments, role_names)
            if members is None or not isinstance(name, str) or not isinstance(topic, str) or label is None:
                continue
            spec = ChannelSpec(name, topic.strip(), label, *members)
            depts, names = set(spec.departments), set(spec.roles)
            below = [
                r
                for r in roles
                if (spec.all or r.department in depts or r.role in names) and not r.label.dominates(label)
            ]
            if below:
                who = ", ".join(f"{r.role!r} ({r.label})" for r in below)
                self.add(
                    self.line(m, "members"),
                    f"{at}.members",
                    f"channel {name!r} is labelled {label}, which these members' labels do not dominate: {who}; "
                    "raise their labels, lower the channel's label or remove them",
                )
                continue
            out.append(spec)
        return out

    def members(
        self, m: LineMap, at: str, departments: list[str], role_names: list[str]
    ) -> tuple[tuple[str, ...], tuple[str, ...], bool] | None:
        value = self.get(m, "members", at, "mapping", None)
        if not isinstance(value, LineMap):
            return None
        path = f"{at}.members"
        self.keys(value, path, _MEMBERS)
        depts = self.strings(value, "departments", path)
        names = self.strings(value, "roles", path)
        everyone = self.get(value, "all", path, "boolean", False)
        if depts is None or names is None or everyone is MISSING:
            return None
        ok = True
        for key, given, known, what in (
            ("departments", depts, departments, "department"),
            ("roles", names, role_names, "role"),
        ):
            lines = value[key].item_lines if key in value else []
            for i, item in enumerate(given):
                if item not in known:
                    self.add(
                        lines[i],
                        f"{path}.{key}[{i}]",
                        f"unknown {what} {item!r}{hint(item, known)}; the org chart's {what}s are {one_of(known)}",
                    )
                    ok = False
        if not (depts or names or everyone):
            self.add(value.line, path, "members name nobody: list departments or roles, or set all: true")
            ok = False
        return (depts, names, bool(everyone)) if ok else None
