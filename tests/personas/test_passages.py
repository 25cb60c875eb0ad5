"""Document structure: sentences across hard-wrapped lines and abbreviations, list items, table rows read out as
"first cell (Header: value; ...)", headings and the section path, all with exact offsets; passages cut between
them."""

from __future__ import annotations

import re

from personas.context.passages import chunk_spans, plain, units

MEMO = """# Plant memo, spring

## Line status

The north press failed its pressure test on
3 May and was taken out of service. Approx. 40 orders
are waiting, e.g. for St. Louis customers. J. Okafor
signed the work order.

Spare parts on hand:

- Two seal kits, both for the older press.
- One pump, rebuilt in March.

| Part | Supplier | On hand |
|---|---|---|
| Seal kit SK-2 | Norrow Seals | 2 |
| Pump P-7 | - | 1 |

### Outlook

Next review is on 12 June.
"""


def _sentences(text: str) -> list[str]:
    return [u.statement for u in units(text) if u.kind == "sentence"]


def test_every_unit_is_an_exact_slice_of_the_text() -> None:
    for u in units(MEMO):
        raw = MEMO[u.start:u.end]
        assert plain(raw) == u.statement or u.kind == "row", (u.kind, raw, u.statement)
        assert raw == raw.strip()


def test_a_sentence_runs_across_wrapped_lines_and_past_abbreviations_and_initials() -> None:
    said = _sentences(MEMO)
    assert "The north press failed its pressure test on 3 May and was taken out of service." in said
    assert "Approx. 40 orders are waiting, e.g. for St. Louis customers." in said
    assert "J. Okafor signed the work order." in said


def test_table_rows_are_read_with_their_headers_and_empty_cells_are_left_out() -> None:
    rows = [u for u in units(MEMO) if u.kind == "row"]
    assert [r.statement for r in rows] == ["Seal kit SK-2 (Supplier: Norrow Seals; On hand: 2)",
                                           "Pump P-7 (On hand: 1)"]
    assert MEMO[rows[0].start:rows[0].end] == "| Seal kit SK-2 | Norrow Seals | 2 |"
    assert rows[0].block == rows[1].block  # one table


def test_list_items_take_the_sentence_that_introduced_them_as_topic() -> None:
    items = [u for u in units(MEMO) if u.statement.startswith(("Two seal kits", "One pump"))]
    assert len(items) == 2
    assert all(u.topic == "Spare parts on hand:" for u in items)
    assert items[0].block != items[1].block  # each item is its own block


def test_headings_give_each_unit_its_section_path_with_the_title_first() -> None:
    outlook = next(u for u in units(MEMO) if u.statement.startswith("Next review"))
    assert outlook.heading == "Outlook"
    assert outlook.path == ("Plant memo, spring", "Line status", "Outlook")
    press = next(u for u in units(MEMO) if u.statement.startswith("The north press"))
    assert press.path == ("Plant memo, spring", "Line status")


def test_sentences_of_one_paragraph_share_a_block_and_know_its_opening() -> None:
    us = [u for u in units(MEMO) if u.kind == "sentence" and u.block == units(MEMO)[2].block]
    assert len(us) == 3
    assert us[1].topic == us[0].statement


def test_passages_are_exact_slices_cut_between_blocks() -> None:
    text = ("First paragraph sentence one. " * 12 + "\n\n") * 4
    spans = chunk_spans(text, lo=200, hi=400)
    assert all(text[a:b] == text[a:b].strip() for a, b in spans)
    assert all(b - a <= 400 for a, b in spans)
    assert "".join(text[a:b] for a, b in spans).replace(" ", "") == text.replace(" ", "").replace("\n", "")


def test_a_passage_never_cuts_a_table_row_in_two() -> None:
    # a row is read as one fact only when one passage holds all of it: a cut at a full stop inside a cell lost it
    rows = "".join(f"| AO-{n} | Terrace {n}, Cauldwell (nos. 2-28 even) | 14 | Held vacant since 10 February. "
                   f"All {n} homes had void works completed to our lettable standard. Security screens fitted "
                   f"at a cost of £1,150 per month; council tax empty-homes charge approx. £2,900 a month. |\n"
                   for n in range(20, 26))
    text = "| Ref | Asset | Homes | Status |\n|---|---|---|---|\n" + rows
    spans = chunk_spans(text)
    starts = [m.start() for m in re.finditer(r"^\|", text, re.MULTILINE)]
    for s in starts:
        end = text.index("\n", s)
        assert any(a <= s and end <= b for a, b in spans), text[s:end]


def test_a_rows_reading_splits_back_into_its_first_cell_and_its_cells() -> None:
    from personas.context.passages import row_cells, row_split, units
    table = ("| Product | Claim | Basis |\n|---|---|---|\n"
             "| Pale Lager (PL-02) | Gluten free | Enzyme dosed at fill; tested (ELISA) below 20 ppm |\n")
    (row,) = [u for u in units(table) if u.kind == "row"]
    key, rest = row_split(row.statement) or ("", "")
    assert key == "Pale Lager (PL-02)"
    assert [c.strip() for c in row_cells(rest)] == ["Claim: Gluten free", "Basis: Enzyme dosed at fill",
                                                    "tested (ELISA) below 20 ppm"]
    assert row_split("A plain sentence (with an aside).") is None and row_split("No brackets here") is None
