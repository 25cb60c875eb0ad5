"""Links between facts of different documents: which pairs share a distinctive name, what the two mean together
(a date needed inside an outage, a dependency in trouble, demand meeting what sits unused, a reassurance
contradicted), and dates read as comparable periods. Example sentences are written for these tests."""

from __future__ import annotations

import dataclasses

import pytest

from personas.context.dates import before, overlaps, spans
from personas.context.facts import Corpus, Fact, fact, facts
from personas.runtime import links as links_module
from personas.runtime.links import Link, Stated, find_links, index_keys, relate


def _f(text: str) -> Fact:
    f = fact(text)
    assert f is not None, text
    return f


def _in(doc: str, marker: str) -> Fact:
    """The one fact of ``doc`` (read as a document: headings, tables) whose text holds ``marker``."""
    (found,) = [f for f in facts(doc) if marker in f.text]
    return found


def test_dates_and_periods_are_read_as_comparable_ranges() -> None:
    (out,) = spans("The crane is out of service from 5 October to 13 November.")
    (need,) = spans("The roof lifts are set for 14 October.")
    assert overlaps(need, out)
    (winter,) = spans("The studio has no bookings from 1 September to 31 January.")
    assert overlaps(winter, spans("a shoot on 12 January")[0])  # a range past December runs on
    assert before(spans("due by 15 February")[0], spans("moved to Q2")[0])
    assert not overlaps(spans("on 3 March 2025")[0], spans("on 3 March 2026")[0])
    (weeks,) = spans("Intake peaks in weeks 45 and 46.")
    assert overlaps(weeks, spans("in November")[0])


def test_a_range_of_whole_months_is_one_period() -> None:
    (summer,) = spans("Demand peaks July–September, when tourists arrive.")
    assert (summer.first, summer.last) == (6 * 31 + 1, 9 * 31)
    (winter,) = spans("The winter surge runs from December to February.")
    assert overlaps(winter, spans("closed for relining from 5 January to 20 February")[0])
    assert not overlaps(winter, spans("in May")[0])
    (dated,) = spans("between June and August 2027")
    assert dated.dated and overlaps(dated, spans("on 3 July 2027")[0])
    assert not overlaps(dated, spans("on 3 July 2026")[0])
    assert overlaps(spans("the Q3 peak")[0], spans("from July to September")[0])


def test_a_week_of_a_month_is_a_period_inside_it() -> None:
    (early,) = spans("The second floor will stand empty from the first week of March.")
    assert overlaps(early, spans("on 3 March")[0]) and not overlaps(early, spans("on 20 March")[0])
    (late,) = spans("Deliveries resume in the last week of June.")
    assert overlaps(late, spans("on 28 June")[0]) and not overlaps(late, spans("on 10 June")[0])


def test_a_date_needed_inside_another_teams_outage_is_a_timing_risk() -> None:
    out = _f("Crane CR-9 is out of service from 5 October to 13 November for its five-year inspection.")
    need = _f("The rooftop unit lifts with crane CR-9 are set for 14 October.")
    kind, relation, consequence = relate(need, out, "CR-9") or ("", "", "")
    assert (kind, relation) == ("risk", "timing")
    assert "CR-9" in consequence


def test_something_needed_after_it_ends_is_a_timing_risk() -> None:
    end = _f("The framework agreement with Talbot Design expired on 31 July and was not renewed.")
    need = _f("Talbot Design was issued a new order on 5 August for 40 drawings due by 30 September.")
    assert relate(need, end, "Talbot Design")[:2] == ("risk", "timing")  # type: ignore[index]


def test_demand_for_something_that_sits_unused_is_an_opportunity() -> None:
    demand = _f("Three clinics asked for 200 refurbished scanners at no more than $900 each.")
    unused = _f("The warehouse holds 500 unused scanners of the same model in storage.")
    assert relate(demand, unused, "scanners")[:2] == ("opportunity", "demand-meets-supply")  # type: ignore[index]


def test_paying_outside_for_what_sits_idle_in_house_is_an_opportunity() -> None:
    # one team rents what another team's register shows idle: neither document calls the rental a demand
    rented = _f("Two Cat 320 excavators rented from Sunbelt Rentals since 4 May, at $13,900 per month each.")
    idle = _f("EX-14 (Model: Cat 320 (2022); Location: Harmony yard; August hours: 7; Utilization: 4%)")
    assert "opp.unused" in idle.cues
    assert relate(rented, idle, "Cat 320")[:2] == ("opportunity", "demand-meets-supply")  # type: ignore[index]
    referred = _f("Bone density scans are referred out to Northgate Imaging, 310 patients last quarter.")
    scanner = _f("The DEXA scanner sits idle most afternoons, booked 14% of its available hours.")
    assert relate(referred, scanner, "DEXA")[:2] == ("opportunity", "demand-meets-supply")  # type: ignore[index]
    # a rental that nothing in-house could replace links to nothing
    unrelated = _f("The Harmony yard lease was renewed on 1 June for five years at $9,000 a month.")
    assert relate(rented, unrelated, "Harmony") is None or \
        relate(rented, unrelated, "Harmony")[1] != "demand-meets-supply"  # type: ignore[index]


def test_a_dependency_on_something_in_trouble_is_a_risk() -> None:
    dep = _f("The spare-parts depot operates from Hall 3 of the Northfield site.")
    end = _f("The Northfield site lease ends on 31 January and will not be renewed.")
    assert relate(dep, end, "Northfield")[:2] == ("risk", "dependency")  # type: ignore[index]


def test_money_a_forecast_counts_on_from_a_firm_under_a_payment_moratorium_is_a_risk() -> None:
    """Finance's cash forecast counts on a distributor's overdue balance; sales reports the distributor under a
    court moratorium on its payments."""
    counted = _f("Export receipts in week 46 include €640k (£558k at 1.147) from the Benelux distributor, being "
                 "their overdue balance, under the payment plan agreed in September.")
    halted = _f("On 6 October the Benelux distributor's directors applied to the Utrecht district court for a "
                "provisional moratorium on payments while the business restructures.")
    kind, relation, consequence = relate(counted, halted, "Benelux") or ("", "", "")
    assert (kind, relation) == ("risk", "dependency")
    assert "money" in consequence and "Benelux" in consequence


def test_assets_one_team_plans_to_use_that_another_team_is_selling_are_a_risk() -> None:
    """The bid team prices a school contract on nine coaches; the fleet team has agreed to sell them."""
    uses = facts("## Lot 4\n\nWe will resource Lot 4 from Holloway Cross with the nine 57-seat coaches that run the "
                 "routes today (fleet numbers 7101–7109): seven in service and two spares.\n")[0]
    sold = facts("## 4.1 Group G coaches (7101–7109)\n\nThe nine coaches will be 16 years old in 2025. We have agreed "
                 "a batch sale to Ensign Bus at £16,750 per vehicle, with collection in the week commencing 28 July "
                 "2025.\n")
    sale = next(f for f in sold if "batch sale" in f.text)
    kind, relation, consequence = relate(uses, sale, "7101-7109") or ("", "", "")
    assert (kind, relation) == ("risk", "dependency"), (kind, relation)
    assert "7101-7109" in consequence and "sold" in consequence
    assert relate(_f("We sold 400 pumps to Mercy Valley in May for $320,000."), sale, "7101-7109") is None


def test_the_only_subcontractor_whose_cover_lapsed_is_a_dependency_in_trouble() -> None:
    """Installation plans on its only subcontract fitter; compliance lists the fitter's insurance as lapsed. The
    shared name the link shows ("Tanner Fit") is not the one the plan's sentence opens with."""
    only = _f("TF Installations (trading name of Tanner Fit Ltd, director Carl Tanner) has worked for us since 2019 "
              "and is our only subcontract fitting company.")
    assert "risk.single" in only.cues
    lapsed = _f("Tanner Fit Ltd (t/a TF Installations) holds public liability of £5m; the policy lapsed on 30 "
                "September 2025 and no renewal certificate has been received.")
    assert relate(only, lapsed, "Tanner Fit")[:2] == ("risk", "dependency")  # type: ignore[index]


def test_work_planned_at_a_site_whose_lease_the_landlord_ends_is_a_dependency_in_trouble() -> None:
    """The bid plan produces every meal at the central unit; the property register says the landlord has served
    a break notice ending its lease."""
    plan = _f("All Lot 3 meals will be produced at our central production unit on Dunstall Road, which is 14 to 26 "
              "miles from the Lot 3 schools.")
    ended = _f("Harrowgate Estates served a break notice on Unit 4, Dunstall Road dated 12 September 2025, exercising "
               "the landlord's break and terminating the lease on 30 September 2026.")
    assert relate(plan, ended, "Dunstall Road")[:2] == ("risk", "dependency")  # type: ignore[index]


def test_a_reassurance_that_another_document_contradicts() -> None:
    calm = _f("Supplier quality for Norrow Seals is on track, with no open issues this quarter.")
    trouble = _f("Norrow Seals lot 2210 failed incoming inspection and 1,200 seals were rejected.")
    assert relate(calm, trouble, "Norrow Seals")[:2] == ("risk", "contradiction")  # type: ignore[index]


def test_a_reassurance_contradicts_only_trouble_with_what_it_names_itself() -> None:
    """Seen on a company the code was not developed on: "Margin in line with wholesale" under a "Financial terms"
    heading against "the Financial Controller will assign one", and a fleet paragraph's "keep them healthy" under
    a vessel's heading against a docking plan, each ranked in its top ten as one report contradicting another."""
    margin = dataclasses.replace(_f("Margin in line with UK wholesale, with a stable price and volume."),
                                 heading="Financial view", context=("financial",))
    owner = dataclasses.replace(_f("Where a scheme has no owner, the Financial Controller will assign one at the "
                                   "monthly review."), around=("risk.late",))
    assert "assurance" in margin.cues and owner.kind == "neutral"
    assert (relate(margin, owner, "Financial") or ("", ""))[1] != "contradiction"
    calm = _f("The Kestrel Star dryer passed its annual inspection and is in good condition.")
    trouble = _f("The Kestrel Star dryer failed on 3 May and is out of service until parts arrive.")
    assert (relate(calm, trouble, "Kestrel Star") or ("", ""))[1] == "contradiction"


def test_demand_at_a_place_every_document_names_meets_the_staff_there_who_ask_for_more_hours() -> None:
    """Seen on a company the code was not developed on: a nursery's baby room waiting list at one site, and the
    practitioners at the same site asking for more hours; the site is named in most documents, so its name alone
    linked nothing, and "asked for additional hours" read as customers' demand."""
    docs = {
        "Occupancy report": "# Occupancy\n\nAshgrove's baby room waiting list has grown from 19 in January to 34 "
                            "families in June.\n",
        "Hours review": "# Contracted hours\n\nAt Ashgrove, nine practitioners have asked for additional hours, "
                        "four of them on term-time contracts.\n",
        **{f"Site note {k}": f"# Note {k}\n\nAshgrove fire alarm test {k + 1} passed on {k + 2} May with all "
                             f"{20 + k} staff out in four minutes.\n" for k in range(5)},
    }
    corpus, stated = _stated(docs)
    assert not corpus.distinctive("ashgrove")
    hours = next(st for st in stated if "practitioners" in st.fact.text)
    assert "opp.unused" in hours.fact.cues and "opp.demand" not in hours.fact.cues, hours.fact.cues
    (lk,) = [lk for lk in find_links(stated, [], corpus) if lk.relation == "demand-meets-supply"]
    assert lk.consequence == "the extra hours staff at Ashgrove ask for could meet that demand", lk.consequence
    # customers asking for longer hours are demand
    assert "opp.demand" in _f("Parents have asked for longer opening hours at Elm Road, 40 families in the "
                              "survey.").cues


def test_a_forecast_row_under_its_sections_name_meets_a_licence_cap_in_its_unit() -> None:
    """Seen on a company the code was not developed on: a licence register's "must not process more than 2,400
    tonnes of grapes in any licence year" and a plan's intake table whose total row reads "2025 forecast (t): 2,650"
    under "Intake forecast"; the cap was no ceiling and the row's figure was of nothing the licence named."""
    corpus, stated = _stated({
        "Licence register": "# Licence conditions\n\n## Conditions\n\n| Ref | Condition | How we comply |\n"
                            "|---|---|---|\n"
                            "| L2.1 | The licensee must not process more than 2,400 tonnes of grapes in any licence "
                            "year. Any increase requires a licence variation | Intake reported in the annual return; "
                            "compliant |\n",
        "Vintage plan": "# Vintage plan\n\n## Intake forecast\n\n| Source | 2024 actual (t) | 2025 forecast (t) |\n"
                        "|---|---|---|\n| Estate | 640 | 690 |\n| Total | 2,210 | 2,650 |\n",
    })
    links = [lk for lk in find_links(stated, [], corpus) if lk.relation == "over-limit"]
    assert any("2,650" in f"{lk.a.fact.text} {lk.b.fact.text}" for lk in links), links


def test_a_promise_to_pay_more_per_item_than_the_insurance_pays_is_uninsured() -> None:
    """Seen on a company the code was not developed on: an account's terms make the carrier "liable ... subject to a
    cap of £500 per parcel" while the goods-in-transit policy pays "Limit: £150 per parcel"."""
    corpus, stated = _stated({
        "Account terms": "# Key terms\n\n## Liability\n\nWe are liable for loss of or damage to parcels while in our "
                         "care up to the declared value, subject to a cap of £500 per parcel.\n",
        "Insurance renewal": "# Insurance renewal\n\n## Goods in transit\n\n- Limit: £150 per parcel; £40,000 per "
                             "vehicle.\n- Excess: £250 each claim.\n",
    })
    (lk,) = [lk for lk in find_links(stated, [], corpus) if lk.relation == "uninsured"]
    assert lk.consequence == "the business has promised to pay more for each lost parcel than its insurance pays"
    # a promise within the cover is no gap
    corpus, stated = _stated({
        "Account terms": "# Key terms\n\n## Liability\n\nWe are liable for loss of or damage to parcels while in our "
                         "care, subject to a cap of £100 per parcel.\n",
        "Insurance renewal": "# Insurance renewal\n\n## Goods in transit\n\n- Limit: £150 per parcel; £40,000 per "
                             "vehicle.\n",
    })
    assert not [lk for lk in find_links(stated, [], corpus) if lk.relation == "uninsured"]


def test_space_vacant_under_a_sites_heading_meets_a_prospects_demand_at_that_site() -> None:
    """Seen on a company the code was not developed on: a declined-business log's prospect wanting warehouse
    storage in Doncaster, and the lease register's note under "Doncaster depot" that its mezzanine has stood vacant;
    the vacant sentence names no place itself."""
    docs = {
        "Declined log": "# Declined business\n\n## Declined\n\n| Date | Prospect | Location | Requirement |\n"
                        "|---|---|---|---|\n| 3 Feb | Marlow & Finch | Doncaster (Balby) | Warehouse storage and "
                        "fulfilment, about 1,200 sq m of racked space |\n",
        "Lease register": "# Leases\n\n## Doncaster depot\n\nThe first-floor mezzanine (1,200 sq m, racked) has been "
                          "vacant since we moved in.\n",
        **{f"Depot note {k}": f"# Note {k}\n\nDoncaster fire alarm test {k + 1} passed on {k + 2} May with all "
                              f"{20 + k} staff out in four minutes.\n" for k in range(5)},
    }
    corpus, stated = _stated(docs)
    links = [lk for lk in find_links(stated, [], corpus) if lk.relation == "demand-meets-supply"]
    assert any("mezzanine" in f"{lk.a.fact.text} {lk.b.fact.text}" for lk in links), links


def test_a_figure_under_a_sites_bold_lead_meets_the_cap_in_a_file_titled_by_the_site() -> None:
    """Seen on a company the code was not developed on: a planning file titled by its site caps the children
    present at 48, and an intake plan's paragraph after the table under "**Elmfield.**" expects 58 on peak days;
    neither sentence names the site and "children" is in every document."""
    docs = {
        "Elmfield planning file": "# Elmfield — planning file summary\n\n## Conditions\n\nCondition 4: no more than "
                                  "48 children shall be present on the premises at any one time.\n",
        "Intake plan": "# Intake plan\n\n## Site highlights\n\n**Elmfield.** Strong demand from the new housing. "
                       "Attendance is uneven:\n\n| Day | Children |\n|---|---|\n| Tuesday | 58 |\n\nSo we expect 58 "
                       "children on peak days (Tuesday and Wednesday).\n\n**Oakfield.** Occupancy fell to 30 "
                       "children, 12% below plan.\n",
        **{f"Room note {k}": f"# Note {k}\n\nThe Elmfield children had a fire drill on {k + 2} May; all {20 + k} "
                             f"children were out in four minutes.\n" for k in range(3)},
    }
    corpus, stated = _stated(docs)
    expect = next(st for st in stated if st.fact.text.startswith("So we expect"))
    assert "elmfield" in expect.fact.context
    oak = next(st for st in stated if "Occupancy fell" in st.fact.text)
    assert "elmfield" not in oak.fact.context  # the next lead ends the first one's reach
    links = [lk for lk in find_links(stated, [], corpus) if lk.relation == "over-limit"]
    assert any("58 children" in f"{lk.a.fact.text} {lk.b.fact.text}" for lk in links), links
    # a period both documents' titles name is no place ("Plant report Q3 FY25", "Concrete report Q3 FY25")
    corpus, stated = _stated({f"{kind} report Q3 FY25": f"# {kind} report Q3 FY25\n\n## Volumes\n\nThe {kind} "
                              f"output for FY25 was {n:,} tonnes against a limit of 1,500 tonnes.\n"
                              for kind, n in (("Plant", 1_540), ("Concrete", 3_020))})
    assert all("fy25" not in links_module._place_names(st.fact, corpus) for st in stated)


def test_a_plans_assumed_rate_above_the_rate_another_team_was_notified_of_is_a_risk() -> None:
    """Seen on a company the code was not developed on: a budget's "Two-year-olds: Borough sites (assumed): £8.90"
    against the council's notice of rates, "Two-year-olds (...): 2024-25: £7.14; 2025-26: £7.35"."""
    budget = ("# Budget 2025-26\n\n## Funding rate assumptions\n\n| Entitlement | Wyvern (confirmed) | Borough sites "
              "(assumed) |\n|---|---|---|\n| Two-year-olds (all entitlements) | £8.55 | £8.90 |\n")
    notice = ("# Funding rates 2025-26 — notice to providers\n\n## Base rates per hour\n\n| Entitlement | 2024-25 | "
              "2025-26 |\n|---|---|---|\n| Two-year-olds (disadvantaged offer) | £7.14 | £7.35 |\n")
    corpus, stated = _stated({"Budget": budget, "Rates notice": notice})
    (lk,) = [lk for lk in find_links(stated, [], corpus) if lk.relation == "over-limit"]
    assert lk.consequence == "the plan counts on more for Two-year-olds than another team's rates confirm"
    # an assumption at or below the rate set is no risk
    corpus, stated = _stated({"Budget": budget.replace("£8.90", "£7.30"), "Rates notice": notice})
    assert not [lk for lk in find_links(stated, [], corpus) if lk.relation == "over-limit"]


def test_a_numbered_place_a_row_mentions_in_passing_is_contradicted_by_nothing() -> None:
    """Seen on a company the code was not developed on: one quarry's face "Bench 1 and 2 (Finding: Stable)" against
    another quarry's stock row whose comment keeps fines "in the old Bench 1 area", ranked third as a contradiction."""
    calm = _f("North face, Bench 1 and 2 (Finding: Stable; Classification: Low; Action: Crest scaling in routine "
              "work)")
    stock = fact("0-4 mm fines (Stock (t): 42,000; Comment: No regular market; stockpile in old Bench 1 area)",
                 unit="row")
    assert stock is not None and stock.kind == "risk", stock
    assert (relate(calm, stock, "Bench 1") or ("", ""))[1] != "contradiction"
    failed = fact("Bench 1 (Finding: Open tension crack 14 m long; Classification: High)", unit="row")
    assert failed is not None
    assert (relate(calm, failed, "Bench 1") or ("", ""))[1] == "contradiction"


def test_a_volume_already_handled_is_no_demand_an_outage_leaves_unmet() -> None:
    """Seen on a company the code was not developed on: "Feeding stopped at the site" against "Harvest volume for Q4
    was 3,180 tonnes, mainly from" the site, titled "so the demand expected ... may not be met"."""
    stop = _f("Feeding stopped at Carn Bay at 14:20 on 3 May.")
    done = _f("Harvest volume for Q4 was 3,180 tonnes, mainly from Carn Bay and Ardmore.")
    coming = _f("Harvest volume for Q1 is planned at 3,400 tonnes, mainly from Carn Bay and Ardmore.")
    assert "risk.outage" in stop.cues and "load" in done.cues and "load" in coming.cues
    assert (relate(stop, done, "Carn Bay") or ("", ""))[1] != "demand-vs-capacity"
    assert (relate(stop, coming, "Carn Bay") or ("", ""))[1] == "demand-vs-capacity"


def test_a_thing_sold_only_after_a_visit_is_no_sole_source() -> None:
    """Seen on a company the code was not developed on: "will list the Calloway Shiraz and Cabernet only after a
    winery visit ... their current commitment is conditional on it" read as a dependency on Cabernet, joined to a
    grower's contract for Cabernet ending, and ranked first."""
    listing = _f("Their distributors in Ohio will list the Calloway Shiraz and Cabernet only after a winery visit, "
                 "and their commitment (3,200 cases) is conditional on it.")
    grower = _f("Tate Farms (Varieties: Cabernet, Merlot; Contracted (t): 90; Term ends: After 2026 vintage)")
    assert (relate(listing, grower, "Cabernet") or ("", ""))[1] != "dependency"
    sole = _f("Kestrel is our only approved supplier of PS-40 housings, and we list the PS-40 range with Kestrel only.")
    ends = _f("Kestrel's supply agreement ends on 31 March 2026 and will not be renewed.")
    assert (relate(sole, ends, "Kestrel") or ("", ""))[1] == "dependency"


def test_a_sum_of_money_forecast_is_no_demand_a_shortfall_leaves_unmet() -> None:
    """Seen on a company the code was not developed on: "Full-year EBITDA is forecast at £6.6m" against a board
    pack's "The shortfall is explained by agency labour", titled "so the demand expected for EBITDA may not be met"."""
    result = _f("Full-year EBITDA is forecast at £6.6m against the £6.9m budget.")
    short = _f("The EBITDA shortfall is explained by agency labour at the hub across the two May bank holiday weeks.")
    assert "load" in result.cues and "risk.supply" in short.cues
    assert (relate(result, short, "EBITDA") or ("", ""))[1] != "demand-vs-capacity"


def test_two_unremarkable_facts_mean_nothing_together() -> None:
    a = _f("Norrow Seals delivered 48 lots in the quarter.")
    b = _f("Norrow Seals has two plants and 300 staff.")
    assert relate(a, b, "Norrow Seals") is None


def _stated(docs: dict[str, str]) -> tuple[Corpus, list[Stated]]:
    corpus = Corpus()
    out: list[Stated] = []
    for i, (title, text) in enumerate(docs.items()):
        fs = facts(text)
        corpus.add_document(text, fs, str(i), title)
        for f in fs:  # each stated fact its own key, as the runtime numbers claims
            out.append(Stated(len(out), str(i), title, f"dept{i}", (i, 0), f))
    filler = {f"Note {k}": f"The team met on {k + 1} May and agreed the rota for week {k + 2}.\n" for k in range(8)}
    for j, (title, text) in enumerate(filler.items(), start=len(docs)):
        corpus.add_document(text, facts(text), str(j), title)
    return corpus, out


def test_find_links_joins_documents_on_a_shared_name_once_per_pair() -> None:
    corpus, stated = _stated({
        "Fleet plan": "Crane CR-9 is out of service from 5 October to 13 November for its five-year inspection.\n",
        "Site look-ahead": "The rooftop unit lifts with crane CR-9 are set for 14 October.\n",
        "Canteen notes": "The canteen menu changes on 14 October.\n",
    })
    links = find_links(stated, [], corpus)
    assert len(links) == 1
    (lk,) = links
    assert {lk.a.doc_title, lk.b.doc_title} == {"Fleet plan", "Site look-ahead"}
    assert lk.relation == "timing" and lk.shared == ("cr-9",)


def test_one_word_of_two_different_names_is_not_a_link() -> None:
    corpus, stated = _stated({
        "Site rules": "Deliveries are held at the Penn Avenue gate until 7:00 from 3 May.\n",
        "Claims log": "A claim of $40,000 for a shoulder injury at Penn Hills library is still open since May.\n",
    })
    assert find_links(stated, [], corpus) == []


def test_a_reporting_period_two_documents_share_is_not_a_link() -> None:
    # a fiscal year or quarter dates what a figure covers; two reports covering one year speak of different things
    corpus, stated = _stated({
        "Board minutes": "Cash fell to 5.2 million at the end of FY2025/26, and the bank covenant may be breached.\n",
        "Spend review": "Contracted spend in FY2025/26 was 11.4 million, 71% of maintenance spend, on budget.\n",
        "Canteen notes": "The canteen menu changes on 14 October.\n",
        "Fleet notes": "Two vans were washed in May.\n",
    })
    assert find_links(stated, [], corpus) == []


def test_a_sentence_that_points_back_links_through_its_paragraph() -> None:
    corpus, stated = _stated({
        "Sourcing register": "The PX-40 pressure sensor comes from Halden Sensors. It is single-source, with no "
                             "qualified alternate, and a second source would take 40 weeks.\n",
        "Inspection log": "PX-40 lot 2291 failed incoming inspection on 12 September and 1,200 sensors were "
                          "rejected.\n",
    })
    links = find_links(stated, [], corpus)
    assert any(lk.relation == "dependency" and "single-source" in (lk.a.fact.text + lk.b.fact.text)
               for lk in links)


def test_a_dependency_is_on_what_the_sentence_is_about() -> None:
    only = _f("Ana Ruiz built the Delta Bank integration in 2018 and is the only engineer who knows the file code.")
    left = _f("Ana Ruiz resigned on 22 January; her last day is 28 February.")
    failed = _f("Delta Bank rejected 46 payment files in January and 9 reversals failed.")
    assert relate(only, left, "Ana Ruiz")[:2] == ("risk", "dependency")  # type: ignore[index]
    assert (relate(only, failed, "Delta Bank") or ("", ""))[1] != "dependency"


def test_a_reassurance_in_the_paragraph_contradicts_trouble_in_the_other_documents_paragraph() -> None:
    quality = facts("- CF-118 (Saint Ives Clinic): a pump restarted during an infusion on 3 September. The event was "
                    "assessed as not reportable. Closed on 29 September; no trend identified.\n")
    service = facts("Since the update, pumps reboot when the battery runs low during an infusion. Saint Ives Clinic "
                    "reported 8 of them.\n")
    claim = next(f for f in quality if "Saint Ives" in f.text)
    report = next(f for f in service if "Saint Ives" in f.text)
    assert relate(claim, report, "Saint Ives Clinic")[:2] == ("risk", "contradiction")  # type: ignore[index]


def test_two_lower_case_names_two_documents_share_are_enough_to_link() -> None:
    corpus, stated = _stated({
        "Runbook": "Certificate renewal is handled by certbot on the ops-1 host, every night from 1 May.\n",
        "Change log": "Automation that still calls the old DNS API (certbot on ops-1) stopped working on 9 January "
                      "and nobody owns the fix.\n",
    })
    assert any({lk.a.doc_title, lk.b.doc_title} == {"Runbook", "Change log"} for lk in find_links(stated, [], corpus))


def test_growing_business_with_a_counterparty_in_difficulty_is_exposure() -> None:
    growth = _f("From 7 September, Harlow Fuels took over seven more sites, so we now deliver to 19 forecourts.")
    slow = _f("Harlow Fuels is paying slowly: average days to pay rose from 28 to 49 days this quarter.")
    assert relate(growth, slow, "Harlow Fuels")[:2] == ("risk", "exposure")  # type: ignore[index]
    tender = _f("Harlow Fuels may build two more depots in 2027; the RFP is expected in the first quarter.")
    assert (relate(tender, slow, "Harlow Fuels") or ("", ""))[1] != "exposure" or tender.kind != "risk"


def test_more_credit_for_a_customer_that_cannot_pay_is_exposure() -> None:
    """Sales asks to raise a customer's credit limit; credit control reports a judgment against its parent. The
    request reads as a risk alone (a credit limit), and the pair is still more than two troubles sharing a name."""
    more = _f("Credit limit: raise the group credit limit for Kestrel Care from £300,000 to £480,000 to cover the "
              "added homes.")
    judged = _f("On 20 January our agency reported a county court judgment for £38,700 against Kestrel Care "
                "(Holdings) Ltd, the parent company.")
    assert relate(more, judged, "Kestrel Care")[:2] == ("risk", "exposure")  # type: ignore[index]
    paid = _f("Kestrel Care paid its January invoices on time and its balance is within terms.")
    assert (relate(more, paid, "Kestrel Care") or ("", ""))[1] != "exposure"


def test_a_leaver_who_still_holds_access_is_a_risk() -> None:
    """HR's leavers log dismisses a team leader; the store's key register still lists her keys and alarm code.
    Neither record is trouble alone."""
    left = _f("Dana Whitlow (Role: Night Shift Team Leader; Site: Moor Road; Leaving date: 6 December 2024; "
              "Reason: Summary dismissal – gross misconduct)")
    keys = _f("6 (Name: Dana Whitlow; Role: Night Shift Team Leader; Key set: A and B; Fob no.: 0417; Alarm code "
              "user: 07; Last reviewed: 2 January 2025)")
    kind, relation, consequence = relate(left, keys, "Dana Whitlow") or ("", "", "")
    assert (kind, relation) == ("risk", "leaver") and "Dana Whitlow" in consequence
    revoked = _f("Dana Whitlow's fob 0417 and alarm code 07 were cancelled on 6 December 2024.")
    assert (relate(left, revoked, "Dana Whitlow") or ("", ""))[1] != "leaver"
    starter = _f("Dana Whitlow (Role: Night Shift Team Leader; Site: Moor Road; Start date: 6 December 2024; "
                 "Notes: transferred from Hessle)")
    assert (relate(starter, keys, "Dana Whitlow") or ("", ""))[1] != "leaver"


def test_a_sentence_that_names_nothing_speaks_of_what_its_document_is_about() -> None:
    """A key account plan for one customer asks for more credit in a sentence that never names the customer; the
    credit control report names it. The plan's title says whom the sentence is about."""
    corpus, stated = _stated({
        "Key account plan": "# Key Account Plan 2025 – Kestrel Care Group\n\n## 5. Commercial proposal\n\n"
                            "Credit limit: raise the group credit limit from £300,000 to £480,000 to cover the "
                            "added homes.\n",
        "Credit control": "# Credit Control Report – January\n\n## 4. Accounts of concern\n\n"
                          "On 20 January our agency reported a county court judgment for £38,700 against Kestrel "
                          "Care (Holdings) Ltd, the parent company.\n",
        "Sales notes": "# Sales notes\n\nKestrel Care opened two homes in Selby in January.\n",
    })
    (lk,) = [lk for lk in find_links(stated, [], corpus)
             if {lk.a.doc_title, lk.b.doc_title} == {"Key account plan", "Credit control"}]
    assert lk.shared == ("kestrel care",) and lk.relation == "exposure"


def test_the_only_approved_supplier_going_into_administration_before_it_is_needed() -> None:
    plan = _f("Replacement of the KX-50 is scheduled for 14 June, and Norvik is the only approved supplier of its "
              "parts.")
    gone = _f("Norvik Cooling entered administration on 3 May and has stopped shipping spare parts.")
    kind, relation, _ = relate(plan, gone, "Norvik") or ("", "", "")
    assert kind == "risk" and relation in ("timing", "dependency")


def test_a_sentence_that_names_its_own_thing_still_links_through_what_its_paragraph_is_about() -> None:
    corpus, stated = _stated({
        "Sourcing register": "Halden Sensors supplies the PX-40 housing from its plant in Leeds. Kell Tooling holds "
                             "the mould for it, with no backup mould anywhere.\n",
        "Credit watch": "Halden Sensors went into administration on 3 May and stopped supplying parts.\n",
    })
    links = find_links(stated, [], corpus)
    assert any("Kell Tooling" in (lk.a.fact.text + lk.b.fact.text) and lk.relation == "dependency" for lk in links)


def test_a_sentence_that_opens_with_no_name_speaks_of_what_its_paragraph_is_about() -> None:
    corpus, stated = _stated({
        "Partner tracker": "Deliver the Kestrel Bolt set, as approved by Kestrel Drinks on 9 July, live and "
                           "redeemable by 1 November 2026.\n",
        "Content roadmap": "The Kestrel Bolt set (partner: Kestrel Drinks) was planned for the launch build. The set "
                           "therefore moves into the mid-season update on 1 December, with the Frostwake assets.\n",
    })
    links = find_links(stated, [], corpus)
    assert any(lk.relation == "timing" and "moves into" in (lk.a.fact.text + lk.b.fact.text) for lk in links)


def test_a_two_letter_abbreviation_is_not_a_name_to_link_on() -> None:
    corpus, stated = _stated({
        "Production plan": "QA will ask the leads for a fix-only week from 3 September, because the backlog is "
                           "overdue.\n",
        "Cash forecast": "QA costs rose 12% in August and the studio's cash falls below the floor on 1 October.\n",
    })
    assert find_links(stated, [], corpus) == []


def test_customers_asking_for_what_another_teams_plan_leaves_out_is_an_opportunity() -> None:
    ask = _f("Since March, 312 prospects have joined the waitlist for payroll in Oregon through the pricing page.")
    plan = _f("Oregon is not in the H1 plan, and product has gathered no demand data for it since 1 March.")
    assert relate(ask, plan, "Oregon")[:2] == ("opportunity", "unplanned")  # type: ignore[index]
    assert (relate(ask, _f("Oregon payroll tax tables were updated on 1 March for 2026."), "Oregon") or ("", ""))[1] \
        != "unplanned"


def test_a_register_row_whose_term_ends_before_booked_work_is_a_timing_risk() -> None:
    """No cue says trouble: a plain end of term in a register and work booked after it clash all the same."""
    (row,) = [f for f in facts("## Leases\n\n| Site | Landlord | Term |\n|---|---|---|\n"
                               "| Dock 4, Marlow Quay | Harbour Trust | ends 31 March |\n") if "Dock 4" in f.text]
    (job,) = [f for f in facts("## Booked work\n\n| Job | Location | Start | Finish |\n|---|---|---|---|\n"
                               "| Refit of MV Corran | Dock 4 | 2 May | 20 May |\n") if "Corran" in f.text]
    assert relate(job, row, "Dock 4")[:2] == ("risk", "timing")  # type: ignore[index]


def test_a_lease_the_owner_will_not_extend_is_an_end() -> None:
    f = _f("The council told us in March that it will not extend the Dock 4 lease past 31 March.")
    assert "risk.end" in f.cues and f.kind == "risk"


def test_demand_in_the_paragraph_does_not_make_a_troubled_sentence_a_buyer() -> None:
    """A paragraph that also reports a request does not turn its lease-ending sentence into demand that idle
    capacity elsewhere could meet."""
    (ending,) = [f for f in facts("## Dock 4\n\nThe council will not renew the Dock 4 lease after 31 March. "
                                  "The harbour master has asked for a short extension of two weeks.\n")
                 if "will not renew" in f.text]
    idle = _f("The cranes at Dock 4 sit unused on Sundays.")
    assert relate(ending, idle, "Dock 4") is None or relate(ending, idle, "Dock 4")[1] != "demand-meets-supply"  # type: ignore[index]


_REFERRALS = ("GP referrals for imaging are forecast to peak from December to February, about 30% above autumn "
              "volumes.\n")
_MRI = "The MRI suite at Riverside, our busiest imaging unit, is closed for the magnet replacement from {}.\n"


def _beside_referrals(title: str, text: str) -> tuple[Corpus, list[Stated]]:
    """The referral forecast, another team's document, and a canteen note."""
    return _stated({"Referral forecast": _REFERRALS, title: text,
                    "Canteen notes": "The canteen menu changes on 14 October.\n"})


def test_demand_in_a_period_another_team_is_out_of_action_links_with_no_shared_name() -> None:
    # the two documents name the thing differently (imaging referrals, the MRI suite); the period joins them
    corpus, stated = _beside_referrals("Estates schedule", _MRI.format("5 January to 20 February"))
    (lk,) = find_links(stated, [], corpus)
    assert {lk.a.doc_title, lk.b.doc_title} == {"Referral forecast", "Estates schedule"}
    assert (lk.kind, lk.relation) == ("risk", "demand-vs-capacity")
    assert "MRI" in lk.consequence


def test_demand_and_an_outage_in_different_periods_do_not_link() -> None:
    corpus, stated = _beside_referrals("Estates schedule", _MRI.format("5 June to 20 July"))
    assert find_links(stated, [], corpus) == []


def test_demand_and_an_outage_in_one_period_on_different_lines_of_business_do_not_link() -> None:
    corpus, stated = _beside_referrals("Plant schedule", "Boiler B-2 at the laundry is shut down for retubing from "
                                                         "5 January to 20 February.\n")
    assert find_links(stated, [], corpus) == []


def test_space_one_team_looks_for_and_space_another_team_leaves_empty_is_an_opportunity() -> None:
    need = _f("We have looked for replacement space in Mifflinburg since September, and nothing suitable is on the "
              "market.")
    empty = _f("The Mifflinburg clinic's second floor, 1,900 square feet, will stand empty from the first week of "
               "March.")
    assert relate(need, empty, "Mifflinburg")[:2] == ("opportunity", "demand-meets-supply")  # type: ignore[index]


@pytest.mark.parametrize("heading", ["Comments", "Commentary", "Headline"])
def test_a_generic_section_heading_two_documents_share_is_not_a_link(heading: str) -> None:
    corpus, stated = _stated({
        "Referral report": f"## {heading}\n\nPatients ask for Saturday bone density scans, and 940 referrals a "
                           "quarter leave the network.\n",
        "Capital review": f"## {heading}\n\nCT-01 at Lewisburg is ten years old and is the first CT due for "
                          "replacement.\n",
        "Canteen notes": "The canteen menu changes on 14 October.\n",
        "Fleet notes": "Two vans were washed in May.\n",
    })
    assert [lk.shared for lk in find_links(stated, [], corpus)] == []


def test_paying_outside_for_a_kind_of_resource_another_team_has_idle_links_with_no_name_in_common() -> None:
    # two teams name the same kind of thing differently: a hired training room and a meeting suite, a courier
    # and a van; a room and a van are not one kind
    corpus, stated = _stated({
        "Training plan": "Classroom days are held in a training room hired from Ravensworth Business Centre at "
                         "£760 a day, £18,240 for the period.\n",
        "Events report": "The Kirkby Room was used 6% of its available hours on Mondays and Tuesdays.\n",
        "Kitchen report": "Deliveries to the outlying hotels go by a chilled courier hired from Frostline at £2,340 "
                          "a week.\n",
        "Fleet register": "Van V07, a refrigerated van, stands idle at the Harbourgate yard since 2 March.\n",
    })
    links = find_links(stated, [], corpus)
    pairs = {frozenset((lk.a.doc_title, lk.b.doc_title)): lk for lk in links}
    rooms = pairs.get(frozenset(("Training plan", "Events report")))
    vans = pairs.get(frozenset(("Kitchen report", "Fleet register")))
    assert rooms is not None and rooms.kind == "opportunity" and rooms.relation == "demand-meets-supply", links
    assert vans is not None and vans.kind == "opportunity" and vans.relation == "demand-meets-supply", links
    assert frozenset(("Training plan", "Fleet register")) not in pairs
    assert frozenset(("Kitchen report", "Events report")) not in pairs


def test_work_a_spend_table_says_is_done_outside_meets_own_kit_that_sits_idle() -> None:
    # the rows of a subcontract spend analysis name a supplier and what it makes, and say "bought in" only by
    # their document's title; a management account's "Subcontract haulage" line says it itself
    corpus, stated = _stated({
        "Subcontracted work - spend analysis": "# Subcontracted work - spend analysis\n\n| Supplier | What they make "
                                               "for us | Spend (12 months) |\n|---|---|---|\n| Northgate Guides Ltd "
                                               "| Printed surgical guides from our design files | £49,800 |\n",
        "Equipment utilisation review": "# Equipment utilisation review\n\n| Machine | Utilisation |\n|---|---|\n"
                                        "| Stratum P40 printer | 11% |\n",
        "Management accounts": "# Management accounts\n\n| Line | YTD actual | YTD budget |\n|---|---|---|\n"
                               "| Subcontract haulage | £186,400 | £95,000 |\n",
        "Transport utilisation report": "# Transport utilisation report\n\n| Vehicle | Type | Utilisation |\n"
                                        "|---|---|---|\n| AT04 | Scania R450 tractor and extendable trailer | 31% |\n",
    })
    pairs = {frozenset((lk.a.doc_title, lk.b.doc_title)): lk for lk in find_links(stated, [], corpus)}
    for bought, idle in (("Subcontracted work - spend analysis", "Equipment utilisation review"),
                         ("Management accounts", "Transport utilisation report")):
        lk = pairs.get(frozenset((bought, idle)))
        assert lk is not None and (lk.kind, lk.relation) == ("opportunity", "demand-meets-supply"), pairs


def test_a_spend_row_joined_to_an_idle_row_by_kind_is_not_marked_down_as_two_registers() -> None:
    # two rows that share a name say little together; a spend row and a utilisation row joined by what they are
    # say the most: the sum paid outside, not an action to review it, heads the join
    corpus, stated = _stated({
        "Management accounts": "# Management accounts\n\n| Line | YTD actual | YTD budget |\n|---|---|---|\n"
                               "| Subcontract haulage | £186,400 | £95,000 |\n\n## Actions\n\nReview subcontract "
                               "haulage with the Operations Director before the budget is finalised.\n",
        "Transport utilisation report": "# Transport utilisation report\n\n| Vehicle | Type | Utilisation |\n"
                                        "|---|---|---|\n| AT04 | Scania R450 tractor and extendable trailer | 31% |\n",
    })
    (idle,) = [s for s in stated if "AT04" in s.fact.text]
    (row,) = [s for s in stated if "186,400" in s.fact.text]
    (action,) = [s for s in stated if "Review" in s.fact.text]
    (by_row,), (by_action,) = find_links([idle], [row], corpus), find_links([idle], [action], corpus)
    assert by_row.relation == by_action.relation == "demand-meets-supply"
    assert by_row.score > by_action.score, (by_row.score, by_action.score)


def test_money_planned_for_a_place_another_team_may_lose_is_at_risk() -> None:
    refit = _f("Premium refit and new specialist storage at Canal Street is budgeted at £240,000 for 2025-26, with a "
               "payback of 6.5 years.")
    clause = _f("Clause 8.3 gives the landlord of Canal Street the right to terminate on 25 March 2026 by giving six "
                "months' notice.")
    rel = relate(refit, clause, "Canal Street")
    assert rel is not None and rel[:2] == ("risk", "sunk") and "term ends first" in rel[2], rel
    # no sum planned, or the end is the refit's own
    plan = _f("Canal Street will be repainted over the summer once the new sign is up on 3 June.")
    assert (relate(plan, clause, "Canal Street") or ("", "", ""))[2].find("term ends first") < 0
    # an end years after the spend is no term ending first
    lease = _f("The lease of Canal Street runs 20 years from 25 March 2016 and will expire on 24 March 2036.")
    refit_year = _f("Premium refit and new specialist storage at Canal Street is budgeted at £240,000 for 2025-26.")
    assert (relate(refit_year, lease, "Canal Street") or ("", ""))[1] != "sunk"


def test_money_a_capital_request_names_only_in_its_title_is_at_risk_when_the_place_may_end() -> None:
    """Seen on a company the code was not developed on: a capital approval whose title names the site and whose
    total names no place, against the site register's lease that is handed back months after delivery."""
    corpus, stated = _stated({
        "Capital expenditure request — Millbrook Depot racking": "# Capital expenditure request — Millbrook Depot "
            "racking\n\n## Need\n\nThe pallet racking at Millbrook Depot is 22 years old and failed two "
            "inspections.\n\n## Cost\n\nTotal approval requested: £860,000, phased £200,000 deposit in March and the "
            "balance on delivery.\n",
        "Property register": "# Property register\n\n| Site | Lease | Next action |\n|---|---|---|\n"
                             "| Millbrook Depot | Expires 30 June 2026 | Hand back on expiry |\n"
                             "| Carrow Yard | Expires 2041 | None |\n",
    })
    links = [lk for lk in find_links(stated, [], corpus) if lk.relation == "sunk"]
    assert links and links[0].kind == "risk", [(lk.relation, lk.shared) for lk in find_links(stated, [], corpus)]
    assert "£860,000" in " ".join((links[0].a.fact.text, links[0].b.fact.text))


def test_toll_work_bought_in_meets_the_idle_machine_that_does_it() -> None:
    """Seen on a company the code was not developed on: a purchase ledger pays a smokehouse for toll portioning
    while the plant register's portion cutter has made nothing for a year; the two share no name."""
    corpus, stated = _stated({
        "Purchase ledger": "# Purchase ledger review\n\n| Rank | Supplier | Category | Spend 2024 (£000) |\n"
                           "|---|---|---|---|\n| 13 | Kinross Smokehouse | Toll slicing | 189 |\n",
        "Plant register": "# Plant register\n\n| Asset | Description | Status |\n|---|---|---|\n"
                          "| SP-05 | Water-jet slicer, with infeed conveyor | Operational, not in production |\n",
    })
    links = find_links(stated, [], corpus)
    assert any("replace what is paid for outside" in lk.consequence for lk in links), \
        [(lk.relation, lk.consequence) for lk in links]


def test_bought_in_cutting_meets_a_numbered_rows_lightly_loaded_cutter() -> None:
    """Seen on a company the code was not developed on: a subcontractor paid for die-cut trays against the OEE
    report's line 6, a rotary die-cutter booked for 38% of its crewed hours; the row is named by its number."""
    corpus, stated = _stated({
        "Subcontract and bought-in product spend": "# Subcontract and bought-in product spend\n\n| Supplier | "
            "Category | Spend |\n|---|---|---|\n| Fenwick Cartons | Die-cut trays and lids | £412k |\n",
        "OEE report": "# Line OEE report\n\n| Line | Machine | OEE | Loading (booked hours as % of crewed hours) "
                      "|\n|---|---|---|---|\n| 6 | Rotary die-cutter, 2-colour | 69% | 38% |\n"
                      "| 7 | Flatbed die-cutter | 70% | 104% |\n",
    })
    links = [lk for lk in find_links(stated, [], corpus) if lk.relation == "demand-meets-supply"]
    assert links and "Rotary" in links[0].a.fact.text + links[0].b.fact.text, \
        [(lk.relation, lk.shared) for lk in find_links(stated, [], corpus)]


def test_a_leaver_going_to_a_competitor_before_the_work_they_lead_is_a_clash() -> None:
    """Seen on a company the code was not developed on: HR's leaver, on garden leave from 11 July and "joining a
    competitor", leads the shutdown's control retrofit from 4 August; the competitor made the row an opening."""
    hr = fact("Marek Nowak (Role: Controls engineer; Reason: Resignation, joining a competitor; Notes: Handover "
              "until 10 July; placed on garden leave from 11 July; employment ends 12 September)", unit="row")
    plan = fact("2 (Package: Drive and PLC retrofit; Lead: Marek Nowak, site controls engineer; Dates: Software "
                "loading from Monday 4 August; full commissioning 11-16 August)", unit="row")
    assert hr is not None and plan is not None and hr.kind == "risk", hr
    rel = relate(hr, plan, "Marek Nowak")
    assert rel is not None and rel[:2] == ("risk", "timing"), rel


def test_what_an_idle_machine_is_fitted_with_is_no_kind_of_it() -> None:
    """Seen on a company the code was not developed on: an idle "water-jet portion cutter, with infeed scanner" was
    joined to an outside laboratory's test turnaround as lab kit."""
    idle = _f("SP-05 (Description: Water-jet portion cutter, with infeed scanner; Status: Operational, not in "
              "production)")
    assert "&machine" in links_module._kinds(idle) and "&lab" not in links_module._kinds(idle)


def test_who_carries_an_idle_things_waste_is_no_kind_of_the_idle_thing() -> None:
    # "Contractor: Coulter Waste Services" says whom the stream goes to, not that a contractor is idle
    idle = _f("Shrink wrap and plastic (Contractor: Coulter Waste Services; Tonnes (Feb): 1.6; Cost (Feb): £192; "
              "Notes: Baler not used since December)")
    hired = _f("Staff costs are slightly over because of agency drivers covering the Wexley vacancy.")
    assert "&people" in links_module._kinds(hired)
    assert "&people" not in links_module._kinds(idle)  # so the two do not meet by kind of resource


def test_someone_away_for_months_who_alone_holds_a_skill_is_a_risk() -> None:
    corpus, stated = _stated({
        "Competency matrix": "# Technician competency matrix\n\n| Task | R. Mehta | P. Shah | D. Walczak | S. Okafor "
                             "|\n|---|---|---|---|---|\n| Bridge design | 3 | 3 | 3 | 2 |\n| Titanium bar frameworks "
                             "| 2 | 1 | 3 | – |\n| Scan intake | 3 | 3 | 2 | 3 |\n",
        "Leave register": "# Leave and absence register\n\n| Name | Type | From | To |\n|---|---|---|---|\n"
                          "| Dorota Walczak | Sabbatical (unpaid) | 14 April | 12 October |\n"
                          "| Priya Shah | Annual leave | 2 June | 6 June |\n",
    })
    links = [lk for lk in find_links(stated, [], corpus) if lk.relation == "leaver"]
    assert len(links) == 1 and "Titanium" in links[0].a.fact.text + links[0].b.fact.text, links
    assert "will be away" in links[0].consequence


def test_someone_away_for_months_who_holds_the_post_a_signature_needs_is_a_risk() -> None:
    """Seen on a company the code was not developed on: the one in-house official who must sign every export
    certificate is on a sabbatical through the export season; the leave register lists the post among their
    authorisations, the export plan names only the post."""
    corpus, stated = _stated({
        "Leave register": "# Leave, secondments and long absences\n\n| Name | Role | Authorisations | Absence | From "
                          "| To |\n|---|---|---|---|---|---|\n| Tomas Varga | Quality lead | Approved signatory; "
                          "Qualified Person (batch release) | Secondment to the parent company | 2 June 2025 | "
                          "28 November 2025 |\n| Ana Ruiz | Planner | None | Annual leave | 4 August 2025 | "
                          "8 August 2025 |\n",
        "Export plan": "# Export plan — autumn season\n\n## Release\n\nEvery batch shipped must be certified by a "
                       "Qualified Person before it leaves the site; our in-house Qualified Person signs them at "
                       "dispatch.\n",
    })
    links = [lk for lk in find_links(stated, [], corpus) if lk.relation == "leaver"]
    assert len(links) == 1, [(lk.relation, lk.shared) for lk in find_links(stated, [], corpus)]
    assert "Varga" in links[0].a.fact.text + links[0].b.fact.text


def test_a_sentence_about_another_thing_under_a_sites_heading_does_not_depend_on_the_site() -> None:
    # "The trade-ins have been tested" under "Dayton warehouse (Building D)" tells of the trade-ins stored there
    doc = ("# Warehouse report\n\n## Dayton warehouse (Building D)\n\nThe trade-ins have been tested on arrival and "
           "most need a new battery before they can be resold.\n\nThe building is the only depot that can take full "
           "pallets.\n")
    other = _in(doc, "trade-ins")
    own = _in(doc, "The building is")
    assert not links_module._depends_on(other, "building d")
    assert links_module._depends_on(own, "building d")


def test_a_word_two_sentences_share_that_names_nothing_is_nothing_depended_on() -> None:
    # "intended" in "the device conforms to its intended purpose" and in an insurer's "intended function"
    statement = _f("The statement is generated from the case record and confirms the device conforms to its intended "
                   "purpose, as required by the procedure.")
    assert not links_module._depends_on(statement, "intended")
    supply = _f("The housings are supplied by Halden Sensors, our only approved source.")
    assert links_module._depends_on(supply, "halden sensors")


def test_a_courier_to_a_site_is_no_use_of_the_room_idle_there() -> None:
    courier = _f("Deliveries to Mill Race go by a chilled courier hired from Frostline at £2,340 a week.")
    room = _f("Mill Race (Space: Wheel Room; Daytime utilisation: 22%; Evening utilisation: 4%)")
    assert "bought-in" in courier.cues and "opp.unused" in room.cues
    assert (relate(courier, room, "Mill Race") or ("", ""))[1] != "demand-meets-supply"


def test_a_month_is_no_name_to_join_two_registers_on() -> None:
    # two registers' rows that both say "Apr 2024" (a contract's start, a vehicle's lapsed MOT) speak of two things
    corpus, stated = _stated({
        "Contract register": "11 (Supplier: Brennan Fire & Security; Annual value: £63k; Start: 1 Apr 2024; "
                             "End: 31 Mar 2027; Status: Performing)\n",
        "Vehicle register": "V07 (Vehicle: Iveco Daily van; Status: Off road since 2 Mar 2024; MOT: lapsed Apr 2024)\n",
        "Canteen notes": "The canteen menu changes on 14 October.\n",
    })
    assert not any({"apr 2024", "apr", "mar"} & set(lk.shared) for lk in find_links(stated, [], corpus))



def test_a_company_suffix_alone_is_no_name() -> None:
    # "Brava Foods" and "Han Li Foods" share a word, not a company
    corpus, stated = _stated({
        "Cheese hall": "Since then the line has run on Mondays and Tuesdays only, for Brava Foods, about 22 t a "
                       "month.\n",
        "Projects": "Han Li Foods is our second export account. Risk that the launch slips further into Q4, and the "
                    "line is not ready.\n",
        "Canteen notes": "The canteen menu changes on 14 October.\n",
        "Fleet notes": "Two vans were washed in May.\n",
    })
    assert not any("foods" in lk.shared for lk in find_links(stated, [], corpus))


def test_a_date_something_has_been_open_since_is_no_date_it_is_needed() -> None:
    vacancy = _f("Two vacancies open since November at Corran Mill; local firms pay 8-12% more.")
    handover = _f("R08 (Depot: Corran Mill; Notes: Joe's last day 30 April; Rory Kinsella takes over R08 from 1 May)")
    assert (relate(vacancy, handover, "Corran Mill") or ("", ""))[1] != "timing"


def test_hotel_rooms_paid_for_meet_homes_held_empty() -> None:
    # one team pays a hotel for rooms while another team's register holds lettable homes empty: one kind of space
    corpus, stated = _stated({
        "Moves log": "Spend in quarter: £64,270 (hotel rooms £55,980; subsistence and meal allowances £5,140).\n",
        "Options register": "AO-24 (Asset: Weirside Terrace, Cauldwell; 14 homes; Status: Held vacant since "
                            "10 February 2025 while the options appraisal is completed)\n",
        "Canteen notes": "The canteen menu changes on 14 October.\n",
    })
    links = find_links(stated, [], corpus)
    (homes,) = [lk for lk in links if lk.relation == "demand-meets-supply"]
    assert homes.shared == ("weirside terrace",), homes  # the thing by its name, not its register code


def test_work_done_by_an_in_house_team_is_no_dependency_on_a_thing() -> None:
    # "done by Property Care electricians": the business's own staff, not a supplier or an asset in trouble
    own = _f("Void rewires are done by Property Care electricians; average 4.2 days, down from 6.")
    trouble = _f("P25-16 (Requirement: Void works contractor (overflow); Requesting team: Property Care; Status: "
                 "delayed, award slipped to December)")
    assert (relate(own, trouble, "Property Care") or ("", ""))[1] != "dependency"


def test_an_insurer_suffix_alone_is_no_name() -> None:
    from personas.context.facts import TRADE_WORDS
    assert {"mutual", "insurance", "holdings", "group"} <= TRADE_WORDS


def test_an_order_won_meets_a_supply_in_trouble() -> None:
    # a sales team's won job on a board grade, and procurement's news that the one mill making it is running short
    job = _f("The job is their premium gin gift box for the Christmas season: 180,000 cartons in three designs, "
             "printed on GC1 350 metallised silver board.")
    mill = _f("Solvara has taken one of its board machines making GC1 350 out of service for a rebuild running from "
              "May into September, and has cut metallised production.")
    assert "load" in job.cues, job.cues
    assert (relate(job, mill, "GC1 350") or ("", ""))[:2] == ("risk", "demand-vs-capacity")


def test_a_deadline_before_the_planned_award_is_a_clash() -> None:
    # a regulator's notice wants the doors replaced by a date; procurement's own plan awards the contract after it
    notice = _f("Merrow House (Action: Replace all 112 flat entrance fire doorsets. The notice requires all 112 doors "
                "to be replaced by 28 November 2025.; Due: 28 Nov 2025; Owner: Building Safety)")
    plan = _f("P25-11 (Requirement: Flat entrance fire doorsets, supply and install; Est. value: £0.9m; Tender "
              "issue: 6 Oct 2025; Award: 8 Dec 2025; Contract start: Jan 2026)")
    early = _f("P25-11 (Requirement: Flat entrance fire doorsets, supply and install; Est. value: £0.9m; Tender "
               "issue: 6 Jun 2025; Award: 8 Aug 2025; Contract start: Sep 2025)")
    assert (relate(notice, plan, "doorsets") or ("", ""))[:2] == ("risk", "timing")
    assert (relate(notice, early, "doorsets") or ("", "", ""))[1] != "timing"



def test_two_register_rows_sharing_only_a_model_in_a_column_do_not_contradict() -> None:
    """One vehicle of a model passing its check says nothing against another register's plan for the model's
    fleet group: the shared name is neither row's subject."""
    (good,) = [f for f in facts("## Vehicles examined\n\n| Fleet no | Type | Result | Notes |\n|---|---|---|---|\n"
                                "| 3104 | Scania OmniCity | Clear | Examiner noted good condition for age |\n")
               if "3104" in f.text]
    (plan,) = [f for f in facts("## Fleet groups\n\n| Group | Type | Qty | Year | 2025/26 plan |\n"
                                "|---|---|---|---|---|\n| F | Scania OmniCity double-deck | 18 | 2008 | "
                                "Withdraw as Group C arrives |\n") if "OmniCity" in f.text]
    assert "assurance" in good.cues and plan.kind == "risk"
    rel = relate(good, plan, "scania omnicity")
    assert rel is None or rel[1] != "contradiction", rel


def test_a_plans_milestone_after_a_materials_last_order_date_is_a_timing_risk() -> None:
    """A timeline row opens with its date; a supplier's register row dates a withdrawal by its final order date."""
    (milestone,) = [f for f in facts("## Timeline\n\n| Date | Milestone |\n|---|---|\n"
                                     "| 5–16 January 2026 | Showroom displays installed: Tundra Oak display in all "
                                     "four showrooms |\n") if "Tundra Oak" in f.text]
    (row,) = [f for f in facts("## Decor changes\n\n| Code | Decor name | Status | Final order date |\n"
                               "|---|---|---|---|\n| K-4417 | Tundra Oak (textured) | Withdrawn | "
                               "28 November 2025 |\n") if "K-4417" in f.text]
    assert relate(milestone, row, "Tundra Oak")[:2] == ("risk", "timing")  # type: ignore[index]


def test_a_date_next_year_comes_after_this_years_dates() -> None:
    (end,) = spans("The supply agreement ends on 30 June next year.")
    (need,) = spans("Responses are due on 8 December.")
    assert before(need, end) and not before(end, need)


def test_a_sentence_that_names_what_it_depends_on_does_not_depend_on_its_sections_name() -> None:
    """Stored in the marshalling area: the dependency is on the area the sentence names, not on the board supplier
    its section is about."""
    (stored,) = [f for f in facts("## Kronwell board\n\nFinished goods for December will be stored in the dispatch "
                                  "marshalling area and in two hired trailers from week 48.\n") if "stored" in f.text]
    assert "kronwell" in stored.context and "dependency" in stored.cues
    trouble = _f("Kronwell will withdraw the Natural Hickory decor; the final order date is 19 December 2025.")
    rel = relate(stored, trouble, "Kronwell")
    assert rel is None or rel[1] != "dependency", rel


def test_an_idle_thing_that_already_replaces_a_hire_is_no_opening_against_hiring() -> None:
    """'A rental loader is not needed; no job has asked for L-05': the idle loader already spares the rental, so
    it is no opening against the equipment rental account."""
    idle = _f("A rental loader is not needed; no job has asked for L-05 in that period.")
    hired = _f("Equipment rental is placed with United Rentals on national account rates, 10% off published rates.")
    assert "opp.unused" in idle.cues and "bought-in" in hired.cues
    rel = relate(hired, idle, "L-05")
    assert rel is None or rel[1] != "demand-meets-supply", rel


def test_a_plan_sentence_that_opens_with_its_date_needs_that_date() -> None:
    """'From 13 October Gang B moves onto ...' dates the work; a card that expires the day before ends first."""
    expiry = _f("All six Gang B operatives qualified together, so their street works cards expire on 2 March 2026.")
    plan = _f("From 3 March Gang B moves full-time onto permanent reinstatements for six weeks.")
    assert relate(expiry, plan, "Gang B")[:2] == ("risk", "timing")  # type: ignore[index]


def test_a_load_that_leaves_headroom_meets_no_outage_as_unmet_demand() -> None:
    load = _f("Core router pair RX-7 (Capacity: 2 x 100G; Peak (evening): 82G; Utilisation: 41%)", )
    outage = _f("Most customers behind RX-7 were asleep when the outage began at 02:14 on 14 July.")
    rel = relate(load, outage, "RX-7")
    assert rel is None or rel[1] != "demand-vs-capacity", rel


def test_a_change_to_a_product_another_team_has_a_claim_on_is_a_risk() -> None:
    """One team's change log drops an additive from a product; another team's register holds a licence and a
    label claim that rest on how the product is made. Nothing says trouble on either side; the pair does."""
    (change,) = [f for f in facts("## Changes\n\n| Ref | Raised | Product | Change | Reason |\n|---|---|---|---|---|\n"
                                  "| CR-9 | 29 Apr | PL-02 | Stop dosing Clarizyme at fill; use silica finings "
                                  "instead | Clarizyme list price up 38%; silica saves £0.85/hL |\n")
                 if "CR-9" in f.text]
    (claim,) = [f for f in facts("## Claims\n\n| Product | Claim | Basis |\n|---|---|---|\n"
                                 "| Pale Lager (PL-02) | Gluten free | The enzyme dosed at fill breaks down gluten; "
                                 "every batch must test below 20 ppm and the licence is audited |\n")
                if "PL-02" in f.text]
    assert relate(change, claim, "PL-02")[:2] == ("risk", "undercut")  # type: ignore[index]
    rule = _f("Any change to the PL-02 packing slots must be flagged to the head brewer within 5 days.")
    rel = relate(change, rule, "PL-02")
    assert rel is None or rel[1] != "undercut", rel


def test_a_leaver_in_the_role_a_licence_names_is_a_leaver_the_licence_counts_on() -> None:
    (leaver,) = [f for f in facts("## Leavers\n\n| Name | Role | Date | Reason |\n|---|---|---|---|\n"
                                  "| Ruth Penn | Yard Supervisor | 31 July 2025 | Retirement |\n") if "Ruth" in f.text]
    (licence,) = [f for f in facts("## Licence\n\n| Condition | Detail |\n|---|---|\n"
                                   "| Nominated transport manager | Yard Supervisor (CPC held since 1998) |\n")
                  if "Nominated" in f.text]
    # the licence names the one it rests on: more than a dependency in trouble, a leaver it counts on
    assert relate(leaver, licence, "Yard Supervisor")[:2] == ("risk", "leaver")  # type: ignore[index]


def test_a_forecast_below_the_level_another_team_tests_that_day_is_a_risk() -> None:
    """A lender's covenant row requires a level on a test date; another team's report forecasts the same measure
    for that date below it. Neither says trouble alone, and they share no name; the figures and the day do."""
    corpus, stated = _stated({
        "Facility compliance": "## Covenants\n\n| Covenant | Test date | Level required |\n|---|---|---|\n"
                               "| Homes connected | 31 December 2025 | 52,000 |\n",
        "Build report": "The year-end forecast has been re-baselined: we now forecast 47,900 homes connected at 31 "
                        "December 2025.\n",
    })
    links = find_links(stated, [], corpus)
    assert [lk.relation for lk in links] == ["short-of-level"], links
    from personas.runtime.links import shortfall
    assert shortfall(links[0].a.fact, links[0].b.fact)[:4] == ("floor", "47,900", "52,000", "31 December 2025")  # type: ignore[index]


def test_a_forecast_above_the_level_or_on_another_day_is_no_shortfall() -> None:
    for forecast in ("we now forecast 55,900 homes connected at 31 December 2025",
                     "we now forecast 47,900 homes connected at 30 June 2025"):
        corpus, stated = _stated({
            "Facility compliance": "## Covenants\n\n| Covenant | Test date | Level required |\n|---|---|---|\n"
                                   "| Homes connected | 31 December 2025 | 52,000 |\n",
            "Build report": f"The year-end forecast has been re-baselined: {forecast}.\n",
        })
        assert not [lk for lk in find_links(stated, [], corpus) if lk.relation == "short-of-level"]


def test_mid_month_is_that_month_and_a_year_named_on_one_side_only_reads_the_nearest_year() -> None:
    (mid,) = spans("The date moves to mid-December.")
    assert overlaps(mid, spans("in December")[0])
    # a plan written in 2025: "mid-December" is not after a certificate due on 14 February 2026
    assert not before(spans("due by 14 February 2026")[0], mid)
    assert before(spans("due by 1 December 2025")[0], spans("on 20 December")[0])


def test_a_contract_using_an_appointed_subcontractor_depends_on_it() -> None:
    uses = _f("Installation is done using our appointed installation subcontractor, Quillby Installs Ltd (supplier "
              "V-2204), named in Schedule 4 as the approved installer.")
    trouble = _f("V-2204 faces a winding-up petition presented on 19 August; our prepayment of £310,000 is at risk.")
    assert relate(uses, trouble, "V-2204")[:2] == ("risk", "dependency")  # type: ignore[index]


def test_a_plan_row_whose_column_dates_a_need_meets_a_permit_that_moves_it_out() -> None:
    (plan,) = [f for f in facts("## Areas\n\n| Area | Homes | Ready for service (per tracker, 1 August) | Target |\n"
                                "|---|---|---|---|\n| Ashby West | 4,100 | End of August | 900 |\n")
               if "Ashby" in f.text]
    (permit,) = [f for f in facts("## Permits\n\n| Ref | Area | Notes |\n|---|---|---|\n| AW-03 | Ashby West | "
                                  "Crossing not yet consented. AW RFS moves from 29 Aug to mid-December. |\n")
                 if "AW-03" in f.text]
    assert relate(plan, permit, "Ashby West")[:2] == ("risk", "timing")  # type: ignore[index]


def test_a_forecast_tables_ratio_above_a_standing_covenant_ceiling_is_a_risk_in_its_own_measure_only() -> None:
    """A covenant set on no day of its own (tested every quarter) against a forecast table's ratio column: a breach
    in the measure the column names, none against another covenant on the same figures."""
    corpus, stated = _stated({
        "Facility terms": "## Financial covenants\n\n| Covenant | Requirement |\n|---|---|\n"
                          "| Leverage (Total Net Debt to LTM EBITDA) | Not to exceed 3.25x |\n"
                          "| Interest cover (LTM EBITDA to Net Finance Charges) | Not less than 4.00x |\n",
        "Rolling forecast FY2025/26": "# Rolling forecast FY2025/26\n\n## Net debt by quarter\n\n"
                                      "| Quarter end | Net debt (£m) | Net debt / LTM EBITDA |\n|---|---|---|\n"
                                      "| 30 Jun 2025 | 19.3 | 2.74x |\n"
                                      "| 30 Sep 2025 | 24.5 | 3.38x |\n",
    })
    links = [lk for lk in find_links(stated, [], corpus) if lk.relation == "short-of-level"]
    assert len(links) == 1 and "3.38x" in links[0].a.fact.text + links[0].b.fact.text, links
    assert all("Interest cover" not in lk.a.fact.text + lk.b.fact.text for lk in links)
    from personas.runtime.links import shortfall
    assert shortfall(links[0].a.fact, links[0].b.fact)[:4] == ("ceiling", "3.38x", "3.25x", "30 Sep 2025")  # type: ignore[index]


def test_a_past_count_issued_or_a_waste_return_is_no_dated_need() -> None:
    from personas.runtime.links import _needed
    assert not _needed(_f("The bin hangers campaign has worked well: 148 tags issued in July, 96 in August."))
    assert not _needed(_f("28 Oct (Item: Quarterly waste returns Q3 at both sites; Owner: Compliance)"))
    assert _needed(_f("The press returns to service on 14 October after its overhaul."))


@pytest.mark.parametrize(("load", "short", "entity"), [
    # trouble of its own
    ("There were two days in August when loads were delayed by the ERF's own outage; stock peaked at 640 tonnes.",
     "Skelbrooke ERF has a planned outage in February 2026.", "ERF"),
    # a product's description ("a large-volume pump")
    ("The TX-200 is a large-volume pump with a touch screen and a battery that runs for up to 10 hours at 25 mL per "
     "hour.", "TX-200 latch kits are on backorder until 14 November; do not hold more than four per van.", "TX-200"),
])
def test_what_is_no_demand_goes_unmet_by_no_shortage(load: str, short: str, entity: str) -> None:
    rel = relate(_f(short), _f(load), entity)
    assert rel is None or rel[1] != "demand-vs-capacity", rel


def test_a_leaver_in_the_role_a_rule_appoints_is_a_dependency_in_trouble() -> None:
    (leaver,) = [f for f in facts("## Leavers\n\n| Name | Role | Reason | Last day |\n|---|---|---|---|\n"
                                  "| Dr Ana Holt | Head of Imaging | Resignation | 28 March 2025 |\n")
                  if "Holt" in f.text]
    rule = _f("The appointed Radiation Protection Supervisor for Westgate is the Head of Imaging, with no deputy "
              "since October 2024.")
    assert "dependency" in rule.cues
    assert relate(leaver, rule, "Head of Imaging")[:2] == ("risk", "dependency")  # type: ignore[index]


def test_equipment_supported_through_one_agreement_only_depends_on_it() -> None:
    (row,) = [f for f in facts("## Spares\n\n| Equipment | Spares held | Lead time (no spare) | Support |\n"
                               "|---|---|---|---|\n| Optical sorters OS-1, OS-2 | 1 sensor head | 10-14 weeks | "
                               "SA-3301 only |\n") if "OS-1" in f.text]
    trouble = _f("Trevanna Ltd (agreement SA-3301) faces a winding-up petition presented on 2 September 2025.")
    assert relate(row, trouble, "SA-3301")[:2] == ("risk", "dependency")  # type: ignore[index]


def test_doing_what_another_team_is_forbidden_to_do_is_a_breach() -> None:
    """A supplier's notice forbids selling an affected product until it is fixed; another team's stock list shows
    that product advertised and sold. Neither says trouble alone; together they say a rule is being broken."""
    rule = _in("## 2. RC-118: Brava water pump\n\nKey points:\n\n- Stop-sale: until the remedy is done, dealers "
               "must not sell, deliver or hand over any affected vehicle.\n", "Stop-sale")
    head = "## Stock\n\n| Stock no. | Vehicle | Site | Price | Status |\n|---|---|---|---|---|\n"
    row = _in(head + "| ST-4410 | Brava 1.0 Luxe | Leeds | £9,995 | Front line, advertised |\n", "ST-4410")
    sold = _in(head + "| ST-4412 | Brava 1.0 Core | York | £9,295 | Sold, delivered 1 Oct |\n", "ST-4412")
    assert relate(rule, row, "Brava")[:2] == ("risk", "breach")  # type: ignore[index]
    assert relate(sold, rule, "Brava")[:2] == ("risk", "breach")  # type: ignore[index]
    # the act not done: a vehicle held back, and a rule about something else
    held = _in(head + "| ST-4413 | Brava 1.0 Core | York | £9,395 | Quarantined until the part arrives |\n",
               "ST-4413")
    rel = relate(rule, held, "Brava")
    assert rel is None or rel[1] != "breach", rel
    policy = _f("Staff must not use personal email for Brava customer records.")
    rel = relate(policy, row, "Brava")
    assert rel is None or rel[1] != "breach", rel
    not_one = _f("The Brava recall (RC-120, seatbelt check) is not a stop-sale campaign, so stock may be sold.")
    rel = relate(not_one, row, "Brava")
    assert rel is None or rel[1] != "breach", rel
    # a maker's instruction to take a model out of use, and another team's register with one in daily service
    notice = _in("## Note 1 - Tarvin notice\n\nTarvin has found cracking in the ramp pins of TX-9 trailers. Tarvin "
                 "instructs owners to remove affected trailers from loading duties immediately and to fit the revised "
                 "pin kit before further use.\n", "instructs")  # a sentence with no figure or date: still a claim
    trailer = _in("## Trailers\n\n| Fleet no. | Make | Chassis | Year | Status |\n|---|---|---|---|---|\n"
                  "| LT-02 | Tarvin TX-9 | TV-20131 | 2019 | In service, daily |\n", "LT-02")
    assert relate(notice, trailer, "TX-9")[:2] == ("risk", "breach")  # type: ignore[index]


def test_a_forecast_volume_is_demand_a_shortage_leaves_unmet() -> None:
    busy = _f("Orders for the TX-200 are forecast at 900 units in November, a volume 40% above October.")
    short = _f("TX-200 latch kits are on backorder until 14 November; do not hold more than four per van.")
    assert relate(busy, short, "TX-200")[1] == "demand-vs-capacity"  # type: ignore[index]


def test_keys_exchanged_with_a_bank_are_no_access_a_leaver_holds() -> None:
    left = _f("Priya Natarajan, staff engineer, payments team, resigned on 22 January to join a bank's payments team.")
    keys = _f("Status: keys exchanged with the bank on 21 January; Priya Natarajan to sign the file format change.")
    assert (relate(left, keys, "Priya Natarajan") or ("", ""))[1] != "leaver"


def test_a_country_or_a_headings_first_word_is_no_name_to_join_on() -> None:
    """Seen on a company the code was not developed on: "NHS England" in a licence register and "the North of
    England" in a supplier's letter, and two reports' "Root cause" headings, joined documents that share nothing."""
    corpus, stated = _stated({
        "Licences": "# Licences\n\n## 2. Register\n\nThe toolkit return to NHS England is due by 30 June 2025 and "
                    "has not been started.\n",
        "Supplier letter": "# Letter\n\nFrom 1 March your account manager will be Owen Pritchard, who covers the "
                           "North of England and Scotland.\n",
        "Chiller deviation": "# Deviation\n\n## 4. Root cause\n\nFailure of the defrost sensor on the chiller "
                             "stopped the cycle on 3 January.\n",
        "Stock discrepancy": "# Discrepancy\n\n## 5. Root cause and actions\n\nGoods-in booked stock from the "
                             "advice note; the count must be done by two people from 13 January.\n",
    })
    shared = {k for lk in find_links(stated, [], corpus) for k in lk.shared}
    assert not shared & {"england", "root"}, shared
    keys = {k for st in stated for k in index_keys(st.fact, corpus)}
    assert not keys & {"england", "root"} and {"nhs england", "owen pritchard"} <= keys, keys


def test_work_turned_away_for_capacity_meets_spare_capacity_elsewhere() -> None:
    """Sales declined a tender because one plant was full; operations' review shows another plant with spare
    capacity of the same measure. The two name no common thing: the measure ("tonnes a week") joins them."""
    corpus, stated = _stated({
        "Tender log": "T24-11 (Opportunity: Moorfield Health Trust; Annual value: £640,000; Outcome: Declined to "
                      "bid; Notes: about 11 tonnes a week of linen; operations advised Brackley is at capacity)\n",
        "Capacity review": "## 3. Aldbury plant\n\nSpare capacity on the current two-shift pattern is 15.5 tonnes "
                           "per week, and more if a Saturday shift is added.\n",
        "Canteen notes": "The canteen menu changes on 14 October.\n",
    })
    (lk,) = [lk for lk in find_links(stated, [], corpus) if lk.relation == "demand-meets-supply"]
    assert {lk.a.doc_title, lk.b.doc_title} == {"Tender log", "Capacity review"} and lk.kind == "opportunity"
    assert "tonnes a week" in lk.consequence or "tonnes per week" in lk.consequence, lk.consequence


def test_spending_within_budget_is_not_contradicted_by_what_the_spend_was() -> None:
    """Seen on a company the code was not developed on: "Short-dated stock is within budget" read as contradicted
    by the month's write-offs; a budget says how much, not that nothing happened."""
    calm = _f("Short-dated stock at Calder Park is within budget; returns to manufacturers in January £96,500.")
    assert "assurance" in calm.cues
    spent = _f("Write-offs at Calder Park in January: £21,300 (expired £14,800, damaged £4,100, other £2,400).")
    assert (relate(calm, spent, "Calder Park") or ("", ""))[1] != "contradiction"
    over = _f("Write-offs at Calder Park in January were £21,300, £9,000 over budget.")
    assert relate(calm, over, "Calder Park")[:2] == ("risk", "contradiction")  # type: ignore[index]


def test_overflow_storage_paid_for_meets_a_cold_room_standing_part_empty() -> None:
    """Finance pays a logistics firm for overflow chilled storage; the other site's report shows its own cold room
    at 38%. The two name no common thing: one kind of space joins them."""
    corpus, stated = _stated({
        "Overheads": "Arctica Logistics, Normanton: overflow chilled storage for our fridge lines, 22 pallet "
                     "positions at 2–8 °C, on a rolling monthly agreement since August at £8,450 per month.\n",
        "Site report": "| Area | Capacity | Used | Utilisation |\n|---|---|---|---|\n"
                       "| Cold Room 2 (2–8 °C) | 48 pallet positions | 18 | 38% |\n",
        "Canteen notes": "The canteen menu changes on 14 October.\n",
    })
    (lk,) = [lk for lk in find_links(stated, [], corpus) if lk.relation == "demand-meets-supply"]
    assert {lk.a.doc_title, lk.b.doc_title} == {"Overheads", "Site report"} and lk.kind == "opportunity", lk


def test_stock_held_above_its_sum_insured_is_a_risk_neither_team_sees() -> None:
    """Finance's insurance summary insures one site's stock for £6.5m; purchasing's stock report has £9.14m there.
    The site is named in every document, so only the thing and its two figures join them."""
    docs = {
        "Insurance summary": "| Cover | Basis | Sum insured / limit |\n|---|---|---|\n"
                             "| Stock – Hessle | Cost price | £6.5m |\n| Stock – Leeds | Cost price | £11,000,000 |\n",
        "Stock report": "Hessle stock stands at £9.14m, against £5.9m a year ago.\n",
        "Canteen notes": "The canteen menu changes on 14 October.\n",
    }
    docs |= {f"Hessle note {k}": f"Hessle team met on {k + 2} May about stock rotas.\n" for k in range(6)}
    corpus, stated = _stated(docs)
    (lk,) = [lk for lk in find_links(stated, [], corpus) if lk.relation == "over-limit"]
    assert {lk.a.doc_title, lk.b.doc_title} == {"Insurance summary", "Stock report"} and lk.kind == "risk"
    assert not [lk for lk in find_links(stated, [], corpus) if lk.relation == "over-limit" and "Leeds" in
                lk.a.fact.text + lk.b.fact.text]


def test_a_limit_and_a_balance_of_two_different_things_do_not_join() -> None:
    # a customer's credit limit and the bank account's balance share only the columns' words
    corpus, stated = _stated({
        "Debtors": "| Customer | Balance | Credit limit | Notes |\n|---|---|---|---|\n"
                   "| Kestrel Care Group | £438,900 | £300,000 | See 4.1 |\n",
        "Treasury": "| Account | Bank | Balance | Notes |\n|---|---|---|---|\n"
                    "| Main current account | Northern Bank | £1,180,000 | Receipts and payments |\n",
        "Canteen notes": "The canteen menu changes on 14 October.\n",
    })
    assert not [lk for lk in find_links(stated, [], corpus) if lk.relation == "over-limit"]


def test_fewer_deliveries_against_a_customers_daily_requirement_undercut_it() -> None:
    """Transport merges a route so its drops are served twice a week; the accounts team's service summary says
    the customer on it requires daily delivery (and that changes to delivery days need its agreement)."""
    cut = _f("From 5 May Route 6 no longer runs as a separate route; its drops at Thirsk are served on Monday and "
             "Thursday as part of Route 4.")
    need = _f("St Wilfrid's Day Surgery, Thirsk (Service: Theatre linen; Delivery requirement: Daily, Monday–Saturday, "
              "by 07:30; Changes to delivery days need the customer's written agreement)")
    assert relate(cut, need, "Thirsk")[:2] == ("risk", "undercut")  # type: ignore[index]
    weekly = _f("Holme Farm Shop, Thirsk (Service: Table linen; Delivery requirement: Weekly, Thursday)")
    assert (relate(cut, weekly, "Thirsk") or ("", ""))[1] != "undercut"


def test_cleaning_less_often_than_an_insurance_condition_requires_is_a_breach() -> None:
    """Finance's insurance summary makes dryer cleaning at the end of every shift a condition of cover; the
    plant's labour memo moves it to once a day. Neither reads as trouble alone, and they share no name."""
    corpus, stated = _stated({
        "Insurance summary": "Condition precedent: the lint screens of all tumble dryers shall be cleaned at the end "
                             "of every shift.\n",
        "Labour memo": "From 28 April, dryer filter cleaning moves to once daily, done by the early-shift operator.\n",
        "Canteen notes": "The canteen menu changes on 14 October.\n",
        "Fleet notes": "Vans are washed weekly at the Leeds depot.\n",
    })
    (lk,) = [lk for lk in find_links(stated, [], corpus) if lk.relation == "breach"]
    assert {lk.a.doc_title, lk.b.doc_title} == {"Insurance summary", "Labour memo"} and lk.kind == "risk"
    more = _f("From 28 April, dryer filter cleaning moves to every shift, done by each shift's operator.")
    rule = stated[0].fact
    assert (relate(rule, more, "dryer") or ("", ""))[1] != "breach"


@pytest.mark.parametrize(("limit", "figure", "thing"), [
    ("Recalculated maximum occupancy for Hall B is 1,200 persons at any one time, including exhibitors.",
     "Their peak concurrent estimate on the Hall B floor is 1,450, on Wednesday between 11:00 and 14:00.", "Hall B"),
    ("CS-0417 (Name: Ioana Petrescu; Right-to-work basis: student visa; Conditions: Work limited to 20 hours per "
     "week in term time)",
     "CS-0417 (Name: I. Petrescu; Role: Waiting staff; w/e 6 October: 16.0; w/e 13 October: 38.5; Total: 54.5)",
     "CS-0417"),
    ("The Venue shall provide dedicated symmetrical internet connectivity of not less than 1 Gbps at the Exchange.",
     "Our internet line at the Exchange is still the 500 Mbps symmetrical circuit from Vantic Networks.",
     "Exchange"),
    # a licence's annual limit in cubic metres, against a forecast whose column names the unit
    ("W2 (Site: Dene Farm; Permit: Water abstraction licence (borehole); annual limit 12,000 m³ (1 April – 31 "
     "March); daily limit 60 m³)", "Full year (Borehole forecast (m³): 14,400)", "borehole"),
    # a temperature warmer than a ceiling, or outside a range the sentence requires
    ("Frozen stock for Halden Foods in Chamber 4 must be held at -25°C or colder at all times (clause 6.2).",
     "Chamber 4 setpoint was raised to -22°C on 1 March to cut electricity use.", "Chamber 4"),
    ("Vaccines in Cold Room 2 must be stored at 2°C to 8°C.",
     "Cold Room 2 has run at 11.5°C since the compressor fault on 3 May.", "Cold Room 2"),
    # children on the premises are people, counted against a planning condition's cap
    ("Condition 4: no more than 48 children shall be present at Elmfield at any one time.",
     "Elmfield expects 58 children on peak days (Tuesday and Wednesday).", "Elmfield"),
    # a licence counts vehicles whatever their body: rigids and tractor units are vehicles
    ("Operating centre: Kelby Yard, Mill Lane — authorised for 10 vehicles and 6 trailers.",
     "Outcome: 13 rigids plus the 2 tractor units, all based at the Kelby Yard from March.", "Kelby Yard"),
])
def test_a_figure_past_another_teams_limit_on_the_same_thing_is_a_risk(limit: str, figure: str, thing: str) -> None:
    rel = relate(_f(limit), _f(figure), thing)
    assert rel is not None and rel[:2] == ("risk", "over-limit"), rel


def test_a_figure_within_the_limit_is_no_risk() -> None:
    limit = _f("Recalculated maximum occupancy for Hall B is 1,200 persons at any one time, including exhibitors.")
    within = _f("Their peak concurrent estimate on the Hall B floor is 950, on Wednesday between 11:00 and 14:00.")
    assert (relate(limit, within, "Hall B") or ("", ""))[1] != "over-limit"


@pytest.mark.parametrize(("limit", "figure", "thing"), [
    ("Frozen stock for Halden Foods in Chamber 4 must be held at -25°C or colder at all times (clause 6.2).",
     "Chamber 4 setpoint was lowered to -27°C on 1 March.", "Chamber 4"),
    # a range read, no range required; and a limit against a limit
    ("Cold Room 2 temperatures ranged from 2°C to 6°C through the week.",
     "Cold Room 2 has run at 11.5°C since the compressor fault on 3 May.", "Cold Room 2"),
    ("Frozen stock for Halden Foods in Chamber 4 must be held at -25°C or colder at all times (clause 6.2).",
     "Chamber 4 alarms sound when the air rises above -20°C.", "Chamber 4"),
])
def test_a_temperature_within_the_limit_or_no_limit_at_all_is_no_risk(limit: str, figure: str, thing: str) -> None:
    assert (relate(_f(limit), _f(figure), thing) or ("", ""))[1] != "over-limit"


def test_new_work_for_a_client_facing_a_winding_up_petition_is_exposure() -> None:
    won = _f("We have been selected as preferred contractor for four escalators at Eastgate for Thornbury Retail "
             "Parks Ltd, and ask approval to place a non-cancellable production order.")
    petition = _f("A winding-up petition against Thornbury Retail Parks Ltd was advertised in the Gazette on 19 "
                  "February, with a hearing listed for 2 April.")
    assert relate(won, petition, "Thornbury Retail Parks")[:2] == ("risk", "exposure")  # type: ignore[index]


def test_a_rows_total_of_several_weeks_or_a_day_of_the_month_is_no_weeks_hours() -> None:
    limit = _f("CS-0452 (Name: Chen Wei; Right-to-work basis: student visa; Conditions: Work limited to 20 hours per "
               "week in term time)")
    hours = _f("CS-0452 (Name: C. Wei; Role: Kitchen porter; w/e 6 October: 12.0; w/e 13 October: 18.5; w/e 27 "
               "October: 14.0; Total: 44.5)")
    assert (relate(limit, hours, "CS-0452") or ("", ""))[1] != "over-limit"


def test_a_season_or_a_holiday_is_no_name_to_join_on() -> None:
    """Seen on a company the code was not developed on: a depot's last working day before Christmas and a
    standby rota to confirm before Christmas were joined as a commitment on "Christmas"."""
    corpus, stated = _stated({
        "Depot calendar": "# Calendar\n\n## Closures\n\nThe Leeds depot closes at noon on 23 December and the last "
                          "collection before Christmas is Tuesday 22 December.\n",
        "Operations memo": "# Memo\n\n## Cover\n\nThe Christmas standby rota for call-outs must be confirmed by the "
                           "area leads by 27 November.\n",
        "Sales plan": "# Plan\n\n## Easter\n\nEaster trading starts on 28 March with the garden range.\n",
        "Marketing": "# Marketing\n\n## Campaigns\n\nThe Easter campaign must launch by 14 March.\n",
    })
    keys = {k for st in stated for k in index_keys(st.fact, corpus)}
    assert not keys & {"christmas", "easter"}, keys
    assert not find_links(stated, [], corpus)


def test_two_rare_words_of_one_phrase_count_as_one_word_in_common() -> None:
    """Two contracts' "liquidated damages" clauses share one phrase, not two things: seen joined on a company the
    code was not developed on as "the commitment on damag may be missed"."""
    corpus, stated = _stated({
        "Risk register": "# Risks\n\n## Delivery\n\nLate handover (mitigation: fixed-price terms with liquidated "
                         "damages of £1,500 per day after day 5).\n",
        "Customer contract": "# Contract\n\n## Terms\n\nLiquidated damages of £3,000 per day apply for each day "
                             "the service starts late, capped at £30,000.\n",
        "Other": "# Other\n\n## Notes\n\nThe canteen reopens on Monday after its refit.\n",
        "More": "# More\n\n## Notes\n\nPayroll moves to the new system in April.\n",
    })
    assert not find_links(stated, [], corpus)


def test_who_owns_an_action_is_no_thing_the_action_is_about() -> None:
    """Seen on a company the code was not developed on: "Action: Head of Harbours to confirm by 30 November ..."
    was joined with a leaver's row that mentions the same head of department, as a commitment on the head."""
    corpus, stated = _stated({
        "Leavers log": "# Leavers\n\n## Log\n\nMaria Keane (Post: Depot Supervisor, Hull; Leaving date: 31 January "
                       "2027; Reason: Retirement; Replacement: Head of Depots to review the structure in spring).\n",
        "Insurance": "# Insurance\n\n## Conditions\n\nAction: Head of Depots to confirm by 30 November which tanks "
                     "need a test certificate, and send it to the broker.\n",
    })
    assert not find_links(stated, [], corpus)


def test_a_forecast_past_another_teams_licensed_quantity_links_with_no_name_in_common() -> None:
    """Seen on a company the code was not developed on: an abstraction licence's "annual limit 18,000 m³" in the
    permits register, and the nursery's "Borehole forecast (m³): 21,600" once a new glasshouse runs: the two share
    no name, only the rare word for the thing and the unit."""
    corpus, stated = _stated({
        "Permits register": "# Permits\n\n## Register\n\n| Ref | Site | Permit | Conditions |\n|---|---|---|---|\n"
                            "| P7 | Dene Farm | Water abstraction licence (borehole) | annual limit 12,000 m³; daily "
                            "limit 60 m³; monthly meter returns |\n",
        "Irrigation plan": "# Irrigation plan\n\n## Forecast\n\n| Period | Borehole forecast (m³) | Basis |\n"
                           "|---|---|---|\n| Full year | 14,400 | Tunnel 9 in full use from January |\n",
        "Canteen": "# Canteen\n\n## Hours\n\nThe canteen opens at 07:00 from 4 May and serves 120 staff.\n",
    })
    links = [lk for lk in find_links(stated, [], corpus) if lk.relation == "over-limit"]
    assert links, [(lk.relation, lk.shared) for lk in find_links(stated, [], corpus)]
    assert links[0].consequence.startswith("the borehole figure is above the limit"), links[0].consequence


def test_a_weight_past_a_machines_derated_safe_working_load_links_with_no_word_in_common() -> None:
    """Seen on a company the code was not developed on: an examination report derates a lifting machine ("the safe
    working load of the machine is derated to 28 tonnes") and another team's booking lifts a 31.5-tonne load; the
    two share only the unit."""
    corpus, stated = _stated({
        "Examination report": "# Thorough examination: gantry GC-2\n\n## Defects\n\nUntil the chain is replaced, "
                              "the safe working load of the machine is derated to 18 tonnes.\n",
        "Bookings": "# Bookings\n\n## Notes\n\nKestrel Star (new customer from June): the owner's surveyor confirms "
                    "a lift weight of 21.5 tonnes with the tanks empty.\n",
        "Canteen": "# Canteen\n\n## Hours\n\nThe canteen opens at 07:00 from 4 May and serves 120 staff.\n",
    })
    links = [lk for lk in find_links(stated, [], corpus) if lk.relation == "over-limit"]
    assert links, [(lk.relation, lk.shared) for lk in find_links(stated, [], corpus)]
    heavy = _f("Bookings from 21 October onwards are all under 12 tonnes and lift on the standard slings.")
    limit = _f("Until the chain is replaced, the safe working load of the machine is derated to 18 tonnes.")
    assert links_module._past_limit(limit, heavy) is None


@pytest.mark.parametrize(("limit", "figure"), [
    ("Contract mileage: 15,000 miles per vehicle per annum, i.e. 60,000 miles over a 48-month term.",
     "Priya Nair (Home base: Ely; Van: KV-12; Estimated annual mileage (46 working weeks): 27,400)"),
    ("Week 49 (Forecast occupied: 18,100; Free working positions: 1,900)",
     "The seasonal reserve of 3,100 positions is a firm commitment in the contract from week 47."),
    # a policy's vehicle description against a new van's gross weight
    ("Vehicles insured: cars, and goods vehicles not exceeding 7,500 kg gross vehicle weight.",
     "The Tessar XL tipper is a diesel truck with a gross weight of 8,600 kg and a payload of 3,100 kg."),
])
def test_a_figure_past_an_allowance_or_the_free_space_left_is_past_the_limit(limit: str, figure: str) -> None:
    """Seen on a company the code was not developed on: a hire contract's mileage allowance against a plan's
    estimated mileage per van, and a warehouse's free positions in its peak week against a new customer's reserve."""
    assert links_module._past_limit(_f(limit), _f(figure)) in ("ceiling", "room")


def test_a_vehicle_heavier_than_a_policys_weight_limit_is_over_it_though_the_words_are_common() -> None:
    """Seen on a company the code was not developed on: "weight" and "gross" are in many of its documents, so the
    policy's vehicle description and the new van's gross weight shared no rare word."""
    corpus, stated = _stated({
        "Insurance": "# Motor insurance\n\nVehicles insured: cars, and goods vehicles not exceeding 7,500 kg gross "
                     "vehicle weight.\n",
        "Fleet plan": "# Fleet plan\n\nThe Tessar XL is a tipper with a gross weight of 8,600 kg.\n",
        **{f"Weights {k}": f"# Note {k}\n\nThe gross weight of pallet lot {k} was 640 kg on {k + 1} May.\n"
           for k in range(4)},
    })
    links = [lk for lk in find_links(stated, [], corpus) if lk.relation == "over-limit"]
    assert any({lk.a.doc_title, lk.b.doc_title} == {"Insurance", "Fleet plan"} for lk in links), \
        [(lk.relation, lk.a.doc_title, lk.b.doc_title) for lk in find_links(stated, [], corpus)]


def test_a_daily_limit_is_not_passed_by_a_figure_that_is_no_days() -> None:
    """Seen on a company the code was not developed on: "daily limit 90 m³" on an abstraction licence against a
    heat pump's "200 m³ thermal store" at the same site, read as the site above its limit."""
    limit = _f("P7 (Site: Dene Farm; Permit: Water abstraction licence (borehole); Conditions: annual limit 12,000 m³; "
               "daily limit 60 m³)")
    store = _f("Dene Farm: replace the two gas boilers with air-source heat pumps and a 150 m³ thermal store by "
               "March 2027.")
    assert (relate(limit, store, "Dene Farm") or ("", ""))[1] != "over-limit"


def test_a_notice_period_is_not_passed_by_an_item_number() -> None:
    """Seen on a company the code was not developed on: a licence's "at least 24 hours' notice" against an
    examination's defect row ("item 7", "paragraph 6"), read as a figure short of the minimum."""
    rule = _f("11.4 The Holder shall give the Office at least 24 hours' notice of the vehicle's return.")
    row = _f("D1 (Defect: Chain set B worn (item 7); Category: Defect which could become a danger (Schedule 1, "
             "paragraph 6); Action required: Replace chain set B. Until replacement, the safe working load is derated "
             "to 8 tonnes)")
    assert (relate(rule, row, "shall") or ("", ""))[1] != "over-limit"
    assert links_module._past_limit(rule, row) is None


@pytest.mark.parametrize(("leaver", "holder", "entity"), [
    ("K. Varley (Role: Senior Kiln Technician; Location: Stowe; Reason: Retirement (age 65); Last working day: 26 "
     "February 2027)",
     "Kath Varley (Status: ATS certified; Certified since: 2009; Notes: Senior Technician; trained on the scrubber)",
     "Varley"),
    ("Owen Pryce (Post: Dockmaster, Carrow; Service: 28 years; Leaving date: 31 March 2027; Reason: Retirement)",
     "Authorised pilots (Position at 30 September 2026: One: OP (Dockmaster, Carrow))", "Dockmaster"),
    ("Martin Hale (Role: Plant Foreman; Department: Depot; Reason: Resignation; Last working day: 14 November 2026)",
     "Appointed person (lifting operations) (Person(s): Martin H., Plant Foreman; Qualification: CPCS A61 Appointed "
     "Person card, valid to 2028)", "Martin"),
    ("Tomasz Wrobel (Role: Senior Boiler Technician; Reason: Retiring; Last working day: 30 April 2027)",
     "Steam system authorised person: isolation and draining (Anna K.: -; Tomasz W.: A; Ben R.: S)", "Tomasz"),
])
def test_a_leaver_whose_certificate_another_team_counts_on_is_a_risk(
        leaver: str, holder: str, entity: str) -> None:
    """Seen on two companies the code was not developed on: HR's retirement row, and a rota that counts the same
    person among the only certified technicians, or a safety system that lists them as the one authorised pilot."""
    rel = relate(_f(leaver), _f(holder), entity)
    assert rel is not None and rel[:2] == ("risk", "leaver"), rel
    assert "certificate" in rel[2], rel


def test_where_a_leaver_worked_is_not_who_leaves() -> None:
    rel = relate(_f("S. Whitby (Role: Arranger; Location: Lydney Central; Reason: Resignation; Last working day: 4 "
                    "December 2026)"),
                 _f("The stack test at Lydney Central by Calder Testing Ltd (MCERTS accredited) must be repeated "
                    "by 16 July 2027."), "Lydney")
    assert rel is None or "certificate" not in rel[2], rel


def test_a_certified_colleague_who_stays_is_no_leaver() -> None:
    rel = relate(_f("K. Varley (Role: Senior Kiln Technician; Location: Stowe; Service: 16 years; Next review: 26 "
                    "February 2027)"),
                 _f("Kath Varley (Status: ATS certified; Certified since: 2009; Notes: trained on the scrubber)"),
                 "Varley")
    assert rel is None or "certificate" not in rel[2], rel


def test_a_volume_past_a_rebate_threshold_in_another_teams_contract_is_an_opening() -> None:
    """Seen on a company the code was not developed on: procurement's fuel-card contract pays a rebate "if the year's
    volume is 220,000 litres or more", and the fleet's register projects 236,000 litres for the year; neither team
    sees the rebate to claim."""
    corpus, stated = _stated({
        "Contracts register": "# Contracts\n\n## Register\n\n| Ref | Supplier | Terms |\n|---|---|---|\n"
                              "| K-12 | Brindle Fuel Cards | Volume rebate of 4.5p a litre on all diesel drawn in a "
                              "contract year if the year's volume is 150,000 litres or more; claimed in writing |\n",
        "Fleet report": "# Fleet report\n\n## Fuel\n\nProjected full year 2026: 171,000 litres of diesel (2025 "
                        "full year: 139,800 litres).\n",
        "Canteen": "# Canteen\n\n## Hours\n\nThe canteen opens at 07:00 from 4 May and serves 120 staff.\n",
    })
    links = [lk for lk in find_links(stated, [], corpus) if lk.relation == "threshold"]
    assert links and links[0].kind == "opportunity", [(lk.relation, lk.kind) for lk in find_links(stated, [], corpus)]


def test_a_volume_short_of_the_rebate_threshold_is_no_opening() -> None:
    threshold = _f("K-12 (Supplier: Brindle Fuel Cards; Terms: Volume rebate of 4.5p a litre on all diesel drawn in a "
                   "contract year if the year's volume is 150,000 litres or more)")
    short = _f("Brindle Fuel Cards: projected full year 2026: 121,000 litres of diesel.")
    assert (relate(threshold, short, "Brindle Fuel Cards") or ("", ""))[1] != "threshold"


def test_hired_in_kit_meets_own_kit_whose_idleness_is_reported_as_lost_revenue() -> None:
    """Seen on a company the code was not developed on: a tender prices two hoists as a cross-hire (with their
    breakdown cover) while the hoist division warns that three of its own units will stand idle, as lost revenue.
    Alone the idle units are a risk; against the hire they are an opening."""
    corpus, stated = _stated({
        "Tender register": "# Tender register\n\n## Bid T-88\n\nCranes: our own cranes were said to be committed, "
                           "so two cranes are priced as a cross-hire from Tamar Lifting at £1,900 per crane per week "
                           "including breakdown cover.\n",
        "Crane fleet utilisation and off-hire forecast": "# Crane fleet utilisation and off-hire forecast\n\n## "
                           "Actions\n\nFinance to reflect lower Q1 hire revenue if the three units stand idle: about "
                           "£14,200 a month of lost revenue at current TC-40 rates.\n",
    })
    links = [lk for lk in find_links(stated, [], corpus) if lk.relation == "demand-meets-supply"]
    assert links and links[0].kind == "opportunity", [(lk.relation, lk.kind) for lk in find_links(stated, [], corpus)]


def test_an_allergen_promise_to_customers_is_contradicted_by_the_new_suppliers_shared_line() -> None:
    """Seen on a company the code was not developed on: the menu tells customers the bakery range is sesame-free;
    procurement's register says the new bakery bakes on a line shared with sesame. The two share no name, only the
    rare words for the products, and the title names them as written, not by their stems."""
    corpus, stated = _stated({
        "Menu and allergens": "# Menu\n\n## Allergens\n\nCustomer reassurance: the whole of our pastry range "
                              "(pasties, sausage rolls and tarts) is peanut-free, and staff can confirm this to "
                              "customers.\n",
        "Supplier register": "# Suppliers\n\n## Food\n\n| Supplier | Category | Since | Notes |\n|---|---|---|---|\n"
                             "| Kerrow Pies Ltd | Pastry: pasties, sausage rolls and tarts | 3 Nov 2026 | Produced on "
                             "a shared line with peanut products; cross-contact cannot be excluded |\n",
    })
    (lk,) = [lk for lk in find_links(stated, [], corpus) if lk.relation == "contradiction"]
    assert "pastr" not in lk.consequence.replace("pastry", ""), lk.consequence


@pytest.mark.parametrize(("deadline", "trouble", "place"), [
    ("Diocese of Lydford churchyard rules: sales consultants must check each stone before the order is taken by "
     "30 November.", "D. Marsh (Role: Service Operative; Location: Lydford; Reason: Resignation; Last working day: "
     "4 December 2026)", "Lydford"),
    ("Q3-02 (Date: 7 Jul; Enquirer: Ferlow Logistics Ltd (Dunmore); Request: hold their trailers by 30 November)",
     "Kerrow Bakery Ltd (Dunmore) (Category: Bakery; Since: 3 Nov 2026; Notes: replaces Dunn's Bakehouse, owner "
     "retired)", "Dunmore"),
])
def test_where_a_record_happens_is_no_commitment_a_deadline_there_puts_at_risk(deadline: str, trouble: str,
                                                                                place: str) -> None:
    rel = relate(_f(deadline), _f(trouble), place)
    assert rel is None or rel[1] != "obligation", rel


def test_whom_a_thing_was_bought_from_is_not_what_it_is() -> None:
    """Seen on a company the code was not developed on: tube bought at a plant-hire firm's auction
    ("Source: Hexley Plant Hire — auction lot 44") was read as hired machinery, and met the idle hoists."""
    corpus, stated = _stated({
        "Yard batch log": "# Yard batch log\n\n## Batches\n\n| Batch | Date in | Source | Quantity | Status |\n"
                          "|---|---|---|---|---|\n| TB-0417 | 14 Oct | Carrow Plant Hire (in liquidation), bought at "
                          "auction, lot 44 | 1,180 | In general stock |\n",
        "Crane fleet utilisation and off-hire forecast": "# Crane fleet utilisation and off-hire forecast\n\n## "
                          "Actions\n\nFinance to reflect lower Q1 hire revenue if the three units stand idle: about "
                          "£14,200 a month of lost revenue at current TC-40 rates.\n",
    })
    assert not [lk for lk in find_links(stated, [], corpus) if lk.relation == "demand-meets-supply"]


def _uninsured(insurance: str, practice: str, title: str = "Insurance schedule") -> list[Link]:
    corpus, stated = _stated({
        title: f"# {title}\n\n## Exclusions and conditions\n\n{insurance}\n",
        "Operations plan": f"# Operations plan\n\n## Practice\n\n{practice}\n",
        "Canteen": "# Canteen\n\n## Hours\n\nThe canteen opens at 07:00 from 4 May and serves 120 staff.\n",
    })
    return [lk for lk in find_links(stated, [], corpus) if lk.relation == "uninsured"]


@pytest.mark.parametrize(("insurance", "practice"), [
    # two rare words of the exclusion in the practice, the practice not the exception the exclusion allows
    ("Exclusion 4: loss or damage arising from the charging of lithium-ion batteries other than in a purpose-built "
     "charging cabinet is not covered.",
     "From 1 June the eFoil batteries will be charged overnight in stockroom B, 12 at a time."),
    # a rare word and a duration past the condition's limit
    ("Condition 9: loaded trailers left as static storage for more than 72 hours are not covered unless the "
     "insurer has agreed in writing.",
     "Loaded trailers may be parked in Zone D for up to five days while the new dock is built."),
    ("Cover for any building left unoccupied for more than 45 consecutive days is restricted to fire, lightning "
     "and explosion.",
     "The Northfield building will be closed and left unoccupied for 14 weeks from 3 March for re-roofing."),
    ("Work at height above 3 metres is excluded from the public liability cover for grounds maintenance.",
     "Grounds maintenance crews carry out crown reductions at height, typically 8-10 metres, from April."),
])
def test_a_practice_that_falls_foul_of_an_insurance_exclusion_is_uninsured(insurance: str, practice: str) -> None:
    """An exclusion or condition of cover in the insurance schedule, and another team's practice that does what it
    excludes: neither reads as trouble alone, together the practice is not insured."""
    links = _uninsured(insurance, practice)
    assert links, insurance
    assert {links[0].a.doc_title, links[0].b.doc_title} == {"Insurance schedule", "Operations plan"}
    assert links[0].kind == "risk" and "insurance covers" in links[0].consequence


def test_a_fact_is_indexed_on_an_uncommon_word_only_when_an_exclusion_uses_it() -> None:
    # every fact keyed on every uncommon word it has would double the index for a join few facts make
    practice = "From 1 June the eFoil batteries will be charged overnight in stockroom B, 12 at a time."
    corpus, stated = _stated({
        "Operations plan": f"# Operations plan\n\n## Practice\n\n{practice}\n",
        "Stock list": "# Stock list\n\n12 eFoil boards and their batteries are in stockroom B.\n"})
    plain = next(s for s in stated if "charged" in s.fact.text)
    assert not [k for k in index_keys(plain.fact, corpus) if k.startswith("?")]
    corpus, stated = _stated({
        "Insurance schedule": "# Insurance schedule\n\n## Exclusions\n\nExclusion 4: loss arising from the charging "
                              "of lithium-ion batteries other than in a purpose-built cabinet is not covered.\n",
        "Operations plan": f"# Operations plan\n\n## Practice\n\n{practice}\n"})
    plain = next(s for s in stated if "charged" in s.fact.text)
    assert {k for k in index_keys(plain.fact, corpus) if k.startswith("?")} == {"?batteri", "?charg"}


def test_a_practice_posted_before_the_insurance_document_arrives_still_meets_its_exclusion() -> None:
    # a continuous run ingests the insurance schedule after the practice was posted and indexed
    from personas.runtime.claims import Blackboard, Library, Posted
    from workspace.labels import LabelScheme

    library = Library(LabelScheme(compartments=("ops",)))
    label = library.scheme.parse("internal/ops")
    docs = {
        1: "# Operations plan\n\n## Practice\n\nFrom 1 June the eFoil batteries will be charged overnight in "
           "stockroom B, 12 at a time.\n",
        2: "# Canteen\n\n## Hours\n\nThe canteen opens at 07:00 from 4 May and serves 120 staff.\n",
        3: "# Insurance schedule\n\n## Exclusions\n\nExclusion 4: loss or damage arising from the charging of "
           "lithium-ion batteries other than in a purpose-built charging cabinet is not covered.\n",
        4: "# Battery log\n\nThe spare batteries were counted on 3 May.\n",
    }
    for k in range(5, 12):
        docs[k] = f"# Note {k}\n\nThe team met on {k} May and agreed the rota for week {k + 2}.\n"
    board = Blackboard(library)

    def post(doc: int) -> list[Stated]:
        library.add_document(doc, docs[doc].split("\n")[0][2:], docs[doc], label,
                             [{"id": doc, "start": 0, "text": docs[doc]}])
        spans = [library.facts[k] for k in library.by_document[doc]]
        return board.add(Posted(len(board.posted) + i, s, 0, 0, 0, "role", f"dept{doc}", 1)
                         for i, s in enumerate(spans))

    for doc in (1, 2, 4, *range(5, 12)):
        post(doc)
    fresh = post(3)
    assert [lk.relation for lk in board.links(fresh)] == ["uninsured"]


@pytest.mark.parametrize(("insurance", "practice", "title"), [
    # the practice complies: charged in the cabinet the exclusion allows
    ("Exclusion 4: loss or damage arising from the charging of lithium-ion batteries other than in a purpose-built "
     "charging cabinet is not covered.",
     "From 1 June the eFoil batteries will be charged overnight in the purpose-built cabinet, 12 at a time.",
     "Insurance schedule"),
    # within the condition's limit
    ("Condition 9: loaded trailers left as static storage for more than 72 hours are not covered unless the "
     "insurer has agreed in writing.",
     "Loaded trailers may be parked in Zone D for up to 48 hours while the new dock is built.",
     "Insurance schedule"),
    # one common word only
    ("Exclusion 4: loss or damage arising from the charging of lithium-ion batteries other than in a purpose-built "
     "charging cabinet is not covered.",
     "The stockroom will be repainted from 1 June at a cost of £4,000.", "Insurance schedule"),
    # the same words in a document that is no insurance: a rule, not cover
    ("Exclusion 4: loss or damage arising from the charging of lithium-ion batteries other than in a purpose-built "
     "cabinet is the supplier's liability.",
     "From 1 June the eFoil batteries will be charged overnight in stockroom B, 12 at a time.", "Supply contract"),
    # the practice says it is not done
    ("Condition 9: loaded trailers left as static storage for more than 72 hours are not covered unless the "
     "insurer has agreed in writing.",
     "Loaded trailers must not be parked in Zone D for more than two days while the new dock is built.",
     "Insurance schedule"),
    # a limit is fallen foul of only past it: the perils cover keeps, or a rate, are no stay past it
    ("Cover for any building left unoccupied for more than 45 consecutive days is restricted to fire, lightning "
     "and explosion.",
     "The fire escape plan for the Northfield building will be reviewed before the re-roofing starts.",
     "Insurance schedule"),
    ("Condition 9: loaded trailers left as static storage for more than 72 hours are not covered unless the "
     "insurer has agreed in writing.",
     "Loaded trailers in Zone D are watched by CCTV 24 hours a day while the new dock is built.",
     "Insurance schedule"),
])
def test_a_practice_that_complies_or_shares_little_with_an_exclusion_is_not_uninsured(insurance: str, practice: str,
                                                                                       title: str) -> None:
    assert not _uninsured(insurance, practice, title)


def _consolidate(ledger_rows: str, own_row: str = "") -> list[Link]:
    """A supplier's rebate tiers (procurement) and another team's spend by supplier (finance)."""
    corpus, by_doc = _stated({
        "Supply agreement": "# Supply agreement — Quillfield Trade Ltd\n\n## Scope\n\nSupply of marking paints, "
                            "line tapes, floor sealants, anti-slip coatings and degreasers to all depots.\n\n"
                            "## Rebate\n\nA retrospective rebate is paid on total spend in each calendar year:\n\n"
                            "| Annual spend | Rebate on all spend |\n|---|---|\n| Below £120,000 | Nil |\n"
                            "| £120,000 to £199,999 | 3% |\n| £200,000 and above | 5% |\n",
        "Spend analysis": "# Spend analysis\n\n## Spend by supplier\n\n| Supplier | What we buy | Spend | Notes |\n"
                          "|---|---|---|---|\n" + (own_row or "| Quillfield Trade Ltd | Marking paints, line tapes, "
                                                            "floor sealants, degreasers | £96,500 | Main account |\n")
                          + ledger_rows,
        "Canteen": "# Canteen\n\n## Hours\n\nThe canteen opens at 07:00 from 4 May and serves 120 staff.\n",
        "Depot safety": "# Depot safety\n\n## Floors\n\nThe depots repaint floor markings with marking paints each "
                        "spring; anti-slip coatings are checked monthly.\n",
    })
    # one key per fact: two rows of one table are two facts
    stated = [Stated(i, s.doc, s.doc_title, s.department, s.label_key, s.fact) for i, s in enumerate(by_doc)]
    return [lk for lk in find_links(stated, [], corpus, limit=10) if lk.relation == "consolidate"]


def test_spend_with_another_supplier_of_the_same_goods_would_pass_a_rebate_tier() -> None:
    """Procurement's supplier pays a rebate once the year's spend reaches £120,000; finance's analysis shows
    £96,500 with it and £41,200 of the same goods bought elsewhere: moved, the spend passes the tier."""
    links = _consolidate("| Drayhurst Coatings | Marking paints, anti-slip coatings, line tapes | £41,200 | Depot "
                         "accounts |\n")
    assert links, "no consolidate link"
    lk = links[0]
    assert lk.kind == "opportunity"
    texts = {lk.a.fact.text, lk.b.fact.text}
    assert any("Drayhurst" in t and "£41,200" in t for t in texts), texts
    assert any("£120,000" in t for t in texts), texts
    assert "drayhurst" in lk.consequence.lower() and "rebate" in lk.consequence


def test_spend_past_the_tier_already_or_far_below_or_on_other_goods_is_no_consolidation() -> None:
    # spend with the supplier already past the top tier
    assert not _consolidate("| Drayhurst Coatings | Marking paints, anti-slip coatings, line tapes | £41,200 | |\n",
                            own_row="| Quillfield Trade Ltd | Marking paints, line tapes, floor sealants | £212,000 "
                                    "| Main account |\n")
    # far below the first tier even with the other supplier's spend
    assert not _consolidate("| Drayhurst Coatings | Marking paints, anti-slip coatings, line tapes | £4,200 | |\n",
                            own_row="| Quillfield Trade Ltd | Marking paints, line tapes, floor sealants | £31,000 "
                                    "| Main account |\n")
    # another supplier of unrelated goods
    assert not _consolidate("| Hexmoor Workwear | PPE, gloves, hand tools, ladders | £41,200 | Card spend |\n")
    # the same supplier on another account
    assert not _consolidate("| Quillfield Trade Ltd (depot account) | Marking paints, anti-slip coatings, line "
                            "tapes | £41,200 | Depot accounts |\n")
