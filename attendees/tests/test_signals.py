"""The signals integrators hook into: sent once per committed record, from every path."""

import datetime
import io

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from attendees import services, signals
from attendees.models import Attendee, Event, Record, RefusedScan

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    """Every signal sent, as (signal name, record, attendee), in order."""
    sent = []
    receivers = {}
    for name in ("checked_in", "checked_out", "record_voided", "scan_refused"):

        def receiver(sender, record, attendee, _name=name, **kwargs):
            sent.append((_name, record, attendee))

        receivers[name] = receiver
        getattr(signals, name).connect(receiver)
    yield sent
    for name, receiver in receivers.items():
        getattr(signals, name).disconnect(receiver)


def names(sent) -> list[str]:
    return [name for name, _, _ in sent]


def test_a_check_in_is_heard_once_after_commit_with_its_record_and_attendee(
    heard, make_attendee, door_staff, django_capture_on_commit_callbacks
):
    attendee = make_attendee()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        record_id = services.check_in(attendee=attendee, by=door_staff).pk
        assert heard == []
    for callback in callbacks:
        callback()

    [(name, record, whose)] = heard
    assert (name, record.pk, whose) == ("checked_in", record_id, attendee)
    assert isinstance(record, Record)


@pytest.mark.django_db(transaction=True)
def test_nothing_is_heard_for_a_check_in_rolled_back(heard, make_attendee, door_staff):
    attendee = make_attendee()

    def check_in_then_fail():
        with transaction.atomic():
            services.check_in(attendee=attendee, by=door_staff)
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        check_in_then_fail()

    assert heard == []
    assert not Record.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_committed_check_in_and_check_out_are_heard_in_order(heard, make_attendee, door_staff):
    attendee = make_attendee()

    services.check_in(attendee=attendee, by=door_staff)
    services.check_out(attendee=attendee, by=door_staff)

    assert names(heard) == ["checked_in", "checked_out"]


def test_the_api_check_in_and_check_out_are_heard(heard, door_client, attendee, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        door_client.post(f"/api/attendees/{attendee.pk}/checkin/")
        door_client.post(f"/api/attendees/{attendee.pk}/checkout/")

    assert names(heard) == ["checked_in", "checked_out"]


def test_a_patch_that_checks_in_is_heard(heard, door_client, attendee, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        door_client.patch(f"/api/attendees/{attendee.pk}/", {"is_checked_in": True}, format="json")

    assert names(heard) == ["checked_in"]


def test_a_refused_request_is_not_heard(heard, door_client, attendee, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = door_client.post(f"/api/attendees/{attendee.pk}/checkout/")

    assert response.status_code == 409
    assert heard == []


def test_a_scan_is_heard_as_a_check_in_and_a_refused_one_as_scan_refused(
    heard, door_client, attendee, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        door_client.post("/api/scans/", {"ticket_code": attendee.ticket_code}, format="json")
        door_client.post("/api/scans/", {"ticket_code": attendee.ticket_code, "direction": "in"}, format="json")
        door_client.post("/api/scans/", {"ticket_code": "unknown-code"}, format="json")

    assert names(heard) == ["checked_in", "scan_refused", "scan_refused"]
    _, refused, whose = heard[1]
    assert isinstance(refused, RefusedScan)
    assert (refused.reason, whose) == ("already_checked_in", attendee)
    _, unknown, nobody = heard[2]
    assert (unknown.reason, nobody) == ("unknown_ticket", None)


def test_a_bulk_check_out_is_heard_once_per_attendee(
    heard, door_client, make_attendee, event, django_capture_on_commit_callbacks
):
    inside = [make_attendee("inside") for _ in range(3)]
    make_attendee("never")

    with django_capture_on_commit_callbacks(execute=True):
        door_client.post("/api/attendees/bulk-checkout/", {"event": event.pk}, format="json")

    assert names(heard) == ["checked_out"] * 3
    assert {attendee for _, _, attendee in heard} == set(inside)


def test_the_admin_actions_are_heard_once_per_attendee(
    heard, client, superuser, make_attendee, django_capture_on_commit_callbacks
):
    attendees = [make_attendee() for _ in range(2)]
    client.force_login(superuser)
    url = "/admin/attendees/attendee/"
    selected = [a.pk for a in attendees]

    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"action": "check_in_selected", ACTION_CHECKBOX_NAME: selected, "index": 0})
        client.post(url, {"action": "check_out_selected", ACTION_CHECKBOX_NAME: selected, "index": 0})

    assert names(heard) == ["checked_in", "checked_in", "checked_out", "checked_out"]


def test_checkout_all_and_the_scheduled_check_out_are_heard(
    heard, make_attendee, event, django_capture_on_commit_callbacks
):
    make_attendee("inside")
    Event.objects.filter(pk=event.pk).update(auto_checkout_at=timezone.now() - datetime.timedelta(minutes=1))
    make_attendee("inside", event=Event.objects.create(name="Other"))

    with django_capture_on_commit_callbacks(execute=True):
        call_command("checkout_all", "--due", stdout=io.StringIO())
    assert [(name, record.source) for name, record, _ in heard] == [("checked_out", "auto")]

    with django_capture_on_commit_callbacks(execute=True):
        call_command("checkout_all", "--event", str(Event.objects.get(name="Other").pk), stdout=io.StringIO())
    assert [(name, record.source) for name, record, _ in heard][1:] == [("checked_out", "command")]


def test_voiding_a_check_in_that_voids_its_check_out_is_heard_for_each(
    heard, make_attendee, superuser, django_capture_on_commit_callbacks
):
    attendee = make_attendee("left")
    check_in = Record.objects.get(attendee=attendee, type="check_in")

    with django_capture_on_commit_callbacks(execute=True):
        services.void_record(record=check_in, by=superuser, reason="wrong person")

    assert names(heard) == ["record_voided", "record_voided"]
    assert {record.type for _, record, _ in heard} == {"check_in", "check_out"}
    assert all(record.voided_at is not None for _, record, _ in heard)


def test_a_missed_check_out_added_by_a_correction_is_heard_as_checked_out(
    heard, make_attendee, superuser, django_capture_on_commit_callbacks
):
    attendee = make_attendee("inside")
    Record.objects.filter(attendee=attendee).update(at=timezone.now() - datetime.timedelta(hours=1))
    attendee.visits.update(checked_in_at=timezone.now() - datetime.timedelta(hours=1))

    with django_capture_on_commit_callbacks(execute=True):
        record = services.correct_check_out(
            attendee=attendee, at=timezone.now() - datetime.timedelta(minutes=5), by=superuser, reason="forgot"
        )

    assert [(name, got.pk) for name, got, _ in heard] == [("checked_out", record.pk)]


def test_an_undo_is_heard_as_record_voided(heard, door_client, attendee, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        record_id = door_client.post("/api/scans/", {"ticket_code": attendee.ticket_code}, format="json").json()[
            "record"
        ]["id"]
        door_client.post(f"/api/records/{record_id}/undo/")

    assert names(heard) == ["checked_in", "record_voided"]
    assert heard[1][1].void_reason == "undone at the door"


def test_without_receivers_a_check_in_queues_no_callback(make_attendee, door_staff, django_capture_on_commit_callbacks):
    attendee = make_attendee()

    with django_capture_on_commit_callbacks() as callbacks:
        services.check_in(attendee=attendee, by=door_staff)

    assert callbacks == []
    assert Attendee.objects.count() == 1
