"""SVG charts: one shape per value, escaped labels, and a data table as the text alternative."""

from __future__ import annotations

from workspace.charts import bar_chart, line_chart


def test_bar_chart_draws_one_bar_per_value_with_a_data_table() -> None:
    svg = str(bar_chart("Messages per channel", ["ops", "sales", "<script>"], [10, 25, 0]))
    assert svg.count('<rect class="bar"') == 3
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert "<tr><th scope=row>sales</th><td>25</td></tr>" in svg


def test_line_chart_plots_every_point() -> None:
    svg = str(line_chart("Insights over time", ["d1", "d2", "d3"], [1, 4, 2]))
    points = svg.split('points="')[1].split('"')[0].split()
    assert len(points) == 3
    ys = [float(p.split(",")[1]) for p in points]
    assert ys[1] < ys[0] and ys[1] < ys[2], "the highest value is drawn highest"


def test_empty_charts_render() -> None:
    assert "<svg" in str(bar_chart("Nothing yet", [], []))
    assert "<svg" in str(line_chart("Nothing yet", [], []))
