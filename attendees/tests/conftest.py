import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from attendees import services
from attendees.models import Attendee, Event
from attendees.prepared import executed

ROLE_PERMISSIONS = {
    "no_permission": [],
    "viewer": ["view_event", "view_attendee"],
    "door_staff": ["view_event", "view_attendee", "record_attendance"],
    "editor": ["view_event", "view_attendee", "add_attendee", "change_attendee", "delete_attendee"],
}

ON_POSTGRESQL = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://...")
    for item in items:
        if "postgresql" in item.keywords and not ON_POSTGRESQL:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def event(db) -> Event:
    return Event.objects.create(name="PyCon")


@pytest.fixture
def other_event(db) -> Event:
    return Event.objects.create(name="DjangoCon")


@pytest.fixture
def make_attendee(event):
    """make_attendee(state="never"|"inside"|"left", event=..., **fields) -> Attendee"""
    counter = iter(range(1, 1_000_000))

    def make(state: str = "never", event: Event = event, **fields) -> Attendee:
        n = next(counter)
        fields = {"first_name": f"First{n}", "last_name": f"Last{n}", "email": f"person{n}@example.org", **fields}
        attendee = Attendee.objects.create(event=event, **fields)
        if state in {"inside", "left"}:
            services.check_in(attendee=attendee, by=None)
        if state == "left":
            services.check_out(attendee=attendee, by=None)
        return attendee

    return make


@pytest.fixture
def attendee(make_attendee) -> Attendee:
    return make_attendee(first_name="Ada", last_name="Lovelace", email="ada@example.org")


@pytest.fixture
def make_user(db):
    """make_user("door_staff") -> a user with that role's permissions (see ROLE_PERMISSIONS)."""

    def make(role: str = "no_permission", username: str | None = None, **fields):
        User = get_user_model()
        if role == "superuser":
            return User.objects.create_superuser(username=username or "root", password="pw", **fields)
        user = User.objects.create_user(username=username or role, password="pw", **fields)
        codenames = ROLE_PERMISSIONS[role]
        user.user_permissions.add(
            *Permission.objects.filter(content_type__app_label="attendees", codename__in=codenames)
        )
        return user

    return make


@pytest.fixture
def api_client_for():
    """api_client_for(user) -> an APIClient sending that user's token (None: anonymous)."""

    def client_for(user) -> APIClient:
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return client_for


@pytest.fixture
def door_staff(make_user):
    return make_user("door_staff")


@pytest.fixture
def superuser(make_user):
    return make_user("superuser")


@pytest.fixture
def door_client(api_client_for, door_staff) -> APIClient:
    return api_client_for(door_staff)


@pytest.fixture
def admin_client_api(api_client_for, superuser) -> APIClient:
    return api_client_for(superuser)


@pytest.fixture
def admin_client_as(client, make_user):
    """admin_client_as("editor") -> the test client signed in with a session as a user
    of that role, with `is_staff` (for the admin)."""

    def signed_in(role: str):
        client.force_login(make_user(role, is_staff=True))
        return client

    return signed_in


@pytest.fixture
def admin_superuser_client(admin_client_as):
    return admin_client_as("superuser")


@pytest.fixture
def admin_door_client(admin_client_as):
    return admin_client_as("door_staff")


def statement_kinds(captured) -> list[str]:
    """The first keyword of each statement captured: SELECT, INSERT, UPDATE, SAVEPOINT...
    (a UNION of SELECTs, in parentheses on PostgreSQL, is a SELECT; a prepared statement
    is what it runs)."""
    return [executed(query["sql"]).lstrip("(").split()[0] for query in captured.captured_queries]
