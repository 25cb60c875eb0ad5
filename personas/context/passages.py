"""The structure of a business document: its headings, sentences, list items and table rows with exact character
offsets (Markdown or plain text, hard-wrapped or not), and passages cut between them for reading and retrieval.
Pure functions; what a sentence *states* is :mod:`personas.context.facts`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CHUNK_MIN = 500
CHUNK_MAX = 800

_ABBREV = frozenset(("e.g.", "i.e.", "etc.", "vs.", "approx.", "no.", "nos.", "inc.", "ltd.", "co.", "corp.", "st.",
                     "dr.", "mr.", "mrs.", "ms.", "jan.", "feb.", "mar.", "apr.", "jun.", "jul.", "aug.", "sep.",
                     "sept.", "oct.", "nov.", "dec.", "fig.", "est.", "dept.", "u.s.", "u.k.", "a.m.", "p.m.", "p.e.",
                     "ph.d.", "jr.", "sr.", "bros.", "vol.", "ref.", "para.", "art.", "sec.", "rev.", "incl.",
                     "excl.", "min.", "max.", "avg.", "qty.", "cf.", "al.", "pp.", "ch.", "nr.", "tel.", "ext.",
                     "mt.", "ft.", "sq.", "govt.", "int'l.", "mgmt.", "yr.", "yrs."))
_END = re.compile(r"[.!?][\"'”’)\]*]*(?=\s+[\"'“‘(\[*]*[A-Z0-9$£€])")
_HEADING = re.compile(r"#{1,6}\s+")
_ITEM = re.compile(r"(?:[-*+•]|\d{1,3}[.)])\s+")
_TABLE_RULE = re.compile(r"\|?\s*:?-{2,}")
_EMPHASIS = re.compile(r"\*\*|__|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w)|`")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Unit:
    """A sentence of prose or a list item, or a table row, with its offsets in the text (``text[start:end]``) and
    what it says as plain words (``statement``: markdown marks and line wraps gone; a table row as "first cell
    (Header: value; ...)"). ``heading`` is the section it sits in, ``topic`` the opening sentence of its paragraph."""

    start: int
    end: int
    statement: str
    kind: str  # sentence | row | heading
    heading: str = ""
    topic: str = ""
    block: int = 0  # units of one paragraph, list item or table share it
    path: tuple[str, ...] = ()  # the headings it sits under, outermost (the document's title) first


def plain(text: str) -> str:
    """``text`` as plain words: markdown emphasis and code marks removed, whitespace collapsed."""
    return _SPACE.sub(" ", _EMPHASIS.sub("", text)).strip()


def units(text: str) -> list[Unit]:
    """Headings, sentences and table rows of a Markdown or plain-text document, in order, with exact offsets.
    Paragraphs may be hard-wrapped: a sentence runs across line breaks until ``. ! ?`` and a capital; a line that
    opens with a list or heading mark, a table row or a blank line starts a new block. The items of a list and the
    rows of a table that a sentence ending in ":" introduces take that sentence as their ``topic``."""
    out: list[Unit] = []
    heading = ""
    path: list[tuple[int, str]] = []  # (level, heading) of the enclosing sections
    lines = text.splitlines(keepends=True)
    offsets = []
    pos = 0
    for ln in lines:
        offsets.append(pos)
        pos += len(ln)
    i = 0
    blockno = 0
    header: list[str] = []
    lead = ""  # the sentence that introduced the list or table being read ("... are:")
    while i < len(lines):
        raw = lines[i].rstrip("\r\n")
        stripped = raw.strip()
        indent = len(raw) - len(raw.lstrip())
        if not stripped:
            if header:
                blockno += 1
                lead = ""
            header = []
            i += 1
            continue
        outline = tuple(h for _, h in path)
        if stripped.startswith("|"):
            cells = [plain(c) for c in stripped.strip("|").split("|")]
            if _TABLE_RULE.match(stripped):
                i += 1
                continue
            nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
            if not header and _TABLE_RULE.match(nxt):
                header = cells
                i += 1
                continue
            s = offsets[i] + indent
            out.append(Unit(s, s + len(stripped), _row(cells, header), "row", heading, lead, blockno, outline))
            i += 1
            continue
        if header:
            blockno += 1
            lead = ""
        header = []
        m = _HEADING.match(stripped)
        if m:
            heading = plain(stripped[m.end():]).rstrip(":")
            level = len(m.group(0).strip())
            while path and path[-1][0] >= level:
                path.pop()
            path.append((level, heading))
            lead = ""
            s = offsets[i] + indent + m.end()
            out.append(Unit(s, offsets[i] + indent + len(stripped), heading, "heading", heading, "", 0,
                            tuple(h for _, h in path)))
            i += 1
            continue
        # a block: this line and its continuation lines (not blank, not a new item, heading or table row)
        item = _ITEM.match(stripped)
        if not item:
            lead = ""
        body_start = offsets[i] + indent + (item.end() if item else 0)
        j = i + 1
        while j < len(lines):
            nxt = lines[j].strip()
            if not nxt or nxt.startswith("|") or _HEADING.match(nxt) or _ITEM.match(nxt):
                break
            j += 1
        block_end = offsets[j - 1] + len(lines[j - 1].rstrip("\r\n"))
        blockno += 1
        first = len(out)
        _sentences(text, body_start, block_end, heading, out, blockno, outline, lead if item else "")
        if not item and len(out) > first and out[-1].statement.endswith(":"):
            lead = out[-1].statement
        blockno += 1
        i = j
    return out


def _row(cells: list[str], header: list[str]) -> str:
    cells = [c for c in cells]
    first = cells[0] if cells else ""
    rest = []
    for k, c in enumerate(cells[1:], start=1):
        if not c or c in ("-", "—", "n/a"):
            continue
        h = header[k] if k < len(header) else ""
        rest.append(f"{h}: {c}" if h else c)
    if header and first and header[0]:
        first = f"{first}" if not rest else first
    return f"{first} ({'; '.join(rest)})" if rest else first


def row_split(statement: str) -> tuple[str, str] | None:
    """(first cell, other cells) of a row read as "first cell (Header: value; ...)" (:func:`_row`'s reading),
    matched from the end so that a bracket in the first cell stays in it ("Tanner's Gold (GA-01) (Claims: ...)");
    ``None`` when ``statement`` is no such reading."""
    if not statement.endswith(")"):
        return None
    depth = 0
    for i in range(len(statement) - 1, -1, -1):
        depth += (statement[i] == ")") - (statement[i] == "(")
        if depth == 0:
            key = statement[:i].rstrip()
            return (key, statement[i + 1:-1]) if key and i > 0 and statement[i - 1] == " " else None
    return None


def row_cells(cells: str) -> list[str]:
    """The "Header: value" cells of a row's other cells, split at semicolons outside brackets."""
    out, depth, cur = [], 0, ""
    for ch in cells:
        depth += (ch == "(") - (ch == ")")
        if ch == ";" and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    return [*out, cur]


def _sentences(text: str, start: int, end: int, heading: str, out: list[Unit], block: int,
               path: tuple[str, ...] = (), topic: str = "") -> None:
    body = text[start:end]
    cut = 0
    pieces: list[tuple[int, int]] = []
    for m in _END.finditer(body):
        stop = m.end()
        words = body[cut:stop].split()
        last = words[-1].lower().strip("*_\"'”’()[]") if words else ""
        if last in _ABBREV or re.fullmatch(r"(?:[a-z]\.){2,4}", last) or re.fullmatch(r"[a-z]\.", last):
            continue
        pieces.append((cut, stop))
        cut = stop
    pieces.append((cut, len(body)))
    for a, b in pieces:
        seg = body[a:b]
        lead = len(seg) - len(seg.lstrip())
        seg = seg.strip()
        if not seg:
            continue
        s = start + a + lead
        statement = plain(seg)
        out.append(Unit(s, s + len(seg), statement, "sentence", heading, topic, block, path))
        if not topic:
            topic = statement


_BLANK = re.compile(r"\n[ \t]*\n")
_CUT = re.compile(r"[.!?][\"'”’)\]]*\s+|\n")


def chunk_spans(text: str, lo: int = CHUNK_MIN, hi: int = CHUNK_MAX) -> list[tuple[int, int]]:
    """Passages of about ``lo``-``hi`` characters as exact slices ``(start, end)`` of ``text``: cut between blocks
    (blank lines), a long block after a sentence, else at a line break, else at a space; small neighbours are
    joined so that a passage carries context. ``text[start:end]`` is the passage, so offsets into a passage map
    back onto the document by adding its start."""
    blocks: list[tuple[int, int]] = []
    pos = 0
    for m in _BLANK.finditer(text):
        blocks.append((pos, m.start()))
        pos = m.end()
    blocks.append((pos, len(text)))
    pieces: list[tuple[int, int]] = []
    for a, b in blocks:
        a, b = _trim(text, a, b)
        table = re.search(r"^\|", text[a:b], re.MULTILINE) is not None
        while b - a > hi:
            window = text[a : a + hi]
            if table:
                # a table is cut between rows only: a row split in two is read by no passage whole
                lines = [m.end() for m in re.finditer(r"\n", window) if m.end() > hi // 3]
                nxt = text.find("\n", a + hi, b)
                cut = lines[-1] if lines else (nxt + 1 - a if nxt >= 0 else b - a)
                pieces.append(_trim(text, a, a + cut))
                a, b = _trim(text, a + cut, b)
                continue
            cuts = [m.end() for m in _CUT.finditer(window) if m.end() > hi // 3]
            space = window.rfind(" ")
            cut = cuts[-1] if cuts else (space if space > hi // 3 else hi)
            pieces.append(_trim(text, a, a + cut))
            a, b = _trim(text, a + cut, b)
        if b > a:
            pieces.append((a, b))
    out: list[tuple[int, int]] = []
    for a, b in pieces:
        if out and out[-1][1] - out[-1][0] < lo and b - out[-1][0] <= hi:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def chunk_text(text: str, lo: int = CHUNK_MIN, hi: int = CHUNK_MAX) -> list[str]:
    """The passages of :func:`chunk_spans` as strings."""
    return [text[a:b] for a, b in chunk_spans(text, lo, hi)]
