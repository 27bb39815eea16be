"""Simultaneous requests from real threads, each on its own database connection."""

from collections import Counter

import pytest

from attendees import services
from attendees.exceptions import AlreadyCheckedIn, AlreadyCheckedOut, AttendanceError
from attendees.models import Attendee, Visit

from .races import run_together
from .test_areas import assert_counts_match_open_stays

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]

THREADS = 25
HTTP_THREADS = 20


def test_simultaneous_check_outs_of_someone_inside_succeed_exactly_once(make_attendee, door_staff):
    attendee = make_attendee("inside")

    outcomes = run_together([lambda: services.check_out(attendee=attendee, by=door_staff)] * THREADS)

    refusals = [result for kind, result in outcomes if kind == "error"]
    assert [kind for kind, _ in outcomes].count("ok") == 1
    assert len(refusals) == THREADS - 1
    assert all(isinstance(refusal, AlreadyCheckedOut) for refusal in refusals)
    [visit] = Visit.objects.filter(attendee=attendee)
    assert visit.checked_out_at is not None
    assert visit.checked_out_by == door_staff


@pytest.mark.parametrize("state", ["never", "left"])
def test_simultaneous_check_ins_of_someone_outside_succeed_exactly_once(state, make_attendee, door_staff):
    attendee = make_attendee(state)
    visits_before = Visit.objects.filter(attendee=attendee).count()

    outcomes = run_together([lambda: services.check_in(attendee=attendee, by=door_staff)] * THREADS)

    successes = [result for kind, result in outcomes if kind == "ok"]
    refusals = [result for kind, result in outcomes if kind == "error"]
    assert len(successes) == 1
    assert len(refusals) == THREADS - 1
    assert all(isinstance(refusal, AlreadyCheckedIn) for refusal in refusals)
    [open_visit] = Visit.objects.filter(attendee=attendee, checked_out_at__isnull=True)
    assert open_visit.checked_in_by == door_staff
    assert Visit.objects.filter(attendee=attendee).count() == visits_before + 1
    # The event's counts too: the attendee arrived once, whichever check-in won.
    assert_counts_match_open_stays()


def test_simultaneous_check_ins_and_check_outs_only_ever_answer_with_the_rules_and_keep_time_order(
    make_attendee, door_staff
):
    attendee = make_attendee("inside")
    scans = [services.check_in, services.check_out] * (THREADS // 2)

    outcomes = run_together([lambda scan=scan: scan(attendee=attendee, by=door_staff) for scan in scans])

    errors = [result for kind, result in outcomes if kind == "error"]
    assert all(isinstance(error, AttendanceError) for error in errors), errors
    times = []
    for visit in Visit.objects.filter(attendee=attendee).order_by("checked_in_at", "id"):
        times += [visit.checked_in_at] + ([visit.checked_out_at] if visit.checked_out_at else [])
    assert times == sorted(times)
    assert Visit.objects.filter(attendee=attendee, checked_out_at__isnull=True).count() <= 1
    assert_counts_match_open_stays()


def test_bulk_check_out_racing_single_check_outs_closes_every_visit_exactly_once(event, make_attendee, make_user):
    inside = [make_attendee("inside") for _ in range(10)]
    make_attendee("never")
    make_attendee("left")
    bulk_users = [make_user("door_staff", username=f"bulk{n}") for n in range(2)]
    single_user = make_user("door_staff", username="single")

    bulk_workers = [
        lambda user=user: services.bulk_check_out(attendees=Attendee.objects.filter(event=event), by=user)
        for user in bulk_users
    ]
    single_workers = [
        lambda person=person: services.check_out(attendee=person, by=single_user) for person in inside for _ in range(2)
    ]
    outcomes = run_together(bulk_workers + single_workers)

    bulk_results = [result for _, result in outcomes[: len(bulk_workers)]]
    single_outcomes = outcomes[len(bulk_workers) :]
    assert all(isinstance(result, services.BulkResult) for result in bulk_results)
    assert all(result.done + result.skipped == 12 for result in bulk_results)
    singles_done = sum(1 for kind, _ in single_outcomes if kind == "ok")
    assert all(isinstance(result, AlreadyCheckedOut) for kind, result in single_outcomes if kind == "error")
    assert sum(result.done for result in bulk_results) + singles_done == len(inside)

    visits = Visit.objects.filter(attendee__in=inside)
    assert len(visits) == len(inside)
    assert all(visit.checked_out_at is not None for visit in visits)
    for user, result in zip(bulk_users, bulk_results, strict=True):
        assert visits.filter(checked_out_by=user).count() == result.done
    assert visits.filter(checked_out_by=single_user).count() == singles_done


def test_bulk_check_in_racing_single_check_ins_opens_one_visit_per_attendee(event, make_attendee, make_user):
    outside = [make_attendee("never") for _ in range(5)] + [make_attendee("left") for _ in range(5)]
    make_attendee("inside")
    bulk_users = [make_user("door_staff", username=f"bulk{n}") for n in range(2)]
    single_user = make_user("door_staff", username="single")

    bulk_workers = [
        lambda user=user: services.bulk_check_in(attendees=Attendee.objects.filter(event=event), by=user)
        for user in bulk_users
    ]
    single_workers = [
        lambda person=person: services.check_in(attendee=person, by=single_user) for person in outside for _ in range(2)
    ]
    outcomes = run_together(bulk_workers + single_workers)

    bulk_results = [result for _, result in outcomes[: len(bulk_workers)]]
    single_outcomes = outcomes[len(bulk_workers) :]
    assert all(isinstance(result, services.BulkResult) for result in bulk_results)
    assert all(result.done + result.skipped == 11 for result in bulk_results)
    singles_done = sum(1 for kind, _ in single_outcomes if kind == "ok")
    assert all(isinstance(result, AlreadyCheckedIn) for kind, result in single_outcomes if kind == "error")
    assert sum(result.done for result in bulk_results) + singles_done == len(outside)

    opened = Visit.objects.filter(attendee__in=outside, checked_out_at__isnull=True)
    assert sorted(visit.attendee_id for visit in opened) == sorted(person.pk for person in outside)
    for user, result in zip(bulk_users, bulk_results, strict=True):
        assert opened.filter(checked_in_by=user).count() == result.done
    assert opened.filter(checked_in_by=single_user).count() == singles_done


def test_simultaneous_http_check_outs_give_one_201_and_409s_for_the_rest(make_attendee, door_staff, api_client_for):
    attendee = make_attendee("inside")
    clients = [api_client_for(door_staff) for _ in range(HTTP_THREADS)]
    url = f"/api/attendees/{attendee.pk}/checkout/"

    outcomes = run_together([lambda client=client: client.post(url, format="json") for client in clients])

    assert all(kind == "ok" for kind, _ in outcomes)
    responses = [result for _, result in outcomes]
    assert Counter(response.status_code for response in responses) == {201: 1, 409: HTTP_THREADS - 1}
    assert all(r.json()["code"] == "already_checked_out" for r in responses if r.status_code == 409)
    [created] = [r for r in responses if r.status_code == 201]
    assert created.json()["is_checked_out"] is True
    assert Visit.objects.filter(attendee=attendee, checked_out_at__isnull=False).count() == 1
    assert Visit.objects.filter(attendee=attendee).count() == 1


def test_simultaneous_http_check_ins_with_the_same_idempotency_key_record_one_visit_and_answer_alike(
    make_attendee, door_staff, api_client_for
):
    attendee = make_attendee("never")
    clients = [api_client_for(door_staff) for _ in range(HTTP_THREADS)]
    url = f"/api/attendees/{attendee.pk}/checkin/"

    outcomes = run_together(
        [
            lambda client=client: client.post(url, format="json", headers={"Idempotency-Key": "door-1-scan-42"})
            for client in clients
        ]
    )

    assert all(kind == "ok" for kind, _ in outcomes)
    responses = [result for _, result in outcomes]
    assert {response.status_code for response in responses} == {201}
    bodies = [response.json() for response in responses]
    assert all(body == bodies[0] for body in bodies)
    assert bodies[0]["is_checked_in"] is True
    assert len(bodies[0]["checkin_times"]) == 1
    assert Visit.objects.filter(attendee=attendee).count() == 1


def test_simultaneous_http_check_ins_with_the_same_idempotency_key_get_byte_identical_responses(
    make_attendee, door_staff, api_client_for
):
    attendee = make_attendee("never")
    clients = [api_client_for(door_staff) for _ in range(HTTP_THREADS)]
    url = f"/api/attendees/{attendee.pk}/checkin/"

    outcomes = run_together(
        [
            lambda client=client: client.post(url, format="json", headers={"Idempotency-Key": "door-1-scan-43"})
            for client in clients
        ]
    )

    assert all(kind == "ok" for kind, _ in outcomes)
    assert len({(response.status_code, response.content) for _, response in outcomes}) == 1
