"""What a business document states: its claim-bearing sentences and table rows (figures, dates, dependencies,
capacities, obligations, changes, risk and opportunity cues) with exact character offsets, the entities they name,
a kind (risk, opportunity, neutral) and a severity. Pure functions of the text; generic business vocabulary only,
nothing about any one company.
"""

from __future__ import annotations

import bisect
import functools
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from personas.context.dates import first_day
from personas.context.lexicon import (
    BAD_METRIC,
    CEILING_WORDS,
    CONDITIONS,
    CUES,
    EXCLUDES,
    FLOOR_WORDS,
    GOOD_METRIC,
    INSURANCE,
    NEGATED,
    triggers,
    word_starts,
)
from personas.context.passages import Unit, row_cells, row_split, units
from workspace.text import STOPWORDS, stem

# -- cues (the lexicon lives in personas.context.lexicon) --------------------------------------------------------

_COMPILED = tuple((cat, w, re.compile(rf"\b(?:{p})(?:(?<=\W)|(?!\w))")) for cat, w, p in CUES)
_TRIGGERS = tuple(triggers(p) for _, _, p in CUES)  # skip a cue none of whose first words the sentence has
_POLAR = frozenset({"risk.rise", "risk.fall"})
_DAMPENERS = frozenset({"benign", "assurance"})

_RIVAL = re.compile(r"\b(?:competitors?|rivals?|competing|competition)\b")
# someone of ours going to a competitor: our loss, not the competitor's trouble ("Resignation, joining a competitor")
_TO_RIVAL = re.compile(r"\b(?:join(?:s|ing|ed)?|mov(?:e|es|ing|ed) to|left for|leav(?:e|es|ing) for|gone to|"
                       r"going to|poached by|recruited by|hired by) (?:a |an |the |one )?(?:[\w-]+ )?"
                       r"(?:competitors?|rivals?)\b")
_RIVAL_FLIPS = frozenset({"risk.end", "risk.failure", "risk.outage", "risk.supply", "risk.compliance"})
# "Rejected: 0", "Open: none": a table cell that counts nothing states nothing
_ZERO_CELL = re.compile(r"(?:(?<=[(;])|^)\s*[^:;()]{1,80}:\s*(?:0|none|nil|no|n/a|-|—|nothing(?: (?:notified|"
                        r"reported|received|raised|recorded|to report))?(?: (?:this|last|in the) (?:quarter|month|year|"
                        r"period))?)(?: as (?:at|of) [^;)]*)?"
                        r"\s*(?=[;).]|$)")
_TYPE_CELL = re.compile(r"((?:(?<=[(;])|^)\s*(?:[a-z]+ )?(?:type|category|class|kind|sector|segment|format)\s*:)"
                        r"([^;)]*)")
# the day a document speaks for ("Review date: 25 October 2024", "As at 31 January"), and a date something is due
_AS_OF = re.compile(r"\b(?:as at|as of|review date|report date|reporting date|updated|last updated|dated|issued|"
                    r"prepared|date)\b\W{0,4}", re.IGNORECASE)
_DUE_AT = re.compile(r"\b(?:next (?:due|inspection|examination|service|test|review|check|calibration)|due(?: date)?|"
                     r"expir(?:es|y|y date)|valid (?:until|to)|renewal due|review due)\b\W{0,4}(?:on |by )?")
_CHECKED = re.compile(r"\b(?:inspect\w*|examin\w*|tests?|tested|certificat\w*|licen[cs]e\w*|calibrat\w*|mot|"
                      r"loler|pat|permit\w*|registration)\b")
_OUT_OF_USE = re.compile(r"\b(?:renewed|completed|booked|passed|withdrawn|out of (?:service|use)|quarantined|"
                         r"scrapped|disposed|decommissioned|removed|returned|cancelled|closed|sold)\b")


def _as_of(text: str) -> int | None:
    """The day a document speaks for: a date its opening lines give as its review, report or as-at date."""
    for m in _AS_OF.finditer(text[:800]):
        day = first_day(text[m.end():m.end() + 40])
        if day is not None:
            return day
    return None


def _overdue(low: str, as_of: int) -> bool:
    """The sentence or row gives a due, expiry or next-inspection date before the document's own date, and says
    nothing of the thing being done, renewed or taken out of use."""
    if _OUT_OF_USE.search(low):
        return False
    for m in _DUE_AT.finditer(low):
        day = first_day(low[m.end():m.end() + 40])
        if day is not None and day < as_of:
            return True
    return False


# an item a list counts as nil ("temperature excursion nil, recall nil")
_ZERO_ITEM = re.compile(r"(?<=[(,;])\s*[a-z][a-z /-]{1,40}? (?:nil|none)(?=\s*[,;)]|\s*$)")
_METRIC_WINDOW = 60
_CELL = re.compile(r"(?:(?<=[(;])|^)(\s*[^:;()]{1,40}:)([^;)]*)")
_COUNT = re.compile(r"(?!(?:19|20)\d\d$)[1-9][\d,]*(?:\.\d+)?\s?%?")
# a register's grade of a row's risk or urgency at its top ("Classification: High", "RAG: Red", "Priority: Critical")
_HIGH_GRADE = re.compile(r"(?:^|[(;]\s*)(?:risk |residual |overall |inherent )?(?:classification|rating|risk|priority|"
                         r"severity|grade|rag(?: status| rating)?|level|criticality|urgency)(?: \([^)]{0,30}\))?\s*:\s*"
                         r"(?:very high|high|critical|severe|red|urgent|extreme|intolerable)\b(?![ -](?:street|road|"
                         r"st\b|school|court|level|quality|standard|season|street))")
# a column that states a saving to be had ("Estimated saving per year: $94,000"): its name says what the sum is
_SAVING_COLUMN = re.compile(r"(?=[^:]*\b(?:estimated|potential|possible|projected|expected|forecast|available|"
                            r"annual|per (?:year|annum)|a year|p\.a\.)\b)[^:]{0,25}\b(?:savings?|rebates?|refunds?)\b"
                            r"[^:]{0,25}:")
_SUM = re.compile(r"\s*(?:about |c\. ?|up to )?[$£€]\s?[1-9][\d,]*(?:\.\d+)?\s?(?:k|m|bn)?\b")

_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
# a month standing alone: "May" only with its capital, or "may" (as in "either party may terminate") is a date
_MONTHS_ALONE = _MONTHS.replace("|may|", "|(?-i:May)|")
FIGURE = re.compile(
    r"[$£€]\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:million|billion|thousand|[kmb]n?)\b)?|"
    r"\b\d[\d,]*(?:\.\d+)?\s?(?:%|percent\b|per ?cent\b)|"
    r"\b\d[\d,]*(?:\.\d+)?\s?(?:million|billion|thousand)\b|"
    r"\b\d{1,3}(?:,\d{3})+\b|\b\d+(?:\.\d+)?\s?(?:x|times|hours?|days?|weeks?|months?|years?|units?|pallets?|tons?|"
    r"tonnes?|kg|km|miles?|mwh|kwh|mw|kw|gallons?|litres?|liters?|people|staff|employees|customers|orders|"
    r"trucks?|aircraft|beds?|seats?|stores?|sites?|pumps?|lines?|shifts?)\b|"
    r"\b\d[\d,]*(?:\.\d+)?\s(?:[a-z][a-z-]+\s)?(?!(?:was|has|is|its|this|thus|plus)\b)[a-z]{2,}s\b|"
    r"\b\d[\d,]*(?:\.\d+)? (?:out )?of (?:the|them|these|those|our|its|all)\b",
    re.IGNORECASE)
_DATE = re.compile(
    rf"\b\d{{1,2}}(?:st|nd|rd|th)? (?:{_MONTHS})\b|"
    rf"\b(?:{_MONTHS_ALONE})(?: \d{{1,2}}(?:st|nd|rd|th)?)?(?:,? \d{{4}})?\b|"
    r"\bq[1-4]\b|\b(?:fy|h[12])\s?\d{2,4}\b|\b(?:19|20)\d{2}\b|\bweek \d{1,2}\b|"
    r"\b(?:end|start|beginning|middle) of (?:the )?(?:month|quarter|year|season)\b|\bnext (?:week|month|quarter|"
    r"year)\b",
    re.IGNORECASE)

# -- entities ---------------------------------------------------------------------------------------------------

_CODE = re.compile(r"\b(?:[A-Z]{1,6}-?\d+[A-Za-z0-9]*(?:-[A-Z0-9]+)*|\d+[A-Z]{1,4}\d*|[A-Z]{2,}\d*[a-z]?)\b")
_VERSION = re.compile(r"\b(?:v|version )?\d+\.\d+(?:\.\d+)+\b", re.IGNORECASE)
_NUMBER_RANGE = re.compile(r"(?<![\w.,£$€-])(\d{4,6})\s?[–-]\s?(\d{4,6})(?![\w.,%-])")
_NAME_RUN = re.compile(r"[A-Z][\w'’&.-]*(?:\s+(?:of|&|de|la|du|van|von)?\s*[A-Z0-9][\w'’&.-]*)*")
_SUFFIX = re.compile(r"(?:'s|’s|s')$")
_ORDINAL = re.compile(r"\d+(?:st|nd|rd|th)?[.,]?")
_CORP = frozenset((
    "inc", "ltd", "llc", "plc", "gmbh", "corp", "co", "company", "corporation", "limited", "group", "holdings",
    "ag", "sa", "nv", "bv", "pty",
))
# words that end many companies' names besides their legal form ("Brava Foods", "Kestrel IT Services"): no company
# of their own when they stand alone
TRADE_WORDS = _CORP | frozenset((
    "foods", "food", "services", "service", "partners", "solutions", "systems", "industries", "logistics",
    "international", "enterprises", "trading", "associates", "consulting", "technologies", "analytical", "supplies",
    "products", "engineering", "construction", "energy", "foundation", "trust", "bank", "capital", "ventures", "labs",
    "mutual", "insurance", "assurance", "holdings", "group", "brothers", "sons",
))
# Capitalised words that name no particular thing (sentence openers, calendar words, titles, generic nouns).
_COMMON_CAPS = frozenset((
    "a", "an", "the", "this", "that", "these", "those", "it", "its", "our", "we", "they", "their", "there", "here",
    "he", "she", "his", "her", "i", "in", "on", "at", "by", "for", "from", "to", "of", "and", "or", "but", "if",
    "when", "while", "after", "before", "during", "since", "until", "as", "with", "without", "per", "all", "any",
    "each", "every", "everyone", "everybody", "everything", "some", "most", "many", "more", "less", "no", "not",
    "none", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty", "thirty", "forty",
    "fifty", "hundred", "dozen", "half", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
    "sunday", "today", "tomorrow", "yesterday", "january", "february", "march", "april", "may", "june", "july",
    "august", "september", "october", "november", "december", "q1", "q2", "q3", "q4", "fy", "h1", "h2", "mr", "mrs",
    "ms", "dr", "prof", "st", "note", "notes", "summary", "overview", "background", "status", "update", "action",
    "actions", "item", "items", "next", "total", "totals", "table", "section", "appendix", "page", "figure", "see",
    "also", "yes", "ok", "new", "old", "current", "last", "first", "second", "third", "final", "other", "team",
    "teams", "department", "management", "board", "staff", "company", "customer", "customers", "supplier",
    "suppliers", "site", "sites", "plan", "plans", "report", "reports", "review", "reviews", "meeting", "minutes",
    "agenda", "purpose", "scope", "owner", "owners", "date", "dates", "risk", "risks", "issue", "issues", "cost",
    "costs", "budget", "revenue", "sales", "finance", "operations", "quality", "safety", "service", "week", "weeks",
    "month", "months", "quarter", "quarters", "year", "years", "day", "days", "time",
    # quantity words that open a sentence before a figure ("Average 41 bags a week")
    "average", "about", "around", "approximately", "approx", "nearly", "almost", "roughly", "median", "mean",
    "maximum", "minimum", "over", "under", "up", "down", "just", "only", "another", "estimated", "net", "gross",
    "peak", "around", "some", "between", "below", "above", "less", "fewer", "least", "most",
    # words that open a section's heading ("Key conditions", "Main terms"), not a name
    "key", "main", "general", "important", "major", "minor", "principal", "terms", "conditions",
    # linking adverbs and labels that open a sentence ("However, the 2,340 customers ...", "Planned fix: ...")
    "however", "meanwhile", "additionally", "therefore", "separately", "instead", "otherwise", "overall",
    "planned", "testing",
))


@functools.lru_cache(maxsize=65_536)
def entity_keys(text: str) -> tuple[str, ...]:
    """Normalised keys of the named things in ``text``: codes (PS-40), versions, capitalised name runs, and each
    distinctive word of a multi-word name ("Kestrel Refrigeration Ltd" -> "kestrel refrigeration", "kestrel",
    "refrigeration"). Keys are lower-case, without possessives and company suffixes."""
    keys: list[str] = []
    for m in _VERSION.finditer(text):
        keys.append(m.group(0).lower().removeprefix("version ").removeprefix("v"))
    for m in _NUMBER_RANGE.finditer(text):
        a, b = int(m.group(1)), int(m.group(2))
        if a < b <= a + 999 and not (1900 <= a <= 2100 and 1900 <= b <= 2100):
            keys.append(f"{m.group(1)}-{m.group(2)}")  # fleet or asset numbers "7101-7109", not years
    for m in _CODE.finditer(text):
        tok = m.group(0)
        if tok.lower() in _COMMON_CAPS or tok.isdigit():
            continue
        keys.append(tok.lower())
    for m in _NAME_RUN.finditer(text):
        words = [w for w in re.split(r"\s+", m.group(0)) if w]
        # a date before a name is no part of it: "From 13 October Crew C moves" names "Crew C"
        while words and (words[0].lower() in _COMMON_CAPS or words[0].lower() in ("of", "and", "&", "the") or
                         _ORDINAL.fullmatch(words[0])):
            words = words[1:]
        while words and (words[-1].lower().rstrip(".") in _CORP or words[-1].lower() in ("of", "and", "&", "the")):
            words = words[:-1]
        clean = [_SUFFIX.sub("", w).strip(".,'’") for w in words]
        clean = [w for w in clean if w]
        if not clean:
            continue
        caps = [w for w in clean if w[:1].isupper() or w[:1].isdigit()]
        distinct = [w.lower() for w in caps if w.lower() not in _COMMON_CAPS and len(w) >= 3 and not w.isdigit()]
        if len(clean) > 1 and distinct:
            keys.append(" ".join(w.lower() for w in clean))
        keys.extend(distinct)
    return tuple(dict.fromkeys(k for k in keys if k))


_WORD = re.compile(r"[a-z][a-z0-9-]{2,}")
_GENERIC = frozenset((
    "among", "across", "within", "without", "upon", "onto", "toward", "towards", "around", "already", "since",
    "last", "next", "week", "weeks", "month", "months", "year", "years", "quarter", "day", "days", "time", "times",
    "total", "number", "numbers", "new", "old", "current", "first", "second", "third", "four", "five", "six",
    "seven", "eight", "nine", "ten", "hundred", "thousand", "million", "billion", "percent", "must",
    # function words no stop list holds: "whether" shared by two questions is no shared subject
    "whether", "either", "neither", "together", "rather", "however", "whatever", "whenever", "wherever", "another",
    "others", "otherwise", "therefore", "although", "though", "unless", "whose", "itself", "themselves",
    # modal verbs: "shall" in a licence's clause and in a report's is no subject the two share
    "shall", "should", "might", "would", "could", "ought",
))


@functools.lru_cache(maxsize=65_536)
def term_keys(text: str) -> tuple[str, ...]:
    """Stems of the content words of ``text`` (for rare-term linking; rarity is judged against the corpus). A
    machine named for its work ("patcher", "printer", "cutter") also gives the stem of the work."""
    out: dict[str, None] = {}
    for w in _WORD.findall(text.lower()):
        if w in STOPWORDS or w in _GENERIC:
            continue
        out[stem(w)] = None
        if (m := _AGENT.fullmatch(w)) is not None:
            root = m.group(1)[:-1] if m.group(1)[-1] == m.group(1)[-2] else m.group(1)  # "cutter": "cut"
            if len(root) >= 3:
                out.setdefault(stem(root), None)
    return tuple(out)


_AGENT = re.compile(r"([a-z]{3,}[^aeiouy\W\d_])ers?")


# -- facts ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Fact:
    """One claim-bearing sentence of a passage. ``start``/``end`` are offsets into the passage."""

    start: int
    end: int
    text: str
    cues: tuple[str, ...]
    risk: float
    opportunity: float
    benign: float
    assurance: float
    figures: int
    dates: int
    entities: tuple[str, ...]
    terms: tuple[str, ...]
    heading: str = ""
    context: tuple[str, ...] = ()
    block: int = 0
    unit: str = "sentence"  # sentence | row
    path: tuple[str, ...] = ()  # the headings above it, the document's title first
    around: tuple[str, ...] = ()  # cues the other sentences of its paragraph carry
    topic: str = ""  # the opening sentence of its paragraph, or the sentence that introduced its list

    @property
    def kind(self) -> str:
        r = self.risk * (1 - min(0.8, 0.5 * (self.benign + self.assurance)))
        o = self.opportunity * (1 - min(0.8, 0.3 * (self.benign + self.assurance)))
        if max(r, o) < 0.9:
            return "neutral"
        return "risk" if r >= o else "opportunity"

    @property
    def severity(self) -> float:
        """0..1: how much a manager should care, from the sentence alone."""
        kind = self.kind
        if kind == "neutral":
            base = 0.15 + 0.05 * min(2, self.figures + self.dates)
        else:
            strength = self.risk if kind == "risk" else self.opportunity
            base = 0.3 + 0.35 * min(1.0, strength / 2.5)
            base += 0.1 * min(1, self.figures) + 0.08 * min(1, self.dates)
            cats = set(self.cues)
            if kind == "risk" and cats & {"risk.single", "risk.compliance", "risk.safety", "risk.concentration",
                                          "risk.security", "risk.graded"}:
                base += 0.12
            if kind == "risk" and "risk.end" in cats and self.dates:
                base += 0.08  # a deadline
            if "money" in cats:
                base += 0.05
            if "gap" in cats:
                base += 0.1
            if "deadline" in cats:
                base += 0.06
        base *= 1 - min(0.7, 0.35 * self.benign)
        # a definition or a platitude names nothing particular: specifics (figures, dates, names) make a claim
        specific = min(1.0, (min(self.figures, 2) + min(self.dates, 1) + min(len(self.entities), 2)) / 3)
        base *= 0.55 + 0.45 * specific
        return round(min(1.0, base), 4)


def facts(text: str) -> list[Fact]:
    """The claim-bearing units of a document: sentences and table rows with a figure, a date, or a cue of risk,
    opportunity, dependency, capacity, obligation or change. Headings are context, not claims. Offsets are into
    ``text``; each fact also knows the names of its section and paragraph (``context``) and the headings above
    it (``path``, the document's title first)."""
    out: list[Fact] = []
    paragraph: dict[int, set[str]] = {}
    said: dict[int, list[str]] = {}  # the sentences of each paragraph, lower-cased
    # reassurances stated by facts, per paragraph: (start, cues, names); they speak for a sentence of the same
    # paragraph only when they name nothing or something it names ("Contents cover is unaffected" does not calm
    # "fire cover at the tower is excluded")
    calming: dict[int, list[tuple[int, set[str], tuple[str, ...]]]] = {}
    as_of = _as_of(text)
    all_units = list(units(text))
    sole = _sole_holders(all_units)
    for u in all_units:
        if u.kind == "heading":
            continue
        if u.block and u.kind != "row":
            said.setdefault(u.block, []).append(u.statement.lower())
        f = fact(u.statement, u.start, u.end, u.heading, u.topic, path=u.path, unit=u.kind, sole=u.start in sole)
        if f is not None and u.start in sole:
            # the one who holds it is what the row is about, though a column's name is no name elsewhere
            f = replace(f, entities=tuple(dict.fromkeys((*f.entities, *entity_keys(sole[u.start])))))
        if f is not None and as_of is not None and _overdue(f.text.lower(), as_of):
            # "Next due: 14/05/2024" in a register reviewed on 25 October 2024, and still in use: overdue (a
            # statutory inspection, a test or a certificate overdue is a compliance breach)
            cue = "risk.compliance" if _CHECKED.search(f.text.lower()) else "risk.late"
            f = replace(f, cues=(*f.cues, cue) if cue not in f.cues else f.cues, risk=round(f.risk + 1.2, 3))
        if f is not None:
            out.append(replace(f, block=u.block) if u.block else f)
            if u.block and u.kind != "row":
                paragraph.setdefault(u.block, set()).update(set(f.cues) - _DAMPENERS)
                if set(f.cues) & _DAMPENERS:
                    calming.setdefault(u.block, []).append((u.start, set(f.cues) & _DAMPENERS, f.entities))
        elif u.block and u.kind != "row":
            # a verdict too short to be a claim ("No action.", "Resolved.") still speaks for its paragraph
            low = u.statement.lower()
            paragraph.setdefault(u.block, set()).update(
                cat for cat, _, rx in _COMPILED if cat in _DAMPENERS and rx.search(low))
    # a field every entry of a register has ("Liquidated damages: $3,000 per day" under each contract) is a term
    # of each entry, not news about any one of them
    labels = Counter(m.group(1).lower() for f in out if (m := _LABEL.match(f.text)))
    out = [_as_term(f) if (m := _LABEL.match(f.text)) and labels[m.group(1).lower()] >= 3 else f for f in out]
    # a paragraph about a failing firm whose customers come to the business is about a competitor throughout
    rivals = {f.block for f in out if f.block in said and _their_customers_call(f, said[f.block])}
    out = [_rival(f) if f.block in rivals and f.unit != "row" and f.risk else f for f in out]
    out = _stale_rows(out)
    out = _bought_in_rows(out)
    out = _under_leads(text, out)
    # what the rest of its paragraph says (a row stands alone): "Its buyer asked for 900 pumps" makes the
    # paragraph's other sentences part of a demand
    def around(f: Fact) -> set[str]:
        cues = set(paragraph.get(f.block, ()))
        for start, calm, names in calming.get(f.block, ()):
            if start != f.start and (not names or set(names) & {*f.entities, *f.context}):
                cues |= calm
        return cues - set(f.cues)

    return [replace(f, around=tuple(sorted(cues))) if f.block and (cues := around(f)) else f for f in out]


_LABEL = re.compile(r"^([A-Z][\w'’ /&-]{2,40}):\s")
# a paragraph that opens with a bold name ("**Elmfield.** Strong demand from ..."): what it, and the tables and
# paragraphs after it in its section, are about
_BOLD_LEAD = re.compile(r"^(?:[-*+]\s+|\d+\.\s+)?\*\*([^*\n]{2,60}?)[.:]?\*\*[.:]?[ \t]", re.MULTILINE)
_HEADING_LINE = re.compile(r"^#{1,6}\s", re.MULTILINE)


def _under_leads(text: str, out: list[Fact]) -> list[Fact]:
    """Each fact with the names of the bold lead it follows in its section ("**Elmfield.**" above a table of
    attendance and "So we expect 58 children on peak days") added to its context; a heading ends a lead's reach,
    and so does the next lead."""
    leads = [(m.start(), m.group(1)) for m in _BOLD_LEAD.finditer(text)]
    if not leads:
        return out
    headings = [m.start() for m in _HEADING_LINE.finditer(text)]
    starts = [at for at, _ in leads]
    result = []
    for f in out:
        i = bisect.bisect_right(starts, f.start) - 1
        if i < 0 or any(leads[i][0] < h <= f.start for h in headings):
            result.append(f)
            continue
        names = tuple(k for k in entity_keys(leads[i][1]) if k not in f.entities and k not in f.context)
        result.append(replace(f, context=(*f.context, *names)) if names else f)
    return result
# a register's column that dates when something was last done ("Last uplift applied: April 2023")
_LAST_DONE = re.compile(r"(?:^|[(;]\s*)(?P<head>last [^:;()]{2,40}?|[^:;()]{0,30}(?:last|latest|most recent) "
                        r"[^:;()]{2,30}?):\s*[^;)]*?\b(?P<year>(?:19|20)\d{2})\b", re.IGNORECASE)
_PRICE_HEAD = re.compile(r"\b(?:uplift|increase|price|pricing|rate|fee|rent|indexation|review of charges)\b",
                         re.IGNORECASE)


def _stale_rows(out: list[Fact]) -> list[Fact]:
    """A register row whose "last done" column lags the rest of its table by two years or more (one contract's
    last price uplift in 2023 where every other was uplifted in 2025; one asset's last inspection years behind the
    others): money not collected when the column is a price, something overdue otherwise. Needs three other rows
    that are up to date."""
    tables: dict[tuple[tuple[str, ...], str], list[int]] = {}
    for i, f in enumerate(out):
        if f.unit == "row":
            tables.setdefault((f.path, f.heading), []).append(i)
    for rows in tables.values():
        dated: dict[str, list[tuple[int, int]]] = {}
        for i in rows:
            for m in _LAST_DONE.finditer(out[i].text):
                dated.setdefault(m.group("head").strip().lower(), []).append((i, int(m.group("year"))))
        for head, years in dated.items():
            latest = max(y for _, y in years)
            current = sum(1 for _, y in years if y >= latest - 1)
            for i, year in years:
                if latest - year < 2 or current < 3:
                    continue
                f = out[i]
                cue, weight = ("opp.saving", 1.2) if _PRICE_HEAD.search(head) else ("risk.late", 1.2)
                cues = tuple(dict.fromkeys((*f.cues, cue, "gap")))
                out[i] = replace(f, cues=cues, risk=f.risk + (weight if cue.startswith("risk") else 0.0),
                                 opportunity=f.opportunity + (weight if cue.startswith("opp") else 0.0))
    return out


# a person's cell in a skills or competence matrix ("D. Walczak: 3", "Dorota Walczak: n/a") and the level it gives
_PERSON_LEVEL = re.compile(r"(?:^|[(;]\s*)(?P<who>[A-Z]\.\s?[A-Z][\w'’-]+|[A-Z][a-z]+ [A-Z][\w'’-]+):\s*"
                           r"(?P<level>\d|–|—|-|n/a)?\s*(?=[;)]|$)")


def _sole_holders(us: Sequence[Unit]) -> dict[int, str]:
    """The rows of a skills matrix (a table whose columns are people, its cells levels) where one person alone
    holds the table's top level, by start, with that person: the only one who can do the work, or sign it off."""
    tables: dict[tuple[tuple[str, ...], str], list[tuple[int, list[tuple[str, int]]]]] = {}
    for u in us:
        if u.kind != "row":
            continue
        cells = [(m.group("who"), m.group("level") or "") for m in _PERSON_LEVEL.finditer(u.statement)]
        if len(cells) >= 4:
            tables.setdefault((u.path, u.heading), []).append(
                (u.start, [(who, int(level)) for who, level in cells if level.isdigit()]))
    out: dict[int, str] = {}
    for rows in tables.values():
        top = max((level for _, levels in rows for _, level in levels), default=0)
        if top < 2 or len(rows) < 3:
            continue
        for start, levels in rows:
            holders = [who for who, level in levels if level == top]
            if len(holders) == 1:
                out[start] = holders[0]
    return out


_BOUGHT = next(rx for cat, _, rx in _COMPILED if cat == "bought-in")


def _bought_in_rows(out: list[Fact]) -> list[Fact]:
    """A row with a sum in a table whose document or section is about work paid for outside ("Subcontracted work
    - spend analysis", "External haulage"): bought in, though the row only names a supplier and what it does."""
    for i, f in enumerate(out):
        if f.unit == "row" and "bought-in" not in f.cues and _MONEY.search(f.text) and \
                _BOUGHT.search(" ".join((*f.path, f.heading)).lower()):
            out[i] = replace(f, cues=(*f.cues, "bought-in"))
    return out


def _their_customers_call(f: Fact, paragraph: list[str]) -> bool:
    """Whether a firm whose trouble ``f`` tells (an exit, an administration) is one whose customers the paragraph
    says come to the business ("two of Halden's customers have called us"): a competitor, though nobody says so."""
    if not _RIVAL_FLIPS & set(f.cues) or not f.entities:
        return False
    names = "|".join(re.escape(e) for e in f.entities)
    rx = re.compile(rf"\b(?:{names})(?:'s|’s|s'|’) (?:[\w-]+ )?(?:customers|clients|buyers|accounts)\b|"
                    rf"\b(?:customers|clients|buyers|accounts) of (?:{names})\b")
    # ... or whose administrators offer its business to firms like ours ("inviting expressions of interest in taking
    # over the plan book")
    return any(rx.search(s) or _OFFERED.search(s.lower()) for s in paragraph)


_OFFERED = re.compile(r"\b(?:administrators?|liquidators?|receivers?)\b[^.]{0,160}\b(?:expressions? of interest|"
                      r"invit\w+ (?:offers|bids)|(?:seeking|looking for) (?:a )?(?:buyers?|purchasers?|"
                      r"(?:new |an? )?(?:providers?|partners?|operators?) to take (?:on|over)))")


def _rival(f: Fact) -> Fact:
    """``f`` tells of a competitor: its trouble is an opening for the business, not a risk to it."""
    cues = (*(c for c in f.cues if not c.startswith("risk.")), "opp.rival")
    return replace(f, cues=cues, risk=0.0, opportunity=round(f.opportunity + max(f.risk, 1.0), 3))


def _as_term(f: Fact) -> Fact:
    return replace(f, risk=round(0.4 * f.risk, 3), opportunity=round(0.4 * f.opportunity, 3))


def fact(text: str, start: int = 0, end: int | None = None, heading: str = "", topic: str = "",
         path: tuple[str, ...] = (), unit: str = "sentence", sole: bool = False) -> Fact | None:
    """The :class:`Fact` that one sentence (or table row, ``unit="row"``) states, or ``None`` when it bears no
    claim (too short, or nothing specific: no figure, no date, no cue). ``heading``, ``topic`` and ``path`` are the
    section, the paragraph's opening sentence and the headings above it: they name what "it" is and whose news
    it is (a competitor's trouble is an opening)."""
    if len(text.split()) < 5:
        return None
    low = text.lower()
    if _CLAUSE_LABEL.match(low) or _HEADER_LINE.match(low) or (_LEGEND.match(low) and len(_ITEMS.findall(low)) >= 2):
        return None
    scan = _ZERO_CELL.sub(" ", low) if ":" in low else low
    if " nil" in scan or " none" in scan:
        scan = _ZERO_ITEM.sub(" ", scan)  # "(expired £14,800, recall nil, ...)": what a list counts as nil
    cells = scan  # with its column names, for what a cell's heading says its value is ("Limit: ... (injury)")
    if unit == "row":
        # what a type column classes the row as ("Type: Unlicensed specials") is its kind, not an event
        scan = _TYPE_CELL.sub(lambda m: m.group(1) + " " * len(m.group(2)), scan)
        # a column's name is in every row ("Agreement ends: 2028"): only a count under it says something
        # (or a sum under a column that names a saving to be had)
        scan = _CELL.sub(lambda m: m.group(0) if _COUNT.fullmatch(m.group(2).strip()) or
                         (_SAVING_COLUMN.fullmatch(m.group(1)) and _SUM.match(m.group(2))) else
                         " " * len(m.group(1)) + m.group(0)[len(m.group(1)):], scan)
    cats: list[str] = []
    weights: dict[str, float] = {}
    starts = word_starts(scan)
    for (cat, weight, rx), first in zip(_COMPILED, _TRIGGERS, strict=True):
        if cat in _POLAR or (first is not None and not first & starts):
            continue
        hits = [m for m in rx.finditer(scan) if not _negated(scan, m.start(), cat, cells)]
        if cat == "risk.capacity":
            hits = [m for m in hits if not _cost_cap(scan, m)]
        if hits:
            cats.append(cat)
            weights[cat] = weight * min(len(hits), 2) ** 0.5
    if unit == "row" and "bought-in" not in weights and \
            any(_BOUGHT.search(m.group(2)) for m in _TYPE_CELL.finditer(cells)):
        # a category that is itself work paid for outside ("Category: Toll portioning") classes the row as bought in
        cats.append("bought-in")
        weights["bought-in"] = next(w for c, w, _ in _COMPILED if c == "bought-in")
    if sole and "risk.single" not in weights:
        # a skills matrix row where one person alone holds the top level (:func:`_sole_holders`)
        cats.append("risk.single")
        weights["risk.single"] = 1.0
    _polar(scan, cats, weights, text)
    _against_before(scan, cats, weights)
    _against_target(scan, cats, weights)
    _against_from(scan, cats, weights)
    if "assurance" in weights and _OVERSPEND.search(scan):
        # "costs are above budget": the reassuring words ("above budget") said of a cost are an overspend
        del weights["assurance"]
        cats[cats.index("assurance")] = "risk.loss"
        weights["risk.loss"] = max(weights.get("risk.loss", 0.0), 1.0)
    if unit == "row" and _ENQUIRY_CELL.search(cells) and _REQUIREMENT_CELL.search(cells) and \
            "opp.demand" not in weights:
        # a prospect's row that says what they want ("Prospect: ...; Requirement: Warehouse storage and
        # fulfilment ..."): demand, met or not
        cats.append("opp.demand")
        weights["opp.demand"] = 1.1
    if unit == "row" and _ENQUIRY_CELL.search(cells) and _OPEN_STATUS.search(cells):
        # an enquiry row nobody has picked up ("Enquirer: ...; Status: Awaiting owner"): demand that no one works
        for cue, w in (("opp.demand", 1.1), ("gap", 0.6)):
            if cue not in weights:
                cats.append(cue)
            weights[cue] = max(weights.get(cue, 0.0), w)
    if unit == "row" and _HIGH_GRADE.search(cells) and not weights.get("benign"):
        # a register that grades its rows ("Classification: High", "Risk rating: Red") says which one matters most
        cats.append("risk.graded")
        weights["risk.graded"] = 1.0
    if unit == "row" and _row_past_threshold(cells) and "opp.saving" not in weights:
        # spend past the threshold a rebate is paid at, in one row of a terms register: money to claim
        cats.append("opp.saving")
        weights["opp.saving"] = 1.0
    if (_breach(scan) or _row_pace_past_cap(cells) or (unit == "row" and _row_over_limit(cells))) and \
            weights.get("risk.compliance", 0.0) < _BREACH_WEIGHT:
        # a figure on the wrong side of a covenant, a required minimum or a limit: a breach, named or not
        if "risk.compliance" not in weights:
            cats.append("risk.compliance")
        weights["risk.compliance"] = _BREACH_WEIGHT
    if "risk.concentration" in weights and (((_COST_SHARE.search(scan) or _CLASS_SHARE.search(scan)) and
                                             not _ONE_PARTY.search(scan)) or
                                            _MANY_PARTIES.search(scan) or _SHARE_AIMED.search(scan) or
                                            _SEASON_SHARE.search(scan) or _small_share(scan)):
        # "Payroll: 37.5% of revenue": a cost line as a share of revenue is a ratio, not one party the business
        # depends on
        del weights["risk.concentration"]
        cats.remove("risk.concentration")
    if "opp.demand" in weights and weights.get("risk.fall", 0.0) >= 0.9 and \
            not {"opp.demand"} & {c for c in cats if c != "opp.demand"} and _DEMAND_FELL.search(scan):
        # "enquiries fell 8% year on year": fewer people asking is a fall, not demand to meet
        del weights["opp.demand"]
        cats.remove("opp.demand")
    if "opp.demand" in weights and (_OUR_ASK.match(scan) or _WE_SUBMIT.search(scan)):
        # "Requested a formal quote", "We asked the landlord for a rent-free period": the business asking a
        # supplier or a landlord for something is no customer wanting what it sells
        del weights["opp.demand"]
        cats.remove("opp.demand")
    if "opp.demand" in weights and _HIRING.search(scan):
        # inquiries about a job, interest in a vacancy: applicants, not customers
        del weights["opp.demand"]
        cats.remove("opp.demand")
    if "opp.unused" in weights and _VACANT_POST.search(scan):
        # "post vacant since September": a post nobody holds is work nobody does, not capacity to put to use
        del weights["opp.unused"]
        cats.remove("opp.unused")
    _use_or_lose(scan, cats, weights)
    if unit == "row" and _OWNED.search(cells) and _NEXT_STEP.search(cells) and "gap" not in weights:
        # an opening a register shows in hand (an owner and a next step) is not one the business is missing
        for c in [c for c in weights if c.startswith("opp.")]:
            weights[c] *= 0.6
    if weights.keys() & _RIVAL_FLIPS and not _TO_RIVAL.search(low) and \
            (_RIVAL.search(low) or any(_RIVAL.search(h.lower()) for h in (heading, topic, *path))):
        # a competitor's trouble (an exit, a recall, a failure) is an opening for the business, not a risk to it
        for cat in _RIVAL_FLIPS & weights.keys():
            weights["opp.rival"] = weights.get("opp.rival", 0.0) + weights.pop(cat)
        cats = [c for c in cats if c not in _RIVAL_FLIPS] + ["opp.rival"]
    risk = sum(w for c, w in weights.items() if c.startswith("risk."))
    opp = sum(w for c, w in weights.items() if c.startswith("opp."))
    benign = weights.get("benign", 0.0) + 0.6 * weights.get("external", 0.0)
    assurance = weights.get("assurance", 0.0) + weights.get("good.trend", 0.0)
    figures = len(FIGURE.findall(text))
    dates = len(_DATE.findall(text))
    if (not dates and _TERMS.search(low)) or _ON_NOTICE.search(low) or _ON_END.match(low):
        # a contract's standing term ("either party may terminate for material breach", "if clause 9.2 is not
        # met, the buyer may suspend orders"): what could happen, with no clock on it, is no event
        risk *= 0.35
    if _ON_END.match(low):
        opp *= 0.35  # nor is what it pays back when it ends an opening
    if _AIMS.search(heading.lower()) and _AIM_VERB.match(low):
        # a plan's objective ("Generate 3,400 qualified enquiries", under "Objectives for Q4"): what the business
        # means to do, not something it found
        risk, opp = risk * 0.35, opp * 0.35
    if _MONEY.search(text):
        cats.append("money")
    if not (cats or figures or dates):
        return None
    ents = entity_keys(text)
    if unit == "row":  # a column's name names no thing: every row of its table carries it
        columns = {k for m in _CELL.finditer(text) for k in entity_keys(m.group(1).rstrip(":"))}
        ents = tuple(k for k in ents if k not in columns)
    context = tuple(k for k in dict.fromkeys((*entity_keys(heading), *entity_keys(topic))) if k not in ents)
    return Fact(start, start + len(text) if end is None else end, text, tuple(dict.fromkeys(cats)), round(risk, 3),
                round(opp, 3), round(benign, 3), round(assurance, 3), figures, dates, ents, term_keys(text), heading,
                context, unit=unit, path=path, topic=topic if topic != text else "")


# what a contract says happens when it ends, dated or not ("On termination for Corvel's breach, Corvel must refund
# any unearned rebate (paid in January 2025)")
_ON_END = re.compile(r"on (?:early )?(?:termination|expiry|cancellation)\b")
_OWNED = re.compile(r"\b(?:owner|lead|account manager|assigned to)\s*:\s*(?!—|-|–|none|tbc|tbd|n/a|unassigned|"
                    r"nobody|no one|not assigned|vacant)[a-z]")
_NEXT_STEP = re.compile(r"\b(?:next steps?|next action|stage|status)\s*:\s*(?!—|-|–|none|n/a)[a-z]")
_TERMS = re.compile(r"^(?:[\d.]+\s+)?(?:penalty|termination|cancellation|liability|indemnity|warranty|"
                    r"liquidated damages|service credits?|break) (?:clauses?|terms?|provisions?)\s*:|"
                    r"^(?:[\d.]+\s+)?(?:if|should|in the event|unless)\b[^;]{0,120}?,\s*(?:\w+\s+){1,4}?"
                    r"(?:may|can|shall|will be entitled to|is entitled to)\b|"
                    r"\b(?:either|each) party (?:may|can|shall)\b|"
                    # what a contract pays per day late ("Liquidated damages of £4,000 per day apply for each day
                    # the run is delayed"): the term, not a delay
                    r"^(?:liquidated damages|service credits?|penalt(?:y|ies)|damages)\b[^;]{0,80}?\b(?:apply|applies|"
                    r"are payable|is payable|will apply|are due|accrue)\b|"
                    r"\b(?:as|by way of) liquidated damages\b|"
                    # a cap on what either side owes ("Neither party's total liability ... shall exceed £1.5m")
                    r"\b(?:neither|either|each) party(?:'s|’s)? (?:total |aggregate )?liability\b|"
                    # a right the business holds under a facility ("the group may cure a breach by an equity
                    # injection"): a term, not an event
                    r"\bmay (?:cure|remedy|elect to|request a waiver)\b|"
                    # a definition in a facility agreement ("A covenant breach is an Event of Default unless cured")
                    r"\b(?:is|constitutes?) an event of default\b|"
                    # a contract's definition ("Breach of exclusivity is a material breach")
                    r"^(?:[\d.]+\s+)?(?:any )?breach of [\w ,-]{2,40}? (?:is|constitutes|shall be) (?:a )?"
                    r"(?:material|fundamental|serious) breach\b|"
                    # what a contract lets one side take ("The Company may deduct £25 for each failed delivery")
                    r"\bmay (?:deduct|withhold|set off|levy|charge back|recover)\b|"
                    # an undertaking's rule ("No disposal of land or vineyard without consent")
                    r"^(?:[\d.]+\s+)?no [a-z][\w ,-]{2,60}? without (?:the )?(?:prior )?(?:written )?"
                    r"(?:[\w']+ )?(?:consent|approval|agreement)\b|"
                    # what a law requires of everyone ("Under the UK GDPR, a breach must be reported within 72
                    # hours"): the rule, not something that happened here
                    r"^under (?:the )?(?:[\w()-]+ ){0,5}(?:act|acts|regulations?|gdpr|law|rules|code|directive)"
                    r"(?: \d{4})?,? (?:[\w-]+ ){0,10}(?:must|may not|may only|shall|cannot|has to|have to)\b")
# the run-in heading of a contract's clause ("Clause 11 — Product recall."): a label, not a statement
# a document's header lines: who wrote it, for whom, when (no claim about the business)
_HEADER_LINE = re.compile(r"^\W*(?:from|to|cc|prepared by|maintained by|compiled by|authors?|owner|version|"
                          r"classification|distribution|circulation|last updated|reviewed by|approved by|"
                          r"contributors?)\W*:")
# a legend: what the grades or codes of a table mean ("Grading: Good (no action), Fair (...), Poor (...)")
_LEGEND = re.compile(r"^\W*(?:key|legend|grading|grades|ratings?|rating scale|scale|scoring|categories|definitions?|"
                     r"abbreviations|codes)\s*:")
_ITEMS = re.compile(r"[,;]\s")
_CLAUSE_LABEL = re.compile(r"^(?:clause|section|article|schedule|annex|appendix|part)\s+[\w.]+\s*[—–:-]\s*"
                           r"(?:\w+\W*){1,5}$")
_COST_SHARE = re.compile(r"\b(?:payroll|wages?|salar(?:y|ies)|pay bill|staff costs?|labou?r|costs?|spend|repairs|"
                         r"maintenance|overheads?|rent|energy|utilities|expenses?|marketing|capex|opex|depreciation|"
                         r"interest|insurance|margin|ebitda|profit|"
                         # a line of what is sold as a share of a site's sales ("food at 58% of sales"): its mix
                         r"food|drinks?|wet|dry|beverages?|bar|kitchen|rooms?|online|retail|wholesale|"
                         r"services?|bad debts?|write-?offs?|arrears)\b[^;]{0,60}?\d+(?:\.\d+)?\s?% of (?:\w+ )?"
                         r"(?:revenue|sales|turnover|income)")
# "the top 20 suppliers account for 71%": many parties together hold most of anything; no one of them is a risk
# fewer people asking ("enquiries fell 8%", "leads were down 12%")
_DEMAND_FELL = re.compile(r"\b(?:enquiries|inquiries|leads|requests|referrals|orders|bookings)\b[^.;]{0,40}?\b(?:fell|"
                          r"dropped|declined|decreased|down|lower|slipped)\b")
# a share of sales to a class of customers ("82% of sales are to trade accounts"): a mix, not one party
_CLASS_SHARE = re.compile(r"\d+(?:\.\d+)?% of (?:our )?(?:sales|revenue|turnover|income|orders)\b[^.;]{0,20}?\b"
                          r"(?:to|from|with|through|via)\s(?:[\w-]+\s){0,2}(?:accounts|customers|clients|buyers|"
                          r"members|consumers|retailers|practices|users|channels)\b")
# a season's or a period's share of the year ("Peak (November and December) is assumed to be 31% of annual volume"):
# when the work comes, not one party it comes from
_SEASON_SHARE = re.compile(r"^(?:the )?(?:peak|christmas|summer|winter|spring|autumn|season|seasonal|harvest|"
                           r"vintage|weekends?|(?:q[1-4]|h[12])\b|(?:" + _MONTHS + r")\b)"
                           r"[^.;%]{0,60}?\d+(?:\.\d+)?\s?% "
                           r"of (?:the |our )?(?:annual|yearly|the year's|year's|full[- ]year|total)?\s?\w*")
_MANY_PARTIES = re.compile(r"\btop (?:\d{2,}|[5-9]|five|six|seven|eight|nine|ten|twelve|fifteen|twenty|fifty)\b")
# a right to end on notice ("may terminate without cause from April 2027 with six months' notice", a clause
# table's "Either party on 90 days' notice after 31 March 2026"): a term, dated or not, until someone gives notice
_ON_NOTICE = re.compile(r"\b(?:may (?:terminate|suspend|cancel|end|exit)|(?:either|each) party (?:may |can |shall )?"
                        r"(?:on|by giving|with|upon|giving))\b[^.;]{0,80}\bnotice\b")
# a party's share of the business: "31% of revenue"
_SHARE_OF = re.compile(r"(\d+(?:\.\d+)?)\s?% of (?:[\w-]+(?:'s|’s) )?(?:our |total |annual |group |the company's )?"
                       r"(?:revenue|sales|volume|orders|business|turnover|income|bookings|profit|margin)")


def _small_share(scan: str) -> bool:
    """Every share of the business the sentence gives is small ("our largest account, about 5% of turnover"):
    the largest of many, not one the business depends on."""
    shares = [float(m.group(1)) for m in _SHARE_OF.finditer(scan)]
    return bool(shares) and max(shares) < 10


# a share a plan means to reach: "framework work will grow from 22% to 35% of revenue"
_SHARE_AIMED = re.compile(r"\b(?:will|to|plan to|aim to|expect to) (?:grow|rise|increase|reach|double|be)\b[^.;]{0,40}"
                          r"\bto \d+(?:\.\d+)?\s?% of\b")
_AIMS = re.compile(r"\b(?:objectives?|targets?|goals?|aims?|kpis?|priorities|okrs?)\b")
_AIM_VERB = re.compile(r"^(?:[\d.]+\s+|[-*•]\s*)?(?:achieve|increase|reduce|grow|generate|deliver|hit|reach|keep|"
                       r"maintain|improve|cut|lift|raise|clear|fill|win|launch|complete|secure|retain|sell|open|"
                       r"double|halve|convert|attract|recruit)\b")
_ONE_PARTY = re.compile(r"\b(?:largest|biggest|single|one|top)\b[^.;]{0,30}\b(?:customer|client|account|supplier|"
                        r"buyer|contract)s?\b")
# "no injuries", "no reported injuries", "no brake or steering defects"
_NEGATORS = re.compile(r"\b(?:no|not|never|without|zero|nor|nil)\W+(?:[\w-]+\W+)?(?:(?:or|and)\W+[\w-]+\W+)?$")
_SCARCE = re.compile(r"\b(?:little|hardly any|almost no|barely any|scarcely any|not much|very little|no|"
                     r"(?:is|are|was|were|be|been|stand|stands|sit|sits|left|kept) (?:not|never)|"
                     r"(?:not|never) (?:be |been |left |kept |stand |sit )?)\W*$")  # "so crews are not idle"
_OUR_ASK = re.compile(r"(?:we|i|our [\w-]+(?: [\w-]+)?)?\s*(?:have |had |then |also )?(?:requested|asked|"
                     r"enquired|inquired|request(?:ing)?|asking|sought)\b")
# a request the business sends out ("Finance to submit the plan change request to the retailer")
_WE_SUBMIT = re.compile(r"\b(?:to |will |should |must |we )?(?:submit|send|lodge|file|raise|make|place|put in)\s"
                        r"(?:the |a |an |our |its )?(?:[\w-]+ ){0,3}requests?\b")
_VACANT_POST = re.compile(r"\b(?:posts?|roles?|positions?|jobs?) (?:\w+ ){0,2}vacant|"
                          r"\bvacant (?:posts?|roles?|positions?)")
_HIRING = re.compile(r"\b(?:job (?:ad\w*|posting|opening)s?|vacanc(?:y|ies)|recruit\w*|applicants?)\b")
_NOBODY = re.compile(r"\b(?:no|not|never|nobody|no one|none)\W+(?:[\w-]+\W+){0,2}$")
# "the grant of a new tenancy" is a landlord's act, no money offered
_BENEFIT = re.compile(r"\b(?:rebates?|grants?(?! of (?:a |the )?(?:new )?(?:tenancy|lease|licen[cs]e|permission|"
                      r"planning|consent|rights?|access|easement|option)\b)|funds|funding|"
                      # a credit given, not a credit insurer, limit or score ("credit insurer withdrew cover")
                      r"credits?(?! (?:insur\w*|limits?|ratings?|scores?|watch|control|checks?|terms|risk|cards?|"
                      r"agency|reference|notes?|controller))|discounts?|levy|"
                      r"allowances?|offers?|refunds?|incentives?|subsid(?!iar)\w+|vouchers?|bonus(?:es)?|forgiveness|guarantee)\b")
_WINDOW = re.compile(r"\b(?:applications?|enrol(?:l?ment)?s?|registrations?|submissions?|bids?|proposals?|"
                     r"nominations?|tenders?) (?:\w+ ){0,2}(?:close[sd]?|closing|(?:are |is )?due)\b|\bapply by\b|"
                     r"\bmiss(?:es|ed)? the (?:window|deadline)\b|\bnext (?:apply|application window|round)\b")
# a sum that lapses unless it is used is a benefit still to take ("£14,900 will expire ... unless spent")
_UNLESS_USED = re.compile(r"\bunless (?:it is |they are |the (?:money|balance|funds?) (?:is|are) )?(?:spent|used|"
                          r"claimed|drawn(?: down)?|redeemed|taken up|allocated|committed)\b|"
                          # "Due to expire by 31 March 2026 if unused", "expire if not used within 24 months"
                          r"\bif (?:still )?(?:unused|unspent|unclaimed|not (?:yet )?(?:used|spent|claimed|drawn"
                          r"(?: down)?|redeemed|taken up))\b")
_HARM = frozenset({"risk.failure", "risk.outage", "risk.safety", "risk.compliance", "risk.single", "risk.loss"})
_RISE = re.compile(rf"\b(?:{dict((c, p) for c, _, p in CUES)['risk.rise']})\b")
_FALL = re.compile(rf"\b(?:{dict((c, p) for c, _, p in CUES)['risk.fall']})\b")
_MONEY = re.compile(r"[$£€]\s?\d|\d\s?(?:million|billion|bn)\b", re.IGNORECASE)


_CAP = re.compile(r"(?:no more than|limited to|capped at|at most)$")
_COST = re.compile(r"\b(?:tax(?:es)?|withh\w+|fees?|charges?|liabilit\w+|prices?|premiums?|costs?|rates?|"
                   r"(?:price|annual|rate|fee|rent) (?:adjustments?|escalations?|increases?|rises?|uplifts?)|"
                   r"indexation|escalation|"
                   r"interest|settle\w*|pay\w*|penalt\w+|damages|spend\w*|bills?|invoices?|"
                   # a lender's ceiling on a ratio ("net debt to EBITDA no more than 3.00x") binds the finances,
                   # not what the business can make or serve
                   r"leverage|gearing|net debt|ebitda|covenants?|ratio)\b")


def _cost_cap(scan: str, m: re.Match[str]) -> bool:
    """A cap on what the business pays ("tax withheld is capped at 10%", "settle for no more than $420,000", "at
    no more than $800 each") protects it: a ceiling on a cost or a price, not a limit on what it can do."""
    if not _CAP.search(m.group(0)):
        return False
    money_follows = scan[m.end():m.end() + 3].lstrip()[:1] in ("$", "£", "€")
    return money_follows or _COST.search(scan[max(0, m.start() - 60):m.start()]) is not None


_COMPARED = re.compile(r"\b(?:compared (?:with|to)|against|than|versus|vs\.?|over) (?:the|our|its) $")
# trouble as a class, not an event ("notify the client of any personal data breach within 24 hours")
_ANY_CASE = re.compile(r"\bany (?:[\w-]+ ){0,3}$")
# a condition about anyone's case, not a particular one ("if your licence is suspended, revoked or due to expire",
# "where any contract is terminated early")
_IF_ANY = re.compile(r"\b(?:if|where|should|whenever) (?:your|a|an|any)\s(?:[\w,-]+\s){0,8}$")


def _negated(scan: str, at: int, cat: str, cells: str = "") -> bool:
    """A cue word that the sentence negates just before ("not resolved", "no injuries", "cannot be recovered").
    ``cells`` is the row with its column names (the same offsets), when ``scan`` has them blanked."""
    before = scan[max(0, at - 30):at]
    if cat in _DAMPENERS:
        # "until the panels ... are replaced": a fix that is only the condition for lifting something
        return NEGATED.search(before) is not None or _PENDING.search(scan[max(0, at - 140):at]) is not None
    if cat in _PERILS and (_COVER.search((cells or scan)[max(0, at - 60):at]) or
                                 _INSURED.search(cells or scan)):
        return True  # "liability cover for injury", "Limit: unlimited (injury)": the peril insured, not a harm
    if cat == "risk.loss" and _COVER.search((cells or scan)[max(0, at - 60):at]):
        return True  # "£500,000 aggregate for indirect losses": a cap on what a party pays, not a loss
    if cat.startswith("risk.") and _DEFINES_BREACH.search(scan):
        return True  # "failure to meet SL4 ... is a material breach entitling the Customer to terminate": a term
    if cat == "risk.compliance" and scan.startswith("without", at) and _ALLOWED.search(scan[max(0, at - 140):at]):
        return True  # "acquisitions of up to £8.0m are permitted without consent": leave given, no breach
    if (cat == "risk.compliance" and (
            (scan.startswith("breach", at) and _IF_CLAUSE.search(scan[max(0, at - 60):at])) or
            (scan.startswith("may not", at) and _WITHOUT_LEAVE.match(scan, at)))) or \
            (cat == "risk.end" and _UNLESS.search(scan[max(0, at - 30):at])) or \
            (cat.startswith("risk.") and _REMEDY_WORD.match(scan, at) and _MAY_REMEDY.search(scan[max(0, at - 30):at])):
        # "unless termination follows a breach", "may not be used for commercial purposes without written consent":
        # a term about what may happen, not something that has
        return True
    if cat == "risk.end" and _COMPARED.search(scan[max(0, at - 30):at]):
        return True  # "saving £280 a year compared with the expiring rate": the old rate, the new one signed
    if cat.startswith("risk.") and (_IF_ANY.search(scan[max(0, at - 60):at]) or _ANY_CASE.search(before)):
        return True  # "if your licence expires, we will ...", "if a contract is terminated": a rule, no event
    if cat.startswith("risk.") and cat not in ("risk.single", "risk.capacity", "risk.late"):
        return _NEGATORS.search(before) is not None
    if cat == "opp.demand":  # "no customer has asked for", "nobody requested": nobody wants it
        return _NOBODY.search(before) is not None
    if cat == "opp.unused":  # "little spare capacity", "almost no free slots": a limit, not an idle asset
        return _SCARCE.search(before) is not None
    return False


# what an insurance row names as insured ("Cyber (incl. ransomware)", "Business interruption") is no harm done
_PERILS = frozenset({"risk.safety", "risk.security", "risk.outage", "risk.failure", "risk.compliance"})
_ALLOWED = re.compile(r"\b(?:permitted|allowed)\b[^;]{0,120}$")
# "unless termination", "may (immediately) terminate": an end that may come, on a term's conditions
_UNLESS = re.compile(r"\bunless\b[^;.:]*$|(?<!\d )\bmay (?:[a-z]+ )?$")
_IF_CLAUSE = re.compile(r"\b(?:unless|if|in the event (?:of|that)|should|where|may (?:terminate|end|cancel|suspend|"
                        r"withdraw))\b[^;.:]*$|\bfailure to\b[^;.:]*\b(?:is|constitutes|shall be|will be)\b[^;.:]*$")
# a remedy a term allows ("Services may be suspended after 90 days overdue"), not one taken
_MAY_REMEDY = re.compile(r"(?<!\d )\bmay (?:\w+ )?(?:be )?$")
_REMEDY_WORD = re.compile(r"suspen|terminat|cancel|withdr")
_WITHOUT_LEAVE = re.compile(r"may not be [^;.]{0,80}?\bwithout (?:the )?(?:(?:prior|written|express|our|their) )*"
                            r"(?:consent|approval|permission|agreement)\b")
_INSURED = re.compile(r"\b(?:insurers?|premiums?|excess|sum insured|underwriters?|indemnity limit|incurred|"
                      r"claims? (?:history|experience|ratio|count)|loss ratio)\b")
_COVER = re.compile(r"\b(?:liability|insur\w*|indemnit\w*|cover(?:ed|age)?|limits?|unlimited|capped|aggregate)\b"
                    r"[^.;]{0,40}$")
_DEFINES_BREACH = re.compile(r"\bfailure to\b[^;.:]*\b(?:is|constitutes|shall (?:be|constitute)|will be) an? "
                             r"(?:material |serious |fundamental )?(?:breach|default|event of default)\b")
_PENDING = re.compile(r"\b(?:until|unless|pending|subject to)\b[^;.]*$")
_NUMBER = r"(\d[\d,]*(?:\.\d+)?)"
_VERSUS = re.compile(rf"{_NUMBER}\s?(?:x|%|times|[a-z]+/[a-z]+)?(?:[^.;\d]{{0,50}}?)\b(?:against|versus|vs\.?|compared "
                     rf"(?:with|to)|below|above|under|over|short of|exceed\w*)\b(?P<between>[^.;\d]{{0,40}}?)"
                     rf"[$£€]?{_NUMBER}")
_CEILING_METRIC = re.compile(r"\b(?:leverage|gearing|net debt|debt to (?:ebitda|equity|capital)|debt/ebitda|"
                             r"loan[- ]to[- ]value|ltv)\b[^;.]*$")
_COVENANT = re.compile(r"\bcovenants?\b")
_FLOOR = re.compile(r"\b(?:covenants?|minimums?|floors?|required|requirements?|at least|lower limit)\b")
_CEILING = re.compile(r"\b(?:limits?|maximums?|caps?|ceilings?|not to exceed|permitted|allowed)\b")
_BREACH_WEIGHT = 1.2
_OVERSPEND = re.compile(r"\b(?:costs?|spend\w*|expenditures?|expenses?|overtime|bills?|outlays?)\b(?:\s[\w,]+){0,4}?\s"
                        r"(?:above|over|ahead of|exceed\w*)\s(?:the\s|its\s|our\s)?(?:budget|plan|forecast)")
_YEAR = re.compile(r"\b(?:fy|cy)?(?:19|20)\d{2}(?:/\d{2})?\b")  # "in FY2027" between a figure and its floor


# a register row's bound in one cell ("Requirement: not more than 3.25x", "Minimum fill: 60%"), its figures in others
_ROW_BOUND = re.compile(rf"(?:^|[(;]\s?)[^;()]{{0,40}}?(?P<side>{CEILING_WORDS}|{FLOOR_WORDS})"
                        r"[^:;()\d]{0,30}?:?\s*(?:not more than|no more than|at most|not less than|no less than|"
                        r"at least)?\s*(?P<n>\d[\d,]*(?:\.\d+)?)\s?(?P<unit>x|%|[a-z]+/[a-z]+)(?!\w)")
_FLOOR_SIDE = re.compile(FLOOR_WORDS)


def _row_breach(scan: str) -> bool:
    """A row whose bound cell ("Requirement: not more than 3.25x") another cell's figure in the same unit breaks
    ("30 Jun 2025 forecast: 3.38x")."""
    if "; " not in scan:
        return False
    for m in _ROW_BOUND.finditer(scan):
        bound = float(m.group("n").replace(",", ""))
        floor = _FLOOR_SIDE.fullmatch(m.group("side")) is not None
        unit = re.escape(m.group("unit"))
        for v in re.finditer(rf"(?<![\w.,-])(\d[\d,]*(?:\.\d+)?)\s?{unit}(?!\w)", scan):
            if m.start("n") <= v.start() < m.end():
                continue
            value = float(v.group(1).replace(",", ""))
            if (floor and value < bound) or (not floor and value > bound):
                return True
    return False


# a sum of money a thing must stay within ("Sum insured / limit: £6.5m", "credit limit of £300,000"), and what the
# thing holds or owes ("stock stands at £9.14m", "Balance: £438,900"), in a sentence or a register's cells
_MONEY_N = r"[$£€]\s?(?P<n>\d[\d,]*(?:\.\d+)?)\s?(?P<m>m\b|k\b|bn\b|million\b|billion\b)?"
MONEY_LIMIT = re.compile(r"\b(?:sum insured|insured (?:for|up to|at)|cover(?:ed)? up to|(?:credit |facility |"
                         r"overdraft |approved |authori[sz]ed |agreed |cover )?limit)(?:\s*/\s*limit)?"
                         r"(?:\s*\([^();:]{1,40}\))?\s*(?:of|is|:)?\s*" + _MONEY_N)
MONEY_HELD = re.compile(r"\b(?:stands? at|stood at|holds?|held|valued at|value of|worth|balance(?: of| is| stands at|"
                        r":)?|owes?|owing|outstanding(?: of|:)?|exposure(?: of|:)?|now (?:at|totals?)|"
                        # what an insured site holds at a date ("Value at risk at 31 Dec 2024: £8.6m")
                        r"values? at risk(?: at [^:;()]{1,30})?\s*:|"
                        r"(?:amount due|debt|stock(?: value)?|total(?: balance| due| owed| outstanding)?)\s*:)\s*"
                        r"(?:about |around |some |nearly |over )?"
                        + _MONEY_N)
_SCALE = {"k": 1e3, "m": 1e6, "million": 1e6, "bn": 1e9, "billion": 1e9}


def money_value(m: re.Match[str]) -> float:
    """The sum a :data:`MONEY_LIMIT` or :data:`MONEY_HELD` match names, scaled ("£6.5m": 6,500,000)."""
    return float(m.group("n").replace(",", "")) * _SCALE.get((m.group("m") or "").lower(), 1.0)


# an enquiry's row in a tracker, and a status saying no one has answered it yet
_ENQUIRY_CELL = re.compile(r"\b(?:enquirer|enquiry from|inquirer|prospect|lead)\s*:")
_REQUIREMENT_CELL = re.compile(r"(?:^|[(;]\s*)(?:requirements?|needs?|wants?|requested|request|asked for|"
                               r"looking for|scope)\s*:")
_OPEN_STATUS = re.compile(r"\bstatus\s*:\s*(?:new\b|awaiting (?:owner|response|reply|allocation)|unassigned|"
                          r"not (?:yet )?(?:answered|assigned|contacted|actioned)|no (?:owner|response|reply))")
# how long a balance has gone unpaid, in a register's cell ("Days: 214 days", "Days overdue: 190")
_DAYS_UNPAID = re.compile(r"\b(?:days(?: overdue| outstanding| old| unpaid)?|age(?: in days)?)\s*:\s*(?P<d>\d{1,4})\b")
_LONG_UNPAID_DAYS = 180
_MATERIAL_DEBT = 5_000  # a balance below which a long-unpaid account is a reminder to send, not a risk to raise


def _row_over_limit(cells: str) -> bool:
    """A register's row whose balance (or stock held) is above the limit (or sum insured) in another of its
    cells, or a balance left unpaid for half a year or more."""
    held, limit = MONEY_HELD.search(cells), MONEY_LIMIT.search(cells)
    if held is not None and limit is not None and money_value(held) > money_value(limit) > 0:
        return True
    days = _DAYS_UNPAID.search(cells)
    return held is not None and money_value(held) >= _MATERIAL_DEBT and days is not None and \
        int(days.group("d")) >= _LONG_UNPAID_DAYS


_SPENT = re.compile(r"\b(?:net |gross |total |actual )?(?:purchases|spend|volume|turnover|sales|orders)(?: \([^)]*\))?"
                    r"\s*:\s*" + _MONEY_N)
_THRESHOLD = re.compile(r"\b(?:rebate |bonus |discount )?(?:threshold|qualifying (?:spend|level)|tier)"
                        r"(?: \([^)]*\))?\s*:\s*" + _MONEY_N)


def _row_past_threshold(cells: str) -> bool:
    """A register's row whose spend is at or above the threshold in another of its cells ("Net purchases:
    £642,180; Threshold: £600,000")."""
    spent, threshold = _SPENT.search(cells), _THRESHOLD.search(cells)
    return spent is not None and threshold is not None and money_value(spent) >= money_value(threshold) > 0


# spend with a supplier: a cell that says so ("Net purchases: £176,000", "Spend: £94,700"), a row under a heading
# that does ("Spend by supplier"), and a rebate or discount a contract pays on it
_PURCHASES = re.compile(r"\b(?:net |gross |total |annual )?(?:purchases|spend)(?: \([^)]*\))?\s*:\s*" + _MONEY_N)
_SPEND_WORDS = re.compile(r"\b(?:spend|spent|purchases|purchasing|bought|what we buy|suppliers?)\b")
_REBATE = re.compile(r"\b(?:rebates?|retrospective discounts?|volume discounts?)\b")
_NO_PARTY = re.compile(r"^(?:total|sub-?total|other|others|various|sundry|misc\w*|all)\b")


def spend_row(f: Fact) -> tuple[tuple[str, ...], float, frozenset[str]] | None:
    """(the supplier's multi-word names, the spend, the words for what is bought) of a register's row that states
    what the business spends with a supplier ("Hamble Trade Marine (What we buy: Antifouling, primers, anodes;
    Spend: £94,700; ...)", a row of a "Spend by supplier" table), or ``None``. The spend is the first sum of money
    in the row; the goods are the words of its cells but the name and the sums."""
    if f.unit != "row":
        return None
    parts = row_split(f.text)
    if parts is None:
        return None
    key, rest = parts
    low_key = key.lower()
    if "£" in key or "$" in key or "€" in key or _NO_PARTY.match(low_key):
        return None
    cells = row_cells(rest)
    heads = " ".join(c.split(":", 1)[0] for c in cells if ":" in c).lower()
    if not (_SPEND_WORDS.search(heads) or _SPEND_WORDS.search(f" {f.heading} {f.topic}".lower())):
        return None
    money = next((m for c in cells for m in [re.search(_MONEY_N, c)] if m), None)
    if money is None:
        return None
    names = tuple(e for e in f.entities if " " in e and e in low_key)
    if not names:
        return None
    goods = frozenset(t for c in cells if not re.search(_MONEY_N, c) for t in term_keys(c.split(":", 1)[-1]))
    return names, money_value(money), goods - frozenset(term_keys(key))


# a register's cells: a cap on a measure ("Mileage cap: 20,000"), where the measure stands ("Average mileage at 30
# June: 17,900") and its pace ("Average monthly mileage (last 3 months): 2,600")
_PACE_CELL = re.compile(r"(?:^|(?<=[(;]))\s*(?P<head>[^:;()]{2,60}(?:\([^):;]*\))?[^:;()]{0,20}):\s*"
                        r"(?P<n>\d[\d,]*(?:\.\d+)?)\s*(?=[;)]|$)")
_CAP_HEAD = re.compile(r"\b(?:cap|limit|maximum|max|allowance|ceiling)\b")
_PACE_HEAD = re.compile(r"\b(?:monthly|per month|a month|weekly|per week|a week|daily|per day|a day)\b")
_HEAD_STOP = frozenset(("average", "cap", "limit", "maximum", "max", "allowance", "ceiling", "monthly", "weekly",
                        "daily", "month", "week", "day", "last", "months", "weeks", "days", "per", "total", "current"))


def _row_pace_past_cap(cells: str) -> bool:
    """A register's row whose measure, at the pace another of its cells gives, passes the cap in a third within one
    period ("Mileage cap: 20,000; Average mileage at 30 June: 17,900; Average monthly mileage: 2,600"), or already
    stands past it; the three cells name the same measure."""
    if "; " not in cells:
        return False
    found = [(m.group("head").strip(), float(m.group("n").replace(",", ""))) for m in _PACE_CELL.finditer(cells)]
    for head, cap in found:
        if not _CAP_HEAD.search(head) or cap <= 0:
            continue
        measure = set(re.findall(r"[a-z]{4,}", head)) - _HEAD_STOP
        same = [(h, n) for h, n in found if h != head and measure & set(re.findall(r"[a-z]{4,}", h))]
        pace = next((n for h, n in same if _PACE_HEAD.search(h)), None)
        for h, level in same:
            if _PACE_HEAD.search(h) or _CAP_HEAD.search(h):
                continue
            if cap < level <= 3 * cap or (pace is not None and level < cap < level + pace):
                return True
    return False


def _breach(scan: str) -> bool:
    """A figure set against a floor it falls below ("1.17x, against the 1.25x rate covenant", "14 nurses, below
    the required minimum of 16") or a ceiling it exceeds ("1.9 mg/L against a limit of 1.4 mg/L"). The floor or
    ceiling is named between the two figures or just after the second; in a register's row, in a cell of its
    own."""
    scan = _YEAR.sub("", scan)
    if _row_breach(scan):
        return True
    for m in _VERSUS.finditer(scan):
        try:
            a, b = float(m.group(1).replace(",", "")), float(m.group(3).replace(",", ""))
        except ValueError:
            continue
        words = m.group("between") + " " + scan[m.end():m.end() + 30].split(".")[0]
        if _CEILING_METRIC.search(scan[max(0, m.start() - 40):m.start()]) and _COVENANT.search(words):
            # "Leverage 1.15x against a covenant of 2.5x": a leverage or gearing covenant is a ceiling
            if a > b:
                return True
            continue
        if a < b and _FLOOR.search(words) and not _CEILING.search(words):
            return True
        if a > b and _CEILING.search(words) and not _FLOOR.search(words):
            return True
    return False


_NAME_PAIR = re.compile(r"(?<=[\w,;:()] )([A-Z][a-z]+) ([A-Z][\w'-]*)")


def _use_or_lose(scan: str, cats: list[str], weights: dict[str, float]) -> None:
    """What lapses unless someone acts is an opening with a deadline, not a loss yet: a rebate, grant or offer that
    ends, or a window to apply, enrol or bid that closes (or is late for) on a date. Not when the sentence also
    says harm is done."""
    window = _WINDOW.search(scan) is not None
    lapsing = [c for c in cats if c == "risk.end" or (window and c == "risk.late")]
    if not lapsing or weights.keys() & _HARM or \
            not (window or _BENEFIT.search(scan) or (_UNLESS_USED.search(scan) and _MONEY.search(scan))):
        return
    weight = max(weights.pop(c) for c in lapsing)
    cats[cats.index(lapsing[0])] = "opp.use-or-lose"
    for c in lapsing[1:]:
        cats.remove(c)
    weights["opp.use-or-lose"] = max(weights.get("opp.use-or-lose", 0.0), weight, 1.0 if window else 0.0)


def _named_pairs(text: str) -> frozenset[str]:
    """Two capitalised words inside a sentence, lower-cased ("lower ashcombe", "rising sun"): a name, so its first
    word is no rise or fall."""
    return frozenset(f"{a} {b}".lower() for a, b in _NAME_PAIR.findall(text))


def _polar(scan: str, cats: list[str], weights: dict[str, float], text: str = "") -> None:
    """Rises and falls read by what moved: costs or complaints rising, or sales falling, is a risk; the opposite
    is good news that needs no action; a move of nothing named is a weak risk cue. A word of a name in ``text``
    (the sentence as written: "Lower Ashcombe") moves nothing."""
    names: frozenset[str] | None = None
    for rx, up in ((_RISE, True), (_FALL, False)):
        moves = list(rx.finditer(scan))
        if moves and text:
            names = _named_pairs(text) if names is None else names  # only for a sentence with a move word
            moves = [m for m in moves
                     if " ".join(scan[m.start():m.end() + 40].split()[:2]).rstrip(".,;:") not in names]
        moves = [m for m in moves if not _NO_MOVE.search(scan, max(0, m.start() - 8), m.start())]
        for m in moves[:2]:
            # what moved, past an aside in brackets ("accidents in the year (both slips, ...), down from five")
            before = _BRACKETED.sub("", scan[max(0, m.start() - 3 * _METRIC_WINDOW):m.start()])[-_METRIC_WINDOW:]
            bad = [b.end() for b in BAD_METRIC.finditer(before)]
            good = [g.end() for g in GOOD_METRIC.finditer(before)]
            if not bad and not good:
                after = scan[m.end():m.end() + 30]
                bad = [-b.start() for b in BAD_METRIC.finditer(after)][:1]
                good = [-g.start() for g in GOOD_METRIC.finditer(after)][:1]
            harmful: bool | None = None
            if bad or good:
                harmful = (max(bad, default=-999) > max(good, default=-999)) == up
            if harmful is None:
                cat, w = ("risk.rise" if up else "risk.fall"), 0.4
            elif harmful:
                cat, w = ("risk.rise" if up else "risk.fall"), 0.9
            else:
                cat, w = "good.trend", 0.5
            if cat not in weights:
                cats.append(cat)
            weights[cat] = min(1.5, weights.get(cat, 0.0) + w)


_BRACKETED = re.compile(r"\([^()]*\)")
_NO_MOVE = re.compile(r"\b(?:nil|no|zero)\s+$")  # "a nil increase", "no rise": nothing moved


_WORD_NUMBERS = {w: i for i, w in enumerate((
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"))}
_COUNTED = r"\d[\d,]*(?:\.\d+)?|" + "|".join(_WORD_NUMBERS)
# a figure with last period's beside it: "two lost-time injuries in 2024 (2023: five)", "38 (prior year: 61)"
_BEFORE = re.compile(rf"\((?:(?:fy|cy)\s?'?\d{{2,4}}|(?:19|20)\d\d|prior year|last year|previous year|py|ly)"
                     rf"\s*[:=]?\s*({_COUNTED})\b[^)]{{0,20}}\)")
_NOW = re.compile(rf"(?<![\w.,])({_COUNTED})(?![\w,]*\d)(?!\s*%)")
_A_YEAR = re.compile(r"(?:19|20)\d\d")


def _number(word: str) -> float | None:
    if word in _WORD_NUMBERS:
        return float(_WORD_NUMBERS[word])
    try:
        return float(word.replace(",", ""))
    except ValueError:
        return None


def _against_before(scan: str, cats: list[str], weights: dict[str, float]) -> None:
    """A count set beside last period's ("two lost-time injuries in 2024 (2023: five)"): fewer of a bad thing or
    more of a good one is good news that needs no action, however alarming the thing counted; the opposite is a
    rise or a fall that matters."""
    m = _BEFORE.search(scan)
    if m is None:
        return
    before = _number(m.group(1))
    head = scan[max(0, m.start() - 90):m.start()]
    now = next((v for n in reversed(_NOW.findall(head))
                if not _A_YEAR.fullmatch(n) and (v := _number(n)) is not None), None)
    _judge(head, now, before, cats, weights)


# a figure beside where it came from: "worth £2.9m ..., up from £2.4m in June"
_FROM = re.compile(rf"\b(?:up|down|rising|falling|rose|fell|increased|decreased|grew|dropped)\s+from\s+([£$€]?)"
                   rf"({_COUNTED})(?:bn|[kmb])?\b")
_MONEY_NOW = re.compile(r"[£$€](\d[\d,]*(?:\.\d+)?)")


def _against_from(scan: str, cats: list[str], weights: dict[str, float]) -> None:
    """A figure beside the one it moved from: judged like a figure beside last period's (money against money)."""
    m = _FROM.search(scan)
    if m is None:
        return
    head = scan[max(0, m.start() - 90):m.start()]
    found = _MONEY_NOW.findall(head) if m.group(1) else _NOW.findall(head)
    now = next((v for n in reversed(found) if not _A_YEAR.fullmatch(n) and (v := _number(n)) is not None), None)
    _judge(head, now, _number(m.group(2)), cats, weights)


def _judge(head: str, now: float | None, then: float | None, cats: list[str], weights: dict[str, float]) -> None:
    """``now`` against ``then`` (last period's figure, or a target) for the metric ``head`` names: fewer of a bad
    thing or more of a good one is good news (its risk cues damped); the opposite is a rise or a fall."""
    bad, good = BAD_METRIC.search(head), GOOD_METRIC.search(head)
    if then is None or now is None or now == then or bool(bad) == bool(good):
        return
    if (now < then) == bool(bad):
        for cat in [c for c in cats if c.startswith("risk.")]:
            weights[cat] = round(weights[cat] * 0.3, 3)
        cat, w = "good.trend", 1.0
    else:
        cat, w = ("risk.rise" if bad else "risk.fall"), 0.9
    if cat not in weights:
        cats.append(cat)
    weights[cat] = max(weights.get(cat, 0.0), w)


# a figure set against the level it should be at: "0.41 per 100,000 miles against a target of 0.50"
_TARGET = re.compile(rf"\b(?:against|versus|vs\.?|compared (?:with|to))\s+(?:a|an|the|our|its)?\s*"
                     rf"(?:[\w-]+\s+)?(?:target|goal|limit|threshold|budget|plan|standard|benchmark)\s+"
                     rf"(?:of\s+)?[£$€]?({_COUNTED})(?:bn|[kmb])?\b")
_PER = re.compile(r"\bper\s+$")


def _against_target(scan: str, cats: list[str], weights: dict[str, float]) -> None:
    """A figure set against its target, limit or budget: on the right side of it, a count of a bad thing or an
    amount of a good one is good news, however alarming the thing counted; on the wrong side it is a shortfall."""
    m = _TARGET.search(scan)
    if m is None:
        return
    target = _number(m.group(1))
    head = scan[max(0, m.start() - 90):m.start()]
    # the figure the sentence reports, not the unit it is counted in ("0.41 per 100,000 miles") nor a year
    now = next((v for n in reversed(list(_NOW.finditer(head)))
                if not _A_YEAR.fullmatch(n.group(1)) and not _PER.search(head, 0, n.start())
                and (v := _number(n.group(1))) is not None), None)
    _judge(head, now, target, cats, weights)


# -- corpus statistics ------------------------------------------------------------------------------------------

_CALM_TITLE = re.compile(r"\b(?:drills?|exercises?|simulations?|tabletop|rehearsals?|close-?outs?|closures?|"
                         r"closed|after-action|post-incident|lessons learned|corrections?|errat(?:a|um)|retract\w*)\b",
                         re.IGNORECASE)
_LOWER_WORD = re.compile(r"(?<![\w.-])([a-z][a-z0-9-]{2,})")


def insurance_clause(f: Fact) -> bool:
    """Whether a sentence of an insurance document, section or sentence excludes or conditions cover."""
    low = f.text.lower()
    return bool((EXCLUDES.search(low) or CONDITIONS.search(low)) and
                INSURANCE.search(" ".join((*f.path, f.heading, f.topic, low)).lower()))


class Corpus:
    """Document frequencies of entity keys and terms over a workspace's documents, and the words that occur in
    lower case (so a capitalised sentence opener such as "Forklifts" is not taken for a name)."""

    def __init__(self) -> None:
        self.docs = 0
        self.entity_df: Counter[str] = Counter()
        self.term_df: Counter[str] = Counter()
        self.lower: set[str] = set()
        self.calm: dict[str, float] = {}
        self._distinct: dict[str, tuple[int, bool]] = {}  # key -> (documents when judged, distinctive)
        # what the business spends with a supplier: its name (a multi-word key: "barrowby supplies") or the title
        # of a document of terms with it -> the largest sum stated, and the words for what is bought from it
        self.spend: dict[str, float] = {}
        self.goods: dict[str, frozenset[str]] = {}
        # the words of insurance exclusions and conditions of cover: what a practice may fall foul of
        self.covered: set[str] = set()

    def damping(self, doc: str) -> float:
        """How much a document's facts should count, from how much of it is resolved, rehearsed or about
        others (a drill report, a closed audit, an industry digest): 1.0 for an ordinary document."""
        calm = self.calm.get(doc, 0.0)
        return 1.0 if calm <= 0.25 else max(0.35, 1.0 - (calm - 0.25) * 1.1)

    def add_document(self, text: str, facts: Iterable[Fact], doc: str = "", title: str = "") -> None:
        self.docs += 1
        ents: set[str] = set()
        terms: set[str] = set()
        facts = list(facts)
        for f in facts:
            ents.update(f.entities)
            terms.update(f.terms)
        calm = sum(1 for f in facts if f.benign or f.assurance or "external" in f.cues) / len(facts) \
            if facts else 0.0
        if _CALM_TITLE.search(title):
            calm = max(calm, 0.8)
        self.calm[doc] = calm
        self._add_spend(text, facts)
        self.covered.update(t for f in facts if insurance_clause(f) for t in term_keys(f.text))
        terms.update(term_keys(text))
        self.entity_df.update(ents)
        self.term_df.update(terms)
        self.lower.update(m.group(1) for m in _LOWER_WORD.finditer(text))

    def _add_spend(self, text: str, facts: list[Fact]) -> None:
        """Record what a document says the business spends with each supplier (:func:`spend_row`), and, in a
        document of terms with one supplier that states the purchases on the account ("Net purchases: £176,000"),
        under the document's title; a rebate document's words say what the supplier sells."""
        title = next((f.path[0] for f in facts if f.path), "")
        for f in facts:
            row = spend_row(f)
            if row is not None:
                names, value, goods = row
                for n in names:
                    self.spend[n] = max(self.spend.get(n, 0.0), value)
                    self.goods[n] = self.goods.get(n, frozenset()) | goods
            elif title and f.unit == "row" and (m := _PURCHASES.search(f.text.lower())) is not None:
                self.spend[title] = max(self.spend.get(title, 0.0), money_value(m))
        if title and any(_REBATE.search(f.text.lower()) for f in facts):
            self.goods[title] = self.goods.get(title, frozenset()) | frozenset(term_keys(text))

    def is_name(self, key: str) -> bool:
        """A key names a particular thing: a code or a multi-word name, or a single word never written in lower
        case in the corpus."""
        if " " in key or any(c.isdigit() for c in key):
            return True
        return key not in self.lower

    def idf(self, key: str, entity: bool = True) -> float:
        df = (self.entity_df if entity else self.term_df).get(key, 0)
        return math.log((self.docs + 1) / (df + 0.5))

    def distinctive(self, key: str) -> bool:
        """Rare enough to link on: in at most a fifth of the documents (and at most 50), at least 2; a name."""
        hit = self._distinct.get(key)
        if hit is None or hit[0] != self.docs:
            hit = self._distinct[key] = (self.docs, self._distinctive(key))
        return hit[1]

    def _distinctive(self, key: str) -> bool:
        df = self.entity_df.get(key, 0)
        return df <= max(3, min(50, self.docs // 5)) and self.is_name(key)

    def specific_term(self, term: str) -> bool:
        """A word few documents use (for telling whether two sentences of one document speak of one thing)."""
        return self.term_df.get(term, 0) <= max(2, min(10, self.docs // 10)) and len(term) >= 5

    def rare_term(self, term: str) -> bool:
        df = self.term_df.get(term, 0)
        return 2 <= df <= max(2, min(10, self.docs // 10)) and len(term) >= 5
