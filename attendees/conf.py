"""The app's settings: one `ATTENDEES` dict in the project's settings, with the defaults here.

    ATTENDEES = {
        "UNDO_SECONDS": 300,
        "DOOR_LOGIN_URL": "accounts:login",
    }

Code reads them through `app_settings`::

    from attendees.conf import app_settings

    if now - record.recorded_at > timedelta(seconds=app_settings.UNDO_SECONDS): ...

Every attribute is looked up in `settings.ATTENDEES` when it is read, so
`override_settings(ATTENDEES={...})` takes effect at once. A key missing from the dict
keeps its default. Unknown keys and values of the wrong kind are reported by the system
checks `attendees.E006` and `attendees.E007` (see `attendees.checks`).
"""

import dataclasses
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _seconds(value: Any) -> bool:
    return _is_number(value) and value >= 0


def _positive_number(value: Any) -> bool:
    return _is_number(value) and value > 0


def _positive_whole_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _true_or_false(value: Any) -> bool:
    return isinstance(value, bool)


def _url_or_none(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value != "")


@dataclasses.dataclass(frozen=True)
class Setting:
    default: Any
    # What a valid value is, in words, for the system check's message.
    expected: str
    is_valid: Callable[[Any], bool]


SETTINGS: dict[str, Setting] = {
    # Within this time of an attendee's latest record an `auto` scan goes that record's way,
    # so a ticket read twice (two scanners, a double tap) is never taken straight back out.
    "SCAN_SETTLE_SECONDS": Setting(2, "a number of seconds, 0 or more", _seconds),
    # How long the user who recorded a check-in or check-out may undo it at the door;
    # after that only a correction (`correct_attendance`) changes it.
    "UNDO_SECONDS": Setting(120, "a number of seconds, 0 or more", _seconds),
    # An offline scan older than this when it reaches the server is refused `too_old`
    # and kept for review instead of recorded.
    "OFFLINE_SCAN_MAX_AGE_DAYS": Setting(7, "a number of days greater than 0", _positive_number),
    # Attendees per piece of the streamed roster a door device downloads: memory per
    # request against the number of pieces.
    "ROSTER_CHUNK_SIZE": Setting(1000, "a whole number greater than 0", _positive_whole_number),
    # Where the door page sends anonymous visitors: a URL or a URL name, as for
    # `LOGIN_URL`. None: the project's `settings.LOGIN_URL`.
    "DOOR_LOGIN_URL": Setting(None, "None, a URL or a URL name", _url_or_none),
    # The `Retry-After` the API sends with its 503 while the database cannot be reached.
    "RETRY_AFTER_SECONDS": Setting(5, "a whole number of seconds greater than 0", _positive_whole_number),
    # On PostgreSQL, a door's few statements (see `attendees.prepared`) are prepared on the
    # server once per connection, so that it plans them once. False behind a connection
    # pooler that shares server connections between transactions (PgBouncer's
    # transaction mode), where a connection may not hold what was prepared on it.
    "PREPARE_ON_SERVER": Setting(True, "True or False", _true_or_false),
}

DEFAULTS: dict[str, Any] = {name: setting.default for name, setting in SETTINGS.items()}


def project_settings() -> dict[str, Any]:
    """The project's `ATTENDEES` dict as it is now (empty when it has none)."""
    configured = getattr(settings, "ATTENDEES", {})
    if not isinstance(configured, dict):
        raise ImproperlyConfigured(f"ATTENDEES must be a dict, not {type(configured).__name__}.")
    return configured


class AppSettings:
    """The `ATTENDEES` settings, each read from the project's settings when it is accessed."""

    def __getattr__(self, name: str) -> Any:
        if name not in SETTINGS:
            raise AttributeError(f"{name!r} is not an ATTENDEES setting; they are {', '.join(SETTINGS)}.")
        value = project_settings().get(name, DEFAULTS[name])
        if name == "DOOR_LOGIN_URL" and value is None:
            return settings.LOGIN_URL
        return value

    def __dir__(self) -> list[str]:
        return [*super().__dir__(), *SETTINGS]


app_settings = AppSettings()
