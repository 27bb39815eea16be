"""The organizer's event page in a real browser: the attendance figures and the
occupancy chart, an inline SVG drawn on the server."""

import re
from datetime import UTC, datetime
from unittest import mock

import pytest
from django.contrib.auth.models import Permission

from attendees import services
from attendees.models import Area, Event

from .conftest import PLAYWRIGHT_MISSING

expect = pytest.importorskip("playwright.sync_api", reason=PLAYWRIGHT_MISSING).expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The bounding boxes, in the SVG's own units, of what a reader has to read: tick labels, axis titles.
TEXT_BOXES = """svg => {
    const view = svg.viewBox.baseVal;
    return {
        view: {x: view.x, y: view.y, width: view.width, height: view.height},
        texts: [...svg.querySelectorAll("text")].map(text => {
            const box = text.getBBox();
            const matrix = text.getCTM().inverse().multiply(svg.getCTM()).inverse();
            const corners = [[box.x, box.y], [box.x + box.width, box.y + box.height]].map(
                ([x, y]) => new DOMPoint(x, y).matrixTransform(matrix)
            );
            return {
                text: text.textContent,
                left: Math.min(corners[0].x, corners[1].x),
                right: Math.max(corners[0].x, corners[1].x),
                top: Math.min(corners[0].y, corners[1].y),
                bottom: Math.max(corners[0].y, corners[1].y),
            };
        }),
    };
}"""


def at(day: int, hour: int, minute: int) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC)


def visit(attendee, checked_in: datetime, checked_out: datetime | None = None, area: Area | None = None) -> None:
    """A stay in the event (in `area`, if given) ended by leaving the event."""
    with mock.patch("django.utils.timezone.now", return_value=checked_in):
        services.check_in(attendee=attendee, by=None, area=area)
    if checked_out is not None:
        with mock.patch("django.utils.timezone.now", return_value=checked_out):
            services.check_out(attendee=attendee, by=None)


class Element:
    """Lets the `screenshot` fixture, which takes whole pages, take one element of a page."""

    def __init__(self, locator):
        self.locator = locator

    def screenshot(self, *, path, full_page: bool) -> None:
        self.locator.screenshot(path=path)


def overlap(a: dict, b: dict) -> bool:
    return a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] and b["top"] < a["bottom"]


def unreadable_labels(svg) -> list[str]:
    """Labels cut off by the edge of the chart, or drawn over one another."""
    boxes = svg.evaluate(TEXT_BOXES)
    view, texts = boxes["view"], boxes["texts"]
    problems = [
        f"{text['text']!r} runs past the edge ({text['left']:.0f}..{text['right']:.0f} of {view['width']:.0f})"
        for text in texts
        if text["left"] < view["x"]
        or text["top"] < view["y"]
        or text["right"] > view["x"] + view["width"]
        or text["bottom"] > view["y"] + view["height"]
    ]
    problems += [
        f"{a['text']!r} overlaps {b['text']!r}" for n, a in enumerate(texts) for b in texts[n + 1 :] if overlap(a, b)
    ]
    return problems


def contrast(first: str, second: str) -> float:
    """The WCAG contrast ratio of two CSS `rgb(...)` colours."""

    def luminance(colour: str) -> float:
        channels = [int(value) / 255 for value in re.findall(r"\d+", colour)[:3]]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    lighter, darker = sorted([luminance(first), luminance(second)], reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@pytest.fixture
def afternoon(event, make_attendee) -> Event:
    """From 14:00 to 16:00: eight people coming and going, one since before the start, two still inside."""
    event.starts_at, event.ends_at = at(14, 14, 0), at(14, 16, 0)
    event.save()
    stays = [
        (at(14, 13, 45), at(14, 15, 20)),
        (at(14, 14, 5), at(14, 14, 50)),
        (at(14, 14, 10), None),
        (at(14, 14, 20), at(14, 15, 55)),
        (at(14, 14, 35), at(14, 15, 5)),
        (at(14, 14, 40), at(14, 15, 40)),
        (at(14, 15, 10), None),
        (at(14, 15, 25), at(14, 15, 35)),
    ]
    for checked_in, checked_out in stays:
        visit(make_attendee(event=event), checked_in, checked_out)
    make_attendee(event=event)
    return event


@pytest.fixture
def overnight(other_event, make_attendee) -> Event:
    """A night from 22:00 to 01:00 the next day: the time labels carry the date."""
    other_event.starts_at, other_event.ends_at = at(14, 22, 0), at(15, 1, 0)
    other_event.save()
    for checked_in, checked_out in [(at(14, 22, 10), at(15, 0, 40)), (at(14, 23, 5), None)]:
        visit(make_attendee(event=other_event), checked_in, checked_out)
    return other_event


def test_organizer_sees_the_figures_and_the_occupancy_chart_on_the_event_page(
    page, log_in, make_user, afternoon, screenshot
):
    log_in(page, make_user("superuser"), f"/admin/attendees/event/{afternoon.pk}/change/")

    figures = page.locator("table.attendees-figures")
    expect(figures).to_be_visible()
    expect(figures.get_by_role("row", name="Registered")).to_contain_text("9")
    expect(figures.get_by_role("row", name="Inside now")).to_contain_text("2")
    expect(figures.get_by_role("row", name="Never arrived")).to_contain_text("1")
    figure = page.locator("figure.attendees-occupancy")
    chart = figure.locator("svg")
    expect(chart).to_be_visible()
    expect(page.get_by_role("img", name="People inside over time")).to_be_visible()
    expect(chart.locator("polyline.occupancy-line")).to_be_visible()
    expect(chart.locator("text", has_text="Time (UTC)")).to_be_visible()
    expect(chart.locator("text", has_text="People inside")).to_be_visible()
    for label in ("14:00", "15:00", "16:00"):
        expect(chart.locator("text", has_text=label)).to_be_visible()
    screenshot(page, "event page with figures and occupancy chart")
    screenshot(Element(figure), "occupancy chart")

    box = chart.bounding_box()
    assert box["width"] >= 600
    assert box["height"] >= 200
    assert unreadable_labels(chart) == []


def test_staff_without_view_attendee_see_the_event_page_without_figures_or_chart(
    page, log_in, make_user, afternoon, screenshot
):
    user = make_user(username="planner", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="attendees", codename__in=["view_event", "change_event"])
    )
    log_in(page, user, f"/admin/attendees/event/{afternoon.pk}/change/")

    expect(page.get_by_label("Name")).to_have_value("PyCon")
    expect(page.locator("table.attendees-figures")).to_have_count(0)
    expect(page.locator("figure.attendees-occupancy")).to_have_count(0)
    screenshot(page, "event page without figures or chart")


def test_occupancy_chart_of_an_overnight_event_keeps_its_dated_labels_inside_the_chart(
    page, log_in, make_user, overnight, screenshot
):
    log_in(page, make_user("superuser"), f"/admin/attendees/event/{overnight.pk}/change/")

    figure = page.locator("figure.attendees-occupancy")
    expect(figure.locator("polyline.occupancy-line")).to_be_visible()
    expect(figure.locator("text", has_text="Mar 14 22:00")).to_be_visible()
    screenshot(Element(figure), "overnight occupancy chart")

    assert unreadable_labels(figure.locator("svg")) == []


def test_occupancy_chart_follows_the_admin_dark_theme(new_page, log_in, make_user, afternoon, screenshot):
    page = new_page(color_scheme="dark")
    log_in(page, make_user("superuser"), f"/admin/attendees/event/{afternoon.pk}/change/")

    chart = page.locator("figure.attendees-occupancy svg")
    expect(chart).to_be_visible()
    body = page.locator("body")
    expect(body).not_to_have_css("background-color", "rgb(255, 255, 255)")
    # The chart takes the page's own colours: light text and lines on the dark background.
    page_background = body.evaluate("body => getComputedStyle(body).backgroundColor")
    page_text = body.evaluate("body => getComputedStyle(body).color")
    expect(chart).to_have_css("background-color", page_background)
    expect(chart.locator("text", has_text="Time (UTC)")).to_have_css("fill", page_text)
    expect(chart.locator("polyline.occupancy-line")).to_have_css("stroke", page_text)
    screenshot(page, "event page in the dark theme")

    assert contrast(page_text, page_background) >= 7


# What a phone shows: the SVG shrinks to the screen, and its 12-unit text with it.
SMALLEST_LABEL_PX = """svg => {
    const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    const sizes = [...svg.querySelectorAll("text")].map(text => parseFloat(getComputedStyle(text).fontSize));
    return Math.min(...sizes) * scale;
}"""


def test_occupancy_chart_labels_stay_readable_on_a_phone(phone_page, log_in, make_user, afternoon, screenshot):
    log_in(phone_page, make_user("superuser"), f"/admin/attendees/event/{afternoon.pk}/change/")

    chart = phone_page.locator("figure.attendees-occupancy svg")
    expect(chart).to_be_visible()
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(Element(phone_page.locator("figure.attendees-occupancy")), "occupancy chart on a phone")
    screenshot(phone_page, "event page on a phone")

    assert chart.evaluate(SMALLEST_LABEL_PX) >= 9


# Areas: one line per area beside the event's, told apart by a legend, in both themes.


LINES = """svg => [...svg.querySelectorAll("polyline")].map(line => {
    const style = getComputedStyle(line);
    return {name: line.dataset.name || "", stroke: style.stroke, dashes: style.strokeDasharray};
})"""


@pytest.fixture
def afternoon_in_areas(afternoon, make_attendee) -> Event:
    """The afternoon, with a capacity, a hall, a workshop, a lounge with a long name and
    a garden nobody went to; some people move between them."""
    afternoon.capacity = 40
    afternoon.save()
    hall = Area.objects.create(event=afternoon, name="Main hall", capacity=6)
    workshop = Area.objects.create(event=afternoon, name="Workshop", capacity=3)
    lounge = Area.objects.create(event=afternoon, name="Sponsor lounge and exhibition area")
    Area.objects.create(event=afternoon, name="Garden")
    stays = [
        (at(14, 14, 2), at(14, 15, 30), hall),
        (at(14, 14, 12), at(14, 15, 50), hall),
        (at(14, 14, 25), None, hall),
        (at(14, 14, 30), at(14, 15, 0), workshop),
        (at(14, 14, 45), None, workshop),
        (at(14, 15, 5), at(14, 15, 45), lounge),
        (at(14, 15, 15), None, lounge),
    ]
    for checked_in, checked_out, area in stays:
        visit(make_attendee(event=afternoon), checked_in, checked_out, area)
    return afternoon


@pytest.mark.parametrize(
    ("theme", "how"),
    [("light", {}), ("dark", {"color_scheme": "dark"}), ("dark", {"stored_theme": "dark"})],
    ids=["light", "dark-by-the-system", "dark-by-the-admin-toggle"],
)
def test_event_page_draws_a_labelled_line_per_area_readable_in_either_theme(
    new_page, log_in, make_user, afternoon_in_areas, screenshot, theme, how
):
    options = {key: value for key, value in how.items() if key != "stored_theme"}
    page = new_page(**options)
    if "stored_theme" in how:
        # What the admin's theme toggle remembers.
        page.add_init_script(f"localStorage.setItem('theme', '{how['stored_theme']}')")
    log_in(page, make_user("superuser"), f"/admin/attendees/event/{afternoon_in_areas.pk}/change/")

    figure = page.locator("figure.attendees-occupancy")
    chart = figure.locator("svg")
    expect(chart).to_be_visible()
    expect(chart.locator("polyline.occupancy-line")).to_be_visible()
    expect(chart.locator("polyline.occupancy-area-line")).to_have_count(4)
    legend = chart.locator("g.occupancy-legend-entry text")
    expect(legend).to_have_text(["Whole event", "Garden", "Main hall", "Sponsor lounge and…", "Workshop"])
    places = page.locator("table.attendees-places")
    expect(places.get_by_role("row", name="Whole event")).to_contain_text("5 / 40")
    expect(places.get_by_role("row", name="Workshop")).to_contain_text("1 / 3")
    screenshot(page, f"event page with a line per area in the {theme} theme")
    screenshot(Element(figure), f"occupancy chart with areas in the {theme} theme")

    background = chart.evaluate("svg => getComputedStyle(svg).backgroundColor")
    text = chart.evaluate("svg => getComputedStyle(svg.querySelector('text')).fill")
    page_background = page.locator("body").evaluate("body => getComputedStyle(body).backgroundColor")
    assert background == page_background
    assert (contrast(background, "rgb(255, 255, 255)") < 1.5) == (theme == "light")
    assert contrast(text, background) >= 7
    lines = chart.evaluate(LINES)
    assert [line["name"] for line in lines] == [
        "",
        "Garden",
        "Main hall",
        "Sponsor lounge and exhibition area",
        "Workshop",
    ]
    # Told apart without colour: a solid line for the event, a dash pattern of its own for each area.
    dashes = [line["dashes"] for line in lines]
    assert dashes[0] == "none"
    assert len(set(dashes)) == len(dashes)
    for line in lines:
        assert contrast(line["stroke"], background) >= 3, line
    assert unreadable_labels(chart) == []
