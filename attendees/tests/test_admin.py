import re
from datetime import UTC, datetime

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.utils import timezone

from attendees import services
from attendees.models import Attendee, Event, Visit

CHANGELIST = "/admin/attendees/attendee/"
VISITS = "/admin/attendees/visit/"

NINE = datetime(2026, 11, 24, 9, 0, 1, 123456, tzinfo=UTC)
NOON = datetime(2026, 11, 24, 12, 15, 2, 234567, tzinfo=UTC)
ONE_PM = datetime(2026, 11, 24, 13, 30, 3, 345678, tzinfo=UTC)


def iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_of(html: str, text: str) -> str:
    rows = [row for row in re.split(r"<tr\b", html) if text in row]
    assert len(rows) == 1, f"expected one changelist row containing {text!r}"
    return rows[0]


def listed_emails(response) -> set[str]:
    return {attendee.email for attendee in response.context["cl"].result_list}


def offered_actions(response) -> set[str]:
    action_form = response.context["action_form"]
    if action_form is None:
        return set()
    return {name for name, _ in action_form.fields["action"].choices if name}


def action_post(action: str, attendees) -> dict:
    return {"action": action, ACTION_CHECKBOX_NAME: [a.pk for a in attendees], "index": 0}


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def inside_count(attendees) -> int:
    return Visit.objects.filter(attendee__in=attendees, checked_out_at__isnull=True).count()


def create_attendees(event, count: int, state: str) -> list[Attendee]:
    attendees = Attendee.objects.bulk_create(
        Attendee(event=event, first_name=f"Bulk{n}", last_name=f"Person{n}", email=f"bulk{n}@example.org")
        for n in range(count)
    )
    now = timezone.now()
    if state in {"inside", "left"}:
        Visit.objects.bulk_create(
            Visit(attendee=a, checked_in_at=now, checked_out_at=now if state == "left" else None) for a in attendees
        )
        services.recount()
    return attendees


@pytest.fixture
def staff_door(make_user):
    return make_user("door_staff", is_staff=True)


@pytest.fixture
def staff_viewer(make_user):
    return make_user("viewer", is_staff=True)


@pytest.fixture
def door_client(client, staff_door):
    client.force_login(staff_door)
    return client


@pytest.fixture
def returning_attendee(make_attendee, event):
    """Came at nine, left at noon, came back at one: inside, with fixed times."""
    attendee = make_attendee("left", event=event, first_name="Ada", last_name="Lovelace", email="ada@example.org")
    Visit.objects.filter(attendee=attendee).update(checked_in_at=NINE, checked_out_at=NOON)
    Visit.objects.create(attendee=attendee, checked_in_at=ONE_PM)
    services.recount()
    return attendee


def test_changelist_loads_for_door_staff(door_client, make_attendee):
    make_attendee("inside")

    response = door_client.get(CHANGELIST)

    assert response.status_code == 200


def test_changelist_row_shows_name_email_event_state_and_last_times(door_client, returning_attendee):
    response = door_client.get(CHANGELIST)

    row = row_of(response.content.decode(), "ada@example.org")
    assert "Ada" in row
    assert "Lovelace" in row
    assert "PyCon" in row
    assert "Inside" in row
    text = " ".join(re.sub(r"<[^>]+>", " ", row).split())
    assert "2026-11-24 13:30:03 UTC" in text
    assert "2026-11-24 12:15:02 UTC" in text
    assert "09:00:01" not in text


def test_changelist_shows_left_and_never_checked_in_states(door_client, make_attendee):
    make_attendee("left", email="gone@example.org")
    make_attendee("never", email="absent@example.org")

    html = door_client.get(CHANGELIST).content.decode()

    assert "Left" in row_of(html, "gone@example.org")
    assert "Never checked in" in row_of(html, "absent@example.org")


def test_changelist_filters_by_event(door_client, make_attendee, event, other_event):
    make_attendee(event=event, email="here@example.org")
    make_attendee(event=other_event, email="there@example.org")

    response = door_client.get(CHANGELIST, {"event__id__exact": other_event.pk})

    assert listed_emails(response) == {"there@example.org"}


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("inside", {"in@example.org", "back@example.org"}),
        ("left", {"out@example.org"}),
        ("never_arrived", {"never@example.org"}),
    ],
)
def test_changelist_filters_by_state(door_client, make_attendee, state, expected):
    make_attendee("inside", email="in@example.org")
    make_attendee("left", email="out@example.org")
    make_attendee("never", email="never@example.org")
    returning = make_attendee("left", email="back@example.org")
    Visit.objects.create(attendee=returning, checked_in_at=timezone.now())
    services.recount()

    response = door_client.get(CHANGELIST, {"state": state})

    assert listed_emails(response) == expected


@pytest.mark.parametrize("query", ["Lovelace", "Ada", "ada@example"])
def test_changelist_search_finds_by_name_and_email(door_client, make_attendee, query):
    make_attendee(first_name="Ada", last_name="Lovelace", email="ada@example.org")
    make_attendee(first_name="Alan", last_name="Turing", email="alan@example.org")

    response = door_client.get(CHANGELIST, {"q": query})

    assert listed_emails(response) == {"ada@example.org"}


def test_attendance_actions_are_offered_to_staff_who_record_attendance(door_client, make_attendee):
    make_attendee()

    response = door_client.get(CHANGELIST)

    assert {"check_in_selected", "check_out_selected"} <= offered_actions(response)
    html = response.content.decode()
    assert "Check in selected attendees" in html
    assert "Check out selected attendees" in html


def test_attendance_actions_are_not_offered_to_staff_viewers(client, staff_viewer, make_attendee):
    make_attendee()
    client.force_login(staff_viewer)

    response = client.get(CHANGELIST)

    assert response.status_code == 200
    assert not offered_actions(response) & {"check_in_selected", "check_out_selected"}
    html = response.content.decode()
    assert "Check in selected attendees" not in html
    assert "Check out selected attendees" not in html


@pytest.mark.parametrize("action", ["check_in_selected", "check_out_selected"])
def test_attendance_action_posted_by_a_staff_viewer_records_nothing(client, staff_viewer, make_attendee, action):
    attendees = [make_attendee("inside"), make_attendee("never"), make_attendee("left")]
    before = list(Visit.objects.order_by("pk").values())
    client.force_login(staff_viewer)

    client.post(CHANGELIST, action_post(action, attendees), follow=True)

    assert list(Visit.objects.order_by("pk").values()) == before


def test_check_out_action_checks_out_those_inside_and_reports_skipped(door_client, staff_door, make_attendee):
    inside = [make_attendee("inside") for _ in range(8)]
    never = make_attendee("never")
    left = make_attendee("left")
    unselected = make_attendee("inside")

    response = door_client.post(CHANGELIST, action_post("check_out_selected", [*inside, never, left]), follow=True)

    assert messages_of(response) == ["Checked out 8 attendees; skipped 2 who were not inside."]
    assert Visit.objects.filter(checked_out_by=staff_door).count() == 8
    assert inside_count(inside) == 0
    assert not never.visits.exists()
    assert left.visits.count() == 1
    assert inside_count([unselected]) == 1


def test_check_out_action_stamps_the_server_time(door_client, make_attendee):
    attendee = make_attendee("inside")
    before = timezone.now()

    door_client.post(CHANGELIST, action_post("check_out_selected", [attendee]))

    checked_out_at = attendee.visits.get().checked_out_at
    assert before <= checked_out_at <= timezone.now()


def test_check_in_action_checks_in_those_outside_and_reports_skipped(door_client, staff_door, make_attendee):
    outside = [make_attendee("never") for _ in range(3)] + [make_attendee("left") for _ in range(2)]
    inside = [make_attendee("inside") for _ in range(4)]

    response = door_client.post(CHANGELIST, action_post("check_in_selected", [*outside, *inside]), follow=True)

    assert messages_of(response) == ["Checked in 5 attendees; skipped 4 who were already inside."]
    assert Visit.objects.filter(checked_in_by=staff_door).count() == 5
    assert inside_count(outside) == 5
    assert Visit.objects.filter(attendee__in=inside).count() == 4


def test_check_out_action_of_one_attendee_uses_the_singular(door_client, make_attendee):
    attendee = make_attendee("inside")

    response = door_client.post(CHANGELIST, action_post("check_out_selected", [attendee]), follow=True)

    assert messages_of(response) == ["Checked out 1 attendee."]


def test_check_in_action_of_one_attendee_uses_the_singular(door_client, make_attendee):
    attendee = make_attendee("never")

    response = door_client.post(CHANGELIST, action_post("check_in_selected", [attendee]), follow=True)

    assert messages_of(response) == ["Checked in 1 attendee."]


def test_check_out_action_reports_one_skipped_in_the_singular(door_client, make_attendee):
    attendees = [make_attendee("inside"), make_attendee("inside"), make_attendee("never")]

    response = door_client.post(CHANGELIST, action_post("check_out_selected", attendees), follow=True)

    assert messages_of(response) == ["Checked out 2 attendees; skipped 1 who was not inside."]


def test_check_in_action_reports_one_skipped_in_the_singular(door_client, make_attendee):
    attendees = [make_attendee("never"), make_attendee("inside")]

    response = door_client.post(CHANGELIST, action_post("check_in_selected", attendees), follow=True)

    assert messages_of(response) == ["Checked in 1 attendee; skipped 1 who was already inside."]


def test_check_out_action_of_nobody_inside_records_nothing(door_client, make_attendee):
    attendees = [make_attendee("never"), make_attendee("left")]

    response = door_client.post(CHANGELIST, action_post("check_out_selected", attendees), follow=True)

    [message] = messages_of(response)
    assert "skipped 2 who were not inside" in message
    assert Visit.objects.filter(checked_out_at__isnull=False).count() == 1


# Measured: the action request costs the same whatever the number selected (the kept figures
# included: the minutes written, one statement for the one minute, one for the times inside).
ACTION_QUERIES = {"check_in_selected": 18, "check_out_selected": 17}


@pytest.mark.parametrize("size", [10, 500])
@pytest.mark.parametrize(("action", "state"), [("check_out_selected", "inside"), ("check_in_selected", "never")])
def test_action_request_runs_in_a_constant_number_of_queries(
    door_client, event, django_assert_num_queries, action, state, size
):
    attendees = create_attendees(event, size, state)
    data = action_post(action, attendees)

    with django_assert_num_queries(ACTION_QUERIES[action]):
        response = door_client.post(CHANGELIST, data)

    assert response.status_code == 302
    assert inside_count(attendees) == (size if action == "check_in_selected" else 0)


CHANGELIST_QUERIES = 7


@pytest.mark.parametrize("size", [5, 50])
def test_changelist_runs_in_a_constant_number_of_queries(door_client, event, django_assert_num_queries, size):
    create_attendees(event, size, "inside")
    create_attendees(event, size, "left")

    with django_assert_num_queries(CHANGELIST_QUERIES):
        response = door_client.get(CHANGELIST)

    assert len(response.context["cl"].result_list) == 2 * size


def test_change_page_shows_check_in_and_check_out_times_read_only(admin_superuser_client, returning_attendee):
    response = admin_superuser_client.get(f"{CHANGELIST}{returning_attendee.pk}/change/")

    html = response.content.decode()
    assert response.status_code == 200
    for moment in (NINE, NOON, ONE_PM):
        # In the event's zone (here UTC), to the second, the zone named.
        assert f"{moment:%Y-%m-%d %H:%M:%S} UTC" in html
        assert iso_z(moment) not in html
    assert 'name="checkin_times"' not in html
    assert 'name="checkout_times"' not in html
    assert 'name="first_name"' in html


def test_change_page_post_does_not_change_the_history(admin_superuser_client, returning_attendee, event):
    before = list(Visit.objects.order_by("pk").values())

    response = admin_superuser_client.post(
        f"{CHANGELIST}{returning_attendee.pk}/change/",
        {
            "event": event.pk,
            "first_name": "Ada",
            "last_name": "King",
            "email": "ada@example.org",
            "checkin_times": "2020-01-01T00:00:00Z",
            "checkout_times": "",
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    returning_attendee.refresh_from_db()
    assert returning_attendee.last_name == "King"
    assert list(Visit.objects.order_by("pk").values()) == before


def test_change_page_refuses_moving_an_attendee_with_history_to_another_event(
    admin_superuser_client, returning_attendee, event, other_event
):
    form = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org", "_save": "Save"}

    response = admin_superuser_client.post(
        f"{CHANGELIST}{returning_attendee.pk}/change/", {**form, "event": other_event.pk}
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["event"] == [
        "Cannot move to another event: the attendance history stays with its event."
    ]
    returning_attendee.refresh_from_db()
    assert returning_attendee.event == event


def test_change_page_moves_an_attendee_without_history_and_the_counts_follow(
    admin_superuser_client, make_attendee, event, other_event
):
    newcomer = make_attendee(email="new@example.org")
    form = {"first_name": "New", "last_name": "Comer", "email": "new@example.org", "_save": "Save"}

    response = admin_superuser_client.post(f"{CHANGELIST}{newcomer.pk}/change/", {**form, "event": other_event.pk})

    assert response.status_code == 302
    newcomer.refresh_from_db()
    assert newcomer.event == other_event
    registered = dict(Event.objects.values_list("pk", "registered"))
    assert (registered[event.pk], registered[other_event.pk]) == (0, 1)


def test_history_admin_has_no_add_page_even_for_a_superuser(admin_superuser_client):
    assert admin_superuser_client.get(f"{VISITS}add/").status_code == 403
    assert admin_superuser_client.post(f"{VISITS}add/", {}).status_code == 403


def test_history_admin_change_page_is_read_only(admin_superuser_client, attendee):
    visit = Visit.objects.create(attendee=attendee, checked_in_at=NINE)
    services.recount()

    response = admin_superuser_client.get(f"{VISITS}{visit.pk}/change/")

    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="_save"' not in html
    assert 'name="checked_in_at' not in html


def test_history_admin_change_post_changes_nothing(admin_superuser_client, attendee):
    visit = Visit.objects.create(attendee=attendee, checked_in_at=NINE)
    services.recount()

    response = admin_superuser_client.post(
        f"{VISITS}{visit.pk}/change/",
        {"attendee": attendee.pk, "checked_in_at_0": "2020-01-01", "checked_in_at_1": "00:00:00", "_save": "Save"},
    )

    assert response.status_code == 403
    visit.refresh_from_db()
    assert visit.checked_in_at == NINE


def test_history_admin_refuses_deletion_even_for_a_superuser(admin_superuser_client, attendee):
    visit = Visit.objects.create(attendee=attendee, checked_in_at=NINE)
    services.recount()

    assert admin_superuser_client.get(f"{VISITS}{visit.pk}/delete/").status_code == 403
    assert admin_superuser_client.post(f"{VISITS}{visit.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Visit.objects.filter(pk=visit.pk).exists()


def test_history_admin_offers_no_delete_action(admin_superuser_client, attendee):
    Visit.objects.create(attendee=attendee, checked_in_at=NINE)
    services.recount()

    response = admin_superuser_client.get(VISITS)

    assert response.status_code == 200
    assert "delete_selected" not in offered_actions(response)


def test_deleting_an_attendee_with_history_lists_the_protected_visits_and_records(
    admin_superuser_client, returning_attendee
):
    response = admin_superuser_client.get(f"{CHANGELIST}{returning_attendee.pk}/delete/")

    assert response.status_code == 200
    protected = [str(item) for item in response.context["protected"]]
    assert sum(item.startswith("Visit:") for item in protected) == 2
    assert all(item.startswith(("Visit:", "Record:")) for item in protected)


def test_deleting_an_attendee_with_history_is_refused(admin_superuser_client, returning_attendee):
    response = admin_superuser_client.post(f"{CHANGELIST}{returning_attendee.pk}/delete/", {"post": "yes"})

    assert response.status_code == 200
    assert response.context["protected"]
    assert Attendee.objects.filter(pk=returning_attendee.pk).exists()
    assert returning_attendee.visits.count() == 2


def test_deleting_an_attendee_with_history_by_the_bulk_action_is_refused(admin_superuser_client, returning_attendee):
    admin_superuser_client.post(CHANGELIST, {**action_post("delete_selected", [returning_attendee]), "post": "yes"})

    assert Attendee.objects.filter(pk=returning_attendee.pk).exists()
    assert returning_attendee.visits.count() == 2
