"""Per-message signals for mining: risk and opportunity cues (generic business vocabulary), entities (names,
product codes, versions, percentages, money, dates), sentiment, questions, and the salient terms that themes
cluster on. Pure functions of one message's text; no scenario-specific words, no database.
"""

from __future__ import annotations

import itertools
import re
import sys
from dataclasses import dataclass

from personas.quality import STOPWORDS, stem

# (pattern, weight). Generic vocabulary of trouble and of unmet demand, as an analyst would skim for it.
_RISK: tuple[tuple[str, float], ...] = (
    (r"fail(?:s|ed|ing|ure|ures)?", 1.0),
    (r"outages?|downtime|crash(?:es|ed|ing)?|reboot(?:s|ed|ing)?", 1.0),
    (r"defect(?:s|ive)?|recall(?:s|ed)?|breach(?:es|ed)?|fraud|lawsuits?", 1.0),
    (r"reject(?:s|ed|ion|ions)?(?: rate)?", 1.0),
    (r"expir(?:e|es|ed|ing|y)", 1.0),
    (r"churn(?:s|ed|ing)?|cancel(?:s|led|lation|lations)?", 0.8),
    (r"rfps?|tenders?|out to bid", 0.8),
    (r"(?:sole|single|only) (?:supplier|source|vendor)|no (?:backup|second source|alternative)", 1.0),
    (r"no (?:corrective action|capa|fix|owner|plan|workaround)|nobody has|no one has|not (?:been )?qualified", 0.8),
    (r"withdr(?:ew|awn|aw|awal)|pulled out|walked away|backed out", 1.0),
    (r"runway|burn rate|write[- ]downs?|shortfall|overdue|unpaid", 0.8),
    (r"(?:lost|losing|lose) (?:\w+ ){0,2}(?:deals?|renewals?|customers?|accounts?|clients?|revenue)", 1.0),
    (r"broken|stopp(?:ed|ing)|stops|halt(?:s|ed)?|shortages?|run short|ran short", 0.8),
    (r"delay(?:s|ed)?|late|behind schedule|slipp(?:ed|ing)", 0.5),
    (r"duplicate[ds]?|errors?|bugs?|incidents?|drift|nonconformit(?:y|ies)|vulnerab\w*", 0.6),
    (r"complain(?:t|ts|ing)?|attrition|penalt(?:y|ies)|overtime", 0.4),
    (r"risks?|worr(?:y|ied|ies)|concern(?:s|ed)?|problems?|issues?", 0.3),
    (r"keeps? (?:climbing|rising|growing|failing)|rose|climb(?:s|ed|ing)", 0.4),
)
_OPPORTUNITY: tuple[tuple[str, float], ...] = (
    (r"demand|waitlist|wait list|backlog of orders", 1.0),
    (r"asked (?:\w+ ){0,4}for|asking for|requests?(?:ed)?|want(?:s|ed)? (?:a|an|to buy)", 0.8),
    (r"would pay|willing to pay|pay \$?\d", 1.0),
    (r"could sell|sell(?:ing)? (?:them|it|a|an)|resell|upsell|cross-sell", 0.8),
    (r"refurbish\w*|recondition\w*|repurpos\w*|secondary market", 0.6),
    (r"subscriptions?|recurring revenue|contracts?", 0.6),
    (r"sav(?:e|es|ing|ings)|cut (?:\w+ ){0,2}(?:costs?|bill|spend)|cheaper", 0.8),
    (r"untapped|new market|opportunit(?:y|ies)|win back|growth|grow", 0.8),
    (r"prospects?|pipeline|margin|offer(?:s|ing)?", 0.3),
)
_NEGATIVE = re.compile(
    r"\b(?:bad|worse|worst|fail\w*|broken|problem\w*|worr\w*|angry|frustrat\w*|late|lost|losing|risk\w*|"
    r"complain\w*|stop\w*|reject\w*|no|nobody|never|can't|cannot|short)\b"
)
_POSITIVE = re.compile(r"\b(?:good|great|better|best|win\w*|happy|grow\w*|gain\w*|save\w*|improv\w*|success\w*|"
                       r"on time|ahead|record|thanks)\b")

_COMPILED_RISK = tuple((re.compile(rf"\b(?:{p})\b"), w, p) for p, w in _RISK)
_COMPILED_OPP = tuple((re.compile(rf"\b(?:{p})\b"), w, p) for p, w in _OPPORTUNITY)
# Where any cue starts (zero-width, so overlapping starts are all seen): most sentences have none or a few, and
# trying each cue only there finds exactly what scanning the whole text with each cue would.
_ANY_CUE = re.compile(r"\b(?=(?:" + "|".join(p for p, _ in (*_RISK, *_OPPORTUNITY)) + r")\b)")

_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_ENTITY_PATTERNS = (
    ("code", re.compile(r"\b[A-Z][A-Z0-9]{0,5}-\d+[A-Z]?\b")),
    ("version", re.compile(r"\b\d+\.\d+(?:\.\d+)+\b")),
    ("percent", re.compile(r"\b\d+(?:\.\d+)?\s?(?:%|percent\b)")),
    ("money", re.compile(r"\$\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:million|billion|thousand|[kmb]n?)\b)?", re.IGNORECASE)),
    ("date", re.compile(rf"\b\d{{1,2}} (?:{_MONTHS})\b|\b(?:{_MONTHS}) \d{{1,2}}\b", re.IGNORECASE)),
)
_NAME = re.compile(r"\b[A-Z][a-z][\w'-]*(?: [A-Z][\w'-]+)*")
_MENTION = re.compile(r"@[\w-]+|#[a-z0-9-]+")
_TERM = re.compile(r"[a-z0-9]+(?:[.\-'][a-z0-9]+)*%?")
_CLAUSE_START = re.compile(r"(?:^|[.!?:;\"“])\s*$")
_QUESTION = re.compile(r"\?")
_QUOTE_MARKS = re.compile(r"[\"“”]")
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9@#$])")
_NUMERIC = re.compile(r"[\d.,%]+(?:st|nd|rd|th|s)?")
_NUMERIC_ENTITY = re.compile(r"^[$\d]|\d$")
_CODE = re.compile(r"[A-Za-z]-?\d|\d\.\d+\.\d")


@dataclass(frozen=True, slots=True)
class Signals:
    """What one message says, as the miner sees it. ``risk``/``opportunity`` are summed cue weights; ``terms``
    are the salient terms (stems, entities, adjacent-word pairs) that themes cluster on.
    """

    message_id: int
    risk: float
    opportunity: float
    cues: tuple[str, ...]
    entities: tuple[str, ...]
    terms: tuple[str, ...]
    sentiment: float
    question: bool
    quantities: int

    @property
    def cue(self) -> float:
        return self.risk + self.opportunity


def strip_addressing(text: str) -> str:
    """The text without @-mentions and #channel references (handles must not become themes)."""
    return _MENTION.sub(" ", text)


def cues(text: str) -> tuple[float, float, list[str]]:
    """Summed risk weight, summed opportunity weight and the matched cue phrases of ``text``."""
    low = text.lower()
    risk = opp = 0.0
    found: list[str] = []
    starts = [m.start() for m in _ANY_CUE.finditer(low)]
    if not starts:
        return risk, opp, found
    for compiled, is_risk in ((_COMPILED_RISK, True), (_COMPILED_OPP, False)):
        for rx, w, _ in compiled:
            end = 0  # like finditer: the next match starts where the previous one ended, or later
            for pos in starts:
                if pos < end:
                    continue
                m = rx.match(low, pos)
                if m is None:
                    continue
                end = max(m.end(), pos + 1)
                found.append(m.group(0))
                if is_risk:
                    risk += w
                else:
                    opp += w
    return risk, opp, found


def entities(text: str) -> list[str]:
    """Names (capitalised word runs not opening a sentence), codes (PS-40), versions, percentages, money, dates."""
    out: list[str] = []
    for _, rx in _ENTITY_PATTERNS:
        out += [m.group(0).strip() for m in rx.finditer(text)]
    for m in _NAME.finditer(text):
        name = m.group(0)
        opens = _CLAUSE_START.search(text[: m.start()]) is not None
        if opens:
            head, _, rest = name.partition(" ")
            if not rest:
                continue  # one capitalised word opening a sentence is just a sentence
            name = rest if head.lower() in STOPWORDS or head.endswith("ing") else name
        if name.lower() not in STOPWORDS:
            out.append(name)
    return list(dict.fromkeys(out))


def salient_terms(text: str, ents: list[str]) -> list[str]:
    """Stems of content words, adjacent content-word pairs and named entities (lower-cased), deduplicated.

    Bare numbers, dates, percentages and money are left out: they pin one sentence, not a subject, so clustering
    on them would split one subject into one theme per quoted figure (they still count for severity).
    """
    toks = _TERM.findall(text.lower())
    stems = [None if (t in STOPWORDS or len(t) < 3 or _NUMERIC.fullmatch(t)) else stem(t) for t in toks]
    out = [s for s in stems if s]
    out += [f"{a} {b}" for a, b in itertools.pairwise(stems) if a and b]
    out += ["e:" + e.lower() for e in ents if not _NUMERIC_ENTITY.search(e) or _CODE.search(e)]
    # interned: the same few thousand terms recur in every message, in every theme and in the term statistics
    return [sys.intern(t) for t in dict.fromkeys(out)]


def sentiment(text: str) -> float:
    """(positive - negative) cue words over their sum, in [-1, 1]; 0 when there are none."""
    low = text.lower()
    neg = len(_NEGATIVE.findall(low))
    pos = len(_POSITIVE.findall(low))
    return (pos - neg) / (pos + neg) if pos + neg else 0.0


def sentences(body: str) -> list[str]:
    """The units that themes cluster: sentences of the message without @-mentions and quote marks, with a short
    framing lead-in ("Per the field notes: ...") split off so the claim stands alone.
    """
    text = _QUOTE_MARKS.sub("", strip_addressing(body)).strip()
    out: list[str] = []
    for sent in _SPLIT.split(text):
        head, sep, tail = sent.partition(": ")
        while sep and len(head.split()) <= 8 and len(tail.split()) >= 3:
            out.append(head.strip() + ":")
            sent = tail
            head, sep, tail = sent.partition(": ")
        if sent.strip():
            out.append(sent.strip())
    return out


def extract(message_id: int, body: str) -> Signals:
    """All signals of one message."""
    text = strip_addressing(body)
    risk, opp, found = cues(text)
    ents = entities(text)
    quantities = sum(1 for kind, rx in _ENTITY_PATTERNS if kind in ("percent", "money") for _ in rx.finditer(text))
    return Signals(
        message_id=message_id,
        risk=risk,
        opportunity=opp,
        cues=tuple(dict.fromkeys(found)),
        entities=tuple(ents),
        terms=tuple(salient_terms(text, ents)),
        sentiment=sentiment(text),
        question=bool(_QUESTION.search(text)),
        quantities=quantities,
    )


def units(message_id: int, body: str) -> list[tuple[str, Signals]]:
    """Each sentence of ``body`` (:func:`sentences`) with its signals: what themes cluster, computed once per
    message and shared by the stored per-message signals and the miner."""
    return [(sent, extract(message_id, sent)) for sent in sentences(body)]
