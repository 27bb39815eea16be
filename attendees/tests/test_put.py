"""A client that GETs an attendee and PUTs the body back, with or without changes, gets
200 and records nothing; the flags of a PUT describe the state asked for."""

import pytest

from attendees.models import Record

pytestmark = pytest.mark.django_db


def url(attendee) -> str:
    return f"/api/attendees/{attendee.pk}/"


@pytest.mark.parametrize("state", ["never", "inside", "left"])
@pytest.mark.parametrize("role", ["editor", "superuser"])
def test_a_get_body_put_back_is_200_and_records_nothing(api_client_for, make_user, make_attendee, state, role):
    attendee = make_attendee(state)
    client = api_client_for(make_user(role))
    body = client.get(url(attendee)).json()
    records = Record.objects.count()

    response = client.put(url(attendee), body, format="json")
    changed = client.put(url(attendee), {**body, "first_name": "Augusta"}, format="json")

    assert response.status_code == 200
    assert response.json() == body
    assert changed.status_code == 200
    assert changed.json() == {**body, "first_name": "Augusta"}
    assert Record.objects.count() == records


@pytest.mark.parametrize(
    ("state", "asked", "recorded"),
    [
        ("inside", {"is_checked_in": False, "is_checked_out": True}, "check_out"),
        ("never", {"is_checked_in": True, "is_checked_out": False}, "check_in"),
        ("left", {"is_checked_in": True, "is_checked_out": False}, "check_in"),
    ],
)
def test_a_put_asking_for_another_reachable_state_records_it(
    api_client_for, make_user, make_attendee, state, asked, recorded
):
    attendee = make_attendee(state)
    client = api_client_for(make_user("superuser"))
    body = client.get(url(attendee)).json()
    before = Record.objects.count()

    response = client.put(url(attendee), {**body, **asked}, format="json")

    assert response.status_code == 200
    assert (response.json()["is_checked_in"], response.json()["is_checked_out"]) == (
        asked["is_checked_in"],
        asked["is_checked_out"],
    )
    assert Record.objects.count() == before + 1
    assert Record.objects.latest("id").type == recorded


@pytest.mark.parametrize(
    ("state", "asked"),
    [
        ("left", {"is_checked_in": False, "is_checked_out": False}),
        ("inside", {"is_checked_in": False, "is_checked_out": False}),
        ("never", {"is_checked_in": False, "is_checked_out": True}),
        ("never", {"is_checked_in": True, "is_checked_out": True}),
        ("never", {"is_checked_in": "yes", "is_checked_out": False}),
    ],
)
def test_a_put_asking_for_a_state_no_check_in_or_out_reaches_is_a_400(
    api_client_for, make_user, make_attendee, state, asked
):
    attendee = make_attendee(state, first_name="Ada")
    client = api_client_for(make_user("superuser"))
    body = client.get(url(attendee)).json()
    before = Record.objects.count()

    response = client.put(url(attendee), {**body, **asked, "first_name": "Augusta"}, format="json")

    assert response.status_code == 400
    assert Record.objects.count() == before
    attendee.refresh_from_db()
    assert attendee.first_name == "Ada"


def test_a_put_that_checks_out_needs_record_attendance(api_client_for, make_user, make_attendee):
    attendee = make_attendee("inside", first_name="Ada")
    client = api_client_for(make_user("editor"))
    body = client.get(url(attendee)).json()

    response = client.put(url(attendee), {**body, "is_checked_in": False, "is_checked_out": True}, format="json")

    assert response.status_code == 403
    assert attendee.visits.get().checked_out_at is None
