import datetime
import io
import re

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from attendees import selectors, services
from attendees.models import Attendee, Event, Record, Visit


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


def test_demo_data_prints_a_door_login_without_admin_access_that_may_scan(db):
    output = run("demo_data")
    [password] = re.findall(r"username door, password (\S+)", output)

    user = authenticate(username="door", password=password)
    assert user is not None
    assert not user.is_staff
    assert not user.is_superuser
    assert user.has_perms(["attendees.view_attendee", "attendees.record_attendance"])
    assert not user.has_perm("attendees.change_attendee")


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


def test_checkout_all_records_its_check_outs_with_source_command(make_attendee, event):
    inside = make_attendee(state="inside")

    run("checkout_all", "--event", str(event.pk))

    record = Record.objects.get(attendee=inside, type=Record.Type.CHECK_OUT)
    assert record.source == Record.Source.COMMAND
    assert record.recorded_by is None


def test_checkout_all_needs_event_or_due():
    with pytest.raises(CommandError, match="one of the arguments --event --due is required"):
        run("checkout_all")


@pytest.fixture
def due_event(make_attendee, event):
    """An event whose scheduled check-out came an hour ago, lasting three more days, with two people inside."""
    now = timezone.now()
    event.starts_at = now - datetime.timedelta(days=1)
    event.ends_at = now + datetime.timedelta(days=3)
    event.auto_checkout_at = now - datetime.timedelta(hours=1)
    event.save()
    for state in ("inside", "inside", "left", "never"):
        make_attendee(state=state)
    return event


def test_checkout_all_due_checks_out_everyone_inside_as_auto_and_moves_the_time_on_a_day(due_event):
    was_due = due_event.auto_checkout_at

    output = run("checkout_all", "--due")

    assert f"Checked out 2 attendees of event {due_event.pk}" in output
    assert "1 event due." in output
    assert open_visits(due_event.attendees.all()) == 0
    auto = Record.objects.filter(attendee__event=due_event, source=Record.Source.AUTO)
    assert auto.count() == 2
    due_event.refresh_from_db()
    assert due_event.auto_checkout_at == was_due + datetime.timedelta(days=1)


def test_checkout_all_due_run_twice_by_cron_checks_out_once(due_event):
    run("checkout_all", "--due")
    inside_again = due_event.attendees.first()
    services.check_in(attendee=inside_again, by=None)

    output = run("checkout_all", "--due")

    assert "0 events due." in output
    assert open_visits(due_event.attendees.all()) == 1
    assert Record.objects.filter(attendee__event=due_event, source=Record.Source.AUTO).count() == 2


def test_checkout_all_due_stops_scheduling_once_the_event_is_over(due_event):
    due_event.ends_at = timezone.now() + datetime.timedelta(hours=2)
    due_event.save()

    output = run("checkout_all", "--due")

    assert "no further scheduled check-out" in output
    due_event.refresh_from_db()
    assert due_event.auto_checkout_at is None


def test_checkout_all_due_leaves_events_not_yet_due(due_event, other_event, make_attendee):
    other_event.auto_checkout_at = timezone.now() + datetime.timedelta(hours=1)
    other_event.save()
    later = make_attendee(state="inside", event=other_event)

    run("checkout_all", "--due")

    assert open_visits([later]) == 1
    other_event.refresh_from_db()
    assert other_event.auto_checkout_at > timezone.now()


def test_checkout_all_due_dry_run_says_how_many_and_records_nothing(due_event):
    records = Record.objects.count()

    output = run("checkout_all", "--due", "--dry-run")

    assert f"Would check out 2 attendees of event {due_event.pk}" in output
    assert "1 event due; nothing recorded." in output
    assert Record.objects.count() == records
    assert open_visits(due_event.attendees.all()) == 2
