"""Keep API clients on JSON when the database is away.

The API's views answer a database that cannot be reached with a JSON 503 themselves
(see `api.exceptions`). This middleware gives the same answer when the error comes
from elsewhere while serving an API request: a view with another exception handler
(the schema), rendering, or another middleware (sessions, authentication).

    MIDDLEWARE = ["attendees.middleware.DatabaseUnavailableMiddleware", ...]

Put it before every middleware that may use the database, so that it sees their errors,
and after `SecurityMiddleware`, so that its answers get the security headers too.
"""

import sys

from django.core.signals import got_request_exception
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from rest_framework.views import APIView

from .api.exceptions import DATABASE_UNAVAILABLE, database_unavailable_response

FAILED_ON_DATABASE = "_attendees_failed_on_database"


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # Django has already turned an error raised in a later middleware into its 500
        # page; `note_database_error` marked the request if that error was the database's.
        if getattr(request, FAILED_ON_DATABASE, False) and is_api_request(request):
            return database_unavailable_response()
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DATABASE_UNAVAILABLE) and is_api_request(request):
            return database_unavailable_response()
        return None


@receiver(got_request_exception, dispatch_uid="attendees.middleware.note_database_error")
def note_database_error(sender, request: HttpRequest | None = None, **kwargs) -> None:
    """Sent by Django while it handles an error no view or middleware answered."""
    if request is not None and isinstance(sys.exc_info()[1], DATABASE_UNAVAILABLE):
        setattr(request, FAILED_ON_DATABASE, True)


def is_api_request(request: HttpRequest) -> bool:
    """Whether the request is for a REST framework view, wherever the project mounts the API."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        try:
            match = resolve(request.path_info, getattr(request, "urlconf", None))
        except Resolver404:
            return False
    view_class = getattr(match.func, "cls", None)
    return isinstance(view_class, type) and issubclass(view_class, APIView)
