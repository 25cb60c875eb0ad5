"""Claims grouped into issues: one issue told over several sentences is one insight, a link absorbs both of its
documents' groups, resolved or rehearsed matters rank low, repetition is not corroboration, and every title is
one complete sentence without chatter. Documents are written for these tests."""

from __future__ import annotations

import re

import pytest

from insights.issue_text import title_problems
from insights.issues import Issue, Said, build_issues
from personas.context.facts import Corpus, facts
from personas.context.passages import chunk_spans

PLANT = """# Plant maintenance log, Q3

## Presses

The north press failed its pressure test on 3 May and was taken out of service. It is the only press that can
form the large housings, and no spare press is available. About 340 customer orders are waiting for it.

Norrow Seals delivered 48 seal kits in the quarter; 2 kits were rejected for scratches.

## Parts

| Part | Supplier | Rejected |
|---|---|---|
| Seal kit SK-2 | Norrow Seals | 0 |
| Pump P-7 | Kell Motors | 3 |
"""

SALES = """# Sales pipeline, Q3

## Demand

Nine hospitals asked for 600 large housings for delivery between 1 May and 30 June, worth $2.4 million of
revenue. Several of them would sign a three-year agreement.
"""

DRILL = """# Evacuation drill report, June

The fire alarm sounded on 4 June and the building was evacuated in four minutes. The drill went as planned, no
one was injured and all actions are closed.
"""

FINANCE = """# Income review, Q2

## Unclaimed rebates

There are 31 rebate deals, worth £214,000, for which no claim has been raised. The fault was found in July
when a supplier asked why it had not been billed.

The claim window for the April deals closes on 29 September; the largest unclaimed deal is worth £31,000.

## Disputes

Delta Foods disputes two claims worth £96,000; meetings are booked for September.
"""

FILLER = "The canteen opens at {h}:00 on weekdays from {d} May and serves 120 staff.\n"


def _world(docs: dict[str, str], roles: tuple[str, ...] = ("Planner", "Engineer")) -> tuple[Corpus, list[Said]]:
    corpus = Corpus()
    said: list[Said] = []
    all_docs = dict(docs)
    all_docs.update({f"Canteen note {k}": FILLER.format(h=k + 6, d=k + 1) for k in range(6)})
    for title, text in all_docs.items():
        fs = facts(text)
        corpus.add_document(text, fs, title, title)
        if title.startswith("Canteen"):
            continue
        spans = chunk_spans(text)
        for f in fs:
            chunk = next((i for i, (a, b) in enumerate(spans) if a <= f.start < b), 0)
            for r, role in enumerate(roles):
                said.append(Said(len(said), (title, chunk, f.start, f.end), title, "ops", f.text, role=role,
                                 department=f"dept{r}", channel="ops-floor", fact=f))
    return corpus, said


def _span_of(said: list[Said], startswith: str) -> Said:
    return next(s for s in said if s.text.startswith(startswith))


def test_the_sentences_of_one_issue_make_one_insight_that_shows_its_figures() -> None:
    corpus, said = _world({"Plant log": PLANT})
    issues = build_issues(said, corpus)
    press = [i for i in issues if any("north press" in s.text for s in i.sources)]
    assert len(press) == 1
    (issue,) = press
    assert issue.kind == "risk"
    text = issue.title + " " + issue.summary
    assert "only press" in text and "340" in text
    assert not any("Norrow" in s.text for s in issue.sources)  # the next paragraph is about another named thing


def test_the_paragraphs_of_a_section_about_its_heading_are_one_issue_of_the_kind_its_main_point_has() -> None:
    corpus, said = _world({"Income review": FINANCE})
    issues = build_issues(said, corpus)
    rebates = [i for i in issues if any("rebate" in s.text or "claim window" in s.text for s in i.sources)]
    assert len(rebates) == 1
    assert rebates[0].kind == "opportunity"
    told = rebates[0].title + " " + rebates[0].summary
    assert "£214,000" in told and "29 September" in told and "under Unclaimed rebates" in told
    assert not any("Delta Foods" in s.text for s in rebates[0].sources)


@pytest.mark.parametrize(("text", "marker", "kind"), [
    # an opening worded without money, its paragraph's sum a charge: a risk
    ("# Supplier register\n\n## Prismadent\n\nIn July 2023 we signed a two-year volume agreement with Prismadent "
     "to secure a 17% discount on high-translucency discs. If we buy fewer than the committed 1,200 discs in a "
     "contract year, a shortfall charge of £38.50 for each disc not bought is invoiced in July.\n",
     "Prismadent", "risk"),
    # a fault worded as trouble, its paragraph's sum money to recover: an opportunity
    ("# Revenue report\n\n## Riverside reviews\n\nDuring the 2021 complaints about the lift outage a group of "
     "Riverside customers was flagged as \"do not review\" and the flag was never removed. Removing the flag and "
     "moving them to list prices would add about £7,400 a month once complete.\n",
     "Riverside", "opportunity"),
])
def test_where_the_money_is_decides_the_kind_of_an_issue_told_both_ways(text: str, marker: str, kind: str) -> None:
    corpus, said = _world({"Register": text})
    (issue,) = [i for i in build_issues(said, corpus) if marker in i.title + i.summary]
    assert issue.kind == kind, (issue.title, issue.summary)


def test_a_paragraph_that_settles_something_else_stays_out_of_the_issue() -> None:
    text = ("# Competitor notes\n\n## Brightline\n\nBrightline will stop selling its budget scanners on 31 March, "
            "and 62 clinics run them today, about $3.9 million of business.\n\nIts new label printer was cleared "
            "in August; we do not make label printers and do not plan to.\n")
    corpus, said = _world({"Competitor notes": text})
    (issue,) = [i for i in build_issues(said, corpus) if "Brightline" in i.title]
    assert issue.kind == "opportunity"
    assert not any("label printer" in s.text for s in issue.sources)


def test_table_rows_are_separate_items_and_a_zero_count_is_no_issue() -> None:
    corpus, said = _world({"Plant log": PLANT})
    issues = build_issues(said, corpus)
    rows = [i for i in issues if i.sources[0].fact.unit == "row"]
    assert [i.sources[0].text.split(" (")[0] for i in rows] == ["Pump P-7"]
    assert rows[0].title.startswith("The Plant log lists Pump P-7 with")


def test_a_resolved_or_rehearsed_matter_ranks_below_an_open_one() -> None:
    corpus, said = _world({"Plant log": PLANT, "Drill report": DRILL})
    issues = build_issues(said, corpus)
    first = issues[0]
    assert "north press" in first.title
    assert all(i.kind != "risk" or i.score < first.score / 2 for i in issues if i.documents == ["Drill report"])


def test_repeating_a_sentence_is_not_corroboration() -> None:
    corpus, said = _world({"Plant log": PLANT}, roles=("Planner",))
    once = {i.key: i.score for i in build_issues(said, corpus)}
    echo = said + [s for s in said for _ in range(50)]
    again = {i.key: i.score for i in build_issues(echo, corpus)}
    assert again == once
    _, two_roles = _world({"Plant log": PLANT}, roles=("Planner", "Buyer"))
    corroborated = {i.key: i.score for i in build_issues(two_roles, corpus)}
    assert all(corroborated[k] > once[k] for k in once)


def _link(said: list[Said], a: Said, b: Said, relation: str, consequence: str, entity: str) -> list[Said]:
    link = Said(len(said), a.span, a.doc_title, "ops", a.text, role="Director", department="exec", link=b.span,
                link_text=b.text, link_title=b.doc_title, link_department="sales", kind="risk", relation=relation,
                consequence=consequence, entity=entity, cross_label=True, fact=a.fact, link_fact=b.fact)
    return [*said, link]


def test_a_link_joins_both_documents_groups_into_one_insight_that_outranks_them() -> None:
    corpus, said = _world({"Plant log": PLANT, "Sales pipeline": SALES})
    alone = build_issues(said, corpus)
    press = _span_of(said, "The north press")
    ask = _span_of(said, "Nine hospitals")
    linked = build_issues(_link(said, ask, press, "demand-vs-capacity",
                                "the demand expected for the large housings may not be met", "large housings"),
                          corpus)
    assert len(linked) == len(alone) - 1
    top = linked[0]
    assert top.documents == ["Sales pipeline", "Plant log"]
    assert top.title.startswith("Nine hospitals asked for 600 large housings")
    assert ", while the north press failed" in top.title
    assert top.title.endswith("so the demand expected for the large housings may not be met.")
    assert "340" in top.summary and "Director" in top.summary
    assert top.score > max(i.score for i in alone)
    assert sum(1 for i in linked if any("north press" in s.text for s in i.sources)) == 1


def test_a_loose_link_that_only_shares_a_name_is_not_an_insight_of_its_own() -> None:
    corpus, said = _world({"Plant log": PLANT, "Sales pipeline": SALES})
    press = _span_of(said, "The north press")
    ask = _span_of(said, "Nine hospitals")
    linked = build_issues(_link(said, ask, press, "compound", "it needs one owner", "housings"), corpus)
    assert all(len(i.documents) == 1 for i in linked)


@pytest.mark.parametrize("title", [
    "I'd want the Line 2 stopped on the agenda for .",
    "Same here about the requests this quarter.",
    "Key terms: equipment, failur, first",
    "As a field service engineer, the battery reboot stops lands on my desk first.",
    "Careful with the battery reboot stops, the numbers say something else.",
    "the pump is",
    "Production asks for a fix-only week, while And it stays below the floor, so more business puts money at risk.",
    "The set moves to 1 December, while if the set is not live by 1 November, so Brisa arrives after it is needed.",
    "The statement is generated from the case record and includes.",
])
def test_chatter_and_fragments_are_not_titles(title: str) -> None:
    assert title_problems(title)


def test_a_verb_that_ends_on_its_own_preposition_is_a_whole_sentence() -> None:
    assert title_problems("Exit on lease expiry in March 2026; dilapidations estimated at £38k and provided for.") == []
    assert title_problems("The contract was signed by the.")


def test_a_risk_is_never_titled_by_a_neutral_note_beside_it() -> None:
    """Seen on a company the code was not developed on: a lease register's notes gave the risk "Exit on lease expiry
    in March 2026; dilapidations ... provided for" (then read as a fragment) and, as its title, the note beside it,
    "Freehold; solar panels fitted in 2023 supply about 30% of electricity"."""
    doc = ("# Property register\n\n## Notes\n\nFreehold; solar panels fitted in 2023 supply about 30% of electricity. "
           "Exit on lease expiry in March 2026 of the Halifax office, with dilapidations of £38k that the schedule "
           "includes.\n")
    corpus, said = _world({"Property register": doc})
    (issue,) = [i for i in build_issues(said, corpus) if any("Exit on lease" in s.text for s in i.sources)]
    assert issue.kind == "risk" and not issue.title.startswith("Freehold"), issue.title


def test_a_sentence_cut_for_room_keeps_the_list_its_colon_opens() -> None:
    from insights.issue_text import _shorten
    text = ("The statement is generated from the case record and includes: manufacturer name and address, patient "
            "identifier, prescriber name, device description, a statement that the device conforms")
    cut = _shorten(text, 120)
    assert not cut.endswith("includes") and "manufacturer name" in cut, cut


def _sentences(text: str) -> int:
    return len(re.findall(r"[.!?](?:\s+(?=[A-Z])|$)", text))


def test_every_title_is_a_complete_sentence_and_every_summary_two_to_four() -> None:
    corpus, said = _world({"Plant log": PLANT, "Sales pipeline": SALES, "Drill report": DRILL})
    press = _span_of(said, "The north press")
    ask = _span_of(said, "Nine hospitals")
    issues: list[Issue] = build_issues(_link(said, ask, press, "demand-vs-capacity",
                                             "the demand expected for the large housings may not be met",
                                             "large housings"), corpus)
    assert issues
    for i in issues:
        assert title_problems(i.title) == [], i.title
        assert 2 <= _sentences(i.summary) <= 4, i.summary
        assert "still unknown" in i.summary.lower()


def test_a_link_to_a_side_that_says_next_to_nothing_does_not_retitle_the_other() -> None:
    corpus, said = _world({"Plant log": PLANT, "Crew rota": "The rota for the north press crew starts on 4 May "
                                                               "with 6 staff.\n"})
    press = _span_of(said, "The north press")
    rota = _span_of(said, "The rota")
    alone = build_issues(said, corpus)
    linked = build_issues(_link(said, rota, press, "dependency", "trouble with the press reaches the rota",
                                "north press"), corpus)
    assert [i.title for i in linked] == [i.title for i in alone]


LOOKAHEAD = """# East wing look-ahead

## Next three weeks

Crane: CR-9, our crawler crane, left the site on 28 August. It is planned to come back to site on 12 October for
the rooftop units.

The rooftop unit lifts are set for 14 October under lift plan LP-9; the road permit covers 14 and 15 October only.
"""

FLEET = """# Fleet maintenance plan

## Cranes

CR-9, crawler crane (2016, 300-ton). The crane is out of service from 5 October to 13 November for its five-year
inspection, which is due this quarter.
"""


def test_a_link_shows_what_its_section_says_about_the_linked_sentences_subject() -> None:
    corpus, said = _world({"Look-ahead": LOOKAHEAD, "Fleet plan": FLEET})
    back = _span_of(said, "It is planned to come back")
    out = _span_of(said, "The crane is out of service")
    top = build_issues(_link(said, back, out, "timing", "CR-9 is out of action on the date it is needed", "CR-9"),
                       corpus)[0]
    assert top.relation == "timing"
    told = top.title + " " + top.summary
    assert "14 October" in told and "13 November" in told and "five-year" in told


def test_a_linked_sentence_that_points_back_is_told_under_the_line_it_points_to() -> None:
    """Seen on a company the code was not developed on: "This must be signed by an Official Veterinarian" follows
    a list item's opening line that names what "this" is (the export health certificate) and states no claim of its
    own; the summary must say what must be signed."""
    plan = ("# Export plan\n\n## Documents for every consignment\n\n1. Commercial invoice and packing list.\n"
            "2. Veterinary health certificate for chilled trout sent to Japan by air. This must be signed by a "
            "Qualified Person on the day of dispatch. Since the council withdrew its inspection service in 2023, our "
            "in-house Qualified Person has signed them at the plant.\n")
    leave = ("# Leave register\n\n| Name | Authorisations | Absence | From | To |\n|---|---|---|---|---|\n"
             "| Tomas Varga | Qualified Person (batch release) | Secondment | 2 June 2025 | 28 November 2025 |\n")
    corpus, said = _world({"Export plan": plan, "Leave register": leave})
    away = _span_of(said, "Tomas Varga")
    # the pointing sentence linked, or shown beside the one linked
    for linked in ("This must be signed", "Since the council"):
        sign = _span_of(said, linked)
        top = build_issues(_link(said, away, sign, "leaver", "the post will be away", "Qualified Person"), corpus)[0]
        assert "This must be signed" in top.title + " " + top.summary, top.summary
        assert ", while since" not in top.title, top.title  # a clause of its own follows "and"
        assert "Veterinary health certificate for chilled trout" in top.title + " " + top.summary, top.summary


def test_a_link_on_a_post_shows_what_the_other_document_says_the_post_is_for() -> None:
    """Seen on a company the code was not developed on: a register's row "Nominated transport manager(s): One"
    joined an HR row of the transport manager leaving, and the summary listed the register's other rows, not the
    section under "Why the transport manager matters" that says the licence falls without one."""
    licence = ("# Licence file\n\n## 1. Licence details\n\n| Item | Detail |\n|---|---|\n| Licence type | Standard "
               "national goods vehicle operator licence |\n| Nominated transport manager(s) | One, at Harford depot "
               "|\n| Continuation date | 30 April 2027 |\n| Operating centres | Harford depot (52 vehicles) |\n\n"
               "## 2. Why the transport manager matters\n\nIf the operator loses its transport manager, it must "
               "notify the Traffic Commissioner within 28 days. Without a transport manager at the end of the period "
               "of grace, the licence is revoked and no vehicles may be operated.\n")
    hr = ("# Restructure\n\n## Voluntary redundancy\n\n| Name | Role | Leaving date | Package |\n|---|---|---|---|\n"
          "| Gareth Pryce | Transport Manager | 31 March 2025 | £68,400 |\n| Christine Bale | Credit Controller | "
          "28 February 2025 | £21,900 |\n")
    corpus, said = _world({"Licence file": licence, "Restructure": hr})
    leaver = _span_of(said, "Gareth Pryce")
    post = _span_of(said, "Nominated transport manager")
    top = build_issues(_link(said, leaver, post, "leaver", "the post will be empty", "transport manager"),
                       corpus)[0]
    assert "Traffic Commissioner" in top.summary, top.summary


def test_a_cell_of_two_sentences_shows_the_one_the_link_rests_on() -> None:
    from insights.issue_text import _telling_sentence
    from personas.runtime.links import EVIDENCE
    cell = ("Condition: The licensee must not process more than 2,400 tonnes of grapes in any licence year. Any "
            "increase requires a licence variation, which the Authority aims to decide within 90 business days")
    assert "2,400 tonnes" in _telling_sentence(cell, EVIDENCE["over-limit"])


def test_a_log_row_is_read_by_what_it_lists_not_by_its_date() -> None:
    from insights.issue_text import _clause
    doc = ("# Declined business\n\n## Declined\n\n| Date | Prospect | Requirement | Est. revenue |\n|---|---|---|---|\n"
           "| 3 Feb | Marlow & Finch | Warehouse storage and fulfilment | £1.9m |\n")
    corpus, said = _world({"Declined business": doc})
    row = _span_of(said, "3 Feb")
    src = next(s for i in build_issues(said, corpus) for s in i.sources if s.span == row.span)
    assert _clause(src, limit=90, bare=True).startswith("Marlow & Finch"), _clause(src, limit=90, bare=True)


def test_a_link_on_a_person_shows_what_else_the_document_says_they_hold() -> None:
    """Seen on a company the code was not developed on: a procedure's "Excise goods: handled by Dana Okafor
    personally" joined the HR paper's exit date for her post, and the summary showed the procedure's other list
    items (prohibited goods, data errors), not that she is the nominated contact on the duty deferment account."""
    proc = ("# Export procedure\n\n## 1. How we lodge\n\nDana Okafor is the nominated contact on the deferment "
            "account and approves the monthly direct debit statement.\n\n## 4. Exceptions\n\n- Prohibited goods: "
            "lithium batteries shipped alone and aerosols over 2 litres are refused at source.\n- Data errors: "
            "shippers with more than 2% rejected lines in a month receive a formal warning.\n- Excise goods: only "
            "from the two shippers holding excise approvals; handled by Dana Okafor personally.\n")
    hr = ("# Back-office redesign\n\n## Export Administrator (incumbent D. Okafor)\n\nThe post is deleted and the "
          "paperwork moves to customer service. Target exit date 31 October 2025.\n")
    corpus, said = _world({"Export procedure": proc, "Back-office redesign": hr})
    excise = _span_of(said, "Excise goods")
    leaves = _span_of(said, "Target exit date")
    top = build_issues(_link(said, excise, leaves, "dependency", "trouble with Okafor reaches what depends on it",
                             "Okafor"), corpus)[0]
    assert "deferment account" in top.summary, top.summary


def test_a_linked_sentence_cut_for_room_keeps_the_limit_the_link_rests_on() -> None:
    """Seen on a company the code was not developed on: the title read "Vehicles covered: private cars, while the
    eMover ... 4,250 kg, so the weight figure is above the limit", without the limit."""
    policy = ("# Motor insurance\n\n## Cover\n\nVehicles covered: private cars, and goods-carrying vehicles not "
              "exceeding 7,500 kg gross vehicle weight, owned by or hired to the insured.\n")
    fleet = ("# Fleet plan\n\n## New vehicles\n\nThe Tessar XL is an electric tipper with a tail lift and a crew cab, "
             "with a gross weight of 8,600 kg and a payload of about 3,100 kg.\n")
    corpus, said = _world({"Motor insurance": policy, "Fleet plan": fleet})
    cover = _span_of(said, "Vehicles covered")
    tipper = _span_of(said, "The Tessar XL")
    top = build_issues(_link(said, cover, tipper, "over-limit",
                             "the weight figure is above the limit another team's records set for it",
                             "the weight figure"), corpus)[0]
    assert "7,500 kg" in top.title and "8,600 kg" in top.title, top.title
    assert top.title.endswith("so the weight figure is above the limit another team's records set for it."), top.title


def test_a_paragraph_and_the_table_beside_it_that_make_one_point_are_one_issue() -> None:
    """Seen on a company the code was not developed on: "Funds not used within 24 months ... expire" closes the
    levy paragraph, and the table under it gives the sum due to expire; the insight showed only the paragraph."""
    doc = ("# Payroll taxes\n\n## Training levy\n\nWe pay the training levy at 0.5% of the paybill. Levy payments go "
           "into our digital account and can be spent on approved training. Funds not used within 24 months of "
           "entering the digital account expire.\n\n| Position at 5 January | £ |\n|---|---|\n| Digital account "
           "balance | 903,400 |\n| Used in 2024 (two apprentices) | 14,800 |\n| Transferred to other employers in "
           "2024 | 0 |\n| Funds expired in 2024 | 172,900 |\n| Funds due to expire January to June | £61,300 a month "
           "on average |\n\nLevy funds are not recorded as an asset, so expiry has no effect on reported profit.\n")
    corpus, said = _world({"Payroll taxes": doc})
    issues = build_issues(said, corpus)
    levy = [i for i in issues if any("Funds due to expire" in s.text for s in i.sources)]
    assert len(levy) == 1 and not any("Funds not used" in i.title for i in issues), [i.title for i in issues]
    told = levy[0].title + " " + levy[0].summary
    assert "£61,300" in told and "digital account" in told and "training levy" in told, told
    assert "£ £" not in told and "£ 1" not in " ".join(i.title for i in issues)  # a column named "£" alone


def test_a_breached_row_is_told_with_the_paragraph_that_introduces_its_table_in_its_columns_words() -> None:
    """Seen on a company the code was not developed on: a site whose value at risk is far above its sum insured,
    in a table introduced by the paragraph that says any claim is then scaled down (the average clause)."""
    doc = ("# Insurance review\n\n## Stock cover\n\nExcess: 20% of each loss, minimum £100,000.\n\n"
           "Sums insured are set at the start of the policy year from the stock forecast, and remain fixed "
           "unless we send a declaration to Marlowe Underwriting. Each site is subject to an average clause: "
           "if the value at risk at the time of loss is higher than the site's sum insured, any claim is reduced "
           "in proportion.\n\n"
           "| Site | Sum insured (set 1 April 2024) | Value at risk at 31 Dec 2024 |\n|---|---|---|\n"
           "| North Quay | £9.4m | £9.2m |\n| South Quay | £3.1m | £8.6m |\n| East Quay | £4.8m | £4.4m |\n\n"
           "Values at risk use the agreed valuation of £3.10 per kg for stock over 2 kg.\n")
    corpus, said = _world({"Insurance review": doc})
    (issue,) = [i for i in build_issues(said, corpus) if any("South Quay" in s.text for s in i.sources)]
    told = issue.title + " " + issue.summary
    assert "£8.6m" in told and "average clause" in told and "Marlowe" in told, told


def test_text_reads_rows_and_long_sentences_without_breaking_them() -> None:
    from insights.issue_text import _clause, _shorten
    from insights.issues import Source
    row = facts("| Job | Trade | Cover |\n|---|---|---|\n| 2411 East Wing | Glazing | Bond waived (approved "
                "3 May; the sub declined) |\n")[0]
    src = Source(("Register", 0, row.start, row.end), "Register", "ops", row.text, row)
    said = _clause(src)
    assert said == "the Register lists 2411 East Wing with trade Glazing and cover Bond waived (approved 3 May; " \
                   "the sub declined)"
    note = facts("Note B. Under the service agreement, the grid operator pays a credit of $11 per kW-month.\n")[0]
    assert _clause(Source(("Register", 0, note.start, note.end), "Register", "ops", note.text, note)) \
        .startswith("Under the service agreement")
    long = ("Because the two security engineers are fully committed to the spring release until the end of "
            "January, the tooling and the threat model move to the summer cycle in Q2")
    assert _shorten(long, 120) == "The tooling and the threat model move to the summer cycle in Q2"
    cond = ("If the set is not redeemable on all platforms by 1 November, Brisa is entitled to liquidated damages of "
            "£150,000 and may withhold the second instalment until the set is live")
    assert _shorten(cond, 120).startswith("Brisa is entitled to liquidated damages of £150,000")
    appositive = ("Ravenhill Interactive, the Cardiff studio making the Harrowgate series for a streaming service, "
                  "has asked to rent Stage B from October to January for £4,200 a week")
    assert not _shorten(appositive, 110).endswith("series for a streaming service")
    subject = ("On 3 September the supplier's controller, Rick Baran, called to ask whether the September invoice "
               "could be paid on submission, before approval")
    assert not _shorten(subject, 120).startswith("Rick Baran, called")  # the opening holds the subject
    relative = ("On 6 October Van Ommeren's directors applied to the Utrecht district court for a provisional "
                "surseance van betaling, which is a court-supervised moratorium on payments while a business "
                "restructures")
    assert not _shorten(relative, 120).lower().startswith("which")  # what follows the comma only describes it
    label = ("Total central L&D spend 2024/25: £71,400 (venue £16,720; external trainers £21,300; e-learning "
             "platform £14,800; travel and subsistence £18,580)")
    assert _shorten(label, 60) != "Total central L&D spend 2024/25"  # a label before a colon is no clause
    joined = facts("And it stays below the cash floor of £1.5 million until the March payouts arrive.\n")[0]
    assert _clause(Source(("Plan", 0, joined.start, joined.end), "Plan", "ops", joined.text, joined)) \
        .startswith("It stays below")


def test_a_link_title_cut_short_leaves_the_whole_sentence_in_the_summary() -> None:
    corpus, said = _world({"Look-ahead": LOOKAHEAD, "Fleet plan": FLEET})
    back = _span_of(said, "It is planned to come back")
    out = _span_of(said, "The crane is out of service")
    top = build_issues(_link(said, back, out, "timing", "CR-9 is out of action on the date it is needed", "CR-9"),
                       corpus)[0]
    for src in top.sources[:2]:
        assert src.text.rstrip(".") in top.title + " " + top.summary


def test_an_issue_opens_with_a_sentence_of_its_own_kind() -> None:
    from insights.issues import Source, _Group, main_of

    text = ("The paying agent withholds tax at 22% on the royalties, and the excess cannot be recovered in the UK. "
            "A refund claim for the excess of £138,000 could be filed through the paying agent. Filing it would "
            "save about £14,000 a quarter from now on.\n")
    srcs = [Source(("Review", 0, f.start, f.end), "Review", "finance", f.text, f) for f in facts(text)]
    risky = next(s for s in srcs if s.fact.kind == "risk")
    group = _Group(risky, [risky, *(s for s in srcs if s is not risky)])
    assert main_of(group, "risk") is risky
    opening = main_of(group, "opportunity")
    assert opening.fact.kind == "opportunity" and opening.text.startswith("Filing it")  # the weightiest of them


def test_a_section_whose_heading_names_one_thing_is_one_issue_whatever_its_items_name_first() -> None:
    text = """# Board notes, June

## Neighbouring system: Town of Orlby

Orlby's council voted on 26 May to ask whether we would take over its water system, which cannot meet the state
standard without a $14 million plant. Staff summarised what they know:

- Orlby runs a small system with about 9,200 connections.
- The state KRD consolidation grant pays up to $5 million of the costs when a larger system takes over one that is
  out of compliance; the first round closes on 30 September.
"""
    corpus, said = _world({"Board notes": text})
    orlby = [i for i in build_issues(said, corpus) if "Orlby" in i.title + i.summary or "KRD" in i.title]
    assert len(orlby) == 1
    told = orlby[0].title + " " + orlby[0].summary
    assert "$5 million" in told and "9,200" in told and orlby[0].kind == "opportunity"


def test_a_title_fits_the_title_column_at_a_clause_boundary() -> None:
    from insights.issue_text import TITLE_MAX, _fit

    long = ("A customer with on-site generation of at least 500 kW at a single metered site that it will run on "
            "request during the utility's system peak events (up to 60 hours a year) can enrol in the rider and earn "
            "a peak demand credit of $11.40 per kW-month of committed capacity, paid monthly all year, which the "
            "Authority has never claimed because its standby diesel generators are permitted for emergency use only "
            "under their air permits.")
    title = _fit(long)
    assert len(title) <= TITLE_MAX and title_problems(title) == [], title
    assert "$11.40" in title


def test_each_side_of_a_link_shows_up_to_four_more_facts_about_it() -> None:
    fleet = FLEET.rstrip("\n") + (
        " CR-9 needs a new boom section costing $48,000 before it returns. A substitute for CR-9 from Maxlift costs "
        "$9,500 a week and has no availability until 20 November. The CR-9 inspection is done by Keller Cranes, the "
        "only certified inspector in the region. CR-9 ran 412 hours in the last quarter, 96% of its planned use.\n")
    corpus, said = _world({"Look-ahead": LOOKAHEAD, "Fleet plan": fleet})
    back = _span_of(said, "It is planned to come back")
    out = _span_of(said, "The crane is out of service")
    top = build_issues(_link(said, back, out, "timing", "CR-9 is out of action on the date it is needed", "CR-9"),
                       corpus)[0]
    assert len([s for s in top.sources if s.span[0] == "Fleet plan"]) == 5


def test_a_link_between_demand_and_a_plan_that_leaves_it_out_is_an_issue_of_its_own() -> None:
    sales = "# Sales notes\n\nSince March, 312 prospects have joined the waitlist for payroll in Oregon, worth " \
            "$2.1 million.\n"
    plan = "# Product plan\n\nOregon is not in the H1 plan, and product has gathered no demand data for it since " \
           "1 March.\n"
    corpus, said = _world({"Sales notes": sales, "Product plan": plan})
    ask = _span_of(said, "Since March")
    left_out = _span_of(said, "Oregon is not")
    issues = build_issues(_link(said, ask, left_out, "unplanned", "customers ask for Oregon, and no plan provides it",
                                "Oregon"), corpus)
    top = issues[0]
    assert len(top.documents) == 2 and "312 prospects" in top.title and top.relation == "unplanned"


EXPORTS = """# Export plan, Q2

## Shipments

The first 200 housings for the Oslo distributor must be formed on the north press and shipped by 12 May; the
contract carries a penalty of $80,000 for a late shipment.
"""


def test_a_clash_in_time_is_an_issue_of_its_own_even_when_its_group_already_joined_another() -> None:
    """The failed press meets the hospitals' demand (one issue) and an export date booked on it (another): a
    group that already joined one issue still makes a second one on a clash in time with a group nobody holds."""
    corpus, said = _world({"Plant log": PLANT, "Sales pipeline": SALES, "Export plan": EXPORTS})
    press = _span_of(said, "The north press")
    ask = _span_of(said, "Nine hospitals")
    ship = _span_of(said, "The first 200 housings")
    said = _link(said, ask, press, "demand-vs-capacity", "the demand expected for the large housings may not be met",
                 "large housings")
    said = _link(said, ship, press, "timing", "the north press is out of action on the date it is needed",
                 "north press")
    joined = [sorted(i.documents) for i in build_issues(said, corpus) if len(i.documents) == 2]
    assert sorted(joined) == [["Export plan", "Plant log"], ["Plant log", "Sales pipeline"]]



LAUNCH = """# Spring range launch plan

## Timeline

| Date | Milestone |
|---|---|
| 5–16 January 2026 | Showroom displays installed: Tundra Oak display in all four showrooms |
"""

DECORS = """# Supplier update, October

## Decor changes

| Code | Decor name | Status | Final order date |
|---|---|---|---|
| K-4417 | Tundra Oak (textured) | Withdrawn | 28 November 2025 |
"""


def test_a_plain_milestone_that_clashes_in_time_with_another_teams_end_date_is_an_issue() -> None:
    """Seen on a company the code was not developed on: a plan's milestone row says nothing alone (no cue, a
    low severity), so its join with the supplier's withdrawal was dropped as one that would only retitle the
    other side. A clash in time is news only the two together carry."""
    corpus, said = _world({"Launch plan": LAUNCH, "Supplier update": DECORS})
    milestone = _span_of(said, "5–16 January 2026")
    withdrawn = _span_of(said, "K-4417")
    said = _link(said, milestone, withdrawn, "timing", "Tundra Oak has ended before it is needed", "Tundra Oak")
    joined = [sorted(i.documents) for i in build_issues(said, corpus) if len(i.documents) == 2]
    assert joined == [["Launch plan", "Supplier update"]], joined


def test_a_linked_title_pressed_for_room_keeps_both_sides_when_a_sentence_cannot_be_cut() -> None:
    """Seen on a company the code was not developed on: a bid plan's long sentence with no early clause boundary
    and a fleet plan's sale; the shorter tries gave the whole sentence back, so the title lost the sale."""
    corpus, said = _world({
        "Bid plan": "# Bid plan\n\n## Vehicles\n\nWe will resource Lot 4 from Holloway Cross with the nine 57-seat "
                    "coaches that run the routes today (fleet numbers 7101–7109): seven in service and two spares. "
                    "Lot 4 is our largest lot, and the current contract expires on 22 July 2025.\n",
        "Fleet plan": "# Fleet plan\n\n## 4.1 Group G coaches (7101–7109)\n\nWe have agreed a batch sale to "
                      "Ensign Bus at £16,750 per vehicle (£150,750 in total), with collection from Holloway Cross "
                      "in the week commencing 28 July 2025. At the last annual test, four showed chassis corrosion "
                      "advisories.\n"})
    uses, sale = _span_of(said, "We will resource"), _span_of(said, "We have agreed")
    said = _link(said, uses, sale, "dependency",
                 "7101-7109, which one team plans to use, is being sold or scrapped by another", "7101-7109")
    (issue,) = [i for i in build_issues(said, corpus) if len(i.documents) == 2]
    assert "Lot 4" in issue.title and "Ensign Bus" in issue.title, issue.title


def test_a_linked_title_too_long_for_both_sides_says_what_they_mean_together() -> None:
    """Seen on tidewater: a side of 260 characters with no clause boundary pushed the other side and the
    consequence out of the title, leaving an opening labelled a risk. The title says what the two mean together
    and the shorter side; the summary gives both whole."""
    long_a = ("A customer with on-site generation of at least 500 kW at a single metered site that it will run on "
              "request during the supplier's system peak events (up to 60 hours a year) can enrol in Rider PDC and "
              "earn a Peak Demand Credit of $11.40 per kW-month of committed capacity paid monthly all year long.")
    long_b = ("Coastline Electric notified us on 20 May of a planned outage on Feeder 4417 on Tuesday 9 June from "
              "07:00 to 15:00 to replace a recloser and two poles on Bayview Road near the Southshore plant gate.")
    corpus, said = _world({"Register": f"# Register\n\n## Energy\n\n{long_a} Coastline Electric supplies all "
                                       "sites over 200 kW.\n",
                           "Weekly": f"# Weekly\n\n## Notices\n\n{long_b}\n"})
    a, b = _span_of(said, "A customer with"), _span_of(said, "Coastline Electric notified")
    said = _link(said, a, b, "dependency", "trouble with Coastline Electric reaches what depends on it",
                 "Coastline Electric")
    (issue,) = [i for i in build_issues(said, corpus) if len(i.documents) == 2]
    assert issue.title.startswith("Trouble with Coastline Electric reaches what depends on it: "), issue.title
    assert "Feeder 4417" in issue.title and not title_problems(issue.title), issue.title


def test_a_title_pressed_for_room_reads_a_wide_row_by_its_first_two_columns() -> None:
    """A link title that must shrink both sides to fit reads a wide register row by its first two columns, so the
    second side still fits instead of the title losing it."""
    from insights.issue_text import _clause
    from insights.issues import Source
    row = facts("| Job | Vessel | Location | Start | Finish | Crew |\n|---|---|---|---|---|---|\n"
                "| Hull survey | MV Corran | Dock 4 | 2 May | 20 May | 14 fitters |\n")[0]
    src = Source(("Bookings", 0, row.start, row.end), "Bookings", "ops", row.text, row)
    assert _clause(src, limit=70) == "the Bookings lists Hull survey with vessel MV Corran and location Dock 4"
    assert "start 2 May" in _clause(src, limit=120)


def test_a_row_numbered_in_its_first_column_is_read_by_what_it_lists() -> None:
    """Seen on a company the code was not developed on: a register whose first column numbers its rows read out as
    "the register lists 1 with licence Wholesale Dealer's Authorisation"; the number names nothing."""
    from insights.issue_text import _clause
    from insights.issues import Source
    row = facts("| # | Licence | Site | Expiry |\n|---|---|---|---|\n"
                "| 4 | Controlled drugs licence | Hessle | 30 April 2025 |\n")[0]
    src = Source(("Register", 0, row.start, row.end), "Register", "ops", row.text, row)
    assert _clause(src) == "the Register lists Controlled drugs licence with site Hessle and expiry 30 April 2025"
    assert _clause(src, limit=70).startswith("the Register lists Controlled drugs licence with site Hessle")


def test_a_row_cut_for_room_keeps_what_it_lists_when_the_document_title_has_a_colon() -> None:
    """Seen on a company the code was not developed on: a row of "Interconnection agreements: summary of key terms"
    cut at the title's own colon read "the Interconnection agreements", which says nothing."""
    from insights.issue_text import _clause
    from insights.issues import Source
    row = facts("| Item | Detail | Owner | Due | Status | Notes |\n|---|---|---|---|---|---|\n"
                "| Surplus service request | Article 5.19 allows added storage behind the existing limit without a "
                "new study | Development | 15 January 2027 | Not started | The study queue is eleven months long "
                "and the window closes once the cluster is filed |\n")[0]
    doc = "Grid agreements: summary of key terms and obligations, Q4 2026"
    src = Source((doc, 0, row.start, row.end), doc, "ops", row.text, row)
    said = _clause(src, limit=110)
    assert "Surplus service request" in said, said
    lead = facts("Separately, the lender rescored the site in June and the grant no longer applies to it.\n")[0]
    assert _clause(Source(("Memo", 0, lead.start, lead.end), "Memo", "ops", lead.text, lead)) \
        .startswith("The lender rescored")


SITE_DOCS = {
    "Safety log": "# Safety log\n\n## Forklifts\n\nForklift F-7 at the Corran site failed its brake test on 3 May "
                  "and is out of service until the brake parts arrive.\n",
    "Energy review": "# Energy review\n\n## Boilers\n\nThe boiler service contract with Heatwell at the Corran site "
                     "ends on 30 June and no renewal has been requested.\n",
    "Car park memo": "The Corran site car park is resurfaced on 12 June, and 40 bays close for two days.\n",
    "Visitor memo": "Visitors to the Corran site sign in at gate 2 from 1 June, and badges are issued there.\n",
}


def test_two_matters_that_only_share_a_common_name_are_not_joined_unless_their_dates_clash() -> None:
    """Seen on companies the code was not developed on: links joined a fraud attempt and a repair, or a
    laboratory director's retirement and a transfer desk, because both name the company's main site."""
    from insights.issues import _rarity

    corpus, said = _world(SITE_DOCS)
    assert _rarity("corran", corpus) < 0.5, "the name is common in this corpus"
    brakes = _span_of(said, "Forklift F-7")
    boiler = _span_of(said, "The boiler service contract")
    loose = build_issues(_link(said, brakes, boiler, "dependency", "trouble with the Corran site reaches what "
                               "depends on it", "corran"), corpus)
    assert all(len(i.documents) == 1 for i in loose), [i.title for i in loose]
    clash = build_issues(_link(said, brakes, boiler, "timing", "the forklift is out when the boiler needs it",
                               "corran"), corpus)
    assert any(len(i.documents) == 2 for i in clash)


def test_a_cut_for_room_never_drops_the_verb_that_follows_an_aside() -> None:
    """Seen on a company the code was not developed on: '... confirmed that a battery of up to 65 MW charging from
    the solar plant.' (the cut fell at ', with' and the aside's closing ', would be eligible' was lost)."""
    from insights.issue_text import _shorten
    text = ("For the north site, the grid operator confirmed in May that a battery of up to 40 MW charging from the "
            "solar farm, with a controller that caps output at 90 MW, would qualify for the faster connection route "
            "at the Elm substation")
    cut = _shorten(text, 150)
    assert not cut.endswith("solar farm"), cut
    assert "would qualify" in cut or cut == text[len("For the north site, "):][:1].upper() + \
        text[len("For the north site, ") + 1:], cut


REGISTER = "\n".join((
    "# Supplier register", "", "## High-risk tier", "",
    "| Supplier | Service | Volume | Assessed | Evidence | Residual risk |",
    "|---|---|---|---|---|---|",
    "| Harlow Couriers | Same-day specimen courier runs between the three hospitals and the central laboratory | "
    "~22,000 runs/yr | Sep 2026 | SOC 2 Type II | Low |",
    "| Quillon Transcription (overflow) | Dictation transcription (radiology overflow, pathology gross descriptions, "
    "physician letters and discharge summaries) for all three hospitals and the eleven clinics | ~11,400 dictations "
    "a month | Oct 2026 | SOC 2 Type II, questionnaire and a site visit | Medium |", "",
    "Quillon has sent dictations to a subcontractor offshore since March, which our agreement with it forbids, and "
    "no one has been assigned to act on it.", ""))


def test_a_long_row_is_cut_to_fit_rather_than_replaced_by_another_row() -> None:
    """Seen on a company the code was not developed on: the issue about one supplier (its row too long for the title
    column) was titled with a harmless neighbouring row ('... residual risk Low')."""
    title = "Third-party supplier risk register: semi-annual review, November 2026"
    corpus, said = _world({title: REGISTER})
    (issue,) = [i for i in build_issues(said, corpus) if any("offshore" in s.text for s in i.sources)]
    assert "Quillon" in issue.title and "Harlow" not in issue.title, issue.title


def test_a_row_whose_first_cell_has_brackets_is_read_whole() -> None:
    from insights.issue_text import _clause
    from insights.issues import Source
    row = next(f for f in facts(REGISTER) if f.text.startswith("Quillon"))
    said = _clause(Source(("Supplier register", 0, row.start, row.end), "Supplier register", "ops", row.text, row))
    assert said.startswith("the Supplier register lists Quillon Transcription (overflow) with service Dictation"), said


def test_a_clause_that_follows_a_comma_keeps_an_acronyms_capitals_and_a_cut_never_leaves_a_label() -> None:
    from insights.issue_text import _fit, _lower_article
    assert _lower_article("IT tasks: route the scans to the new worklist").startswith("IT tasks")
    assert _lower_article("The register lists it") == "the register lists it"
    long = ("The contracts register lists the notice of non-renewal from Vesper Radiology Partners for the "
            "teleradiology agreement that ends on 31 December, while IT tasks: route CT-02 images to the Vesper "
            "worklist after 17:00 on weekdays and all day at weekends from 4 January, so the reading service has "
            "ended before it is needed.")
    assert not _fit(long).endswith("IT tasks."), _fit(long)


def test_a_cut_for_room_never_falls_inside_brackets() -> None:
    from insights.issue_text import _shorten
    text = ("After the practice leaves, the second floor (1,900 square feet: six exam rooms, a small waiting area, a "
            "nurse station, two restrooms and a supply room) will stand empty from the first week of March, and it "
            "has its own entrance")
    out = _shorten(text, 110)
    assert out.count("(") == out.count(")"), out


COVENANTS = """# Management accounts

## 4. Banking facilities

Financial covenant tests, semi-annual on 30 June and 31 December:

| Covenant | Requirement | 31 Dec actual | 30 Jun forecast |
|---|---|---|---|
| Leverage (net debt / EBITDA) | not more than 3.25x | 2.91x | 3.38x |
| Interest cover (EBITDA / interest) | at least 4.0x | 6.0x | 5.8x |
"""


def test_a_row_that_breaks_its_bound_is_a_risk_told_under_the_sentence_that_introduced_its_table() -> None:
    corpus, said = _world({"Management accounts": COVENANTS})
    issues = build_issues(said, corpus)
    top = next(i for i in issues if any("3.38x" in s.text for s in i.sources))
    assert top.kind == "risk"
    assert "covenant" in (top.title + " " + top.summary).lower(), top.summary


ROOMS = """# Meeting space utilisation

| Site | Space | Daytime utilisation |
|---|---|---|
| Castle Square | Kirkby Room | 17% |
"""
EVENTS = """# Lost business report

Castle Square turned away 11 conference enquiries in the summer, worth £96,300.
"""
TRAINING = """# Learning calendar

Venue cost for the period: 24 days at £760 a day, £18,240, paid to an outside business centre.
"""


def test_an_idle_room_that_two_teams_could_use_instead_is_two_openings() -> None:
    """Sales turns conferences away and HR hires a venue, while the same room stands idle: two teams' needs, two
    issues (one idle room, joined once per need, not once in all)."""
    corpus, said = _world({"Rooms": ROOMS, "Lost business": EVENTS, "Learning": TRAINING})
    room = _span_of(said, "Castle Square (")
    lost = _span_of(said, "Castle Square turned away")
    venue = _span_of(said, "Venue cost")
    said = _link(said, lost, room, "demand-meets-supply", "the Kirkby Room could meet that demand", "Kirkby Room")
    said = _link(said, venue, room, "demand-meets-supply",
                 "the Kirkby Room already on hand could replace what is paid for outside", "Kirkby Room")
    joined = [sorted(i.documents) for i in build_issues(said, corpus) if len(i.documents) == 2]
    assert sorted(joined) == [["Learning", "Rooms"], ["Lost business", "Rooms"]], joined


BYPRODUCTS = """# By-products report

## 2. Permeate

Kessock Bioenergy (a digestion plant 14 km from site) visited on 3 March. Their process engineer said the plant
could take up to 3,000 m³ a month of permeate and that they would normally pay €3–4 per m³ for a steady supply.
"""


def test_a_title_that_opens_with_their_names_who_they_are() -> None:
    corpus, said = _world({"By-products": BYPRODUCTS})
    issue = next(i for i in build_issues(said, corpus) if any("process engineer" in s.text for s in i.sources))
    assert issue.title.startswith("Kessock Bioenergy"), issue.title
    assert not title_problems(issue.title)


def test_a_summary_line_cut_for_room_keeps_the_figures_it_would_drop() -> None:
    from insights.issue_text import _detail
    from insights.issues import Source

    text = ("The windowed confectionery and bakery ranges have grown since the autumn and spend has risen "
            "accordingly: over the last six months it has averaged £14,200 a month including the transport legs, "
            "against £6,900 a month in the first three months.\n")
    (f,) = facts(text)
    said = _detail(Source(("Spend", 0, f.start, f.end), "Spend", "finance", f.text, f))
    assert "£14,200" in said, said


def test_a_title_is_not_cut_at_the_dash_inside_a_document_title() -> None:
    from insights.issue_text import _fit

    title = _fit("The Board and paper supply status — June 2025 lists FBB 300–350 gsm with main supplier Nordvik "
                 "Board and stock held (tonnes) 212, while the Customer technical agreements register — folding "
                 "cartons lists Abbotsbury Confectionery with TA ref / date TA-014 / Feb 2024 and product type "
                 "Secondary cartons (wrapped confectionery), so trouble with FBB reaches what depends on it.")
    assert not title.endswith("agreements register."), title
    assert not title_problems(title), title


def test_a_column_named_by_an_acronym_keeps_its_capitals() -> None:
    from insights.issue_text import _cell

    assert _cell("TA ref / date: TA-014") == "TA ref / date TA-014"
    assert _cell("Product type: cartons") == "product type cartons"


def test_a_reassurance_about_something_else_in_the_paragraph_does_not_damp_the_issue() -> None:
    risk = ("Harcourt Mutual has excluded fire damage at Castleway House (12 storeys, 70 flats, declared value "
            "£9.6m) until the cladding panels are replaced. The insurer will review the exclusion once there is a "
            "funded programme with dates.")
    alone = build_issues(_world({"Insurance renewal": risk + "\n"})[1], _world({"Insurance renewal": risk + "\n"})[0])
    with_other = risk + " Contents insurance under the tenants' scheme is unaffected.\n"
    corpus, said = _world({"Insurance renewal": with_other})
    (a,) = [i for i in alone if "Castleway" in i.title]
    (b,) = [i for i in build_issues(said, corpus) if "Castleway" in i.title]
    assert b.kind == "risk" and b.score >= 0.9 * a.score, (a.score, b.score)


def test_one_thing_in_trouble_told_by_two_documents_is_one_insight() -> None:
    board = "The Kessel Press accounted for 61% of unplanned downtime in Q4 and failed twice in March.\n"
    minutes = "The Kessel Press was down for 11 hours in May with a recurring inking fault that is not fixed.\n"
    other = "The Harrow Chiller failed on 2 June and the cold room ran warm for six hours.\n"
    corpus, said = _world({"Board pack": board, "Minutes": minutes, "Plant notes": other})
    issues = build_issues(said, corpus)
    press = [i for i in issues if "Kessel Press" in i.title]
    assert len(press) == 1, [i.title for i in press]
    assert {m.span[0] for m in press[0].members} == {"Board pack", "Minutes"}
    assert any("Harrow Chiller" in i.title for i in issues)


def test_a_link_of_two_long_register_rows_keeps_both_sides_and_the_consequence_in_its_title() -> None:
    tracker = ("# Fire Risk Assessment Action Tracker - North Area Blocks (July 2025)\n\n"
               "| Block | Storeys / flats | Action | Due |\n|---|---|---|---|\n"
               "| Merrow House, Ardley | 9 / 112 | Replace all flat entrance fire doorsets with certified FD30S "
               "self-closing doorsets; the enforcement notice requires all 112 doors replaced by 28 November 2025 "
               "| 28 Nov 2025 |\n")
    plan = ("# Procurement Forward Plan 2025/26 - Quarter 2 Update\n\n"
            "| Ref | Requirement | Requesting team | Est. value | Award | Contract start | Notes |\n"
            "|---|---|---|---|---|---|---|\n"
            "| P25-11 | Flat entrance fire doorsets - supply and install (FRA programme, various blocks, approx. "
            "380 doors) | Property Services - Building Safety | £0.9m | 8 Dec 2025 | Jan 2026 | Award must go to "
            "the Finance and Treasury Committee |\n")
    docs = {"Fire Risk Assessment Action Tracker - North Area Blocks (July 2025)": tracker,
            "Procurement Forward Plan 2025/26 - Quarter 2 Update": plan}
    corpus, said = _world(docs)
    a = _span_of(said, "Merrow House")
    b = _span_of(said, "P25-11")
    top = build_issues(_link(said, a, b, "timing", "the doorsets arrive after the date they are needed",
                             "doorsets"), corpus)[0]
    assert "Merrow House" in top.title and "P25-11" in top.title, top.title
    assert top.title.endswith("so the doorsets arrive after the date they are needed."), top.title
    assert not title_problems(top.title), top.title


def test_a_sentence_that_opens_with_its_date_keeps_its_subject_when_cut() -> None:
    """'From 3 March Gang B moves onto reinstatements, working through the list': the opening holds the subject
    and the verb, so a cut keeps it and drops the participle after the comma."""
    from insights.issue_text import _shorten
    text = ("From 3 March Gang B moves full-time onto permanent reinstatements for six weeks, working through the "
            "council's list in priority order")
    assert _shorten(text, 90).startswith("From 3 March Gang B moves"), _shorten(text, 90)


def test_a_row_pressed_for_room_reads_the_cell_that_says_what_is_wrong() -> None:
    """A lease row whose notes cell holds the landlord's notice: a title short of room reads the notice, not the
    tenure."""
    from insights.issue_text import _clause
    from insights.issues import Source
    row = facts("| Site | Tenure | Landlord | Expiry | Notes |\n|---|---|---|---|---|\n"
                "| The Anchor, Wrenford | Leasehold | Tallis Estates Ltd | 24 March 2026 | Landlord's notice dated 3 "
                "May 2025 opposes the grant of a new tenancy, intending to redevelop. Our solicitors will advise; "
                "any application to the court must be made first. |\n")[0]
    src = Source(("Lease schedule", 0, row.start, row.end), "Lease schedule", "property", row.text, row)
    said = _clause(src, limit=70)
    assert "opposes the grant of a new tenancy" in said and "tenure" not in said, said


def test_a_forecast_short_of_a_tested_level_is_titled_by_its_figures_and_ranks_as_a_breach() -> None:
    """Seen on a company the code was not developed on: the join of a covenant row and a re-baselined forecast
    ranked 32nd, titled 'Homes passed ... with test date 31 December 2025, while the year-end forecast has been
    re-baselined', which gives neither figure. Neither side reads as a risk alone; together they are a breach."""
    covenant = ("## Covenants\n\n| Covenant | Test date | Level required |\n|---|---|---|\n"
                "| Homes connected | 31 December 2025 | 52,000 |\n")
    report = ("## Headlines\n\nThe year-end forecast has been re-baselined: we now forecast 47,900 homes connected "
              "at 31 December 2025.\n")
    corpus, said = _world({"Facility compliance": covenant, "Build report": report})
    row = _span_of(said, "Homes connected")
    forecast = _span_of(said, "The year-end forecast")
    said = _link(said, forecast, row, "short-of-level",
                 "Homes connected is forecast to break the level required on the day it is tested",
                 "Homes connected")
    (top,) = [i for i in build_issues(said, corpus) if len(i.documents) == 2]
    assert top.title == ("Homes connected is forecast at 47,900 for 31 December 2025, below the 52,000 that the "
                         "Facility compliance requires that day."), top.title
    assert top.severity >= 0.9, top.severity


def test_a_notes_cell_pressed_for_room_gives_the_sentence_that_says_what_is_wrong() -> None:
    from insights.issue_text import _clause
    from insights.issues import Source
    row = facts("| Ref | Area | Notes |\n|---|---|---|\n| AW-03 | Ashby West | Under-track directional drill, 42m. "
                "No other crossing within 1.2km. AW RFS moves from 29 Aug to mid-December. |\n")[0]
    src = Source(("Permits", 0, row.start, row.end), "Permits", "build", row.text, row)
    said = _clause(src, limit=70)
    assert "moves from 29 Aug to mid-December" in said and "drill" not in said, said


def test_a_covenant_breach_on_silent_rows_is_an_issue_that_says_why() -> None:
    """Seen on a company the code was not developed on: a covenant row and a forecast row each say nothing alone,
    so their join was dropped as one that would only retitle the other; and its summary listed every row of the
    forecast table but not the sentence saying why net debt rises (the acquisition)."""
    covenant = ("## Financial covenants\n\n| Covenant | Requirement |\n|---|---|\n"
                "| Leverage (Total Net Debt to LTM EBITDA) | Not to exceed 3.25x |\n")
    forecast = ("# Rolling forecast FY2025/26\n\n## Net debt by quarter\n\n"
                "| Quarter end | Net debt (£m) | Net debt / LTM EBITDA |\n|---|---|---|\n"
                "| 30 Jun 2025 | 19.3 | 2.74x |\n| 30 Sep 2025 | 24.5 | 3.38x |\n| 31 Dec 2025 | 24.3 | 3.29x |\n\n"
                "Net debt rises in the September quarter because the Tarnford consideration is drawn in July.\n")
    corpus, said = _world({"Facility terms": covenant, "Rolling forecast FY2025/26": forecast})
    row = _span_of(said, "Leverage")
    sep = _span_of(said, "30 Sep 2025")
    said = _link(said, sep, row, "short-of-level",
                 "Leverage is forecast to break the level required on the day it is tested", "Leverage")
    (top,) = [i for i in build_issues(said, corpus) if len(i.documents) == 2]
    assert top.title == "Leverage is forecast at 3.38x for 30 Sep 2025, above the 3.25x that the Facility terms " \
                        "requires that day.", top.title
    assert "Tarnford" in top.summary, top.summary


def test_a_registers_other_row_keeps_its_own_issue_when_a_join_takes_one_row() -> None:
    """Seen on a company the code was not developed on: a join on one contract's end date took the whole register
    group, and with it the row that mattered (another contract's price uplift missed since 2023), which then
    appeared in no insight."""
    register = ("# Contracts register\n\n## Register\n\n| Ref | Council | Rate | End | Last uplift applied |\n"
                "|---|---|---|---|---|\n| LA-01 | Harlow | £38.10/t | 31 Mar 2030 | April 2025 |\n"
                "| LA-02 | Denby | £35.60/t | 31 Mar 2026 | April 2025 |\n"
                "| LA-03 | Mossley | £33.20/t | 31 Mar 2029 | April 2025 |\n"
                "| LA-04 | Fenwold | £41.20/t | 31 Mar 2028 | April 2023 |\n")
    plan = "# Depot plan\n\n## Works\n\nThe Denby glass bay must be rebuilt by 1 June for the LA-02 tonnage.\n"
    corpus, said = _world({"Contracts register": register, "Depot plan": plan})
    said = _link(said, _span_of(said, "The Denby glass bay"), _span_of(said, "LA-02"), "timing",
                 "LA-02 has ended before it is needed", "LA-02")
    titles = [i.title for i in build_issues(said, corpus)]
    assert any("LA-04" in t for t in titles), titles


def test_what_a_join_already_says_about_its_entity_is_not_a_second_insight() -> None:
    """A debtor review's other paragraph about the same customer the join names (its insurer withdrew cover) is
    the join's issue told again; a paragraph about another customer stays an issue of its own."""
    debt = ("## Accounts needing action\n\n"
            "Brantwood Civils: the balance is now 2.7 times the credit limit and the account was placed on stop on "
            "6 October.\n\n"
            "Our credit insurer withdrew cover on Brantwood Civils with effect from 3 October after two county court "
            "judgments.\n\n## Insolvencies\n\n"
            "Skelby Drainage went into administration on 14 October owing us £84,000.\n")
    sales = ("## Won\n\nBrantwood Civils awarded us the Marfleet package worth £430k; we agreed 60-day payment terms "
             "for the duration of the scheme.\n")
    corpus, said = _world({"Aged debt review": debt, "Sales pipeline": sales})
    a = _span_of(said, "Brantwood Civils: the balance")
    b = _span_of(said, "Brantwood Civils awarded")
    issues = build_issues(_link(said, a, b, "exposure", "more business with Brantwood Civils puts more money at risk",
                                "Brantwood Civils"), corpus)
    about = [i for i in issues if "Brantwood" in i.title]
    assert len(about) == 1, [i.title for i in about]
    assert len(about[0].documents) == 2
    assert any("credit insurer withdrew" in m.text for m in about[0].members)
    assert any("Skelby" in i.title for i in issues)


def test_a_sentence_is_not_cut_before_its_verb() -> None:
    """Seen on a company the code was not developed on: a title read "while Spare capacity on the current
    two-shift, so ...", the figure and the verb cut off at a comma inside the subject."""
    from insights.issue_text import _shorten
    text = "Spare capacity on the current two-shift, five-day pattern is 15.5 tonnes per week, and more if a " \
           "Saturday shift is added."
    cut = _shorten(text, 60)
    assert "15.5 tonnes" in cut, cut


def test_a_link_title_reads_the_cells_its_relation_rests_on() -> None:
    """A customer's row cut for a title's room keeps its delivery requirement when the link is about delivery days
    (without the stress its code column would come first)."""
    from insights.issue_text import _clause
    from insights.issues import Source
    from personas.runtime.links import EVIDENCE
    row = facts("| Customer | Code | Annual value | Delivery requirement |\n|---|---|---|---|\n"
                "| St Wilfrid's Day Surgery | CW-2291 | £48,000 | Daily, Monday–Saturday, by 07:30 |\n")[0]
    src = Source(("Accounts", 0, row.start, row.end), "Accounts", "sales", row.text, row)
    assert "Daily" not in _clause(src, limit=70, bare=True)
    assert "delivery requirement Daily" in _clause(src, limit=70, bare=True, stress=EVIDENCE["undercut"])


YARD = """# Yard goods-out log, November

## Batches received

| Batch | Date in | Source | Quantity | Wall (measured) | Status |
|---|---|---|---|---|---|
| KB-0412 | 14 Oct | Tarrant Hire (in liquidation), auction lot 12 | 1,180 | 3.1 mm | In general stock |
| KB-0413 | 14 Oct | Tarrant Hire, auction lot 13 | 320 | 4.0 mm | In general stock |

## Loads

The job 8812 load was made up on 31 October by the weekend crew from the bays nearest the gate, where KB-0412
was stacked, and went out on 2 November.
"""

DESIGN = """# Design register, November

## Issued designs

The heavy-duty tower for job 8812 at Pellow Chemicals, issued on 5 November, must use tube of 4.0 mm wall only,
with no substitution, and carries loads of 1.5 t at lift 4.
"""


def test_a_link_shows_the_rows_its_sentences_point_to_by_their_codes() -> None:
    """Seen on a company the code was not developed on: the load "made up from the bays where HX-0917 was stacked"
    was linked to the design that forbids thinner tube, but the reader never saw that HX-0917 is the thin auction
    tube: the row the sentence points to by its code."""
    corpus, said = _world({"Yard goods-out log": YARD, "Design register": DESIGN})
    load = _span_of(said, "The job 8812 load")
    tower = _span_of(said, "The heavy-duty tower")
    (top, *_) = build_issues(_link(said, load, tower, "breach", "the load breaks what the design allows", "8812"),
                             corpus)
    assert top.documents == ["Yard goods-out log", "Design register"]
    assert "Tarrant Hire (in liquidation)" in top.summary and "3.1 mm" in top.summary, top.summary


ACCOUNTS = """# Management accounts commentary

## Overheads

| Line | YTD actual | YTD budget | Variance |
|---|---|---|---|
| Subcontract haulage | £186,400 | £95,000 | (£91,400) |
| Premises | £1.10m | £1.09m | (£10,000) |
| Marketing | £61,000 | £84,000 | £23,000 |

## Actions proposed

Hold the marketing underspend as a contribution to the shortfall. Review subcontract haulage with the Operations
Director before the budget is finalised.
"""

UTILISATION = """# Transport utilisation report

| Vehicle | Type | Days worked | Utilisation |
|---|---|---|---|
| AT04 | Scania R450 tractor and extendable trailer | 7 | 31% |
"""


def test_a_link_shows_the_row_its_sentence_names() -> None:
    # "Review subcontract haulage ..." names the row that says what it costs: the reader needs the sum
    corpus, said = _world({"Management accounts": ACCOUNTS, "Transport utilisation report": UTILISATION})
    review = _span_of(said, "Review subcontract haulage")
    idle = _span_of(said, "AT04")
    (top, *_) = build_issues(_link(said, review, idle, "demand-meets-supply",
                                   "the Scania R450 already on hand could replace what is paid for outside",
                                   "Scania R450"), corpus)
    assert top.documents == ["Management accounts", "Transport utilisation report"]
    assert "186,400" in top.title + top.summary, top.summary


SKILLS = """# Technician competency matrix

| Task | R. Mehta | P. Shah | D. Walczak | S. Okafor |
|---|---|---|---|---|
| Bridge design | 3 | 3 | 3 | 2 |
| Titanium bar frameworks | 2 | 1 | 3 | – |
| Scan intake | 3 | 3 | 2 | 3 |
"""

LEAVE = """# Leave and absence register

| Name | Type | From | To |
|---|---|---|---|
| Dorota Walczak | Sabbatical (unpaid) | 14 April | 12 October |
"""


def test_a_leaver_title_reads_the_cell_of_the_one_who_is_away() -> None:
    corpus, said = _world({"Competency matrix": SKILLS, "Leave register": LEAVE})
    row = _span_of(said, "Titanium bar frameworks")
    away = _span_of(said, "Dorota Walczak")
    (top, *_) = build_issues(_link(said, row, away, "leaver", "Walczak will be away, and another team's records "
                                   "show no one else at that level for the work", "Walczak"), corpus)
    assert "D. Walczak 3" in top.title and "Sabbatical" in top.title, top.title


INTAKE = """# Christmas stock build plan

## Summary

Christmas intake in weeks 45 and 46 is 2,800 pallets, the largest two-week intake in our history.

## Weekly intake

The canteen menu changes on 3 November, and the staff car park is resurfaced on 10 November.

| Week | Christmas intake (pallets) | Normal intake (pallets) |
|---|---|---|
| 9 to 15 Nov | 1,260 | 650 |
"""

CHAMBER = """# Cold store operating limits

## Goods-in

Goods-in to Chamber F is limited to 1,100 pallets per week in total, arriving at -18°C or colder.
"""


def test_the_same_two_documents_linked_twice_by_two_relations_are_one_insight() -> None:
    """Seen on the dev set: a plan's forecast and its weekly table row were each linked to one limit on a chamber,
    by two relations, and the same matter took two places in the top ten."""
    corpus, said = _world({"Christmas stock build plan": INTAKE, "Cold store operating limits": CHAMBER})
    forecast = _span_of(said, "Christmas intake in weeks")
    row = next(s for s in said if s.text.startswith("9 to 15 Nov"))
    limit = _span_of(said, "Goods-in to Chamber F")
    linked = _link(said, forecast, limit, "demand-vs-capacity", "the demand expected may not be met", "Chamber F")
    linked = _link(linked, row, limit, "over-limit", "Chamber F is above the limit", "Chamber F")
    joins = [i for i in build_issues(linked, corpus) if len(i.documents) > 1]
    assert len(joins) == 1, [i.title for i in joins]


MENU = """# Winter menu and allergens

## Allergens

Customer reassurance: the whole of our pastry range (pasties, sausage rolls and tarts) is peanut-free, and staff
can confirm this to customers asking about nut allergies.
"""

SUPPLIERS = """# Approved supplier register

## Food

The new pastry supplier, Kerrow Pies, bakes pasties, sausage rolls and tarts on a shared line with peanut products
from 3 November; cross-contact cannot be excluded, and the line failed its last allergen swab on 12 October.
"""


def test_a_reassurance_contradicted_by_another_teams_record_is_an_insight_though_it_is_calm() -> None:
    """Seen on a company the code was not developed on: the menu's promise that the range is free of an allergen,
    linked by an agent to the new supplier's shared line, was dropped as a join whose one side says nothing."""
    corpus, said = _world({"Winter menu and allergens": MENU, "Approved supplier register": SUPPLIERS})
    promise = _span_of(said, "Customer reassurance")
    line = _span_of(said, "The new pastry supplier")
    issues = build_issues(_link(said, promise, line, "contradiction",
                                "what one report says about pastry is contradicted by the other", "pastry"), corpus)
    assert any(i.documents == ["Winter menu and allergens", "Approved supplier register"] for i in issues), \
        [(i.documents, i.title) for i in issues]
