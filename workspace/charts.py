"""Small server-rendered SVG charts (bars and lines) with a text alternative; no JavaScript, no build step.

Each function returns safe markup (``markupsafe.Markup``) ready to drop into a template.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD_L, PAD_B, PAD_T = 600, 220, 44, 40, 12


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** len(str(int(value))) / 10
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return value


def _fmt(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value / 1000:.1f}k"
    return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else f"{int(value)}"


def _frame(title: str, body: list[str], top: float, labels: Sequence[str], points: Sequence[float],
           unit: str) -> Markup:
    plot_h = HEIGHT - PAD_B - PAD_T
    parts = [f'<figure class="chart"><svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="t">',
             f"<title>{escape(title)}</title>"]
    for i in range(5):
        y = PAD_T + plot_h - plot_h * i / 4
        parts.append(f'<line class="axis" x1="{PAD_L}" y1="{y:.1f}" x2="{WIDTH}" y2="{y:.1f}"/>')
        parts.append(f'<text x="{PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(top * i / 4)}</text>')
    parts.extend(body)
    parts.append("</svg>")
    rows = "".join(f"<tr><th scope=row>{escape(label)}</th><td>{_fmt(v)}{escape(unit)}</td></tr>"
                   for label, v in zip(labels, points, strict=True))
    parts.append(f'<figcaption>{escape(title)}</figcaption><details class="small"><summary>Data</summary>'
                 f"<table>{rows}</table></details></figure>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated string above is escaped


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float], unit: str = "") -> Markup:
    """Vertical bars, one per label."""
    top = _nice_max(max(values, default=0))
    n = max(len(values), 1)
    slot = (WIDTH - PAD_L) / n
    plot_h = HEIGHT - PAD_B - PAD_T
    body = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = plot_h * value / top
        x = PAD_L + i * slot + slot * 0.15
        body.append(f'<rect class="bar" x="{x:.1f}" y="{PAD_T + plot_h - h:.1f}" width="{slot * 0.7:.1f}" '
                    f'height="{h:.1f}"><title>{escape(label)}: {_fmt(value)}{escape(unit)}</title></rect>')
        short = label if len(label) <= 14 else label[:13] + "…"
        body.append(f'<text x="{x + slot * 0.35:.1f}" y="{HEIGHT - PAD_B + 16}" text-anchor="middle">'
                    f"{escape(short)}</text>")
    return _frame(title, body, top, labels, values, unit)


def line_chart(title: str, labels: Sequence[str], values: Sequence[float], unit: str = "") -> Markup:
    """A line over evenly spaced labels (e.g. days)."""
    top = _nice_max(max(values, default=0))
    n = len(values)
    plot_h = HEIGHT - PAD_B - PAD_T
    step = (WIDTH - PAD_L - 10) / max(n - 1, 1)
    coords = [(PAD_L + i * step, PAD_T + plot_h - plot_h * v / top) for i, v in enumerate(values)]
    body = []
    if coords:
        body.append('<polyline class="line" points="' + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords) + '"/>')
    every = max(1, n // 6)
    for i, label in enumerate(labels):
        if i % every == 0:
            body.append(f'<text x="{coords[i][0]:.1f}" y="{HEIGHT - PAD_B + 16}" text-anchor="middle">'
                        f"{escape(label)}</text>")
    return _frame(title, body, top, labels, values, unit)
