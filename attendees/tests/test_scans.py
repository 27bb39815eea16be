"""Ticket codes, scans by code, refused scans and undo: the service and the API."""

import datetime
import re

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from attendees import services
from attendees.exceptions import AlreadyCheckedIn, NotYourRecord, UndoExpired, UnknownTicket, WrongEvent
from attendees.models import Attendee, Record, RefusedScan, Visit

pytestmark = pytest.mark.django_db

SCANS = "/api/scans/"
REFUSED = "/api/refused-scans/"
ATTENDEES = "/api/attendees/"
GENERATED_CODE = re.compile(r"[A-Za-z0-9_-]{16,32}")


def undo_url(record_id) -> str:
    return f"/api/records/{record_id}/undo/"


def scan(client, code, **fields):
    return client.post(SCANS, {"ticket_code": code, **fields}, format="json")


def recorded():
    """Everything attendance keeps, to show a refused request changed nothing."""
    return list(Visit.objects.values()), list(Record.objects.values())


def age(record_id: int, seconds: float) -> None:
    """Make a record (and its visit's time) `seconds` older, as if scanned that long ago."""
    record = Record.objects.get(pk=record_id)
    delta = datetime.timedelta(seconds=seconds)
    Record.objects.filter(pk=record_id).update(at=record.at - delta, recorded_at=record.recorded_at - delta)
    field = "checked_in_at" if record.type == Record.Type.CHECK_IN else "checked_out_at"
    Visit.objects.filter(pk=record.visit_id).update(**{field: getattr(record.visit, field) - delta})


# Ticket codes


def test_a_new_attendee_gets_a_random_url_safe_code_of_at_least_96_bits(make_attendee):
    codes = {make_attendee().ticket_code for _ in range(20)}

    assert len(codes) == 20
    assert all(GENERATED_CODE.fullmatch(code) for code in codes)
    # 22 characters of a 64-letter alphabet: 132 bits, of which token_urlsafe(16) fills 128.
    assert all(len(code) * 6 >= 96 for code in codes)


def test_an_editor_creates_an_attendee_with_a_code_imported_from_another_system(api_client_for, make_user, event):
    response = api_client_for(make_user("editor")).post(
        ATTENDEES,
        {
            "event": event.pk,
            "first_name": "Ada",
            "last_name": "L",
            "email": "a@example.org",
            "ticket_code": "EB:1234.5",
        },
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["ticket_code"] == "EB:1234.5"
    assert Attendee.objects.get().ticket_code == "EB:1234.5"


@pytest.mark.parametrize("code", ["short", "x" * 65, "has space", "semi;colon", "ümlaut-code", ""])
def test_a_malformed_code_is_a_400_under_ticket_code_and_saves_nothing(api_client_for, make_user, event, code):
    response = api_client_for(make_user("editor")).post(
        ATTENDEES,
        {"event": event.pk, "first_name": "Ada", "last_name": "L", "email": "a@example.org", "ticket_code": code},
        format="json",
    )

    assert response.status_code == 400
    assert "ticket_code" in response.json()
    assert not Attendee.objects.exists()


def test_a_code_another_attendee_of_any_event_holds_is_a_400(api_client_for, make_user, make_attendee, other_event):
    make_attendee(event=other_event, ticket_code="SHARED-CODE")
    editor = api_client_for(make_user("editor"))
    mine = make_attendee()

    response = editor.patch(f"{ATTENDEES}{mine.pk}/", {"ticket_code": "SHARED-CODE"}, format="json")

    assert response.status_code == 400
    assert "ticket_code" in response.json()
    mine.refresh_from_db()
    assert mine.ticket_code != "SHARED-CODE"


@pytest.mark.parametrize("role", ["viewer", "door_staff"])
def test_nobody_without_change_attendee_sees_a_code_in_the_attendee_json(api_client_for, make_user, attendee, role):
    client = api_client_for(make_user(role))

    listed = client.get(ATTENDEES).content.decode()
    shown = client.get(f"{ATTENDEES}{attendee.pk}/").content.decode()

    assert attendee.ticket_code not in listed
    assert attendee.ticket_code not in shown
    assert "ticket_code" not in shown


def test_door_staff_never_get_a_code_back_from_any_scan_answer(door_client, make_attendee, other_event):
    attendee = make_attendee()
    answers = [
        scan(door_client, attendee.ticket_code),
        scan(door_client, attendee.ticket_code, direction="in"),
        scan(door_client, attendee.ticket_code, event=other_event.pk),
        scan(door_client, attendee.ticket_code + "x"),
        door_client.get(REFUSED),
        door_client.get(f"{ATTENDEES}{attendee.pk}/history/"),
    ]

    assert [answer.status_code for answer in answers] == [201, 409, 409, 404, 200, 200]
    for answer in answers:
        assert attendee.ticket_code not in answer.content.decode()


# Scanning: the service


def test_an_auto_scan_checks_in_someone_outside_as_source_scan(make_attendee, door_staff):
    attendee = make_attendee()

    result = services.scan_ticket(ticket_code=attendee.ticket_code, by=door_staff, station="North door")

    assert result.direction == "in"
    record = Record.objects.get(pk=result.record.pk)
    assert (record.type, record.source, record.station, record.recorded_by) == (
        "check_in",
        "scan",
        "North door",
        door_staff,
    )
    assert Visit.objects.get(attendee=attendee).checked_out_at is None


def test_an_auto_scan_checks_out_someone_inside_since_more_than_two_seconds(make_attendee, door_staff):
    attendee = make_attendee("inside")
    age(Record.objects.get(attendee=attendee).pk, seconds=3)

    result = services.scan_ticket(ticket_code=attendee.ticket_code, by=door_staff)

    assert result.direction == "out"
    assert Record.objects.get(pk=result.record.pk).type == "check_out"


def test_an_auto_scan_within_two_seconds_of_a_check_in_is_refused_and_never_reverses_it(make_attendee, door_staff):
    attendee = make_attendee()
    services.scan_ticket(ticket_code=attendee.ticket_code, by=door_staff)

    with pytest.raises(services.ScanRefused) as refused:
        services.scan_ticket(ticket_code=attendee.ticket_code, by=door_staff)

    assert isinstance(refused.value.error, AlreadyCheckedIn)
    assert Visit.objects.get(attendee=attendee).checked_out_at is None
    assert RefusedScan.objects.get().direction == "in"


def test_an_auto_scan_within_two_seconds_of_a_check_out_is_refused_as_already_checked_out(make_attendee, door_staff):
    attendee = make_attendee("left")

    with pytest.raises(services.ScanRefused) as refused:
        services.scan_ticket(ticket_code=attendee.ticket_code, by=door_staff)

    assert refused.value.error.code == "already_checked_out"
    assert Visit.objects.filter(attendee=attendee).count() == 1


def test_an_explicit_exit_scan_right_after_a_check_in_checks_out(make_attendee, door_staff):
    attendee = make_attendee("inside")

    result = services.scan_ticket(ticket_code=attendee.ticket_code, direction="out", by=door_staff)

    assert Record.objects.get(pk=result.record.pk).type == "check_out"


def test_an_unknown_code_is_refused_and_kept_without_attendee_or_event(door_staff):
    with pytest.raises(services.ScanRefused) as refused:
        services.scan_ticket(ticket_code="no-such-code", by=door_staff, station="Gate 2")

    assert isinstance(refused.value.error, UnknownTicket)
    kept = RefusedScan.objects.get()
    assert (kept.reason, kept.attendee, kept.event, kept.direction, kept.station, kept.recorded_by) == (
        "unknown_ticket",
        None,
        None,
        "auto",
        "Gate 2",
        door_staff,
    )
    assert kept.at == kept.recorded_at
    assert not kept.offline


def test_a_ticket_of_another_event_is_refused_as_wrong_event_and_kept_for_the_event_scanned(
    make_attendee, door_staff, other_event
):
    attendee = make_attendee()

    with pytest.raises(services.ScanRefused) as refused:
        services.scan_ticket(ticket_code=attendee.ticket_code, event_id=other_event.pk, by=door_staff)

    assert isinstance(refused.value.error, WrongEvent)
    assert refused.value.error.detail == "This ticket is for PyCon, not DjangoCon."
    assert not Visit.objects.exists()
    kept = RefusedScan.objects.get()
    assert (kept.event, kept.attendee, kept.reason, kept.direction) == (other_event, attendee, "wrong_event", "in")


def test_a_refusal_by_the_rules_names_since_when_and_where(make_attendee, door_staff):
    attendee = make_attendee()
    services.check_in(attendee=attendee, by=door_staff, station="North door")
    checked_in = timezone.localtime(Record.objects.get().at)

    with pytest.raises(services.ScanRefused) as refused:
        services.scan_ticket(ticket_code=attendee.ticket_code, direction="in", by=door_staff)

    assert refused.value.error.detail == f"Already inside since {checked_in:%H:%M} UTC, North door."
    assert refused.value.attendee == attendee


@pytest.mark.parametrize(("language", "expected"), [("en", "5 Mar 10:00 CET"), ("de", "5 Mär 10:00 CET")])
def test_a_refusal_since_another_day_names_the_day_and_month_in_the_active_language(
    make_attendee, door_staff, event, language, expected
):
    event.timezone = "Europe/Berlin"
    event.save()
    attendee = make_attendee()
    services.check_in(attendee=attendee, by=door_staff)
    long_ago = datetime.datetime(2026, 3, 5, 9, 0, tzinfo=datetime.UTC)
    Record.objects.update(at=long_ago)
    Visit.objects.update(checked_in_at=long_ago)

    with translation.override(language), pytest.raises(services.ScanRefused) as refused:
        services.scan_ticket(ticket_code=attendee.ticket_code, direction="in", by=door_staff)

    assert expected in refused.value.error.detail


def test_a_check_out_scan_of_someone_who_never_came_is_refused_as_not_checked_in(make_attendee, door_staff):
    attendee = make_attendee()

    with pytest.raises(services.ScanRefused) as refused:
        services.scan_ticket(ticket_code=attendee.ticket_code, direction="out", by=door_staff)

    assert refused.value.error.code == "not_checked_in"
    assert RefusedScan.objects.get().reason == "not_checked_in"
    assert not Record.objects.exists()


def test_codes_are_case_sensitive(make_attendee, door_staff):
    attendee = make_attendee(ticket_code="CaseCode-1")

    with pytest.raises(services.ScanRefused):
        services.scan_ticket(ticket_code="casecode-1", by=door_staff)

    assert not attendee.visits.exists()


# Scanning: the API


def test_a_scan_answers_201_with_the_result_the_attendee_and_the_record(door_client, make_attendee, door_staff):
    attendee = make_attendee(first_name="Ada")

    response = scan(door_client, f"  {attendee.ticket_code}\t", station="North door", event=attendee.event_id)

    assert response.status_code == 201
    body = response.json()
    assert body["result"] == "checked_in"
    assert (body["attendee"]["id"], body["attendee"]["first_name"], body["attendee"]["is_checked_in"]) == (
        attendee.pk,
        "Ada",
        True,
    )
    record = Record.objects.get()
    assert body["record"]["id"] == record.pk
    assert (body["record"]["type"], body["record"]["source"], body["record"]["station"]) == (
        "check_in",
        "scan",
        "North door",
    )
    assert body["record"]["recorded_by"] == door_staff.get_username()
    assert body["attendee"]["checkin_times"] == [body["record"]["at"]]


def test_an_exit_scan_answers_checked_out(door_client, make_attendee):
    attendee = make_attendee("inside")

    response = scan(door_client, attendee.ticket_code, direction="out")

    assert response.status_code == 201
    assert response.json()["result"] == "checked_out"
    assert response.json()["attendee"]["is_checked_out"] is True


def test_an_unknown_code_is_404_unknown_ticket_kept_and_the_code_not_echoed(door_client):
    response = scan(door_client, "no-such-code")

    assert response.status_code == 404
    assert response.json() == {"detail": "Unknown ticket: no attendee has this code.", "code": "unknown_ticket"}
    assert RefusedScan.objects.get().reason == "unknown_ticket"


@pytest.mark.parametrize(
    ("state", "direction", "code"),
    [
        ("inside", "in", "already_checked_in"),
        ("never", "out", "not_checked_in"),
        ("left", "out", "already_checked_out"),
    ],
)
def test_a_scan_refused_by_the_rules_is_409_with_the_attendee_and_records_nothing(
    door_client, make_attendee, state, direction, code
):
    attendee = make_attendee(state)
    before = recorded()

    response = scan(door_client, attendee.ticket_code, direction=direction)

    assert response.status_code == 409
    body = response.json()
    assert set(body) == {"detail", "code", "attendee"}
    assert body["code"] == code
    assert body["attendee"]["id"] == attendee.pk
    assert recorded() == before
    assert RefusedScan.objects.get().reason == code


def test_a_ticket_of_another_event_is_409_wrong_event(door_client, make_attendee, other_event):
    attendee = make_attendee()

    response = scan(door_client, attendee.ticket_code, event=other_event.pk)

    assert response.status_code == 409
    assert response.json()["code"] == "wrong_event"
    assert not Visit.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "ticket_code"),
        ({"ticket_code": ""}, "ticket_code"),
        ({"ticket_code": "   "}, "ticket_code"),
        ({"ticket_code": "x" * 201}, "ticket_code"),
        ({"ticket_code": 12345678}, "ticket_code"),
        ({"ticket_code": ["a"]}, "ticket_code"),
        ({"ticket_code": "abcdefgh", "direction": "sideways"}, "direction"),
        ({"ticket_code": "abcdefgh", "event": "one"}, "event"),
        ({"ticket_code": "abcdefgh", "event": 999999}, "event"),
        ({"ticket_code": "no-such-code", "event": 999999}, "event"),
        ({"ticket_code": "abcdefgh", "event": 0}, "event"),
        ({"ticket_code": "abcdefgh", "station": "x" * 101}, "station"),
    ],
)
def test_bad_scan_input_is_a_400_under_its_field_and_keeps_nothing(door_client, make_attendee, body, field):
    make_attendee(ticket_code="abcdefgh")

    response = door_client.post(SCANS, body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not RefusedScan.objects.exists()
    assert not Record.objects.exists()


def test_malformed_json_is_a_400_not_a_500(door_client):
    response = door_client.generic("POST", SCANS, "{not json", content_type="application/json")

    assert response.status_code == 400


@pytest.mark.parametrize(("role", "status"), [(None, 401), ("no_permission", 403), ("viewer", 403), ("editor", 403)])
def test_scanning_needs_record_attendance(api_client_for, make_user, make_attendee, role, status):
    attendee = make_attendee()
    client = api_client_for(make_user(role) if role else None)

    assert scan(client, attendee.ticket_code).status_code == status
    assert not Record.objects.exists()
    assert not RefusedScan.objects.exists()


def test_a_retried_scan_with_the_same_idempotency_key_replays_the_first_answer(door_client, make_attendee):
    attendee = make_attendee()
    headers = {"HTTP_IDEMPOTENCY_KEY": "scan-1"}

    first = door_client.post(SCANS, {"ticket_code": attendee.ticket_code}, format="json", **headers)
    retry = door_client.post(SCANS, {"ticket_code": attendee.ticket_code}, format="json", **headers)

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert Record.objects.count() == 1
    assert not RefusedScan.objects.exists()


def test_a_retried_refused_scan_is_kept_once(door_client):
    headers = {"HTTP_IDEMPOTENCY_KEY": "scan-2"}

    first = door_client.post(SCANS, {"ticket_code": "unknown-code"}, format="json", **headers)
    retry = door_client.post(SCANS, {"ticket_code": "unknown-code"}, format="json", **headers)

    assert (first.status_code, retry.status_code) == (404, 404)
    assert RefusedScan.objects.count() == 1


def test_the_same_idempotency_key_with_another_code_is_422(door_client, make_attendee):
    first, second = make_attendee(), make_attendee()
    headers = {"HTTP_IDEMPOTENCY_KEY": "scan-3"}

    door_client.post(SCANS, {"ticket_code": first.ticket_code}, format="json", **headers)
    response = door_client.post(SCANS, {"ticket_code": second.ticket_code}, format="json", **headers)

    assert response.status_code == 422
    assert not second.visits.exists()


def test_a_scan_costs_a_constant_number_of_queries(door_client, make_attendee):
    short, long = make_attendee(), make_attendee()
    for _ in range(5):
        services.check_in(attendee=long, by=None)
        services.check_out(attendee=long, by=None)
    a_minute = datetime.timedelta(minutes=1)
    Record.objects.update(at=F("at") - a_minute)
    Visit.objects.update(checked_in_at=F("checked_in_at") - a_minute, checked_out_at=F("checked_out_at") - a_minute)

    counts = []
    for attendee in (short, long):
        with CaptureQueriesContext(connection) as queries:
            assert scan(door_client, attendee.ticket_code, event=attendee.event_id).status_code == 201
        counts.append(len(queries))

    # Token, the user's and their groups' permissions (one query), the attendee by code
    # with its latest stay (the event sent is checked against its event's id, so it costs
    # nothing), the place taken inside the event, the visit INSERT, the record INSERT
    # (returning the record), the arrival counted, the kept figures (the minute's and the
    # attendee's time inside), the visits: as many as a check-in by id.
    assert counts == [10, 10]


# Refused scans


def test_refused_scans_are_listed_newest_first_and_filtered_by_event(
    api_client_for, make_user, make_attendee, door_staff, other_event
):
    attendee = make_attendee("inside")
    for code in ("first-unknown", attendee.ticket_code, "third-unknown"):
        with pytest.raises(services.ScanRefused):
            services.scan_ticket(ticket_code=code, direction="in", by=door_staff, event_id=other_event.pk)
    client = api_client_for(make_user("superuser"))

    listed = client.get(REFUSED).json()
    for_event = client.get(REFUSED, {"event": other_event.pk}).json()
    for_mine = client.get(REFUSED, {"event": attendee.event_id}).json()

    assert [row["ticket_code"] for row in listed["results"]] == ["third-unknown", attendee.ticket_code, "first-unknown"]
    assert set(listed["results"][0]) == {
        "id",
        "at",
        "recorded_at",
        "ticket_code",
        "event",
        "attendee",
        "direction",
        "area",
        "station",
        "reason",
        "recorded_by",
        "offline",
    }
    assert [row["reason"] for row in listed["results"]] == ["unknown_ticket", "wrong_event", "unknown_ticket"]
    assert listed["results"][1]["attendee"] == attendee.pk
    assert listed["results"][1]["recorded_by"] == door_staff.get_username()
    assert for_event["count"] == 3
    assert for_mine["count"] == 0


@pytest.mark.parametrize(
    ("role", "status"), [(None, 401), ("no_permission", 403), ("viewer", 200), ("door_staff", 200)]
)
def test_reading_refused_scans_needs_view_attendee_and_hides_codes_without_change_attendee(
    api_client_for, make_user, door_staff, role, status
):
    with pytest.raises(services.ScanRefused):
        services.scan_ticket(ticket_code="secret-code-123", by=door_staff)

    response = api_client_for(make_user(role, username=f"u-{role}") if role else None).get(REFUSED)

    assert response.status_code == status
    assert "secret-code-123" not in response.content.decode()


def test_refused_scans_with_an_event_that_is_not_a_number_is_a_400(door_client):
    assert door_client.get(REFUSED, {"event": "one"}).status_code == 400


def test_refused_scans_cannot_be_written_through_the_api(door_client):
    assert door_client.post(REFUSED, {}, format="json").status_code == 405
    assert door_client.delete(f"{REFUSED}1/").status_code == 404


# Undo


def test_the_scanner_undoes_their_own_check_in_with_the_door_reason(door_client, make_attendee, door_staff):
    attendee = make_attendee()
    record_id = scan(door_client, attendee.ticket_code).json()["record"]["id"]

    response = door_client.post(undo_url(record_id))

    assert response.status_code == 201
    body = response.json()
    assert body["id"] == record_id
    assert body["voided"]["reason"] == "undone at the door"
    assert body["voided"]["by"] == door_staff.get_username()
    assert door_client.get(f"{ATTENDEES}{attendee.pk}/").json()["is_checked_in"] is False
    assert Record.objects.get(pk=record_id).void_reason == "undone at the door"


def test_undoing_a_check_out_puts_the_attendee_back_inside(door_client, make_attendee):
    attendee = make_attendee()
    services.scan_ticket(ticket_code=attendee.ticket_code, by=None)
    record_id = scan(door_client, attendee.ticket_code, direction="out").json()["record"]["id"]

    assert door_client.post(undo_url(record_id)).status_code == 201
    assert door_client.get(f"{ATTENDEES}{attendee.pk}/").json()["is_checked_in"] is True


def test_undo_of_another_users_record_is_403_whatever_their_permissions(
    api_client_for, make_user, door_client, make_attendee
):
    attendee = make_attendee()
    record_id = scan(door_client, attendee.ticket_code).json()["record"]["id"]

    response = api_client_for(make_user("superuser")).post(undo_url(record_id))

    assert response.status_code == 403
    assert response.json()["code"] == "not_your_record"
    assert Record.objects.get(pk=record_id).voided_at is None


def test_undo_after_two_minutes_is_409_undo_expired(door_client, make_attendee):
    attendee = make_attendee()
    record_id = scan(door_client, attendee.ticket_code).json()["record"]["id"]
    age(record_id, seconds=121)

    response = door_client.post(undo_url(record_id))

    assert response.status_code == 409
    assert response.json()["code"] == "undo_expired"
    assert Record.objects.get(pk=record_id).voided_at is None


def test_undo_twice_is_409_already_voided(door_client, make_attendee):
    attendee = make_attendee()
    record_id = scan(door_client, attendee.ticket_code).json()["record"]["id"]
    door_client.post(undo_url(record_id))

    response = door_client.post(undo_url(record_id))

    assert response.status_code == 409
    assert response.json()["code"] == "already_voided"


def test_undo_of_a_check_in_followed_by_a_check_out_is_409_not_latest_record(door_client, make_attendee):
    attendee = make_attendee()
    record_id = scan(door_client, attendee.ticket_code).json()["record"]["id"]
    scan(door_client, attendee.ticket_code, direction="out")

    response = door_client.post(undo_url(record_id))

    assert response.status_code == 409
    assert response.json()["code"] == "not_latest_record"
    assert not Record.objects.filter(voided_at__isnull=False).exists()


@pytest.mark.parametrize(("role", "status"), [(None, 401), ("viewer", 403), ("editor", 403)])
def test_undo_needs_record_attendance(api_client_for, make_user, make_attendee, door_staff, role, status):
    attendee = make_attendee()
    record_id = services.scan_ticket(ticket_code=attendee.ticket_code, by=door_staff).record.pk

    assert api_client_for(make_user(role) if role else None).post(undo_url(record_id)).status_code == status


@pytest.mark.parametrize("record_id", ["999999", "abc"])
def test_undo_of_an_unknown_record_is_404(door_client, record_id):
    assert door_client.post(undo_url(record_id)).status_code == 404


def test_the_undo_service_refuses_records_without_a_recorder(make_attendee, door_staff):
    attendee = make_attendee("inside")

    with pytest.raises(NotYourRecord):
        services.undo_record(record=Record.objects.get(attendee=attendee), by=door_staff)


def test_the_undo_service_refuses_after_two_minutes(make_attendee, door_staff):
    attendee = make_attendee()
    record_id = services.scan_ticket(ticket_code=attendee.ticket_code, by=door_staff).record.pk
    age(record_id, seconds=121)

    with pytest.raises(UndoExpired):
        services.undo_record(record=Record.objects.get(pk=record_id), by=door_staff)


def test_the_undo_time_follows_the_attendees_setting(door_client, make_attendee, settings):
    settings.ATTENDEES = {"UNDO_SECONDS": 300}
    attendee = make_attendee()
    record_id = scan(door_client, attendee.ticket_code).json()["record"]["id"]
    age(record_id, seconds=200)

    assert door_client.post(undo_url(record_id)).status_code == 201


def test_the_settle_time_follows_the_attendees_setting(door_client, make_attendee, settings):
    settings.ATTENDEES = {"SCAN_SETTLE_SECONDS": 0}
    attendee = make_attendee()
    scan(door_client, attendee.ticket_code)

    again = scan(door_client, attendee.ticket_code)

    assert (again.status_code, again.json()["result"]) == (201, "checked_out")
