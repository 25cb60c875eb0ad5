"""SVG charts: one shape per value, escaped labels, a data table as the text alternative, short round numbers, and
labels that never overlap (measured on the drawn text boxes)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from workspace.charts import CHAR_W, Point, bar_chart, fmt, line_chart, nice_step, scatter_chart

SVG = "{http://www.w3.org/2000/svg}"


def _boxes(markup: str) -> list[tuple[str, float, float, float, float]]:
    """(text, left, top, right, bottom) of every unrotated label, from its position, anchor and length."""
    found = re.search(r"<svg.*</svg>", markup, re.S)
    assert found is not None, markup
    # our own markup, made in this test: no untrusted XML
    svg = ET.fromstring(found.group(0).replace("<svg ", f'<svg xmlns="{SVG[1:-1]}" ', 1))  # noqa: S314
    out = []
    for t in svg.iter(f"{SVG}text"):
        if t.get("transform"):
            continue
        text = (t.text or "").strip()
        width = len(text) * CHAR_W * 0.85  # what the chart budgets per character, less its safety margin
        x, y = float(t.get("x", 0)), float(t.get("y", 0))
        left = {"end": x - width, "middle": x - width / 2}.get(t.get("text-anchor", "start"), x)
        out.append((text, left, y - 10, left + width, y + 2))
    return out


def _overlaps(markup: str) -> list[tuple[str, str]]:
    boxes = _boxes(markup)
    return [(a[0], b[0]) for i, a in enumerate(boxes) for b in boxes[i + 1:]
            if a[1] < b[3] and b[1] < a[3] and a[2] < b[4] and b[2] < a[4]]


def test_bar_chart_draws_one_bar_per_value_with_a_data_table() -> None:
    svg = str(bar_chart("Messages per channel", ["ops", "sales", "<script>"], [10, 25, 0]))
    assert svg.count('<rect class="bar"') == 3
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert '<tr><th scope="row">sales</th><td>25</td></tr>' in svg


def test_bar_labels_never_overlap_even_when_long_and_many() -> None:
    names = [f"customer-success-escalations-{i}" for i in range(12)]
    svg = str(bar_chart("Messages per channel", names, [12_000 - 900 * i for i in range(12)]))
    assert _overlaps(svg) == []
    assert "customer-success-escalations-11" in svg, "the full name stays in the data table and the tooltip"


def test_numbers_are_short_and_round() -> None:
    assert [fmt(v) for v in (0, 7, 950, 1000, 1234, 10_000, 12_500, 250_000, 1_500_000)] == [
        "0", "7", "950", "1k", "1.2k", "10k", "12.5k", "250k", "1.5M"]
    assert fmt(0.0042) == "0.0042" and fmt(0.25) == "0.25" and fmt(3.14159) == "3.14"
    svg = str(bar_chart("Tokens per department", ["sales", "ops"], [10_000.0, 40_000.0]))
    assert "10000.0k" not in svg and ".0k" not in svg
    ticks = [t[0] for t in _boxes(svg) if re.fullmatch(r"[\d.]+k?", t[0])]
    assert "40k" in ticks and "10k" in ticks, ticks


def test_tick_steps_are_round_and_counts_get_whole_ticks() -> None:
    assert nice_step(45) == 15 and nice_step(7) == 2 and nice_step(1234) == 400
    assert nice_step(3, integer=True) == 1, "a count of 3 is not drawn with ticks at 0.75"
    assert nice_step(0) == 1


def test_line_chart_plots_every_point() -> None:
    svg = str(line_chart("Insights over time", ["d1", "d2", "d3"], [1, 4, 2]))
    points = svg.split('points="')[1].split('"')[0].split()
    assert len(points) == 3
    ys = [float(p.split(",")[1]) for p in points]
    assert ys[1] < ys[0] and ys[1] < ys[2], "the highest value is drawn highest"


def test_line_chart_labels_only_what_fits() -> None:
    days = [f"2026-11-{d:02d}" for d in range(1, 31)]
    svg = str(line_chart("Insights per day", days, [float(d % 4) for d in range(30)]))
    assert _overlaps(svg) == []
    assert svg.count("<tr>") == 31, "every day is in the data table (a header row and 30 days)"


def test_scatter_chart_links_each_point_and_names_its_quadrants() -> None:
    pts = [Point(0.8, 0.9, "Supplier X cannot ship", "/insights/1", "risk"),
           Point(0.1, 0.2, "Minor <typo>", "/insights/2", "opportunity")]
    svg = str(scatter_chart("Severity against corroboration", pts, "corroboration", "severity", x_split=0.5,
                            y_split=0.5, x_max=1, y_max=1, quadrants=("Check", "Act first", "Low", "Watch")))
    assert svg.count("<circle") == 2 and 'href="/insights/1"' in svg and "&lt;typo&gt;" in svg
    assert all(q in svg for q in ("Check", "Act first", "Low", "Watch"))
    table = svg.split("<tbody>")[1]
    assert table.index("Supplier X") < table.index("Minor"), "the table lists the top-right point first"
    assert _overlaps(svg) == []
    two = str(scatter_chart("a", pts, "x", "y", x_split=0.5, y_split=0.5)) + str(
        scatter_chart("b", pts, "x", "y", x_split=0.5, y_split=0.5))
    ids = re.findall(r'<title id="([^"]+)"', two)
    assert len(ids) == len(set(ids)) == 2, "two charts on one page never share an id"


def test_empty_charts_render() -> None:
    assert "<svg" in str(bar_chart("Nothing yet", [], []))
    assert "<svg" in str(line_chart("Nothing yet", [], []))
    assert "<svg" in str(scatter_chart("Nothing yet", [], "x", "y", x_split=1, y_split=1))
