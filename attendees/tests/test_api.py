import datetime
import json
import re

import pytest
from django.utils import timezone

from attendees import services
from attendees.models import Attendee, Event, Visit

from .conftest import statement_kinds

ATTENDEE_KEYS = {
    "id",
    "event",
    "first_name",
    "last_name",
    "email",
    "is_checked_in",
    "is_checked_out",
    "checkin_times",
    "checkout_times",
    "area",
}
# Those who may change attendees also see the ticket code.
EDITOR_ATTENDEE_KEYS = {*ATTENDEE_KEYS, "ticket_code"}
EVENT_KEYS = {"id", "name", "starts_at", "ends_at", "auto_checkout_at", "capacity", "inside", "timezone"}
PAGE_KEYS = {"count", "next", "previous", "results"}
CONFLICT_KEYS = {"detail", "code"}

EVENTS = "/api/events/"
ATTENDEES = "/api/attendees/"
BULK_CHECKOUT = "/api/attendees/bulk-checkout/"


def event_url(event_id) -> str:
    return f"/api/events/{event_id}/"


def attendee_url(attendee_id) -> str:
    return f"/api/attendees/{attendee_id}/"


def checkin_url(attendee_id) -> str:
    return f"/api/attendees/{attendee_id}/checkin/"


def checkout_url(attendee_id) -> str:
    return f"/api/attendees/{attendee_id}/checkout/"


def parse_time(text: str) -> datetime.datetime:
    assert text.endswith("Z"), text
    return datetime.datetime.fromisoformat(text)


def ids_of(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


def state_of(attendee: Attendee) -> tuple[bool, bool]:
    visits = list(attendee.visits.all())
    inside = any(visit.checked_out_at is None for visit in visits)
    return inside, bool(visits) and not inside


def full_body(attendee: Attendee, **changes) -> dict:
    return {
        "event": attendee.event_id,
        "first_name": attendee.first_name,
        "last_name": attendee.last_name,
        "email": attendee.email,
        **changes,
    }


# Events


def test_event_list_is_paginated_and_shows_each_event(admin_client_api, event, other_event):
    response = admin_client_api.get(EVENTS)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == PAGE_KEYS
    assert body["count"] == 2
    assert {row["id"] for row in body["results"]} == {event.pk, other_event.pk}
    assert all(set(row) == EVENT_KEYS for row in body["results"])


def test_creating_an_event_returns_201_and_its_times_in_utc(admin_client_api):
    response = admin_client_api.post(
        EVENTS,
        {"name": "DjangoCon", "starts_at": "2026-11-24T10:00:00+01:00", "ends_at": "2026-11-24T18:00:00+01:00"},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert set(body) == EVENT_KEYS
    assert body["name"] == "DjangoCon"
    assert body["starts_at"] == "2026-11-24T09:00:00Z"
    assert body["ends_at"] == "2026-11-24T17:00:00Z"
    stored = Event.objects.get(pk=body["id"])
    assert stored.starts_at == datetime.datetime(2026, 11, 24, 9, tzinfo=datetime.UTC)


def test_creating_an_event_without_times_is_allowed(admin_client_api):
    response = admin_client_api.post(EVENTS, {"name": "Sprint"}, format="json")

    assert response.status_code == 201
    assert response.json()["starts_at"] is None
    assert response.json()["ends_at"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": ["PyCon"]}, "name"),
        ({"name": "PyCon", "starts_at": "yesterday"}, "starts_at"),
        ({"name": "PyCon", "starts_at": "2026-11-24T10:00:00Z", "ends_at": "2026-11-24T09:00:00Z"}, "ends_at"),
    ],
)
def test_creating_an_invalid_event_is_400_with_field_errors_and_stores_nothing(admin_client_api, body, field):
    response = admin_client_api.post(EVENTS, body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not Event.objects.exists()


def test_an_event_is_shown_by_id(admin_client_api, event):
    response = admin_client_api.get(event_url(event.pk))

    assert response.status_code == 200
    assert response.json() == {
        "id": event.pk,
        "name": "PyCon",
        "starts_at": None,
        "ends_at": None,
        "auto_checkout_at": None,
        "capacity": None,
        "inside": 0,
        "timezone": "UTC",
    }


@pytest.mark.parametrize("event_id", ["999999", "abc", "1.5", "99999999999999999999999"])
def test_an_unknown_or_non_numeric_event_id_is_404(admin_client_api, event, event_id):
    assert admin_client_api.get(event_url(event_id)).status_code == 404


def test_putting_an_event_replaces_its_fields(admin_client_api, event):
    response = admin_client_api.put(
        event_url(event.pk), {"name": "PyCon US", "starts_at": "2026-05-01T08:00:00Z"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["name"] == "PyCon US"
    event.refresh_from_db()
    assert event.name == "PyCon US"
    assert event.starts_at == datetime.datetime(2026, 5, 1, 8, tzinfo=datetime.UTC)


def test_patching_an_event_changes_only_the_fields_sent(admin_client_api):
    starts_at = datetime.datetime(2026, 5, 1, 8, tzinfo=datetime.UTC)
    event = Event.objects.create(name="PyCon", starts_at=starts_at)

    response = admin_client_api.patch(event_url(event.pk), {"name": "PyCon US"}, format="json")

    assert response.status_code == 200
    event.refresh_from_db()
    assert (event.name, event.starts_at) == ("PyCon US", starts_at)


def test_patching_an_event_to_end_before_its_stored_start_is_400(admin_client_api):
    event = Event.objects.create(name="PyCon", starts_at=datetime.datetime(2026, 5, 1, 8, tzinfo=datetime.UTC))

    response = admin_client_api.patch(event_url(event.pk), {"ends_at": "2026-05-01T07:00:00Z"}, format="json")

    assert response.status_code == 400
    assert "ends_at" in response.json()
    event.refresh_from_db()
    assert event.ends_at is None


def test_deleting_an_event_without_history_deletes_it_and_its_attendees(admin_client_api, event, make_attendee):
    make_attendee()

    response = admin_client_api.delete(event_url(event.pk))

    assert response.status_code == 204
    assert not Event.objects.filter(pk=event.pk).exists()
    assert not Attendee.objects.exists()


def test_deleting_an_event_whose_attendees_have_history_is_409_and_keeps_everything(
    admin_client_api, event, make_attendee
):
    make_attendee("left")
    make_attendee()

    response = admin_client_api.delete(event_url(event.pk))

    assert response.status_code == 409
    assert set(response.json()) == CONFLICT_KEYS
    assert response.json()["code"] == "has_history"
    assert Event.objects.filter(pk=event.pk).exists()
    assert Attendee.objects.count() == 2
    assert Visit.objects.count() == 1


# Attendee list: pagination, filters, search, ordering


def test_attendee_list_is_paginated_with_count_next_previous_and_results(admin_client_api, make_attendee):
    for _ in range(7):
        make_attendee()

    first = admin_client_api.get(ATTENDEES, {"page_size": 5})
    second = admin_client_api.get(first.json()["next"])

    assert first.status_code == 200
    assert set(first.json()) == PAGE_KEYS
    assert first.json()["count"] == 7
    assert len(first.json()["results"]) == 5
    assert first.json()["previous"] is None
    assert second.status_code == 200
    assert len(second.json()["results"]) == 2
    assert second.json()["next"] is None
    assert second.json()["previous"] is not None
    assert set(ids_of(first)) | set(ids_of(second)) == set(Attendee.objects.values_list("pk", flat=True))


def test_attendee_list_rows_have_exactly_the_contract_keys(admin_client_api, make_attendee):
    make_attendee("left")

    (row,) = admin_client_api.get(ATTENDEES).json()["results"]

    assert set(row) == EDITOR_ATTENDEE_KEYS


def test_page_size_is_capped_at_500(admin_client_api, event):
    Attendee.objects.bulk_create(
        Attendee(event=event, first_name=f"F{n}", last_name=f"L{n}", email=f"p{n}@example.org") for n in range(501)
    )

    response = admin_client_api.get(ATTENDEES, {"page_size": 1000})

    assert response.status_code == 200
    assert response.json()["count"] == 501
    assert len(response.json()["results"]) == 500


def test_a_page_beyond_the_end_is_404_invalid_page(admin_client_api, make_attendee):
    make_attendee()

    response = admin_client_api.get(ATTENDEES, {"page": 2})

    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid page."}


@pytest.mark.parametrize("page", ["0", "-1", "abc", str(10**30), "1.5", "\x00"])
def test_an_absurd_page_number_is_404_not_a_server_error(admin_client_api, make_attendee, page):
    make_attendee()

    response = admin_client_api.get(ATTENDEES, {"page": page})

    assert response.status_code == 404


@pytest.mark.parametrize("page_size", ["0", "-5", "abc", str(10**30)])
def test_an_absurd_page_size_still_answers_a_page(admin_client_api, make_attendee, page_size):
    make_attendee()

    response = admin_client_api.get(ATTENDEES, {"page_size": page_size})

    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_attendee_list_filters_by_event(admin_client_api, make_attendee, other_event):
    mine = make_attendee()
    make_attendee(event=other_event)

    response = admin_client_api.get(ATTENDEES, {"event": mine.event_id})

    assert response.status_code == 200
    assert ids_of(response) == [mine.pk]


@pytest.fixture
def one_in_each_state(make_attendee) -> dict[str, Attendee]:
    return {state: make_attendee(state) for state in ("never", "inside", "left")}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"is_checked_in": "true"}, {"inside"}),
        ({"is_checked_in": "false"}, {"never", "left"}),
        ({"is_checked_out": "true"}, {"left"}),
        ({"is_checked_out": "false"}, {"never", "inside"}),
        ({"is_checked_in": "false", "is_checked_out": "false"}, {"never"}),
    ],
)
def test_attendee_list_filters_by_state(admin_client_api, one_in_each_state, query, expected):
    response = admin_client_api.get(ATTENDEES, query)

    assert response.status_code == 200
    assert set(ids_of(response)) == {one_in_each_state[state].pk for state in expected}


def test_attendee_list_states_agree_with_the_history(admin_client_api, one_in_each_state):
    rows = {row["id"]: row for row in admin_client_api.get(ATTENDEES).json()["results"]}

    for attendee in one_in_each_state.values():
        row = rows[attendee.pk]
        assert (row["is_checked_in"], row["is_checked_out"]) == state_of(attendee)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"is_checked_in": "maybe"}, "is_checked_in"),
        ({"is_checked_out": "yes please"}, "is_checked_out"),
        ({"event": "abc"}, "event"),
        ({"event": "999999"}, "event"),
        ({"event": str(10**30)}, "event"),
        ({"event": "\x00"}, "event"),
    ],
)
def test_an_invalid_filter_value_is_400_with_the_filter_named(admin_client_api, make_attendee, query, field):
    make_attendee()

    response = admin_client_api.get(ATTENDEES, query)

    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize("url", [ATTENDEES, EVENTS])
def test_a_search_with_a_null_character_is_400_not_a_server_error(admin_client_api, make_attendee, url):
    make_attendee()

    response = admin_client_api.get(url, {"search": "Ada\x00"})

    assert response.status_code == 400
    assert response.json() == {"search": ["Null characters are not allowed."]}


@pytest.fixture
def people(make_attendee) -> dict[str, Attendee]:
    return {
        "grace": make_attendee(first_name="Grace", last_name="Hopper", email="grace@navy.example"),
        "alan": make_attendee(first_name="Alan", last_name="Turing", email="alan@bletchley.example"),
        "ada": make_attendee(first_name="Ada", last_name="Lovelace", email="countess@analytical.example"),
    }


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("grace", {"grace"}),
        ("Turing", {"alan"}),
        ("countess@analytical", {"ada"}),
        ("bletchley.example", {"alan"}),
        (".example", {"grace", "alan", "ada"}),
        ("nobody", set()),
    ],
)
def test_attendee_list_searches_names_and_emails(admin_client_api, people, search, expected):
    response = admin_client_api.get(ATTENDEES, {"search": search})

    assert response.status_code == 200
    assert set(ids_of(response)) == {people[name].pk for name in expected}


def test_attendee_list_is_ordered_by_last_then_first_name_by_default(admin_client_api, people):
    response = admin_client_api.get(ATTENDEES)

    assert ids_of(response) == [people[name].pk for name in ("grace", "ada", "alan")]


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("first_name", ["ada", "alan", "grace"]),
        ("-first_name", ["grace", "alan", "ada"]),
        ("email", ["alan", "ada", "grace"]),
        ("-email", ["grace", "ada", "alan"]),
    ],
)
def test_attendee_list_can_be_ordered(admin_client_api, people, ordering, expected):
    response = admin_client_api.get(ATTENDEES, {"ordering": ordering})

    assert response.status_code == 200
    assert ids_of(response) == [people[name].pk for name in expected]


@pytest.mark.parametrize("page_size", [5, 100])
def test_attendee_list_costs_the_same_number_of_queries_whatever_the_page_size(
    door_client, django_assert_num_queries, event, page_size
):
    attendees = Attendee.objects.bulk_create(
        Attendee(event=event, first_name=f"F{n}", last_name=f"L{n:03}", email=f"p{n}@example.org") for n in range(120)
    )
    day = datetime.datetime(2026, 11, 24, 9, tzinfo=datetime.UTC)
    Visit.objects.bulk_create(
        visit
        for attendee in attendees
        for visit in (
            Visit(attendee=attendee, checked_in_at=day, checked_out_at=day + datetime.timedelta(hours=1)),
            Visit(attendee=attendee, checked_in_at=day + datetime.timedelta(hours=2)),
        )
    )
    services.recount()

    # Token and user, the user's permissions (own and groups', one), the count, the page,
    # the page's visits.
    with django_assert_num_queries(5):
        response = door_client.get(ATTENDEES, {"page_size": page_size})

    assert response.status_code == 200
    assert len(response.json()["results"]) == page_size
    assert all(len(row["checkin_times"]) == 2 for row in response.json()["results"])


# Attendee CRUD


def test_creating_an_attendee_returns_201_and_the_attendee_json(admin_client_api, event):
    response = admin_client_api.post(
        ATTENDEES,
        {"event": event.pk, "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org"},
        format="json",
    )

    assert response.status_code == 201
    attendee = Attendee.objects.get()
    assert response.json() == {
        "id": attendee.pk,
        "event": event.pk,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.org",
        "is_checked_in": False,
        "is_checked_out": False,
        "checkin_times": [],
        "checkout_times": [],
        "ticket_code": attendee.ticket_code,
        "area": None,
    }


def test_creating_an_attendee_ignores_times_sent_by_the_client(admin_client_api, event):
    response = admin_client_api.post(
        ATTENDEES,
        {
            "event": event.pk,
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.org",
            "checkin_times": ["2020-01-01T09:00:00Z"],
            "checkout_times": ["2020-01-01T17:00:00Z"],
        },
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["checkin_times"] == []
    assert response.json()["checkout_times"] == []
    assert not Visit.objects.exists()


def test_creating_an_attendee_with_is_checked_in_true_creates_them_inside(admin_client_api, event):
    response = admin_client_api.post(
        ATTENDEES,
        {"event": event.pk, "first_name": "Ada", "last_name": "L", "email": "ada@example.org", "is_checked_in": True},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["is_checked_in"] is True
    assert len(response.json()["checkin_times"]) == 1
    assert Visit.objects.filter(attendee_id=response.json()["id"], checked_out_at__isnull=True).count() == 1


def test_creating_an_attendee_with_a_refused_check_out_is_409_and_creates_nothing(admin_client_api, event):
    response = admin_client_api.post(
        ATTENDEES,
        {"event": event.pk, "first_name": "Ada", "last_name": "L", "email": "ada@example.org", "is_checked_out": True},
        format="json",
    )

    assert response.status_code == 409
    assert response.json()["code"] == "not_checked_in"
    assert not Attendee.objects.exists()
    assert not Visit.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": ""}, "email"),
        ({"first_name": ["Ada"]}, "first_name"),
        ({"first_name": {"name": "Ada"}}, "first_name"),
        ({"first_name": True}, "first_name"),
        ({"first_name": 5}, "first_name"),
        ({"last_name": 1.5}, "last_name"),
        ({"email": 42}, "email"),
        ({"first_name": None}, "first_name"),
        ({"first_name": ""}, "first_name"),
        ({"first_name": "A" * 151}, "first_name"),
        ({"last_name": None}, "last_name"),
        ({"event": "x"}, "event"),
        ({"event": 999999}, "event"),
        ({"event": None}, "event"),
        ({"event": [1]}, "event"),
        ({"is_checked_in": "sometimes"}, "is_checked_in"),
        ({"is_checked_in": False}, "is_checked_in"),
    ],
)
def test_creating_an_attendee_with_a_wrong_value_is_400_with_field_errors(admin_client_api, event, changes, field):
    body = {"event": event.pk, "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org", **changes}

    response = admin_client_api.post(ATTENDEES, body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not Attendee.objects.exists()


def test_creating_an_attendee_without_required_fields_is_400_naming_each(admin_client_api):
    response = admin_client_api.post(ATTENDEES, {}, format="json")

    assert response.status_code == 400
    assert {"event", "first_name", "last_name", "email"} <= set(response.json())


def test_an_attendee_is_shown_with_exactly_the_contract_keys(admin_client_api, attendee):
    response = admin_client_api.get(attendee_url(attendee.pk))

    assert response.status_code == 200
    assert response.json() == {
        "id": attendee.pk,
        "event": attendee.event_id,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.org",
        "is_checked_in": False,
        "is_checked_out": False,
        "checkin_times": [],
        "checkout_times": [],
        "ticket_code": attendee.ticket_code,
        "area": None,
    }


@pytest.mark.parametrize("attendee_id", ["999999", "abc", "1.5", "-1", "99999999999999999999999"])
def test_an_unknown_or_non_numeric_attendee_id_is_404(admin_client_api, attendee, attendee_id):
    response = admin_client_api.get(attendee_url(attendee_id))

    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert set(response.json()) == {"detail"}


@pytest.mark.parametrize("url", [checkin_url, checkout_url])
@pytest.mark.parametrize("attendee_id", ["999999", "abc", "99999999999999999999999", "1.5", "%C2%84"])
def test_checking_in_or_out_an_unknown_or_non_numeric_id_is_404(admin_client_api, attendee, url, attendee_id):
    response = admin_client_api.post(url(attendee_id))

    assert response.status_code == 404
    assert not Visit.objects.exists()


def test_putting_an_attendee_replaces_its_fields(admin_client_api, attendee, other_event):
    body = {"event": other_event.pk, "first_name": "Augusta", "last_name": "King", "email": "augusta@example.org"}

    response = admin_client_api.put(attendee_url(attendee.pk), body, format="json")

    assert response.status_code == 200
    assert {name: response.json()[name] for name in body} == body
    attendee.refresh_from_db()
    assert (attendee.event_id, attendee.first_name, attendee.last_name, attendee.email) == (
        other_event.pk,
        "Augusta",
        "King",
        "augusta@example.org",
    )


def test_putting_an_attendee_without_all_fields_is_400(admin_client_api, attendee):
    response = admin_client_api.put(attendee_url(attendee.pk), {"first_name": "Augusta"}, format="json")

    assert response.status_code == 400
    attendee.refresh_from_db()
    assert attendee.first_name == "Ada"


def test_patching_an_attendee_changes_only_the_fields_sent(admin_client_api, attendee):
    response = admin_client_api.patch(attendee_url(attendee.pk), {"first_name": "Augusta"}, format="json")

    assert response.status_code == 200
    assert response.json()["first_name"] == "Augusta"
    attendee.refresh_from_db()
    assert (attendee.first_name, attendee.last_name) == ("Augusta", "Lovelace")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": "nope"}, "email"),
        ({"first_name": ["Ada"]}, "first_name"),
        ({"event": "x"}, "event"),
        ({"event": 999999}, "event"),
    ],
)
def test_patching_an_attendee_with_a_wrong_value_is_400_and_changes_nothing(admin_client_api, attendee, changes, field):
    event_id = attendee.event_id

    response = admin_client_api.patch(attendee_url(attendee.pk), changes, format="json")

    assert response.status_code == 400
    assert field in response.json()
    attendee.refresh_from_db()
    assert (attendee.first_name, attendee.email, attendee.event_id) == ("Ada", "ada@example.org", event_id)


def test_deleting_an_attendee_without_history_returns_204(admin_client_api, attendee):
    response = admin_client_api.delete(attendee_url(attendee.pk))

    assert response.status_code == 204
    assert not Attendee.objects.filter(pk=attendee.pk).exists()


@pytest.mark.parametrize("state", ["inside", "left"])
def test_deleting_an_attendee_with_history_is_409_and_keeps_the_history(admin_client_api, make_attendee, state):
    attendee = make_attendee(state)

    response = admin_client_api.delete(attendee_url(attendee.pk))

    assert response.status_code == 409
    assert set(response.json()) == CONFLICT_KEYS
    assert response.json()["code"] == "has_history"
    assert Attendee.objects.filter(pk=attendee.pk).exists()
    assert attendee.visits.count() == 1


def test_deleting_an_unknown_attendee_is_404(admin_client_api):
    assert admin_client_api.delete(attendee_url(999999)).status_code == 404


# Check-in and check-out


def test_checking_in_returns_201_and_the_attendee_inside(door_client, attendee):
    response = door_client.post(checkin_url(attendee.pk))

    assert response.status_code == 201
    body = response.json()
    assert set(body) == ATTENDEE_KEYS
    assert (body["id"], body["first_name"]) == (attendee.pk, "Ada")
    assert (body["is_checked_in"], body["is_checked_out"]) == (True, False)
    assert len(body["checkin_times"]) == 1
    assert body["checkout_times"] == []
    assert attendee.visits.filter(checked_out_at__isnull=True).count() == 1


def test_checking_in_stamps_the_server_time_and_the_user(door_client, door_staff, attendee):
    before = timezone.now()

    response = door_client.post(
        checkin_url(attendee.pk), {"checked_in_at": "2000-01-01T00:00:00Z", "checkin_times": ["2000-01-01T00:00:00Z"]}
    )

    after = timezone.now()
    visit = attendee.visits.get()
    assert before <= visit.checked_in_at <= after
    assert visit.checked_in_by == door_staff
    assert [parse_time(text) for text in response.json()["checkin_times"]] == [visit.checked_in_at]


def test_checking_in_again_after_leaving_is_allowed(door_client, make_attendee):
    attendee = make_attendee("left")

    response = door_client.post(checkin_url(attendee.pk))

    assert response.status_code == 201
    assert (response.json()["is_checked_in"], response.json()["is_checked_out"]) == (True, False)
    assert len(response.json()["checkin_times"]) == 2
    assert len(response.json()["checkout_times"]) == 1
    assert attendee.visits.count() == 2


def test_checking_in_someone_inside_is_409_already_checked_in_and_records_nothing(door_client, make_attendee):
    attendee = make_attendee("inside")

    response = door_client.post(checkin_url(attendee.pk))

    assert response.status_code == 409
    assert set(response.json()) == CONFLICT_KEYS
    assert response.json()["code"] == "already_checked_in"
    assert response.json()["detail"]
    assert attendee.visits.count() == 1


def test_checking_out_returns_201_and_the_attendee_left(door_client, door_staff, make_attendee):
    attendee = make_attendee("inside")
    before = timezone.now()

    response = door_client.post(checkout_url(attendee.pk))

    assert response.status_code == 201
    body = response.json()
    assert set(body) == ATTENDEE_KEYS
    assert (body["is_checked_in"], body["is_checked_out"]) == (False, True)
    visit = attendee.visits.get()
    assert before <= visit.checked_out_at <= timezone.now()
    assert visit.checked_out_by == door_staff
    assert [parse_time(text) for text in body["checkout_times"]] == [visit.checked_out_at]


@pytest.mark.parametrize(("state", "code"), [("never", "not_checked_in"), ("left", "already_checked_out")])
def test_checking_out_someone_not_inside_is_409_and_records_nothing(door_client, make_attendee, state, code):
    attendee = make_attendee(state)
    visits_before = list(Visit.objects.values())

    response = door_client.post(checkout_url(attendee.pk))

    assert response.status_code == 409
    assert set(response.json()) == CONFLICT_KEYS
    assert response.json()["code"] == code
    assert list(Visit.objects.values()) == visits_before


# PATCH with a state flag


def test_patching_is_checked_out_true_checks_the_attendee_out(door_client, make_attendee):
    attendee = make_attendee("inside")

    response = door_client.patch(attendee_url(attendee.pk), {"is_checked_out": True}, format="json")

    assert response.status_code == 200
    assert set(response.json()) == ATTENDEE_KEYS
    assert (response.json()["is_checked_in"], response.json()["is_checked_out"]) == (False, True)
    assert len(response.json()["checkout_times"]) == 1
    assert state_of(attendee) == (False, True)


def test_patching_is_checked_in_true_checks_the_attendee_in(door_client, door_staff, attendee):
    response = door_client.patch(attendee_url(attendee.pk), {"is_checked_in": True}, format="json")

    assert response.status_code == 200
    assert (response.json()["is_checked_in"], response.json()["is_checked_out"]) == (True, False)
    assert attendee.visits.get().checked_in_by == door_staff


@pytest.mark.parametrize(
    ("state", "flag", "code"),
    [
        ("inside", "is_checked_in", "already_checked_in"),
        ("never", "is_checked_out", "not_checked_in"),
        ("left", "is_checked_out", "already_checked_out"),
    ],
)
def test_patching_a_flag_the_rules_refuse_is_409_and_records_nothing(door_client, make_attendee, state, flag, code):
    attendee = make_attendee(state)
    visits_before = list(Visit.objects.values())

    response = door_client.patch(attendee_url(attendee.pk), {flag: True}, format="json")

    assert response.status_code == 409
    assert set(response.json()) == CONFLICT_KEYS
    assert response.json()["code"] == code
    assert list(Visit.objects.values()) == visits_before


@pytest.mark.parametrize("state", ["never", "inside", "left"])
@pytest.mark.parametrize("flag", ["is_checked_in", "is_checked_out"])
def test_patching_a_flag_to_false_is_400_and_records_nothing(door_client, make_attendee, state, flag):
    attendee = make_attendee(state)
    visits_before = list(Visit.objects.values())

    response = door_client.patch(attendee_url(attendee.pk), {flag: False}, format="json")

    assert response.status_code == 400
    assert flag in response.json()
    assert list(Visit.objects.values()) == visits_before


@pytest.mark.parametrize("state", ["never", "inside", "left"])
def test_patching_both_flags_true_is_400_and_records_nothing(door_client, make_attendee, state):
    attendee = make_attendee(state)
    visits_before = list(Visit.objects.values())

    response = door_client.patch(
        attendee_url(attendee.pk), {"is_checked_in": True, "is_checked_out": True}, format="json"
    )

    assert response.status_code == 400
    assert list(Visit.objects.values()) == visits_before


def test_a_patch_whose_flag_is_refused_leaves_the_name_unchanged(admin_client_api, make_attendee):
    attendee = make_attendee("inside", first_name="Ada")

    response = admin_client_api.patch(
        attendee_url(attendee.pk), {"first_name": "Augusta", "is_checked_in": True}, format="json"
    )

    assert response.status_code == 409
    attendee.refresh_from_db()
    assert attendee.first_name == "Ada"
    assert attendee.visits.count() == 1


def test_a_patch_with_a_field_and_an_accepted_flag_does_both(admin_client_api, make_attendee):
    attendee = make_attendee("inside", first_name="Ada")

    response = admin_client_api.patch(
        attendee_url(attendee.pk), {"first_name": "Augusta", "is_checked_out": True}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["first_name"] == "Augusta"
    assert response.json()["is_checked_out"] is True
    attendee.refresh_from_db()
    assert attendee.first_name == "Augusta"
    assert state_of(attendee) == (False, True)


def test_a_put_with_a_flag_checks_in_and_updates(admin_client_api, attendee):
    response = admin_client_api.put(
        attendee_url(attendee.pk), full_body(attendee, first_name="Augusta", is_checked_in=True), format="json"
    )

    assert response.status_code == 200
    attendee.refresh_from_db()
    assert attendee.first_name == "Augusta"
    assert state_of(attendee) == (True, False)


def test_a_put_asking_for_the_state_the_attendee_is_in_records_nothing(admin_client_api, make_attendee):
    attendee = make_attendee("left", first_name="Ada")

    response = admin_client_api.put(
        attendee_url(attendee.pk), full_body(attendee, first_name="Augusta", is_checked_out=True), format="json"
    )

    assert response.status_code == 200
    attendee.refresh_from_db()
    assert attendee.first_name == "Augusta"
    assert attendee.visits.count() == 1


# Times


def test_times_are_utc_iso_strings_ending_in_z_oldest_first(admin_client_api, attendee, settings):
    settings.TIME_ZONE = "America/New_York"
    day = datetime.datetime(2026, 11, 24, 9, 0, 1, 123456, tzinfo=datetime.UTC)
    hour = datetime.timedelta(hours=1)
    # Stored newest first, so the order cannot come from insertion order.
    Visit.objects.create(attendee=attendee, checked_in_at=day + 4 * hour)
    Visit.objects.create(attendee=attendee, checked_in_at=day + 2 * hour, checked_out_at=day + 3 * hour)
    Visit.objects.create(attendee=attendee, checked_in_at=day, checked_out_at=day + hour)
    services.recount()

    body = admin_client_api.get(attendee_url(attendee.pk)).json()

    assert body["checkin_times"] == [
        "2026-11-24T09:00:01.123456Z",
        "2026-11-24T11:00:01.123456Z",
        "2026-11-24T13:00:01.123456Z",
    ]
    assert body["checkout_times"] == ["2026-11-24T10:00:01.123456Z", "2026-11-24T12:00:01.123456Z"]
    assert (body["is_checked_in"], body["is_checked_out"]) == (True, False)


def test_times_in_the_list_match_the_detail(admin_client_api, make_attendee):
    attendee = make_attendee("left")

    (row,) = admin_client_api.get(ATTENDEES).json()["results"]

    assert row == admin_client_api.get(attendee_url(attendee.pk)).json()
    visit = attendee.visits.get()
    assert [parse_time(text) for text in row["checkin_times"]] == [visit.checked_in_at]
    assert [parse_time(text) for text in row["checkout_times"]] == [visit.checked_out_at]


@pytest.mark.parametrize("method", ["put", "patch"])
def test_times_sent_in_an_update_are_ignored(admin_client_api, make_attendee, method):
    attendee = make_attendee("left")
    visits_before = list(Visit.objects.values())
    times_before = admin_client_api.get(attendee_url(attendee.pk)).json()
    sent = {"checkin_times": ["2000-01-01T09:00:00Z"], "checkout_times": []}

    response = getattr(admin_client_api, method)(
        attendee_url(attendee.pk), full_body(attendee, first_name="Augusta", **sent), format="json"
    )

    assert response.status_code == 200
    assert response.json()["checkin_times"] == times_before["checkin_times"]
    assert response.json()["checkout_times"] == times_before["checkout_times"]
    assert list(Visit.objects.values()) == visits_before


# Bulk check-out


@pytest.fixture
def mixed(make_attendee, other_event) -> dict[str, Attendee]:
    return {
        "inside1": make_attendee("inside"),
        "inside2": make_attendee("inside"),
        "never": make_attendee("never"),
        "left": make_attendee("left"),
        "elsewhere_inside": make_attendee("inside", event=other_event),
    }


def test_bulk_checkout_by_ids_checks_out_those_inside_and_counts_the_skipped(door_client, door_staff, mixed):
    chosen = [mixed[name].pk for name in ("inside1", "inside2", "never", "left")]

    response = door_client.post(BULK_CHECKOUT, {"ids": chosen}, format="json")

    assert response.status_code == 200
    assert response.json() == {"checked_out": 2, "skipped": 2}
    assert state_of(mixed["inside1"]) == (False, True)
    assert state_of(mixed["inside2"]) == (False, True)
    assert mixed["inside1"].visits.get().checked_out_by == door_staff
    assert state_of(mixed["never"]) == (False, False)
    assert state_of(mixed["elsewhere_inside"]) == (True, False)


def test_bulk_checkout_by_event_checks_out_only_that_event(door_client, event, mixed):
    response = door_client.post(BULK_CHECKOUT, {"event": event.pk}, format="json")

    assert response.status_code == 200
    assert response.json() == {"checked_out": 2, "skipped": 2}
    assert state_of(mixed["inside1"]) == (False, True)
    assert state_of(mixed["elsewhere_inside"]) == (True, False)


def test_bulk_checkout_by_event_and_ids_checks_out_only_those_ids(door_client, event, mixed):
    response = door_client.post(BULK_CHECKOUT, {"event": event.pk, "ids": [mixed["inside1"].pk]}, format="json")

    assert response.status_code == 200
    assert response.json() == {"checked_out": 1, "skipped": 0}
    assert state_of(mixed["inside2"]) == (True, False)


def test_bulk_checkout_counts_a_repeated_id_once(door_client, mixed):
    pk = mixed["inside1"].pk

    response = door_client.post(BULK_CHECKOUT, {"ids": [pk, pk]}, format="json")

    assert response.json() == {"checked_out": 1, "skipped": 0}


def test_bulk_checkout_of_an_event_without_attendees_checks_out_nobody(door_client, make_attendee):
    empty = Event.objects.create(name="Empty")
    someone = make_attendee("inside")

    response = door_client.post(BULK_CHECKOUT, {"event": empty.pk}, format="json")

    assert response.status_code == 200
    assert response.json() == {"checked_out": 0, "skipped": 0}
    assert state_of(someone) == (True, False)


def test_bulk_checkout_with_unknown_ids_is_400_under_ids_and_checks_out_nobody(door_client, mixed):
    response = door_client.post(BULK_CHECKOUT, {"ids": [mixed["inside1"].pk, 999999]}, format="json")

    assert response.status_code == 400
    assert "ids" in response.json()
    assert state_of(mixed["inside1"]) == (True, False)


def test_bulk_checkout_with_ids_from_another_event_is_400_under_ids(door_client, event, mixed):
    ids = [mixed["inside1"].pk, mixed["elsewhere_inside"].pk]

    response = door_client.post(BULK_CHECKOUT, {"event": event.pk, "ids": ids}, format="json")

    assert response.status_code == 400
    assert "ids" in response.json()
    assert state_of(mixed["inside1"]) == (True, False)
    assert state_of(mixed["elsewhere_inside"]) == (True, False)


def test_bulk_checkout_with_neither_ids_nor_event_is_400(door_client, mixed):
    response = door_client.post(BULK_CHECKOUT, {}, format="json")

    assert response.status_code == 400
    assert Visit.objects.filter(checked_out_at__isnull=True).count() == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ids": "abc"}, "ids"),
        ({"ids": [1, "x"]}, "ids"),
        ({"ids": []}, "ids"),
        ({"ids": [0]}, "ids"),
        ({"ids": [-1]}, "ids"),
        ({"ids": [1.5]}, "ids"),
        ({"ids": [[1]]}, "ids"),
        ({"ids": {"1": 1}}, "ids"),
        ({"ids": [10**30]}, "ids"),
        ({"ids": list(range(1, 10_002))}, "ids"),
        ({"event": "x"}, "event"),
        ({"event": 999999}, "event"),
        ({"event": 10**30}, "event"),
        ({"event": [1]}, "event"),
    ],
)
def test_bulk_checkout_with_wrong_types_is_400_with_field_errors(door_client, mixed, body, field):
    response = door_client.post(BULK_CHECKOUT, body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert Visit.objects.filter(checked_out_at__isnull=True).count() == 3


def test_bulk_checkout_with_a_json_list_body_is_400(door_client, mixed):
    response = door_client.post(BULK_CHECKOUT, [mixed["inside1"].pk], format="json")

    assert response.status_code == 400
    assert state_of(mixed["inside1"]) == (True, False)


# Idempotency-Key


def test_a_retried_checkin_replays_the_first_response_and_records_nothing(door_client, attendee):
    first = door_client.post(checkin_url(attendee.pk), HTTP_IDEMPOTENCY_KEY="scan-1")
    retry = door_client.post(checkin_url(attendee.pk), HTTP_IDEMPOTENCY_KEY="scan-1")

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert attendee.visits.count() == 1


def test_a_replay_returns_the_first_body_even_after_the_state_changed(door_client, attendee):
    first = door_client.post(checkin_url(attendee.pk), HTTP_IDEMPOTENCY_KEY="scan-1")
    door_client.post(checkout_url(attendee.pk))

    retry = door_client.post(checkin_url(attendee.pk), HTTP_IDEMPOTENCY_KEY="scan-1")

    assert retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.json()["is_checked_in"] is True
    assert attendee.visits.count() == 1
    assert state_of(attendee) == (False, True)


def test_a_retried_refusal_replays_the_409(door_client, attendee):
    first = door_client.post(checkout_url(attendee.pk), HTTP_IDEMPOTENCY_KEY="scan-1")
    door_client.post(checkin_url(attendee.pk))

    retry = door_client.post(checkout_url(attendee.pk), HTTP_IDEMPOTENCY_KEY="scan-1")

    assert first.status_code == retry.status_code == 409
    assert retry.json() == first.json()
    assert set(retry.json()) == CONFLICT_KEYS
    assert retry.json()["code"] == "not_checked_in"
    assert state_of(attendee) == (True, False)


def test_a_retried_checkout_replays_the_first_response(door_client, make_attendee):
    attendee = make_attendee("inside")

    first = door_client.post(checkout_url(attendee.pk), HTTP_IDEMPOTENCY_KEY="scan-1")
    retry = door_client.post(checkout_url(attendee.pk), HTTP_IDEMPOTENCY_KEY="scan-1")

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()


def test_a_retried_bulk_checkout_replays_the_first_counts_and_checks_out_nobody_new(door_client, event, mixed):
    first = door_client.post(BULK_CHECKOUT, {"event": event.pk}, format="json", HTTP_IDEMPOTENCY_KEY="end-of-day")
    door_client.post(checkin_url(mixed["never"].pk))

    retry = door_client.post(BULK_CHECKOUT, {"event": event.pk}, format="json", HTTP_IDEMPOTENCY_KEY="end-of-day")

    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json() == {"checked_out": 2, "skipped": 2}
    assert state_of(mixed["never"]) == (True, False)


@pytest.mark.parametrize(
    "second",
    [
        pytest.param(lambda a, b: (checkout_url(a.pk), {}), id="other endpoint"),
        pytest.param(lambda a, b: (checkin_url(b.pk), {}), id="other attendee"),
        pytest.param(lambda a, b: (BULK_CHECKOUT, {"ids": [a.pk]}), id="bulk"),
    ],
)
def test_the_same_key_with_a_different_request_is_422_and_records_nothing(door_client, make_attendee, second):
    first_attendee, other_attendee = make_attendee(), make_attendee()
    door_client.post(checkin_url(first_attendee.pk), HTTP_IDEMPOTENCY_KEY="scan-1")
    visits_before = list(Visit.objects.values())
    url, body = second(first_attendee, other_attendee)

    response = door_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="scan-1")

    assert response.status_code == 422
    assert set(response.json()) == CONFLICT_KEYS
    assert response.json()["code"] == "idempotency_key_reused"
    assert list(Visit.objects.values()) == visits_before


def test_the_same_key_with_a_different_bulk_body_is_422(door_client, mixed):
    door_client.post(BULK_CHECKOUT, {"ids": [mixed["inside1"].pk]}, format="json", HTTP_IDEMPOTENCY_KEY="k")

    response = door_client.post(BULK_CHECKOUT, {"ids": [mixed["inside2"].pk]}, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert state_of(mixed["inside2"]) == (True, False)


def test_another_user_with_the_same_key_is_not_a_replay(door_client, api_client_for, make_user, attendee):
    colleague = make_user("door_staff", username="colleague")
    door_client.post(checkin_url(attendee.pk), HTTP_IDEMPOTENCY_KEY="scan-1")

    response = api_client_for(colleague).post(checkout_url(attendee.pk), HTTP_IDEMPOTENCY_KEY="scan-1")

    assert response.status_code == 201
    assert response.json()["is_checked_out"] is True
    assert attendee.visits.get().checked_out_by == colleague


@pytest.mark.parametrize("key", ["k" * 255, "a", "scan 1/door", "~!@#$%^&*()"])
def test_a_key_of_1_to_255_printable_ascii_characters_is_accepted(door_client, attendee, key):
    response = door_client.post(checkin_url(attendee.pk), HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == 201


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("k" * 256, id="too long"),
        pytest.param("", id="empty"),
        pytest.param("café", id="not ascii"),
        pytest.param("tab\there", id="control character"),
    ],
)
@pytest.mark.parametrize("endpoint", ["checkin", "bulk-checkout"])
def test_a_bad_idempotency_key_is_400_under_its_name_and_records_nothing(door_client, make_attendee, key, endpoint):
    attendee = make_attendee("inside" if endpoint == "bulk-checkout" else "never")
    visits_before = list(Visit.objects.values())
    url, body = (checkin_url(attendee.pk), {}) if endpoint == "checkin" else (BULK_CHECKOUT, {"ids": [attendee.pk]})

    response = door_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()
    assert list(Visit.objects.values()) == visits_before


# Malformed bodies


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", lambda a: EVENTS),
        ("patch", lambda a: event_url(a.event_id)),
        ("post", lambda a: ATTENDEES),
        ("put", lambda a: attendee_url(a.pk)),
        ("patch", lambda a: attendee_url(a.pk)),
        ("post", lambda a: checkin_url(a.pk)),
        ("post", lambda a: checkout_url(a.pk)),
        ("post", lambda a: BULK_CHECKOUT),
    ],
)
@pytest.mark.parametrize("text", ['{"first_name": ', "not json", "{'ids': [1]}", b"\xff\xfe"])
def test_a_malformed_json_body_is_400_and_changes_nothing(admin_client_api, make_attendee, method, url, text):
    attendee = make_attendee("inside", first_name="Ada")

    response = getattr(admin_client_api, method)(url(attendee), data=text, content_type="application/json")

    assert response.status_code == 400
    assert "detail" in response.json()
    attendee.refresh_from_db()
    assert attendee.first_name == "Ada"
    assert state_of(attendee) == (True, False)
    assert Attendee.objects.count() == Event.objects.count() == 1


@pytest.mark.parametrize("body", [[], ["first_name"], "Augusta", 5, None])
def test_a_patch_body_that_is_not_an_object_is_400(admin_client_api, attendee, body):
    response = admin_client_api.patch(attendee_url(attendee.pk), json.dumps(body), content_type="application/json")

    assert response.status_code == 400
    attendee.refresh_from_db()
    assert attendee.first_name == "Ada"


@pytest.mark.parametrize("url", [checkin_url, checkout_url])
@pytest.mark.parametrize("body", [[1], "now", None])
def test_a_checkin_or_checkout_body_that_is_not_an_object_is_400_and_records_nothing(
    door_client, make_attendee, url, body
):
    attendee = make_attendee("inside" if url is checkout_url else "never")
    visits_before = list(Visit.objects.values())

    response = door_client.post(url(attendee.pk), json.dumps(body), content_type="application/json")

    assert response.status_code == 400
    assert list(Visit.objects.values()) == visits_before


# Schema and docs


def test_the_openapi_schema_is_served(door_client):
    response = door_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/attendees/{id}/checkin/" in schema["paths"]
    assert "/api/attendees/bulk-checkout/" in schema["paths"]


def test_the_docs_page_is_served_without_any_cdn(door_client):
    response = door_client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode().lower()
    for host in ("cdn", "jsdelivr", "unpkg"):
        assert host not in html
    assert "/static/" in html
    assert "swagger-ui-bundle.js" in html


def test_the_docs_page_assets_are_served_locally(door_client, client):
    html = door_client.get("/api/docs/").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html)

    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets)
    for asset in assets:
        assert asset.startswith("/static/")
        assert client.get(asset).status_code == 200


def test_a_form_body_with_more_fields_than_django_allows_is_a_json_400(door_client, make_attendee):
    ids = [make_attendee("inside").pk for _ in range(3)]
    form = "&".join(f"ids={pk}" for pk in ids * 400)

    response = door_client.post(BULK_CHECKOUT, form, content_type="application/x-www-form-urlencoded")

    assert response.status_code == 400
    assert "Send large requests as JSON" in response.json()["detail"]
    assert not Visit.objects.filter(checked_out_at__isnull=False).exists()


def test_a_check_in_through_the_api_costs_a_fixed_list_of_queries(
    door_client, make_attendee, django_assert_num_queries
):
    attendee = make_attendee(state="left")

    # Token and user, the user's permissions (own and groups', one), the attendee; in one
    # transaction (the test's own here, so no BEGIN and COMMIT): the place taken inside the
    # event (a conditional UPDATE), the visit's INSERT, the record's INSERT and the arrival
    # counted (an UPDATE of its own, once the event's row is held), the kept figures (the
    # minute's and the attendee's time inside, an INSERT ... ON CONFLICT each); the visits.
    with django_assert_num_queries(10) as captured:
        response = door_client.post(f"{ATTENDEES}{attendee.pk}/checkin/")

    assert response.status_code == 201
    statements = statement_kinds(captured)
    assert statements == [
        "SELECT",
        "SELECT",
        "SELECT",
        "UPDATE",
        "INSERT",
        "INSERT",
        "UPDATE",
        "INSERT",
        "INSERT",
        "SELECT",
    ]


def test_a_check_out_through_the_api_costs_a_fixed_list_of_queries(
    door_client, make_attendee, django_assert_num_queries
):
    attendee = make_attendee(state="inside")

    # Token and user, the user's permissions (own and groups', one), the attendee, the
    # event's row locked (SELECT ... FOR UPDATE), the UPDATE of the stay (with any stay in
    # an area within it), the record's INSERT, the number inside the event, the kept
    # figures (the minute's and the attendee's time inside), the visits.
    with django_assert_num_queries(10) as captured:
        response = door_client.post(f"{ATTENDEES}{attendee.pk}/checkout/")

    assert response.status_code == 201
    statements = statement_kinds(captured)
    assert statements == [
        "SELECT",
        "SELECT",
        "SELECT",
        "SELECT",
        "UPDATE",
        "INSERT",
        "UPDATE",
        "INSERT",
        "INSERT",
        "SELECT",
    ]
