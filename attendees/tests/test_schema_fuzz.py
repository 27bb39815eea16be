"""Fuzz every operation of the OpenAPI document with schemathesis, in process through
the WSGI application, as a superuser and as door staff: no request may get a 5xx,
and every response must match the document (status code, content type, body, headers).

Examples per operation and role: `ATTENDEES_FUZZ_EXAMPLES` (default 10).
"""

import os

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from attendees.models import Attendee, Event

EXAMPLES = int(os.environ.get("ATTENDEES_FUZZ_EXAMPLES", "10"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


def _existing(model) -> st.SearchStrategy:
    """Primary keys of rows that exist now, so that requests reach past the 404s and
    400s of unknown ids."""
    return st.sampled_from(list(model.objects.order_by("pk").values_list("pk", flat=True)[:20]))


@schema.hook("flatmap_path_parameters")
def existing_ids(context, path_parameters):
    # The document types `id` as a string of digits.
    if not isinstance(path_parameters, dict) or "id" not in path_parameters:
        return st.just(path_parameters)
    model = Event if context.operation.path.startswith("/api/events/") else Attendee
    return st.one_of(st.just(path_parameters), _existing(model).map(lambda pk: {**path_parameters, "id": str(pk)}))


@schema.hook("flatmap_body")
def existing_references(context, body):
    if not isinstance(body, dict):
        return st.just(body)
    bodies = [st.just(body)]
    if "event" in body:
        bodies.append(_existing(Event).map(lambda pk: {**body, "event": pk}))
    if "ids" in body:
        others = {name: value for name, value in body.items() if name not in {"ids", "event"}}
        bodies.append(st.lists(_existing(Attendee), min_size=1, max_size=5).map(lambda pks: {**others, "ids": pks}))
    return st.one_of(bodies)


@pytest.fixture
def seeded(transactional_db, make_attendee, other_event):
    """Attendees in every state in two events. Real commits (`transactional_db`), as in
    production: each request runs in autocommit and may close its connection."""
    for state in ("never", "inside", "left", "inside", "left"):
        make_attendee(state)
    make_attendee("inside", event=other_event)


@pytest.fixture
def authorization(role, make_user) -> str:
    token = Token.objects.create(user=make_user(role))
    return f"Token {token.key}"


@pytest.mark.parametrize("role", ["superuser", "door_staff"])
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
def test_api_answers_every_request_without_5xx_and_as_documented(case, seeded, authorization):
    # The test transport does not undo a Content-Encoding the way HTTP clients do: ask for none.
    case.call_and_validate(headers={"Authorization": authorization, "Accept-Encoding": "identity"}, checks=CHECKS)
