"""Scenario files (spec/scenario.md, version 1): :func:`load_scenario` / :func:`parse_scenario` turn YAML into a
checked :class:`Scenario`, reporting every problem with file, line and key path. Pure: no database, no network.
The checks of each section are in ``check_labels``, ``check_org``, ``check_channels``, ``check_documents`` and
``check_truths``; dataclasses in :mod:`personas.scenario.model`; line-tracking YAML in :mod:`personas.scenario.reader`.
"""

from __future__ import annotations

from pathlib import Path

from personas.scenario.check_channels import ChannelChecks
from personas.scenario.check_documents import DocumentChecks
from personas.scenario.check_org import OrgChecks
from personas.scenario.check_truths import TruthChecks
from personas.scenario.model import Scenario
from personas.scenario.reader import LineList, LineMap, Problem, ScenarioError, read_yaml, type_name
from workspace.errors import ValidationFailed

SUPPORTED_VERSION = 1
BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"
_TOP = (("version", "name", "org", "channels"), ("seed", "labels", "documents", "truths"))


def builtin_scenario(name: str = "meridian") -> Path:
    """The path of a scenario shipped with Chorus (``meridian`` is what ``chorus demo`` runs; the others are the
    evaluation set): ``builtin/<name>/<name>.yaml``, its documents beside it."""
    path = BUILTIN_DIR / name / f"{name}.yaml"
    if not path.is_file():
        raise ValidationFailed(f"no built-in scenario {name!r}; the built-in scenarios are "
                               f"{', '.join(builtin_names())}", field="scenario")
    return path


def builtin_names() -> list[str]:
    """Names of the built-in scenarios."""
    return sorted(p.parent.name for p in BUILTIN_DIR.glob("*/*.yaml") if p.stem == p.parent.name)


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


class _Checker(OrgChecks, ChannelChecks, DocumentChecks, TruthChecks):
    """Walks the parsed YAML once, section by section, collecting every problem, and builds the :class:`Scenario`
    if there are none."""

    def __init__(self, source: str, base_dir: Path) -> None:
        super().__init__(source)
        self.base_dir = base_dir

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
        before = len(self.problems)
        documents = self.documents(top)
        truths = self.truths(top, [d.title for d in documents] if len(self.problems) == before else None)
        if self.problems or self.scheme is None or not isinstance(name, str):
            raise ScenarioError(self.problems or [Problem(self.source, top.line, "", "the scenario is not valid")])
        self.echoes(top, truths)
        return Scenario(
            name=name.strip(),
            scheme=self.scheme,
            roles=tuple(roles),
            channels=tuple(channels),
            documents=tuple(documents),
            truths=tuple(truths),
            seed=seed if isinstance(seed, int) else None,
            source=self.source,
            warnings=tuple(sorted(self.warnings, key=lambda w: (w.line, w.path))),
        )
