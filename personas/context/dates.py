"""Dates and periods a business sentence names ("14 October", "from 5 October to 13 November", "Q2", "weeks 45
and 46", "in November"), as comparable day ranges, so that two facts can be checked against each other in time
(needed on 14 October, out of service until 13 November); a range of whole months ("July to September", "from
December to February") runs from the first day of one to the last of the other. Years are kept when written; a date
without a year is compared by month and day only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from personas.context.lexicon import MONTHS

_MONTH_INDEX = {m: i for i, m in enumerate(MONTHS.split("|"), start=1)}
_MONTH_INDEX.update({m[:3]: i for m, i in list(_MONTH_INDEX.items())})
_MONTH_INDEX["sept"] = 9
_M = r"(?:january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|" \
     r"jun|jul|aug|sept|sep|oct|nov|dec)\.?"
_DAY = r"(?P<{0}>\d{{1,2}})(?:st|nd|rd|th)?"
_ONE = rf"(?:{_DAY.format('d')} (?:of )?(?P<m>{_M})|(?P<m2>{_M}) {_DAY.format('d2')}\b)(?:,? (?P<y>(?:19|20)\d{{2}}))?"
_DATE = re.compile(rf"\b{_ONE}")
_MONTH_ONLY = re.compile(rf"\b(?:(?:in|during|from|until|by|before|after|since|through|end of|early|late|mid)\s+|"
                         rf"mid-\s*)(?P<m>{_M})(?: (?P<y>(?:19|20)\d{{2}}))?\b")
_MONTH_RANGE = re.compile(rf"\b(?:between (?P<a2>{_M})(?: (?P<ya2>(?:19|20)\d{{2}}))? and|(?:from )?(?P<a>{_M})"
                          rf"(?: (?P<ya>(?:19|20)\d{{2}}))?\s*(?:to|until|through|-|–|—))\s*(?P<b>{_M})"
                          rf"(?: (?P<y>(?:19|20)\d{{2}}))?\b")
_WEEK_OF = re.compile(rf"\b(?P<n>first|second|third|fourth|last|final) (?:week|seven days) of (?P<m>{_M})"
                      rf"(?: (?P<y>(?:19|20)\d{{2}}))?\b")
_QUARTER = re.compile(r"\b(?:in |during |by |from |until |to )?(?:the )?q(?P<q>[1-4])(?: (?P<y>(?:19|20)\d{2}))?\b")
_WEEKS = re.compile(r"\bweeks? (?P<a>\d{1,2})(?:(?: and | to |-|–)(?P<b>\d{1,2}))?\b")
_RANGE = re.compile(rf"\b(?:from |between )?(?P<a>{_ONE.replace('(?P<', '(?P<a_')})\s*(?:to|until|and|through|-|–)\s*"
                    rf"(?P<b>{_ONE.replace('(?P<', '(?P<b_')})")
_SHORT_RANGE = re.compile(rf"\b(?:from |between )?(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s*(?:to|and|-|–)\s*"
                          rf"(?P<d2>\d{{1,2}})(?:st|nd|rd|th)? (?P<m>{_M})(?:,? (?P<y>(?:19|20)\d{{2}}))?")


@dataclass(frozen=True, slots=True)
class Span:
    """A day range on a 372-day year (31 days a month): ``first`` and ``last`` count from year 0 when the year is
    written (``dated``), else from the start of an unnamed year (a range past December runs on past 372)."""

    first: int
    last: int
    dated: bool = False
    at: int = 0  # where in the text


def _day(month: str, day: str | None) -> int:
    key = month.lower().rstrip(".")
    m = _MONTH_INDEX[key if key in _MONTH_INDEX else key[:3]]
    return (m - 1) * 31 + (int(day) if day else 1)


def _one(m: re.Match[str], prefix: str = "") -> tuple[int, int | None]:
    g = m.groupdict()
    month = g.get(prefix + "m") or g.get(prefix + "m2") or ""
    day = g.get(prefix + "d") or g.get(prefix + "d2")
    year = g.get(prefix + "y")
    return _day(month, day), int(year) if year else None


def _span(first: int, last: int, year_a: int | None, year_b: int | None, at: int) -> Span:
    if year_a is None and year_b is None:
        return Span(first, last + 372 if last < first else last, False, at)
    ya = year_a if year_a is not None else year_b
    yb = year_b if year_b is not None else year_a
    assert ya is not None and yb is not None
    return Span(ya * 372 + first, yb * 372 + last, True, at)


def spans(text: str) -> list[Span]:
    """The dates and periods ``text`` names, in order of appearance; ranges ("from 5 October to 13 November")
    as one span."""
    low = text.lower()
    out: list[Span] = []
    taken: list[tuple[int, int]] = []

    def free(a: int, b: int) -> bool:
        return all(b <= x or a >= y for x, y in taken)

    for m in _RANGE.finditer(low):
        (d1, y1), (d2, y2) = _one(m, "a_"), _one(m, "b_")
        out.append(_span(d1, d2, y1, y2, m.start()))
        taken.append(m.span())
    for m in _SHORT_RANGE.finditer(low):
        if free(*m.span()):
            d = _day(m.group("m"), None) - 1
            y = int(m.group("y")) if m.group("y") else None
            out.append(_span(d + int(m.group("d1")), d + int(m.group("d2")), y, y, m.start()))
            taken.append(m.span())
    for m in _MONTH_RANGE.finditer(low):
        if free(*m.span()):
            # "July-September", "from December to February": from the first day of one month to the last of the
            # other
            a, ya_s = (m.group("a"), m.group("ya")) if m.group("a") else (m.group("a2"), m.group("ya2"))
            first, last = _day(a, None), _day(m.group("b"), "31")
            yb = int(m.group("y")) if m.group("y") else None
            ya = int(ya_s) if ya_s else (yb - 1 if yb is not None and last < first else yb)
            out.append(_span(first, last, ya, yb, m.start()))
            taken.append(m.span())
    for m in _WEEK_OF.finditer(low):
        if free(*m.span()):
            # "the first week of March": days 1-7; "the last week of June": the month's last seven days
            start = {"first": 1, "second": 8, "third": 15, "fourth": 22}.get(m.group("n"), 24)
            first = _day(m.group("m"), str(start))
            y = int(m.group("y")) if m.group("y") else None
            out.append(_span(first, first + 6, y, y, m.start()))
            taken.append(m.span())
    for m in _DATE.finditer(low):
        if free(*m.span()):
            day, year = _one(m)
            out.append(_next_year(_span(day, day, year, year, m.start()), low, m.end()))
            taken.append(m.span())
    for m in _MONTH_ONLY.finditer(low):
        if free(*m.span()):
            first = _day(m.group("m"), None)
            y = int(m.group("y")) if m.group("y") else None
            out.append(_next_year(_span(first, first + 30, y, y, m.start()), low, m.end()))
            taken.append(m.span())
    for m in _QUARTER.finditer(low):
        if free(*m.span()):
            first = (int(m.group("q")) - 1) * 93 + 1
            y = int(m.group("y")) if m.group("y") else None
            out.append(_span(first, first + 92, y, y, m.start()))
            taken.append(m.span())
    for m in _WEEKS.finditer(low):
        if free(*m.span()):
            a = int(m.group("a"))
            b = int(m.group("b") or a)
            if 1 <= a <= b <= 53:
                # week n of the year, on the 31-day-month scale
                out.append(Span(round((a - 1) * 7 * 372 / 365) + 1, round(b * 7 * 372 / 365), False, m.start()))
                taken.append(m.span())
    return sorted(out, key=lambda s: s.at)


_NEXT_YEAR = re.compile(r",?\s+(?:of\s+)?next year\b")


_NUMERIC = re.compile(r"\b(\d{1,2})/(\d{1,2})/((?:19|20)\d\d)\b")


def first_day(text: str) -> int | None:
    """The first day with its year that ``text`` names, written ("25 October 2024") or as a UK numeric date
    ("14/05/2024"), counted as a dated :class:`Span`'s ``first``; ``None`` when it names none."""
    found = [(s.at, s.first) for s in spans(text) if s.dated]
    for m in _NUMERIC.finditer(text):
        day, month = int(m.group(1)), int(m.group(2))
        if 1 <= month <= 12 and 1 <= day <= 31:
            found.append((m.start(), int(m.group(3)) * 372 + (month - 1) * 31 + day))
            break
    return min(found)[1] if found else None


def _next_year(span: Span, low: str, end: int) -> Span:
    """An unnamed year's date said to be "next year" ("30 June next year") falls after this year's dates."""
    if span.dated or not _NEXT_YEAR.match(low, end):
        return span
    return Span(span.first + 372, span.last + 372, False, span.at)


def _pair(a: Span, b: Span) -> tuple[tuple[int, int], tuple[int, int]]:
    """Both spans on one scale: absolute when both are dated, else by day of the year."""
    if a.dated and b.dated:
        return (a.first, a.last), (b.first, b.last)
    fa, la = (a.first % 372, a.first % 372 + a.last - a.first) if a.dated else (a.first, a.last)
    fb, lb = (b.first % 372, b.first % 372 + b.last - b.first) if b.dated else (b.first, b.last)
    return (fa, la), (fb, lb)


def before(a: Span, b: Span) -> bool:
    """``a`` ends before ``b`` begins. When only one of them names its year, the other is read in whichever year
    puts the two closest: "due by 14 February 2026" does not come before "mid-December" of a plan written in 2025."""
    (_, la), (fb, _) = _pair(a, b)
    if a.dated == b.dated:
        return la < fb
    gap = (fb - la) % 372
    return 0 < gap <= 186


def overlaps(a: Span, b: Span) -> bool:
    """``a`` and ``b`` share a day (an undated range past December also meets the next year's dates)."""
    (fa, la), (fb, lb) = _pair(a, b)
    if not (a.dated and b.dated):
        return any(fa <= lb + k and fb + k <= la for k in (-372, 0, 372))
    return fa <= lb and fb <= la
