import pytest
from django.core.checks import Error, run_checks
from django.test import modify_settings, override_settings

from attendees import checks

TOKEN = "rest_framework.authentication.TokenAuthentication"
SESSION = "rest_framework.authentication.SessionAuthentication"
BASIC = "rest_framework.authentication.BasicAuthentication"
SCHEMA = "drf_spectacular.openapi.AutoSchema"


def ids(messages) -> list[str]:
    return [message.id for message in messages]


def attendees_messages():
    return [message for message in run_checks() if message.id.startswith("attendees.")]


def rest_framework(**overrides) -> dict:
    return {"DEFAULT_AUTHENTICATION_CLASSES": [TOKEN, SESSION], "DEFAULT_SCHEMA_CLASS": SCHEMA, **overrides}


def test_no_attendees_check_fires_on_the_demo_projects_settings():
    assert attendees_messages() == []


def test_every_check_passes_on_the_demo_projects_settings():
    for check in checks.ALL_CHECKS:
        assert check(app_configs=None) == []


def test_the_checks_are_registered_when_the_app_is_ready():
    with override_settings(USE_TZ=False):
        assert "attendees.E004" in ids(run_checks())


@pytest.mark.parametrize(
    ("app", "check_id"),
    [("rest_framework", "attendees.E001"), ("django_filters", "attendees.E002"), ("drf_spectacular", "attendees.E003")],
)
def test_a_required_app_missing_from_installed_apps_is_an_error(app, check_id):
    with modify_settings(INSTALLED_APPS={"remove": [app]}):
        messages = checks.check_required_apps()

    assert ids(messages) == [check_id]
    (error,) = messages
    assert isinstance(error, Error)
    assert f"'{app}'" in error.msg
    assert error.hint == f"Add '{app}' to INSTALLED_APPS."


def test_import_export_missing_from_installed_apps_is_an_error_as_the_admin_imports_attendees_with_it():
    with modify_settings(INSTALLED_APPS={"remove": ["import_export"]}):
        messages = checks.check_required_apps()

    assert ids(messages) == ["attendees.E009"]
    (error,) = messages
    assert "'import_export'" in error.msg
    assert "django-import-export" in error.msg
    assert error.hint == "Add 'import_export' to INSTALLED_APPS."


@override_settings(USE_TZ=False)
def test_time_zone_support_turned_off_is_an_error():
    messages = checks.check_time_zone_support()

    assert ids(messages) == ["attendees.E004"]
    assert messages[0].hint == "Set USE_TZ = True."


def test_token_authentication_without_the_authtoken_app_is_an_error():
    with modify_settings(INSTALLED_APPS={"remove": ["rest_framework.authtoken"]}):
        messages = checks.check_authentication()

    assert ids(messages) == ["attendees.E005"]
    assert "rest_framework.authtoken" in messages[0].msg
    assert "rest_framework.authtoken" in messages[0].hint


def test_session_authentication_without_token_authentication_needs_no_authtoken_app():
    with (
        override_settings(REST_FRAMEWORK=rest_framework(DEFAULT_AUTHENTICATION_CLASSES=[SESSION])),
        modify_settings(INSTALLED_APPS={"remove": ["rest_framework.authtoken"]}),
    ):
        assert checks.check_authentication() == []


@pytest.mark.parametrize("classes", [[TOKEN], [TOKEN, BASIC], []])
def test_authentication_without_sessions_is_an_error_as_the_door_page_needs_them(classes):
    with override_settings(REST_FRAMEWORK=rest_framework(DEFAULT_AUTHENTICATION_CLASSES=classes)):
        messages = checks.check_authentication()

    assert ids(messages) == ["attendees.E005"]
    assert "SessionAuthentication" in messages[0].msg
    assert SESSION in messages[0].hint


def test_rest_frameworks_default_authentication_has_no_token_and_passes():
    # REST framework's own default is session and basic authentication.
    with override_settings(REST_FRAMEWORK={"DEFAULT_SCHEMA_CLASS": SCHEMA}):
        assert checks.check_authentication() == []


@pytest.mark.parametrize("value", [None, [("UNDO_SECONDS", 300)], "UNDO_SECONDS=300"])
def test_attendees_settings_that_are_not_a_dict_are_an_error(value):
    with override_settings(ATTENDEES=value):
        messages = checks.check_app_settings()

    assert ids(messages) == ["attendees.E006"]
    assert f"not {type(value).__name__}" in messages[0].msg


@override_settings(ATTENDEES={"UNDO_SECOND": 300, "COLOUR": "red", "SCAN_SETTLE_SECONDS": 3})
def test_unknown_attendees_settings_are_an_error_naming_them():
    messages = checks.check_app_settings()

    assert ids(messages) == ["attendees.E006"]
    (error,) = messages
    assert "'UNDO_SECOND'" in error.msg
    assert "'COLOUR'" in error.msg
    assert "SCAN_SETTLE_SECONDS" not in error.msg
    assert "'UNDO_SECOND' may be 'UNDO_SECONDS'" in error.hint


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SCAN_SETTLE_SECONDS", -1),
        ("SCAN_SETTLE_SECONDS", "2"),
        ("UNDO_SECONDS", True),
        ("OFFLINE_SCAN_MAX_AGE_DAYS", 0),
        ("ROSTER_CHUNK_SIZE", 0),
        ("ROSTER_CHUNK_SIZE", 100.5),
        ("DOOR_LOGIN_URL", ""),
        ("DOOR_LOGIN_URL", 42),
        ("RETRY_AFTER_SECONDS", 0),
        ("PREPARE_ON_SERVER", 0),
        ("PREPARE_ON_SERVER", "no"),
    ],
)
def test_an_attendees_setting_of_the_wrong_kind_is_an_error(name, value):
    with override_settings(ATTENDEES={name: value}):
        messages = checks.check_app_settings()

    assert ids(messages) == ["attendees.E007"]
    assert name in messages[0].msg
    assert repr(value) in messages[0].msg
    assert "default" in messages[0].hint


@override_settings(
    ATTENDEES={
        "SCAN_SETTLE_SECONDS": 0,
        "UNDO_SECONDS": 300.0,
        "OFFLINE_SCAN_MAX_AGE_DAYS": 1.5,
        "ROSTER_CHUNK_SIZE": 5000,
        "DOOR_LOGIN_URL": "door-staff:login",
        "RETRY_AFTER_SECONDS": 30,
        "PREPARE_ON_SERVER": False,
    }
)
def test_attendees_settings_of_the_right_kind_pass():
    assert checks.check_app_settings() == []


@pytest.mark.parametrize("schema_class", ["rest_framework.schemas.openapi.AutoSchema", None])
def test_a_schema_class_other_than_drf_spectaculars_is_an_error(schema_class):
    with override_settings(REST_FRAMEWORK=rest_framework(DEFAULT_SCHEMA_CLASS=schema_class)):
        messages = checks.check_schema_class()

    assert ids(messages) == ["attendees.E008"]
    assert SCHEMA in messages[0].hint


def test_every_error_has_a_hint_and_an_id_of_the_app():
    with (
        override_settings(
            USE_TZ=False,
            ATTENDEES={"UNDO_SECOND": 1, "UNDO_SECONDS": -1},
            REST_FRAMEWORK={"DEFAULT_AUTHENTICATION_CLASSES": [TOKEN]},
        ),
        modify_settings(INSTALLED_APPS={"remove": ["rest_framework.authtoken", "django_filters"]}),
    ):
        messages = attendees_messages()

    assert sorted(ids(messages)) == [
        "attendees.E002",
        "attendees.E004",
        "attendees.E005",
        "attendees.E005",
        "attendees.E006",
        "attendees.E007",
        "attendees.E008",
    ]
    assert all(message.hint for message in messages)
