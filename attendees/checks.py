"""System checks: what the app needs from the project's settings, said before the first request.

Registered in `AttendeesConfig.ready()`; `python manage.py check` runs them. Ids are stable:

- attendees.E001 `rest_framework` is not in INSTALLED_APPS.
- attendees.E002 `django_filters` is not in INSTALLED_APPS.
- attendees.E003 `drf_spectacular` is not in INSTALLED_APPS.
- attendees.E004 USE_TZ is False.
- attendees.E005 The API's authentication does not fit the app: TokenAuthentication without
  `rest_framework.authtoken`, or no SessionAuthentication (the door page calls the API
  with the door staff's session).
- attendees.E006 ATTENDEES is not a dict, or has keys the app does not know.
- attendees.E007 An ATTENDEES value is not of the kind its setting needs.
- attendees.E008 REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] is not drf-spectacular's AutoSchema.
- attendees.E009 `import_export` is not in INSTALLED_APPS.
"""

from collections.abc import Iterable
from difflib import get_close_matches
from typing import Any

from django.apps import AppConfig, apps
from django.conf import settings
from django.core.checks import CheckMessage, Error

from .conf import SETTINGS

REQUIRED_APPS = {
    "rest_framework": ("attendees.E001", "the app's API is built on Django REST framework"),
    "django_filters": ("attendees.E002", "the API's filters use django-filter"),
    "drf_spectacular": ("attendees.E003", "the API's OpenAPI document is made by drf-spectacular"),
    "import_export": ("attendees.E009", "the admin imports attendees from CSV with django-import-export"),
}


def check_required_apps(app_configs: Iterable[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    return [
        Error(
            f"'{app}' must be in INSTALLED_APPS: {why}.",
            hint=f"Add '{app}' to INSTALLED_APPS.",
            obj="attendees",
            id=check_id,
        )
        for app, (check_id, why) in REQUIRED_APPS.items()
        if not apps.is_installed(app)
    ]


def check_time_zone_support(app_configs: Iterable[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.USE_TZ:
        return []
    return [
        Error(
            "USE_TZ must be True: check-in and check-out times are kept as aware datetimes in UTC.",
            hint="Set USE_TZ = True.",
            obj="attendees",
            id="attendees.E004",
        )
    ]


def check_authentication(app_configs: Iterable[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    from rest_framework.authentication import SessionAuthentication, TokenAuthentication
    from rest_framework.settings import api_settings

    try:
        classes = api_settings.DEFAULT_AUTHENTICATION_CLASSES
    except ImportError:
        # REST framework says which class it could not import on the first request.
        return []
    errors = []
    if any(issubclass(cls, TokenAuthentication) for cls in classes) and not apps.is_installed(
        "rest_framework.authtoken"
    ):
        errors.append(
            Error(
                "REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES'] has TokenAuthentication, "
                "but 'rest_framework.authtoken' is not in INSTALLED_APPS, so no token can be stored.",
                hint="Add 'rest_framework.authtoken' to INSTALLED_APPS and run migrate.",
                obj="attendees",
                id="attendees.E005",
            )
        )
    if not any(issubclass(cls, SessionAuthentication) for cls in classes):
        errors.append(
            Error(
                "REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES'] has no SessionAuthentication: "
                "the door page calls the API with the signed-in door staff's session.",
                hint=(
                    "List 'rest_framework.authentication.TokenAuthentication' first (so that anonymous "
                    "requests get 401) and 'rest_framework.authentication.SessionAuthentication' after it."
                ),
                obj="attendees",
                id="attendees.E005",
            )
        )
    return errors


def check_app_settings(app_configs: Iterable[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    configured = getattr(settings, "ATTENDEES", {})
    if not isinstance(configured, dict):
        return [
            Error(
                f"ATTENDEES must be a dict, not {type(configured).__name__}.",
                hint="Set ATTENDEES = {...} with the settings to change, or leave it out for the defaults.",
                obj="attendees",
                id="attendees.E006",
            )
        ]
    errors = []
    unknown = [name for name in configured if name not in SETTINGS]
    if unknown:
        suggestions = [
            f"{name!r} may be {match[0]!r}"
            for name in unknown
            if (match := get_close_matches(str(name), SETTINGS, n=1))
        ]
        errors.append(
            Error(
                f"ATTENDEES has unknown keys: {', '.join(map(repr, unknown))}.",
                hint="; ".join([*suggestions, f"The settings are {', '.join(SETTINGS)}."]),
                obj="attendees",
                id="attendees.E006",
            )
        )
    errors.extend(
        Error(
            f"ATTENDEES[{name!r}] must be {SETTINGS[name].expected}, not {value!r}.",
            hint=f"Its default is {SETTINGS[name].default!r}.",
            obj="attendees",
            id="attendees.E007",
        )
        for name, value in configured.items()
        if name in SETTINGS and not SETTINGS[name].is_valid(value)
    )
    return errors


def check_schema_class(app_configs: Iterable[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    from drf_spectacular.openapi import AutoSchema
    from rest_framework.settings import api_settings

    try:
        schema_class = api_settings.DEFAULT_SCHEMA_CLASS
    except ImportError:
        return []
    if isinstance(schema_class, type) and issubclass(schema_class, AutoSchema):
        return []
    return [
        Error(
            "REST_FRAMEWORK['DEFAULT_SCHEMA_CLASS'] must be drf-spectacular's AutoSchema: "
            "the API describes its requests and answers for it.",
            hint="Set REST_FRAMEWORK['DEFAULT_SCHEMA_CLASS'] = 'drf_spectacular.openapi.AutoSchema'.",
            obj="attendees",
            id="attendees.E008",
        )
    ]


ALL_CHECKS = [
    check_required_apps,
    check_time_zone_support,
    check_authentication,
    check_app_settings,
    check_schema_class,
]
