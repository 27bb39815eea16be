"""The browsable API and the Swagger UI docs, in a real browser."""

import json
from urllib.parse import urlsplit

import pytest

from attendees.models import Visit

from .conftest import PLAYWRIGHT_MISSING

expect = pytest.importorskip("playwright.sync_api", reason=PLAYWRIGHT_MISSING).expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shown_json(page) -> dict:
    """The response body the browsable API shows, without its HTTP header lines."""
    text = page.locator(".response-info pre").inner_text()
    return json.loads(text[text.index("{") :])


def test_attendee_page_shows_checkout_times_and_its_form_offers_no_input_for_them(
    page, log_in, make_user, make_attendee, screenshot
):
    ada = make_attendee("left", first_name="Ada", last_name="Lovelace", email="ada@example.org")
    log_in(page, make_user("superuser"), f"/api/attendees/{ada.pk}/")

    body = shown_json(page)
    assert body["is_checked_out"] is True
    assert len(body["checkout_times"]) == 1
    assert body["checkout_times"][0].endswith("Z")
    screenshot(page, "attendee detail with checkout times")

    page.get_by_role("link", name="HTML form").click()
    html_form = page.locator("#put-object-form form")
    expect(html_form.locator("[name=first_name]")).to_be_visible()
    inputs = html_form.locator("input, select, textarea").evaluate_all("fields => fields.map(field => field.name)")
    assert set(inputs) - {"csrfmiddlewaretoken"} == {
        "event",
        "first_name",
        "last_name",
        "email",
        "is_checked_in",
        "is_checked_out",
        # Where a check-in or check-out sent with a flag happened; written, never shown.
        "station",
        # Organizers may set their own ticket codes.
        "ticket_code",
    }
    labels = [label.strip() for label in html_form.locator("label").all_inner_texts()]
    assert "Checkout times" not in labels
    assert "Checkin times" not in labels
    screenshot(page, "attendee html form without times")


def test_check_out_from_the_browsable_api_page_of_the_checkout_action(
    page, log_in, make_user, make_attendee, screenshot
):
    ada = make_attendee("inside", first_name="Ada", last_name="Lovelace", email="ada@example.org")
    checkout_url = f"/api/attendees/{ada.pk}/checkout/"
    log_in(page, make_user("door_staff", is_staff=True), checkout_url)
    screenshot(page, "checkout action page")

    page.locator("#post-object-form, #post-generic-content-form").get_by_role("button", name="POST").first.click()

    expect(page.locator(".response-info pre")).to_contain_text("HTTP 201 Created")
    body = shown_json(page)
    assert body["is_checked_in"] is False
    assert body["is_checked_out"] is True
    assert Visit.objects.get(attendee=ada).checked_out_at is not None
    screenshot(page, "checked out 201")

    page.locator("#post-object-form, #post-generic-content-form").get_by_role("button", name="POST").first.click()

    expect(page.locator(".response-info pre")).to_contain_text("HTTP 409 Conflict")
    refusal = shown_json(page)
    assert refusal["code"] == "already_checked_out"
    assert refusal["detail"]
    screenshot(page, "second checkout refused 409")


def test_swagger_ui_lists_the_operations_without_any_request_leaving_the_live_server(page, live_server, screenshot):
    own = urlsplit(live_server.url).netloc
    local, elsewhere = [], []

    def only_the_live_server(route):
        url = route.request.url
        if urlsplit(url).netloc == own or url.startswith(("data:", "blob:")):
            local.append(url)
            route.continue_()
        else:
            elsewhere.append(url)
            route.abort()

    page.context.route("**/*", only_the_live_server)
    page.goto("/api/docs/")

    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Attendees API")
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible()
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/attendees/{id}/checkout/" in [path.replace("\u200b", "") for path in paths]
    assert operations.count() >= 10
    page.locator(".opblock-post", has_text="/api/attendees/{id}/checkout/").first.click()
    expect(page.get_by_text("Idempotency-Key").first).to_be_visible()
    screenshot(page, "swagger ui offline")

    assert elsewhere == []
    assert any(urlsplit(url).path == "/api/schema/" for url in local)
