"""Safe retries: a request sent again with the same `Idempotency-Key` by the same user
gets the first response again (status and body) and records nothing new. This belongs to
HTTP, so it lives here, beside the views, and the services never see it."""

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from ..exceptions import AttendanceError, IdempotencyKeyReused
from ..models import IdempotentRequest
from .exceptions import IdempotencyKeyMismatch, conflict_body

IDEMPOTENCY_KEY = "Idempotency-Key"
IDEMPOTENCY_KEY_PATTERN = re.compile(r"[\x20-\x7e]{1,255}")


def respond_once(request, perform: Callable[[], Response]) -> Response:
    """Run `perform`, or, when the request has an Idempotency-Key this user sent before,
    replay the first response (status and body) without running anything."""
    key = request.headers.get(IDEMPOTENCY_KEY)
    if key is None:
        return perform()
    if not IDEMPOTENCY_KEY_PATTERN.fullmatch(key):
        raise ValidationError({IDEMPOTENCY_KEY: [gettext("Use 1 to 255 printable ASCII characters.")]})
    request_text = json.dumps([request.method, request.path, request.data], sort_keys=True, default=str)

    def operation() -> tuple[int, object]:
        try:
            response = perform()
        except AttendanceError as error:
            return status.HTTP_409_CONFLICT, conflict_body(error)
        return response.status_code, response.data

    try:
        status_code, body = run_once(
            user=request.user,
            key=key,
            fingerprint=hashlib.sha256(request_text.encode()).hexdigest(),
            operation=operation,
        )
    except IdempotencyKeyReused:
        raise IdempotencyKeyMismatch() from None
    return Response(body, status=status_code)


def run_once(
    *, user: AbstractBaseUser, key: str, fingerprint: str, operation: Callable[[], tuple[int, Any]]
) -> tuple[int, Any]:
    """Run `operation` once per (user, key) and return its (status, body); a retry gets
    the first response again without running anything.

    The key's row is inserted before the operation runs, in the same transaction, so
    concurrent retries wait on it and then replay. Refused with `IdempotencyKeyReused`
    when the key comes back with a different request `fingerprint`.
    """
    with transaction.atomic():
        entry, created = IdempotentRequest.objects.get_or_create(
            user=user, key=key, defaults={"fingerprint": fingerprint}
        )
        if not created:
            if entry.fingerprint != fingerprint:
                raise IdempotencyKeyReused()
            return entry.status_code, json.loads(entry.body)
        status_code, body = operation()
        entry.status_code, entry.body = status_code, json.dumps(body)
        entry.save(update_fields=["status_code", "body"])
    return status_code, body
