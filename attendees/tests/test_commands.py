import io
import re

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from attendees import selectors
from attendees.models import Attendee, Event, Visit


def run(*args) -> str:
    stdout = io.StringIO()
    call_command(*args, stdout=stdout)
    return stdout.getvalue()


def open_visits(attendees) -> int:
    return Visit.objects.filter(attendee__in=attendees, checked_out_at__isnull=True).count()


def printed_password(output: str) -> str:
    match = re.search(r"password (\S+)", output)
    assert match, f"no password in {output!r}"
    return match.group(1)


def printed_token(output: str) -> str:
    match = re.search(r"\b([0-9a-f]{40})\b", output)
    assert match, f"no token key in {output!r}"
    return match.group(1)


def api_client_with_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def counts() -> tuple[int, int, int]:
    return Event.objects.count(), Attendee.objects.count(), Visit.objects.count()


def test_checkout_all_checks_out_everyone_inside_of_the_event_and_prints_how_many(make_attendee, event):
    inside = [make_attendee("inside", event=event) for _ in range(3)]
    never = make_attendee("never", event=event)
    left = make_attendee("left", event=event)

    output = run("checkout_all", "--event", str(event.pk))

    assert re.search(r"\b3 attendees\b", output)
    assert open_visits(inside) == 0
    assert Visit.objects.filter(attendee__in=inside, checked_out_at__isnull=False).count() == 3
    assert not never.visits.exists()
    assert left.visits.count() == 1


def test_checkout_all_leaves_attendees_of_other_events_inside(make_attendee, event, other_event):
    make_attendee("inside", event=event)
    elsewhere = make_attendee("inside", event=other_event)

    run("checkout_all", "--event", str(event.pk))

    assert open_visits([elsewhere]) == 1


def test_checkout_all_dry_run_prints_how_many_and_records_nothing(make_attendee, event, other_event):
    make_attendee("inside", event=event)
    make_attendee("inside", event=event)
    make_attendee("left", event=event)
    make_attendee("inside", event=other_event)
    before = list(Visit.objects.order_by("pk").values())

    output = run("checkout_all", "--event", str(event.pk), "--dry-run")

    assert re.search(r"\b2 attendees\b", output)
    assert list(Visit.objects.order_by("pk").values()) == before


def test_checkout_all_of_an_unknown_event_is_an_error(event):
    with pytest.raises(CommandError, match=str(event.pk + 1000)):
        run("checkout_all", "--event", str(event.pk + 1000))


def test_demo_data_creates_an_event_with_attendees_in_every_state(db):
    run("demo_data")

    event = Event.objects.get()
    attendees = selectors.attendees_with_state(event.attendees.all())
    assert attendees.filter(is_checked_in=True).exists()
    assert attendees.filter(is_checked_out=True).exists()
    assert attendees.filter(is_checked_in=False, is_checked_out=False).exists()


def test_demo_data_prints_a_password_that_logs_the_admin_superuser_in(db):
    output = run("demo_data")

    user = authenticate(username="admin", password=printed_password(output))
    assert user is not None
    assert user.is_superuser
    assert user.is_staff


def test_demo_data_run_twice_duplicates_nothing(db):
    run("demo_data")
    first = counts()

    output = run("demo_data")

    assert counts() == first
    assert authenticate(username="admin", password=printed_password(output)) is not None


def test_drf_create_token_prints_a_key_that_authenticates_against_the_api(make_user, attendee):
    user = make_user("viewer", username="door")

    key = printed_token(run("drf_create_token", "door"))

    assert Token.objects.get(user=user).key == key
    response = api_client_with_token(key).get("/api/attendees/")
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 1


def test_a_key_other_than_the_printed_one_gets_401(make_user, attendee):
    make_user("viewer", username="door")
    key = printed_token(run("drf_create_token", "door"))
    wrong = key[:-1] + ("0" if key[-1] != "0" else "1")

    response = api_client_with_token(wrong).get("/api/attendees/")

    assert response.status_code == 401


def test_the_record_attendance_permission_exists_with_its_name(db):
    permission = Permission.objects.get(content_type__app_label="attendees", codename="record_attendance")

    assert permission.name == "Can check attendees in and out"
