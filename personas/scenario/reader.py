"""YAML reading for scenario files: a safe loader that remembers the line of every key and list item, the
:class:`Problem` / :class:`ScenarioError` types that name file, line and key path, and generic shape checks
(:class:`ShapeChecker`: keys, types, lists). No scenario rules live here; they are in the ``check_<section>`` modules.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml

from workspace.errors import ValidationFailed

MAX_SCENARIO_BYTES = 4 * 1024 * 1024  # a scenario is an org chart plus documents, not a data dump
MISSING: Any = object()  # "present but wrong" marker returned by ShapeChecker.get after reporting a problem


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a scenario file, e.g. ``scenario.yaml:14: org[2].label.tier: unknown tier 'secret'``."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ScenarioError(ValidationFailed):
    """A scenario file is not valid; ``problems`` lists every problem found (not just the first), in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        ordered = sorted(problems, key=lambda p: (p.file, p.line, p.path))
        count = len(ordered)
        plural = "s" if count != 1 else ""
        head = f"{count} problem{plural} in scenario {ordered[0].file}" if ordered else "bad scenario"
        message = head + ":\n" + "\n".join(f"  {p}" for p in ordered)
        errors = [{"field": p.path, "message": p.message, "location": f"{p.file}:{p.line}"} for p in ordered]
        super().__init__(message, field=ordered[0].path if ordered else None, errors=errors)
        self.problems = ordered


NUL_PROBLEM = ("contains a NUL character (U+0000, \\0 in YAML), which Chorus does not store; remove it and load "
               "the file again")


class LineMap(dict[Any, Any]):
    """A YAML mapping that also knows its own line, each key's line and any keys written twice (lines 1-based)."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[Any, int] = {}
        self.duplicates: list[tuple[Any, int]] = []


class LineList(list[Any]):
    """A YAML sequence that also knows its own line and the line of each item (1-based)."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.item_lines: list[int] = []


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings and sequences are :class:`LineMap` / :class:`LineList`."""


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> LineMap:
    loader.flatten_mapping(node)  # resolve '<<' merge keys like SafeLoader does
    result = LineMap(node.start_mark.line + 1)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value, not a list or mapping", key_node.start_mark
            ) from None
        if key in result:
            result.duplicates.append((key, line))
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    result = LineList(node.start_mark.line + 1)
    for child in node.value:
        result.append(loader.construct_object(child, deep=True))
        result.item_lines.append(child.start_mark.line + 1)
    return result


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def read_yaml(text: str, source: str) -> Any:
    """Parse one YAML document with line tracking; raise :class:`ScenarioError` (with the line) on bad syntax."""
    if len(text.encode("utf-8", errors="replace")) > MAX_SCENARIO_BYTES:
        raise ScenarioError(
            [
                Problem(
                    source,
                    1,
                    "",
                    f"the file is larger than {MAX_SCENARIO_BYTES // (1024 * 1024)} MiB; "
                    "move long documents into files referenced by 'path'",
                )
            ]
        )
    try:
        # A SafeLoader: plain data only, no arbitrary Python objects. Building it reads the first characters, so a
        # non-printable character raises here (yaml.reader.ReaderError) and must be reported like any syntax error.
        loader = _LineLoader(text)
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(source, 1, "", f"invalid YAML: {exc}")]) from None
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        what = exc.problem or "cannot be parsed"
        if exc.context and exc.context_mark is not None and exc.context_mark.line + 1 != line:
            what += f" ({exc.context} that starts on line {exc.context_mark.line + 1})"
        elif exc.context:
            what += f" ({exc.context})"
        raise ScenarioError([Problem(source, line, "", f"invalid YAML: {what}")]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(source, 1, "", f"invalid YAML: {exc}")]) from None
    finally:
        loader.dispose()


def type_name(value: Any) -> str:
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, LineMap | dict):
        return "a mapping"
    if isinstance(value, LineList | list):
        return "a list"
    if value is None:
        return "nothing"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    return f"a {type(value).__name__} ({value})"


def join_path(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def one_of(names: Iterable[str]) -> str:
    listed = list(names)
    return ", ".join(listed) if listed else "(none)"


def hint(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class ShapeChecker:
    """Shape checks on parsed YAML that report problems with key path and line instead of raising."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def add(self, line: int, path: str, message: str) -> None:
        self.problems.append(Problem(self.source, line, path, message))

    def warn(self, line: int, path: str, message: str) -> None:
        """Something valid but likely wrong: reported, never refused."""
        self.warnings.append(Problem(self.source, line, path, message))

    def keys(self, m: LineMap, path: str, spec: tuple[tuple[str, ...], tuple[str, ...]]) -> None:
        required, optional = spec
        allowed = required + optional
        for key, line in m.duplicates:
            self.add(line, join_path(path, key), "this key is written twice; keep one")
        for key in m:
            if key not in allowed:
                suggestion = hint(str(key), allowed)
                self.add(
                    m.key_lines[key],
                    join_path(path, key),
                    f"unknown key {key!r}{suggestion}; the keys here are {one_of(allowed)}",
                )
        for key in required:
            if key not in m:
                self.add(m.line, join_path(path, key), f"missing required key {key!r}")

    def line(self, m: LineMap, key: str) -> int:
        return m.key_lines.get(key, m.line)

    def get(self, m: LineMap, key: str, path: str, kind: str, default: Any = MISSING) -> Any:
        """``m[key]`` if it has ``kind``; else report and return ``MISSING`` (``default`` if the key is absent)."""
        if key not in m:
            return default
        value, at, line = m[key], join_path(path, key), self.line(m, key)
        ok = {
            "string": isinstance(value, str) and value.strip() != "",
            "integer": isinstance(value, int) and not isinstance(value, bool),
            "number": isinstance(value, int | float) and not isinstance(value, bool),
            "boolean": isinstance(value, bool),
            "mapping": isinstance(value, LineMap),
            "list": isinstance(value, LineList),
        }[kind]
        if not ok:
            got = "an empty string" if isinstance(value, str) and kind == "string" else type_name(value)
            self.add(line, at, f"expected {'an' if kind[0] in 'aeiou' else 'a'} {kind}, got {got}")
            return MISSING
        if isinstance(value, str) and "\x00" in value:
            self.add(line, at, NUL_PROBLEM)
            return MISSING
        return value

    def strings(self, m: LineMap, key: str, path: str) -> tuple[str, ...] | None:
        """A list of non-empty strings (absent -> empty tuple); ``None`` after reporting a problem."""
        value = self.get(m, key, path, "list", LineList(0))
        if value is MISSING:
            return None
        out: list[str] = []
        for i, (item, line) in enumerate(zip(value, value.item_lines, strict=True)):
            if not isinstance(item, str) or not item.strip():
                got = "an empty string" if isinstance(item, str) else type_name(item)
                self.add(line, f"{join_path(path, key)}[{i}]", f"expected a string, got {got}")
            elif "\x00" in item:
                self.add(line, f"{join_path(path, key)}[{i}]", NUL_PROBLEM)
            else:
                out.append(item.strip())
        return tuple(out) if len(out) == len(value) else None

    def items(self, m: LineMap, key: str, path: str) -> list[tuple[LineMap, str]]:
        """The mapping items of the list at ``m[key]`` with their key paths; non-mappings are reported."""
        value = self.get(m, key, path, "list", LineList(0))
        out: list[tuple[LineMap, str]] = []
        if value is MISSING:
            return out
        for i, (item, line) in enumerate(zip(value, value.item_lines, strict=True)):
            at = f"{join_path(path, key)}[{i}]"
            if isinstance(item, LineMap):
                out.append((item, at))
            else:
                self.add(line, at, f"expected a mapping (key: value lines), got {type_name(item)}")
        return out
