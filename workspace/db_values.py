"""What may reach the database: no NUL character in text (SQLite would store it, PostgreSQL refuses it) and no
integer beyond 64 bits (neither engine holds one). Checked on every statement's arguments, so every write path,
whatever the route (REST, WebSocket, admin pages, CLI), refuses such input with one clear ``ValidationFailed``
before anything is written; PostgreSQL's own refusals (an id beyond an ``int4`` column) are translated the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from workspace.errors import ValidationFailed

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def nul_refused(text: str, field: str | None = None) -> ValidationFailed:
    where = f"{field} " if field else ""
    shown = repr(text[:40] + ("..." if len(text) > 40 else ""))
    return ValidationFailed(f"{where}text {shown} contains a NUL character (U+0000, written \\u0000 in JSON), which "
                            "Chorus does not store; remove it and send again", field=field)


def out_of_range(value: int | str, field: str | None = None) -> ValidationFailed:
    where = f"{field} " if field else "number "
    return ValidationFailed(f"{where}{value} is out of range: ids, seq numbers and counts are 64-bit integers, from "
                            f"{INT64_MIN} to {INT64_MAX} (ids from 1 up to what Chorus gave you); send a value "
                            "Chorus returned", field=field,
                            errors=[{"field": field or "number", "message": "out of range"}])


def check_args(args: Iterable[Any] | None) -> None:
    """Raise ValidationFailed for a NUL character in a text argument or an integer beyond 64 bits."""
    for value in args or ():
        kind = type(value)
        if kind is str:
            if "\x00" in value:
                raise nul_refused(value)
        elif kind is int and not INT64_MIN <= value <= INT64_MAX:
            raise out_of_range(value)


def check_rows(rows: Sequence[Sequence[Any]]) -> None:
    for row in rows:
        check_args(row)


def translated(exc: BaseException) -> ValidationFailed | None:
    """PostgreSQL's (asyncpg's) refusal of a value, as the same ValidationFailed (None for any other error):
    a number beyond its column (``int4`` ids past 2**31) or a NUL character in text."""
    if not type(exc).__module__.startswith("asyncpg"):
        return None
    text = str(exc)
    if "out of int" in text or type(exc).__name__ == "NumericValueOutOfRangeError":
        value = text.split(":", 1)[-1].strip().split(" ", 1)[0] if "query argument" in text else ""
        why = text[text.rfind("(") + 1:text.rfind(")")] if "(" in text else "value out of range"
        what = f"number {value}" if value else "a number"
        err = ValidationFailed(f"{what} is out of range ({why}): no id, seq number or count of Chorus is that large; "
                               "send a value Chorus returned")
        err.__cause__ = exc
        return err
    if "0x00" in text or "\\u0000" in text:
        err = ValidationFailed("text contains a NUL character (U+0000, written \\u0000 in JSON), which Chorus does "
                               "not store; remove it and send again")
        err.__cause__ = exc
        return err
    return None
