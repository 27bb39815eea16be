import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.contrib.staticfiles import finders

from attendees import services
from attendees.models import Event

DOOR = "/door/"
COUNTS = "/door/counts/"


@pytest.fixture
def door_staff_client(client, door_staff):
    client.force_login(door_staff)
    return client


def test_door_page_sends_anonymous_users_to_the_admin_login(client, db):
    response = client.get(DOOR)

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/door/"


@pytest.mark.parametrize("role", ["no_permission", "viewer", "editor"])
def test_door_page_is_forbidden_without_record_attendance(client, make_user, role):
    client.force_login(make_user(role))

    assert client.get(DOOR).status_code == 403
    assert client.get(COUNTS, {"event": 1}).status_code == 403


def test_door_page_is_forbidden_with_record_attendance_alone_since_finding_attendees_needs_view(client, make_user):
    user = make_user("no_permission")
    user.user_permissions.add(Permission.objects.get(content_type__app_label="attendees", codename="record_attendance"))
    client.force_login(user)

    assert client.get(DOOR).status_code == 403


def test_door_page_renders_for_door_staff_with_labelled_controls_and_a_live_region(door_staff_client, event):
    response = door_staff_client.get(DOOR)

    assert response.status_code == 200
    html = response.content.decode()
    for control in ("door-event", "door-query"):
        assert f'<label for="{control}">' in html
        assert f'id="{control}"' in html
    assert 'id="door-message" class="message" role="status" aria-live="polite"' in html
    assert 'id="door-summary" class="summary" aria-live="polite"' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert 'src="/static/attendees/door.js"' in html
    assert 'href="/static/attendees/door.css"' in html


def test_door_page_tells_its_script_where_the_api_and_counts_are_and_passes_the_csrf_token(door_staff_client, event):
    html = door_staff_client.get(DOOR).content.decode()

    assert 'data-attendees-url="/api/attendees/"' in html
    assert 'data-counts-url="/door/counts/"' in html
    token = re.search(r'data-csrf-token="([^"]+)"', html)
    assert token is not None
    assert len(token.group(1)) >= 32


def test_door_page_lists_every_event_and_selects_the_requested_one(door_staff_client, event, other_event):
    response = door_staff_client.get(DOOR, {"event": other_event.pk})

    html = response.content.decode()
    assert f'<option value="{event.pk}">PyCon</option>' in html
    assert f'<option value="{other_event.pk}" selected>DjangoCon</option>' in html
    assert response.context["selected_event_id"] == other_event.pk


def test_door_page_selects_the_only_event_there_is(door_staff_client, event):
    response = door_staff_client.get(DOOR)

    assert response.context["selected_event_id"] == event.pk


@pytest.mark.parametrize("requested", ["", "abc", "999999"])
def test_door_page_selects_nothing_for_a_missing_or_unknown_event_when_there_are_several(
    door_staff_client, event, other_event, requested
):
    response = door_staff_client.get(DOOR, {"event": requested})

    assert response.status_code == 200
    assert response.context["selected_event_id"] is None
    assert " selected>" not in response.content.decode()


def test_door_page_escapes_event_names(door_staff_client, db):
    Event.objects.create(name="<script>alert(1)</script>")

    html = door_staff_client.get(DOOR).content.decode()

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_door_page_answers_only_get(door_staff_client, event):
    assert door_staff_client.post(DOOR).status_code == 405


def test_door_counts_give_inside_left_and_not_arrived_of_the_event_only(
    door_staff_client, make_attendee, event, other_event, django_assert_num_queries
):
    for state in ("inside", "inside", "left", "never", "never", "never"):
        make_attendee(state)
    make_attendee("inside", event=other_event)

    # Session, user, the user's and the groups' permissions, the event, then one aggregate.
    with django_assert_num_queries(6):
        response = door_staff_client.get(COUNTS, {"event": event.pk})

    assert response.status_code == 200
    assert response.json() == {"event": event.pk, "registered": 6, "inside": 2, "left": 1, "not_arrived": 3}


def test_door_counts_count_a_returning_attendee_once_as_inside(door_staff_client, make_attendee, event):
    returning = make_attendee("left")
    services.check_in(attendee=returning, by=None)

    assert door_staff_client.get(COUNTS, {"event": event.pk}).json()["inside"] == 1


def test_door_counts_of_an_event_without_attendees_are_zero(door_staff_client, event):
    assert door_staff_client.get(COUNTS, {"event": event.pk}).json() == {
        "event": event.pk,
        "registered": 0,
        "inside": 0,
        "left": 0,
        "not_arrived": 0,
    }


@pytest.mark.parametrize("query", [{}, {"event": ""}, {"event": "abc"}, {"event": "-1"}])
def test_door_counts_without_a_valid_event_id_are_a_400(door_staff_client, query):
    response = door_staff_client.get(COUNTS, query)

    assert response.status_code == 400
    assert response.json()["code"] == "event_required"


def test_door_counts_of_an_unknown_event_are_a_404(door_staff_client, db):
    assert door_staff_client.get(COUNTS, {"event": 999999}).status_code == 404


def test_door_counts_send_anonymous_users_to_the_login(client, db):
    assert client.get(COUNTS, {"event": 1}).status_code == 302


@pytest.mark.parametrize("name", ["attendees/door.js", "attendees/door.css"])
def test_door_assets_are_served_from_the_app_and_load_nothing_from_elsewhere(name):
    path = finders.find(name)

    assert path is not None
    text = Path(path).read_text()
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", text)
    assert "@import" not in text
