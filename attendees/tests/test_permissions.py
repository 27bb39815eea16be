import dataclasses
from collections.abc import Callable

import pytest
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from attendees.models import Attendee, Event, Record, Visit

ROLES = ["anonymous", "no_permission", "viewer", "door_staff", "editor", "superuser"]

SECRETS = ("Ada", "Lovelace", "ada@example.org", "Grace", "Hopper", "grace@example.org")


@dataclasses.dataclass
class Scene:
    event: Event
    spare_event: Event
    outside: Attendee
    inside: Attendee
    spare: Attendee


@pytest.fixture
def scene(event, make_attendee) -> Scene:
    return Scene(
        event=event,
        spare_event=Event.objects.create(name="Sprint"),
        outside=make_attendee(first_name="Ada", last_name="Lovelace", email="ada@example.org"),
        inside=make_attendee("inside", first_name="Grace", last_name="Hopper", email="grace@example.org"),
        spare=make_attendee(),
    )


def attendee_body(scene: Scene, **changes) -> dict:
    return {
        "event": scene.event.pk,
        "first_name": "Alan",
        "last_name": "Turing",
        "email": "alan@example.org",
        **changes,
    }


# Each endpoint: how to call it, and who gets what. Anonymous gets 401, every role not
# listed gets 403.
ENDPOINTS: dict[str, tuple[Callable[[Scene], tuple[str, str, dict | None]], dict[str, int]]] = {
    "events list": (
        lambda s: ("get", "/api/events/", None),
        {"viewer": 200, "door_staff": 200, "editor": 200, "superuser": 200},
    ),
    "events detail": (
        lambda s: ("get", f"/api/events/{s.event.pk}/", None),
        {"viewer": 200, "door_staff": 200, "editor": 200, "superuser": 200},
    ),
    "events create": (
        lambda s: ("post", "/api/events/", {"name": "New"}),
        {"superuser": 201},
    ),
    "events update": (
        lambda s: ("put", f"/api/events/{s.event.pk}/", {"name": "Renamed"}),
        {"superuser": 200},
    ),
    "events patch": (
        lambda s: ("patch", f"/api/events/{s.event.pk}/", {"name": "Renamed"}),
        {"superuser": 200},
    ),
    "events delete": (
        lambda s: ("delete", f"/api/events/{s.spare_event.pk}/", None),
        {"superuser": 204},
    ),
    "attendees list": (
        lambda s: ("get", "/api/attendees/", None),
        {"viewer": 200, "door_staff": 200, "editor": 200, "superuser": 200},
    ),
    "attendees detail": (
        lambda s: ("get", f"/api/attendees/{s.outside.pk}/", None),
        {"viewer": 200, "door_staff": 200, "editor": 200, "superuser": 200},
    ),
    "attendees create": (
        lambda s: ("post", "/api/attendees/", attendee_body(s)),
        {"editor": 201, "superuser": 201},
    ),
    "attendees create with flag": (
        lambda s: ("post", "/api/attendees/", attendee_body(s, is_checked_in=True)),
        {"superuser": 201},
    ),
    "attendees update": (
        lambda s: ("put", f"/api/attendees/{s.outside.pk}/", attendee_body(s)),
        {"editor": 200, "superuser": 200},
    ),
    "attendees update with flag": (
        lambda s: ("put", f"/api/attendees/{s.outside.pk}/", attendee_body(s, is_checked_in=True)),
        {"superuser": 200},
    ),
    "attendees patch flag": (
        lambda s: ("patch", f"/api/attendees/{s.outside.pk}/", {"is_checked_in": True}),
        {"door_staff": 200, "superuser": 200},
    ),
    "attendees patch field": (
        lambda s: ("patch", f"/api/attendees/{s.outside.pk}/", {"first_name": "Augusta"}),
        {"editor": 200, "superuser": 200},
    ),
    "attendees patch field and flag": (
        lambda s: ("patch", f"/api/attendees/{s.inside.pk}/", {"first_name": "Augusta", "is_checked_out": True}),
        {"superuser": 200},
    ),
    "attendees delete": (
        lambda s: ("delete", f"/api/attendees/{s.spare.pk}/", None),
        {"editor": 204, "superuser": 204},
    ),
    "checkin": (
        lambda s: ("post", f"/api/attendees/{s.outside.pk}/checkin/", None),
        {"door_staff": 201, "superuser": 201},
    ),
    "checkout": (
        lambda s: ("post", f"/api/attendees/{s.inside.pk}/checkout/", None),
        {"door_staff": 201, "superuser": 201},
    ),
    "bulk checkout": (
        lambda s: ("post", "/api/attendees/bulk-checkout/", {"ids": [s.inside.pk]}),
        {"door_staff": 200, "superuser": 200},
    ),
}

ATTENDEE_ENDPOINTS = [name for name in ENDPOINTS if not name.startswith("events")]


def expected_status(endpoint: str, role: str) -> int:
    if role == "anonymous":
        return 401
    return ENDPOINTS[endpoint][1].get(role, 403)


def send(client: APIClient, endpoint: str, scene: Scene):
    method, url, body = ENDPOINTS[endpoint][0](scene)
    return getattr(client, method)(url, body, format="json")


def snapshot() -> tuple[list, list, list]:
    return (
        list(Event.objects.order_by("pk").values()),
        list(Attendee.objects.order_by("pk").values()),
        list(Visit.objects.order_by("pk").values()),
    )


@pytest.fixture
def client_as(make_user, api_client_for):
    def client(role: str) -> APIClient:
        return api_client_for(None if role == "anonymous" else make_user(role))

    return client


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_each_role_gets_the_expected_status_from_each_endpoint(client_as, scene, endpoint, role):
    response = send(client_as(role), endpoint, scene)

    assert response.status_code == expected_status(endpoint, role), response.content


REFUSED = [(endpoint, role) for endpoint in ENDPOINTS for role in ROLES if expected_status(endpoint, role) >= 400]


@pytest.mark.parametrize(("endpoint", "role"), REFUSED)
def test_a_refused_request_changes_nothing(client_as, scene, endpoint, role):
    client = client_as(role)
    before = snapshot()

    send(client, endpoint, scene)

    assert snapshot() == before


def test_an_anonymous_request_is_told_to_authenticate_with_a_token(scene):
    response = APIClient().get("/api/attendees/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_an_unknown_token_is_401(scene):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)

    assert client.get("/api/attendees/").status_code == 401


@pytest.mark.parametrize("endpoint", ["attendees list", "checkin"])
def test_a_deactivated_users_token_is_401(make_user, api_client_for, scene, endpoint):
    user = make_user("door_staff")
    client = api_client_for(user)
    user.is_active = False
    user.save()
    before = snapshot()

    response = send(client, endpoint, scene)

    assert response.status_code == 401
    assert snapshot() == before


@pytest.mark.parametrize(
    ("codenames", "status"),
    [(["view_event"], 200), (["view_attendee"], 200), (["view_attendee", "record_attendance"], 200), ([], 403)],
)
def test_events_are_readable_with_view_event_or_view_attendee(make_user, api_client_for, scene, codenames, status):
    user = make_user("no_permission")
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="attendees", codename__in=codenames))

    response = api_client_for(user).get("/api/events/")

    assert response.status_code == status


def test_view_event_alone_does_not_open_the_attendees(make_user, api_client_for, scene):
    user = make_user("no_permission")
    user.user_permissions.add(Permission.objects.get(codename="view_event"))

    assert api_client_for(user).get("/api/attendees/").status_code == 403


def test_a_session_logged_in_user_can_read_the_api(make_user, scene):
    client = APIClient()
    client.force_login(make_user("viewer"))

    response = client.get("/api/attendees/")

    assert response.status_code == 200
    assert response.json()["count"] == 3


def test_an_unsafe_session_request_without_a_csrf_token_is_refused(make_user, scene):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(make_user("door_staff"))

    response = client.post(f"/api/attendees/{scene.outside.pk}/checkin/")

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not scene.outside.visits.exists()


def test_an_unsafe_session_request_with_a_csrf_token_is_accepted(make_user, scene):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(make_user("door_staff"))
    secret = "a" * 32
    client.cookies["csrftoken"] = secret

    response = client.post(f"/api/attendees/{scene.outside.pk}/checkin/", HTTP_X_CSRFTOKEN=secret)

    assert response.status_code == 201
    assert scene.outside.visits.count() == 1


def test_a_token_request_needs_no_csrf_token(make_user, scene):
    token = Token.objects.create(user=make_user("door_staff"))
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    response = client.post(f"/api/attendees/{scene.outside.pk}/checkin/")

    assert response.status_code == 201


ALL_BUT_VIEW_ATTENDEE = [
    "view_event",
    "add_event",
    "change_event",
    "delete_event",
    "add_attendee",
    "change_attendee",
    "delete_attendee",
    "record_attendance",
]


@pytest.mark.parametrize(
    "codenames",
    [
        pytest.param([], id="nothing"),
        pytest.param(["view_event"], id="view_event"),
        pytest.param(["record_attendance"], id="record_attendance"),
        pytest.param(ALL_BUT_VIEW_ATTENDEE, id="all but view_attendee"),
    ],
)
@pytest.mark.parametrize("endpoint", [*ENDPOINTS, "attendees search"])
def test_a_user_without_view_attendee_never_sees_names_or_emails(make_user, api_client_for, scene, codenames, endpoint):
    user = make_user("no_permission")
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="attendees", codename__in=codenames))
    client = api_client_for(user)

    if endpoint == "attendees search":
        response = client.get("/api/attendees/", {"search": "Lovelace"})
    else:
        response = send(client, endpoint, scene)

    text = response.content.decode()
    for secret in SECRETS:
        assert secret not in text


@pytest.mark.parametrize("endpoint", ["attendees list", "attendees detail"])
def test_a_viewer_does_see_names_and_emails(client_as, scene, endpoint):
    text = send(client_as("viewer"), endpoint, scene).content.decode()

    assert "Lovelace" in text
    assert "ada@example.org" in text


@pytest.mark.parametrize("endpoint", ATTENDEE_ENDPOINTS)
def test_every_attendee_endpoint_needs_view_attendee(make_user, api_client_for, scene, endpoint):
    user = make_user("no_permission")
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="attendees", codename__in=ALL_BUT_VIEW_ATTENDEE)
    )
    before = snapshot()

    response = send(api_client_for(user), endpoint, scene)

    assert response.status_code == 403
    assert snapshot() == before


@pytest.fixture
def client_with(make_user, api_client_for):
    """client_with("view_attendee", ...) -> a client of a user with exactly those permissions."""

    def client(*codenames: str) -> APIClient:
        user = make_user("no_permission")
        user.user_permissions.add(
            *Permission.objects.filter(content_type__app_label="attendees", codename__in=codenames)
        )
        return api_client_for(user)

    return client


# Each model permission opens its own writes and no other; every other write gets 403.
GRANULAR_WRITES = {
    "attendees": (
        ["view_attendee"],
        {
            "add_attendee": {"attendees create": 201},
            "change_attendee": {"attendees update": 200, "attendees patch field": 200},
            "delete_attendee": {"attendees delete": 204},
        },
        ["attendees create", "attendees update", "attendees patch field", "attendees delete"],
    ),
    "events": (
        [],
        {
            "add_event": {"events create": 201},
            "change_event": {"events update": 200, "events patch": 200},
            "delete_event": {"events delete": 204},
        },
        ["events create", "events update", "events patch", "events delete"],
    ),
}

GRANULAR_CASES = {
    f"{codename}-{endpoint}": ([*base, codename], endpoint, granted.get(endpoint, 403))
    for base, permissions, endpoints in GRANULAR_WRITES.values()
    for codename, granted in permissions.items()
    for endpoint in endpoints
}

GRANULAR_REFUSALS = {case_id: case[:2] for case_id, case in GRANULAR_CASES.items() if case[2] == 403}


@pytest.mark.parametrize(("codenames", "endpoint", "status"), GRANULAR_CASES.values(), ids=GRANULAR_CASES)
def test_each_write_needs_its_own_model_permission_and_no_other(client_with, scene, codenames, endpoint, status):
    response = send(client_with(*codenames), endpoint, scene)

    assert response.status_code == status, response.content


@pytest.mark.parametrize(("codenames", "endpoint"), GRANULAR_REFUSALS.values(), ids=GRANULAR_REFUSALS)
def test_a_write_refused_for_want_of_its_model_permission_changes_nothing(client_with, scene, codenames, endpoint):
    client = client_with(*codenames)
    before = snapshot()

    send(client, endpoint, scene)

    assert snapshot() == before


@pytest.mark.parametrize("missing", ["change_attendee", "record_attendance"])
def test_a_patch_of_a_name_and_a_flag_needs_both_change_attendee_and_record_attendance(client_with, scene, missing):
    granted = {"change_attendee", "record_attendance"} - {missing}
    client = client_with("view_attendee", *granted)
    before = snapshot()

    response = send(client, "attendees patch field and flag", scene)

    assert response.status_code == 403, response.content
    assert snapshot() == before
    scene.inside.refresh_from_db()
    assert scene.inside.first_name == "Grace"
    assert scene.inside.visits.get().checked_out_at is None


def test_a_patch_of_a_name_and_a_flag_with_both_permissions_renames_and_records(client_with, scene):
    client = client_with("view_attendee", "change_attendee", "record_attendance")

    response = send(client, "attendees patch field and flag", scene)

    assert response.status_code == 200, response.content
    assert response.json()["is_checked_out"] is True
    scene.inside.refresh_from_db()
    assert scene.inside.first_name == "Augusta"
    assert scene.inside.visits.get().checked_out_at is not None


def test_a_patch_that_checks_out_with_a_station_needs_record_attendance_not_change_attendee(client_with, scene):
    client = client_with("view_attendee", "record_attendance")

    response = client.patch(
        f"/api/attendees/{scene.inside.pk}/", {"is_checked_out": True, "station": "North door"}, format="json"
    )

    assert response.status_code == 200, response.content
    record = Record.objects.get(attendee=scene.inside, type=Record.Type.CHECK_OUT)
    assert record.station == "North door"


def test_a_patch_of_the_station_alone_is_an_edit_and_needs_change_attendee(client_with, scene):
    client = client_with("view_attendee", "record_attendance")

    response = client.patch(f"/api/attendees/{scene.inside.pk}/", {"station": "North door"}, format="json")

    assert response.status_code == 403
