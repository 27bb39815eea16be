"""Idempotency keys, kept by the API layer: a retry replays the first response."""

from unittest import mock

import pytest

from attendees import services
from attendees.api.idempotency import run_once
from attendees.exceptions import IdempotencyKeyReused
from attendees.models import IdempotentRequest, Visit

pytestmark = pytest.mark.django_db


def test_run_once_runs_the_operation_once_and_replays_its_response(door_staff):
    operation = mock.Mock(return_value=(201, {"id": 7}))

    first = run_once(user=door_staff, key="k-1", fingerprint="f", operation=operation)
    again = run_once(user=door_staff, key="k-1", fingerprint="f", operation=operation)

    assert first == again == (201, {"id": 7})
    assert operation.call_count == 1


def test_run_once_replay_records_nothing_new(attendee, door_staff):
    def check_in():
        services.check_in(attendee=attendee, by=door_staff)
        return 201, {"visits": Visit.objects.filter(attendee=attendee).count()}

    first = run_once(user=door_staff, key="k-1", fingerprint="f", operation=check_in)
    again = run_once(user=door_staff, key="k-1", fingerprint="f", operation=check_in)

    assert first == again == (201, {"visits": 1})
    assert Visit.objects.filter(attendee=attendee).count() == 1


def test_run_once_with_the_same_key_and_a_different_fingerprint_is_refused(door_staff):
    run_once(user=door_staff, key="k-1", fingerprint="f", operation=lambda: (201, {"id": 7}))
    operation = mock.Mock(return_value=(201, {"id": 8}))

    with pytest.raises(IdempotencyKeyReused):
        run_once(user=door_staff, key="k-1", fingerprint="other", operation=operation)

    operation.assert_not_called()
    assert list(IdempotentRequest.objects.values_list("fingerprint", "body")) == [("f", '{"id": 7}')]


def test_run_once_keys_belong_to_one_user(door_staff, superuser):
    run_once(user=door_staff, key="k-1", fingerprint="f", operation=lambda: (201, {"by": "door"}))

    response = run_once(user=superuser, key="k-1", fingerprint="f", operation=lambda: (201, {"by": "root"}))

    assert response == (201, {"by": "root"})


def test_run_once_forgets_the_key_when_the_operation_fails(attendee, door_staff):
    def failing():
        services.check_in(attendee=attendee, by=door_staff)
        raise RuntimeError("the door app crashed")

    with pytest.raises(RuntimeError):
        run_once(user=door_staff, key="k-1", fingerprint="f", operation=failing)

    assert not IdempotentRequest.objects.exists()
    assert not Visit.objects.exists()
    assert run_once(user=door_staff, key="k-1", fingerprint="f", operation=lambda: (201, {})) == (201, {})
