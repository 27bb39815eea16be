"""The occupancy chart of an event, drawn on the server as inline SVG (no JavaScript)."""

import dataclasses
import datetime
import math

from django.template.loader import render_to_string
from django.utils.safestring import SafeString

WIDTH, HEIGHT = 720, 260
# Room for half a dated time label beyond the first and the last tick.
LEFT, RIGHT, TOP, BOTTOM = 56, 48, 16, 50
X_LABELS = 6


@dataclasses.dataclass(frozen=True)
class Tick:
    position: float
    label: str


def occupancy_svg(points: list[tuple[datetime.datetime, int]]) -> SafeString:
    """An SVG line of people inside over time, with labelled axes; a sentence when there is nothing to draw."""
    if not points:
        return render_to_string("attendees/admin/occupancy_chart.html", {"empty": True})
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top_value = _nice_ceiling(max(count for _, count in points))
    span = max((points[-1][0] - points[0][0]).total_seconds(), 1)

    def x(at: datetime.datetime) -> float:
        return round(LEFT + plot_width * (at - points[0][0]).total_seconds() / span, 1)

    def y(count: int) -> float:
        return round(TOP + plot_height * (1 - count / top_value), 1)

    several_days = points[0][0].date() != points[-1][0].date()
    label_format = "%b %d %H:%M" if several_days else "%H:%M"
    every = max(1, math.ceil(len(points) / X_LABELS))
    x_ticks = [Tick(x(at), at.strftime(label_format)) for at, _ in points[:-1:every]]
    if len(points) > 1 and x(points[-1][0]) - x_ticks[-1].position > plot_width / (2 * X_LABELS):
        # The end (now, or the event's end) is labelled unless it would crowd the last tick.
        x_ticks.append(Tick(x(points[-1][0]), points[-1][0].strftime(label_format)))
    y_ticks = [Tick(y(value), str(value)) for value in sorted({0, top_value // 2, top_value})]
    # A step line: the count holds until the next point.
    corners = []
    for (at, count), (next_at, _) in zip(points, [*points[1:], points[-1]], strict=True):
        corners += [(x(at), y(count)), (x(next_at), y(count))]
    peak_at, peak = max(points, key=lambda point: point[1])
    return render_to_string(
        "attendees/admin/occupancy_chart.html",
        {
            "width": WIDTH,
            "height": HEIGHT,
            "left": LEFT,
            "right": WIDTH - RIGHT,
            "top": TOP,
            "bottom": HEIGHT - BOTTOM,
            "x_label_y": HEIGHT - BOTTOM + 22,
            "axis_title_y": HEIGHT - 6,
            "polyline": " ".join(f"{px},{py}" for px, py in corners),
            "x_ticks": x_ticks,
            "y_ticks": y_ticks,
            "start": points[0][0],
            "end": points[-1][0],
            "peak": peak,
            "peak_at": peak_at,
            "now_inside": points[-1][1],
            "step_minutes": round((points[1][0] - points[0][0]).total_seconds() / 60) if len(points) > 1 else None,
        },
    )


def _nice_ceiling(value: int) -> int:
    """The smallest of 2, 4, 10, 20, 40, 100 ... that is at least `value` (an even top keeps the middle tick whole)."""
    if value <= 2:
        return 2
    magnitude = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 4, 10):
        if value <= factor * magnitude and factor * magnitude % 2 == 0:
            return factor * magnitude
    return 10 * magnitude
