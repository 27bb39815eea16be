import hashlib
import json
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.contrib.staticfiles import finders

from attendees import services
from attendees.models import Area, Event

DOOR = "/door/"
COUNTS = "/door/counts/"
LOGIN = "/door/login/"
LOGOUT = "/door/logout/"
SERVICE_WORKER = "/door/sw.js"
MANIFEST = "/door/manifest.webmanifest"
# In the order the page loads them: the IndexedDB wrapper first, the page's own script last.
DOOR_SCRIPTS = [
    "attendees/vendor/idb/idb.js",
    "attendees/door/api.js",
    "attendees/door/render.js",
    "attendees/door/store.js",
    "attendees/door/roster.js",
    "attendees/door/queue.js",
    "attendees/door/scanner.js",
    "attendees/door/camera.js",
    "attendees/door.js",
]
OWN_SCRIPTS = [name for name in DOOR_SCRIPTS if "/vendor/" not in name] + ["attendees/door/service-worker.js"]


@pytest.fixture
def door_staff_client(client, door_staff):
    client.force_login(door_staff)
    return client


def test_door_page_sends_anonymous_users_to_the_door_login(client, db):
    response = client.get(DOOR)

    assert response.status_code == 302
    assert response["Location"] == "/door/login/?next=/door/"


def test_door_page_sends_anonymous_users_to_whatever_login_url_the_project_sets(client, db, settings):
    settings.LOGIN_URL = "/accounts/login/"

    assert client.get(DOOR)["Location"] == "/accounts/login/?next=/door/"


def test_door_login_page_has_labelled_fields_and_keeps_where_to_go_next(client, db):
    response = client.get(LOGIN, {"next": DOOR})

    assert response.status_code == 200
    html = response.content.decode()
    assert '<label for="id_username">Username</label>' in html
    assert '<label for="id_password">Password</label>' in html
    assert 'autocomplete="current-password"' in html
    assert '<input type="hidden" name="next" value="/door/">' in html
    assert 'href="/static/attendees/door.css"' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html


def test_door_staff_without_admin_access_sign_in_and_land_on_the_door(client, make_user):
    make_user("door_staff", is_staff=False)

    response = client.post(LOGIN, {"username": "door_staff", "password": "pw"})

    assert response.status_code == 302
    assert response["Location"] == DOOR
    assert client.get(DOOR).status_code == 200


def test_door_login_with_a_wrong_password_says_so_and_signs_nobody_in(client, make_user):
    make_user("door_staff")

    response = client.post(LOGIN, {"username": "door_staff", "password": "wrong"})

    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="form-errors" role="alert"' in html
    assert "Please enter a correct username and password." in html
    assert client.get(DOOR).status_code == 302


def test_door_login_with_empty_fields_shows_each_field_error_next_to_its_field(client, db):
    html = client.post(LOGIN, {"username": "", "password": ""}).content.decode()

    assert '<ul class="errorlist" id="id_username_error"><li>This field is required.</li></ul>' in html
    assert 'aria-describedby="id_username_error"' in html
    assert 'aria-invalid="true"' in html


def test_door_login_sends_someone_already_signed_in_on_to_the_door(door_staff_client):
    response = door_staff_client.get(LOGIN)

    assert response.status_code == 302
    assert response["Location"] == DOOR


def test_logging_out_of_the_door_goes_back_to_the_door_login(door_staff_client):
    response = door_staff_client.post(LOGOUT)

    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert door_staff_client.get(DOOR).status_code == 302


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
    for control in ("door-event", "door-station", "door-query"):
        assert f'<label for="{control}">' in html
        assert f'id="{control}"' in html
    assert 'id="door-message" class="result-text" role="status" aria-live="polite" aria-atomic="true"' in html
    assert 'id="door-summary" class="summary" aria-live="polite"' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    scripts = re.findall(r'<script src="/static/([^"]+)" defer></script>', html)
    assert scripts == DOOR_SCRIPTS
    assert 'href="/static/attendees/door.css"' in html


def test_door_page_has_one_input_focused_for_the_scanner_once_an_event_is_chosen(door_staff_client, event):
    html = door_staff_client.get(DOOR).content.decode()

    assert re.search(r'<input id="door-query"[^>]*\sautofocus>', html)
    assert 'enterkeyhint="go"' in html
    assert html.count("autofocus") == 1


def test_door_page_offers_the_three_modes_as_toggle_buttons_entrance_pressed_first(door_staff_client, event):
    html = door_staff_client.get(DOOR).content.decode()

    modes = re.findall(
        r'<button type="button" class="mode mode-(\w+)" data-mode="\w+" aria-pressed="(\w+)">([^<]+)<', html
    )
    assert modes == [("in", "true", "Entrance"), ("out", "false", "Exit"), ("auto", "false", "Auto")]
    assert 'role="group" aria-labelledby="door-mode-label"' in html


def test_door_page_offers_the_camera_and_loads_the_qr_decoder_only_when_it_is_started(door_staff_client, event):
    html = door_staff_client.get(DOOR).content.decode()

    assert "Scan with camera" in html
    assert 'data-jsqr-url="/static/attendees/vendor/jsqr/jsQR.js"' in html
    assert '<script src="/static/attendees/vendor/jsqr' not in html


def test_door_page_logs_out_with_a_post_to_the_door_logout(door_staff_client, event):
    html = door_staff_client.get(DOOR).content.decode()

    assert '<form id="door-logout" method="post" action="/door/logout/">' in html


def test_door_page_shows_no_ticket_code(door_staff_client, make_attendee, event):
    attendee = make_attendee()

    html = door_staff_client.get(DOOR).content.decode()

    assert attendee.ticket_code not in html


def test_door_page_tells_its_script_where_the_api_and_counts_are_and_passes_the_csrf_token(door_staff_client, event):
    html = door_staff_client.get(DOOR).content.decode()

    assert 'data-attendees-url="/api/attendees/"' in html
    assert 'data-scans-url="/api/scans/"' in html
    assert 'data-batch-url="/api/scans/batch/"' in html
    assert 'data-roster-url="/api/events/{id}/roster/"' in html
    assert 'data-service-worker-url="/door/sw.js"' in html
    assert 'data-door-url="/door/"' in html
    assert 'data-undo-url="/api/records/{id}/undo/"' in html
    assert 'data-counts-url="/door/counts/"' in html
    assert 'data-username="door_staff"' in html
    token = re.search(r'data-csrf-token="([^"]+)"', html)
    assert token is not None
    assert len(token.group(1)) >= 32


def test_door_page_lists_every_event_and_selects_the_requested_one(door_staff_client, event, other_event):
    response = door_staff_client.get(DOOR, {"event": other_event.pk})

    html = response.content.decode()
    assert f'<option value="{event.pk}" data-timezone="UTC">PyCon</option>' in html
    assert f'<option value="{other_event.pk}" data-timezone="UTC" selected>DjangoCon</option>' in html
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

    # Session, user, the user's and the groups' permissions (one query), the event with its
    # live counts.
    with django_assert_num_queries(4):
        response = door_staff_client.get(COUNTS, {"event": event.pk})

    assert response.status_code == 200
    assert response.json() == {
        "event": event.pk,
        "registered": 6,
        "inside": 2,
        "left": 1,
        "never_arrived": 3,
        "capacity": None,
        "place": {"area": None, "name": "PyCon", "inside": 2, "capacity": None},
    }


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
        "never_arrived": 0,
        "capacity": None,
        "place": {"area": None, "name": "PyCon", "inside": 0, "capacity": None},
    }


@pytest.fixture
def workshop(event) -> Area:
    return Area.objects.create(event=event, name="Workshop", capacity=3)


def test_door_counts_of_an_area_give_who_is_in_it_and_its_capacity_beside_the_events_counts(
    door_staff_client, make_attendee, event, workshop
):
    event.capacity = 50
    event.save()
    for _ in range(2):
        services.check_in(attendee=make_attendee(), by=None, area=workshop)
    make_attendee("inside")
    make_attendee("left")
    make_attendee()

    response = door_staff_client.get(COUNTS, {"event": event.pk, "area": workshop.pk})

    assert response.status_code == 200
    assert response.json() == {
        "event": event.pk,
        "registered": 5,
        "inside": 3,
        "left": 1,
        "never_arrived": 1,
        "capacity": 50,
        "place": {"area": workshop.pk, "name": "Workshop", "inside": 2, "capacity": 3},
    }


def test_door_counts_of_the_whole_event_give_the_events_own_capacity_and_number_inside(
    door_staff_client, make_attendee, event, workshop
):
    event.capacity = 4
    event.save()
    services.check_in(attendee=make_attendee(), by=None, area=workshop)
    make_attendee("inside")

    place = door_staff_client.get(COUNTS, {"event": event.pk}).json()["place"]

    assert place == {"area": None, "name": "PyCon", "inside": 2, "capacity": 4}


def test_door_counts_of_an_area_take_as_many_queries_for_a_crowd_as_for_one(
    door_staff_client, make_attendee, event, workshop, django_assert_num_queries
):
    services.check_in(attendee=make_attendee(), by=None, area=workshop)
    # Session, user, the permission query, the event with its live counts, the area.
    with django_assert_num_queries(5):
        door_staff_client.get(COUNTS, {"event": event.pk, "area": workshop.pk})
    workshop.capacity = 40
    workshop.save()
    for _ in range(30):
        services.check_in(attendee=make_attendee(), by=None, area=workshop)

    with django_assert_num_queries(5):
        response = door_staff_client.get(COUNTS, {"event": event.pk, "area": workshop.pk})

    assert response.json()["place"]["inside"] == 31


def test_door_counts_of_an_area_of_another_event_or_no_area_at_all_are_a_404(
    door_staff_client, event, other_event, workshop
):
    assert door_staff_client.get(COUNTS, {"event": other_event.pk, "area": workshop.pk}).status_code == 404
    assert door_staff_client.get(COUNTS, {"event": event.pk, "area": 999999}).status_code == 404


@pytest.mark.parametrize("area", ["abc", "-1", "1.5"])
def test_door_counts_with_an_area_that_is_not_an_id_are_a_400(door_staff_client, event, area):
    response = door_staff_client.get(COUNTS, {"event": event.pk, "area": area})

    assert response.status_code == 400
    assert response.json()["code"] == "area_invalid"


def test_door_page_offers_the_areas_of_every_event_for_the_script_to_pick_from(
    door_staff_client, event, other_event, workshop
):
    Area.objects.create(event=other_event, name="Hall", capacity=None)

    html = door_staff_client.get(DOOR).content.decode()

    areas = json.loads(re.search(r'<script id="door-areas" type="application/json">(.*?)</script>', html).group(1))
    assert sorted(areas, key=lambda area: area["name"]) == [
        {"id": workshop.pk + 1, "event": other_event.pk, "name": "Hall", "capacity": None},
        {"id": workshop.pk, "event": event.pk, "name": "Workshop", "capacity": 3},
    ]
    assert '<label for="door-area">Area</label>' in html
    assert '<option value="">Whole event</option>' in html


def test_door_page_tells_the_script_each_events_capacity(door_staff_client, event, other_event):
    event.capacity = 120
    event.save()

    html = door_staff_client.get(DOOR).content.decode()

    assert f'<option value="{event.pk}" data-timezone="UTC" data-capacity="120">PyCon</option>' in html
    assert f'<option value="{other_event.pk}" data-timezone="UTC">DjangoCon</option>' in html


def test_door_page_offers_admit_anyway_only_to_those_allowed_to_override_capacity(client, door_staff, event):
    client.force_login(door_staff)
    assert "Admit anyway" not in client.get(DOOR).content.decode()

    door_staff.user_permissions.add(
        Permission.objects.get(content_type__app_label="attendees", codename="override_capacity")
    )
    door_staff = type(door_staff).objects.get(pk=door_staff.pk)  # Permissions are cached on the instance.
    client.force_login(door_staff)

    html = client.get(DOOR).content.decode()
    assert '<button type="button" id="door-override" class="undo override" hidden>Admit anyway</button>' in html


def test_door_page_links_its_web_app_manifest(door_staff_client, event):
    html = door_staff_client.get(DOOR).content.decode()

    assert '<link rel="manifest" href="/door/manifest.webmanifest">' in html


def test_the_manifest_opens_the_door_page_as_an_app_of_its_own(client, db):
    response = client.get(MANIFEST)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = response.json()
    assert manifest["start_url"] == DOOR
    assert manifest["scope"] == DOOR
    assert manifest["display"] == "standalone"
    assert manifest["name"] == "Door: check attendees in and out"
    [icon] = manifest["icons"]
    assert icon["src"] == "/static/attendees/door-icon.svg"
    assert finders.find("attendees/door-icon.svg") is not None


def service_worker_config(response) -> dict:
    first_line = response.content.decode().partition("\n")[0]
    assert first_line.startswith("self.doorOffline = ")
    return json.loads(first_line.removeprefix("self.doorOffline = ").removesuffix(";"))


def test_the_service_worker_is_served_beside_the_door_page_so_that_its_scope_takes_in_the_page(client, db):
    response = client.get(SERVICE_WORKER)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/javascript; charset=utf-8"
    assert response["Cache-Control"] == "no-cache"
    assert SERVICE_WORKER.rpartition("/")[0] + "/" == DOOR
    source = Path(finders.find("attendees/door/service-worker.js")).read_text()
    assert response.content.decode().endswith(source)


def test_the_service_worker_keeps_the_page_its_scripts_stylesheet_and_vendored_libraries(client, db):
    config = service_worker_config(client.get(SERVICE_WORKER))

    assert config["page"] == DOOR
    assert config["manifest"] == MANIFEST
    assert config["assets"] == [
        # The script's translations come first: the scripts use them as they load.
        "/door/jsi18n/",
        "/static/attendees/door.css",
        *(f"/static/{script}" for script in DOOR_SCRIPTS),
        "/static/attendees/vendor/jsqr/jsQR.js",
        "/static/attendees/door-icon.svg",
    ]
    assert re.fullmatch(r"[0-9a-f]{16}", config["version"])


def test_the_service_worker_gets_a_new_version_when_an_asset_changes(client, db, monkeypatch):
    from attendees import views

    before = service_worker_config(client.get(SERVICE_WORKER))["version"]
    assert service_worker_config(client.get(SERVICE_WORKER))["version"] == before
    original = views._static_bytes
    monkeypatch.setattr(
        views, "_static_bytes", lambda name: original(name) + (b"\n" if name == "attendees/door.js" else b"")
    )

    assert service_worker_config(client.get(SERVICE_WORKER))["version"] != before


def test_the_door_login_page_is_not_kept_for_offline_use_by_the_worker(client, db):
    config = service_worker_config(client.get(SERVICE_WORKER))

    assert LOGIN not in config["assets"]
    assert all(url.startswith("/static/") or url == "/door/jsi18n/" for url in config["assets"])


@pytest.mark.parametrize("query", [{}, {"event": ""}, {"event": "abc"}, {"event": "-1"}])
def test_door_counts_without_a_valid_event_id_are_a_400(door_staff_client, query):
    response = door_staff_client.get(COUNTS, query)

    assert response.status_code == 400
    assert response.json()["code"] == "event_required"


def test_door_counts_of_an_unknown_event_are_a_404(door_staff_client, db):
    assert door_staff_client.get(COUNTS, {"event": 999999}).status_code == 404


def test_door_counts_send_anonymous_users_to_the_login(client, db):
    assert client.get(COUNTS, {"event": 1}).status_code == 302


@pytest.mark.parametrize("name", [*OWN_SCRIPTS, "attendees/door.css"])
def test_door_assets_are_served_from_the_app_and_load_nothing_from_elsewhere(name):
    path = finders.find(name)

    assert path is not None
    text = Path(path).read_text()
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", text)
    assert "@import" not in text


def test_door_scripts_never_log_to_the_console():
    for name in OWN_SCRIPTS:
        assert "console." not in Path(finders.find(name)).read_text(), name


def test_the_vendored_indexeddb_wrapper_comes_with_its_license_and_says_where_it_is_from():
    wrapper = Path(finders.find("attendees/vendor/idb/idb.js"))

    assert hashlib.sha256(wrapper.read_bytes()).hexdigest() in (wrapper.parent / "README.txt").read_text()
    assert "ISC License" in (wrapper.parent / "LICENSE").read_text()
    readme = (wrapper.parent / "README.txt").read_text()
    assert "idb 8.0.4" in readme
    assert "ISC License" in readme


def test_the_vendored_qr_decoder_comes_with_its_license_and_says_where_it_is_from():
    decoder = Path(finders.find("attendees/vendor/jsqr/jsQR.js"))

    assert decoder.read_text().startswith("(function webpackUniversalModuleDefinition(root, factory) {")
    assert "Apache License" in (decoder.parent / "LICENSE").read_text()
    readme = (decoder.parent / "README.txt").read_text()
    assert "jsqr 1.4.0" in readme
    assert "Apache License 2.0" in readme


def test_home_page_links_to_the_door_the_admin_the_api_and_its_docs_and_says_how_to_open_it_on_a_phone(client, db):
    response = client.get("/")

    assert response.status_code == 200
    html = response.content.decode()
    for url in ("/door/", "/admin/", "/api/", "/api/docs/"):
        assert f'href="{url}"' in html
    assert (
        "<code>DJANGO_ALLOWED_HOSTS=localhost,127.0.0.1,192.168.1.20 python manage.py runserver 0.0.0.0:8000</code>"
        in html
    )
