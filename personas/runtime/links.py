"""Which stated facts from different documents speak of the same thing, and what the two together mean: candidate
pairs scored by the distinctive names and rare words they share, and the relation between them ("X and Y, so Z"):
a date one team needs falling inside another's outage, demand meeting a limit, a dependency in trouble, a
reassurance contradicted. Pure; the runtime decides who states a link and where.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from personas.context.dates import Span, before, overlaps, spans
from personas.context.facts import (
    MONEY_HELD,
    MONEY_LIMIT,
    TRADE_WORDS,
    Corpus,
    Fact,
    entity_keys,
    insurance_clause,
    money_value,
    spend_row,
    term_keys,
)
from personas.context.lexicon import (
    CEILING_WORDS,
    CONDITIONS,
    CUES,
    EXCLUDES,
    FLOOR_WORDS,
    INSURANCE,
    RECEIVED_FROM,
    resources,
)
from personas.context.passages import row_cells, row_split
from workspace.text import stem


@dataclass(frozen=True, slots=True)
class Stated:
    """A fact as stated from one document, for linking: which document and label it comes from."""

    key: int
    doc: str
    doc_title: str
    department: str
    label_key: tuple[int, int]
    fact: Fact


@dataclass(frozen=True, slots=True)
class Link:
    a: Stated
    b: Stated
    shared: tuple[str, ...]
    score: float
    kind: str
    relation: str
    consequence: str


_DEMAND = {"opp.demand"}
_SUPPLY_DOWN = {"risk.outage", "risk.capacity", "risk.end", "risk.supply", "risk.late", "risk.failure"}
_DEPENDENCY = {"risk.single", "dependency", "risk.concentration"}
_TROUBLE = {"risk.failure", "risk.end", "risk.late", "risk.compliance", "risk.supply", "risk.outage", "risk.loss",
            "risk.safety", "risk.security", "risk.exposure"}
_UNUSED = {"opp.unused"}
_SHORT = {"risk.capacity", "risk.supply", "risk.outage"}
_BOUGHT_IN = {"bought-in"}  # paid for outside: demand the business already meets, at a price
# what each relation is worth when ranking links: a clash in time or between demand and supply says more than
# two troubles that merely share a name
STRENGTH = {"timing": 1.5, "demand-vs-capacity": 1.4, "demand-meets-supply": 1.4, "dependency": 1.3, "undercut": 1.3,
            "breach": 1.4, "leaver": 1.4, "over-limit": 1.4, "threshold": 1.3, "uninsured": 1.4,
            "consolidate": 1.3, "sunk": 1.4,
            "short-of-level": 1.5,
            "unplanned": 1.2,
            "exposure": 1.2, "contradiction": 1.1, "obligation": 0.9, "compound": 0.5}
# words that put a date on a need ("set for 14 October", "must be live by 1 November") or on an absence
# ("out of service from 5 October to 13 November", "expired on 31 July", "moves to Q2")
_NEED_WORDS = re.compile(r"\b(?:need(?:s|ed)?|requir\w+|must|due|deadline|set for|planned for|scheduled for|"
                         r"launch\w*|go(?:es)? live|live by|ready|rfs|start\w*|begin\w*|deliver\w*|intake|peak|"
                         r"expects?|"
                         r"by|before|in time for|ships?|opens?|arriv\w+|(?:planned|scheduled|due|expected) to|"
                         r"return(?:s|ed|ing)? (?:to|on)|back)\W+(?:\w+\W+){0,3}$")  # not "waste returns Q3"
_AWAY_WORDS = re.compile(r"\b(?:out of (?:service|action)|shut ?down|shutdown|closed?|offline|outage|unavailable|"
                         r"expir\w*|ends?|ended|laps\w*|terminat\w*|until|runs? to|mov(?:e|es|ed|ing) (?:in)?to|"
                         r"administration|receivership|insolven\w+|bankrupt\w*|ceased|"
                         r"deferred|slipp?\w*|postponed|pushed|ship date|withdrawn|discontinued|"
                         r"(?:final|last) (?:order|orders|ordering|supply|delivery) date|end[- ]of[- ](?:sale|life)|"
                         r"not (?:be )?(?:available|ready|delivered|"
                         r"live)|no bookings|from|between|overhaul\w*|off)\W+(?:[\w.-]+\W+){0,6}$")

# words that date an end of term: a lease, contract, licence or cover that "ends", "expires" or "terminates"
_END_WORDS = re.compile(r"\b(?:expir\w*|ends?|ended|terminat\w*|runs? (?:out|to|until)|withdrawn|discontinued|"
                        r"(?:final|last) (?:order|orders|ordering|supply|delivery) date|end[- ]of[- ](?:sale|life))"
                        r"\W+(?:[\w.-]+\W+){0,3}$")
# a plan's row that opens with its date: "5-16 January 2026 (Milestone: Showroom displays installed: ...)"
_MILESTONE = re.compile(r"\b(?:milestones?|launch\w*|install\w*|go(?:es)?[- ]live|open(?:s|ing)?|starts?|"
                        r"deliver\w*|due|deadline|training|presentations?|events?)\b")


_COMMITMENT = re.compile(r"\b(?:must|shall|commit(?:s|ted|ment)?|guarantee[sd]?|sla|service levels?|required to|"
                         r"obliged|promised|undertakes?|entitled to|liquidated damages)\b")


# what two facts mean together, by relation: the clause after "so" in a link's title and message
_SO = {
    "money": "the money counted on from {e} may not be paid",
    "depends": "trouble with {e} reaches what depends on it",
    "short": "{e} is forecast to break the level required on the day it is tested",
    "undercut": "a change one team makes to {e} may break what another has committed to about it",
    "breach": "what one team's rule forbids for {e} another team is doing",
    "leaver": "{e} has left, and another team's records still give {e} access",
    "certified": "{e} is leaving, and another team's records count on {e}'s certificate to do the work",
    "over-limit": "{e} is above the limit another team's records set for it",
    "under-floor": "{e} falls short of the minimum another team's records set for it",
    "threshold": "{e} passes the level another team's contract pays a rebate or discount for, to be claimed",
    "uninsured": "what one team does with {e} falls outside what the insurance covers",
    "consolidate": "spend placed with {e} for the same goods would take the year past the rebate tier another "
                   "team's contract pays at",
    "sold": "{e}, which one team plans to use, is being sold or scrapped by another",
    "on-hand": "what is already on hand for {e} could meet that demand",
    "hours": "the extra hours staff at {e} ask for could meet that demand",
    "liable": "the business has promised to pay more for each lost {e} than its insurance pays",
    "assumed": "the plan counts on more for {e} than another team's rates confirm",
    "spare": "the spare {e} one team has could take the work another turned away",
    "replace": "{e} already on hand could replace what is paid for outside",
    "unplanned": "customers ask for {e}, and no plan provides it",
    "contradicted": "what one report says about {e} is contradicted by the other",
    "exposure": "more business with {e} puts more money at risk",
    "commitment": "the commitment on {e} may be missed",
    "unmet": "the demand expected for {e} may not be met",
    "owner": "{e} needs one owner who sees both",
    "opening": "{e} is an opening that needs both teams",
    "late": "{e} arrives after the date it is needed",
    "free": "{e} is free when it is asked for",
    "ended": "{e} has ended before it is needed",
    "out-demand": "the demand expected for {e} falls when it is out of action",
    "out": "{e} is out of action on the date it is needed",
    "sunk": "the money planned for {e} may be lost if its term ends first",
    "away": "{e} will be away, and another team's records show no one else at that level for the work",
    "signs": "the one who holds the post of {e} will be away, and another team's work needs {e} to sign it",
}
def _ends_soon(plan: str, ends: Sequence[Span]) -> bool:
    """An end dated within three years of the years a plan's spend is for ("2025-26": a break in March 2026, not a
    lease that expires in 2036); any dated end when the plan names no year."""
    years = [int(y) for y in _PLAN_YEAR.findall(plan)]
    dated = [s.first // 372 for s in ends if s.dated]
    return bool(ends) and not (years and dated and min(dated) > max(years) + 3)


_PLAN_YEAR = re.compile(r"(?<!\d)(20\d\d)(?!\d)")
# money spent to improve a place or an asset, and a sum
_INVEST = re.compile(r"\b(?:refits?|fit-?outs?|refurbish\w*|capital expenditure|capex|invest(?:s|ed|ing|ment)?|"
                     r"upgrades?|extensions?|new build|conver(?:t|sion))\b")


def consequences(entity: str) -> tuple[str, ...]:
    """Every consequence a link can state, about ``entity`` (the leak guard keeps their frame words as no one's
    content: see :data:`personas.context.leakindex.FRAME_STEMS`)."""
    return tuple(t.format(e=entity) for t in _SO.values())


def relate(a: Fact, b: Fact, entity: str) -> tuple[str, str, str] | None:
    """(kind, relation, consequence) of two facts about ``entity`` read together, or ``None`` when together they
    mean nothing more than apart. The consequence is a clause that follows "so". Dated clashes come first (a need
    inside an outage, after an end, before an arrival; demand in a period of reduced capacity), then a dependency
    in trouble, demand meeting what sits unused, a reassurance contradicted, a commitment at risk."""
    ca, cb = set(a.cues), set(b.cues)
    e = entity
    pairs = ((a, b, ca, cb), (b, a, cb, ca))
    timing = _timing(a, b) if _names_both(a, b, entity) else None
    if timing:
        return timing[0], timing[1], timing[2].format(e=e)
    for x, y, _, _ in pairs:
        # HR's records say someone leaves (before a dependency, and before the access check: an authorised person's
        # row is a certificate to count on, not a key to take back) ("Reason: Retirement; Last working day: 29
        # January 2027") and another
        # team's count on their certificate ("Status: CTTS certified", "Authorised pilots: One: DM"): work only
        # they may do, which neither record shows at risk alone
        if _LEAVES.search(x.text.lower()) and _CERTIFIED.search(y.text.lower()) and \
                not _LEAVES.search(y.text.lower()) and not _REVOKED.search(y.text.lower()) and \
                _who_leaves(x, entity) and entity.lower() in y.text.lower():
            return "risk", "leaver", _SO["certified"].format(e=e)
    for x, y, _, cy in pairs:
        # money one team plans to spend on a place or an asset ("Premium refit (Store: Canal Street; £240,000)")
        # that another team's records say may end ("the landlord may terminate on 25 March 2026"): sunk if it does
        # (the spend may be one line of a capital request whose title says what it is for: "Total approval
        # requested: £1.84m" under "Capital expenditure approval — <site> barge replacement")
        x_where = " ".join((*x.path, x.heading)).lower()
        if (_INVEST.search(x.text.lower()) or _INVEST.search(x_where)) and "money" in x.cues and "risk.end" in cy \
                and y.kind == "risk" and _ends_soon(x.text, _dated(y.text, _END_WORDS)) and \
                not _INVEST.search(y.text.lower()) and (_names(x, entity) or entity.lower() in x_where) and \
                (_names(y, entity) or entity.lower() in " ".join((*y.path, y.heading)).lower()):
            # (a lease report's clause speaks of the place its title names)
            return "risk", "sunk", _SO["sunk"].format(e=e)
    for x, y, cx, cy in pairs:
        # the dependency is on what the pair names, or on what the dependent sentence opens with when the other
        # names that too ("TF Installations (trading name of Tanner Fit Ltd) is our only ..." and "Tanner Fit")
        if cx & _DEPENDENCY and cy & _TROUBLE and y.kind == "risk" and \
                (_depends_on(x, entity) or ((lead := _first_name(x)) in y.entities and _depends_on(x, lead))):
            if _COUNTED_ON.search(x.text.lower()):
                return "risk", "dependency", _SO["money"].format(e=e)
            return "risk", "dependency", _SO["depends"].format(e=e)
    for x, y, _, cy in pairs:
        # one team changes how it makes or does a thing ("stop dosing the enzyme on GA-01") that another team's
        # claim, licence or commitment on the same thing rests on: no cue says trouble on either side, the pair does
        if _CHANGES.search(x.text.lower()) and x.kind != "risk" and \
                ("obligation" in cy or _COMMITMENT.search(y.text.lower())) and not _CHANGE_WORD.search(y.text.lower()) \
                and _names_both(x, y, entity) and not _columns_only(x, y, entity):
            return "risk", "undercut", _SO["undercut"].format(e=e)
    for x, y, _, _ in pairs:
        # one team's limit on a thing (a room's maximum occupancy, a visa's weekly hours, a promised minimum speed)
        # and another team's figure for the same thing on the wrong side of it
        side = _past_limit(x, y)
        if side is not None and _names_both(x, y, entity):
            return _LIMIT_SIDE[side][0], _LIMIT_SIDE[side][1], _SO[_LIMIT_SIDE[side][2]].format(e=e)
    for x, y, _, _ in pairs:
        # one team serves a place less often ("served on Monday and Thursday", "no longer runs daily") that another
        # team has promised a customer there every day: the promise is broken from the day the change starts
        if _LESS_OFTEN.search(x.text.lower()) and _EVERY_DAY.search(y.text.lower()) and \
                not _EVERY_DAY.search(x.text.lower()) and _names_both(x, y, entity):
            return "risk", "undercut", _SO["undercut"].format(e=e)
    for x, y, _, _ in pairs:
        # one team's rule forbids an act on a thing ("must not sell any affected vehicle") and another team's record
        # shows it done ("Front line, advertised"): a breach neither document shows alone
        # (a rule speaks of what its section is about: "any affected vehicle" under "RC-118: Brava water pump")
        if _does_forbidden(x, y) and (entity.lower() in x.context or _names(x, entity)) and _names(y, entity):
            return "risk", "breach", _SO["breach"].format(e=e)
    for x, y, _, cy in pairs:
        # ... and someone away for months (a sabbatical, maternity leave) whom another team's skills matrix shows
        # as the only one at the top level of a task ("Titanium bar frameworks (...; D. Walczak: 3; ...)")
        if _AWAY_LONG.search(x.text.lower()) and "risk.single" in cy and y.unit == "row" and \
                not _AWAY_LONG.search(y.text.lower()) and _who_leaves(x, entity) and entity.lower() in y.text.lower():
            return "risk", "leaver", _SO["away"].format(e=e)
        # ... or whose post another team's process needs to sign or release its work ("must be certified by a
        # Qualified Person"; the leave register lists "Qualified Person (batch release)" among their authorisations)
        if (_AWAY_LONG.search(x.text.lower()) or _LEAVES.search(x.text.lower())) and x.unit == "row" and \
                not _AWAY_LONG.search(y.text.lower()) and not _LEAVES.search(y.text.lower()) and \
                _signs(y, entity) and _holds_post(x, entity):
            return "risk", "leaver", _SO["signs"].format(e=e)
    for x, y, _, _ in pairs:
        # one team's records say someone has left ("Leaving date: 6 December; summary dismissal") and another's
        # still give them keys, codes or logins: an access to revoke that neither record shows alone
        if _LEFT.search(x.text.lower()) and _HOLDS.search(y.text.lower()) and not _LEFT.search(y.text.lower()) \
                and not _REVOKED.search(y.text.lower()) and entity.lower() in x.text.lower() and \
                entity.lower() in y.text.lower():
            return "risk", "leaver", _SO["leaver"].format(e=e)
    for x, y, _, _ in pairs:
        # one team gives a customer more credit ("raise the group credit limit to £480,000") that another team's
        # records show cannot pay ("a county court judgment against its parent"): the request alone reads as a
        # credit line, the judgment alone as a debt to chase; so does new work committed for it ("selected as
        # preferred contractor", "a non-cancellable production order") against a winding-up petition
        if (_MORE_CREDIT.search(x.text.lower()) or _NEW_WORK.search(x.text.lower())) and \
                _CANNOT_PAY.search(y.text.lower()) and not _CANNOT_PAY.search(x.text.lower()) and y.kind == "risk" \
                and _names(y, entity):
            return "risk", "exposure", _SO["exposure"].format(e=e)
    for x, y, _, _ in pairs:
        # what one team plans to work with ("we will resource Lot 4 with the nine coaches") another has agreed to
        # sell or scrap: no cue says trouble on either side, the pair does
        if _PLANS_TO_USE.search(x.text.lower()) and _DISPOSED.search(y.text.lower()) and \
                not _DISPOSED.search(x.text.lower()) and _names_both(x, y, entity):
            return "risk", "dependency", _SO["sold"].format(e=e)
    for x, y, cx, cy in pairs:
        # demand its paragraph reports counts only for a sentence that is not itself about trouble
        if (cx & _DEMAND or (set(x.around) & _DEMAND and x.kind != "risk")) and cy & _UNUSED and y.kind != "risk" \
                and _unused_is(y, entity):
            so = "hours" if _MORE_HOURS.search(y.text.lower()) else "on-hand"  # staff who ask for more work
            return "opportunity", "demand-meets-supply", _SO[so].format(e=e)
    for x, y, cx, cy in pairs:
        # paying outside for what another team's register shows idle in house: the same kind of thing (a courier
        # to a site is no use of the meeting room idle there)
        if cx & _BOUGHT_IN and x.kind != "risk" and cy & _UNUSED and _idle(y) and _unused_is(y, entity) \
                and _alike(x, y) and not _SPARES_HIRE.search(y.text.lower()):
            thing = f"the {e}" if e.lower() in y.entities else "what is"  # shared words, not a name
            return "opportunity", "demand-meets-supply", _SO["replace"].format(e=thing)
    for x, y, cx, cy in pairs:
        # customers asking for something another team's plans leave out
        if (cx | set(x.around)) & _DEMAND and x.kind == "opportunity" and "gap" in cy and y.kind != "risk":
            return "opportunity", "unplanned", _SO["unplanned"].format(e=e)
    for x, y, cx, cy in pairs:
        # a reassurance (its own, or its paragraph's when the paragraph is about the thing) against trouble the
        # other document reports
        troubled = y.kind == "risk" or (y.kind == "neutral" and set(y.around) & _TROUBLE)
        about = not x.topic or entity.lower() in x.topic.lower()
        if ("assurance" in cx or ("assurance" in x.around and about)) and x.kind != "risk" and troubled and \
                not (cy | set(y.around)) & {"assurance", "benign"} and not _columns_only(x, y, entity) and \
                _says_of(x, entity) and _says_of(y, entity) and \
                not (y.unit == "row" and _NUMBERED.fullmatch(entity.lower()) and
                     entity.lower() not in _row_key(y.text).lower()) and \
                not (_ON_BUDGET.search(x.text.lower()) and not _OFF_BUDGET.search(y.text.lower())):
            # (a register row's trouble is about what the row is, and a numbered place it mentions in passing may be
            # another site's: "Fines (Comment: no market; stockpile in the old Bench 1 area)" is no trouble with the
            # Bench 1 another quarry's report finds stable)
            # (a spend "within budget" is contradicted by its being over budget, not by what it was spent on)
            return "risk", "contradiction", _SO["contradicted"].format(e=e)
    for x, y, cx, cy in pairs:
        if cx & {"load", "opp.demand"} and "risk.exposure" in cy and y.kind == "risk" and x.kind != "risk":
            return "risk", "exposure", _SO["exposure"].format(e=e)
    for x, y, cx, cy in pairs:
        if ("deadline" in cx or _COMMITMENT.search(x.text.lower())) and cy & {"risk.late", "risk.end"} and \
                y.kind == "risk" and not _only_where(y, entity):
            return "risk", "obligation", _SO["commitment"].format(e=e)
    for x, y, cx, cy in pairs:
        # customers' demand, or work won, on a thing whose capacity or supply another team reports cut
        # (a load that leaves room, "Peak 82G; Utilisation: 41%", is no demand going unmet)
        # (and a trouble of its own, "loads were delayed by the outage; stock peaked at 640 t", is no demand)
        # (nor is a volume already handled, "Harvest volume for Q4 was 3,180 tonnes", with no demand to come)
        # (nor is a sum of money forecast, "EBITDA is forecast at £6.6m", against a shortfall of money)
        if cx & (_DEMAND | {"load"}) and x.figures and cy & _SHORT and y.kind == "risk" and not cx & _UNUSED and \
                x.kind != "risk" and not (not cx & _DEMAND and (_PAST_LOAD.search(x.text.lower()) or
                                                                 _MONEY_LOAD.search(x.text.lower()))):
            return "risk", "demand-vs-capacity", _SO["unmet"].format(e=e)
    if a.kind != "neutral" and b.kind != "neutral":
        if "risk" in (a.kind, b.kind):
            return "risk", "compound", _SO["owner"].format(e=e)
        return "opportunity", "compound", _SO["opening"].format(e=e)
    return None


def _only_where(f: Fact, entity: str) -> bool:
    """Whether a fact names ``entity`` only as where it happens ("Location: Hereford", "(Inverness)" after a
    firm's name): a leaver's branch or a supplier's town is no commitment a deadline elsewhere in it puts at risk."""
    low, key = f.text.lower(), re.escape(entity.lower())
    spots = [m.start() for m in re.finditer(rf"(?<![\w-]){key}(?![\w-])", low)]
    where = [m.span() for m in re.finditer(r"\b(?:locations?|based at|branch|site|town|address|area)\s*:\s*[^;)]*|"
                                            r"\([a-z][a-z' -]{2,30}\)", low)]
    return bool(spots) and all(any(a <= p < b for a, b in where) for p in spots)


def _columns_only(a: Fact, b: Fact, entity: str) -> bool:
    """Two register rows that share ``entity`` only in a column ("Type: Scania OmniCity") and not as what either
    row is about (its first cell): two members of one class, one proving nothing about the other."""
    key = entity.lower()
    return a.unit == b.unit == "row" and not any(key in _row_key(f.text).lower() for f in (a, b))


def _row_key(text: str) -> str:
    """A row's first cell ("Tanner's Gold (GA-01)" of "Tanner's Gold (GA-01) (Allergens: ...)"), or what a
    sentence says before its first bracket."""
    parts = row_split(text)
    return parts[0] if parts else text.split(" (", 1)[0]


# a change to how something is made or done: what stops, is replaced or is switched
# someone who has left the business, and what gives a person access
_LEFT = re.compile(r"\b(?:leaving date|date (?:of )?leaving|date left|left (?:the (?:company|business|firm)|us)\b|"
                   r"leavers?\b|dismiss(?:ed|al)|resign(?:ed|ation)|last (?:working )?day|made redundant|retired|"
                   r"employment (?:ended|terminated)|no longer (?:employed|works? (?:here|for us)))")
_LEAVES = re.compile(rf"{_LEFT.pattern}|\b(?:retir(?:es|ing|ement)|leaving|resigns|will leave|is leaving)\b")
_CERTIFIED = re.compile(r"\b(?:certified|certificated|accredited|authori[sz]ed (?:pilots?|persons?|engineers?|"
                        r"technicians?|operators?|examiners?|inspectors?)|licensed (?:engineer|"
                        r"operator|technician)s?|competent persons?|approved (?:installers?|engineers?|persons?)|"
                        # the one a statutory role rests on ("Appointed person (lifting operations)"), and a row
                        # that gives a person's qualification ("Qualification: CPCS A61 card, valid to 2028")
                        r"appointed persons?|qualifications?\s*:|"
                        # the one a licence names ("Nominated transport manager", "Registered manager")
                        r"nominated (?:[\w-]+ )?(?:managers?|persons?|officers?|leads?)|registered managers?|"
                        r"designated (?:[\w-]+ )?(?:persons?|officers?|leads?|supervisors?))")
# a long absence: away for months, coming back
_AWAY_LONG = re.compile(r"\b(?:sabbatical|maternity|paternity|(?:shared )?parental leave|adoption leave|secondment|"
                        r"seconded|career break|long-term (?:sick(?:ness)?|absence|leave)|extended leave)\b")
_READ_ROW = re.compile(r"[^(;:]{2,60} \([\w /-]{2,30}:")  # a row read out: "S. Whitby (Role: Arranger; ..."
_POST_CELL = r"(?:post|role|position|job(?: title)?)\s*:\s*[^;)]*"


def _who_leaves(f: Fact, entity: str) -> bool:
    """Whether ``entity`` names the one who leaves in a leaver's record: the row's name or post ("Duncan Mackinnon
    (Post: Harbourmaster, Ardlinn; ...)"), not the place they worked ("Location: Telford Central")."""
    key, low = entity.lower(), f.text.lower()
    if f.unit != "row" and not _READ_ROW.match(f.text):
        return key in low
    return key in _row_key(f.text).lower() or re.search(_POST_CELL + re.escape(key), low) is not None


# work a post must sign, certify or release ("must be certified by a Qualified Person", "signed by our in-house
# Official Veterinarian"), and a register's cell of the authorisations a person holds
_SIGNED_BY = r"\b(?:signed|countersigned|certified|approved|authori[sz]ed|released|witnessed) by (?:an? |the |our )?" \
    r"(?:[\w-]+ ){0,2}?"
_POSTS_CELL = re.compile(r"(?:authori[sz]ations?|tickets?|qualifications?|appointments?|certificates?|licen[cs]es|"
                         r"roles? held|posts? held)[^:;()]{0,30}:\s*.*?(?=;\s*[\w /'-]{1,40}:|$)")


def _signs(f: Fact, entity: str) -> bool:
    """Whether ``f`` says work must be signed, certified or released by the post ``entity`` names."""
    return re.search(_SIGNED_BY + re.escape(entity.lower()) + r"\b", f.text.lower()) is not None


def _holds_post(f: Fact, entity: str) -> bool:
    """Whether a register row gives ``entity`` as a post its person holds: in a cell of authorisations, tickets or
    qualifications ("Authorisations: Approved signatory; Qualified Person (batch release)"), or as the row's
    post."""
    key, low = entity.lower(), f.text.lower()
    return any(key in m.group(0) for m in _POSTS_CELL.finditer(low)) or \
        re.search(_POST_CELL + re.escape(key), low) is not None


_HOLDS = re.compile(r"\b(?:key ?(?:holders?|sets?)|keys? (?:to|for) (?:the )?\w+|fobs?\b|alarm codes?|"
                    r"access (?:cards?|codes?|rights|levels?)|swipe cards?|badges?|logins?|user (?:ids?|accounts?)|"
                    r"passwords?|signator(?:y|ies)|"
                    r"authori[sz]ed (?:users?|signator(?:y|ies)|persons?)|named drivers?)\b")
_REVOKED = re.compile(r"\b(?:revoked|cancell?ed|deactivated|disabled|removed|returned|withdrawn|handed (?:back|in)|"
                      r"collected)\b")
# a reassurance that a spend is as budgeted, and what contradicts it
_ON_BUDGET = re.compile(r"\b(?:within|in line with|under|below|on|inside) (?:the |its |our )?budget\b")
_OFF_BUDGET = re.compile(r"\b(?:over|above|exceed\w*|beyond|outside) (?:the |its |our )?budget\b|\boverspen\w*")
# more credit given to a party: a higher limit, longer terms, goods released on account
_MORE_CREDIT = re.compile(r"\b(?:rais|increas|extend|lift|doubl)\w* (?:the |its |their |our |a )?(?:[\w-]+ ){0,2}"
                          r"(?:credit(?: limit)?|limit|payment terms|terms)\b|"
                          r"\bcredit limit (?:\w+ ){0,3}from [$£€]?[\d,.]+\w* to [$£€]?\d|"
                          r"\b(?:agreed|offer\w*|grant\w*|move\w* (?:them |it )?to) \d+[- ]day (?:payment )?terms")
# new work for a party, or money committed to it
_NEW_WORK = re.compile(r"\b(?:preferred (?:contractor|supplier|bidder|partner)|letter of intent|(?:been |was |were )?"
                       r"awarded|won the (?:contract|tender|bid)|non-cancell?able|deposit on order|"
                       r"(?:place|placed|placing) (?:a |an |the )?(?:[\w-]+ ){0,2}order)\b")
# a party that cannot or does not pay
_CANNOT_PAY = re.compile(r"\bcounty court judg(?:e)?ments?|\bccjs?\b|\binsolven\w+|\bin administration\b|"
                         r"\badministrators?\b|\bliquidat\w+|\bwinding[- ]up\b|\breceivership|\barrears\b|"
                         r"\bbounced\b|\breturned unpaid\b|\bmissed (?:\w+ )?payments?|\bpaying slowly\b|"
                         r"\bdebt collect\w+|\b(?:payments? (?:are |were |is |was )?(?:delayed|late|stopped)|"
                         r"stopped paying)\b|\bover (?:60|90|120) days\b")
_CHANGES = re.compile(r"\b(?:stop(?:s|ped|ping)? (?:dosing|using|adding|buying|making|supplying|doing|running|"
                      r"testing|checking)|replac(?:e|es|ed|ing) (?:the |our |its )?\w+ (?:with|by)|"
                      r"switch(?:es|ed|ing)? (?:to|from)|no longer (?:use|add|dose|test|check|buy)|substitut\w+|"
                      r"reformulat\w+|"
                      r"drop(?:s|ped|ping)? (?:the )?\w+ (?:for|in favour of))\b")
# a service cut to some days of the week, and a promise of every day
_DAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)days?"
_LESS_OFTEN = re.compile(rf"\b(?:(?:served|delivered|collected|visited|called at|run)\s(?:\w+ ){{0,2}}on (?:a )?{_DAY}"
                         rf"(?:,? (?:and|or) {_DAY})?\b|on (?:one|two|three|1|2|3) days? (?:a|per|each) week|"
                         rf"(?:once|twice) (?:a|per) week|(?:cut|reduced?|drop(?:s|ped)?|moves?|moved) (?:\w+ ){{0,2}}"
                         rf"to (?:weekly|fortnightly|twice[- ]weekly|(?:once|twice|two|three) (?:a|per) week)|"
                         rf"no longer (?:runs?|calls?|serves?|delivers?|visits?) (?:\w+ ){{0,3}}?(?:daily|every day))")
_EVERY_DAY = re.compile(r"\b(?:daily|every (?:working )?day|each day|seven days a week|six days a week|"
                        r"mon(?:day)?\s?(?:–|-|to)\s?(?:fri|sat)(?:urday|day)?)\b")
_CHANGE_WORD = re.compile(rf"\bchang\w*|{_CHANGES.pattern}")  # a rule about changes is no commitment a change breaks
_PLANS_TO_USE = re.compile(r"\b(?:will|shall|plan(?:s|ned)? to|intend(?:s|ed)? to|to be) (?:\w+ ){0,2}(?:resource|use|"
                           r"deploy|run|operate|allocate|assign|field|put)\b")
_DISPOSED = re.compile(r"\b(?:batch sale|sale (?:contract|agreement)|agreed (?:a |the )?(?:\w+ )?sale|"
                       r"(?:to be |will be |being |are |is )(?:sold|scrapped|disposed of)|dispos(?:e|al) of|"
                       r"for disposal|withdrawn from service)\b")
# a rule that forbids an act on a thing ("retailers must not sell, deliver or hand over any affected vehicle", a
# "stop-sale", an instruction to take it out of service), and the acts it names, each with the words another
# team's record uses for it done
_FORBIDS = re.compile(r"\b(?:must not|may not|shall not|cannot be|are not to|is not to|(?:are|is) not permitted to|"
                      r"(?:are|is) prohibited from|(?:are|is) barred from|(?:are|is) banned from)\s+(?:be\s+)?"
                      r"((?:[\w-]+,?\s+(?:or\s+|and\s+)?){1,6})")
_STOP_SALE = re.compile(r"(?<!not a )(?<!\bno )(?<!\bnon-)\bstop[- ]sales?\b")
# "instructs owners to remove affected trailers from loading duties immediately", "before further use"
_STOP_USE = re.compile(r"\b(?:remove|withdraw|take|stand down|ground)\s+(?:[\w-]+\s+){0,3}(?:from|out of)\s+"
                       r"(?:[\w-]+\s+)?(?:service|duties|duty|use|operation|hire)\b|\bbefore (?:any )?further use\b")
_DONE = {
    "sell": r"sold|advertised|for sale|on sale|reserved|deposit taken|on the front line|front line",
    "deliver": r"delivered|handed over|handover|collected by",
    "use": r"in (?:daily |regular |routine |active )?use|used (?:daily|on|at|in|for)|operating|in service|on hire",
    "hire": r"on hire|hired (?:out|to)|let to|rented (?:out )?to",
    "ship": r"shipped|dispatched|supplied to|sent to",
    "install": r"installed|fitted",
}
_ACT_OF = {"sell": "sell", "sold": "sell", "advertise": "sell", "market": "sell", "deliver": "deliver",
           "hand": "deliver", "release": "deliver", "use": "use", "used": "use", "operate": "use", "drive": "use",
           "hire": "hire", "rent": "hire", "let": "hire", "ship": "ship", "dispatch": "ship", "supply": "ship",
           "install": "install", "fit": "install", "fitted": "install", "installed": "install"}
_DONE_RX = {act: re.compile(rf"\b(?:{words})\b") for act, words in _DONE.items()}
_NOT_DONE = re.compile(r"\b(?:not|never|no longer|cannot|must not|quarantin\w*|held back|withdrawn from sale|"
                       r"on hold|off (?:sale|hire))\b")


def _forbidden_acts(low: str) -> frozenset[str]:
    """The acts a sentence forbids (``sell``, ``use``, ...): nothing when it forbids nothing."""
    acts = {_ACT_OF[word] for m in _FORBIDS.finditer(low) for word in re.findall(r"[a-z]+", m.group(1))
            if word in _ACT_OF}
    if _STOP_SALE.search(low):
        acts |= {"sell", "deliver"}
    if _STOP_USE.search(low):
        acts.add("use")
    return frozenset(acts)


def _does_forbidden(rule: Fact, done: Fact) -> bool:
    """``done`` reports one of the acts ``rule`` forbids as done (a stock row "Sold, delivered 1 Oct", "Front line,
    advertised"), and forbids nothing itself."""
    acts = _forbidden_acts(rule.text.lower())
    low = done.text.lower()
    if not acts or _forbidden_acts(low) or _NOT_DONE.search(low):
        return False
    return any(_DONE_RX[a].search(low) for a in acts)


_BECAUSE = re.compile(r"\b(?:because|since|as|while|whereas|although|though|so that)\b", re.IGNORECASE)


# an idle thing that already spares a hire ("a rental loader is not needed"): no opening against hiring
_SPARES_HIRE = re.compile(r"\b(?:rental|rented|hired?|hiring|outside|external)\b[^.;]{0,30}\b(?:not needed|"
                          r"unnecessary|not required)\b|\bno need to (?:rent|hire|buy in)\b")


def _alike(x: Fact, y: Fact) -> bool:
    """What one fact hires and what the other has idle are of one kind, or at least one says of no kind."""
    rx, ry = _resources(x), _resources(y)
    return not rx or not ry or bool(rx & ry)


def _unused_is(f: Fact, entity: str) -> bool:
    """What sits unused is ``entity``: the sentence's main clause names it (or the sentence names nothing and its
    paragraph does), not a reason clause ("idle aircraft on Saturdays because heavy work runs in Hangar 2")."""
    key = entity.lower()
    main = _BECAUSE.split(f.text, maxsplit=1)[0].lower()
    return key in main or (key in f.context and not _opening_names(f.text))


# what a dependency phrase depends on follows it: "operates from Hall 3", "supplied by Kestrel"
_DEPENDENCY_VERBS = (r"depend\w* on|reli\w* on|rely\w* on|sourced from|supplied by|operat\w* from|"
                     r"(?:based|located|housed|stored|kept|held|hosted) (?:at|in|on|by)|runs? (?:from|out of)|"
                     r"(?:produced|made|manufactured|cooked|packed|prepared|assembled|printed) (?:at|in|on)|"
                     r"served by|powered by|(?:handled|managed|maintained|done) by|"
                     r"using (?:our |the |an? |its )?(?:appointed|approved|nominated|sole|only|contracted) "
                     r"(?:[\w-]+ ){0,2}(?:subcontractor|contractor|supplier|installer|partner|provider|vendor|carrier|"
                     r"haulier|manufacturer)s?|appointed (?:[\w-]+ ){1,4}(?:for [\w-]+ )?is (?:the |our )?|"
                     r"nominated (?:\w+ ){0,2}"
                     r"(?:manager|person|officer|holder|supervisor|engineer|contact|director|lead)")
_COUNTED_ON = re.compile(rf"\b{RECEIVED_FROM}\b")
_DEPENDS = re.compile(rf"\b(?:{_DEPENDENCY_VERBS}|runs? on|run by|single[- ]source\w*|sole[- ]\w+|only|"
                      rf"{RECEIVED_FROM})\b")


# a dependency phrase followed by what it depends on, not by a word pointing back ("depends on it")
_NAMES_WHAT_ON = re.compile(rf"\b(?:{_DEPENDENCY_VERBS}) (?!(?:it|them|this|these|that|those|its|their|him|her)\b)"
                            r"(?:the |a |an |our |two |three )?[a-z]")
_STAFF = re.compile(r"\W+(?:[\w-]+ )?(?:team|teams|staff|employees|electricians|operatives|engineers|technicians|"
                    r"supervisors|planners|officers|crews?|workforce|department|directorate|colleagues)\b")


def _depends_on(f: Fact, entity: str) -> bool:
    """The dependency ``f`` states is on ``entity``: the thing it is about (its first name, or its paragraph's
    when it names none), or what follows its "depends on", "operates from", "supplied by"."""
    low = f.text.lower()
    key = entity.lower()
    at = low.find(key)
    if at < 0:
        # "It is single-sourced" leans on its section's name; "stored in the marshalling area" names its own, and
        # "The trade-ins have been tested" speaks of the trade-ins kept there
        return key in f.context and not _NAMES_WHAT_ON.search(low) and not _of_another(f, entity)
    if _STAFF.match(low, at + len(key)):
        return False  # "done by Property Care electricians": the business's own people, no outside thing
    if key not in f.entities and " " not in key:
        # a word the pair shares that names nothing ("intended"): depended on only where a dependency verb says so
        return any(m.end() <= at <= m.end() + 60 for m in _DEPENDS.finditer(low))
    first = min((low.find(k) for k in f.entities if k in low), default=at)
    if at <= first:
        return True
    if re.search(rf"{re.escape(key)}\W+(?:\w+\W+){{0,2}}(?:is|are|was|remains?) (?:the |our )?(?:only|sole|single|"
                 rf"main|primary)\b|{re.escape(key)} only\b(?! (?:after|if|when|once|until|because|where|with|"
                 rf"from|in|on|at|for|to|by|as)\b)", low):
        # "..., and Kestrel is the only approved supplier of its parts"; "support: SA-2291 only" (not "will list the
        # Shiraz and Cabernet only after a winery visit": a condition, not a sole source)
        return True
    return any(m.end() <= at <= m.end() + 60 for m in _DEPENDS.finditer(low))


# what a sentence under a section may open with and still speak of the section's thing ("The unit failed twice")
_BACK_NOUNS = frozenset(("unit", "units", "site", "building", "asset", "machine", "plant", "facility", "line",
                         "warehouse", "depot", "contract", "lease", "supplier", "system", "store", "hub", "vehicle",
                         "fleet", "equipment", "company", "firm", "customer", "account", "service", "premises",
                         "property", "tenant", "landlord", "partner", "contractor", "vendor", "product", "range",
                         "project"))
_OPENS_WITH = re.compile(r"^(?i:the|these|those|our|all|most|some|many)\s+(?P<noun>[a-z][\w-]*)\b")


def _of_another(f: Fact, entity: str) -> bool:
    """Whether a sentence that names ``entity`` only through its section speaks of another thing of that section:
    "The trade-ins have been tested on arrival ..." under "Dayton warehouse (Building D)" tells of the trade-ins,
    not of Building D ("It failed twice", "The unit failed twice" still speak of the section's thing)."""
    if entity.lower() in f.text.lower() or entity.lower() in f.entities:
        return False
    m = _OPENS_WITH.match(f.text)
    return m is not None and m.group("noun") not in _BACK_NOUNS


def _first_name(f: Fact) -> str:
    """The first multi-word name a sentence carries ("tf installations"), or ""."""
    return next((k for k in f.entities if " " in k), "")


def _names_both(a: Fact, b: Fact, entity: str) -> bool:
    """Both sentences name the thing themselves (a date is about what its own sentence names)."""
    return _names(a, entity) and _names(b, entity)


def _names(f: Fact, entity: str) -> bool:
    """The sentence names the thing itself, or speaks of what its section names without naming another thing."""
    key = entity.lower()
    return key in f.entities or key in f.text.lower() or (key in f.context and not f.entities) or \
        (key in f.context and (_POINTS_BACK.match(f.text) is not None or not _opening_names(f.text)))


def _says_of(f: Fact, entity: str) -> bool:
    """Whether the sentence, or the line its paragraph opens with, names ``entity`` itself: not only its section's
    heading ("Margin in line with UK wholesale" under "Financial terms"), and a single word not only as part of a
    longer name ("the Financial Controller")."""
    key = entity.lower()
    return any(key in text.lower() and (" " in key or _alone_in(key, text)) for text in (f.text, f.topic))


# a place or thing numbered within its own site ("Bench 1", "Line 2", "Bay 14"): every site has one
_NUMBERED = re.compile(r"[a-z]+ \d{1,3}[a-z]?")


def _opening_names(text: str) -> tuple[str, ...]:
    """The names a sentence opens with: "The set therefore moves ..." opens with none, so it speaks of what its
    paragraph is about."""
    return entity_keys(" ".join(text.split()[:4]))


@functools.lru_cache(maxsize=65_536)
def _dated(text: str, words: re.Pattern[str]) -> tuple[Span, ...]:
    low = text.lower()
    # a date something has been so "since" is in the past: no date anything is needed on
    return tuple(s for s in spans(text) if words.search(low, max(0, s.at - 60), s.at) and
                 not (words is _NEED_WORDS and (_SINCE.search(low, max(0, s.at - 12), s.at) or
                                                low.startswith("since", s.at))))


_SINCE = re.compile(r"\bsince\W+$")
_NEED_HEAD = re.compile(r"\b(?:ready|rfs|launch\w*|go[- ]live|live|start\w*|deliver\w*|due|needed|required|opens?|"
                        r"opening|handover|in service)\b|"
                        # a plan's row: when its work is done ("Dates: Software loading from Monday 4 August")
                        r"^(?:dates?|timing|when|window|scheduled?)\b", re.IGNORECASE)


def _row_cells(text: str) -> list[tuple[str, str]]:
    """(column, value) of a register row's cells, read from "first cell (Column: value; ...)"."""
    parts = row_split(text)
    cells = []
    for cell in row_cells(parts[1]) if parts else ():
        head, colon, value = cell.partition(":")
        if colon and len(head) <= 60:
            cells.append((head.strip(), value.strip()))
    return cells


_OPENS_DATED = re.compile(r"(?:from|on|starting|beginning|w/c|week commencing)\s+(?=\d)", re.IGNORECASE)


def _needed(f: Fact) -> tuple[Span, ...]:
    """The dates on which ``f`` needs something: after words of need, or the date a plan's row opens with."""
    got = _dated(f.text, _NEED_WORDS)
    if got:
        return got
    opens = _OPENS_DATED.match(f.text)
    if opens and f.kind != "risk" and not set(f.cues) & _TROUBLE:
        # a plan's sentence that opens with its date: "From 13 October Crew C moves onto reinstatements"
        return tuple(s for s in spans(f.text) if s.at == opens.end())
    if f.unit != "row":
        return ()
    # a register's cell whose column names a need: "Ready for service (per tracker): End of August"
    cells = tuple(s for head, value in _row_cells(f.text) if _NEED_HEAD.search(head)
                  for s in spans(value) if s.first or s.last)
    if cells:
        return cells
    subject = f.text.split(" (", 1)[0]
    if not _MILESTONE.search(f.text[len(subject):].lower()):
        return ()
    return tuple(s for s in spans(f.text) if s.at < len(subject))


def _timing(a: Fact, b: Fact) -> tuple[str, str, str] | None:
    """A date one fact needs that the other's period rules out: inside an outage or closure, after something
    ends, or before something arrives; demand falling in a period of reduced capacity; demand for something free
    at that time. Returns (kind, relation, consequence template)."""
    if not (a.dates and b.dates):
        return None
    for x, y in ((a, b), (b, a)):
        needed = _needed(x)
        if not needed:
            continue
        cx, cy = set(x.cues) | set(x.around), set(y.cues)
        if y.kind != "opportunity" and not cy & _TROUBLE and _binding(x, cx):
            # a deadline (a notice, a contract's date) against another team's plan whose own milestones (award,
            # contract start, delivery, go-live) all come after it: no cue says late, the dates do
            arrive = _dated(y.text, _ARRIVAL_WORDS)
            if arrive and max(n.last for n in needed) < min(a.first for a in arrive):
                return "risk", "timing", _SO["late"]
        away = _dated(y.text, _AWAY_WORDS)
        if not away:
            continue
        meets = any(overlaps(n, s) for n in needed for s in away)
        if "opp.unused" in cy and cx & _DEMAND:
            if meets:
                return "opportunity", "demand-meets-supply", _SO["free"]
            continue
        if y.kind != "opportunity" and not cy & _TROUBLE and \
                any(_after_end(n, s) for n in needed for s in _dated(y.text, _END_WORDS)):
            # a plain end date (a lease's or a contract's term, in a register) with a need after it: no cue says
            # trouble, the clash does
            return "risk", "timing", _SO["ended"]
        if y.kind == "opportunity" or not cy & {"risk.outage", "risk.capacity", "risk.end", "risk.late",
                                                "risk.supply", "risk.failure"}:
            continue
        ranges = [s for s in away if s.last > s.first]
        if cy & {"risk.outage", "risk.capacity", "risk.failure"} and \
                any(overlaps(n, s) for n in needed for s in ranges):
            if cx & (_DEMAND | {"load"}):
                return "risk", "demand-vs-capacity", _SO["out-demand"]
            return "risk", "timing", _SO["out"]
        if "risk.end" in cy and any(_after_end(n, s) for n in needed for s in away):
            return "risk", "timing", _SO["ended"]
        if cy & {"risk.late", "risk.supply"} and any(before(n, s) for n in needed for s in away):
            return "risk", "timing", _SO["late"]
    return None


_ARRIVAL_WORDS = re.compile(r"\b(?:award(?:ed)?|contract start|start(?:s|ing)? on site|deliver(?:y|ed|ies)|"
                            r"go(?:es)?[- ]live|completion|handover|in service|installation)\W*:?\W+"
                            r"(?:[\w.-]+\W+){0,3}$")


def _binding(f: Fact, cues: set[str]) -> bool:
    """``f`` states a date something must be done by: a deadline, a notice or a commitment."""
    return bool(cues & {"deadline", "risk.compliance"}) or _COMMITMENT.search(f.text.lower()) is not None


_NEEDING = _DEMAND | {"load"}
_AWAY = {"risk.outage", "risk.capacity", "risk.failure"}
_CALENDAR = re.compile(r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\w*|week\w*|month\w*|quarter\w*|"
                       r"season\w*|\d+\w*")
_PERIOD_DAYS = 186  # a need or an absence longer than half a year is no period to meet in


@functools.lru_cache(maxsize=65_536)
def _months(f: Fact) -> frozenset[str]:
    """Keys ("@7") for the months in which ``f`` states a dated need with demand behind it ("referrals peak from
    December to February") or a dated absence of capacity ("the scanner is out of service 5 January to 20
    February"), so that two teams' facts that meet in time are found although they name the thing differently."""
    if not f.dates:
        return frozenset()
    found: list[Span] = []
    if set(f.cues) & _NEEDING and f.kind != "risk":  # the sentence itself expects the demand
        found += _dated(f.text, _NEED_WORDS)
    if (set(f.cues) & _AWAY and f.kind != "opportunity") or ("opp.unused" in f.cues and f.kind != "risk"):
        found += [s for s in _dated(f.text, _AWAY_WORDS) if s.last > s.first]
    out: set[str] = set()
    for s in found:
        if s.last - s.first > _PERIOD_DAYS:
            continue
        first = (s.first % 372 if s.dated else s.first) - 1
        for day in range(first, first + s.last - s.first + 1, 31):
            out.add(f"@{day // 31 % 12 + 1}")
        out.add(f"@{(first + s.last - s.first) // 31 % 12 + 1}")
    return frozenset(out)


def _in_period(a: Fact, b: Fact, corpus: Corpus) \
        -> tuple[float, tuple[str, ...], tuple[str, str, str]] | None:
    """Two facts that name nothing in common but meet in time: demand one team expects in a period when another
    team's capacity is out of action (or free), and a word both use that not every document does (one line of
    business). (score, shared, (kind, relation, consequence)), or ``None``. Scored below a shared name."""
    timing = _timing(a, b)
    if timing is None or timing[1] not in ("demand-vs-capacity", "demand-meets-supply") or \
            not (set(a.cues) | set(b.cues)) & _NEEDING:
        return None
    # and the two speak of one line of business: a word both use that not every document does
    common = [t for t in set(a.terms) & set(b.terms) if corpus.term_df.get(t, 0) <= corpus.docs // 2 and len(t) >= 4
              and not _CALENDAR.fullmatch(t)]
    if not common:
        return None
    away = b if set(b.cues) & (_AWAY | _UNUSED) else a
    thing = next((k for k in away.entities if _linkable(k, corpus)), "") or \
        next((k for k in (*away.entities, *away.context) if corpus.is_name(k)), "")
    if not thing:
        return None
    score = 1.0 + 0.3 * sum(corpus.idf(t, entity=False) for t in common)
    return score, (thing,), (timing[0], timing[1], timing[2].format(e=_display((thing,), a, b)))


def _after_end(need: Span, end: Span) -> bool:
    return before(end, need) and (need.first - end.last) < 372


def pair_score(a: Stated, b: Stated, corpus: Corpus) -> tuple[float, tuple[str, ...]]:
    """How strongly two stated facts speak of the same distinctive thing (0 when they share nothing rare). A name
    the sentence itself carries counts fully; one it takes from its paragraph or section ("It is single-source")
    counts less."""
    if a.doc == b.doc:
        return 0.0, ()
    return _scored(a.fact, b.fact, _Keys.of(a.fact, corpus), _Keys.of(b.fact, corpus), corpus)


@dataclass(frozen=True, slots=True)
class _Keys:
    """What a fact can be linked on, computed once per fact: its own linkable names, those with its paragraph's
    names added, and its rare words."""

    own: frozenset[str]
    names: frozenset[str]
    rare: frozenset[str]
    months: frozenset[str]
    kinds: frozenset[str]
    levels: frozenset[str] = frozenset()
    limits: frozenset[str] = frozenset()
    cover: frozenset[str] = frozenset()  # the keys of insurance exclusions it may fall foul of (or its own words)
    tiers: frozenset[str] = frozenset()  # the keys of rebate tiers its spend may reach (or of spend that reaches it)
    meets: frozenset[str] = frozenset()  # "=" + each name its demand, or its spare capacity, is at (any name)

    @staticmethod
    def of(f: Fact, corpus: Corpus) -> _Keys:
        owners = _owners(f.text)
        own = frozenset(k for k in f.entities if _linkable(k, corpus) and k not in owners)
        names = own | frozenset(k for k in _leans_on(f, corpus) if _linkable(k, corpus) and k not in owners)
        return _Keys(own, names, frozenset(t for t in f.terms if corpus.rare_term(t) and t not in _SEASON_TERMS),
                     _months(f), _kinds(f),
                     _level_days(f), _limit_keys(f), _cover_keys(f, corpus, find=True),
                     _tier_keys(f, corpus, find=True), _meet_keys(f, corpus))


_MORE_HOURS = re.compile(r"\b(?:(?:more|extra|additional) (?:hours|shifts)|(?:hours|shifts) (?:asked for|requested))\b")


# a forecast that is a sum of money ("EBITDA is forecast at £6.6m"): a result, not a volume of work to serve
_MONEY_LOAD = re.compile(r"\b(?:forecast|projected|expected|budget(?:ed)?|estimated)\b(?: to be| to reach)?"
                         r"(?: at| of)?\s*(?:about |around )?[$£€]\s?\d")


def _meet_keys(f: Fact, corpus: Corpus) -> frozenset[str]:
    """"=" + each name a fact states demand at, or capacity to spare at (not trouble): demand meets what sits
    unused at the same place though every document names that place (a nursery's waiting list and its staff who
    ask for more hours, both "at Larchfield")."""
    if f.kind == "risk" or not set(f.cues) & (_DEMAND | _UNUSED):
        return frozenset()
    # (what sits unused may be named by its section: "The first-floor mezzanine ... has been vacant" under
    # "Doncaster depot")
    names = (*f.entities, *f.context) if set(f.cues) & _UNUSED and not _opening_names(f.text) else f.entities
    return frozenset("=" + k for k in names if corpus.is_name(k) and len(k) >= 4)


# the figure, past a date that may stand before it ("Forecast 31 Dec: 1,000")
_NUMBER = r"(?:(?:at |for |on |by )?\d{1,2}(?:st|nd|rd|th)? [a-z]{3,9}\.?(?: \d{4})?:?\s*)?(?P<n>\d[\d,]*(?:\.\d+)?)" \
          r"\s?(?P<unit>x\b|%|m\b|k\b|bn\b)?(?! ?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b)"
# a level a figure must reach or stay within ("Level required: 52,000", "Not to exceed 3.25x", "Cash ≥ £5.0m"), and
# a figure forecast for a date ("we now forecast 47,900 homes passed at 31 December")
_FLOOR_LEVEL = re.compile(rf"(?:\b(?:{FLOOR_WORDS})(?: level)?\W{{0,3}}:?|(?:≥|>=))\s*(?:[a-z]+\s?(?:≥|>=)\s?)?"
                          rf"(?:of\s)?[$£€]?{_NUMBER}")
_CEILING_LEVEL = re.compile(rf"(?:\b(?:{CEILING_WORDS})(?: level)?\W{{0,3}}:?|(?:≤|<=))\s*(?:[a-z]+\s?(?:≤|<=)\s?)?"
                            rf"(?:of\s)?[$£€]?{_NUMBER}")
_FORECAST_LEVEL = re.compile(rf"\b(?:now |we |re-?baselined\W+(?:\w+\W+){{0,3}}?)?(?:forecasts?|expects?|projects?|"
                             rf"(?:is|are) (?:forecast|expected|projected) (?:to (?:be|reach) )?|outturn (?:of )?|"
                             rf"will reach|on track for)\W+(?:(?:about|around|some|only|just)\s)?[$£€]?{_NUMBER}")


def _amount(m: re.Match[str]) -> tuple[float, str]:
    return float(m.group("n").replace(",", "")), (m.group("unit") or "").lower()


_FORECAST_DOC = re.compile(r"\b(?:forecasts?|reforecast|projections?|outlook|budget|business plan)\b", re.IGNORECASE)
_RATIO = re.compile(r"(?<![\w.])(?P<n>\d{1,2}\.\d{1,2})\s?(?P<unit>x)\b")
Level = tuple[str, float, str, "Span | None", str]


@functools.lru_cache(maxsize=65_536)
def _levels(f: Fact) -> tuple[Level, ...]:
    """(side, value, unit, day, measure) for each level ``f`` sets ("floor", "ceiling") or forecasts ("forecast").
    A level set on no day of its own ("Leverage: not to exceed 3.25x", tested every quarter) holds on every day
    (``None``); a forecast is for the day it names, and every ratio in a forecast's row for the day the row opens
    with ("30 Sep 2025 (Net debt / LTM EBITDA: 3.38x)"), its column naming what it measures."""
    if not f.figures:
        return ()
    days = [s for s in spans(f.text) if s.first == s.last]
    low = f.text.lower()
    out: list[Level] = []
    for side, rx in (("floor", _FLOOR_LEVEL), ("ceiling", _CEILING_LEVEL), ("forecast", _FORECAST_LEVEL)):
        for m in rx.finditer(low):
            value, unit = _amount(m)
            # the day the figure is for: the first named after it ("47,900 homes at 31 December"), else the nearest
            after = [d for d in days if m.start("n") < d.at <= m.end() + 80]
            day = after[0] if after else min(days, key=lambda d: abs(d.at - m.start("n")), default=None)
            if day is None and (side == "forecast" or unit != "x"):
                continue  # a forecast for no day, or a dayless level that is not a ratio, meets nothing
            out.append((side, value, unit, day, ""))
    if f.unit == "row" and f.path and _FORECAST_DOC.search(f.path[0]) and not out:
        opening = [d for d in days if d.at < len(_row_key(f.text))]
        if opening:
            for head, cell in _row_cells(f.text):
                out += [("forecast", float(m.group("n")), "x", opening[0], head) for m in _RATIO.finditer(cell)]
    return tuple(out)


def _breaches(x: Fact, y: Fact) -> tuple[str, float, float, str, Span | None, Span] | None:
    """A level ``x`` sets that a figure ``y`` forecasts for a day it holds on breaks, within a factor of two (one
    measure, not two figures that merely share a unit): (side, level, forecast, unit, level's day, forecast's
    day), or ``None``."""
    measured = set(term_keys(_row_key(x.text) if x.unit == "row" else x.text))
    for side, bound, unit, day, _ in _levels(x):
        if side == "forecast":
            continue
        for other, value, unit2, day2, measure in _levels(y):
            if other != "forecast" or unit != unit2 or day2 is None or (day is not None and not overlaps(day, day2)):
                continue
            if measure and not set(term_keys(measure)) <= measured:
                continue  # the column measures something else ("Net debt / LTM EBITDA" against interest cover)
            if 0.5 <= value / max(bound, 1e-9) <= 2.0 and \
                    ((side == "floor" and value < bound) or (side == "ceiling" and value > bound)):
                return side, bound, value, unit, day, day2
    return None


def shortfall(a: Fact, b: Fact) -> tuple[str, str, str, str, bool] | None:
    """For two facts a level and a forecast meet in (:func:`_short_of_level`): (side, forecast, level, day) as
    written ("floor", "47,900", "52,000", "31 December 2025"), and whether ``a`` sets the level, for a title that
    gives the figures."""
    for x, y in ((a, b), (b, a)):
        hit = _breaches(x, y)
        if hit is not None:
            side, bound, value, unit, day, day2 = hit
            when = _day_text(x.text, day) if day is not None else _day_text(y.text, day2)
            return side, _written(y.text, value, unit), _written(x.text, bound, unit), when, x is a
    return None


def _written(text: str, value: float, unit: str) -> str:
    """``value`` as ``text`` writes it ("47,900", "£5.0m", "3.00x")."""
    for m in re.finditer(r"[$£€]?\d[\d,]*(?:\.\d+)?\s?(?:x\b|%|m\b|k\b|bn\b)?", text):
        n = float(re.sub(r"[^\d.]", "", m.group(0).rstrip("xmkbn% ")) or "nan")
        if n == value:
            return m.group(0).strip()
    return f"{value:,.0f}{unit}" if value == int(value) else f"{value}{unit}"


def _day_text(text: str, day: Span) -> str:
    """The date ``day`` as ``text`` writes it."""
    m = re.match(r"\d{1,2}(?:st|nd|rd|th)? [A-Za-z]{3,9}\.?(?: \d{4})?|[A-Za-z]{3,9}\.? \d{1,2}(?:, \d{4})?",
                 text[day.at:])
    return m.group(0) if m else "the day it is tested"


def _level_days(f: Fact) -> frozenset[str]:
    """Keys for the days on which ``f`` sets or forecasts a level ("#<day>"), and for the ratios it bounds or
    forecasts ("#x"), so that a covenant meets another team's forecast although the two name nothing in common."""
    keys = {f"#{d.first % 372 if d.dated else d.first}" for _, _, _, d, _ in _levels(f) if d is not None}
    keys |= {f"#{unit}" for _, _, unit, _, _ in _levels(f) if unit == "x"}
    return frozenset(keys)


def _short_of_level(a: Fact, b: Fact, corpus: Corpus) \
        -> tuple[float, tuple[str, ...], tuple[str, str, str]] | None:
    """A figure one team forecasts for a day another team's covenant, licence or contract tests a level on, on
    the wrong side of it (47,900 forecast against 52,000 required at 31 December; 3.38x against a leverage
    ceiling of 3.25x), in one measure (the two share a word not every document uses): (score, shared, (kind,
    relation, consequence)) or ``None``."""
    common = [t for t in set(a.terms) & set(b.terms) if corpus.term_df.get(t, 0) <= max(2, corpus.docs * 2 // 3)
              and len(t) >= 4 and not _CALENDAR.fullmatch(t)]
    if not common:
        return None
    for x, y in ((a, b), (b, a)):
        if _breaches(x, y) is not None:
            subject = _row_key(x.text) if x.unit == "row" else ""
            thing = subject.strip() or " ".join(sorted(common)[:2])
            score = 1.2 + 0.3 * sum(corpus.idf(t, entity=False) for t in common)
            return score, (thing.lower(),), ("risk", "short-of-level", _SO["short"].format(e=thing))
    return None


# a limit on a quantity ("maximum occupancy ... is 1,200 persons", "limited to 20 hours per week", "not less than
# 1 Gbps"), and a quantity with its unit
_NUM = r"(?P<n>\d[\d,]*(?:\.\d+)?)"
_UNIT = r"(?P<u>persons?|people|guests|delegates|visitors|attendees|children|pupils|students|patients|residents|" \
        r"passengers|covers|seats|hours?|hrs|h\b|minutes|mins|" \
        r"tonnes?|t\b|kg|vehicles|lorries|vans|trucks|rigids|hgvs|tractor units|coaches|buses|[kmg]bps|[kmg]b/s|" \
        r"pallets|beds|rooms|m³|m3\b|cubic metres|" \
        r"litres|megalitres|[km]wh\b|[km]w\b|mva\b|(?:pallet )?positions|miles)"


# what a link of each relation rests on, in one side's words: a title reads these cells of a register's row first
EVIDENCE: dict[str, re.Pattern[str]] = {
    "leaver": re.compile(f"{_LEFT.pattern}|{_HOLDS.pattern}|{_AWAY_LONG.pattern}"),
    "undercut": re.compile(f"{_LESS_OFTEN.pattern}|{_EVERY_DAY.pattern}"),
    "over-limit": re.compile(r"\b(?:sum insured|insured|limit|balance|stands? at|holds?|held|valued at|worth|owe\w*|"
                             r"outstanding|exposure|not (?:to )?exceed(?:ing)?|no more than|maximum|up to|more than|"
                             # a forecast's cell ("2025 forecast (t): 2,650"), not last year's actual beside it,
                             # and a plan's assumed figure ("Borough sites (assumed): £8.90")
                             r"forecast|assumed|assumption)\b|"
                             # the quantity past the limit ("a gross weight of 8,600 kg")
                             r"(?<![\w.,])\d[\d,]*(?:\.\d+)?\s?" + _UNIT + r"(?!\w)"),
    "exposure": re.compile(f"{_MORE_CREDIT.pattern}|{_CANNOT_PAY.pattern}"),
    # the tier's rebate and the other supplier's spend: the sums the move rests on
    "consolidate": re.compile(r"[$£€]\s?\d|\b(?:rebate|spend|purchases)\b"),
    # what the demand is ("Requirement: warehouse storage and fulfilment ..."), not the date it was logged
    "demand-meets-supply": re.compile(r"\b(?:requirements?|requires?|wants?|asked|waiting list|needs?|demand|"
                                      r"enquir\w+|looking for)\b"),
    # what is paid for each item lost, on both sides ("a cap of £500 per parcel", "Limit: £150 per parcel")
    "uninsured": re.compile(r"[$£€]\s?\d[\d,]*(?:\.\d+)?\s?(?:m|k|bn)?\s*(?:per|a|each|any one) [a-z]{3,}"),
    # the sum planned and the date the term may end
    "sunk": re.compile(r"[$£€]\s?\d|\b(?:terminat\w*|break|expir\w*|ends?)\b"),
}


@functools.lru_cache(maxsize=65_536)
def _limit_keys(f: Fact) -> frozenset[str]:
    """Keys ("^" + word) for the words of a fact that sets a limit on a thing or says what it holds or owes (a sum
    insured, a stock value), or that requires something be done so often or changes how often it is: a limit meets
    another team's figure, and a rule another team's change, on the same thing, though both name only a common
    site."""
    low = f.text.lower()
    if (per := _per_item(f, _LIABLE_PER) or _per_item(f, _COVER_PER)) is not None:
        return frozenset({"^per-" + per[1]})  # what is paid for each item lost, by the item
    # a sum a register row sets for a named thing, found by the thing's name ("^row-two-year-old")
    named = frozenset({"^row-" + name}) if f.unit == "row" and (name := _row_name(f)) and _money_cells(f) \
        else frozenset()
    if not (MONEY_LIMIT.search(low) or MONEY_HELD.search(low) or _measured(low) or
            (_times(low) is not None and (_REQUIRED.search(low) or _NEW_PACE.search(low)))):
        return named
    # a register row's figure is of what its section says ("Intake forecast": "Total (2025 forecast (t): 2,650)")
    words = (*f.terms, *term_keys(f.heading)) if f.unit == "row" else f.terms
    return named | frozenset("^" + t for t in words if len(t) >= 4 and not _CALENDAR.fullmatch(t))


def _thing_terms(f: Fact) -> frozenset[str]:
    """The words that say what a fact's figure is for: a row's name ("Stock - Hessle", not its columns' "Balance"
    and "Limit"), a sentence's words but those of money itself."""
    terms = term_keys(_row_key(f.text)) if f.unit == "row" else f.terms
    return frozenset(terms) - _MONEY_WORDS


_MONEY_WORDS = frozenset(term_keys("balance limit credit sum insured insurance value held holds stands total amount "
                                   "owed outstanding exposure cover covered"))


def _over_limit(a: Fact, b: Fact, corpus: Corpus) -> tuple[float, tuple[str, ...], tuple[str, str, str]] | None:
    """One team's records hold more of a thing than another team's limit on it allows ("Hessle stock stands at
    £9.14m" against "Stock - Hessle: sum insured £6.5m"): the two share at least two words, the figure is above the
    limit and within ten times it. (score, shared, (kind, relation, consequence)) or ``None``."""
    for x, y in ((a, b), (b, a)):
        lx, ly = x.text.lower(), y.text.lower()
        limit, held = MONEY_LIMIT.search(lx), MONEY_HELD.search(ly)
        if limit is None or held is None or MONEY_LIMIT.search(ly):
            continue
        common = sorted({t for t in _thing_terms(x) & _thing_terms(y) if not _CALENDAR.fullmatch(t)})
        if len(common) < 2 or not 1.0 < money_value(held) / max(money_value(limit), 1e-9) <= 10.0:
            continue
        subject = _row_key(x.text).strip() if x.unit == "row" else ""
        thing = subject or " ".join(common[:2])
        score = 1.2 + 0.3 * sum(corpus.idf(t, entity=False) for t in common)
        return score, (thing.lower(),), ("risk", "over-limit", _SO["over-limit"].format(e=thing))
    return None


# what the business promises to pay for each item lost ("We are liable for loss ... subject to a cap of £500 per
# parcel"), and what its insurance pays for each ("Limit: £150 per parcel")
_MONEY_PER = r"[$£€]\s?(?P<n>\d[\d,]*(?:\.\d+)?)\s?(?P<m>m\b|k\b|bn\b|million\b|billion\b)?\s*(?:per|a|each|any one) " \
             r"(?P<per>[a-z]{3,})"
_LIABLE_PER = re.compile(r"\b(?:liab(?:le|ility)|compensat\w+|indemnif\w+|reimburse\w*)\b[^.;]{0,120}?\b(?:up to|"
                         r"cap(?:ped)? (?:of|at)|limit(?:ed)? (?:of|to|at)|maximum(?: of)?|not exceeding)\s*" +
                         _MONEY_PER)
_COVER_PER = re.compile(r"\b(?:limit|sum insured|cover(?:ed)?(?: up to)?|indemnity(?: limit)?)\b\s*:?\s*(?:of\s)?" +
                        _MONEY_PER)


def _per_item(f: Fact, rx: re.Pattern[str]) -> tuple[float, str, str] | None:
    """(the sum, the stem of the item it is paid for, the item as written) of a per-item sum, or ``None``."""
    m = rx.search(f.text.lower())
    return (money_value(m), stem(m.group("per")), m.group("per")) if m is not None else None


def _insured_where(f: Fact) -> bool:
    return bool(INSURANCE.search(" ".join((*f.path, f.heading, f.text)).lower()))


def _liable_past_cover(a: Fact, b: Fact, corpus: Corpus) -> tuple[float, tuple[str, ...], tuple[str, str, str]] | None:
    """One team's terms promise to pay more for each item lost than another team's insurance pays for it ("liable
    ... subject to a cap of £500 per parcel" against the policy's "Limit: £150 per parcel"): the difference is the
    business's own. (score, shared, (kind, relation, consequence)) or ``None``."""
    for x, y in ((a, b), (b, a)):
        cover, liable = _per_item(x, _COVER_PER), _per_item(y, _LIABLE_PER)
        if cover is None or liable is None or not _insured_where(x) or _insured_where(y):
            continue
        if cover[1] == liable[1] and liable[0] > cover[0]:
            return 1.6, (liable[2],), ("risk", "uninsured", _SO["liable"].format(e=liable[2]))
    return None


# a plan's cell that assumes a sum ("Borough sites (assumed): £8.90", "Budget 2025-26: £412k"), and the words that
# say another team's document sets or confirms one ("Early years funding rates 2025-26 — notice to providers")
_ASSUMED_HEAD = re.compile(r"\b(?:assumed|assumption|assumes|budget(?:ed)?|planned|forecast)\b")
_SET_BY = re.compile(r"\b(?:rates?|prices?|tariffs?|fees?|notice|confirm\w*|agreed|schedule|contract\w*|quot\w+|"
                     r"letter|award\w*|settlement)\b")
_CELL_MONEY = re.compile(r"^[$£€]\s?(?P<n>\d[\d,]*(?:\.\d+)?)\s?(?P<m>m\b|k\b|bn\b)?")
_YEAR_HEAD = re.compile(r"\b(20\d\d)\b")


def _money_cells(f: Fact) -> list[tuple[str, float]]:
    """(column name, sum) of a register row's cells that hold a sum of money and nothing else."""
    parts = row_split(f.text) if f.unit == "row" else None
    if parts is None:
        return []
    out = []
    for cell in row_cells(parts[1]):
        head, colon, value = cell.partition(":")
        if colon and (m := _CELL_MONEY.match(value.strip())) is not None and len(value.strip()) <= m.end() + 12:
            out.append((head.strip().lower(), money_value(m)))
    return out


def _row_name(f: Fact) -> str:
    """A register row's name without its bracket, as stems ("Two-year-olds (all entitlements)": "two-year-old")."""
    return "+".join(sorted(term_keys(re.sub(r"\([^()]*\)", " ", _row_key(f.text))))) if f.unit == "row" else ""


def _assumed_above(a: Fact, b: Fact, corpus: Corpus) -> tuple[float, tuple[str, ...], tuple[str, str, str]] | None:
    """A plan's row that assumes a sum for a thing ("Two-year-olds: Borough sites (assumed): £8.90") above what
    another team's document of rates sets for the same thing, in its latest period ("Two-year-olds ...: 2025-26:
    £7.35"): the plan counts on money that will not come. (score, shared, (kind, relation, consequence)) or
    ``None``."""
    name = _row_name(a)
    if not name or name != _row_name(b):
        return None
    for x, y in ((a, b), (b, a)):
        assumed = [v for head, v in _money_cells(x) if _ASSUMED_HEAD.search(head)]
        cells = _money_cells(y)
        if not assumed or not cells or any(_ASSUMED_HEAD.search(head) for head, _ in cells) or \
                not _SET_BY.search(" ".join((*y.path, y.heading)).lower()):
            continue
        # the set figure for the latest period its columns name, else its last
        latest = max(cells, key=lambda c: (int(m.group(1)) if (m := _YEAR_HEAD.search(c[0])) else 0, cells.index(c)))
        if any(latest[1] * 1.03 < v <= latest[1] * 3 for v in assumed):
            thing = _row_key(x.text).split(" (", 1)[0]
            score = 1.2 + 0.3 * sum(corpus.idf(t, entity=False) for t in name.split("+"))
            return score, (thing.lower(),), ("risk", "over-limit", _SO["assumed"].format(e=thing))
    return None


def _measured(low: str) -> bool:
    """Whether a sentence sets a limit on a quantity or states one in a unit ("annual limit 18,000 m³", "Borehole
    forecast (m³): 21,600"), so that a limit meets a figure in another team's records though they share no name."""
    if _CEILING_Q.search(low) or _ROOM_Q.search(low) or _FLOOR_Q.search(low) or _THRESHOLD_Q.search(low) or \
            _TEMP.search(low):
        return True
    return any(m.group("u") or _UNIT_CELL.search(low[:m.start()]) for m in _FIGURE_Q.finditer(low))


_FIGURE_WORDS = frozenset(term_keys("full year total projected projection forecast actual estimate estimated "
                                    "annual daily weekly monthly average peak figure figures volume volumes"))


def _over_quantity(a: Fact, b: Fact, corpus: Corpus) -> tuple[float, tuple[str, ...], tuple[str, str, str]] | None:
    """A figure in one team's records past another team's limit on the same quantity, in the same unit, where the
    two share no name but a rare word for the thing ("borehole"): (score, shared, (kind, relation, consequence))
    or ``None``."""
    for x, y in ((a, b), (b, a)):
        side = _past_limit(x, y)
        if side is None:
            continue
        # what the figure is of may be said by its section ("Fuel": "Projected full year 2026: 236,000 litres")
        around = [set(f.terms) | set(term_keys(f"{f.heading} {f.topic}")) for f in (x, y)]
        common = sorted(t for t in around[0] & around[1] - _MONEY_WORDS - _FIGURE_WORDS
                        if not _CALENDAR.fullmatch(t) and (corpus.rare_term(t) or side == "threshold"))
        if not common and side == "ceiling" and (_LOAD_LIMIT.search(x.text.lower()) or
                                                 _WEIGHT.search(x.text.lower())) and _WEIGHT.search(y.text.lower()):
            # a lifting machine's safe working load, or a policy's weight limit ("goods vehicles not exceeding 3,500
            # kg gross vehicle weight"), against a weight: the unit says it
            common = ["weight"]
        if not common and side == "room" and _COMMITTED.search(y.text.lower()):
            common = ["space"]  # the room left in a period against what another team has committed to take in
        if not common and (place := sorted(_place_names(x, corpus) & _place_names(y, corpus),
                                           key=lambda k: (-corpus.idf(k), k))):
            # no rare word in common, but the same place: a planning file titled by its site ("Elmfield — planning
            # file") and the plan's paragraph under the site's bold lead ("**Elmfield.** ... 58 children")
            thing = _display(place[:1], y, x)
            score = 1.2 + 0.3 * corpus.idf(place[0])
            kind, relation, so = _LIMIT_SIDE[side]
            return score, (thing.lower(),), (kind, relation, _SO[so].format(e=thing))
        if not common:
            continue
        said = [f"{f.text} {f.heading} {f.topic}" for f in (y, x)]  # the figure's own word for the thing first
        common.sort(key=lambda t: (not re.search(rf"\b{re.escape(t)}", said[0], re.IGNORECASE), t))
        word = next((m.group(0) for text in said for m in [re.search(rf"\b{re.escape(common[0])}\w*", text,
                                                                     re.IGNORECASE)] if m), common[0])
        thing = f"the {word.lower()} figure"  # "the borehole figure": the word as written, not its stem
        score = 1.2 + 0.3 * sum(corpus.idf(t, entity=False) for t in common)
        kind, relation, so = _LIMIT_SIDE[side]
        return score, (thing.lower(),), (kind, relation, _SO[so].format(e=thing))
    return None


def _place_names(f: Fact, corpus: Corpus) -> set[str]:
    """The names a fact is about: its own, its section's, and its document's title's (a document titled by a site
    is about that site throughout), those that name a particular thing and at most half the documents use."""
    names = {*f.entities, *f.context, *(entity_keys(f.path[0]) if f.path else ())}
    return {k for k in names if len(k) >= 4 and corpus.is_name(k) and _a_thing(k, corpus) and
            0 < corpus.entity_df.get(k, 0) <= max(2, corpus.docs // 2)}


# the load a lifting machine may take, and the weight of a load to lift
_LOAD_LIMIT = re.compile(r"\b(?:safe working load|swl|derated to|rated (?:load|capacity)|(?:load|lifting) (?:limit|"
                         r"capacity))\b")
_COMMITTED = re.compile(r"\b(?:commit\w*|reserv\w*|booked|contracted|guarantee\w*)\b")
_WEIGHT = re.compile(r"\b(?:weigh(?:s|t|ts|ing)?|wt|displacement|lift weight|mass|laden)\b")
_CEILING_Q = re.compile(r"\b(?:maximum|max\.?|limit(?:ed)? to|limit(?: of)?|capacity of|occupancy (?:of|is|limit)|"
                        r"safe working load|swl|derated to|rated (?:load|capacity)|(?:weight|load|lifting) (?:limit|"
                        r"capacity)|"
                        r"not (?:to )?exceed(?:ing)?|no more than|authori[sz]ed for|permitted|qualified for(?: up to)?|"
                        # "must not process more than 2,400 tonnes"
                        r"(?:must|shall|may|will|can) not (?:[a-z]+ ){1,3}?(?:more|greater) than|"
                        r"cap(?:ped)? at|restricted to|(?:contract|annual|included|allowed) mileage|"
                        r"mileage allowance)\b:?(?:\s\w+){0,5}?\s(?:is |of |to |at )?(?:up to )?" + _NUM +
                        r"\s?" + _UNIT)
# the room left, a ceiling on what more can come in: "Free working positions: 1,900"
_ROOM_Q = re.compile(r"\b(?:free|spare|available|unallocated|remaining)\b[\w -]{0,30}?\b" + _UNIT + r"\s*:\s*" + _NUM)
# what a figure on each side of a limit means: (kind, relation, consequence)
_LIMIT_SIDE = {"ceiling": ("risk", "over-limit", "over-limit"), "room": ("risk", "over-limit", "over-limit"),
               "floor": ("risk", "over-limit", "under-floor"),
               "threshold": ("opportunity", "threshold", "threshold")}
# a level past which a contract pays back ("a volume rebate of 5.5p a litre ... if the year's volume is 220,000
# litres or more")
_THRESHOLD_Q = re.compile(r"\b(?:rebates?|discounts?|bonus|refunds?|retrospective)\b(?:[^.;]|\.(?=\d)){0,120}?\b(?:if|"
                          r"when|once|where|for|on|above|over|exceeds?)\b(?:[^.;]|\.(?=\d)){0,60}?" + _NUM + r"\s?" +
                          _UNIT + r"\s?(?:or more|or above|and above|and over|or over|\+)")
_FLOOR_Q = re.compile(r"\b(?:not less than|no less than|at least|minimum(?: of)?)\s" + _NUM + r"\s?" + _UNIT)
_FIGURE_Q = re.compile(r"(?<![\w.,/:-])" + _NUM + r"(?![\d,])(?:\s?" + _UNIT + r")?(?![\w/:-]|\.\d)"
                       r"(?!\s?(?:st|nd|rd|th)?\s?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b)")
_UNITS = {"person": ("people", 1.0), "persons": ("people", 1.0), "people": ("people", 1.0),
          "guests": ("people", 1.0), "delegates": ("people", 1.0), "visitors": ("people", 1.0),
          "attendees": ("people", 1.0), "children": ("people", 1.0), "pupils": ("people", 1.0),
          "students": ("people", 1.0), "patients": ("people", 1.0), "residents": ("people", 1.0),
          "passengers": ("people", 1.0), "hour": ("hour", 1.0), "hours": ("hour", 1.0), "hrs": ("hour", 1.0),
          "h": ("hour", 1.0), "minutes": ("hour", 1 / 60), "mins": ("hour", 1 / 60), "tonne": ("tonne", 1.0),
          "tonnes": ("tonne", 1.0), "t": ("tonne", 1.0), "kg": ("tonne", 0.001), "kbps": ("bps", 1e3),
          "mbps": ("bps", 1e6), "gbps": ("bps", 1e9), "kb/s": ("bps", 1e3), "mb/s": ("bps", 1e6),
          "gb/s": ("bps", 1e9), "m³": ("m3", 1.0), "m3": ("m3", 1.0), "cubic metres": ("m3", 1.0),
          "litres": ("m3", 0.001), "megalitres": ("m3", 1000.0), "kwh": ("wh", 1e3),
          "mwh": ("wh", 1e6), "kw": ("w", 1e3), "mw": ("w", 1e6), "positions": ("position", 1.0),
          "pallet positions": ("position", 1.0), "miles": ("mile", 1.0), "mileage": ("mile", 1.0),
          # a licence's vehicles are counted whatever their body ("authorised for 12 vehicles", "15 rigids")
          "vehicles": ("vehicle", 1.0), "lorries": ("vehicle", 1.0), "vans": ("vehicle", 1.0),
          "trucks": ("vehicle", 1.0), "rigids": ("vehicle", 1.0), "hgvs": ("vehicle", 1.0),
          "tractor units": ("vehicle", 1.0), "coaches": ("vehicle", 1.0), "buses": ("vehicle", 1.0)}


def _quantity(m: re.Match[str]) -> tuple[float, str]:
    unit = (m.group("u") or "").lower()
    kind, scale = _UNITS.get(unit, (unit, 1.0))
    return float(m.group("n").replace(",", "")) * scale, kind


# a temperature ("-22°C", "minus 25 °C", "5 degrees C"), a limit a temperature must stay at or under ("at or below
# -25°C", "-25°C or colder", "not to exceed 8°C") or at or over ("no colder than 2°C", "5°C or above")
_TEMP_N = r"(?P<n>(?:minus\s?|[-−–]\s?)?\d+(?:\.\d+)?)"
_DEG = r"\s?(?:°|º|degrees?\s?)\s?c(?:elsius)?\b"
_TEMP = re.compile(r"(?<![\w.])" + _TEMP_N + _DEG)
_TEMP_CEILING = re.compile(r"(?:\b(?:at or below|at or under|or below|no warmer than|not warmer than|maximum(?: of)?|"
                           r"max\.?|not (?:to )?exceed(?:ing)?|colder than|below)|≤|<=)\s*(?:of\s)?$|"
                           r"^\s?(?:or (?:colder|below|lower|less)|and (?:colder|below)|max(?:imum)?)\b")
_TEMP_FLOOR = re.compile(r"(?:\b(?:at or above|at or over|no colder than|not colder than|not below|minimum(?: of)?|"
                         r"min\.?|at least|above|warmer than)|≥|>=)\s*(?:of\s)?$|"
                         r"^\s?(?:or (?:warmer|above|higher|more)|and (?:warmer|above)|min(?:imum)?)\b")
# the lower end of a range ("2 to 8°C", "between 2 and 8°C"), a limit where the sentence requires it ("must be
# stored at 2-8°C"), else readings
_TEMP_RANGE = re.compile(r"(?<![\w.])(?P<lo>(?:minus\s?|[-−]\s?)?\d+(?:\.\d+)?)\s?(?:°|º)?\s?c?\s?(?:to|and|–|-)\s?$")
_TEMP_KEPT = re.compile(r"\b(?:must|shall|required?|requirement|to be|specif\w+|stored|kept|held|maintained|"
                        r"transported|storage temperature)\b")


def _temperatures(low: str) -> tuple[list[tuple[str, float]], list[float]]:
    """The temperature limits a sentence sets (("ceiling" or "floor", °C)) and the temperatures it states."""
    limits: list[tuple[str, float]] = []
    figures: list[float] = []
    for m in _TEMP.finditer(low):
        n = m.group("n").replace("minus", "-").replace("−", "-").replace("–", "-").replace(" ", "")
        value = float(n)
        before, after = low[max(0, m.start() - 25):m.start()], low[m.end():m.end() + 20]
        if (r := _TEMP_RANGE.search(before)) is not None:
            if _TEMP_KEPT.search(low):
                lo = float(r.group("lo").replace("minus", "-").replace("−", "-").replace(" ", ""))
                limits += [("ceiling", value), ("floor", lo)]
            continue
        if _TEMP_CEILING.search(before) or _TEMP_CEILING.search(after):
            limits.append(("ceiling", value))
        elif _TEMP_FLOOR.search(before) or _TEMP_FLOOR.search(after):
            limits.append(("floor", value))
        else:
            figures.append(value)
    return limits, figures


def _past_temperature(lx: str, ly: str) -> str | None:
    """"ceiling" or "floor" when ``lx`` sets a temperature limit that a temperature ``ly`` states is past (warmer
    than a ceiling or colder than a floor, by at most 30 degrees), and ``ly`` sets none of its own."""
    limits, _ = _temperatures(lx)
    if not limits:
        return None
    own, figures = _temperatures(ly)
    if own:
        return None
    for side, bound in limits:
        for value in figures:
            if (side == "ceiling" and bound < value <= bound + 30) or (side == "floor" and bound - 30 <= value < bound):
                return side
    return None


def _past_limit(x: Fact, y: Fact) -> str | None:
    """"ceiling", "room" (the free space left), "floor" or "threshold" when ``x`` sets a limit on a quantity that a
    figure ``y`` states is past (within three times it, not a year, a date or a sum of money); a figure with no unit
    of its own counts in people or hours, for a count or a row of weekly hours; a temperature past a temperature
    limit (:func:`_past_temperature`)."""
    lx, ly = x.text.lower(), _SUMMED_CELL.sub(" ", y.text.lower())  # a total of several weeks is no week's
    if (side := _past_temperature(lx, ly)) is not None:
        return side
    if _CEILING_Q.search(ly) or _ROOM_Q.search(ly) or _FLOOR_Q.search(ly) or _THRESHOLD_Q.search(ly):
        return None  # two limits, not a limit and a figure
    for side, rx in (("ceiling", _CEILING_Q), ("room", _ROOM_Q), ("floor", _FLOOR_Q), ("threshold", _THRESHOLD_Q)):
        for m in rx.finditer(lx):
            bound, unit = _quantity(m)
            before, after = lx[max(0, m.start() - 20):m.end()], lx[m.end():m.end() + 15].split(";")[0]
            per = next((p for p, prx in _PER.items() if prx.search(before)), None) or \
                next((p for p, prx in _PER.items() if prx.search(after)), None)
            if per is not None and not _PER[per].search(ly):
                continue  # a daily limit against a figure that is no day's (a 200 m³ store against 90 m³ a day)
            for f in _FIGURE_Q.finditer(ly):
                value, unit2 = _quantity(f)
                if not unit2 and (cell := _UNIT_CELL.search(ly[:f.start()])) is not None:
                    named = cell.group("u") or cell.group("c")  # "Forecast (m³): 21,600", "Annual mileage: 27,400"
                    unit2 = _UNITS.get(named, (named, 1.0))[0]
                # a figure with no unit counts as people or hours only as a value ("Headcount: 14", "estimate ...
                # is 1,450"), not as an item or paragraph number in running text ("(item 7)", "paragraph 6")
                if unit2 != unit and not (unit2 == "" and unit in ("people", "hour") and
                                          _CELL_VALUE.search(ly[:f.start()])):
                    continue
                if unit2 == "" and (_A_YEAR_Q.fullmatch(f.group("n")) or ly[max(0, f.start() - 1):f.start()] in
                                    "£$€"):
                    continue
                if (side in ("ceiling", "room") and bound < value <= 3 * bound) or \
                        (side == "floor" and bound / 10 <= value < bound) or \
                        (side == "threshold" and bound <= value <= 3 * bound):
                    return side
    return None


# the period a limit holds for, and a figure's words for the same period ("per week" and "w/e 13 October")
_PER = {"day": re.compile(r"\b(?:daily|per day|a day|each day|/day|per diem)\b"),
        "week": re.compile(r"\b(?:weekly|per week|a week|each week|/week|w/e|week|wk)\b"),
        "month": re.compile(r"\b(?:monthly|per month|a month|each month|/month|month)\b"),
        "year": re.compile(r"\b(?:annual(?:ly)?|per (?:year|annum)|a year|each year|/year|year|p\.a\.|yearly)\b")}
_UNIT_CELL = re.compile(r"\(" + _UNIT + r"\)\s*:\s*$|"
                        r"\b(?P<c>mileage|(?:pallet )?positions)\b[^;:()]{0,30}(?:\([^)]*\))?\s*:\s*$")
_SUMMED_CELL = re.compile(r"(?:(?<=[(;])|^)\s*(?:grand )?(?:total|sum|ytd|year to date|cumulative|to date)\b[^;)]*")
_A_YEAR_Q = re.compile(r"(?:19|20)\d\d")
_CELL_VALUE = re.compile(r"(?::|\b(?:is|are|was|were|of|at|reach(?:es|ed)?|to|estimated?|forecast|expected|peaks?|"
                         r"peaked|total(?:s|led)?))\s*(?:about |around |some |c\.\s?)?$")
# how often something is done, as times a year
_FREQUENCIES = (
    (re.compile(r"\b(?:every|each|per) shift\b|\bend of (?:every|each) shift\b"), 1000),
    (re.compile(r"\btwice (?:a |per )?day\b|\btwice daily\b"), 730),
    (re.compile(r"\bdaily\b|\b(?:every|each) day\b|\bonce (?:a|per) day\b"), 365),
    (re.compile(r"\bweekly\b|\b(?:every|each) week\b|\bonce (?:a|per) week\b"), 52),
    (re.compile(r"\bfortnightly\b|\bevery (?:two|2) weeks\b"), 26),
    (re.compile(r"\bmonthly\b|\b(?:every|each) month\b|\bonce a month\b"), 12),
    (re.compile(r"\bquarterly\b|\bevery (?:three|3) months\b"), 4),
    (re.compile(r"\bannually\b|\byearly\b|\b(?:every|each) year\b|\bonce a year\b"), 1),
)
# a rule on how often, and a change of how often ("moves to once daily", "reduced to weekly")
_REQUIRED = re.compile(r"\b(?:shall|must|required|requires?|condition(?: precedent)?|warranty|are to be|is to be)\b")
_NEW_PACE = re.compile(r"\b(?:moves?|moving|moved|reduced?|reducing|cut|changes?|changed|changing|drops?|dropped|"
                       r"goes|going|switch(?:es|ed)?|will (?:now )?be (?:done|carried out|\w+ed))\b(?: \w+){0,3}? "
                       r"(?:to )?(?P<rest>.{0,40})")


def _times(low: str) -> int | None:
    """How often ``low`` says something is done, as times a year (the most often it names)."""
    return max((n for rx, n in _FREQUENCIES if rx.search(low)), default=None)


def _less_often(a: Fact, b: Fact, corpus: Corpus) -> tuple[float, tuple[str, ...], tuple[str, str, str]] | None:
    """One team's rule requires a thing be done so often ("cleaned at the end of every shift", a condition of
    cover) and another team's change does it less often ("moves to once daily"): a breach neither shows alone.
    The two share at least two words of what is done. (score, shared, (kind, relation, consequence))."""
    for x, y in ((a, b), (b, a)):
        lx, ly = x.text.lower(), y.text.lower()
        pace = _NEW_PACE.search(ly)
        need, now = _times(lx), _times(pace.group("rest")) if pace else None
        if not _REQUIRED.search(lx) or need is None or now is None or now >= need or _REQUIRED.search(ly):
            continue
        common = sorted(t for t in set(x.terms) & set(y.terms) if len(t) >= 4 and not _CALENDAR.fullmatch(t) and
                        _times(t) is None)
        if len(common) < 2:
            continue
        # what is done, as the rule writes it: its rarest shared word ("dryers")
        best = max(common, key=lambda t: (corpus.idf(t, entity=False), t))
        m = re.search(rf"\b{re.escape(best)}\w*", x.text, re.IGNORECASE)
        thing = m.group(0) if m else best
        score = 1.2 + 0.3 * sum(corpus.idf(t, entity=False) for t in common)
        return score, (thing.lower(),), ("risk", "breach", _SO["breach"].format(e=thing))
    return None


_HIRED_OR_IDLE = tuple(re.compile(rf"\b(?:{p})(?:(?<=\W)|(?!\w))") for cat, _, p in CUES if cat in _BOUGHT_IN | _UNUSED)


@functools.lru_cache(maxsize=65_536)
def _resources(f: Fact) -> frozenset[str]:
    """The kinds of resource the thing hired or idle is: named before the words that say so ("a training room
    hired from", "Van V07 stands idle", not the yard it stands in)."""
    low = _WHERE_CELL.sub(" ", f.text.lower())  # where it stands is not what it is ("Location: Harmony yard")
    low = _ACCESSORY.sub(" ", low)  # nor what it is fitted with ("portion cutter, with infeed scanner")
    at = min((m.start() for rx in _HIRED_OR_IDLE for m in [rx.search(low)] if m), default=len(low))
    # "if the three units stand idle" names no kind; its document's title does ("Hoist fleet utilisation")
    return resources(low[:at]) or resources(low) or resources(" ".join(f.path[:1]).lower())


# a volume stated as done: "was", "totalled", "came to"
_PAST_LOAD = re.compile(r"\b(?:was|were|totall?ed|came to|amounted to)\b")
# what a thing comes fitted with, after its name: ", with infeed scanner"
_ACCESSORY = re.compile(r",\s*with (?:an? |its |the )?[\w -]{1,40}?(?=[;)]|$)")
# where a thing stands, and whom it came from ("Source: Hexley Plant Hire"): neither is what the thing is
_WHERE_CELL = re.compile(r"\b(?:locations?|based at|sites?|address|depots?|base|yards?|sources?|suppliers?|"
                         r"contractors?|vendors?|sellers?|bought from|purchased from)\s*:\s*[^;)]*")


@functools.lru_cache(maxsize=65_536)
def _kinds(f: Fact) -> frozenset[str]:
    """Keys ("&space") for the kinds of resource a fact says is paid for outside or sits idle, so that one team's
    hired thing meets another team's idle thing of the same kind although the two name it differently."""
    low = f.text.lower()
    out: set[str] = set()
    if set(f.cues) & (_BOUGHT_IN | _UNUSED) and (f.kind != "risk" or (set(f.cues) & _UNUSED and _idle(f))):
        out.update("&" + k for k in _resources(f))
    if (f.kind != "risk" and set(f.cues) & _UNUSED) or _TURNED_AWAY.search(low):
        out.update(_rates(low))  # "%tonne/week": spare capacity, or work turned away, in one measure
    return frozenset(out)


# a rate of work in one measure ("11 tonnes a week", "15.5 tonnes per week", "40 covers a night")
_RATE = re.compile(r"\b\d[\d,]*(?:\.\d+)?\s?(?P<u>tonnes?|t|kg|loads|pallets|pieces|units|hours|beds|covers|seats|"
                   r"rooms|litres|cases|jobs|orders|deliveries|drops|patients|appointments|slots|journeys|trips)"
                   r"\s?(?:a|per|/|each)\s?(?P<p>week|wk|day|night|month|shift|year)\b")
# work turned away, or not bid for, for want of room to do it
_TURNED_AWAY = re.compile(r"\b(?:declined to (?:bid|quote|tender)|turned (?:away|down)|(?:could|can|did) not (?:take|"
                          r"accept|handle|quote|bid)|unable to (?:take|accept|handle|quote|bid)|at (?:full )?capacity|"
                          r"no (?:spare )?capacity|(?:lack|shortage) of capacity|waiting list)")


def _rate_key(m: re.Match[str]) -> str:
    unit = "tonne" if m.group("u") in ("t", "tonne", "tonnes") else m.group("u").rstrip("s")
    return f"%{unit}/{'week' if m.group('p') == 'wk' else m.group('p')}"


def _rates(low: str) -> frozenset[str]:
    """The measures a sentence states a rate of work in ("%tonne/week")."""
    return frozenset(_rate_key(m) for m in _RATE.finditer(low))


_IDLE_COST = frozenset({"risk.loss", "risk.fall"})


def _idle(f: Fact) -> bool:
    """Whether a fact shows a thing idle, its only trouble the income idleness loses ("lower hire revenue if the
    three units stand idle: about £19,600 a month of lost revenue"): alone a risk, against another team's hire an
    opening."""
    return f.kind != "risk" or not {c for c in f.cues if c.startswith("risk.")} - _IDLE_COST


def _numbered_row_thing(f: Fact) -> str:
    """What a row numbered in its first column lists ("6 (Machine: Rotary die-cutter, 2-colour; ...)": "rotary
    die-cutter"), when it names a kind of resource; else ""."""
    parts = row_split(f.text) if f.unit == "row" else None
    if parts is None or not re.fullmatch(r"#?\d{1,3}\.?", parts[0].strip()):
        return ""
    cells = row_cells(parts[1])
    value = cells[0].partition(":")[2].split(",")[0].strip().lower() if cells else ""
    return value if value and resources(value) else ""


def _in_kind(a: Fact, b: Fact, corpus: Corpus) -> tuple[float, tuple[str, ...], tuple[str, str, str]] | None:
    """One team pays outside for a kind of resource (a room, a van, lab tests) that another team's fact shows
    idle, with no name in common: (score, shared, (kind, relation, consequence)) or ``None``. Scored below a
    shared name, like a meeting in time."""
    for x, y in ((a, b), (b, a)):
        # work one team turned away for want of capacity, in the measure another team has spare ("11 tonnes a
        # week" declined; "15.5 tonnes per week" spare at another plant)
        low_x, low_y = x.text.lower(), y.text.lower()
        common = _rates(low_x) & _rates(low_y)
        if common and _TURNED_AWAY.search(low_x) and set(y.cues) & _UNUSED and y.kind != "risk" and \
                not _TURNED_AWAY.search(low_y):
            rate = next(m for m in _RATE.finditer(low_y) if _rate_key(m) in common)
            measure = y.text[rate.start("u"):rate.end()]
            return 0.9, (measure.lower(),), ("opportunity", "demand-meets-supply", _SO["spare"].format(e=measure))
    for x, y in ((a, b), (b, a)):
        if not (set(x.cues) & _BOUGHT_IN and set(y.cues) & _UNUSED and x.kind != "risk" and _idle(y)) or \
                _SPARES_HIRE.search(y.text.lower()):
            continue
        if not _resources(x) & _resources(y):
            continue
        main = _BECAUSE.split(y.text, maxsplit=1)[0].lower()
        # the idle thing itself ("Kirkby Room"), before the site it stands at ("Castle Square")
        named = sorted((k for k in y.entities if k in main and (_linkable(k, corpus) or corpus.is_name(k))),
                       key=lambda k: (not resources(k), not _linkable(k, corpus), " " not in k))
        thing = named[0] if named else _numbered_row_thing(y)
        if not thing:
            continue
        rel = relate(x, y, _display((thing,), x, y))
        if rel is not None and rel[1] == "demand-meets-supply":
            return 0.9, (thing,), rel
    return None


# what the exclusion itself allows: the words after "other than", "unless", "except", "only in"
_EXCEPT = re.compile(r"\b(?:other than|unless|except|save|provided that|(?:limited|restricted) to|"
                     r"only (?:in|inside|within|while|where|if|when))\b(?P<rest>[^.;]{0,80})")
# a practice a sentence says is not done, or a rule against it: no practice that falls foul of cover
_NOT_PRACTISED = re.compile(r"\b(?:not|never|no longer|must not|may not|shall not|prohibited|forbidden|banned)\b")
# the words of cover itself, no thing cover is for
_COVER_WORDS = frozenset(term_keys("insurance insured insurer insurers cover covered exclusion excluded exclusions "
                                   "condition conditions policy schedule loss damage arising notify written writing "
                                   "agreed unless subject provided restricted liability public shall will must may "
                                   "would should could only other limited maximum more than exceed excess period "
                                   "term terms key"))
# a measure that is a rate, not how long or how high ("24 hours a day", "8 hours per shift") or a notice
_RATE_AFTER = re.compile(r"\s*(?:'|’)?\s*(?:(?:a|an|per|each|every|/)\s*(?:day|week|month|year|shift|hour|night|"
                         r"annum)\b|notice\b)")
_STAY = re.compile(r"(?:\b(?:for|dwell|up to|lasting|period of|duration of|over)\s+(?:(?:a|the|about|around|some|"
                   r"approximately|at least|up to)\s+)?|\(\s*)$")
_DURATION = {"minute": 1 / 60, "hour": 1.0, "day": 24.0, "night": 24.0, "week": 168.0, "month": 730.0,
             "year": 8760.0, "weekend": 48.0}
_LENGTH = {"m": 1.0, "metre": 1.0, "meter": 1.0, "ft": 0.3048, "feet": 0.3048, "foot": 0.3048}
_WORD_N = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
           "ten": 10, "eleven": 11, "twelve": 12, "fourteen": 14}
_MEASURE_UNIT = r"(?P<u>minutes?|hours?|hrs?|days?|nights?|weeks?|months?|years?|weekends?|metres?|meters?|m|ft|" \
                r"feet|foot)\b"
_MEASURE = re.compile(r"(?<![\w.£$€])(?:(?P<lo>\d+(?:\.\d+)?)\s?(?:-|–|to)\s?)?(?P<n>\d+(?:\.\d+)?|"
                      + "|".join(_WORD_N) + r")\s?(?:consecutive\s|working\s|calendar\s)?" + _MEASURE_UNIT)
_BOUND = re.compile(r"\b(?:more than|over|exceeding|in excess of|above|maximum of|max\.?|longer than|beyond|"
                    r"greater than|up to|no more than|not exceeding|(?:a )?period of)\s+(?:[\w-]+\s+)?$")


def _measure(m: re.Match[str]) -> tuple[str, float] | None:
    """(dimension, value in hours or metres) of one measure ("72 hours", "five days", "8-10 m")."""
    n = m.group("n").lower()
    value = float(n) if n[0].isdigit() else float(_WORD_N[n])
    unit = m.group("u").lower().rstrip("s")
    unit = {"hr": "hour", "h": "hour", "meter": "metre"}.get(unit, unit)
    if unit in _DURATION:
        return "time", value * _DURATION[unit]
    if unit in _LENGTH:
        return "length", value * _LENGTH[unit]
    return None


@functools.lru_cache(maxsize=65_536)
def _exclusion(f: Fact) -> tuple[frozenset[str], frozenset[str], tuple[tuple[str, float, frozenset[str]], ...]] | None:
    """What an insurance exclusion or condition of cover is about: (its words, the words of the exception it
    allows, the limits it sets in time or length), or ``None`` when ``f`` is none."""
    if not insurance_clause(f):
        return None
    low = f.text.lower()
    allowed: set[str] = set()
    for m in _EXCEPT.finditer(low):
        allowed |= set(term_keys(m.group("rest")))
    main = set(term_keys(_EXCEPT.sub(" ", low)))
    # each limit, with the words of the clause it governs ("trailer ... parked ... for a maximum of 72 hours")
    bounds = tuple((*dim, frozenset(term_keys(_EXCEPT.sub(" ", low[max(0, m.start() - 100):m.start()]))))
                   for m in _MEASURE.finditer(low) if _BOUND.search(low[max(0, m.start() - 30):m.start()])
                   and (dim := _measure(m)) is not None)
    if not bounds and not EXCLUDES.search(low):
        return None
    return frozenset(main - _COVER_WORDS), frozenset(allowed - main), bounds


def _uncommon(t: str, corpus: Corpus) -> bool:
    """Whether few documents use a word: the thing an exclusion is about ("trailer" in a haulier's few yard and
    fleet papers), a looser test than :meth:`Corpus.rare_term`."""
    return len(t) >= 4 and not _CALENDAR.fullmatch(t) and 2 <= corpus.term_df.get(t, 0) <= max(3, corpus.docs // 3)


def _cover_keys(f: Fact, corpus: Corpus, find: bool = False) -> frozenset[str]:
    """The keys that join an insurance exclusion and a practice: "!" + each uncommon word of an exclusion, "?" +
    each uncommon word of any other fact (its sentence and its paragraph's opening) that some exclusion of the
    corpus uses (:attr:`Corpus.covered`); ``find``: the keys to look up (the other side's)."""
    excl = _exclusion(f)
    if excl is not None:
        return frozenset(("?" if find else "!") + t for t in excl[0] if _uncommon(t, corpus))
    return frozenset(("!" if find else "?") + t for t in _practice_words(f, corpus, corpus.covered))


def _practice_words(f: Fact, corpus: Corpus, covered: Iterable[str]) -> set[str]:
    """The uncommon words of a fact (its sentence and its paragraph's opening) that an exclusion uses."""
    return {t for t in (set(f.terms) | set(term_keys(f.topic))).intersection(covered) if _uncommon(t, corpus)}


def cover_keys(f: Fact, corpus: Corpus, words: frozenset[str]) -> list[str]:
    """The "?" keys a fact indexed earlier gains when exclusions using ``words`` join the corpus."""
    return [] if _exclusion(f) is not None else sorted("?" + t for t in _practice_words(f, corpus, words))


def _uninsured(a: Fact, b: Fact, corpus: Corpus) -> tuple[float, tuple[str, ...], tuple[str, str, str]] | None:
    """One team's insurance excludes or conditions cover for a thing ("loss arising from the charging of
    lithium-ion batteries other than in a purpose-built cabinet", "loaded trailers left for more than 72 hours"),
    and another team's practice does it ("the eFoil batteries will be charged overnight in stockroom B", "parked for
    up to five days"): the two share two rare words, or a rare word and a measure past the limit, and the practice
    is not the exception the exclusion allows. (score, shared, (kind, relation, consequence)) or ``None``."""
    for x, y in ((a, b), (b, a)):
        excl = _exclusion(x)
        if excl is None:
            continue
        words, allowed, bounds = excl
        ly = y.text.lower()
        where_y = " ".join((y.path[0] if y.path else "", y.heading, ly)).lower()
        if INSURANCE.search(where_y) or EXCLUDES.search(ly) or CONDITIONS.search(ly) or _NOT_PRACTISED.search(ly):
            continue
        # words few documents use: the thing excluded ("trailer" in a haulier's few yard and fleet papers), in the
        # practice's sentence or the one that opens its paragraph ("Each eFoil has two battery packs"), and no word
        # of a name ("Fenmoor Park" is not "parked")
        named = {w for k in (*x.entities, *y.entities) if " " in k for w in term_keys(k)}
        own = set(y.terms)
        common = sorted(t for t in words & (own | set(term_keys(y.topic))) if t not in named and _uncommon(t, corpus))
        if not common or not own & set(common):
            continue
        # how long or how high the practice goes ("for up to five days", "dwell 10 days", "(twelve weeks)", "at
        # 8-10 m"), not a deadline ("within 90 days") or a rate ("24 hours a day")
        figures = [dim for m in _MEASURE.finditer(ly) if not _RATE_AFTER.match(ly, m.end()) and
                   (dim := _measure(m)) is not None and (dim[0] == "length" or _STAY.search(ly[:m.start()]))]
        near = [(dim, bound) for dim, bound, clause in bounds if clause & set(common)]
        past = any(d == dim and v > bound for dim, bound in near for d, v in figures)
        within = any(d == dim and v <= bound for dim, bound in near for d, v in figures)
        if within and not past:
            continue  # the practice keeps within the limit
        # an exclusion that sets a limit is fallen foul of only past it; one that sets none, by the act it
        # excludes ("the charging of lithium-ion batteries") done on the thing, not the exception it allows
        acts = [t for t in common if re.search(rf"\b{re.escape(t)}\w*ing\b", x.text.lower())]
        if not past and (bounds or y.unit != "sentence" or not acts or _phrases(common, x, y) < 2 or
                         allowed & set(y.terms)):
            continue
        best = max(common, key=lambda t: (corpus.idf(t, entity=False), t))
        m = re.search(rf"\b{re.escape(best)}[\w-]*", x.text, re.IGNORECASE)
        thing = m.group(0) if m else best
        score = 1.2 + 0.3 * sum(corpus.idf(t, entity=False) for t in common) + 0.3 * past
        return score, (thing.lower(),), ("risk", "uninsured", _SO["uninsured"].format(e=thing))
    return None


# a band of a rebate table ("£250,000 to £349,999 (Rebate on total spend: 4%)", "£250,000 and above") or a
# sentence that pays a rebate once spend reaches a sum ("a rebate of 3% once the year's spend reaches £150,000"),
# and the rate it pays
_TIER_REBATE = re.compile(r"\b(?:rebates?|retrospective|discounts?|bonus)\b")
_TIER_BAND = re.compile(r"^\s*(?:from |over |above )?[$£€]\s?(?P<n>\d[\d,]*(?:\.\d+)?)\s?(?P<m>m\b|k\b)?")
_TIER_SAID = re.compile(r"\b(?:reach(?:es|ed)?|exceeds?|passes|at least|over|above|of|is)\s+[$£€]\s?(?P<n>\d[\d,]*"
                        r"(?:\.\d+)?)\s?(?P<m>m\b|k\b)?(?:\s?(?:or more|or above|and above|or over|\+))?")
_TIER_RATE = re.compile(r"(?<![\d.])(?P<r>\d{1,2}(?:\.\d+)?)\s?%")


@functools.lru_cache(maxsize=65_536)
def _tier(f: Fact) -> tuple[float, float] | None:
    """(the spend a rebate tier starts at, the rate it pays) of a band of a rebate table or a sentence that pays a
    rebate once spend reaches a sum, or ``None``."""
    where = " ".join((f.heading, f.topic, f.text)).lower()
    if not _TIER_REBATE.search(where):
        return None
    if f.unit == "row":
        parts = row_split(f.text)
        if parts is None or (m := _TIER_BAND.match(parts[0])) is None:
            return None
        said = parts[1]
    else:
        low = f.text.lower()
        if not _TIER_REBATE.search(low) or (m := _TIER_SAID.search(low)) is None:
            return None
        said = low
    rate = _TIER_RATE.search(said)
    if rate is None or float(rate.group("r")) <= 0:
        return None
    return money_value(m), float(rate.group("r"))


def _tier_parties(f: Fact, corpus: Corpus) -> list[str]:
    """The keys of :attr:`Corpus.spend` a rebate tier's contract is with: the title of its document, and each
    supplier name with a spend on record that the title names."""
    title = f.path[0] if f.path else ""
    if not title:
        return []
    low = title.lower()
    return sorted(k for k in corpus.spend if k == title or (" " in k and re.search(rf"\b{re.escape(k)}\b", low)))


def _tier_keys(f: Fact, corpus: Corpus, find: bool = False) -> frozenset[str]:
    """The keys that join a rebate tier and spend with another supplier: "$" + each uncommon word of what the
    contracted supplier sells, for a tier; "¤" + each uncommon word of what a spend row buys; ``find``: the keys to
    look up (the other side's)."""
    if _tier(f) is not None:
        goods = frozenset().union(*(corpus.goods.get(k, frozenset()) for k in _tier_parties(f, corpus)))
        return frozenset(("¤" if find else "$") + t for t in goods if _uncommon(t, corpus))
    row = spend_row(f)
    if row is None:
        return frozenset()
    return frozenset(("$" if find else "¤") + t for t in row[2] if _uncommon(t, corpus))


def _consolidate(a: Fact, b: Fact, corpus: Corpus) -> tuple[float, tuple[str, ...], tuple[str, str, str]] | None:
    """A supplier's contract pays a rebate once the year's spend reaches a tier ("£250,000 to £349,999: 4%"), the
    spend on record with that supplier is below the tier, and another team's spend analysis shows spend with
    another supplier on the same goods (two uncommon words of what each sells) that, moved, would reach it:
    (score, shared, (kind, relation, consequence)) or ``None``."""
    for x, y in ((a, b), (b, a)):
        tier = _tier(x)
        if tier is None:
            continue
        level, rate = tier
        parties = _tier_parties(x, corpus)
        row = spend_row(y)
        if not parties or row is None or (y.path and x.path and y.path[0] == x.path[0]):
            continue
        names, spend, goods = row
        if any(n in corpus.spend and n in parties for n in names) or \
                any(" " in p and p in " ".join(names) for p in parties):
            continue  # the same supplier on another account
        current = max(corpus.spend[p] for p in parties)
        if not current < level <= current + spend:
            continue
        sold = frozenset().union(*(corpus.goods.get(p, frozenset()) for p in parties))
        common = sorted(t for t in goods & sold if _uncommon(t, corpus))
        if len(common) < 2:
            continue
        name = _row_key(y.text).strip()
        score = 1.2 + 0.3 * sum(corpus.idf(t, entity=False) for t in common) + 0.05 * rate
        return score, (name.lower(),), ("opportunity", "consolidate", _SO["consolidate"].format(e=name))
    return None


def _phrases(terms: Sequence[str], fa: Fact, fb: Fact) -> int:
    """How many things the rare words two facts share say: plain words that stand next to each other in both
    ("liquidated damages", "standby rota") are one phrase, one thing in common, not two ("certbot on ops-1" still
    names two things: a code is no word of a phrase)."""
    if len(terms) < 2:
        return len(terms)
    common = {t for t in terms if t.isalpha()}
    pairs = [{(x, y) for x, y in itertools.pairwise(f.terms) if x in common and y in common} for f in (fa, fb)]
    return len(terms) - len(pairs[0] & pairs[1])


def _scored(fa: Fact, fb: Fact, ka: _Keys, kb: _Keys, corpus: Corpus) -> tuple[float, tuple[str, ...]]:
    own_a, own_b = ka.own, kb.own
    shared = sorted(k for k in ka.names & kb.names if " " in k or _alone(k, fa) or _alone(k, fb))
    # a multi-word name shared whole makes its single words redundant
    shared = [k for k in shared if not any(k != o and k in o.split() for o in shared)]
    terms = sorted(ka.rare & kb.rare)  # summed in one order: a float sum's last bit must not depend on hashing
    if not shared and _phrases(terms, fa, fb) < 2:
        return 0.0, ()
    s = sum(corpus.idf(k) * (1.0 if k in own_a and k in own_b else 0.6) for k in shared) + \
        0.4 * sum(corpus.idf(t, entity=False) for t in terms)
    shared.sort(key=lambda k: (-(k in own_a and k in own_b), -corpus.idf(k), k))
    return s, tuple(shared or sorted(terms)[:2])


def find_links(new: Sequence[Stated], seen: Sequence[Stated], corpus: Corpus, limit: int = 3,
               by_key: Mapping[str, Sequence[Stated]] | None = None) -> list[Link]:
    """The best links between each of ``new`` and the facts ``seen`` (and among ``new``), at most ``limit`` per
    new fact, best first; each pair of facts once. ``by_key`` is an index of stated facts by :func:`index_keys`
    (built from ``seen`` and ``new`` when not given)."""
    if by_key is None:
        index: dict[str, list[Stated]] = {}
        for s in (*seen, *new):
            for k in index_keys(s.fact, corpus):
                index.setdefault(k, []).append(s)
        by_key = index
    out: list[Link] = []
    done: set[tuple[int, int]] = set()
    severities: dict[int, float] = {}
    known: dict[int, _Keys] = {}

    def keys(st: Stated) -> _Keys:
        if st.key not in known:
            known[st.key] = _Keys.of(st.fact, corpus)
        return known[st.key]

    def severity(st: Stated) -> float:
        if st.key not in severities:
            severities[st.key] = st.fact.severity
        return severities[st.key]

    for s in new:
        cands: dict[int, Stated] = {}
        # rarest keys first; a key that hundreds of facts share is too common to pair on one by one
        k_s = keys(s)
        # (keys in sorted order: a set's order changes from process to process, and ties in length must not)
        postings = sorted((by_key.get(k, ()) for k in (*sorted(k_s.names), *("~" + t for t in sorted(k_s.rare)),
                                                       *sorted(k_s.months), *sorted(k_s.kinds),
                                                       *sorted(k_s.levels), *sorted(k_s.limits),
                                                       *sorted(k_s.cover), *sorted(k_s.tiers),
                                                       *sorted(k_s.meets))), key=len)
        for posting in postings:
            if len(posting) > _POSTING_MAX or len(cands) >= _CANDIDATES_MAX:
                break
            for o in posting:
                if o.doc != s.doc:
                    cands[o.key] = o
                    if len(cands) >= _CANDIDATES_MAX:
                        break
        scored: list[Link] = []
        periodic: dict[int, tuple[float, tuple[str, ...], tuple[str, str, str]]] = {}
        # the pairs that share the most, judged by what the pair means only for the best of them
        pre: list[tuple[float, tuple[str, ...], Stated]] = []
        for o in cands.values():
            pair = (min(s.key, o.key), max(s.key, o.key))
            if pair in done:
                continue
            sc, shared = _scored(s.fact, o.fact, keys(s), keys(o), corpus) if o.doc != s.doc else (0.0, ())
            apart = s.department != o.department
            if keys(s).levels & keys(o).levels and apart and \
                    (level := _short_of_level(s.fact, o.fact, corpus)) is not None:
                # a forecast that misses another team's tested level says more than any name the two share
                periodic[o.key] = level
                pre.append((max(level[0], sc) * (0.5 + severity(o)), level[1], o))
            elif keys(s).limits & keys(o).limits and apart and \
                    (hit := _over_limit(s.fact, o.fact, corpus) or _less_often(s.fact, o.fact, corpus) or
                             _over_quantity(s.fact, o.fact, corpus) or
                             _liable_past_cover(s.fact, o.fact, corpus) or
                             _assumed_above(s.fact, o.fact, corpus)) is not None:
                # so is a figure above another team's money limit on the thing, or a pace below its rule's
                periodic[o.key] = hit
                pre.append((max(hit[0], sc) * (0.5 + severity(o)), hit[1], o))
            elif apart and (hit := _uninsured(s.fact, o.fact, corpus)) is not None:
                # so is a practice that falls foul of another team's insurance exclusion or condition
                periodic[o.key] = hit
                pre.append((max(hit[0], sc) * (0.5 + severity(o)), hit[1], o))
            elif keys(s).tiers and (hit := _consolidate(s.fact, o.fact, corpus)) is not None:
                # so is spend with another supplier that would take a contracted supplier past its rebate tier
                # (two documents, whoever states them: one reader may hold both the terms and the spend analysis)
                periodic[o.key] = hit
                pre.append((max(hit[0], sc) * (0.5 + severity(o)), hit[1], o))
            elif sc > 0:
                pre.append((sc * (0.5 + severity(o)), shared, o))
            elif apart:
                # no name in common: a meeting in time, one kind of resource hired and idle (the first that holds)
                for common, judge in ((keys(s).months & keys(o).months, _in_period),
                                      (keys(s).kinds & keys(o).kinds, _in_kind),
                                      (keys(s).meets & keys(o).meets, _meets)):
                    if common and (hit := judge(s.fact, o.fact, corpus)) is not None:
                        periodic[o.key] = hit
                        pre.append((hit[0] * (0.5 + severity(o)), hit[1], o))
                        break
        pre.sort(key=lambda p: (-p[0], p[2].key))
        for weight, shared, o in pre[:_JUDGED_MAX]:
            sc = weight / (0.5 + severity(o))
            ent = _display(shared, s.fact, o.fact)
            rel = periodic[o.key][2] if o.key in periodic else relate(s.fact, o.fact, ent)
            if rel is None:
                continue
            kind, relation, consequence = rel
            sev_s, sev_o = severity(s), severity(o)
            strength = max(sev_s, sev_o) + 0.5 * min(sev_s, sev_o)
            bonus = STRENGTH.get(relation, 1.0)
            bonus *= 1.0 + 0.2 * (s.department != o.department) + 0.1 * (s.label_key != o.label_key)
            if s.fact.unit == "row" and o.fact.unit == "row" and relation not in ("timing", "contradiction") and \
                    o.key not in periodic:
                # two registers listing the same item say little together (a spend row and a utilisation row joined
                # by what they are, with no name in common, do)
                bonus *= 0.6
            scored.append(Link(s, o, shared, round(min(sc, 12.0) * strength * bonus, 4), kind, relation,
                               consequence))
        scored.sort(key=lambda lk: (-lk.score, lk.b.key))
        for lk in scored[:limit]:
            done.add((min(lk.a.key, lk.b.key), max(lk.a.key, lk.b.key)))
            out.append(lk)
    # many sentences of two documents may share one name: the second link between the same two documents on the
    # same thing says less than the first, so it ranks lower
    out.sort(key=lambda lk: (-lk.score, lk.a.key, lk.b.key))
    seen_topic: dict[tuple[str, str, str], int] = {}
    ranked: list[tuple[float, Link]] = []
    for lk in out:
        topic = (min(lk.a.doc, lk.b.doc), max(lk.a.doc, lk.b.doc), lk.shared[0] if lk.shared else "")
        nth = seen_topic[topic] = seen_topic.get(topic, -1) + 1
        ranked.append((lk.score * 0.6**nth, lk))
    ranked.sort(key=lambda r: (-r[0], r[1].a.key, r[1].b.key))
    return [lk for _, lk in ranked]


_POINTS_BACK = re.compile(r"^(?:it|its|they|their|this|these|that|those|he|she|the (?:same|latter|former))\b",
                          re.IGNORECASE)


def _leans_on(f: Fact, corpus: Corpus) -> tuple[str, ...]:
    """The names of its paragraph or section that a sentence speaks of: "It is single-source" under a paragraph
    about a sensor, a sentence that names nothing distinctive itself, or one that names its own thing (a
    toolmaker) inside a paragraph about another (the supplier the tool makes parts for). A sentence that names
    nothing to link on, nor does its section, speaks of what its document is about: "raise the group credit limit
    to £480,000" in a key account plan for one customer (the title's multi-word names or codes that other
    documents name too)."""
    if not f.path or any(corpus.entity_df.get(k, 0) >= 2 and _linkable(k, corpus) for k in (*f.entities,
                                                                                             *f.context)):
        return f.context
    subject = tuple(k for k in entity_keys(f.path[0]) if (" " in k or any(c.isdigit() for c in k)) and
                    k not in f.context and corpus.entity_df.get(k, 0) >= 2 and _linkable(k, corpus))
    return (*f.context, *subject)


def _alone(key: str, f: Fact) -> bool:
    """``key`` names something on its own somewhere in the sentence (or its context), not only as one word of a
    longer name: "Lakeshore issued" but not "Penn Avenue" against "Penn Hills"."""
    if key in f.context and key not in f.entities:
        return True
    return _alone_in(key, f.text)


def _alone_in(key: str, text: str) -> bool:
    """``key`` stands on its own somewhere in ``text``, not only as one word of a longer capitalised name."""
    for m in re.finditer(rf"(?<![\w-]){re.escape(key)}(?![\w-])", text, re.IGNORECASE):
        before = text[:m.start()].rstrip().rsplit(" ", 1)[-1] if m.start() else ""
        after = text[m.end():].lstrip("'’s").lstrip()
        if not (after[:1].isupper() or after[:1].isdigit()) and not (before[:1].isupper() and before.isalpha() and
                                                                     m.start() > len(before) + 1):
            return True
    return False


_PERIOD = re.compile(r"(?:fy|cy|q[1-4]|h[12])\s?'?\d{2,4}(?:[/-]\d{2,4})?|(?:q[1-4]|h[12])(?:\s+(?:fy)?\d{2,4})?")
_MONTH_KEY = re.compile(r"(?:\d{1,2} )?(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|"
                        r"aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?(?: \d{1,2})?"
                        r"(?:,? \d{2,4})?")
_HEADING_WORDS = frozenset((
    "comments", "notes", "summary", "overview", "background", "introduction", "actions", "action items", "findings",
    "details", "status", "results", "next steps", "decisions", "decisions requested", "recommendations",
    "recommendation", "appendix", "purpose", "scope", "conclusion", "conclusions", "key points", "other notes",
    "attendees", "agenda", "sign-off", "approval", "approvals", "references", "contents", "commentary", "comment",
    "analysis", "discussion", "observations", "narrative", "highlights", "headlines", "headline", "update", "updates",
    "key messages", "at a glance", "key figures"))
_REGION_WORDS = frozenset((
    "england", "scotland", "wales", "ireland", "britain", "uk", "gb", "europe", "eu", "asia", "africa", "america",
    "americas", "usa", "us", "canada", "australia", "north", "south", "east", "west", "midlands", "emea", "apac",
    "latam", "international", "national", "regional", "global", "worldwide"))
SEASON_WORDS = frozenset((
    "christmas", "xmas", "easter", "new year", "summer", "winter", "spring", "autumn", "half term", "half-term",
    "bank holiday", "boxing day", "black friday", "whitsun", "ramadan", "diwali", "eid", "hogmanay", "peak season",
    "high season", "low season", "festive season"))
_SEASON_TERMS = frozenset(term_keys(" ".join(SEASON_WORDS)))
def _meets(a: Fact, b: Fact, corpus: Corpus) -> tuple[float, tuple[str, ...], tuple[str, str, str]] | None:
    """Demand one team reports at a place and capacity to spare another reports at the same place, though the place
    is named everywhere: (score, shared, (kind, relation, consequence)) or ``None``. The rarest shared name first."""
    names = sorted((k[1:] for k in _meet_keys(a, corpus) & _meet_keys(b, corpus)), key=lambda k: (-corpus.idf(k), k))
    for key in names:
        entity = _display((key,), a, b)
        rel = relate(a, b, entity)
        if rel is not None and rel[1] == "demand-meets-supply":
            return 0.8 + 0.2 * corpus.idf(key), (key,), rel
    return None


_POSTING_MAX = 400  # facts sharing one key beyond which the key is not used to find candidates
_CANDIDATES_MAX = 120  # candidates gathered per fact (rarest keys first)
_JUDGED_MAX = 24  # candidates per fact whose relation is judged (those sharing the most)


def index_keys(f: Fact, corpus: Corpus) -> list[str]:
    """The keys a fact is found by when linking: its distinctive names (and its paragraph's, when it leans on
    them), "~" + each rare word it uses (a lower-case tool or host name two documents share), and "@" + each month
    of a dated need or absence it states (:func:`_months`)."""
    owners = _owners(f.text)
    keys = [k for k in (*f.entities, *_leans_on(f, corpus)) if _linkable(k, corpus) and k not in owners]
    keys += ["~" + t for t in f.terms if corpus.rare_term(t) and t not in _SEASON_TERMS]
    keys += sorted(_months(f))
    keys += sorted(_kinds(f))
    keys += sorted(_level_days(f))
    keys += sorted(_limit_keys(f))
    keys += sorted(_cover_keys(f, corpus))
    keys += sorted(_tier_keys(f, corpus))
    keys += sorted(_meet_keys(f, corpus))
    return keys


# who is to do something ("Action: Head of Depots to confirm by ...", "Owner: J. Patel"): the person or post an action
# falls to, not the thing it is about
_OWNER = re.compile(r"(?:^|[;:(]\s*)(?:actions?|action owner|owner|assigned to)\s*[:-]\s*"
                    r"(?P<who>[^;:(),]{2,60}?)(?=\s+to\s+[a-z]|\s*[;),]|$)", re.IGNORECASE)


@functools.lru_cache(maxsize=65_536)
def _owners(text: str) -> frozenset[str]:
    """The keys of whoever a sentence gives an action to."""
    return frozenset(k for m in _OWNER.finditer(text) for k in entity_keys(m.group("who")))


def _a_thing(key: str, corpus: Corpus) -> bool:
    """Whether a key names one particular thing (not an abbreviation of a function, a trade word, a section's
    name, a period, a region, a season, or a word no sentence names as a thing)."""
    if len(key) <= 2 and key.isalpha():
        return False  # "QA", "HR", "EU": an abbreviation of a function or a region, not one particular thing
    if key in TRADE_WORDS:
        return False  # "Foods", "Services": the last word of many companies' names, no company of its own
    if key in _HEADING_WORDS:
        return False  # "Comments", "Next steps": the name of a section any document may have, not of a thing
    if _PERIOD.fullmatch(key) or _MONTH_KEY.fullmatch(key):
        return False  # "FY2025", "Q3 2026", "Apr 2024": the period a figure covers or a date; not a thing
    if key in _REGION_WORDS:
        return False  # "England", "Europe": where many things are, not one of them ("NHS England" still is)
    if key in SEASON_WORDS:
        return False  # "Christmas", "Easter": a time of year every team plans for, not one thing two teams share
    # ... nor "Root" of a "Root cause" heading: a word no sentence names as a thing
    return " " in key or any(c.isdigit() for c in key) or bool(corpus.entity_df.get(key, 0))


def _linkable(key: str, corpus: Corpus) -> bool:
    """A name worth joining two documents on: distinctive, or a name a minority of the documents use (a
    multi-word name up to half of them, one word up to a quarter)."""
    if not _a_thing(key, corpus):
        return False
    if corpus.distinctive(key):
        return True
    df = corpus.entity_df.get(key, 0)
    return corpus.is_name(key) and df <= corpus.docs // (2 if " " in key else 4)


def _display(shared: Sequence[str], a: Fact, b: Fact) -> str:
    """The shared entity as written (its first surface form in the sentences, their sections or documents), else
    the key with capitals."""
    key = shared[0] if shared else ""
    for text in (a.text, b.text, a.heading, b.heading, *a.path, *b.path):
        # a rare word is shared as its stem ("bakeri"): the whole word as written ("bakery")
        stem = key[:-1] if key.endswith("i") else key  # "bakeri": "bakery", "bakeries"
        m = re.search(rf"\b{re.escape(stem)}[\w-]*" if key.isalpha() else re.escape(key), text, re.IGNORECASE)
        if m:
            return m.group(0)
    return " ".join(w[:1].upper() + w[1:] for w in key.split())
