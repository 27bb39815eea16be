"""The offline door's server side: the roster and the batch upload of offline scans."""

import datetime
import gzip
import hashlib
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from attendees import services
from attendees.models import Area, Record, RefusedScan, Visit
from attendees.prepared import executed

pytestmark = pytest.mark.django_db

BATCH = "/api/scans/batch/"


def roster_url(event_id) -> str:
    return f"/api/events/{event_id}/roster/"


def iso(moment: datetime.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def ago(**delta) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(**delta)


def roster_of(response) -> dict:
    return json.loads(b"".join(response.streaming_content))


def send(client, *scans):
    return client.post(BATCH, {"scans": list(scans)}, format="json")


def recorded():
    return list(Visit.objects.values()), list(Record.objects.values()), RefusedScan.objects.count()


# Roster


def test_the_roster_has_every_attendee_with_the_hash_of_the_code_and_never_the_code(
    door_client, make_attendee, event, other_event
):
    never, inside, left = make_attendee(), make_attendee("inside"), make_attendee("left")
    hall = Area.objects.create(event=event, name="Hall")
    services.check_in(attendee=inside, by=None, area=hall)
    make_attendee(event=other_event)

    response = door_client.get(roster_url(event.pk))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    text = b"".join(response.streaming_content).decode()
    body = json.loads(text)
    assert body["event"] == event.pk
    assert body["at"].endswith("Z")
    assert body["attendees"] == [
        {
            "id": person.pk,
            "first_name": person.first_name,
            "last_name": person.last_name,
            "ticket_code_sha256": hashlib.sha256(person.ticket_code.encode()).hexdigest(),
            "state": state,
            "area": area,
        }
        for person, state, area in [(never, "never_arrived", None), (inside, "inside", hall.pk), (left, "left", None)]
    ]
    for person in (never, inside, left):
        assert person.ticket_code not in text


def test_the_roster_is_gzipped_when_the_device_accepts_it(door_client, make_attendee, event):
    make_attendee()

    response = door_client.get(roster_url(event.pk), HTTP_ACCEPT_ENCODING="gzip, deflate")

    assert response["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response["Vary"]
    assert len(json.loads(gzip.decompress(b"".join(response.streaming_content)))["attendees"]) == 1


def test_the_roster_costs_the_same_number_of_queries_for_3_and_300_attendees(
    door_client, make_attendee, event, django_assert_num_queries
):
    for size in (3, 300):
        for _ in range(size - event.attendees.count()):
            make_attendee()
        # Token, permissions (own and groups', one), the event, the roster.
        with django_assert_num_queries(4):
            body = roster_of(door_client.get(roster_url(event.pk)))
        assert len(body["attendees"]) == size


@pytest.mark.parametrize(("role", "status"), [(None, 401), ("viewer", 403), ("editor", 403), ("door_staff", 200)])
def test_the_roster_needs_view_attendee_and_record_attendance(api_client_for, make_user, event, role, status):
    response = api_client_for(make_user(role) if role else None).get(roster_url(event.pk))

    assert response.status_code == status


# Batch


def test_offline_scans_are_recorded_in_order_at_the_devices_time_as_source_offline(door_client, make_attendee):
    attendee = make_attendee()
    went_in, went_out = ago(minutes=30), ago(minutes=10)

    response = send(
        door_client,
        {"nonce": "n1", "ticket_code": attendee.ticket_code, "at": iso(went_in), "station": "Gate"},
        {"nonce": "n2", "attendee": attendee.pk, "at": iso(went_out)},
    )

    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["nonce"], r["status"], r["duplicate"]) for r in results] == [
        ("n1", "recorded", False),
        ("n2", "recorded", False),
    ]
    assert [r["record"]["type"] for r in results] == ["check_in", "check_out"]
    first = Record.objects.get(pk=results[0]["record"]["id"])
    assert (first.at, first.source, first.station) == (went_in, "offline", "Gate")
    assert first.recorded_at > first.at
    assert results[0]["record"]["source"] == "offline"
    assert door_client.get(f"/api/attendees/{attendee.pk}/").json()["checkin_times"] == [iso(went_in)]


def test_a_nonce_sent_again_answers_its_first_result_as_a_duplicate_and_records_nothing(door_client, make_attendee):
    attendee = make_attendee()
    scan = {"nonce": "again", "ticket_code": attendee.ticket_code, "at": iso(ago(minutes=5))}
    first = send(door_client, scan).json()["results"][0]
    before = recorded()

    second = send(door_client, scan).json()["results"][0]

    assert second == {**first, "duplicate": True}
    assert recorded() == before


def test_nonces_are_per_user(api_client_for, make_user, door_client, make_attendee):
    first, second = make_attendee(), make_attendee()
    send(door_client, {"nonce": "same", "ticket_code": first.ticket_code, "at": iso(ago(minutes=5))})

    other = api_client_for(make_user("door_staff", username="other"))
    result = send(other, {"nonce": "same", "ticket_code": second.ticket_code, "at": iso(ago(minutes=5))})

    assert result.json()["results"][0]["duplicate"] is False
    assert second.records.count() == 1


def test_a_time_after_now_counts_as_now(door_client, make_attendee):
    attendee = make_attendee()
    before = timezone.now()

    send(door_client, {"nonce": "future", "ticket_code": attendee.ticket_code, "at": iso(ago(minutes=-30))})

    record = Record.objects.get()
    assert before <= record.at <= timezone.now()


def test_a_scan_more_than_seven_days_old_is_refused_too_old_and_kept_for_review(door_client, make_attendee):
    attendee = make_attendee()

    result = send(door_client, {"nonce": "old", "ticket_code": attendee.ticket_code, "at": iso(ago(days=8))})

    assert result.json()["results"][0] == {"nonce": "old", "status": "refused", "code": "too_old", "duplicate": False}
    kept = RefusedScan.objects.get()
    assert (kept.reason, kept.offline, kept.attendee) == ("too_old", True, None)
    assert not Record.objects.exists()


def test_a_scan_earlier_than_the_latest_record_is_refused_out_of_order(door_client, make_attendee):
    attendee = make_attendee("inside")

    result = send(door_client, {"nonce": "late", "ticket_code": attendee.ticket_code, "at": iso(ago(hours=1))})

    assert result.json()["results"][0]["code"] == "out_of_order"
    kept = RefusedScan.objects.get()
    assert (kept.reason, kept.offline, kept.attendee, kept.at < kept.recorded_at) == (
        "out_of_order",
        True,
        attendee,
        True,
    )
    assert Record.objects.count() == 1


def test_one_refused_scan_never_fails_the_others(door_client, make_attendee, other_event):
    inside, outside = make_attendee("inside"), make_attendee()
    at = iso(timezone.now())

    results = send(
        door_client,
        {"nonce": "a", "ticket_code": "no-such-code", "at": at},
        {"nonce": "b", "ticket_code": inside.ticket_code, "direction": "in", "at": at},
        {"nonce": "c", "ticket_code": outside.ticket_code, "event": other_event.pk, "at": at},
        {"nonce": "d", "ticket_code": outside.ticket_code, "direction": "sideways", "at": at},
        {"nonce": "e", "attendee": 999999, "at": at},
        {"nonce": "f", "ticket_code": outside.ticket_code, "at": at},
    ).json()["results"]

    assert [(r["status"], r.get("code")) for r in results] == [
        ("refused", "unknown_ticket"),
        ("refused", "already_checked_in"),
        ("refused", "wrong_event"),
        ("refused", "invalid"),
        ("refused", "unknown_ticket"),
        ("recorded", None),
    ]
    assert "direction" in results[3]["errors"]
    assert set(RefusedScan.objects.values_list("reason", flat=True)) == {
        "unknown_ticket",
        "already_checked_in",
        "wrong_event",
    }
    assert RefusedScan.objects.filter(offline=True).count() == 4
    assert outside.records.get().source == "offline"


@pytest.mark.parametrize(
    "body",
    [
        {"scans": "not a list"},
        {"scans": []},
        {"scans": [{"nonce": f"n{n}", "ticket_code": "abcdefgh", "at": "2026-12-06T09:00:00Z"} for n in range(501)]},
        {"scans": [{"ticket_code": "abcdefgh", "at": "2026-12-06T09:00:00Z"}]},
        {"scans": [{"nonce": "", "ticket_code": "abcdefgh", "at": "2026-12-06T09:00:00Z"}]},
        {"scans": [{"nonce": "x" * 65, "ticket_code": "abcdefgh", "at": "2026-12-06T09:00:00Z"}]},
        {"scans": [{"nonce": "bad\u00e9", "ticket_code": "abcdefgh", "at": "2026-12-06T09:00:00Z"}]},
        {"scans": [{"nonce": "n", "ticket_code": "abcdefgh", "at": "yesterday"}]},
        {"scans": [{"nonce": "n", "ticket_code": "abcdefgh"}]},
        {"scans": ["not an object"]},
        {},
    ],
)
def test_a_malformed_batch_is_a_400_and_records_nothing_of_it(door_client, make_attendee, body):
    attendee = make_attendee(ticket_code="abcdefgh")
    if body.get("scans") and isinstance(body["scans"], list) and len(body["scans"]) == 501:
        body["scans"][0]["ticket_code"] = attendee.ticket_code

    response = door_client.post(BATCH, body, format="json")

    assert response.status_code == 400
    assert recorded() == ([], [], 0)


def test_a_batch_of_a_good_scan_and_a_malformed_one_records_nothing(door_client, make_attendee):
    attendee = make_attendee()

    response = send(
        door_client,
        {"nonce": "good", "ticket_code": attendee.ticket_code, "at": iso(timezone.now())},
        {"nonce": "bad", "ticket_code": attendee.ticket_code, "at": "not a time"},
    )

    assert response.status_code == 400
    assert "scans" in response.json()
    assert not Record.objects.exists()


@pytest.mark.parametrize(("role", "status"), [(None, 401), ("viewer", 403), ("editor", 403)])
def test_the_batch_needs_record_attendance(api_client_for, make_user, make_attendee, role, status):
    attendee = make_attendee()
    client = api_client_for(make_user(role) if role else None)

    response = send(client, {"nonce": "n", "ticket_code": attendee.ticket_code, "at": iso(timezone.now())})

    assert response.status_code == status
    assert not Record.objects.exists()


def test_offline_scans_into_an_area_keep_the_counts(door_client, make_attendee, event):
    hall = Area.objects.create(event=event, name="Hall", capacity=1)
    first, second = make_attendee(), make_attendee()
    at = iso(ago(minutes=1))

    results = send(
        door_client,
        {"nonce": "1", "ticket_code": first.ticket_code, "area": hall.pk, "event": event.pk, "at": at},
        {"nonce": "2", "ticket_code": second.ticket_code, "area": hall.pk, "event": event.pk, "at": at},
    ).json()["results"]

    assert [(r["status"], r.get("code")) for r in results] == [("recorded", None), ("refused", "capacity_reached")]
    hall.refresh_from_db()
    assert hall.inside == 1


def test_a_batch_costs_a_fixed_number_of_queries_per_scan_and_looks_each_event_up_once(
    door_client, make_attendee, event
):
    counts = {}
    for size in (2, 6):
        people = [make_attendee() for _ in range(size)]
        scans = [
            {"nonce": f"{size}-{n}", "ticket_code": person.ticket_code, "event": event.pk, "at": iso(ago(minutes=5))}
            for n, person in enumerate(people)
        ]
        with CaptureQueriesContext(connection) as queries:
            assert send(door_client, *scans).status_code == 200
        counts[size] = len(queries)
        statements = [executed(query["sql"]) for query in queries.captured_queries]
        assert sum('FROM "attendees_event"' in sql and "FOR UPDATE" not in sql for sql in statements) == 1

    # Token, permissions (own and groups', one), the event, the nonces already kept, the
    # records answered; for each scan: SAVEPOINT, the attendee with its latest stay and
    # record, the place taken inside the event, the stay's INSERT, the record's INSERT, the
    # arrival counted, the kept figures (the minute's and the attendee's time inside), the
    # nonce kept with its answer, RELEASE.
    assert (counts[2], counts[6]) == (5 + 2 * 10, 5 + 6 * 10)


def test_a_batch_from_the_door_page_signed_in_with_a_session_is_recorded(client, door_staff, make_attendee):
    # The door page sends its batches with the session's user, which Django hands over lazily.
    attendee = make_attendee()
    client.force_login(door_staff)
    scan = {"nonce": "session-1", "ticket_code": attendee.ticket_code, "at": iso(ago(minutes=1))}

    response = client.post(BATCH, {"scans": [scan]}, content_type="application/json")

    assert response.status_code == 200
    assert response.json()["results"][0]["status"] == "recorded"
