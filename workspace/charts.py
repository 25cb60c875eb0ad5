"""Small server-rendered SVG charts (horizontal bars, a line, a scatter) with a text alternative; no JavaScript, no
build step. Labels never overlap: bars put their names in a column of their own, a line labels only as many ticks as
fit, and numbers are short and exact enough ("950", "1.2k", "10k", "0.0042").

Each function returns safe markup (``markupsafe.Markup``) ready to drop into a template.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 600
CHAR_W = 6.6
"""Width of one character of the charts' 11 px labels, generously (digits and lowercase are narrower)."""
_ids = itertools.count(1)


def nice_step(value: float, steps: int = 4, integer: bool = False) -> float:
    """A round tick step (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten) so that ``steps`` of it cover
    ``value`` with little room to spare; whole numbers only when ``integer``."""
    if value <= 0:
        return 1.0
    raw = value / steps
    magnitude = 10 ** math.floor(math.log10(raw))
    for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        step = m * magnitude
        if integer and step < 1:
            continue
        if integer and step % 1:
            continue
        if step * steps >= value:
            return float(step)
    return float(10 * magnitude)


def fmt(value: float) -> str:
    """A number for an axis or a table: thousands as k and millions as M (never "10000.0k"), small values with
    enough significant digits to differ from zero, no trailing zeros."""
    a = abs(value)
    if a >= 1_000_000:
        return _trim(f"{value / 1_000_000:.1f}") + "M"
    if a >= 100_000:
        return _trim(f"{value / 1000:.0f}") + "k"
    if a >= 1000:
        return _trim(f"{value / 1000:.1f}") + "k"
    if value == int(value):
        return str(int(value))
    if a >= 10:
        return _trim(f"{value:.1f}")
    if a >= 1:
        return _trim(f"{value:.2f}")
    return _trim(f"{value:.{max(2, 1 - math.floor(math.log10(a)) + 1)}f}")


def _trim(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def _short(label: str, width_px: float) -> str:
    room = max(3, int(width_px / CHAR_W))
    return label if len(label) <= room else label[: room - 1] + "…"


def _figure(title: str, svg: str, table_rows: str, head: tuple[str, ...]) -> Markup:
    header = "".join(f'<th scope="col">{escape(h)}</th>' for h in head)
    return Markup(  # noqa: S704 - every interpolated string is escaped by the callers and here
        f'<figure class="chart">{svg}<figcaption>{escape(title)}</figcaption><details class="small"><summary>Data'
        f"</summary><table><thead><tr>{header}</tr></thead><tbody>{table_rows}</tbody></table></details></figure>")


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float], unit: str = "") -> Markup:
    """Horizontal bars, one row per label: the names in a column of their own (never overlapping), the value at
    the end of each bar, an axis of round ticks."""
    n = len(values)
    row, top_pad, bottom = 24, 8, 26
    height = top_pad + max(n, 1) * row + bottom
    label_w = min(WIDTH * 0.38, max((len(s) for s in labels), default=4) * CHAR_W + 8)
    value_w = max((len(fmt(v) + unit) for v in values), default=1) * CHAR_W + 8
    plot_x, plot_w = label_w + 4, WIDTH - label_w - 4 - value_w
    integer = all(float(v).is_integer() for v in values)
    step = nice_step(max(values, default=0), 4, integer)
    top = step * 4
    out = [f'<svg viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">']
    for i in range(5):
        x = plot_x + plot_w * i / 4
        out.append(f'<line class="axis" x1="{x:.1f}" y1="{top_pad}" x2="{x:.1f}" y2="{height - bottom + 4}"/>')
        out.append(f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle">{fmt(step * i)}</text>')
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top_pad + i * row
        w = plot_w * max(0.0, value) / top
        out.append(f'<text x="{label_w:.1f}" y="{y + row * 0.65:.1f}" text-anchor="end">'
                   f"{escape(_short(label, label_w - 4))}<title>{escape(label)}</title></text>")
        out.append(f'<rect class="bar" x="{plot_x:.1f}" y="{y + 4:.1f}" width="{w:.1f}" height="{row - 8}">'
                   f"<title>{escape(label)}: {fmt(value)}{escape(unit)}</title></rect>")
        out.append(f'<text x="{plot_x + w + 4:.1f}" y="{y + row * 0.65:.1f}">{fmt(value)}{escape(unit)}</text>')
    out.append("</svg>")
    rows = "".join(f'<tr><th scope="row">{escape(label)}</th><td>{fmt(v)}{escape(unit)}</td></tr>'
                   for label, v in zip(labels, values, strict=True))
    return _figure(title, "".join(out), rows, ("", "value"))


def line_chart(title: str, labels: Sequence[str], values: Sequence[float], unit: str = "") -> Markup:
    """A line over evenly spaced labels (days, hours): only as many x labels as fit without touching, dots on
    every point with a value, round y ticks."""
    height, pad_l, pad_b, pad_t, pad_r = 220, 44, 30, 12, 16
    n = len(values)
    plot_w, plot_h = WIDTH - pad_l - pad_r, height - pad_b - pad_t
    integer = all(float(v).is_integer() for v in values)
    step = nice_step(max(values, default=0), 4, integer)
    top = step * 4
    dx = plot_w / max(n - 1, 1)
    coords = [(pad_l + i * dx, pad_t + plot_h - plot_h * v / top) for i, v in enumerate(values)]
    out = [f'<svg viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">']
    for i in range(5):
        y = pad_t + plot_h - plot_h * i / 4
        out.append(f'<line class="axis" x1="{pad_l}" y1="{y:.1f}" x2="{WIDTH - pad_r}" y2="{y:.1f}"/>')
        out.append(f'<text x="{pad_l - 6}" y="{y + 4:.1f}" text-anchor="end">{fmt(step * i)}</text>')
    if coords:
        out.append('<polyline class="line" points="' + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords) + '"/>')
        for (x, y), label, v in zip(coords, labels, values, strict=True):
            if v:
                out.append(f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="3"><title>{escape(label)}: '
                           f"{fmt(v)}{escape(unit)}</title></circle>")
    widest = max((len(s) for s in labels), default=1) * CHAR_W + 10
    every = max(1, math.ceil(widest / dx)) if n > 1 else 1
    for i, label in enumerate(labels):
        if i % every == 0 or (i == n - 1 and (n - 1) % every >= every / 2):
            out.append(f'<text x="{coords[i][0]:.1f}" y="{height - 10}" text-anchor="middle">{escape(label)}</text>')
    out.append("</svg>")
    rows = "".join(f'<tr><th scope="row">{escape(label)}</th><td>{fmt(v)}{escape(unit)}</td></tr>'
                   for label, v in zip(labels, values, strict=True))
    return _figure(title, "".join(out), rows, ("", "value"))


@dataclass(frozen=True, slots=True)
class Point:
    """One dot of a scatter chart: where it sits, what it is called, where it links, its class (e.g. kind)."""

    x: float
    y: float
    label: str
    href: str = ""
    group: str = ""


def scatter_chart(title: str, points: Sequence[Point], x_title: str, y_title: str, *, x_split: float,
                  y_split: float, x_max: float | None = None, y_max: float | None = None,
                  quadrants: tuple[str, str, str, str] = ("", "", "", "")) -> Markup:
    """Dots on two axes with a split on each, naming the four quadrants ``(top left, top right, bottom left,
    bottom right)``; each dot links to ``href``. The data table lists the points best first (top right)."""
    height, pad_l, pad_b, pad_t, pad_r = 300, 48, 40, 12, 12
    plot_w, plot_h = WIDTH - pad_l - pad_r, height - pad_b - pad_t
    xs = nice_step(max(x_max or x_split * 1.5, max((p.x for p in points), default=0)), 4) * 4
    ys = nice_step(max(y_max or y_split * 1.5, max((p.y for p in points), default=0)), 4) * 4

    def px(x: float) -> float:
        return pad_l + plot_w * min(max(x, 0.0), xs) / xs

    def py(y: float) -> float:
        return pad_t + plot_h - plot_h * min(max(y, 0.0), ys) / ys

    ident = f"chart-{next(_ids)}"
    out = [f'<svg viewBox="0 0 {WIDTH} {height}" aria-labelledby="{ident}"><title id="{ident}">{escape(title)}</title>']
    for i in range(5):
        y, x = pad_t + plot_h - plot_h * i / 4, pad_l + plot_w * i / 4
        out.append(f'<line class="axis" x1="{pad_l}" y1="{y:.1f}" x2="{WIDTH - pad_r}" y2="{y:.1f}"/>')
        out.append(f'<text x="{pad_l - 6}" y="{y + 4:.1f}" text-anchor="end">{fmt(ys * i / 4)}</text>')
        out.append(f'<text x="{x:.1f}" y="{height - pad_b + 16}" text-anchor="middle">{fmt(xs * i / 4)}</text>')
    sx, sy = px(x_split), py(y_split)
    out.append(f'<line class="split" x1="{sx:.1f}" y1="{pad_t}" x2="{sx:.1f}" y2="{pad_t + plot_h}"/>')
    out.append(f'<line class="split" x1="{pad_l}" y1="{sy:.1f}" x2="{WIDTH - pad_r}" y2="{sy:.1f}"/>')
    tl, tr, bl, br = quadrants
    for text, x, y, anchor in ((tl, pad_l + 6, pad_t + 14, "start"), (tr, WIDTH - pad_r - 6, pad_t + 14, "end"),
                               (bl, pad_l + 6, pad_t + plot_h - 6, "start"),
                               (br, WIDTH - pad_r - 6, pad_t + plot_h - 6, "end")):
        if text:
            out.append(f'<text class="quadrant" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{escape(text)}</text>')
    out.append(f'<text class="axis-title" x="{pad_l + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle">'
               f"{escape(x_title)}</text>")
    out.append(f'<text class="axis-title" x="12" y="{pad_t + plot_h / 2:.1f}" text-anchor="middle" '
               f'transform="rotate(-90 12 {pad_t + plot_h / 2:.1f})">{escape(y_title)}</text>')
    for p in points:
        dot = (f'<circle class="dot {escape(p.group)}" cx="{px(p.x):.1f}" cy="{py(p.y):.1f}" r="5">'
               f"<title>{escape(p.label)} ({escape(x_title)} {fmt(p.x)}, {escape(y_title)} {fmt(p.y)})</title>"
               "</circle>")
        out.append(f'<a href="{escape(p.href)}" aria-label="{escape(p.label)}">{dot}</a>' if p.href else dot)
    out.append("</svg>")
    ranked = sorted(points, key=lambda p: (-(p.x >= x_split and p.y >= y_split), -p.y, -p.x))

    def name(p: Point) -> str:
        return f'<a href="{escape(p.href)}">{escape(p.label)}</a>' if p.href else str(escape(p.label))

    rows = "".join(f'<tr><th scope="row">{name(p)}</th><td>{fmt(p.y)}</td><td>{fmt(p.x)}</td></tr>' for p in ranked)
    return _figure(title, "".join(out), rows, ("", y_title, x_title))
