"""What a business sentence states: its kind (a risk, an opportunity, or neither: good news and resolved incidents
are neither), its severity, the names it carries, and corpus statistics that tell a drill report from a real one.
The example sentences are generic business prose written for these tests."""

from __future__ import annotations

import pytest

from personas.context.facts import Corpus, Fact, entity_keys, fact, facts


def _fact(text: str, **kw: object) -> Fact:
    f = fact(text, **kw)  # type: ignore[arg-type]
    assert f is not None, text
    return f


@pytest.mark.parametrize("text", [
    "The conveyor outage on 3 May was resolved within two hours and the root cause was fixed.",
    "The fire drill on 14 June went as planned and the building was clear in four minutes.",
    "Complaints fell 20% in Q3 and all 41 complaint files were closed within the 30-day target.",
    "Scrap costs dropped by 12% after the new cutting tables arrived in April.",
    "Sales rose 9% in the quarter, ahead of plan in every region.",
    "In August the team earned rebates of $63,600 on approved invoices.",
    "Another manufacturer in Ohio recalled its heaters; we do not sell heaters.",
    "Release 1.8 fixes three interface defects reported by clinics in May.",
    "There were two lost-time injuries at the plant in 2024 (2023: five).",
    "Customer complaints: 38 in the year (prior year: 61).",
    "Passenger injury incidents were 0.41 per 100,000 miles against a target of 0.50.",
    "Order intake was £612k against a target of £560k, the best week since March.",
    "Employer's liability cover for injury to staff is £10m, with a nil excess and a premium of £168,000.",
    "2019: warning letter following an annual test pass rate below 90% — closed in 2020.",
    "3 drivers with 3 penalty points (speeding, private vehicles) — noted, no action under policy; 2 renewals due.",
    "Ambleside has recovered fully from the April closure, with sales of £412k in May.",
    "The commercial pipeline is worth £2.9m in annual value across 14 live opportunities, up from £2.4m in June.",
    "No brake or steering defects were found at the 42 inspections in December.",
    "The shutdown request has been submitted to Facilities through the standard change form.",
    "Casual pickers are paid $31.40 an hour plus weekend penalty rates during harvest.",
    "All supply agreements include mediation and dispute resolution clauses, reviewed by legal in 2023.",
    "Consider raising the product recall limit to £2m as export sales grow.",
    "A retailer moved its northern volume to us last year to improve delivery times and reduce losses in transit.",
    "To free space for the larger harvest, the 2023 reds were moved to the Mill Lane shed in August 2024.",
    "The Company may deduct £25 for each failed delivery attributable to the Contractor and £50 for each missed "
    "collection.",
    "Breach of exclusivity is a material breach.",
    "Roadside checks 2024/25: 19 vehicle checks, one prohibition (tyre), removed same day.",
    "Peak (November and December) is assumed to be 31% of annual volume.",
])
def test_good_news_and_resolved_or_foreign_events_are_neither_risk_nor_opportunity(text: str) -> None:
    assert _fact(text).kind == "neutral"


@pytest.mark.parametrize("text", [
    "The sole supplier of the control board has no qualified alternate, and qualifying one takes 40 weeks.",
    "Warehouse costs rose 14% in Q3 after the landlord raised the rent.",
    "Online sales fell 11% in September, below the target of $2.1 million.",
    "The billing team estimates that $412,000 of usage cannot be recovered after the three-month limit.",
    "The service agreement with the cleaning contractor expires on 30 June and will not be renewed.",
    "Two customers have asked about cancelling their contracts after the duplicate invoices.",
    "Most of the callers ask for a refund of the 300 orders that shipped late in May.",
    "Holiday pay for 1,200 shift workers was underpaid by about £90,000 since the payroll migration.",
    "There were eleven reportable injuries in the depots in 2024 (2023: four).",
    "Workplace injuries were 14 in the quarter against a target of 6.",
    "Priya Kaur, one of our two CNC programmers, starts maternity leave on 3 November.",
    "Section 25 notice received 14 March 2025: the landlord opposes a new tenancy for the DC and intends to redevelop.",
    "Online sales were $2.1m in Q3, down from $2.6m in Q2, as two large customers cut orders.",
    "Energy costs were £1.4m in the half, up from £0.9m last year, after the tariff reset.",
])
def test_trouble_for_the_business_is_a_risk(text: str) -> None:
    assert _fact(text).kind == "risk"


@pytest.mark.parametrize("text", [
    "Our competitor Brightline will stop selling its budget scanners on 30 June, and 400 clinics use them.",
    "Twelve schools asked for a three-year support contract that we do not offer today.",
    "The training grant of £50,000 lapses on 31 March unless we register the first cohort.",
    "The warehouse holds 2,000 unused pallets of packaging that could be sold back to the maker.",
    "Tax rules let us reclaim a refund of the excess withheld since 2024, about £40,000.",
    "The in-store café at Keighley closed in 2024 and its 1,200 sq ft have stood empty since.",
])
def test_an_opening_for_the_business_is_an_opportunity(text: str) -> None:
    assert _fact(text).kind == "opportunity"


def test_a_competitors_trouble_named_only_in_the_heading_is_still_an_opening() -> None:
    text = "Brightline will stop selling its budget scanners on 30 June."
    assert _fact(text).kind == "risk"
    assert _fact(text, heading="Competitors").kind == "opportunity"
    assert _fact(text, path=("Competitor watch, autumn",)).kind == "opportunity"


def test_a_column_name_is_in_every_row_so_only_a_count_under_it_says_something() -> None:
    row = _fact("Seal kit (Supplier: Norrow Seals; Lots: 39; Agreement ends: 2028)", unit="row")
    assert row.kind == "neutral"
    assert _fact("Seal kit (Supplier: Norrow Seals; Lots: 39; Rejected: 4)", unit="row").kind == "risk"
    assert _fact("Seal kit (Supplier: Norrow Seals; Status: failed the audit on 3 May)", unit="row").kind == "risk"


def test_a_table_cell_that_counts_nothing_states_nothing() -> None:
    zero = fact("Pump motor M-12 (Supplier: Kell Motors; Lots: 48; Rejected: 0)", unit="row")
    assert zero is None or zero.kind == "neutral"
    assert _fact("Pump motor M-12 (Supplier: Kell Motors; Lots: 48; Rejected: 5)", unit="row").kind == "risk"


def test_severity_ranks_single_points_of_failure_with_dates_above_plain_failures_above_background() -> None:
    grave = _fact("The sole supplier of the control board has no qualified alternate, and its contract "
                  "expires on 31 January.")
    plain = _fact("Two small lots were rejected for scratches in August.")
    background = _fact("The warehouse has 14 loading doors and 2 forklifts.")
    assert grave.severity > plain.severity > background.severity


def test_severity_falls_when_the_sentence_says_it_is_resolved() -> None:
    open_ = _fact("The packing line failed twice in May, stopping 300 orders.")
    closed = _fact("The packing line failed twice in May, stopping 300 orders; the fault was fixed on 2 June.")
    assert closed.severity < open_.severity


def test_entity_keys_name_codes_and_names_but_not_sentence_openers() -> None:
    keys = entity_keys("Kestrel Refrigeration Ltd shipped PS-40 sensors to Bay 4.")
    assert {"kestrel refrigeration", "kestrel", "ps-40", "bay 4"} <= set(keys)
    assert entity_keys("Average 41 bags a week were sold.") == ()
    assert entity_keys("Key conditions") == () and entity_keys("Main terms") == ()  # headings, not names


def test_a_range_of_fleet_or_asset_numbers_is_a_name_and_a_range_of_years_is_not() -> None:
    """Two teams name the same nine coaches by their fleet numbers, one with an en dash and one with a hyphen."""
    assert "7101-7109" in entity_keys("We will resource Lot 4 with the nine coaches (fleet numbers 7101–7109).")
    assert "7101-7109" in entity_keys("G (Type: Plaxton Panther; Fleet nos: 7101-7109; Qty: 9)")
    assert not [k for k in entity_keys("Revenue in 2024–2025 rose; the 1,500-2,000 range holds.") if "-" in k]


def test_facts_carry_offsets_section_and_what_the_rest_of_the_paragraph_says() -> None:
    text = ("# Sales notes\n\n## Demand\n\nNine clinics asked for 300 refurbished scanners at under $800 each. "
            "Several of them already run 40 older scanners.\n\nNo action.\n")
    fs = facts(text)
    assert [text[f.start:f.end] for f in fs] == [f.text for f in fs]
    older = next(f for f in fs if f.text.startswith("Several"))
    assert older.path == ("Sales notes", "Demand")
    assert "opp.demand" in older.around and "opp.demand" not in older.cues


def test_a_short_verdict_speaks_for_its_paragraph() -> None:
    text = "Another maker recalled its ventilator batteries on 3 May. Not our product. No action.\n"
    (f,) = facts(text)
    assert "benign" in f.around


def _doc(corpus: Corpus, doc: str, title: str, text: str) -> None:
    corpus.add_document(text, facts(text), doc, title)


def test_a_drill_report_and_a_document_about_other_companies_count_less() -> None:
    corpus = Corpus()
    _doc(corpus, "1", "Evacuation drill, June", "The evacuation drill on 4 June went as planned in 4 minutes.\n")
    _doc(corpus, "2", "Industry digest", "Another supplier in Texas recalled 2,000 heaters in May.\n"
                                         "A competitor of ours in Ohio paid a $2 million penalty in April.\n")
    _doc(corpus, "3", "Maintenance log", "The north press failed on 3 May and 40 orders are late.\n")
    _doc(corpus, "4", "Correction to the May newsletter", "The newsletter said the north plant will close on 1 June; "
                                                          "it closes for two days for a roof repair.\n")
    assert corpus.damping("1") < 1.0
    assert corpus.damping("2") < 1.0
    assert corpus.damping("3") == 1.0
    assert corpus.damping("4") < 1.0  # a correction notice: what was wrong, and what is so


def test_distinctive_names_are_rare_and_never_written_in_lower_case() -> None:
    corpus = Corpus()
    for i in range(10):
        _doc(corpus, str(i), f"Report {i}", f"The plant shipped {i} orders on 3 May to Ardent Foods and the plant "
                                             f"ran well.\n" if i < 2 else f"The plant ran well in week {i}.\n")
    assert corpus.distinctive("ardent foods")
    assert not corpus.is_name("plant")


def test_a_field_every_entry_of_a_register_has_is_a_term_not_news() -> None:
    text = "".join(f"## Contract {k}\n\n- Completion: {k + 1} May 2027. Liquidated damages: ${k + 3},000 per day.\n\n"
                   for k in range(3))
    terms = [f for f in facts(text) if f.text.startswith("Liquidated damages")]
    assert len(terms) == 3
    assert all(f.kind == "neutral" for f in terms)
    alone = facts("## Contract\n\n- Liquidated damages: $3,000 per day if the dock is late.\n")
    assert alone[0].kind == "risk"


def test_a_cap_on_what_the_business_pays_is_no_capacity_risk() -> None:
    for text in ("Under the treaty, tax withheld on royalties paid to a UK company is capped at 10%.",
                 "The board authorised counsel to settle the claim for no more than $420,000.",
                 "Their buyer asked for 900 pumps at no more than $800 each, funded by a state grant."):
        f = fact(text)
        assert f is not None and "risk.capacity" not in f.cues, text
    for text in ("The backup lab can take no more than 150 samples a month from us on its current staffing.",
                 "Goods-in to the freezer chamber is limited to 1,100 pallets per week during the overhaul."):
        f = fact(text)
        assert f is not None and "risk.capacity" in f.cues and f.kind == "risk", text


@pytest.mark.parametrize("text", [
    "No customer has asked for the larger cartons since the spring catalogue.",
    "Nobody requested the spare forklift in October, so it stayed in the yard.",
    "No clinic has asked for the weekend rota this year.",
])
def test_demand_that_the_sentence_denies_is_no_demand(text: str) -> None:
    f = fact(text)  # None when the sentence then states nothing at all
    assert f is None or "opp.demand" not in f.cues, f.cues


@pytest.mark.parametrize("text", [
    "No one was hurt and no fuel reached the drains behind the depot.",
    "Nobody was injured when the shelving collapsed overnight.",
])
def test_nobody_hurt_is_no_gap_in_ownership(text: str) -> None:
    f = fact(text)
    assert f is None or "gap" not in f.cues, f.cues


def test_nobody_owning_a_task_is_still_a_gap() -> None:
    assert "gap" in _fact("No one has been assigned to file the renewal, which is due on 30 June.").cues
    assert "opp.demand" in _fact("Three hospitals asked for the weekend rota in May.").cues
    assert "gap" in _fact("Contact details were passed to Procurement on 5 March. No follow-up is recorded yet.").cues
    assert "gap" in _fact("The €40,000 offer from Kestrel Foods on 2 May was never followed up.").cues


def test_a_buyer_that_would_normally_pay_is_demand() -> None:
    f = _fact("Their engineer said they would normally pay €3–4 per m³ for a steady supply of the by-product.")
    assert "opp.demand" in f.cues and f.kind == "opportunity", (f.cues, f.kind)


def test_a_rows_column_names_are_not_names_of_things() -> None:
    """A column's name is in every row of its table: two rows of two tables that both have a "Counterparty"
    column are not about one thing, and a link must not be said to be "about Counterparty"."""
    f = _fact("Harlow Wind PPA (Counterparty: Brightwater Energy; Detail: delay damages of $42,000 a day from "
              "1 June 2027)", unit="row")
    assert "counterparty" not in f.entities and "detail" not in f.entities, f.entities
    assert "brightwater" in f.entities and "harlow wind ppa" in f.entities, f.entities


@pytest.mark.parametrize("text", [
    "We are averaging 19 to 20 sets a week, so there is little spare capacity.",
    "The line runs two shifts and has almost no spare capacity left in March.",
    "There is hardly any free capacity on the washer until the new unit arrives in May.",
])
def test_little_spare_capacity_is_a_limit_not_an_idle_asset(text: str) -> None:
    f = _fact(text)
    assert "opp.unused" not in f.cues and "risk.capacity" in f.cues, f.cues


@pytest.mark.parametrize("text", [
    "We have run job advertisements since March; we have had 6 inquiries and 2 interviews.",
    "The vacancy for a second pharmacist drew interest in the role from 3 applicants, none qualified.",
])
def test_interest_in_a_job_is_no_customer_demand(text: str) -> None:
    f = fact(text)
    assert f is None or "opp.demand" not in f.cues, f.cues


@pytest.mark.parametrize(("text", "breach"), [
    ("North Quay store (Sum insured (set 1 April 2024): £3.1m; Value at risk at 31 Dec 2024: £8.6m)", True),
    ("South Quay store (Sum insured (set 1 April 2024): £9.0m; Value at risk at 31 Dec 2024: £8.6m)", False),
])
def test_a_sites_value_at_risk_above_its_sum_insured_is_a_breach(text: str, breach: bool) -> None:
    """Seen on a company the code was not developed on: a register row gives the sum insured set at the start of
    the year, with the date in brackets, and the value at risk now; the claim would be scaled down."""
    f = fact(text, unit="row")
    assert f is not None
    assert ("risk.compliance" in f.cues and f.kind == "risk") == breach, f


@pytest.mark.parametrize(("text", "breach"), [
    ("Debt service coverage for FY2027 is projected at 1.17x, against the 1.25x rate covenant in section 7.03.", True),
    ("Coverage was 1.42x in FY2026 against the 1.25x covenant.", False),
    ("Coverage falls to 1.17x in FY2027 against the 1.25x covenant.", True),
    ("Effluent ammonia averaged 1.9 mg/L in July against a limit of 1.4 mg/L.", True),
    ("Effluent ammonia averaged 0.6 mg/L in July against the 1.4 mg/L limit.", False),
    ("Staffing stands at 14 nurses per shift, below the required minimum of 16.", True),
    ("Sales were $4.1 million against $3.8 million a year earlier.", False),
    # a register row: the bound in one cell, the figures in others
    ("Leverage (net debt / EBITDA) (Requirement: not more than 3.25x; 31 Dec 2024 actual: 2.91x; "
     "30 Jun 2025 forecast: 3.38x)", True),
    ("Interest cover (Requirement: at least 4.0x; 31 Dec 2024 actual: 5.2x; 30 Jun 2025 forecast: 4.6x)", False),
    ("Line 3 (Minimum fill: 60%; March fill: 44%; April fill: 52%)", True),
    ("Pump 4 (Maximum flow: 120 l/s; Peak demand 2025: 96 l/s)", False),
    # a figure that its monthly pace takes past the cap in another cell within a month
    ("Brava small van (Units: 212; Mileage cap: 20,000; Average mileage at 30 June: 17,900; Average monthly "
     "mileage (last 3 months): 2,600; Returns from: August)", True),
    ("Tessa hatchback (Units: 420; Mileage cap: 20,000; Average mileage at 30 June: 13,100; Average monthly "
     "mileage (last 3 months): 1,520)", False),
    ("Hopper 2 (Weekly throughput cap: 900; Throughput to date: 610; Units: 4)", False),
])
def test_a_figure_on_the_wrong_side_of_a_covenant_minimum_or_limit_is_a_breach(text: str, breach: bool) -> None:
    f = fact(text)
    assert f is not None
    assert ("risk.compliance" in f.cues and f.kind == "risk") == breach, f


def test_an_asset_rated_in_good_condition_is_a_reassurance_and_its_past_refurbishment_no_opening() -> None:
    f = fact("The 2021 assessment rated the station in good condition, consistent with its last refurbishment in "
             "2009, and it serves about 2,100 homes.")
    assert f is not None and "assurance" in f.cues and f.kind != "opportunity", f
    g = fact("We could sell 400 refurbished scanners to clinics at $900 each.")
    assert g is not None and g.kind == "opportunity"


def test_costs_above_budget_are_no_reassurance_and_a_capped_price_rise_no_capacity_limit() -> None:
    over = fact("Chemical costs are above budget mainly on coagulant and caustic, by $41,000 for the quarter.")
    assert over is not None and "assurance" not in over.cues and over.kind == "risk", over
    ahead = fact("Revenue is above budget by $41,000 for the quarter.")
    assert ahead is not None and "assurance" in ahead.cues
    capped = fact("Hypochlorite is priced at $1.56/gal delivered, with the annual adjustment on 1 July capped at 6%.")
    assert capped is not None and "risk.capacity" not in capped.cues, capped


@pytest.mark.parametrize("text", [
    "Applications close on 15 January 2027; sites that miss the window can next apply for 2028.",
    "Registrations for the rebate scheme close on 1 March; a site that misses the deadline is delayed to 2028.",
    # a sum that lapses unless it is used, though the sentence does not say what kind of money it is
    "A further £14,900 will expire between now and September 2025 unless spent.",
])
def test_a_window_to_apply_or_bid_that_closes_is_an_opening_with_a_deadline(text: str) -> None:
    f = fact(text)
    assert f is not None and "opp.use-or-lose" in f.cues and f.kind == "opportunity", f


def test_a_cue_that_ends_in_a_symbol_still_matches() -> None:
    # a cue ending in "%" has no word boundary after it: "Utilization: 4%" must still read as idle capacity
    f = _fact("EX-14 (Model: Cat 320 (2022); Location: Harmony yard; August hours: 7; Utilization: 4%)")
    assert "opp.unused" in f.cues, f.cues


def test_a_cue_that_ends_in_a_space_still_matches() -> None:
    # "want an " ends in a space: the word after it follows at once, and the cue must still match
    f = _fact("Both buyers want an alternative supplier with samples within four weeks and first deliveries in August.")
    assert "opp.demand" in f.cues, f.cues


@pytest.mark.parametrize("text", [
    "On 3 September the supplier's controller called to ask whether the September invoice could be paid on "
    "submission, before approval.",
    "Northgate Plastics asked to be paid in advance for the October batch, the first time in eleven years.",
    "The haulier has requested early payment of its last three invoices.",
])
def test_a_payee_asking_to_be_paid_sooner_is_cash_strain_not_demand(text: str) -> None:
    f = _fact(text)
    assert "opp.demand" not in f.cues and "risk.exposure" in f.cues, f.cues
    assert f.kind == "risk", (f.kind, f.cues)


@pytest.mark.parametrize("text", [
    "FS-24-035 (Date: 3 Dec; Enquirer: Pellegrini Foodservice Ltd; Product asked for: Low-moisture mozzarella; "
    "Volume: 55 t/month, 2-year deal; Outcome: Declined 16 Dec)",
    "We declined the enquiry from Harlow Catering for 40 t a month of grated cheese on 3 March.",
])
def test_business_we_declined_is_demand_turned_away_not_a_fall(text: str) -> None:
    f = _fact(text)
    assert "risk.fall" not in f.cues and "opp.demand" in f.cues, f.cues


def test_a_fall_is_still_a_fall() -> None:
    assert "risk.fall" in _fact("Export volumes declined by 12% in Q3 as two buyers left.").cues
    assert "opp.unused" in _fact("PF-1 (Available shifts: 130; Shifts run: 52; Utilisation: 40%)").cues


@pytest.mark.parametrize(("text", "kind"), [
    ("Either party may terminate for material breach not remedied within 30 days.", "neutral"),
    ("9.4 If clause 9.2 is not met, Hollins may suspend orders immediately and terminate the agreement on 30 days' "
     "written notice.", "neutral"),
    # a condition with a date on it is a clock running, not boilerplate
    ("If the set is not redeemable on all platforms by 1 November, Brisa is entitled to liquidated damages of "
     "£150,000.", "risk"),
    ("Hollins terminated the agreement on 30 days' notice after two late deliveries.", "risk"),
])
def test_a_contract_term_with_no_date_is_a_term_not_an_event(text: str, kind: str) -> None:
    assert _fact(text).kind == kind


def test_recall_cover_or_a_mock_recall_is_no_recall() -> None:
    f = _fact("Recall insurance of at least €5m is required.")
    assert "risk.safety" not in f.cues, f.cues
    costs = fact("The Supplier carries recall costs where the cause is in its control.")
    assert costs is None or "risk.safety" not in costs.cues
    assert "risk.safety" not in _fact("The mock recall exercise on 4 March traced 100% of lot 22B in 3 hours.").cues
    assert "risk.safety" in _fact("Lot 22B was recalled on 4 March after Listeria was found in retail samples.").cues
    assert fact("Clause 11 — Product recall.") is None  # a clause's run-in heading states nothing


@pytest.mark.parametrize("text", [
    "Payroll total: £18.9m (2025 forecast £17.7m), 37.5% of revenue.",
    "Repairs and maintenance: 2.6% of revenue (2025: 2.5%).",
])
def test_a_cost_as_a_share_of_revenue_is_a_ratio_not_a_concentration(text: str) -> None:
    f = fact(text)
    assert f is None or "risk.concentration" not in f.cues, f.cues


def test_one_customer_as_a_share_of_revenue_is_still_a_concentration() -> None:
    assert "risk.concentration" in _fact("Halvergate Engineering accounts for 38% of revenue at Riverside Weir.").cues


@pytest.mark.parametrize(("text", "cue"), [
    ("14 (Supplier: Deltagen Analytical Ltd; Category: External laboratory testing; FY2024 (€): 162,400)", "bought-in"),
    ("Venue cost for the period: 24 days × £760 = £18,240 (budget £17,500).", "bought-in"),
    ("Outlying hotels (Method: Frostline Couriers – temperature-controlled courier; Cost: £2,340 per week fixed)",
     "bought-in"),
    ("QL-0417 (Instrument: HPLC with fluorescence detector; Purchased: Aug 2022, €118,500; Status: Not in routine "
     "use since Oct 2023)", "opp.unused"),
    ("The second press has been mothballed since March 2024 and is powered down.", "opp.unused"),
    ("Carton blanks are shuttled to their unit in Rushden for window patching and returned for gluing.",
     "bought-in"),
    ("Review sub-contracted finishing (binding, lamination) as part of the Period 2 analysis.", "bought-in"),
    ("Samples are sent to a partner laboratory in Leeds for allergen testing, about 60 a month.", "bought-in"),
    ("Spend in quarter: £64,270 (hotel rooms £55,980; subsistence and meal allowances £5,140).", "bought-in"),
    # toll work is done for the business on someone else's line; "bought-in" says so in as many words
    ("13 (Supplier: Kinross Smokehouse; Category: Toll smoking; Spend 2024 (£000): 189)", "bought-in"),
    ("Bought-in product spend rose to £1.2m as overflow work went to two other converters.", "bought-in"),
    # a sum that lapses if nobody uses it is an opening with a deadline, not a loss yet
    ("Due to expire by 31 March 2026 if unused (Amount: £21,600)", "opp.use-or-lose"),
    ("SP-05 (Description: water-jet slicer; Installed: 2023; Status: Operational, not in production)", "opp.unused"),
    ("6 (Machine: Rotary die-cutter; Shifts crewed: 2; OEE: 69%; Loading (booked hours as % of crewed hours): 38%)",
     "opp.unused"),
    # a part that may burst, and a maker's order to stop using what carries it, are dangers
    ("R/25/0114 (Model: Brava; Issue: Front suspension strut may rupture under load; Category: Stop-drive; Vehicles "
     "affected: 146; Remedied: 0)", "risk.safety"),
])
def test_what_is_bought_in_and_what_stands_unused(text: str, cue: str) -> None:
    assert cue in _fact(text).cues, _fact(text).cues


def test_a_category_of_work_paid_for_outside_classes_a_register_row_as_bought_in() -> None:
    """Seen on a company the code was not developed on: a purchase ledger's row whose category cell says the
    supplier does the work for us on its own line; a type column otherwise names no event."""
    doc = ("# Purchase ledger review\n\n| Rank | Supplier | Category | Spend 2024 (£000) |\n|---|---|---|---|\n"
           "| 13 | Kinross Smokehouse | Toll smoking | 189 |\n| 14 | Brae Stationers | Office supplies | 12 |\n")
    rows = [f for f in facts(doc) if f.unit == "row"]
    assert "bought-in" in rows[0].cues and "bought-in" not in rows[1].cues, [f.cues for f in rows]


@pytest.mark.parametrize("text", [
    "From: Lorna Graham, Inbound and Transport Manager, Kingmoor DC To: DC management team",
    "Maintained by: Buying administration (Joanne Hartley) Last updated: 6 June 2025",
    "Prepared by: Gareth Pryce, Finance Director, with Ruth Adeyemi, Management Accountant, 15 October 2025",
])
def test_a_documents_header_lines_are_no_claims(text: str) -> None:
    assert fact(text) is None


@pytest.mark.parametrize("text", [
    "A 15-minute shuttle from the Brook Farm overflow car park would need three single-deckers.",
    "The overflow board store in bay 9 will be used from week 45 for the December build-ahead.",
    "The board noted the closure report for the battery alert on bus 2107 and thanked the engineers.",
    "The DC and overflow unit cost £0.43m a year in rent, and head office £0.06m.",
])
def test_a_place_or_a_paper_named_for_trouble_is_no_trouble(text: str) -> None:
    f = fact(text)
    assert f is None or f.kind == "neutral", f.cues


@pytest.mark.parametrize("text", [
    "The council asked for the menu, supplier details, temperature records and staff sickness records for 3–6 July.",
    "The board asked for pricing and productivity options to offset the £1.1m rise in the pay bill.",
    "Ask HR and operations for a plan to reduce agency labour by 25% in FY2025.",
    "2 farms: member asked for postponement (illness, family bereavement).",
    "The board asked for a rate strategy for 2026 to protect Castle Square against the new opening.",
    "Board members asked for the summary of headroom on each covenant to be included in the next finance report.",
    "The committee asked for a breakdown of the £1.2m overspend by scheme.",
    "MD asked for monthly patronage data for the coastal service from launch, for the council's report.",
    "PR asked for the list in writing with a comparison to two other local hospitals.",
    "The 02/09 stoppage was the largest single loss on Line 2; a request for a retrofit controller quotation has gone "
    "to Kessler UK.",
])
def test_asking_for_records_plans_or_more_time_is_no_customer_demand(text: str) -> None:
    f = fact(text)
    assert f is None or "opp.demand" not in f.cues, f.cues


def test_a_customer_asking_for_a_product_is_still_demand() -> None:
    assert "opp.demand" in _fact("Four restaurant groups asked for a frozen shred, about 30 t a month in all.").cues


def test_a_right_to_end_on_notice_is_a_term_even_with_a_date() -> None:
    assert _fact("Hollins may terminate without cause from April 2027 with six months' notice.").kind == "neutral"
    assert _fact("Hollins gave six months' notice on 3 March 2025 and terminates in September.").kind == "risk"
    # a clause table's row: the right and the date it starts from
    assert _fact("17.1 (Subject: Termination; Summary: Either party on 90 days' notice after 31 March 2026; "
                 "immediately for material breach)").kind == "neutral"


@pytest.mark.parametrize("text", [
    "When the Leeds team rang 50 lapsed members in May as a trial, 14 rejoined on the phone.",
    "Of the 2,300 lapsed subscribers, 1,900 have a valid email address on file.",
])
def test_lapsed_customers_are_a_pool_to_win_back(text: str) -> None:
    f = _fact(text)
    assert f.kind == "opportunity", f


@pytest.mark.parametrize("text", [
    "Under the UK GDPR, a personal data breach must be reported to the regulator within 72 hours unless it is "
    "unlikely to result in a risk to individuals.",
    "Under the Working Time Regulations, drivers may not work more than 60 hours in a week.",
])
def test_what_a_law_says_is_a_standing_rule_not_an_event(text: str) -> None:
    assert _fact(text).kind != "risk"


def test_the_paid_work_of_a_recall_is_no_safety_risk() -> None:
    assert _fact("September recall labour claims: Brava £14,820, Kestrel £9,310.").kind != "risk"
    assert _fact("Kestrel recalled 2,400 heaters in September after two fires.").kind == "risk"


def test_a_plans_objective_is_no_finding() -> None:
    doc = ("## 1. Objectives for Q4\n\n- Generate 3,400 qualified new and used car enquiries (Q4 2024: 3,050).\n"
           "- Keep cost per sale under £160.\n\n## 2. Findings\n\n"
           "We turned away 63 enquiries for electric vans in Q3 because we had none to hire.\n")
    aim = next(f for f in facts(doc) if f.text.startswith("Generate"))
    found = next(f for f in facts(doc) if f.text.startswith("We turned away"))
    assert aim.kind == "neutral", aim
    assert found.kind == "opportunity", found


def test_a_share_a_plan_means_to_reach_is_no_concentration() -> None:
    aim = _fact("Framework and tender work will grow from 22% to 35% of revenue, and we will strengthen the bid team.")
    assert "risk.concentration" not in aim.cues and aim.kind != "risk", aim
    assert "risk.concentration" in _fact("Halden Foods now accounts for 38% of revenue, up from 22%.").cues


def test_a_bad_metric_that_fell_is_good_news() -> None:
    assert _fact("Disputes fell after the desks started emailing delivery photos with each invoice.").kind \
        != "risk"
    assert _fact("Chargebacks rose 40% in the quarter after the new checkout went live.").kind == "risk"
    # a charge for contamination is a fee, no hazard; fewer of them is good news
    assert _fact("Treated timber is now kept in a separate bay, which has reduced contamination charges (none this "
                 "month, against £340 in January).").kind != "risk"
    assert _fact("Contamination charges rose to £4,100 in March after two loads were rejected.").kind == "risk"


def test_the_top_twenty_suppliers_holding_most_spend_is_no_concentration() -> None:
    f = fact("The top 20 suppliers account for 71% of the total.")
    assert f is None or "risk.concentration" not in f.cues
    assert "risk.concentration" in _fact("Our largest customer accounts for 38% of revenue.").cues


@pytest.mark.parametrize("text", [
    "We do not hold a spare; none of the other lines use the same gearbox.",
    "The site does not keep a spare drive motor for the mixer, and the maker quotes 14 weeks.",
])
def test_no_spare_held_is_a_single_point_of_failure(text: str) -> None:
    f = _fact(text)
    assert "risk.single" in f.cues and f.kind == "risk", f


@pytest.mark.parametrize("text", [
    "Requested a formal quote for budget approval from the pump maker.",
    "We requested a quotation for the replacement chiller on 12 May.",
    "I asked the landlord for a rent-free period of three months.",
])
def test_what_the_business_itself_asks_for_is_no_customer_demand(text: str) -> None:
    f = fact(text)
    assert f is None or "opp.demand" not in f.cues, f.cues


def test_a_failed_firm_whose_customers_come_to_us_is_an_opening() -> None:
    doc = ("# Sales notes\n\nHalden Boxes in Derby went into administration on 2 June, and the administrators "
           "have kept the factory running for a few weeks. Two of Halden's customers have called us: Pell Foods "
           "and Morrow Teas, about £1.8m a year between them. Both want an alternative supplier with samples "
           "within four weeks.\n")
    first = next(f for f in facts(doc) if "administration" in f.text)
    assert first.kind == "opportunity", first


def test_the_rest_of_a_failed_rivals_paragraph_is_its_trouble_too() -> None:
    doc = ("# Sales notes\n\nHalden Boxes in Derby went into administration on 2 June. Staff are leaving and its "
           "customers have been told supply is only guaranteed to the end of July. Two of Halden's customers "
           "have called us: Pell Foods and Morrow Teas, about £1.8m a year between them.\n")
    trouble = next(f for f in facts(doc) if "leaving" in f.text)
    assert trouble.kind != "risk", trouble


def test_a_fix_that_is_only_a_condition_is_no_reassurance() -> None:
    # "until the panels are replaced": the fix has not happened; the exclusion stands
    f = _fact("The insurer has excluded fire damage at Castle Court (12 storeys, 70 flats, declared value £9.6m) "
              "until the laminate cladding panels on the north and west elevations are replaced.")
    assert f.kind == "risk", f


@pytest.mark.parametrize("text", [
    "The remaining 40 loaders, with a combined sum insured of £2.1m, would have no theft cover from 1 May 2026 "
    "unless trackers are fitted before then.",
    "From renewal the warehouse will no longer be insured against flood.",
    "The fleet would lose its breakdown cover if the service log is not kept.",
])
def test_cover_that_will_be_lost_is_exposure(text: str) -> None:
    # an insurer's condition: what it would have paid for becomes the company's own loss
    f = _fact(text)
    assert f.kind == "risk" and "risk.exposure" in f.cues, f


@pytest.mark.parametrize("text", [
    "No readings have been submitted since June 2023, and no FiT income has been received since then (previously "
    "about £96,000 a year).",
    "1,960 general needs homes are let below formula rent, at an average of £6.35 a week.",
    "The export rebate has not been claimed since the 2023 filing, about £40,000 a year.",
])
def test_income_owed_but_not_collected_is_money_to_recover(text: str) -> None:
    f = _fact(text)
    assert "opp.saving" in f.cues and f.kind == "opportunity", f


def test_a_machine_named_for_its_work_shares_a_term_with_the_work() -> None:
    # "window patcher" and "window patching", "printer" and "printing": one thing done and the machine that does it
    from personas.context.facts import term_keys
    assert "patch" in term_keys("Window patcher WP-70 is not in use")
    assert "print" in term_keys("the digital printer stands idle")
    assert "cut" in term_keys("the laser cutter stands idle")


def test_leverage_under_its_covenant_is_no_breach_and_over_it_is() -> None:
    # a leverage or gearing covenant is a ceiling; interest cover's is a floor
    within = fact("Leverage 1.15x against a covenant of 2.5x; interest cover 7.9x against 4.0x.")
    assert within is None or within.kind != "risk", within
    over = _fact("Net debt to EBITDA 3.1x against a covenant of 2.5x at the June test date.")
    assert "risk.compliance" in over.cues and over.kind == "risk", over


@pytest.mark.parametrize("text", [
    "Penalty clause: £1,500 per day of late delivery, capped at 10% of order value, plus the customer's right to "
    "cancel and source elsewhere if more than ten days late.",
    "Termination clause: either side may end the agreement on 90 days' notice.",
])
def test_a_labelled_contract_clause_is_a_standing_term_not_an_event(text: str) -> None:
    f = fact(text)
    assert f is None or f.kind != "risk", f


def test_a_reassurance_about_another_thing_does_not_speak_for_the_paragraph() -> None:
    doc = ("Harcourt Mutual has excluded fire damage at Castleway House (12 storeys, £9.6m) until the cladding "
           "panels are replaced. Contents insurance under the tenants' scheme is unaffected.\n\n"
           "The Line 2 conveyor failed on 3 May and stopped packing for six hours. It was resolved within two "
           "hours of the engineer arriving.\n")
    found = facts(doc)
    tower = next(f for f in found if "Castleway" in f.text)
    conveyor = next(f for f in found if "conveyor" in f.text)
    assert "benign" not in tower.around, tower.around
    assert "benign" in conveyor.around, conveyor.around


def test_the_peril_an_insurance_row_covers_is_no_harm() -> None:
    table = ("## Programme\n\n| Cover | Insurer | Limit | Excess | Premium 2025 |\n|---|---|---|---|---|\n"
             "| Fleet motor | Mercia Mutual | Third party unlimited (injury) | £10,000 each claim | £1,412,000 |\n")
    (row,) = [f for f in facts(table) if "Fleet motor" in f.text]
    assert "risk.safety" not in row.cues and row.kind == "neutral", row.cues
    table = ("## Programme\n\n| Cover | Insurer | Limit | Excess | Premium |\n|---|---|---|---|---|\n"
             "| Product contamination and recall | Aldgate Mutual | £2m aggregate | £10,000 | £14,300 |\n")
    (row,) = [f for f in facts(table) if "Product contamination" in f.text]
    assert "risk.safety" not in row.cues, row.cues


def test_a_nil_increase_is_no_rise() -> None:
    f = fact("The rent review on 1 June 2024 was settled at £31,000, a nil increase, and the lease runs to 2029.")
    assert f is not None and "risk.rise" not in f.cues, f and f.cues


def test_a_date_before_a_name_is_no_part_of_it() -> None:
    keys = entity_keys("From 3 March Gang B moves onto the resurfacing list.")
    assert "gang b" in keys and not any(k.startswith("3 ") for k in keys), keys
    assert "2027 holloway" not in entity_keys("The notice ends the lease on 1 May 2027. Holloway & Co will advise.")


def test_function_words_are_no_rare_terms() -> None:
    from personas.context.facts import term_keys
    keys = set(term_keys("We asked whether either depot works together."))
    assert not {"wheth", "whether", "either", "togeth"} & keys, keys
    # "shall" in a licence's clause and a report's is no subject the two share
    keys = set(term_keys("The holder shall give notice; the inspector should and might and would agree."))
    assert not {"shall", "should", "might", "would"} & keys, keys


@pytest.mark.parametrize("text", [
    "Agree the order of the two estates so that the crews are not idle waiting for permits by 4 May.",
    "The drivers are never left idle between the 14 school runs.",
])
def test_what_the_sentence_says_is_not_idle_is_no_idle_asset(text: str) -> None:
    assert "opp.unused" not in _fact(text).cues


def test_a_colleague_asking_whether_in_a_meeting_is_no_customer_demand() -> None:
    assert "opp.demand" not in _fact("JB asked whether delaying the rural phase had any reputational angle in "
                                     "March.").cues
    assert "opp.demand" in _fact("Three hospitals asked whether we could supply the 40-bed module by June.").cues


@pytest.mark.parametrize("text", [
    "On the viaduct both feeds were laid in a single shared trench when the 2019 works were approved.",
    "One fault at the substation would cut both supplies at once and stop the 2 bakeries.",
])
def test_one_event_that_takes_out_both_routes_is_a_single_point_of_failure(text: str) -> None:
    f = _fact(text)
    assert "risk.single" in f.cues and f.kind == "risk", f.cues
    assert "opp.growth" not in f.cues


def test_an_insured_cyber_or_business_interruption_row_is_no_harm() -> None:
    table = ("## Programme\n\n| Cover | Limit | Excess | Premium |\n|---|---|---|---|\n"
             "| Cyber (incl. ransomware, data breach response) | £4m | £20k | £41k |\n"
             "| Business interruption (outage of the plant) | £9m | £50k | £66k |\n")
    for row in facts(table):
        assert row.kind == "neutral", (row.text, row.cues)


def test_a_cell_that_reports_nothing_notified_states_nothing() -> None:
    assert fact("Notification of any material litigation or supplier failure: nothing notified this quarter.") is None


@pytest.mark.parametrize("text", [
    "The lender asked for more detail on the take-up assumptions for the 2026 pack.",
    "They also asked for early warning of any change to the plan within 10 days.",
])
def test_a_lender_asking_for_detail_or_warning_is_no_customer_demand(text: str) -> None:
    assert "opp.demand" not in _fact(text).cues


@pytest.mark.parametrize("text", [
    "V-2201 (Supplier: Orrin Civils; Category: Civils (overflow); Start: Jun 2025; Spend: £0.9m)",
    "Added V-2201 Orrin Civils (overflow civils) to the framework in June 2025.",
])
def test_an_overflow_contractor_is_no_spill(text: str) -> None:
    assert "risk.safety" not in _fact(text).cues


def test_a_storm_overflow_is_still_a_spill() -> None:
    assert "risk.safety" in _fact("The storm overflow at Weir Lane discharged for 31 hours in January.").cues


def test_our_own_retender_of_a_supply_framework_is_no_exposure() -> None:
    assert "risk.exposure" not in _fact("The cable framework re-tender starts in October 2025 (£2.4m a year).").cues
    assert "risk.exposure" in _fact("The council will re-tender the cleaning contract in March 2026.").cues


def test_a_landlord_opposing_the_grant_of_a_new_tenancy_is_an_end_not_an_offer() -> None:
    f = _fact("The landlord's notice dated 3 May 2025 opposes the grant of a new tenancy, intending to redevelop.")
    assert "risk.end" in f.cues and f.kind == "risk", f.cues


@pytest.mark.parametrize("text", [
    "A creditor presented a winding-up petition on 3 April; the hearing is listed for 2 July.",
    "Two county court judgments were registered against Pellham Foundry in February (£31k and £17k).",
])
def test_a_firm_facing_winding_up_or_judgments_is_in_trouble(text: str) -> None:
    assert "risk.end" in _fact(text).cues


def test_no_other_maker_we_have_qualified_is_a_single_source() -> None:
    assert "risk.single" in _fact("No other UK maltster we have qualified makes the 40 t a "
                                  "year we need.").cues


def test_someone_retiring_is_an_end_and_retired_hardware_is_not() -> None:
    assert "risk.end" in _fact("Ruth Penn (Role: Yard Supervisor; Date: 31 July 2025; Reason: Retirement)",
                               unit="row").cues
    assert "risk.end" not in _fact("The cluster lost 11 instances to hardware retirement notices in December.").cues


def test_a_licence_that_names_the_role_it_rests_on_is_a_dependency() -> None:
    assert "dependency" in _fact("The operator licence names the nominated transport manager, held by the "
                                 "Yard Supervisor since 1998.").cues


def test_stock_held_at_a_site_is_a_dependency_and_a_price_held_at_a_level_is_not() -> None:
    assert "dependency" in _fact("All finished stock is held at the Brighton warehouse, 3,400 pallets.").cues
    assert "dependency" not in _fact("Margin per order held at £2.91 after the April price rise of 4.5%.").cues


def test_a_sum_under_a_column_of_savings_to_be_had_is_an_opportunity() -> None:
    row = _fact("E2 (Recommendation: Move the compressors to the night tariff; Estimated saving per year: £40,000; "
                "Capital cost: Nil; Payback: Immediate)", unit="row")
    assert row.kind == "opportunity" and "opp.saving" in row.cues, row.cues
    # a column that names anything else keeps its name out of the reading; a rebate earned is money had
    assert _fact("Kelby Foods (Rebate earned: £4,000; Terms: 30 days; Balance: £12,300)", unit="row").kind == "neutral"


def test_a_row_its_register_grades_high_is_a_grave_risk_and_one_graded_low_is_not() -> None:
    high = _fact("North face, Bench 3 (Finding: Open tension crack 14 m long; Classification: High; Action: See "
                 "section 3)", unit="row")
    plain = _fact("North face, Bench 3 (Finding: Open tension crack 14 m long; Action: See section 3)", unit="row")
    assert "risk.graded" in high.cues and high.severity > plain.severity, (high.cues, plain.cues)
    assert "risk.graded" in _fact("Server room access (Risk rating: Red; Owner: IT; Review: May)", unit="row").cues
    low = _fact("East face, Bench 4 (Finding: Stable; Classification: Low; Action: None)", unit="row")
    assert "risk.graded" not in low.cues and low.kind == "neutral"
    assert "risk.graded" not in _fact("Mill Lane shop (Priority: High Street frontage; Rent: £40,000)",
                                      unit="row").cues


def test_a_post_deleted_is_an_end_and_the_cost_of_a_restructure_is_not() -> None:
    row = _fact("Export Administrator (Location: Halifax; FTE: 1.0; Proposal: Post deleted; paperwork absorbed by "
                "Customer Service; Route: Voluntary redundancy offered)", unit="row")
    assert "risk.end" in row.cues and row.kind == "risk", row.cues
    assert "risk.end" not in _fact("Redundancy and relocation costs are estimated at £138k, including enhanced "
                                   "voluntary terms.").cues


def test_working_without_a_named_licence_is_a_breach_and_a_rule_against_it_is_not() -> None:
    assert _fact("We have been operating the Leeds depot without a waste licence since March.").kind == "risk"
    rule = fact("No disposal of land or buildings without the bank's consent.")
    assert rule is None or rule.kind == "neutral", rule


def test_a_request_the_business_sends_out_is_no_demand() -> None:
    f = fact("Finance to submit the plan change request to the retailer by 30 June (30-day notice).")
    assert f is None or "opp.demand" not in f.cues, f.cues
    assert "opp.demand" in _fact("Three hospital groups have requested a quote for 600 housings a month.").cues


def test_a_prospects_row_that_says_what_they_want_is_demand() -> None:
    row = _fact("3 Feb (Prospect: Marlow & Finch; Location: Doncaster; Requirement: Warehouse storage and fulfilment "
                "for 9,000 lines; Est. revenue: £1.9m; Note: We do not offer storage)", unit="row")
    assert "opp.demand" in row.cues and row.kind == "opportunity", row.cues


def test_a_change_recommended_and_never_lodged_is_a_gap() -> None:
    assert "gap" in _fact("The supplier's plan-change form was drafted in May 2023 but never lodged, so we are "
                          "still billed on the old tariff.").cues


def test_what_an_agreement_forbids_is_a_breach() -> None:
    f = _fact("The vendor has sent files to a subcontractor offshore since March, which our agreement forbids.")
    assert "risk.compliance" in f.cues and f.kind == "risk", f.cues


def test_a_judgment_satisfied_is_resolved() -> None:
    f = _fact("V-3310 (Category: Payroll SaaS; Event: County court judgment (£2,100) satisfied in May; Finance "
              "action: None)", unit="row")
    assert f.kind == "neutral" and "benign" in f.cues, f.cues


@pytest.mark.parametrize("text", [
    "The old platform has no function to generate the yearly price notice, and none has been sent since 2023.",
    "No interim manual process is in place for the 1,200 accounts still on the legacy system.",
])
def test_a_duty_nobody_carries_out_is_a_gap(text: str) -> None:
    assert "gap" in _fact(text).cues


def test_a_linking_adverb_or_a_label_opening_a_sentence_is_no_name() -> None:
    assert entity_keys("However, the 2,340 customers on Halden are still billed by hand.") == ("halden",)
    assert "planned" not in entity_keys("Planned fix: migrate the Halden accounts during 2026.")


def test_fibres_broken_out_at_a_joint_are_no_failure_and_spare_ones_stand_unused() -> None:
    f = _fact("The spare fibres run end to end with joints at the north gate, so they can be broken out at "
              "any of those 3 points.")
    assert "risk.failure" not in f.cues and "opp.unused" in f.cues, f.cues


def test_a_recommendation_to_decline_a_request_is_demand_turned_away() -> None:
    assert "opp.demand" in _fact("Recommendation at the August pipeline meeting: decline politely, or re-price at "
                                 "£38,000 a year per site.").cues


@pytest.mark.parametrize("text", [
    "The Anchor took £128.9k in Period 2, +11.2% like for like, with food at 58% of sales.",
    "Leverage: net debt to EBITDA no more than 3.00x, tested quarterly from 30 June 2025.",
    "Cask fill: finings dose trimmed 10%, as drop-bright times were fine at the lower dose in 6 pubs.",
    "The next option was late November, which we turned down because it runs into the 2 peak weeks.",
])
def test_a_sales_mix_a_ratio_ceiling_a_fine_result_or_a_late_month_is_no_risk(text: str) -> None:
    f = _fact(text)
    assert not {"risk.concentration", "risk.capacity", "risk.compliance", "risk.late"} & set(f.cues), f.cues


def test_a_line_that_will_make_nothing_for_a_period_is_out_of_action() -> None:
    assert "risk.outage" in _fact("Line 4 will pack no cans from 9 to 27 June inclusive.").cues


def test_a_buyer_going_out_to_tender_that_nobody_has_answered_is_a_missed_opening() -> None:
    f = _fact("Marlow Inns (Type: Pub group, 40 pubs; Stage: Their buyer told us they are going out to tender for a "
              "cask ale supplier, with tender responses due by 20 June. We have not asked for the pack.; Owner: —)",
              unit="row")
    assert f.kind == "opportunity" and {"opp.demand", "gap"} <= set(f.cues), f.cues


def test_an_opening_a_register_shows_in_hand_weighs_less_than_one_nobody_works() -> None:
    owned = _fact("WP-101 (Partner: Fenwick Council; Type: Corporate network, 22 sites; ARR: £140k; Next step: Tender "
                  "response due 14 Nov; Owner: K. Bello)", unit="row")
    loose = _fact("WP-101 (Partner: Fenwick Council; Type: Corporate network, 22 sites; ARR: £140k; Next step: Tender "
                  "response due 14 Nov; Owner: —)", unit="row")
    assert owned.opportunity < loose.opportunity, (owned.opportunity, loose.opportunity)


@pytest.mark.parametrize(("text", "cue"), [
    ("For 11 of them no copy of the check has been kept on our files, and the app deletes its record after 30 "
     "days.", "gap"),
    ("Without a dated copy we have no statutory excuse if any of the 11 workers has no right to work.",
     "risk.compliance"),
    ("The offer is not in the standard retention script, so the 6 other teams cannot use it.", "gap"),
    ("The pilot ended on 30 June when the desk was moved onto the booking queue.", "opp.unused"),
    ("Those two exchanges serve 31,400 premises and all of the wholesale traffic.", "stake"),
])
def test_what_is_missing_stopped_or_at_stake(text: str, cue: str) -> None:
    assert cue in _fact(text).cues, _fact(text).cues


def test_a_date_moved_out_is_late_and_a_boring_drill_is_no_rehearsal() -> None:
    f = _fact("Notes: Under-track directional drill, 42m. The RFS date moves from 29 Aug to mid-December; possession "
              "not yet allocated.")
    assert {"risk.late", "gap"} <= set(f.cues) and "benign" not in f.cues, f.cues
    assert "benign" in _fact("The evacuation drill on 3 May cleared the building in 4 minutes.").cues


def test_a_register_row_whose_last_uplift_lags_the_others_is_money_not_collected() -> None:
    table = ("# Contracts register\n\n## Register\n\n"
             "| Ref | Council | Rate | Last uplift applied |\n|---|---|---|---|\n"
             "| LA-01 | Harlow | £38.10/t | April 2025 |\n| LA-02 | Denby | £35.60/t | April 2025 |\n"
             "| LA-03 | Mossley | £33.20/t | April 2024 |\n| LA-04 | Fenwold | £41.20/t | April 2023 |\n")
    rows = {f.text.split(" ", 1)[0]: f for f in facts(table)}
    assert rows["LA-04"].kind == "opportunity" and "gap" in rows["LA-04"].cues, rows["LA-04"].cues
    assert "gap" not in rows["LA-03"].cues and "gap" not in rows["LA-01"].cues


def test_a_last_inspection_years_behind_the_rest_is_overdue() -> None:
    table = ("# Lifting register\n\n## Equipment\n\n| Asset | Site | Last thorough examination |\n|---|---|---|\n"
             "| FL-01 | Yard | March 2025 |\n| FL-02 | Yard | May 2025 |\n| FL-03 | Depot | June 2024 |\n"
             "| FL-04 | Depot | February 2022 |\n")
    rows = {f.text.split(" ", 1)[0]: f for f in facts(table)}
    assert "risk.late" in rows["FL-04"].cues and rows["FL-04"].kind == "risk", rows["FL-04"].cues


def test_a_credit_insurer_or_a_subsidiary_is_no_benefit_that_lapses() -> None:
    f = _fact("Tessmore Ltd (Signals: Winding-up petition presented on 2 September 2025. Credit insurer withdrew "
              "cover on 10 September. UK company is a subsidiary of the parent.)", unit="row")
    assert f.kind == "risk" and "opp.use-or-lose" not in f.cues, f.cues


def test_an_insurers_claims_history_row_is_no_harm_done_now() -> None:
    f = _fact("2022/23 (Claims: 41; Incurred: £288k; Notes: Two larger claims (RCV rollback, pedestrian minor "
              "injury))", unit="row")
    assert f.kind == "neutral" and "risk.safety" not in f.cues, f.cues


@pytest.mark.parametrize("text", [
    "Checkpoint (Fridge: Vaccine fridge 1; Logger max (°C): 6.8; Excursions: 0; Manual checks completed: 100%)",
    "Year to date bad debt is 0.7% of revenue, within the 1% target.",
    "The group may cure a leverage breach by an equity injection within 20 business days of the certificate date.",
    "Permitted acquisitions: up to £8.0m over the life of the facility without consent, provided no default continues.",
])
def test_a_column_a_ratio_a_right_or_a_leave_given_is_neither_calm_nor_trouble(text: str) -> None:
    f = _fact(text, unit="row") if text.startswith("Checkpoint") else _fact(text)
    assert f.kind == "neutral" and "benign" not in f.cues, f.cues


def test_a_broken_cold_chain_is_a_safety_risk() -> None:
    f = _fact("Hilltop (Fridge: Vaccine fridge 1; Logger max (°C): 11.4; Excursions: 9; Notes: Stock kept in use)",
              unit="row")
    assert "risk.safety" in f.cues and f.kind == "risk", f.cues
    calm = fact("Moorside (Fridge: Vaccine fridge 1; Logger max (°C): 7.4; Excursions: 0)", unit="row")
    assert calm is None or "risk.safety" not in calm.cues, calm


@pytest.mark.parametrize("text", [
    "Netherby (Fridge: Vaccine fridge 1; Logger max (°C): 6.9; Excursions: 1; Notes: Below 2°C for 50 min after the "
    "thermostat was adjusted; reset, stock checked)",
    "A covenant breach is an Event of Default unless it is cured by an equity injection.",
])
def test_a_reading_put_right_or_a_facility_definition_is_no_risk(text: str) -> None:
    f = _fact(text, unit="row") if text.startswith("Netherby") else _fact(text)
    assert f.kind == "neutral", (f.cues, f.risk, f.benign)


@pytest.mark.parametrize("text", [
    "D. Okafor – Quality Compliance Officer (post vacant since 27 September 2024; recruitment on hold).",
    "The transport planner role has been vacant since June and nobody covers the licence renewals.",
    "Two vacant posts in the credit control team will not be filled until April.",
])
def test_a_vacant_post_is_work_nobody_holds_not_something_to_use(text: str) -> None:
    f = _fact(text)
    assert f.kind == "risk", f


def test_vacant_space_is_still_something_to_use() -> None:
    assert _fact("Unit 7 at the Leeds estate has stood vacant since March, 4,200 sq ft.").kind == "opportunity"


def test_a_credit_limit_is_a_term_and_a_balance_over_it_is_exposure() -> None:
    assert _fact("Credit limit reviews: quarterly for accounts over £100,000; next round in April.").kind != "risk"
    assert "risk.exposure" in _fact("Brantwood Civils: the balance is now 2.7 times the credit limit and the account "
                                    "was placed on stop on 3 March.").cues
    assert "risk.exposure" in _fact("Harlow Fuels is £41,000 over its credit limit.").cues
    assert "risk.exposure" in _fact("Raise the credit limit for Kestrel Care from £300,000 to £480,000.").cues


def test_a_registers_balance_over_its_limit_is_a_breach() -> None:
    doc = ("| Customer | Type | Balance | Credit limit | Over 90 days |\n|---|---|---|---|---|\n"
           "| Kestrel Care Group | Care group | £438,900 | £300,000 | £212,400 |\n"
           "| Dales Inns | Hotels | £41,200 | £95,000 | nil |\n")
    over, within = facts(doc)
    assert over.kind == "risk" and "risk.compliance" in over.cues, over
    assert within.kind != "risk", within


def test_a_small_share_is_no_concentration_even_for_the_largest_account() -> None:
    assert _fact("Annual value FY2024/25: £1,142,000 (our largest account, about 5% of turnover).").kind != "risk"
    assert "risk.concentration" in _fact("Lakeshore is our largest customer at 31% of revenue in 2025.").cues


def test_a_liability_cap_is_a_contracts_standing_term() -> None:
    assert _fact("17.1 Neither party's total liability in any contract year shall exceed £1,500,000, except for "
                 "death or personal injury caused by negligence.").kind == "neutral"


def test_what_a_list_counts_as_nil_is_no_trouble() -> None:
    f = _fact("Write-offs in January: £21,300 (expired £14,800, damaged £4,100, temperature excursion nil, recall "
              "nil, other £2,400).")
    assert "risk.safety" not in f.cues, f
    assert "risk.safety" in _fact("Write-offs in January: £21,300 (recall £6,100, other £2,400).").cues


@pytest.mark.parametrize("text", [
    "To support partners through the change, we will accept forward orders at current prices until 14 March 2025, "
    "for delivery before 31 March 2025.",
    "The sector umbrella agreement is open to new facilities until 30 September 2025 for the current target period.",
])
def test_an_offer_open_until_a_date_is_an_opening(text: str) -> None:
    assert _fact(text).kind == "opportunity", _fact(text)


def test_opening_hours_are_no_offer() -> None:
    assert _fact("The Leeds trade counter is open until 8pm on Thursdays from 3 March 2025.").kind != "opportunity"


def test_what_a_rows_type_column_classes_it_as_is_no_event() -> None:
    doc = ("| Supplier | Type | Spend | Returns policy |\n|---|---|---|---|\n"
           "| Corvale Specials | Unlicensed specials | £1.6m | No returns |\n"
           "| Pellam Labs | Generics | £2.1m | Licence suspended by the regulator on 3 March |\n")
    specials, suspended = facts(doc)
    assert specials.kind != "risk", specials
    assert suspended.kind == "risk", suspended


def test_a_settled_claim_in_a_claims_history_is_past() -> None:
    doc = ("| Year | Cover | Description | Paid / reserved |\n|---|---|---|---|\n"
           "| 2023 | EL | Operative hand injury on ironer in-feed (settled) | £14,600 |\n"
           "| 2025 | EL | Operative back injury moving a cage trolley, claim open, liability disputed | £48,000 |\n")
    settled, open_claim = facts(doc)
    assert settled.kind != "risk", settled
    assert open_claim.kind == "risk", open_claim


def test_a_driving_courses_content_is_no_finding() -> None:
    assert _fact("Training through Roadcraft Driver Academy (Leeds): medical, provisional entitlement, theory and "
                 "hazard perception, 5 days' practical training and test.").kind == "neutral"
    assert _fact("The audit downgraded the Leeds site to provisional approval until the April re-audit.").kind == "risk"


def test_fewer_accidents_than_last_year_and_slips_on_a_floor_are_no_delay() -> None:
    f = _fact("Two reportable accidents in the year (both slips, both under the over-7-day rule), down from five.")
    assert f.kind != "risk", f
    assert "risk.late" in _fact("Commissioning slips to March because the valves are late.").cues
    assert "risk.late" in _fact("The handover slipped by three weeks.").cues


def test_an_item_past_its_due_date_on_the_registers_own_date_is_overdue() -> None:
    doc = ("# Rigging equipment register\n\n**Review date:** 25 October 2024\n\n"
           "| Ref | Item | Last inspection | Next due | Status |\n|---|---|---|---|---|\n"
           "| RG-CM-03 | Chain hoist 500 kg | LOLER 14/11/2023 | 14/05/2024 | In service |\n"
           "| RG-CM-07 | Chain hoist 500 kg | LOLER 02/09/2024 | 02/03/2025 | In service |\n"
           "| RG-CM-09 | Chain hoist 250 kg | LOLER 14/11/2023 | 14/05/2024 | Quarantined, out of service |\n")
    late, current, withdrawn = [f for f in facts(doc) if f.text.startswith("RG-")]
    assert late.kind == "risk" and "risk.compliance" in late.cues, late  # a statutory examination overdue
    assert current.kind != "risk", current
    assert "risk.late" not in withdrawn.cues, withdrawn  # taken out of use: not overdue (though out of service)


def test_a_repair_service_that_closes_on_a_date_is_an_end() -> None:
    f = _fact("Vantek wrote on 12 February to confirm that their exchange and repair service for the VMC2 drive board "
              "closes on 31 March 2025, and that no new boards will be manufactured.")
    assert f.kind == "risk" and "risk.end" in f.cues, f
    assert "risk.end" not in _fact("The Leeds trade counter closes on 24 December at 2pm for the holiday.").cues


@pytest.mark.parametrize("text", [
    "Northgate Electrical (Category: Lighting repairs; Since: 2019; Annual spend: £6,200; Notes: F-Gas certificate "
    "not needed (no refrigerant work))",
    "C-14 (Client: Harrow Estates; Value: £80,000; Signed by: P. Lund; Legal review: Not needed)",
])
def test_a_check_waived_as_not_needed_is_nothing_idle(text: str) -> None:
    assert "opp.unused" not in _fact(text).cues, _fact(text).cues


def test_a_thing_that_is_not_needed_still_stands_idle() -> None:
    assert "opp.unused" in _fact("The second forklift is not needed until the spring and stands in the yard.").cues
    assert "opp.unused" in _fact("Bay 4 racking is no longer needed since the move to Leeds.").cues


def test_breakdown_cover_in_a_hire_price_is_no_failure() -> None:
    f = _fact("The two cranes are priced as a cross-hire from Tamar Lifting at £1,900 per crane per week including "
              "delivery, inspections and breakdown cover.")
    assert "risk.failure" not in f.cues and "bought-in" in f.cues, f.cues
    assert "risk.failure" in _fact("A breakdown of crane C3 on 4 May stopped the lift for two days.").cues


@pytest.mark.parametrize("text", [
    "Each depot holds a spill response store: 100 m of boom, sorbent pads and two skimmers.",
    "Liquidated damages of £2,000 per day apply for each day the service is delayed by us, capped at £20,000.",
])
def test_kit_kept_ready_for_a_spill_and_a_contracts_damages_term_are_no_events(text: str) -> None:
    assert all(f.kind != "risk" for f in facts(text)), [f.cues for f in facts(text)]


def test_a_spill_is_still_a_hazard() -> None:
    assert "risk.safety" in _fact("A spill of 400 litres of diesel reached the harbour drain on 3 May.").cues


def test_what_customers_are_told_is_free_of_an_allergen_is_an_assurance() -> None:
    f = _fact("Customer reassurance: the whole of our pastry range (pasties, tarts and rolls) is peanut-free, and "
              "staff can confirm this to customers asking about nut allergies.")
    assert "assurance" in f.cues, f.cues


def test_a_failed_firm_whose_administrators_offer_its_book_is_an_opening() -> None:
    text = ("## Market\n\n- Harlow Care Plans Ltd (Ludlow) entered administration on 2 October 2026 after its partner "
            "ended their arrangement. The administrators, Fenwick Restructuring LLP, have written to authorised "
            "providers inviting expressions of interest in taking over the plan book for about 1,200 plan holders. "
            "Expressions of interest are due by 9 February 2027.\n")
    first = next(f for f in facts(text) if f.text.startswith("Harlow"))
    assert first.kind == "opportunity", first.cues
    alone = next(f for f in facts("## Market\n\n- Harlow Care Plans Ltd (Ludlow) entered administration on 2 October "
                                  "2026 after its partner ended their arrangement.\n"))
    assert alone.kind == "risk"


def test_spend_past_a_rebate_threshold_in_a_row_is_money_to_claim() -> None:
    text = ("## Spend summary\n\n| Supplier | Rebate year | Net purchases | Threshold | Notes |\n"
            "|---|---|---|---|---|\n"
            "| Dunmore Packaging | Oct 2025 – Sep 2026 | £512,400 | £500,000 | All sites on one group account |\n"
            "| Kerrow Sundries | Oct 2025 – Sep 2026 | £212,000 | £250,000 | Below threshold |\n")
    rows = {f.text.split(" (")[0]: f for f in facts(text)}
    assert rows["Dunmore Packaging"].kind == "opportunity", rows["Dunmore Packaging"].cues
    assert "Kerrow Sundries" not in rows or rows["Kerrow Sundries"].kind != "opportunity"


@pytest.mark.parametrize("row", [
    # a debtor's total far past its credit limit
    "Harrow Fine Foods Ltd (Credit limit: £15,000; Current: £2,400; Over 90: £33,100; Total: £48,800; Account status: "
    "Active; Notes: promised payment by end of month)",
    # a balance left unpaid for over half a year
    "C2231 (Name: Osprey Charters Ltd; Balance: £27,900; Oldest item: Storage invoices, Jan 2025; Days: 205 days; "
    "Type: Trade account; Notes: Boats relaunched in May)",
])
def test_a_debtor_past_its_limit_or_long_unpaid_is_a_risk(row: str) -> None:
    """Seen on two companies the code was not developed on: an aged-debt row whose total is three times its credit
    limit, and one 214 days old, read as neutral money rows below a £1,320 disputed invoice."""
    assert _fact(row, unit="row").kind == "risk"


@pytest.mark.parametrize("row", [
    "Soar Dairies (Credit limit: £40,000; Current: £16,070; 1–30: £8,040; Total: £24,110; Account status: Active)",
    "C0951 (Name: D. Ng; Balance: £1,440; Oldest item: Antifouling, April; Days: 52; Type: Berth holder)",
])
def test_a_debtor_within_its_limit_and_terms_is_no_risk(row: str) -> None:
    assert _fact(row, unit="row").kind != "risk"


@pytest.mark.parametrize("text", [
    "Grading: Good (no action), Fair (planned maintenance), Poor (repair within 12 months), Unsafe (close).",
    "Key: A = authorised to work alone; S = may work under supervision; T = in training; X = not authorised.",
])
def test_a_legend_is_no_claim(text: str) -> None:
    """Seen on a company the code was not developed on: a survey's grading key ranked tenth as a safety risk."""
    assert fact(text) is None


def test_a_small_balance_long_unpaid_is_no_risk_of_its_own() -> None:
    assert _fact("C0650 (Name: Estate of P. Hale; Balance: £1,910; Oldest item: Storage, March; Days: 190; Type: "
                 "Berth holder)", unit="row").kind != "risk"


def test_what_customers_ask_for_and_is_not_stocked_is_demand() -> None:
    """Seen on a company the code was not developed on: a shop's requests log, whose most asked-for line (58
    requests, "Not stocked; nearest exchange is 6 miles away") read as a neutral row."""
    row = _fact("Butane cylinder exchange (Apr: 3; May: 8; Jun: 11; Total: 41; What we told them: Not stocked; nearest "
                "exchange is Bridge Garage, 5 miles)", unit="row")
    assert "opp.demand" in row.cues and row.kind == "opportunity"


def test_a_supply_billed_at_deemed_rates_is_money_to_save() -> None:
    """Seen on a company the code was not developed on: a meter out of contract and billed at the supplier's deemed
    rate (41.8p against 23.6p fixed) read as a neutral row."""
    row = _fact("M3 (Serves: Workshop and yard lighting; Supplier: Eastfield Power; Contract status: Out of contract "
                "since 1 June 2026; billed at deemed rates; Unit rate: 39.2p; Annual kWh: 310,000)", unit="row")
    assert "opp.saving" in row.cues and row.kind == "opportunity"


def test_an_enquiry_nobody_has_picked_up_is_an_opening_nobody_works() -> None:
    """Seen on a company the code was not developed on: a corporate enquiry for 240 staff, "Awaiting owner" for
    three months, read as a neutral row of the enquiries tracker."""
    row = _fact("19/08 (Source: Email; Enquirer: Hartwell Motors (HR lead); Request: Quote for corporate membership "
                "for 180 staff across their two sites; Owner: —; Status: Awaiting owner; Notes: Forwarded to inbox)",
                unit="row")
    assert row.kind == "opportunity" and "gap" in row.cues, row.cues
    done = _fact("12/08 (Source: Web form; Enquirer: Bowls Club; Request: Use of community room for AGM; Owner: RK; "
                 "Status: Closed — won; Notes: Invoiced £60)", unit="row")
    assert "gap" not in done.cues


def test_a_clear_barred_list_check_is_no_compliance_risk() -> None:
    row = _fact("Amira Shah (Role: Swim Teacher; Site: Riverside; Hours: 12 h; Start date: 11/11/2024; DBS: Enhanced "
                "with barred list — clear; Notes: STA Level 2)", unit="row")
    assert row.kind != "risk", row.cues


def test_a_failed_check_whose_recheck_is_still_to_be_scheduled_is_a_gap() -> None:
    """Seen on a company the code was not developed on: a control probe failing calibration by 1.6°C, "Re-check to
    be scheduled" six weeks on, ranked 35th."""
    row = _fact("T-21 (Location: Chamber 2 rear wall (control probe); Display reading: +1.9; Reference reading: +3.6; "
                "Deviation: -1.7°C; Result: Fail; Notes: Logged 4 August. Re-check to be scheduled)", unit="row")
    assert "gap" in row.cues and row.kind == "risk", row.cues


@pytest.mark.parametrize("text", [
    "Fees paid in advance will be refunded pro rata, less a £150 administration fee, unless termination follows a "
    "breach by the Holder.",
    "Vessels must be kept in a seaworthy condition and may not be used for commercial purposes without written "
    "consent.",
    "12.2 The Company may terminate immediately for serious breach, including non-payment for 60 days.",
    "Clause 18.2(c): failure to meet SL3 in two consecutive quarters is a material breach entitling the Customer to "
    "terminate the Agreement on 30 days' notice.",
    "Services may be suspended after 90 days overdue, except where the Finance Director agrees a payment plan.",
    "Liability cap: £2m per claim for property damage; unlimited for death or personal injury; £500,000 aggregate for "
    "indirect losses.",
])
def test_a_standing_term_about_a_breach_that_may_happen_is_no_risk(text: str) -> None:
    """Seen on a company the code was not developed on: a licence's refund clause and its rule on commercial use
    ranked third and eighth as legal exposure; neither says anything has happened."""
    f = fact(text)
    assert f is None or f.kind != "risk", f.cues


@pytest.mark.parametrize("text", [
    "Fleet Coordinator (Lee Grant) manages day-to-day matters: driver allocation, defect reporting, service bookings, "
    "penalty charge notices.",
    "Licences are checked every 6 months; drivers with 6 or more penalty points are checked every 3 months.",
])
def test_who_handles_penalty_notices_and_a_cap_on_penalty_points_are_no_penalty(text: str) -> None:
    """Seen on a company the code was not developed on: a fleet policy's duties and licence rule ranked seventh
    and eighth as compliance risks."""
    f = fact(text)
    assert f is None or f.kind != "risk", f.cues


def test_a_hazardous_waste_stream_on_a_cost_line_is_no_hazard() -> None:
    """Seen on a company the code was not developed on: the cost row of a waste contract ranked tenth as safety."""
    row = _fact("Hazardous (oily waste, filters, paint tins) (Contractor: Coastal Waste Ltd; Annual cost: £7,900)",
                unit="row")
    assert "risk.safety" not in row.cues, row.cues
    assert "risk.safety" in _fact("A hazardous spill of diesel reached the slipway drain on 3 June.").cues


MATRIX = """# Technician competency matrix

Levels: 1 = supervised, 2 = independent, 3 = can sign off.

| Task | R. Mehta | P. Shah | D. Walczak | S. Okafor | J. Harris |
|---|---|---|---|---|---|
| Bridge design | 3 | 3 | 3 | 2 | 2 |
| Titanium bar frameworks | 2 | 1 | 3 | – | 1 |
| Scan intake | 3 | 3 | 2 | 3 | 3 |
"""


def test_a_skills_matrix_row_with_one_person_at_the_top_level_is_a_single_point_of_failure() -> None:
    rows = {f.text.split(" (", 1)[0]: f for f in facts(MATRIX) if f.unit == "row"}
    sole = rows["Titanium bar frameworks"]
    assert "risk.single" in sole.cues and sole.kind == "risk", sole.cues
    assert "walczak" in sole.entities  # the one who holds it, though a column's name names nothing elsewhere
    assert "Bridge design" not in rows or "risk.single" not in rows["Bridge design"].cues
    assert "Scan intake" not in rows or "risk.single" not in rows["Scan intake"].cues


def test_a_mix_of_sales_a_damages_term_and_a_debtor_paying_to_terms_are_no_alarm() -> None:
    mix = _fact("About 82% of sales are to trade accounts, 18% to cash customers (self-builders and landlords).")
    assert "risk.concentration" not in mix.cues and mix.kind != "risk", mix.cues
    assert "risk.concentration" in _fact("45% of revenue comes from our three largest customers.").cues
    damages = _fact("Late delivery: £600 per late drop as liquidated damages, deducted from our invoices.")
    assert damages.kind != "risk", damages
    debtor = _fact("Dorran Construction (Branch: Ashcombe; Balance: £96,420; Limit: £120,000; Comment: Retention "
                   "dispute on one invoice; rest paying to terms)", unit="row")
    assert "assurance" in debtor.cues, debtor.cues


@pytest.mark.parametrize("text", [
    "If your licence expires, we will try to find you non-licensable work, but this cannot be guaranteed.",
    "Tell your supervisor straight away if your licence is suspended, revoked or due to expire.",
])
def test_a_rule_about_anyones_case_is_no_event(text: str) -> None:
    f = fact(text)
    assert f is None or f.kind != "risk", f


def test_a_particular_case_in_a_condition_is_still_an_event() -> None:
    assert _fact("If the Harbour contract is terminated on 31 May, we lose £400,000 of revenue.").kind == "risk"


def test_goods_a_customer_stores_are_not_idle_kit_and_a_promise_of_full_cover_is_a_reassurance() -> None:
    promise = _fact("Copy for all channels will say that customers' belongings are fully insured from the moment the "
                    "crew load them until they are in the unit, and then in storage with our protection scheme.")
    assert "opp.unused" not in promise.cues and "assurance" in promise.cues, promise.cues
    assert "opp.unused" in _fact("The old racking has been held in storage since May 2024.").cues


def test_fewer_enquiries_is_a_fall_and_an_examination_that_did_not_take_place_is_late() -> None:
    fell = _fact("Our Canal Street enquiries fell 8% year on year in January and February.")
    assert fell.kind == "risk" and "opp.demand" not in fell.cues, fell.cues
    missed = _fact("Liftcare ceased trading in December and the examination booked for early January did not take "
                   "place.")
    assert "risk.late" in missed.cues, missed.cues


def test_a_rate_compared_with_the_expiring_one_is_no_end() -> None:
    renewal = _fact("Gas renewal for 2025-26 signed on 12 February, saving about £280 a year compared with the "
                    "expiring rate.")
    assert "risk.end" not in renewal.cues and renewal.kind != "risk", renewal.cues


def test_customers_who_say_they_would_bring_work_to_us_are_demand() -> None:
    f = _fact("These 23 practices send about £9,800 a month of work to other laboratories, and 17 of them said they "
              "would move most of it to us if we connected directly to their scanner platform.")
    assert "opp.demand" in f.cues and f.kind == "opportunity", f.cues


@pytest.mark.parametrize("text", [
    "On termination for Corvel's breach, Corvel must refund any unearned volume rebate paid in advance (upfront "
    "rebate of £18,000 paid in January 2025).",
    "Clause 9.5 - notify Harbour Dental of any personal data breach without undue delay and in any event within 24 "
    "hours of becoming aware.",
])
def test_what_a_contract_says_happens_on_termination_or_on_any_breach_is_a_term(text: str) -> None:
    f = fact(text)
    assert f is None or f.kind == "neutral", f


def test_a_particular_breach_is_still_an_event() -> None:
    assert _fact("A personal data breach at the Leeds site on 3 May exposed 400 patient records.").kind == "risk"
