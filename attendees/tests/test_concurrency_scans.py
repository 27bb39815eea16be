"""Simultaneous scans of one ticket from real threads, each on its own database connection."""

from collections import Counter

import pytest
from django.utils import timezone

from attendees import services
from attendees.models import Record, RefusedScan, Visit

from .races import run_together

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]

SCANNERS = 30


@pytest.mark.parametrize("direction", ["auto", "in"])
def test_thirty_simultaneous_scans_of_one_code_check_in_exactly_once(
    api_client_for, door_staff, make_attendee, direction
):
    attendee = make_attendee()
    clients = [api_client_for(door_staff) for _ in range(SCANNERS)]
    body = {"ticket_code": attendee.ticket_code, "direction": direction}

    outcomes = run_together(
        [lambda client=client: client.post("/api/scans/", body, format="json") for client in clients]
    )

    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    responses = [response for _, response in outcomes]
    assert Counter(response.status_code for response in responses) == {201: 1, 409: SCANNERS - 1}
    assert {response.json()["code"] for response in responses if response.status_code == 409} == {"already_checked_in"}
    assert Visit.objects.filter(attendee=attendee).count() == 1
    assert Record.objects.filter(attendee=attendee).count() == 1
    assert RefusedScan.objects.filter(attendee=attendee, reason="already_checked_in").count() == SCANNERS - 1


def test_simultaneous_exit_scans_of_someone_inside_check_out_exactly_once(door_staff, make_attendee):
    attendee = make_attendee("inside")

    outcomes = run_together(
        [lambda: services.scan_ticket(ticket_code=attendee.ticket_code, direction="out", by=door_staff)] * SCANNERS
    )

    kinds = Counter(kind for kind, _ in outcomes)
    assert kinds == {"ok": 1, "error": SCANNERS - 1}
    assert all(isinstance(error, services.ScanRefused) for kind, error in outcomes if kind == "error")
    assert Record.objects.filter(attendee=attendee, type="check_out").count() == 1
    assert Visit.objects.get(attendee=attendee).checked_out_at is not None


def test_the_same_offline_batch_sent_from_five_connections_at_once_records_each_scan_once(
    api_client_for, door_staff, make_attendee
):
    people = [make_attendee() for _ in range(10)]
    at = timezone.now().isoformat()
    scans = [{"nonce": f"n{p.pk}", "ticket_code": p.ticket_code, "at": at} for p in people]
    # A refused scan too: kept once as refused, whichever connection applies it.
    body = {"scans": [*scans[:5], {"nonce": "unknown", "ticket_code": "No-Such-Code-1", "at": at}, *scans[5:]]}
    clients = [api_client_for(door_staff) for _ in range(5)]

    outcomes = run_together(
        [lambda client=client: client.post("/api/scans/batch/", body, format="json") for client in clients]
    )

    assert all(kind == "ok" and response.status_code == 200 for kind, response in outcomes), outcomes
    assert Record.objects.filter(source="offline").count() == 10
    assert RefusedScan.objects.filter(offline=True).count() == 1
    duplicates = Counter(result["duplicate"] for _, response in outcomes for result in response.json()["results"])
    assert duplicates == {False: 11, True: 44}
    answers = [
        [(r["nonce"], r["status"], r.get("code")) for r in response.json()["results"]] for _, response in outcomes
    ]
    assert all(answer == answers[0] for answer in answers)
