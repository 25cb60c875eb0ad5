"""The words a manager reads for an issue: a title that is one complete sentence naming the thing and what it
means, and a summary of two to four sentences (what else the documents say, why it matters, who raised it or can
see it, what is still unknown). Written from the documents' own sentences, never from chatter.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from personas.context.facts import FIGURE, entity_keys, fact
from personas.context.passages import row_cells, row_split
from personas.runtime.links import EVIDENCE, shortfall

if TYPE_CHECKING:
    from insights.issues import Issue, Source

TITLE_MAX = 300
"""What an insight's title column holds: a longer title is cut to its main clauses, never mid-word."""
_FIRST_SINGULAR = re.compile(r"\b(?:I|I'm|I've|I'd|I'll|me|my|mine)\b")
_CHATTER = re.compile(r"^(?:same here|agreed|\+1|careful with|as a |i'd want|i think|key terms:|just to|fwiw|"
                      r"heads up|thanks)\b", re.IGNORECASE)
_DANGLING = re.compile(r"\b(?:the|a|an|of|for|to|on|in|at|by|with|and|or|but|from|about|as|than|that|is|are|"
                       r"was|were|includes?|including|contains?|such as|namely|following)\s*[.!?]$"
                       # (not a verb's own preposition: "provided for", "dealt with", "paid for")
                       r"(?<!\w\wed for\.)(?<!\w\wed with\.)(?<!paid for\.)(?<!dealt with\.)", re.IGNORECASE)
_TRUNCATED_STEM = re.compile(r"\b[a-z]+(?:ur|ir|ment|tion|ance|ence)?,\s*[a-z]+,\s*[a-z]+$")


def title_problems(title: str) -> list[str]:
    """What keeps ``title`` from being one complete sentence a manager can act on (empty when nothing)."""
    problems = []
    t = title.strip()
    if not t:
        return ["empty"]
    if not t[0].isupper() and not t[0].isdigit():
        problems.append("does not start with a capital")
    if t[-1] not in ".!?":
        problems.append("does not end a sentence")
    if _FIRST_SINGULAR.search(t):
        problems.append("first-person chatter")
    if _CHATTER.search(t):
        problems.append("chatter")
    if _DANGLING.search(t) or re.search(r"\s[.,;:]\s*$|\s\.$", t):
        problems.append("dangling word")
    if re.search(r",\s+(?:while|and|but|so)\s+(?:and|but|so|or)\b", t, re.IGNORECASE):
        problems.append("two link words in a row")
    if re.search(r"\bwhile (?:if|unless|when|because)\b[^,]*,\s+so\b", t, re.IGNORECASE):
        problems.append("a condition without its main clause")
    if re.search(r"\b(?:key terms|terms?):", t, re.IGNORECASE):
        problems.append("a list of terms, not a sentence")
    if len(t.split()) < 5:
        problems.append("too short to say anything")
    if len(t) > TITLE_MAX:
        problems.append("too long")
    return problems


def write(issue: Issue) -> tuple[str, str]:
    """The title and summary of ``issue``."""
    if len(issue.documents) > 1:
        return _linked(issue)
    return _single(issue)


_UNSAYABLE = frozenset({"empty", "first-person chatter", "chatter", "too short to say anything",
                        "a list of terms, not a sentence"})


def _single(issue: Issue) -> tuple[str, str]:
    """Title: the issue's main sentence. Summary: what else the document says about it, why it matters, who
    raised it and who holds it, and what is still unknown."""
    main = issue.sources[0]
    rest = issue.sources[1:]
    opening = main
    # a sentence too long for the title column is cut to fit (_fit); another sentence opens the title only when the
    # main one is no sentence at all, and then one of the issue's own kind
    if problems := [p for p in title_problems(_fit(sentence(main))) if p != "too long"]:
        # (a sentence of another kind only when the main one says nothing a title can: a neutral note is no title
        # for a risk)
        own = [s for s in rest if s.fact.kind == issue.kind]
        if set(problems) & _UNSAYABLE:
            own += [s for s in rest if s.fact.kind != issue.kind]
        alt = next((s for s in own if not title_problems(sentence(s))), None)
        if alt is not None:
            rest = [main, *[s for s in rest if s is not alt]]
            opening = alt
    title = _named(_fit(sentence(opening)), opening)
    if _clause(opening).lower() not in title.lower():
        rest = [opening, *rest]  # the title cut the sentence short: the reader gets it whole here
    parts = []
    if rest:
        parts.append(f"The {_doc(main)} also says{_under(main, title)}: " + "; ".join(_clause(s) for s in rest) +
                     ".")
    parts.append(_why(issue))
    parts.append(_capital(f"{_who(issue)}; {_unknown(issue)}") + ".")
    return title, " ".join(p for p in parts if p)


def _linked(issue: Issue) -> tuple[str, str]:
    """Title: "A, while B, so C." from the two linked sentences and what they mean together. Summary: what else
    each document says, why the pair matters, who put it together and who holds each half, what is unknown."""
    a = issue.sources[0]
    b = next(s for s in issue.sources if s.span[0] != a.span[0])
    stress = EVIDENCE.get(issue.relation)  # the cells of a row that carry what the pair means
    if stress is not None and issue.relation == "leaver" and issue.entity:
        # and the one who leaves: their cell in a matrix of people ("D. Walczak: 3")
        stress = re.compile(rf"{stress.pattern}|\b{re.escape(issue.entity.lower())}\b")
    first, second = _clause(a, limit=120, stress=stress), _clause(b, limit=110, stress=stress)
    consequence = issue.consequence.strip().rstrip(".")
    gap = shortfall(a.fact, b.fact) if issue.relation == "short-of-level" else None
    if gap is not None:
        # the figures say it: what is forecast, the level it misses, the day it is tested, and whose each is
        side, forecast, level, day, a_sets = gap
        if not a_sets:
            a, b, first, second = b, a, second, first
        title = f"{_capital(issue.entity or 'the figure')} is forecast at {forecast} for {day}, " \
                f"{'below' if side == 'floor' else 'above'} the {level} that the {_doc(a)} requires that day."
    else:
        title = _pair_title(a, b, first, second, consequence, stress)
    title = _fit(title)
    extra = [(src, [s for s in issue.sources[2:] if s.span[0] == src.span[0]]) for src in (a, b)]
    details = []
    for src, more in extra:
        said = [_detail(s) for s in more]
        if _clause(src) not in title:
            said.insert(0, _clause(src))  # the title cut this sentence short: the reader gets it whole here
        if said:
            details.append(f"the {_doc(src)} says{_under(src, title, more)}: " + "; ".join(said))
    parts = [_capital(", and ".join(details)) + "."] if details else []
    parts.append(_why(issue))
    who = _names(sorted(issue.linked_by - {""})) or "An agent"
    parts.append(f"{who} put the {_doc(a)} and the {_doc(b)} together because both concern {_surface(issue)}, "
                 f"which neither says on its own; {_who(issue)}.")
    parts.append(_capital(_unknown(issue)) + ".")
    return title, " ".join(p for p in parts if p)


_GENERIC_HEADINGS = frozenset(("summary", "overview", "notes", "other notes", "actions", "action items",
                               "background", "introduction", "next steps", "status", "results", "key points",
                               "other findings", "findings", "details", "comments", "general", "misc",
                               "miscellaneous", "purpose", "scope", "sign-off", "appendix"))


_POINTING = re.compile(r"^(?:they|their|theirs|it|its|he|she|his|her)\b", re.IGNORECASE)
_POINTS_BACK = re.compile(r"^(?:this|these|that|those|it|they|such)\b", re.IGNORECASE)


_ASIDE = re.compile(r"\s\([^()]{1,80}\)")


def _pair_title(a: Source, b: Source, first: str, second: str, consequence: str,
                stress: re.Pattern[str] | None = None) -> str:
    """"A, while B, so C.", each side cut until the whole fits; when a side is too long to cut, what the two mean
    together and then the shorter side."""
    if consequence and not consequence.lower().startswith("so "):
        consequence = "so " + consequence
    title = f"{_capital(first)}{_then(second)}" + (f", {consequence}" if consequence else "") + "."
    for la, lb in ((90, 80), (70, 60)):
        if len(title) <= TITLE_MAX:
            break
        title = f"{_capital(_clause(a, limit=la, stress=stress))}" \
                f"{_then(_clause(b, limit=lb, stress=stress))}" + \
            (f", {consequence}" if consequence else "") + "."
    if len(title) > TITLE_MAX:
        # register rows under long document titles: each row by its own name and first cell (a sentence with no
        # clause boundary early enough stays as short as an earlier try made it)
        first = min((first, _clause(a, limit=70, bare=True, stress=stress)), key=len)
        second = min((second, _clause(b, limit=60, bare=True, stress=stress)), key=len)
        title = f"{_capital(first)}{_then(second)}" + (f", {consequence}" if consequence else "") + "."
    if len(title) > TITLE_MAX:  # both sentences say it at length: the two facts, and the summary says why
        title = f"{_capital(first)}{_then(second)}."
        if len(title) > TITLE_MAX:
            first, second = _unbracketed(first), _unbracketed(second)
            title = f"{_capital(first)}{_then(second)}."
    if consequence and ", while " not in _fit(title) and _then(second)[:30] not in _fit(title):
        # a side too long to cut would push the other out of the title: what the two mean together, then the
        # shorter side; the summary gives both whole
        title = f"{_capital(consequence[3:])}: {min((first, second), key=len)}."
    return title


_SUBORDINATE = re.compile(r"^(?:since|because|although|though|when|whenever|if|unless|until|after|before|as|once|"
                          r"while|whereas)\b", re.IGNORECASE)


def _then(second: str) -> str:
    """The second side of a link's title after the first: ", while B", or ", and B" when B opens with a clause of
    its own ("..., and since the council withdrew its service in 2023, certificates have been signed ...")."""
    text = _lower_article(second)
    return f", and {text[:1].lower()}{text[1:]}" if _SUBORDINATE.match(text) else f", while {text}"


def _unbracketed(text: str) -> str:
    """``text`` without its bracketed asides ("(up to 60 hours a year)"), for a title pressed for room."""
    return _ASIDE.sub("", text)


def _named(title: str, src: Source) -> str:
    """A title that opens with a word pointing back ("Their process engineer said ...") opens instead with what its
    paragraph is about ("Kessock Bioenergy: their process engineer said ..."), when the paragraph names it."""
    f = src.fact
    if not _POINTING.match(title) or not f.topic or f.topic == f.text:
        return title
    key = next((k for k in entity_keys(f.topic) if " " in k), "")
    m = re.search(rf"(?<![\w-]){re.escape(key)}(?![\w-])", f.topic, re.IGNORECASE) if key else None
    if m is None or m.group(0).lower() in title.lower():
        return title
    return _fit(f"{m.group(0)}: {title[:1].lower()}{title[1:]}")


def _under(src: Source, title: str, shown: Sequence[Source] = ()) -> str:
    """", under <what the paragraph or section is about>" when that names something the title does not (``shown``:
    the side's other sentences the summary gives)."""
    f = src.fact
    label = ""
    topic = f.topic.strip().rstrip(".:")
    # the sentence that introduced a list or table may be longer: it says what every row is ("Financial covenant
    # tests, semi-annual on 30 June and 31 December:"); so may the line a sentence points back to ("This must be
    # signed by ..." after "Export health certificate for fish for Korea.")
    points = any(_POINTS_BACK.match(s.fact.text) and s.fact.topic == f.topic for s in (src, *shown))
    words = 20 if points else 12 if f.topic.strip().endswith(":") else 6
    if topic and len(topic.split()) <= words:
        label = topic
    elif f.heading and f.heading.lower() not in _GENERIC_HEADINGS and len(f.heading.split()) <= 8 and \
            (not f.path or f.heading != f.path[0]):
        label = f.heading
    if not label or label.lower() in title.lower():
        return ""
    return f", under {label}"


def _surface(issue: Issue) -> str:
    """The linked name as the documents write it."""
    key = issue.entity.strip()
    if not key:
        return "the same thing"
    for src in issue.sources:
        m = re.search(rf"(?<![\w-]){re.escape(key)}(?![\w-])", src.text, re.IGNORECASE)
        if m:
            return m.group(0)
    return key


# -- sentences from a document -----------------------------------------------------------------------------------

def sentence(src: Source) -> str:
    """A fact as a sentence: a prose sentence cleaned up, a table row read out ("The supplier register lists X
    with sourcing single, ...")."""
    return _capital(_clause(src)) + "."


def _clause(src: Source, short: bool = False, limit: int = 0, bare: bool = False,
            stress: re.Pattern[str] | None = None) -> str:
    """A fact as a clause without its final stop: prose as written (emphasis and wraps gone), a table row read
    out; ``short`` cuts a long sentence at its first clause boundary after the main point; ``bare`` reads a row
    by its name and first cell alone, without its document's title (for a title pressed for room); a row cut for
    room keeps first the cells ``stress`` finds (what a link's relation rests on: a leaver's fob and alarm code)."""
    text = re.sub(r"\s+", " ", src.text.strip().strip("*_`>")).strip()
    text = _NOTE.sub("", text)
    text = _OPENING_CONJUNCTION.sub("", text)  # "And it stays below the floor": the clause, not the link word
    text = text[:1].upper() + text[1:] if text[:1].islower() and src.text.strip()[:1].isupper() else text
    keep = 0  # a cut for room never falls inside what a row's reading opens with (a title may hold colons)
    if src.fact.unit == "row":
        parts = row_split(text)
        if parts:
            key, rest = parts
            cells = [c.strip() for c in row_cells(rest) if c.strip()]
            if _ROW_NUMBER.fullmatch(key) and cells and cells[0].partition(":")[2].strip():
                # "| 4 | Controlled drugs licence | ...": a number that counts the rows names nothing, nor does a
                # log's date; the row is what its next column lists
                key, cells = cells[0].partition(":")[2].strip(), cells[1:]
            if short or limit:
                # a title reads the first columns (two when the title is pressed for room); the summary gives the
                # whole row
                cells = _telling_cells(cells, 1 if bare else 2 if 0 < limit <= 90 else 4, stress)
            if short or limit:
                cells = [_telling_sentence(c, stress) for c in cells]  # a notes cell's sentence that says something
            read = [_cell(c) for c in cells if not _SEE.match(c.partition(":")[2].strip())]
            opening = key if bare else f"the {_doc(src)} lists {key}"
            keep = len(opening)
            text = f"{opening} with " + _names(read)
    text = text.rstrip(" .;:,")
    if (short or limit) and stress is not None and src.fact.unit != "row" and \
            (m := stress.search(text.lower())) is not None and m.start() < 160:
        # a sentence cut for room keeps what the link rests on, with the figure that follows it ("goods vehicles
        # not exceeding 3,500 kg"), not only its opening ("Vehicles covered: private cars")
        figure = None if any(c.isdigit() for c in m.group(0)) else _FIGURE_AFTER.match(text, m.end())
        held = figure.end() if figure else m.end()
        room = max(limit or 170, held + 20)
        cut = text.find(" and ", held, room)
        whole = _shorten(text, room, held)
        if len(text) > room and len(whole) == len(text) and cut > 0 and not _DANGLING.search(text[:cut] + ".") and \
                text[:cut].count("(") <= text[:cut].count(")"):
            # no clause boundary after what is kept: the next "and" ends the clause that holds it ("... a gross
            # weight of 8,600 kg and a payload of about 3,100 kg")
            return text[:cut].rstrip(" ,;:")
        return whole
    if short or limit:
        text = _shorten(text, max(limit or 170, keep + 20), keep)
    return text


_BY_PHRASE = re.compile(r"[a-z]+ed (?:or [a-z]+ed )?(?:by|to)\b(?! (?:the )?(?:board|committee|court)\b)")
_FIGURE_AFTER = re.compile(r"[^.;]{0,25}?[$£€]?\d[\d,.]*\s?(?:%|[a-zA-Z³/]+)?")


_LEADING = re.compile(r"^(?:because|since|as|although|though|while|after|when|once|with|under|following|"
                      r"given|due to|if|unless|in|on|at|for|from|by)\b[^,;:]{3,120}, ", re.IGNORECASE)
_PREDICATE = re.compile(r"(?:has|have|had|is|are|was|were|will|would|can|could|may|might|must|shall|should|does|"
                        r"do|did|[a-z]+ed)\b")
# an aside that closes with a comma and then the verb of the sentence it interrupts (", would be eligible")
_ASIDE_CLOSES = re.compile(r"^[^,;]{1,120}, (?:has|have|had|is|are|was|were|will|would|can|could|may|might|must|"
                           r"shall|should|does|do|did|said|says|called|asked|wrote|told|[a-z]+ed (?:to|that))\b")
_VERB = re.compile(rf"\b{_PREDICATE.pattern}")
_PARTICIPLE = re.compile(r"[a-z]+ing\b")
_RELATIVE = re.compile(r"(?:which|who|whom|whose|that|where)\b", re.IGNORECASE)
_OPENING_CONJUNCTION = re.compile(r"^(?:and|but|so|or|yet|also|then|separately|meanwhile|however|in addition|"
                                  r"additionally|moreover|furthermore)\b,?\s+", re.IGNORECASE)
_NOTE = re.compile(r"^(?:note|nb|n\.b\.)\s*[a-z0-9]{0,3}[.:]\s+", re.IGNORECASE)
_ROW_NUMBER = re.compile(r"(?:#|no\.?\s?)?\d{1,3}\.?|"
                         # a log's date column ("3 Feb", "14 January 2025", "2025-02-03"): when, not what
                         r"\d{1,2} (?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?(?: \d{4})?|"
                         r"\d{4}-\d\d-\d\d|\d{1,2}/\d{1,2}(?:/\d{2,4})?", re.IGNORECASE)
_SEE = re.compile(r"^(?:see (?:note|below|above)\b.*|-|n/a)$", re.IGNORECASE)


_SENTENCE_END = re.compile(r"(?<=[a-z0-9)])\. (?=[A-Z])")
_MONEY = re.compile(r"[$£€]\s?\d")


def _telling_sentence(cell: str, stress: re.Pattern[str] | None = None) -> str:
    """A "Column: value" cell with its value cut to one sentence: the one that holds what a link rests on
    (``stress``: "must not process more than 2,400 tonnes", not "Any increase requires a licence variation"), else
    the first that says something (a risk or an opening), else the first ("Notes: STN-W RFS moves from 29 Aug to
    mid-December", not its drilling method)."""
    head, colon, value = cell.partition(":")
    parts = _SENTENCE_END.split(value.strip()) if colon else [cell]
    if len(parts) == 1:
        return cell
    stressed = next((p for p in parts if stress is not None and stress.search(p.lower())), None)
    pick = stressed or next((p for p in parts if (f := fact(p)) is not None and (f.risk or f.opportunity) and
                             not (f.benign or f.assurance)), parts[0])
    return f"{head}: {pick}"


def _telling_cells(cells: list[str], n: int, stress: re.Pattern[str] | None = None) -> list[str]:
    """``n`` of a row's cells for a title: the first (what the row is), then those that say something (a notes
    cell read as a risk or an opening, a sum of money) before the rest. When the first cell says nothing of what is
    wrong and another does, that one leads, so a lease row pressed for room reads "notes Landlord's notice opposes
    the grant of a new tenancy", not "tenure Leasehold"."""
    if len(cells) <= n:
        return cells

    def says(i: int) -> float:
        head, colon, value = cells[i].partition(":")
        if not colon or len(head) > 40:
            return 0.0  # the rest of a notes cell that held a semicolon, not a column of its own
        f = fact(value)
        said = 0.0 if f is None else 3.0 if f.kind != "neutral" else 2.0 if f.risk or f.opportunity else 0.0
        return said + bool(_MONEY.search(value)) + (2.5 if stress is not None and stress.search(cells[i].lower())
                                                    else 0.0)

    ranked = sorted(range(1, len(cells)), key=lambda i: (-says(i), i))
    if says(ranked[0]) >= 2 > says(0):
        # the cell that says what is wrong or on offer comes first when the first cell says nothing of it (a cut
        # for room keeps what comes first); pressed for room, it stands alone
        return [cells[ranked[0]]] if n <= 2 else [cells[i] for i in (ranked[0], 0, *sorted(ranked[1:n - 1]))]
    if n == 1 or says(ranked[0]) < 2:
        return cells[:n]  # nothing stands out: the first columns, in order
    return [cells[i] for i in sorted((0, *ranked[:n - 1]))]


def _cell(cell: str) -> str:
    head, sep, value = cell.partition(":")
    if not sep:
        return cell
    head, value = head.strip(), value.strip()
    if value.lower() in ("yes", "true"):
        return head.lower()
    if _CURRENCY_HEAD.fullmatch(head):
        # a column named only by its currency ("£", "£000"): the value says it ("£61,300", not "£ £61,300")
        return value if re.match(r"[$£€]", value) else f"{head}{value}" if len(head) == 1 else f"{head} {value}"
    acronym = head[1:2].isupper()  # "TA ref", "MOT due": an acronym keeps its capitals
    named = _PERSON_HEAD.match(head) is not None  # "D. Walczak": a person's initial keeps its capital
    return f"{head if acronym or named else head[:1].lower() + head[1:]} {value}"


_PERSON_HEAD = re.compile(r"[A-Z]\.\s?[A-Z]")
_CURRENCY_HEAD = re.compile(r"[$£€]|[$£€]?(?:000|k|m)|\([$£€]?(?:000|k|m)?\)", re.IGNORECASE)


def _detail(src: Source) -> str:
    """A supporting sentence for a summary, cut for room unless the cut would drop the figures it carries."""
    short, whole = _clause(src, limit=220), _clause(src)
    if len(whole) <= 400 and FIGURE.search(whole[len(short):]) and not FIGURE.search(short):
        return whole
    return short


def _shorten(text: str, limit: int, keep: int = 0) -> str:
    """``text`` cut to at most about ``limit`` characters at a clause boundary (never mid-word, never leaving a
    dangling word, never within its first ``keep`` characters); short text is returned as it is."""
    if len(text) <= limit:
        return text
    lead = _LEADING.match(text) if not keep else None
    if lead and _ASIDE_CLOSES.match(text[lead.end():]):
        lead = None  # "On 3 May the controller, Rick Baran, called": the opening holds the subject, not a setting
    if lead and _RELATIVE.match(text[lead.end():]):
        lead = None  # "On 6 October the directors applied to the court, which is ...": the opening is the sentence
    if lead and _PARTICIPLE.match(text[lead.end():]):
        lead = None  # "From 13 October Crew C moves onto X, working through the list": the opening is the sentence
    if lead and len(text[lead.end():].split()) >= 6:
        # "Because the engineers are busy until January, the work moves to Q2": the main clause says it
        rest = text[lead.end():]
        return _shorten(rest[:1].upper() + rest[1:], limit)
    for sep in ("; ", ": ", " — ", " - ", ", which ", ", because ", ", so that ", ", and ", ", but ", ", while ",
                ", after ", ", with ", ", as "):
        cut = text.rfind(sep, 0, limit)
        if cut > max(limit // 3, keep):
            out = text[:cut].rstrip(" ,;:")
            if sep.startswith(", ") and _ASIDE_CLOSES.search(text[cut + len(sep):]):
                continue  # an aside ("X, with Y, would be eligible"): the verb after it is the sentence's own
            if out.count("(") > out.count(")"):
                continue  # inside brackets: the cut would leave one open
            if sep == ": " and (len(re.split(r"[,;] ", out)[-1].split()) < 4 or
                                not _PREDICATE.search(re.split(r"[,;] ", out)[-1])):
                continue  # "..., while IT tasks: route ...": what stands before the colon is a label, not a clause
            if sep in (" — ", " - ") and not _PREDICATE.search(re.split(r"[,;] ", out)[-1]):
                continue  # "..., while the Supplier register — folding cartons lists": a dash inside a title
            if not _DANGLING.search(out + "."):
                return out
    # last resort: the first comma after which nothing dangles and before which a sentence stands (not a name and
    # its apposition, whose verb comes after the comma: "Ravenhill, the studio making the series, has asked"), and
    # with a verb before it (in "Spare capacity on the current two-shift, five-day pattern is ..." the comma is
    # inside the subject)
    cut = text.rfind(", ", 0, limit)
    if cut > max(limit // 2, keep) and len(text[:cut].split()) >= 6 and not _DANGLING.search(text[:cut] + ".") and \
            (not _PREDICATE.match(text[cut + 2:]) or _BY_PHRASE.match(text[cut + 2:])) and \
            text[:cut].count("(") <= text[:cut].count(")") and _VERB.search(text[:cut]):
        # (", owned by or hired to the insured" qualifies what stands before it; the sentence stands without it)
        return text[:cut]
    return text  # no clause ends early enough: the whole sentence, never a fragment


def _fit(title: str) -> str:
    title = re.sub(r"\s+", " ", title).strip()
    if len(title) > TITLE_MAX:
        # too long for the title column: its main clauses, cut at a clause boundary (the summary has it whole)
        title = _shorten(title.rstrip(".!? "), TITLE_MAX - 1)
        if len(title) > TITLE_MAX - 1:
            cut = max(title.rfind(", ", 0, TITLE_MAX - 1), title.rfind("; ", 0, TITLE_MAX - 1))
            title = title[:cut] if cut > TITLE_MAX // 2 else title[:title.rfind(" ", 0, TITLE_MAX - 1)]
            while _DANGLING.search(title + "."):
                title = title[:title.rfind(" ")]
        title = title.rstrip(" ,;:")
    if title and title[-1] not in ".!?":
        title += "."
    return title


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


_ARTICLES = frozenset((
    "the", "a", "an", "this", "that", "these", "those", "our", "its", "their", "each", "every", "all", "some", "no",
    "one", "there", "it", "if", "after", "before", "since", "when", "at", "in", "on", "for", "from", "under", "with",
    "over", "during", "because", "as", "by", "until", "although", "while", "we", "they",
))


def _lower_article(text: str) -> str:
    """``text`` to follow a comma: an opening article or preposition loses its capital, a name keeps it."""
    first = text.split(" ", 1)[0]
    if first[1:2].isupper():
        return text  # "IT", "AN-4": an acronym or a code, not "It" or "An"
    return text[:1].lower() + text[1:] if first.lower() in _ARTICLES else text


def _doc(src: Source) -> str:
    """The document as a noun phrase to follow "the" or stand alone: its title as written, without its own
    article."""
    title = re.sub(r"^(?:the|a|an)\s+", "", src.doc_title.strip(), flags=re.IGNORECASE)
    return title or "document"


def _names(items: Sequence[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


# -- why it matters, who knows, what is unknown ----------------------------------------------------------------------

_WHY_RISK = (
    ("risk.single", "There is no second source or backup, so one failure stops what depends on it."),
    ("risk.safety", "It touches safety, where harm and regulatory action follow quickly."),
    ("risk.compliance", "It carries legal or regulatory exposure: penalties, lost approvals or claims."),
    ("risk.concentration", "A large share of the business rides on it."),
    ("risk.security", "It leaves a way in for misuse or loss of data or money."),
    ("risk.exposure", "Revenue or payment is at stake."),
    ("risk.end", "Something the business relies on ends on a date, and nothing in the documents replaces it."),
    ("risk.capacity", "Demand can outrun what is available."),
    ("risk.outage", "It takes something out of service that others rely on."),
    ("risk.supply", "Supply is short or slow to arrive."),
    ("risk.late", "It is late against a date others depend on."),
    ("risk.loss", "It costs revenue, customers or money that cannot be recovered."),
    ("risk.failure", "Something is failing, and the failures have a cost."),
)
_WHY_OPP = (
    ("opp.use-or-lose", "The benefit lapses unless someone acts before the date."),
    ("opp.rival", "A competitor's trouble leaves its customers looking elsewhere."),
    ("opp.demand", "Customers are asking for it, so there is revenue to win."),
    ("opp.unused", "Something already paid for sits unused and could earn or save money."),
    ("opp.saving", "Money could be saved or recovered."),
    ("opp.growth", "It opens revenue the business does not have today."),
)
_WHY_LINK = {
    "contradiction": "One document reassures where the other shows trouble, so someone is working from the wrong "
                     "picture.",
    "demand-vs-capacity": "The demand one team expects meets a limit another team has set.",
    "dependency": "What one team relies on is in trouble in another team's records.",
    "short-of-level": "A figure one team forecasts misses a level another team's covenant, licence or contract "
                      "tests on that day.",
    "undercut": "One team is changing something another team has made a claim, a licence or a commitment on.",
    "breach": "One team's records show it doing what another team's rule forbids.",
    "leaver": "Someone one team's records show leaving still holds access, or a certificate the work needs, in "
              "another team's records.",
    "threshold": "One team's figure passes the level at which another team's contract pays money back, and a "
                 "rebate nobody claims is lost.",
    "consolidate": "Spend another team places with a second supplier for the same goods would, moved, take the year "
                   "past the tier at which the contracted supplier pays a rebate on all of it.",
    "uninsured": "What one team does falls under an exclusion or condition of another team's insurance, so a loss "
                 "from it would not be paid.",
    "over-limit": "One team's figure for a thing is above the limit another team has set or insured for it.",
    "sunk": "One team plans to spend money on something another team's records say may end before it pays back.",
    "obligation": "A commitment made in one place is put at risk by what happens in another.",
    "timing": "The date one team needs something falls before the date another team will have it.",
    "exposure": "One team is growing the business with a counterparty another team already sees in difficulty.",
    "demand-meets-supply": "What one team has on hand answers what another team's customers ask for.",
    "unplanned": "Customers ask one team for something that another team's plans leave out.",
    "compound": "Each team holds half of the picture.",
}


def _why(issue: Issue) -> str:
    if len(issue.documents) > 1 and issue.relation in _WHY_LINK:
        return _WHY_LINK[issue.relation]
    cues = {c for s in issue.sources for c in s.fact.cues}
    table = _WHY_RISK if issue.kind == "risk" else _WHY_OPP
    return next((why for cue, why in table if cue in cues), "")


def _who(issue: Issue) -> str:
    """Who raised it, where, and which teams hold the documents (a clause)."""
    roles = sorted(set().union(*(s.roles for s in issue.sources)) - {""})
    depts = sorted(set().union(*(s.departments for s in issue.sources)) - {""})
    channels = sorted(set().union(*(s.channels for s in issue.sources)) - {""})
    held = _names(sorted({s.doc_department for s in issue.sources if s.doc_department}))
    if not roles:
        return f"it sits in documents held by {held or 'one team'} and has not been raised in any channel yet"
    who = _names(roles[:4]) + (" and others" if len(roles) > 4 else "")
    where = f" in {', '.join('#' + c for c in channels[:3])}" if channels else ""
    return f"raised by {who}{where} ({_names(depts[:4]) or 'no department'}), from documents held by " \
           f"{held or 'one team'}"


def _unknown(issue: Issue) -> str:
    """What the documents do not say (a clause)."""
    cues = {c for s in issue.sources for c in s.fact.cues}
    if len(issue.documents) > 1:
        return "still unknown: whether the two teams know of each other's plans, and who owns the answer"
    if issue.kind == "opportunity":
        if "deadline" in cues or "opp.use-or-lose" in cues:
            return "still unknown: who will act before the deadline, and what it is worth in full"
        return "still unknown: who would own it and what it is worth"
    if "gap" in cues:
        return "still unknown: who owns the fix"
    if any(s.fact.dates for s in issue.sources):
        return "still unknown: whether anyone has a plan before that date"
    return "still unknown: who owns it and whether a fix is planned"
