"""Scenario files (spec/scenario.md, version 1): :func:`load_scenario` / :func:`parse_scenario` turn YAML into a
checked :class:`Scenario`, reporting every problem with file, line and key path. Pure: no database, no network.
Dataclasses: :mod:`personas.scenario_model`; line-tracking YAML and shape checks: :mod:`personas.scenario_yaml`.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from personas.scenario_model import (
    ChannelSpec,
    Document,
    Role,
    Scenario,
    Truth,
    TruthKind,
    handle_prefix,
    scale_counts,
)
from personas.scenario_yaml import (
    MISSING,
    LineList,
    LineMap,
    Problem,
    ScenarioError,
    ShapeChecker,
    hint,
    join_path,
    one_of,
    read_yaml,
    type_name,
)
from workspace.errors import ValidationFailed
from workspace.labels import DEFAULT_TIERS, Label, LabelScheme

__all__ = [
    "BUILTIN_DIR",
    "ChannelSpec",
    "Document",
    "Problem",
    "Role",
    "Scenario",
    "ScenarioError",
    "Truth",
    "builtin_scenario",
    "handle_prefix",
    "load_scenario",
    "parse_scenario",
    "scale_counts",
]

SUPPORTED_VERSION = 1
DEFAULT_ACTIVITY = 0.05
DEFAULT_MIN_MATCH = 2
BUILTIN_DIR = Path(__file__).resolve().parent / "scenarios"
_CHANNEL_NAME = re.compile(r"^[a-z0-9-]{1,80}$")
_BCP47 = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")  # "looks like" BCP 47: en, en-GB, zh-Hant-TW
_HEADING = re.compile(r"^# +(\S.*?)\s*#*\s*$", re.MULTILINE)

_TOP = (("version", "name", "org", "channels"), ("seed", "labels", "documents", "truths"))
_LABELS = ((), ("tiers", "compartments"))
_LABEL = (("tier",), ("compartments",))
_ROLE = (("role", "department", "count", "label"), ("traits", "goals", "concerns", "activity", "language"))
_CHANNEL = (("name", "topic", "label", "members"), ())
_MEMBERS = ((), ("departments", "roles", "all"))
_DOCUMENT = (("label",), ("title", "body", "path"))
_TRUTH = (("id", "kind", "match"), ("title", "min_match"))
_TRUTH_KINDS: tuple[TruthKind, ...] = ("risk", "opportunity")


def builtin_scenario(name: str = "meridian") -> Path:
    """The path of a scenario shipped with Chorus (``meridian`` is what ``chorus demo`` runs)."""
    path = BUILTIN_DIR / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml")))
        raise ValidationFailed(f"no built-in scenario {name!r}; the built-in scenarios are {known}", field="scenario")
    return path


def load_scenario(path: Path) -> Scenario:
    """Read and check a scenario file; paths inside it are relative to its folder. Raises :class:`ScenarioError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([Problem(str(path), 1, "", f"cannot read the scenario file: {exc}")]) from None
    return parse_scenario(text, str(path), path.parent)


def parse_scenario(text: str, source: str, base_dir: Path) -> Scenario:
    """Check scenario YAML ``text`` (named ``source`` in errors; document paths relative to ``base_dir``)."""
    data = read_yaml(text, source)
    if not isinstance(data, LineMap):
        got = "nothing (the file is empty)" if data is None else type_name(data)
        line = data.line if isinstance(data, LineList) else 1
        message = f"the scenario must be a mapping of keys at the top; got {got}"
        raise ScenarioError([Problem(source, line, "", message)])
    return _Checker(source, base_dir).scenario(data)


class _Checker(ShapeChecker):
    """Walks the parsed YAML once, collecting every problem, and builds the :class:`Scenario` if there are none."""

    def __init__(self, source: str, base_dir: Path) -> None:
        super().__init__(source)
        self.base_dir = base_dir
        self.scheme: LabelScheme | None = LabelScheme()

    # -- the sections -------------------------------------------------------------------------------------------

    def scenario(self, top: LineMap) -> Scenario:
        self.keys(top, "", _TOP)
        version = self.get(top, "version", "", "integer", None)
        if isinstance(version, int) and version != SUPPORTED_VERSION:
            self.add(
                self.line(top, "version"),
                "version",
                f"unsupported version {version}; this Chorus reads version {SUPPORTED_VERSION}",
            )
        name = self.get(top, "name", "", "string", None)
        seed = self.get(top, "seed", "", "integer", None)
        self.labels(top)
        roles = self.org(top)
        channels = self.channels(top, roles)
        documents = self.documents(top)
        truths = self.truths(top)
        if self.problems or self.scheme is None or not isinstance(name, str):
            raise ScenarioError(self.problems or [Problem(self.source, top.line, "", "the scenario is not valid")])
        return Scenario(
            name=name.strip(),
            scheme=self.scheme,
            roles=tuple(roles),
            channels=tuple(channels),
            documents=tuple(documents),
            truths=tuple(truths),
            seed=seed if isinstance(seed, int) else None,
            source=self.source,
        )

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

    def documents(self, top: LineMap) -> list[Document]:
        out: list[Document] = []
        for m, at in self.items(top, "documents", ""):
            self.keys(m, at, _DOCUMENT)
            label = self.label(m, at)
            title = self.get(m, "title", at, "string", None)
            body = self.get(m, "body", at, "string", None)
            pattern = self.get(m, "path", at, "string", None)
            if "body" in m and "path" in m:
                self.add(m.line, at, "a document has either 'body' (inline text) or 'path' (files), not both")
                continue
            if "body" not in m and "path" not in m:
                self.add(m.line, at, "a document needs 'body' (inline text) or 'path' (a file or glob)")
                continue
            if label is None or title is MISSING:
                continue
            if isinstance(body, str):
                found = title if isinstance(title, str) else _heading(body)
                if found is None:
                    self.add(
                        m.line, f"{at}.title", "an inline document needs a 'title' (or a '# ' heading in its body)"
                    )
                    continue
                out.append(Document(found.strip(), body, label, at))
            elif isinstance(pattern, str):
                out.extend(self.files(m, at, pattern.strip(), title, label))
        return out

    def files(self, m: LineMap, at: str, pattern: str, title: str | None, label: Label) -> list[Document]:
        line, where = self.line(m, "path"), f"{at}.path"
        pure = PurePosixPath(pattern)
        if pure.is_absolute() or Path(pattern).is_absolute() or ".." in pure.parts:
            self.add(line, where, f"path {pattern!r} must be relative to the scenario file and stay in its folder")
            return []
        base = self.base_dir.resolve()
        try:
            matches = sorted(p for p in base.glob(pattern) if p.is_file())
        except (ValueError, OSError) as exc:
            self.add(line, where, f"path {pattern!r} is not a usable glob: {exc}")
            return []
        inside = [p for p in matches if p.resolve().is_relative_to(base)]
        if not inside:
            self.add(line, where, f"path {pattern!r} matches no file under {self.base_dir}")
            return []
        if title is not None and len(inside) > 1:
            self.add(
                self.line(m, "title"),
                f"{at}.title",
                f"'title' names a single document but path {pattern!r} matches {len(inside)} files; drop the "
                "title (each file's first '# ' heading is used) or list the files separately",
            )
            return []
        docs: list[Document] = []
        for file in inside:
            try:
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                self.add(line, where, f"cannot read {file.relative_to(base).as_posix()}: {exc}")
                continue
            name = title or _heading(text) or file.stem
            docs.append(Document(name.strip(), text, label, file.relative_to(base).as_posix(), file))
        return docs

    def truths(self, top: LineMap) -> list[Truth]:
        out: list[Truth] = []
        seen: dict[str, str] = {}
        for m, at in self.items(top, "truths", ""):
            self.keys(m, at, _TRUTH)
            ident = self.get(m, "id", at, "string", None)
            if isinstance(ident, str):
                ident = ident.strip()
                if ident in seen:
                    self.add(self.line(m, "id"), f"{at}.id", f"truth id {ident!r} is already used at {seen[ident]}")
                    ident = None
                else:
                    seen[ident] = at
            kind = self.get(m, "kind", at, "string", None)
            if isinstance(kind, str) and kind not in _TRUTH_KINDS:
                self.add(
                    self.line(m, "kind"),
                    f"{at}.kind",
                    f"unknown kind {kind!r}{hint(kind, _TRUTH_KINDS)}; a truth is a risk or an opportunity",
                )
                kind = None
            title = self.get(m, "title", at, "string", ident)
            terms = self.strings(m, "match", at) if "match" in m else None
            if terms is not None and not terms:
                self.add(self.line(m, "match"), f"{at}.match", "match needs at least one term")
                terms = None
            min_match = self.get(m, "min_match", at, "integer", DEFAULT_MIN_MATCH)
            if isinstance(min_match, int) and terms is not None and not 1 <= min_match <= len(terms):
                key = "min_match" if "min_match" in m else "match"
                given = "" if "min_match" in m else " (the default)"
                allowed = "1" if len(terms) == 1 else f"between 1 and {len(terms)}"
                self.add(
                    self.line(m, key),
                    f"{at}.{key}",
                    f"min_match is {min_match}{given} but match has {len(terms)} term"
                    f"{'s' if len(terms) != 1 else ''}; set min_match to {allowed} or add terms",
                )
                min_match = MISSING
            if (
                isinstance(ident, str)
                and isinstance(kind, str)
                and isinstance(title, str)
                and terms
                and isinstance(min_match, int)
            ):
                out.append(Truth(ident, "risk" if kind == "risk" else "opportunity", title.strip(), terms, min_match))
        return out


def _heading(text: str) -> str | None:
    found = _HEADING.search(text)
    return found.group(1) if found else None
