"""The one place where domain errors become HTTP responses."""

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError, PermissionDenied
from rest_framework.views import exception_handler as drf_exception_handler

from ..exceptions import AttendanceError, NotYourRecord


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the attendee's state."
    default_code = "conflict"


class IdempotencyKeyMismatch(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was already used for a different request."
    default_code = "idempotency_key_reused"


def conflict_body(error: AttendanceError) -> dict[str, str]:
    return {"detail": error.detail, "code": error.code}


def exception_handler(exc, context):
    """DRF's handler, plus domain errors as 409s (coded errors get `{"detail", "code"}`)
    and Django's request size limits as 400s."""
    coded = isinstance(exc, AttendanceError)
    if isinstance(exc, NotYourRecord):
        exc = PermissionDenied(detail=exc.detail, code=exc.code)
    elif isinstance(exc, AttendanceError):
        exc = Conflict(detail=exc.detail, code=exc.code)
    elif isinstance(exc, TooManyFieldsSent | TooManyFilesSent | RequestDataTooBig):
        # Django's limits on form bodies; a JSON answer, like every other bad input.
        exc = ParseError(f"{exc} Send large requests as JSON.")
    response = drf_exception_handler(exc, context)
    if response is not None and (coded or isinstance(exc, IdempotencyKeyMismatch)):
        response.data = {"detail": str(exc.detail), "code": exc.detail.code}
    return response
