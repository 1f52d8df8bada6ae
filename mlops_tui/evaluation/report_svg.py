"""Tiny inline-SVG charts for the HTML report: lines/points on axes, horizontal bars.

Hand-made on purpose: the report must open offline with no script or stylesheet fetched, and
these few chart types are all it needs. Inline SVG in HTML5 needs no namespace URL, so the file
holds no URL at all. Every label goes through :func:`html.escape`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#7f7f7f", "#bcbd22")


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


@dataclass
class Series:
    label: str
    xs: Sequence[float | None]
    ys: Sequence[float | None]
    color: str
    mode: str = "line"  # line | points | step | linepoints (a line with a dot on every point)
    width: float = 2.0
    dashed: bool = False
    notes: Sequence[str] | None = None  # per point, shown as a tooltip on its dot
    sizes: Sequence[float] | None = None  # per point dot radius (linepoints); default 3.2


@dataclass
class Chart:
    """Axes with series; ranges default to the data's."""

    title: str
    x_label: str = ""
    y_label: str = ""
    series: list[Series] = field(default_factory=list)
    x_range: tuple[float, float] | None = None
    y_range: tuple[float, float] | None = None
    diagonal: bool = False  # the y = x reference (ROC chance, calibration, predicted = actual)
    x_integer: bool = False  # ticks only at whole numbers (trial numbers)
    width: int = 460
    height: int = 320


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step + 1e-9) + 1)]


def _fmt(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 1e5 else f"{v:.2e}"


def _range(values: list[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    pad = (hi - lo) * 0.04
    return lo - pad, hi + pad


def render(chart: Chart) -> str:
    """The chart as an ``<svg>`` element with a legend."""
    pts = [(x, y) for s in chart.series for x, y in zip(s.xs, s.ys, strict=False)
           if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)]
    if not pts:
        return f'<p class="muted">{escape(chart.title)}: no data</p>'
    x0, x1 = chart.x_range or _range([p[0] for p in pts])
    y0, y1 = chart.y_range or _range([p[1] for p in pts])
    w, h = chart.width, chart.height
    left, right, top, bottom = 56, 12, 28, 44
    pw, ph = w - left - right, h - top - bottom
    # The legend sits between the title and the plot, never over the data (a box in a corner hid
    # the points and lines that happened to be there). Entries flow left to right and wrap.
    legend = [s for s in chart.series if s.label]
    legend_rows = _legend_rows([s.label for s in legend], pw)
    top += LEGEND_ROW * len(legend_rows)
    h += LEGEND_ROW * len(legend_rows)

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return top + ph - (y - y0) / (y1 - y0) * ph

    parts = [f'<svg class="chart" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" '
             f'aria-label="{escape(chart.title)}">',
             f'<text x="{left}" y="16" class="title">{escape(chart.title)}</text>',
             f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" class="frame"/>']
    x_ticks = _ticks(x0, x1)
    if chart.x_integer:
        x_ticks = [t for t in x_ticks if float(t).is_integer()] or x_ticks
    for t in x_ticks:
        parts.append(f'<line x1="{sx(t):.1f}" y1="{top}" x2="{sx(t):.1f}" y2="{top + ph}" class="grid"/>'
                     f'<text x="{sx(t):.1f}" y="{top + ph + 14}" class="tick" text-anchor="middle">{_fmt(t)}</text>')
    for t in _ticks(y0, y1):
        parts.append(f'<line x1="{left}" y1="{sy(t):.1f}" x2="{left + pw}" y2="{sy(t):.1f}" class="grid"/>'
                     f'<text x="{left - 4}" y="{sy(t) + 4:.1f}" class="tick" text-anchor="end">{_fmt(t)}</text>')
    parts.append(f'<text x="{left + pw / 2}" y="{h - 6}" class="axis" text-anchor="middle">{escape(chart.x_label)}</text>'
                 f'<text x="12" y="{top + ph / 2}" class="axis" text-anchor="middle" '
                 f'transform="rotate(-90 12 {top + ph / 2})">{escape(chart.y_label)}</text>')
    parts.append(f'<clipPath id="c{id(chart)}"><rect x="{left}" y="{top}" width="{pw}" height="{ph}"/></clipPath>'
                 f'<g clip-path="url(#c{id(chart)})">')
    if chart.diagonal:
        lo, hi = max(x0, y0), min(x1, y1)
        parts.append(f'<line x1="{sx(lo):.1f}" y1="{sy(lo):.1f}" x2="{sx(hi):.1f}" y2="{sy(hi):.1f}" class="diag"/>')
    for s in chart.series:
        xy = [(sx(x), sy(y)) for x, y in zip(s.xs, s.ys, strict=False)
              if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)]
        if not xy:
            continue
        if s.mode == "points":
            parts.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.6" fill="{s.color}" fill-opacity="0.6"/>'
                         for x, y in xy)
            continue
        if s.mode == "step":
            stepped = [xy[0]]
            for x, y in xy[1:]:
                stepped += [(x, stepped[-1][1]), (x, y)]
            xy = stepped
        dash = ' stroke-dasharray="5 3"' if s.dashed else ""
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{s.color}" '
                     f'stroke-width="{s.width}"{dash}/>')
        if s.mode == "linepoints":  # dots over the line, each with its note as a tooltip
            n_all = len(s.xs)
            extra = [(n, r) for x, y, n, r in zip(s.xs, s.ys, s.notes or [""] * n_all, s.sizes or [3.2] * n_all,
                                                  strict=False)
                     if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)]
            parts.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{s.color}" fill-opacity="0.75">'
                         + (f"<title>{escape(n)}</title>" if n else "") + "</circle>"
                         for (x, y), (n, r) in zip(xy, extra, strict=False))
    parts.append("</g>")
    entries = iter(legend)
    for row, labels in enumerate(legend_rows):
        y, x = 28 + row * LEGEND_ROW + 10, left
        for label in labels:
            s = next(entries)
            parts.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{s.color}"/>'
                         f'<text x="{x + 14}" y="{y}" class="legend">{escape(label)}</text>')
            x += _legend_width(label)
    parts.append("</svg>")
    return "".join(parts)


LEGEND_ROW = 16
LEGEND_MAX_CHARS = 32


def _legend_width(label: str) -> int:
    """Room one legend entry takes: swatch, text at ~6.5 px per character (11 px font), a gap."""
    return 14 + int(6.5 * len(label)) + 14


def _legend_rows(labels: list[str], width: int) -> list[list[str]]:
    """Legend labels (shortened to LEGEND_MAX_CHARS) laid out in rows that fit ``width``."""
    rows: list[list[str]] = []
    used = width + 1
    for label in (lab[:LEGEND_MAX_CHARS] for lab in labels):
        need = _legend_width(label)
        if used + need > width and (not rows or rows[-1]):
            rows.append([])
            used = 0
        rows[-1].append(label)
        used += need
    return rows


def bars(title: str, labels: Sequence[str], values: Sequence[float | None], *, fill: str = PALETTE[0],
         width: int = 460, value_fmt: str = "{:.3g}") -> str:
    """Horizontal bars, largest first as given; ``None`` values are skipped."""
    rows = [(lab, v) for lab, v in zip(labels, values, strict=False) if v is not None and math.isfinite(v)]
    if not rows:
        return f'<p class="muted">{escape(title)}: no data</p>'
    label_w, bar_h, top = 150, 16, 24
    peak = max(abs(v) for _, v in rows) or 1.0
    pw = width - label_w - 60
    h = top + len(rows) * (bar_h + 4) + 6
    parts = [f'<svg class="chart" width="{width}" height="{h}" viewBox="0 0 {width} {h}" role="img" '
             f'aria-label="{escape(title)}"><text x="4" y="16" class="title">{escape(title)}</text>']
    for i, (lab, v) in enumerate(rows):
        y = top + i * (bar_h + 4)
        bw = abs(v) / peak * pw
        parts.append(f'<text x="{label_w - 6}" y="{y + 12}" class="tick" text-anchor="end">{escape(str(lab)[:22])}</text>'
                     f'<rect x="{label_w}" y="{y}" width="{bw:.1f}" height="{bar_h}" fill="{fill}"/>'
                     f'<text x="{label_w + bw + 4:.1f}" y="{y + 12}" class="tick">{escape(value_fmt.format(v))}</text>')
    parts.append("</svg>")
    return "".join(parts)
