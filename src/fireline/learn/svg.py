"""A small dependency-free SVG line chart, for metric trends and the review's signal plot (no
plotting library is a dependency of fireline). Every text is escaped; the output is a complete
SVG document."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 640, 320
LEFT, RIGHT, TOP, BOTTOM = 64, 24, 40, 56


@dataclass(frozen=True, slots=True)
class Point:
    """One labelled value on the x axis; None leaves a gap in the line."""

    label: str
    value: float | None


@dataclass(frozen=True, slots=True)
class Mark:
    """A labelled vertical line at `position`, in units of the points' index (0 is the first
    point; fractions fall between points)."""

    label: str
    position: float
    colour: str = "#555"


def _nice_max(value: float) -> float:
    """A round upper bound for the y axis: 1, 2 or 5 times a power of ten, at least `value`.

    >>> [_nice_max(v) for v in (0, 0.7, 3.2, 12, 480)]
    [1.0, 1.0, 5.0, 20.0, 500.0]
    """
    if value <= 0:
        return 1.0
    scale = 1.0
    while scale * 10 < value:
        scale *= 10
    while scale > value:
        scale /= 10
    for step in (1, 2, 5, 10):
        if step * scale >= value:
            return float(step * scale)
    return float(10 * scale)  # pragma: no cover - the loop always returns


def _number(value: float) -> str:
    return f"{value:.3g}"


def line_chart(
    title: str,
    points: Sequence[Point],
    *,
    unit: str = "",
    marks: Sequence[Mark] = (),
    dots: bool = True,
) -> str:
    """An SVG line chart of `points` with a title, a y axis of 5 ticks and x labels; `marks`
    are drawn as labelled vertical lines, and `dots=False` leaves out the points' circles."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    known = [p.value for p in points if p.value is not None]
    top = _nice_max(max(known) if known else 0.0)
    step_x = plot_w / max(len(points) - 1, 1)

    def x(i: int) -> float:
        return LEFT + (i * step_x if len(points) > 1 else plot_w / 2)

    def y(v: float) -> float:
        return TOP + plot_h - v / top * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="22" text-anchor="middle" font-size="14">{escape(title)}</text>',
    ]
    for tick in range(6):
        value = top * tick / 5
        ty = y(value)
        parts.append(
            f'<line x1="{LEFT}" y1="{ty:.1f}" x2="{WIDTH - RIGHT}" y2="{ty:.1f}" stroke="#ddd"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end">'
            f"{escape(_number(value) + unit)}</text>"
        )
    every = max(1, len(points) // 12)  # at most about 12 labels
    for i, point in enumerate(points):
        if i % every == 0 or i == len(points) - 1:
            parts.append(
                f'<text x="{x(i):.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle">'
                f"{escape(point.label)}</text>"
            )
    segments: list[list[str]] = [[]]
    for i, point in enumerate(points):
        if point.value is None:
            segments.append([])
            continue
        segments[-1].append(f"{x(i):.1f},{y(point.value):.1f}")
        if not dots:
            continue
        parts.append(
            f'<circle cx="{x(i):.1f}" cy="{y(point.value):.1f}" r="3" fill="#c0392b">'
            f"<title>{escape(point.label)}: {escape(_number(point.value) + unit)}</title></circle>"
        )
    for segment in segments:
        if len(segment) > 1:
            parts.append(
                f'<polyline points="{" ".join(segment)}" fill="none" stroke="#c0392b" '
                'stroke-width="2"/>'
            )
    for n, mark in enumerate(marks):
        mx = LEFT + (mark.position * step_x if len(points) > 1 else plot_w / 2)
        if not LEFT <= mx <= WIDTH - RIGHT:
            continue
        label_y = TOP + 12 + 12 * (n % 4)  # staggered, so marks close together stay legible
        parts.append(
            f'<line x1="{mx:.1f}" y1="{TOP}" x2="{mx:.1f}" y2="{TOP + plot_h}" '
            f'stroke="{escape(mark.colour)}" stroke-dasharray="4 3"/>'
        )
        parts.append(
            f'<text x="{mx + 3:.1f}" y="{label_y}" fill="{escape(mark.colour)}">'
            f"{escape(mark.label)}</text>"
        )
    if not known:
        parts.append(
            f'<text x="{WIDTH / 2}" y="{TOP + plot_h / 2}" text-anchor="middle" fill="#888">'
            "no data</text>"
        )
    parts.append(
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" '
        'stroke="#333"/>'
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def stacked(charts: Sequence[str]) -> str:
    """Charts of `line_chart` one above the other, as one SVG document."""
    if len(charts) == 1:
        return charts[0]
    height = HEIGHT * len(charts)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}">'
    ]
    for i, chart in enumerate(charts):
        inner = chart.replace(
            '<svg xmlns="http://www.w3.org/2000/svg" ', f'<svg y="{i * HEIGHT}" ', 1
        )
        parts.append(inner.rstrip("\n"))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
