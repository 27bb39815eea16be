"""The one place where domain errors become HTTP responses."""

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import InterfaceError, OperationalError, connections
from django.http import JsonResponse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError, PermissionDenied
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from ..conf import app_settings
from ..exceptions import AttendanceError, NotYourRecord

# What the database driver raises when the server cannot be reached or drops the
# connection (psycopg's errors arrive wrapped as these).
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("The request conflicts with the attendee's state.")
    default_code = "conflict"


class IdempotencyKeyMismatch(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = _("This Idempotency-Key was already used for a different request.")
    default_code = "idempotency_key_reused"


class ServiceUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = _("The database cannot be reached just now. Try again in a few seconds.")
    default_code = "service_unavailable"


def conflict_body(error: AttendanceError) -> dict[str, str]:
    return {"detail": error.detail, "code": error.code}


def exception_handler(exc, context):
    """DRF's handler, plus domain errors as 409s (coded errors get `{"detail", "code"}`),
    Django's request size limits as 400s, and a database that cannot be reached as a
    JSON 503 with `Retry-After`."""
    coded = isinstance(exc, AttendanceError)
    if isinstance(exc, NotYourRecord):
        exc = PermissionDenied(detail=exc.detail, code=exc.code)
    elif isinstance(exc, AttendanceError):
        exc = Conflict(detail=exc.detail, code=exc.code)
    elif isinstance(exc, TooManyFieldsSent | TooManyFilesSent | RequestDataTooBig):
        # Django's limits on form bodies; a JSON answer, like every other bad input.
        exc = ParseError(gettext("%(error)s Send large requests as JSON.") % {"error": exc})
    elif isinstance(exc, DATABASE_UNAVAILABLE):
        set_rollback()
        return database_unavailable_response()
    response = drf_exception_handler(exc, context)
    if response is not None and (coded or isinstance(exc, IdempotencyKeyMismatch)):
        response.data = {"detail": str(exc.detail), "code": exc.detail.code}
    return response


def database_unavailable_response() -> JsonResponse:
    """The 503 for a database that cannot be reached or dropped the connection.

    Plain JSON whatever was negotiated: the browsable API or the CSV renderer could need
    the database again, or answer with a page. The client may retry the same request
    after `Retry-After` seconds; with its Idempotency-Key it is recorded at most once.
    """
    expect_broken_connections()
    error = ServiceUnavailable()
    response = JsonResponse({"detail": str(error.detail), "code": error.detail.code}, status=error.status_code)
    response["Retry-After"] = str(app_settings.RETRY_AFTER_SECONDS)
    return response


def expect_broken_connections() -> None:
    """Have Django test every open database connection when the request ends and drop the
    ones that are broken, so that the next request on this process connects afresh.

    Django does so for connections whose errors went through its error wrapper; this
    covers the others too. A transaction that failed was already rolled back or, if
    that failed, its connection closed by `transaction.atomic`.
    """
    for connection in connections.all(initialized_only=True):
        connection.errors_occurred = True
