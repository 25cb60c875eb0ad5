"""Raw SQL for :class:`workspace.db.Database`: ``{}`` placeholders compiled once per template for each engine.

Piccolo's ``QueryString`` parses and compiles its template for every query; raw statements here reuse the compiled
text. No engine, no connection: strings in, strings (or a frozen QueryString) out.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from string import Formatter
from typing import Any

from piccolo.columns import Column
from piccolo.querystring import QueryString


def numbered(sql: str) -> str:
    parts = sql.split("{}")
    out = parts[0]
    for i, part in enumerate(parts[1:], start=1):
        out += f"${i}{part}"
    return out


def querystring(sql: str, args: Sequence[Any], engine_type: str) -> QueryString:
    """``QueryString(sql, *args)``, already compiled for ``engine_type``.

    Piccolo builds and compiles a QueryString per query (a string parse and an ``isinstance`` against its ABCs per
    argument: tens of microseconds a statement). Values that are not Piccolo expressions compile the same way
    every time, so the compiled text is cached per template and the QueryString is made frozen (Piccolo's own
    mechanism for reusing a compiled query). Arguments that are expressions take Piccolo's path."""
    if not all(_plain(type(a)) for a in args):
        return QueryString(sql, *args)
    qs = QueryString.__new__(QueryString)
    qs.template, qs.args, qs.columns, qs.query_type, qs.table, qs._alias = sql, args, [], "generic", None, None
    qs._frozen_compiled_strings = (_compiled(sql, len(args), engine_type), list(args))
    return qs


_plain_types: dict[type, bool] = {}


def _plain(kind: type) -> bool:
    found = _plain_types.get(kind)
    if found is None:
        found = _plain_types[kind] = not issubclass(kind, (QueryString, Column))
    return found


@functools.lru_cache(maxsize=2048)
def _compiled(template: str, nargs: int, engine_type: str) -> str:
    """What ``QueryString(template, *nargs plain values).compile_string(engine_type)`` returns as its SQL."""
    parts = []
    for index, (prefix, *_) in enumerate(Formatter().parse(template)):
        parts.append(prefix)
        if index < nargs:
            parts.append("?" if engine_type == "sqlite" else f"${index + 1}")
    return "".join(parts)


def in_batches(values: Sequence[Any], size: int = 500) -> Iterator[tuple[Sequence[Any], str]]:
    """``values`` in slices of at most ``size`` (well under every engine's bound-parameter limit), each with the
    ``{}, {}, ...`` placeholders of an ``IN (...)`` for it: ``for part, marks in in_batches(ids): ... IN ({marks})``."""
    for start in range(0, len(values), size):
        part = values[start:start + size]
        yield part, ", ".join("{}" for _ in part)
