"""A database that cannot be reached or drops the connection: a JSON 503 with Retry-After."""

import json
from contextlib import contextmanager
from unittest import mock

import pytest
from django.db import InterfaceError, OperationalError, connection
from django.test import Client, override_settings

from attendees.api.exceptions import exception_handler
from attendees.models import IdempotentRequest, Record

pytestmark = pytest.mark.django_db

SCANS = "/api/scans/"
ATTENDEES = "/api/attendees/"
DROPPED = "server closed the connection unexpectedly"


@contextmanager
def database_down(error: Exception | None = None):
    """Every query fails as it does when PostgreSQL is stopped or the connection was terminated."""
    with mock.patch.object(connection, "cursor", side_effect=error or OperationalError(DROPPED)):
        yield
    # Django only tests a connection for errors that went through its wrapper; the patch bypassed it.
    connection.errors_occurred = False


def assert_service_unavailable(response) -> None:
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert not response.content.lstrip().startswith(b"<")
    body = json.loads(response.content)
    assert body == {"detail": mock.ANY, "code": "service_unavailable"}
    assert body["detail"]
    assert int(response["Retry-After"]) > 0


class FailingMiddleware:
    """A middleware that needs the database, as sessions and authentication do, when it is away."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        raise OperationalError(DROPPED)


def test_a_scan_that_fails_on_the_database_answers_503_and_records_nothing(door_client, attendee):
    with mock.patch("attendees.services.scan_ticket", side_effect=OperationalError(DROPPED)):
        response = door_client.post(SCANS, {"ticket_code": attendee.ticket_code}, format="json")

    assert_service_unavailable(response)
    assert not Record.objects.exists()


def test_a_scan_retried_with_its_key_after_a_503_is_recorded_once(door_client, attendee):
    key = {"HTTP_IDEMPOTENCY_KEY": "door-1-scan-1"}
    body = {"ticket_code": attendee.ticket_code, "direction": "in"}
    with mock.patch("attendees.services.scan_ticket", side_effect=OperationalError(DROPPED)):
        refused = door_client.post(SCANS, body, format="json", **key)
    assert not IdempotentRequest.objects.exists()

    first = door_client.post(SCANS, body, format="json", **key)
    again = door_client.post(SCANS, body, format="json", **key)

    assert_service_unavailable(refused)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert Record.objects.filter(attendee=attendee).count() == 1


def test_a_scan_while_the_database_is_down_answers_503(door_client, attendee):
    with database_down():
        response = door_client.post(
            SCANS, {"ticket_code": attendee.ticket_code}, format="json", HTTP_IDEMPOTENCY_KEY="door-1-scan-2"
        )

    assert_service_unavailable(response)


def test_the_attendee_list_while_the_database_is_down_answers_503(door_client, door_staff, attendee):
    door_client.force_authenticate(door_staff)
    with database_down():
        response = door_client.get(ATTENDEES)

    assert_service_unavailable(response)


def test_a_check_in_on_a_dropped_connection_answers_503(door_client, door_staff, attendee):
    door_client.force_authenticate(door_staff)
    with database_down(InterfaceError("connection already closed")):
        response = door_client.post(f"{ATTENDEES}{attendee.pk}/checkin/")

    assert_service_unavailable(response)
    assert not Record.objects.exists()


def test_a_browser_asking_for_html_still_gets_the_json_503(door_client, door_staff, attendee):
    door_client.force_authenticate(door_staff)
    with database_down():
        response = door_client.get(ATTENDEES, HTTP_ACCEPT="text/html")

    assert_service_unavailable(response)


def test_the_csv_export_while_the_database_is_down_answers_the_json_503(admin_client_api, superuser, event):
    admin_client_api.force_authenticate(superuser)
    with database_down():
        response = admin_client_api.get(f"/api/events/{event.pk}/attendance.csv")

    assert_service_unavailable(response)


def test_a_503_has_django_check_the_connection_when_the_request_ends(door_client, attendee):
    with mock.patch("attendees.services.scan_ticket", side_effect=OperationalError(DROPPED)):
        door_client.post(SCANS, {"ticket_code": attendee.ticket_code}, format="json")

    # `close_if_unusable_or_obsolete` tests the connection at the end of the request
    # only when this is set, and closes it if it is broken.
    assert connection.errors_occurred
    connection.errors_occurred = False


def test_a_database_error_in_an_api_view_with_drfs_own_handler_answers_503():
    failing = mock.patch(
        "rest_framework.authentication.TokenAuthentication.authenticate_credentials",
        side_effect=OperationalError(DROPPED),
    )
    with failing:
        response = Client().get("/api/schema/", HTTP_AUTHORIZATION="Token anything")

    assert_service_unavailable(response)


@override_settings(
    MIDDLEWARE=[
        "attendees.middleware.DatabaseUnavailableMiddleware",
        "attendees.tests.test_database_unavailable.FailingMiddleware",
    ]
)
def test_a_database_error_in_a_middleware_answers_an_api_request_with_503():
    response = Client(raise_request_exception=False).get(ATTENDEES, HTTP_ACCEPT="text/html")

    assert_service_unavailable(response)


@override_settings(
    MIDDLEWARE=[
        "attendees.middleware.DatabaseUnavailableMiddleware",
        "attendees.tests.test_database_unavailable.FailingMiddleware",
    ]
)
def test_a_database_error_outside_the_api_is_left_to_django():
    response = Client(raise_request_exception=False).get("/door/")

    assert response.status_code == 500
    assert "Retry-After" not in response


@pytest.mark.parametrize("error", [OperationalError(DROPPED), InterfaceError("connection already closed")])
def test_the_api_exception_handler_turns_a_lost_database_into_the_503(error):
    response = exception_handler(error, {"request": None, "view": None})

    assert_service_unavailable(response)
