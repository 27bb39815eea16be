"""The occupancy chart of an event, drawn on the server as inline SVG (no JavaScript)."""

import dataclasses
import datetime
import math
from collections.abc import Sequence

from django.template.loader import render_to_string
from django.utils import dateformat, timezone
from django.utils.safestring import SafeString
from django.utils.translation import gettext

WIDTH, HEIGHT = 720, 260
# Room for half a dated time label beyond the first and the last tick.
LEFT, RIGHT, TOP, BOTTOM = 56, 48, 16, 50
# At most this many times on the x-axis, a "nice" step apart.
X_LABELS = 6
NICE_STEPS = [
    *(datetime.timedelta(minutes=minutes) for minutes in (1, 2, 5, 10, 15, 30)),
    *(datetime.timedelta(hours=hours) for hours in (1, 2, 3, 6, 12)),
    *(datetime.timedelta(days=days) for days in (1, 2, 7, 14)),
]
DAY, WEEK = datetime.timedelta(days=1), datetime.timedelta(weeks=1)

# The areas' lines differ by dash pattern as well as by colour, so that they can be told
# apart without colour. The colours keep a contrast of at least 3:1 against both the
# admin's light and dark backgrounds; the event's own line is solid, in the text colour.
AREA_COLOURS = ["#D55E00", "#2E8B57", "#8E5CC4", "#0072B2", "#C2407E", "#B8860B"]
AREA_DASHES = ["8 4", "2 3", "12 3 3 3", "5 5", "16 4 2 4 2 4"]
# The legend, under the chart: a sample of each line and its name, in columns.
LEGEND_COLUMNS = 3
LEGEND_ROW = 20
LEGEND_SAMPLE = 28
LEGEND_NAME_CHARACTERS = 20

Points = Sequence[tuple[datetime.datetime, int]]


@dataclasses.dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclasses.dataclass(frozen=True)
class Line:
    name: str
    label: str
    polyline: str
    colour: str
    dashes: str
    peak: int
    peak_at: datetime.datetime
    now_inside: int
    legend_x: float
    legend_y: float

    @property
    def shortened(self) -> bool:
        return self.label != self.name

    @property
    def legend_sample_end(self) -> float:
        return round(self.legend_x + LEGEND_SAMPLE, 1)

    @property
    def legend_text_x(self) -> float:
        return round(self.legend_x + LEGEND_SAMPLE + 6, 1)


def occupancy_svg(
    points: Points, *, areas: Sequence[tuple[str, Points]] = (), zone: datetime.tzinfo = datetime.UTC
) -> SafeString:
    """An SVG line of people inside over time, with labelled axes in the local time of
    `zone` (the event's), and beside it one line per area (name, points at the same
    times), told apart by a legend; a sentence when there is nothing to draw."""
    if not points:
        return render_to_string("attendees/admin/occupancy_chart.html", {"empty": True})
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top_value = _nice_ceiling(max(count for line in [points, *(p for _, p in areas)] for _, count in line))
    span = max((points[-1][0] - points[0][0]).total_seconds(), 1)

    def x(at: datetime.datetime) -> float:
        return round(LEFT + plot_width * (at - points[0][0]).total_seconds() / span, 1)

    def y(count: int) -> float:
        return round(TOP + plot_height * (1 - count / top_value), 1)

    def step_line(line: Points) -> str:
        # A step line: the count holds until the next point.
        corners = []
        for (at, count), (next_at, _) in zip(line, [*line[1:], line[-1]], strict=True):
            corners += [(x(at), y(count)), (x(next_at), y(count))]
        return " ".join(f"{px},{py}" for px, py in corners)

    def local(at: datetime.datetime) -> datetime.datetime:
        return at.astimezone(zone)

    several_days = local(points[0][0]).date() != local(points[-1][0]).date()
    step, times = time_ticks(points[0][0], points[-1][0], zone)
    # Django's date format, so that month names follow the active language.
    label_format = "M d" if step >= DAY else "M d H:i" if several_days else "H:i"
    x_ticks = [Tick(x(at), dateformat.format(local(at), label_format)) for at in times or [points[0][0]]]
    y_ticks = [Tick(y(value), str(value)) for value in sorted({0, top_value // 2, top_value})]

    named = [(gettext("Whole event"), points), *areas] if areas else [("", points)]
    legend_top = HEIGHT + LEGEND_ROW
    column_width = plot_width / LEGEND_COLUMNS
    lines = []
    for n, (name, line) in enumerate(named):
        peak_at, peak = max(line, key=lambda point: point[1])
        row, column = divmod(n, LEGEND_COLUMNS)
        lines.append(
            Line(
                name=name,
                label=_shortened(name),
                polyline=step_line(line),
                colour="currentColor" if n == 0 else AREA_COLOURS[(n - 1) % len(AREA_COLOURS)],
                dashes="" if n == 0 else AREA_DASHES[(n - 1) % len(AREA_DASHES)],
                peak=peak,
                peak_at=peak_at,
                now_inside=line[-1][1],
                legend_x=round(LEFT + column * column_width, 1),
                legend_y=legend_top + row * LEGEND_ROW,
            )
        )
    legend_rows = math.ceil(len(named) / LEGEND_COLUMNS) if areas else 0
    height = HEIGHT + legend_rows * LEGEND_ROW + (LEGEND_ROW // 2 if legend_rows else 0)
    event_line, *area_lines = lines
    # The template's date filters show times in the active zone: the event's.
    with timezone.override(zone):
        return render_to_string(
            "attendees/admin/occupancy_chart.html",
            {
                "width": WIDTH,
                "height": height,
                "left": LEFT,
                "right": WIDTH - RIGHT,
                "top": TOP,
                "bottom": HEIGHT - BOTTOM,
                "x_label_y": HEIGHT - BOTTOM + 22,
                "axis_title_y": HEIGHT - 6,
                "zone_name": str(zone),
                "event_line": event_line,
                "area_lines": area_lines,
                "legend": lines if areas else [],
                "x_ticks": x_ticks,
                "y_ticks": y_ticks,
                "start": local(points[0][0]),
                "end": local(points[-1][0]),
                "peak": event_line.peak,
                "peak_at": local(event_line.peak_at),
                "now_inside": event_line.now_inside,
                # Two points are the start and the end: no step to speak of.
                "step_minutes": round((points[1][0] - points[0][0]).total_seconds() / 60) if len(points) > 2 else None,
            },
        )


def time_ticks(
    start: datetime.datetime, end: datetime.datetime, zone: datetime.tzinfo
) -> tuple[datetime.timedelta, list[datetime.datetime]]:
    """The step of the time axis, the shortest of `NICE_STEPS` that gives at most `X_LABELS`
    ticks, and the times from `start` to `end` that are whole multiples of it on the local
    clock of `zone`, counted from midnight (for steps of days, from `start`'s midnight).
    A local time that a clock change skips has no tick, and one it repeats has one."""
    span = end - start
    step = next(
        (step for step in NICE_STEPS if span / step <= X_LABELS - 1),
        WEEK * math.ceil(span / WEEK / (X_LABELS - 1)),
    )
    local_start = start.astimezone(zone).replace(tzinfo=None)
    midnight = local_start.replace(hour=0, minute=0, second=0, microsecond=0)
    wall = midnight + step * math.ceil((local_start - midnight) / step)
    times = []
    while (moment := wall.replace(tzinfo=zone)) <= end:
        if moment.astimezone(datetime.UTC).astimezone(zone).replace(tzinfo=None) == wall:
            times.append(moment)
        wall += step
    return step, times


def _shortened(name: str) -> str:
    """The name as the legend's column has room for it; the full name is the entry's tooltip."""
    if len(name) <= LEGEND_NAME_CHARACTERS:
        return name
    return f"{name[: LEGEND_NAME_CHARACTERS - 1].rstrip()}…"


def _nice_ceiling(value: int) -> int:
    """The smallest of 2, 4, 10, 20, 40, 100 ... that is at least `value` (an even top keeps the middle tick whole)."""
    if value <= 2:
        return 2
    magnitude = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 4, 10):
        if value <= factor * magnitude and factor * magnitude % 2 == 0:
            return factor * magnitude
    return 10 * magnitude
