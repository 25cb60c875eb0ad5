"""Database telemetry: a client span around every query of a registered engine, Piccolo queries and raw SQL alike,
named ``"<operation> <table>"`` and carrying the parameterised text only (values are bound separately). Queries
run under :func:`workspace.telemetry.quiet` (idle polls) make no span.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import SpanKind, Tracer

from workspace.telemetry import Telemetry

if TYPE_CHECKING:
    from workspace.db import Database


_traced_engines: dict[int, tuple[Tracer, str]] = {}
"""id(engine) -> (tracer, db.system) for the engines being traced; the class-level wrappers look here."""
_patched_classes: set[type] = set()


def instrument_database(database: Database, telemetry: Telemetry) -> None:
    """Trace every query of ``database``'s engine (idempotent; undone by :func:`uninstrument_database`).

    Piccolo's engines use ``__slots__``, so the wrapper goes on the engine class, once per process (as
    OpenTelemetry's own instrumentors do), and traces only the engines registered here.
    """
    if not telemetry.enabled:
        return
    engine = database.engine
    _patch_engine_class(type(engine))
    system = "sqlite" if database.is_sqlite else "postgresql"
    _traced_engines[id(engine)] = (telemetry.tracer("chorus.db"), system)
    if "execute_many" in vars(database):
        return
    original = database.execute_many

    async def execute_many(sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not is_instrumentation_enabled():
            await original(sql, rows)
            return
        attributes = _db_attributes(system, sql, None)
        attributes["db.operation.batch.size"] = len(rows)
        tracer = telemetry.tracer("chorus.db")
        with tracer.start_as_current_span(_db_span_name(sql, None), kind=SpanKind.CLIENT, attributes=attributes):
            await original(sql, rows)

    database.execute_many = execute_many  # type: ignore[method-assign]


def uninstrument_database(database: Database) -> None:
    _traced_engines.pop(id(database.engine), None)
    if "execute_many" in vars(database):
        del database.execute_many  # back to the class method


def _patch_engine_class(cls: type) -> None:
    if cls in _patched_classes:
        return
    run_querystring = cls.run_querystring  # type: ignore[attr-defined]
    run_ddl = cls.run_ddl  # type: ignore[attr-defined]

    async def traced_run_querystring(self: Any, querystring: Any, *args: Any, **kwargs: Any) -> Any:
        traced = _traced_engines.get(id(self))
        if traced is None or not is_instrumentation_enabled():
            return await run_querystring(self, querystring, *args, **kwargs)
        tracer, system = traced
        sql, _ = querystring.compile_string(engine_type=self.engine_type)
        table = querystring.table._meta.tablename if querystring.table is not None else None
        with tracer.start_as_current_span(_db_span_name(sql, table), kind=SpanKind.CLIENT,
                                          attributes=_db_attributes(system, sql, table)):
            return await run_querystring(self, querystring, *args, **kwargs)

    async def traced_run_ddl(self: Any, ddl: str, *args: Any, **kwargs: Any) -> Any:
        traced = _traced_engines.get(id(self))
        if traced is None or not is_instrumentation_enabled():
            return await run_ddl(self, ddl, *args, **kwargs)
        tracer, system = traced
        with tracer.start_as_current_span(_db_span_name(ddl, None), kind=SpanKind.CLIENT,
                                          attributes=_db_attributes(system, ddl, None)):
            return await run_ddl(self, ddl, *args, **kwargs)

    cls.run_querystring = traced_run_querystring  # type: ignore[attr-defined]
    cls.run_ddl = traced_run_ddl  # type: ignore[attr-defined]
    _patched_classes.add(cls)


_TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE|TABLE)\s+"?([A-Za-z_]\w*)"?', re.IGNORECASE)


def _db_span_name(sql: str, table: str | None) -> str:
    """``"SELECT chorus_audit_event"``: the operation and, when it can be told, the main table."""
    words = sql.lstrip(" (\n").split(None, 1)
    operation = words[0].upper() if words else "SQL"
    if table is None:
        match = _TABLE.search(sql)
        table = match.group(1) if match else None
    return f"{operation} {table}" if table else operation


def _db_attributes(system: str, sql: str, table: str | None) -> dict[str, Any]:
    # Parameterised text only (values are bound separately), so no message body or secret lands in a trace.
    attributes: dict[str, Any] = {"db.system": system, "db.system.name": system, "db.query.text": sql[:2000]}
    if table:
        attributes["db.collection.name"] = table
    return attributes
