import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from attendees.conf import DEFAULTS, SETTINGS, app_settings


def test_without_attendees_settings_every_setting_has_its_documented_default(settings):
    del settings.ATTENDEES

    assert DEFAULTS == {
        "SCAN_SETTLE_SECONDS": 2,
        "UNDO_SECONDS": 120,
        "OFFLINE_SCAN_MAX_AGE_DAYS": 7,
        "ROSTER_CHUNK_SIZE": 1000,
        "DOOR_LOGIN_URL": None,
        "RETRY_AFTER_SECONDS": 5,
        "PREPARE_ON_SERVER": True,
    }
    for name in DEFAULTS.keys() - {"DOOR_LOGIN_URL"}:
        assert getattr(app_settings, name) == DEFAULTS[name]


def test_every_default_is_valid_for_its_own_setting():
    for setting in SETTINGS.values():
        assert setting.is_valid(setting.default)


def test_a_setting_is_read_from_the_attendees_dict_when_it_is_accessed():
    with override_settings(ATTENDEES={"UNDO_SECONDS": 300}):
        assert app_settings.UNDO_SECONDS == 300

    assert app_settings.UNDO_SECONDS == 120


@override_settings(ATTENDEES={"UNDO_SECONDS": 300})
def test_settings_left_out_of_the_attendees_dict_keep_their_defaults():
    assert app_settings.SCAN_SETTLE_SECONDS == 2
    assert app_settings.ROSTER_CHUNK_SIZE == 1000


@override_settings(ATTENDEES={}, LOGIN_URL="/accounts/login/")
def test_door_login_url_defaults_to_the_projects_login_url():
    assert app_settings.DOOR_LOGIN_URL == "/accounts/login/"


@override_settings(ATTENDEES={"DOOR_LOGIN_URL": "/door-staff/sign-in/"}, LOGIN_URL="/accounts/login/")
def test_door_login_url_may_differ_from_the_projects_login_url():
    assert app_settings.DOOR_LOGIN_URL == "/door-staff/sign-in/"


def test_a_name_that_is_not_a_setting_is_an_attribute_error():
    with pytest.raises(AttributeError, match="UNDO_SECONDS"):
        app_settings.UNDO_MINUTES  # noqa: B018


@override_settings(ATTENDEES=[("UNDO_SECONDS", 300)])
def test_attendees_settings_that_are_not_a_dict_are_improperly_configured():
    with pytest.raises(ImproperlyConfigured, match="ATTENDEES must be a dict, not list"):
        app_settings.UNDO_SECONDS  # noqa: B018
