"""The occupancy chart's time axis: ticks a "nice" step apart, on round local times of the event's zone."""

import datetime
import itertools
import re
import xml.etree.ElementTree as ET
from zoneinfo import ZoneInfo

import pytest

from attendees import charts

SVG = "{http://www.w3.org/2000/svg}"
UTC = datetime.UTC


def quarter_hours(start: datetime.datetime, end: datetime.datetime) -> list[tuple[datetime.datetime, int]]:
    """A count at every quarter hour from `start` to `end`, as the chart is given them."""
    points, moment = [], start
    while moment <= end:
        points.append((moment, len(points) % 5))
        moment += datetime.timedelta(minutes=15)
    return points


def x_ticks(points, zone: str) -> list[tuple[float, str]]:
    svg = ET.fromstring(re.search(r"<svg\b.*</svg>", charts.occupancy_svg(points, zone=ZoneInfo(zone)), re.DOTALL)[0])
    axis = svg.find(f"{SVG}g[@text-anchor='middle']")
    return [(float(text.get("x")), text.text) for text in axis.findall(f"{SVG}text")]


def labels(points, zone: str) -> list[str]:
    return [label for _, label in x_ticks(points, zone)]


def test_ticks_of_a_day_fall_on_round_hours_of_the_events_zone_not_every_nth_point():
    # 09:45 to 17:30 in Berlin (CET): once labelled 09:45, 11:30, 13:15 ...
    points = quarter_hours(
        datetime.datetime(2026, 12, 6, 8, 45, tzinfo=UTC), datetime.datetime(2026, 12, 6, 16, 30, tzinfo=UTC)
    )

    assert labels(points, "Europe/Berlin") == ["10:00", "12:00", "14:00", "16:00"]


def test_ticks_are_evenly_spaced():
    points = quarter_hours(
        datetime.datetime(2026, 12, 6, 8, 45, tzinfo=UTC), datetime.datetime(2026, 12, 6, 16, 30, tzinfo=UTC)
    )

    positions = [x for x, _ in x_ticks(points, "Europe/Berlin")]

    gaps = {round(b - a) for a, b in itertools.pairwise(positions)}
    assert len(gaps) == 1


def test_a_two_hour_event_has_a_tick_every_half_hour():
    points = quarter_hours(
        datetime.datetime(2025, 3, 14, 14, 0, tzinfo=UTC), datetime.datetime(2025, 3, 14, 16, 0, tzinfo=UTC)
    )

    assert labels(points, "UTC") == ["14:00", "14:30", "15:00", "15:30", "16:00"]


def test_ticks_are_round_on_the_local_clock_of_a_zone_half_an_hour_off_utc():
    # 04:00 to 06:00 UTC is 09:30 to 11:30 in India (UTC+5:30).
    points = quarter_hours(
        datetime.datetime(2026, 12, 6, 4, 0, tzinfo=UTC), datetime.datetime(2026, 12, 6, 6, 0, tzinfo=UTC)
    )

    assert labels(points, "Asia/Kolkata") == ["09:30", "10:00", "10:30", "11:00", "11:30"]


def test_an_hour_the_clocks_skip_has_no_tick():
    # Berlin, night of 29 March 2026: 02:00 CET became 03:00 CEST.
    points = quarter_hours(
        datetime.datetime(2026, 3, 28, 23, 0, tzinfo=UTC), datetime.datetime(2026, 3, 29, 4, 0, tzinfo=UTC)
    )

    assert labels(points, "Europe/Berlin") == ["00:00", "01:00", "03:00", "04:00", "05:00", "06:00"]


def test_an_event_over_several_days_has_a_tick_at_each_local_midnight_labelled_with_the_date():
    points = [
        (datetime.datetime(2026, 10, 1, 6, 0, tzinfo=UTC), 0),
        (datetime.datetime(2026, 10, 3, 12, 0, tzinfo=UTC), 3),
        (datetime.datetime(2026, 10, 5, 18, 0, tzinfo=UTC), 1),
    ]

    assert labels(points, "Europe/Berlin") == ["Oct 02", "Oct 03", "Oct 04", "Oct 05"]


@pytest.mark.parametrize("minutes", [1, 20, 90, 7 * 60 + 45, 26 * 60, 40 * 24 * 60])
def test_there_are_never_more_ticks_than_the_axis_has_room_for(minutes):
    start = datetime.datetime(2026, 12, 6, 8, 7, tzinfo=UTC)
    points = [(start, 1), (start + datetime.timedelta(minutes=minutes), 2)]

    assert 1 <= len(labels(points, "Europe/Berlin")) <= charts.X_LABELS


def test_a_chart_too_short_for_any_round_time_labels_its_start():
    start = datetime.datetime(2026, 12, 6, 8, 7, 10, tzinfo=UTC)
    points = [(start, 1), (start + datetime.timedelta(seconds=30), 2)]

    assert labels(points, "Europe/Berlin") == ["09:07"]
