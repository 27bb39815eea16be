"""Attendees imported from CSV in the admin: a preview first, errors per row, and nothing
saved when any row is wrong."""

import re

import pytest
from django.contrib.messages import constants
from django.core.files.uploadedfile import SimpleUploadedFile

from attendees.models import Attendee, Event

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/attendees/attendee/"
IMPORT = f"{CHANGELIST}import/"
PROCESS_IMPORT = f"{CHANGELIST}process_import/"
HEADER = "first_name,last_name,email,ticket_code,event"
GENERATED_CODE = re.compile(r"[A-Za-z0-9_-]{16,32}")


def upload(client, content: str | bytes, name: str = "attendees.csv"):
    """The first step: the file is checked (a dry run) and previewed."""
    data = content.encode() if isinstance(content, str) else content
    return client.post(
        IMPORT, {"resource": "0", "format": "0", "import_file": SimpleUploadedFile(name, data, "text/csv")}
    )


def confirm(client, preview):
    """The second step: the import confirmed from the preview."""
    return client.post(PROCESS_IMPORT, preview.context["confirm_form"].initial, follow=True)


def csv(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def messages_at(response, level: int) -> list[str]:
    return [str(message) for message in response.context["messages"] if message.level == level]


def invalid_rows(response) -> dict[int, dict[str, list[str]]]:
    """Row number -> field -> errors, as the preview reports them."""
    return {row.number: row.error_dict for row in response.context["result"].invalid_rows}


@pytest.fixture
def organizer_client(client, make_user):
    client.force_login(make_user("editor", is_staff=True))
    return client


def ten_rows(event: Event) -> list[str]:
    rows = []
    for n in range(10):
        code = f"TICKET-{n:04}" if n % 2 else ""
        where = event.pk if n < 5 else event.name
        rows.append(f"First{n},Last{n},person{n}@example.org,{code},{where}")
    return rows


def test_a_good_file_of_ten_rows_is_previewed_then_imports_ten_attendees_with_codes(organizer_client, event):
    preview = upload(organizer_client, csv(*ten_rows(event)))

    assert preview.status_code == 200
    assert Attendee.objects.count() == 0
    assert preview.context["confirm_form"] is not None
    result = preview.context["result"]
    assert not result.has_errors()
    assert not result.has_validation_errors()
    assert result.totals["new"] == 10
    html = preview.content.decode()
    assert "person9@example.org" in html
    assert "TICKET-0001" in html
    assert "(made up on import)" in html

    done = confirm(organizer_client, preview)

    assert messages_at(done, constants.SUCCESS) == ["Imported 10 attendees."]
    attendees = list(Attendee.objects.order_by("first_name"))
    assert [attendee.email for attendee in attendees] == [f"person{n}@example.org" for n in range(10)]
    assert {attendee.event_id for attendee in attendees} == {event.pk}
    for n, attendee in enumerate(attendees):
        if n % 2:
            assert attendee.ticket_code == f"TICKET-{n:04}"
        else:
            assert GENERATED_CODE.fullmatch(attendee.ticket_code)
    assert len({attendee.ticket_code for attendee in attendees}) == 10


def test_the_ticket_code_column_may_be_left_out(organizer_client, event):
    preview = upload(
        organizer_client,
        csv("Ada,Lovelace,ada@example.org,PyCon", header="first_name,last_name,email,event"),
    )
    confirm(organizer_client, preview)

    ada = Attendee.objects.get()
    assert (ada.first_name, ada.event) == ("Ada", event)
    assert GENERATED_CODE.fullmatch(ada.ticket_code)


def test_spaces_around_values_and_headers_are_trimmed(organizer_client, event):
    preview = upload(
        organizer_client,
        " first_name , last_name,Email,event\n Ada , Lovelace , ada@example.org , PyCon \n",
    )
    confirm(organizer_client, preview)

    ada = Attendee.objects.get()
    assert (ada.first_name, ada.last_name, ada.email, ada.event) == ("Ada", "Lovelace", "ada@example.org", event)


def test_a_file_with_one_bad_row_saves_nothing_and_shows_that_rows_error(organizer_client, event):
    rows = ten_rows(event)
    rows[2] = f"Grace,Hopper,not-an-email,,{event.pk}"

    preview = upload(organizer_client, csv(*rows))

    assert Attendee.objects.count() == 0
    assert preview.context.get("confirm_form") is None
    assert invalid_rows(preview) == {3: {"email": ["Enter a valid email address."]}}
    html = preview.content.decode()
    assert "Nothing can be imported from this file" in html
    assert "email: Enter a valid email address." in html


def test_every_bad_row_is_listed_with_its_own_errors(organizer_client, event):
    preview = upload(
        organizer_client,
        csv(
            f",Lovelace,ada@example.org,,{event.pk}",
            f"Alan,Turing,alan@example.org,,{event.pk}",
            f"Grace,Hopper,grace@,abc,{event.pk}",
        ),
    )

    errors = invalid_rows(preview)
    assert sorted(errors) == [1, 3]
    assert list(errors[1]) == ["first_name"]
    assert sorted(errors[3]) == ["email", "ticket_code"]
    assert Attendee.objects.count() == 0


def test_a_ticket_code_twice_in_the_file_saves_nothing(organizer_client, event):
    preview = upload(
        organizer_client,
        csv(
            f"Ada,Lovelace,ada@example.org,SAME-CODE,{event.pk}",
            f"Alan,Turing,alan@example.org,SAME-CODE,{event.pk}",
        ),
    )

    assert Attendee.objects.count() == 0
    assert preview.context.get("confirm_form") is None
    assert list(invalid_rows(preview)) == [2]
    assert "ticket_code" in invalid_rows(preview)[2]


def test_a_ticket_code_already_in_the_database_saves_nothing(organizer_client, make_attendee, event):
    make_attendee(ticket_code="TAKEN-CODE")

    preview = upload(
        organizer_client,
        csv(f"Ada,Lovelace,ada@example.org,,{event.pk}", f"Alan,Turing,alan@example.org,TAKEN-CODE,{event.pk}"),
    )

    assert Attendee.objects.count() == 1
    assert preview.context.get("confirm_form") is None
    assert invalid_rows(preview) == {2: {"ticket_code": ["Attendee with this Ticket code already exists."]}}


def test_a_ticket_code_taken_between_preview_and_confirm_saves_nothing(organizer_client, make_attendee, event):
    preview = upload(
        organizer_client,
        csv(f"Ada,Lovelace,ada@example.org,,{event.pk}", f"Alan,Turing,alan@example.org,RACE-CODE,{event.pk}"),
    )
    make_attendee(ticket_code="RACE-CODE", email="first@example.org")

    done = confirm(organizer_client, preview)

    assert list(Attendee.objects.values_list("email", flat=True)) == ["first@example.org"]
    assert messages_at(done, constants.ERROR) == [
        "Nothing was imported: the file no longer imports cleanly. Upload it again to see why."
    ]
    assert messages_at(done, constants.SUCCESS) == []


@pytest.mark.parametrize(
    ("header", "named"),
    [
        ("first_name,last_name,mail,event", ["Columns missing: email.", "Columns not known: 'mail'."]),
        ("first_name,last_name,email,ticket code,event", ["Columns not known: 'ticket code'."]),
        ("first_name,last_name,email", ["Columns missing: event."]),
        ("first_name,last_name,email,event,email", ["Columns given twice: email."]),
    ],
)
def test_a_wrong_header_saves_nothing_and_says_which_columns(organizer_client, event, header, named):
    values = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org", "mail": "ada@example.org"}
    row = ",".join(values.get(column, str(event.pk)) for column in header.split(","))

    preview = upload(organizer_client, csv(row, header=header))

    assert Attendee.objects.count() == 0
    assert preview.context.get("confirm_form") is None
    [error] = [str(error.error) for error in preview.context["result"].base_errors]
    assert error.startswith("The first line must name the columns first_name, last_name, email, ticket_code, event")
    for sentence in named:
        assert sentence in error
    assert error in preview.content.decode().replace("&#x27;", "'")


@pytest.mark.parametrize(
    ("event_column", "error"),
    [
        ("999999", "There is no event with the id 999999."),
        ("NoSuchCon", "There is no event named “NoSuchCon”."),
        ("", "Give the event: its id or its exact name."),
    ],
)
def test_an_unknown_event_saves_nothing_and_says_so_for_its_row(organizer_client, event, event_column, error):
    preview = upload(
        organizer_client,
        csv(f"Ada,Lovelace,ada@example.org,,{event.pk}", f"Alan,Turing,alan@example.org,,{event_column}"),
    )

    assert Attendee.objects.count() == 0
    assert invalid_rows(preview) == {2: {"event": [error]}}


def test_an_event_name_shared_by_two_events_asks_for_the_id(organizer_client, event):
    Event.objects.create(name="PyCon")

    preview = upload(organizer_client, csv("Ada,Lovelace,ada@example.org,,PyCon"))

    assert invalid_rows(preview) == {
        1: {"event": ["More than one event is named “PyCon”: give the event's id instead."]}
    }


def test_the_event_is_found_by_id_or_by_name(organizer_client, event, other_event):
    preview = upload(
        organizer_client,
        csv(f"Ada,Lovelace,ada@example.org,,{other_event.pk}", "Alan,Turing,alan@example.org,,PyCon"),
    )
    confirm(organizer_client, preview)

    assert dict(Attendee.objects.values_list("first_name", "event__name")) == {"Ada": "DjangoCon", "Alan": "PyCon"}


@pytest.mark.parametrize(
    ("content", "name", "error"),
    [
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\xff\xfe\x00",
            "photo.csv",
            "This file cannot be read as CSV text in UTF-8.",
        ),
        ("Ada;Lovelace\n".encode("utf-16"), "utf16.csv", "This file cannot be read as CSV text in UTF-8."),
        (b"", "empty.csv", "The submitted file is empty."),
        (f"{HEADER}\n".encode(), "header-only.csv", "No valid data to import."),
        (
            b"Dear organizers,\nplease find the attendees attached.\n",
            "letter.txt",
            "The first line must name the columns",
        ),
    ],
    ids=["binary", "utf16", "empty", "header-only", "prose"],
)
def test_a_file_that_is_not_a_csv_of_attendees_saves_nothing_and_says_why(
    organizer_client, event, content, name, error
):
    preview = upload(organizer_client, content, name)

    assert preview.status_code == 200
    assert Attendee.objects.count() == 0
    assert preview.context.get("confirm_form") is None
    assert error in preview.content.decode()


def test_import_page_explains_the_columns_and_the_event(organizer_client):
    html = organizer_client.get(IMPORT).content.decode()

    assert "<code>event</code>: the event's id (the number in its admin address), or its exact name." in html
    assert "<code>ticket_code</code>: optional" in html
    assert "nothing is saved" in html


# Who may import


def test_the_import_link_is_shown_to_those_who_may_add_attendees(organizer_client):
    assert f"href='{IMPORT}'" in organizer_client.get(CHANGELIST).content.decode()


@pytest.mark.parametrize("role", ["viewer", "door_staff"])
def test_importing_needs_add_attendee(client, make_user, event, role):
    client.force_login(make_user(role, is_staff=True))

    listing = client.get(CHANGELIST).content.decode()
    page = client.get(IMPORT)
    posted = upload(client, csv(f"Ada,Lovelace,ada@example.org,,{event.pk}"))
    processed = client.post(
        PROCESS_IMPORT, {"import_file_name": "x", "original_file_name": "x.csv", "format": "0", "resource": "0"}
    )

    assert IMPORT not in listing
    assert (page.status_code, posted.status_code, processed.status_code) == (403, 403, 403)
    assert Attendee.objects.count() == 0


def test_those_who_may_add_but_not_change_attendees_import_without_setting_ticket_codes(
    client, make_user, make_attendee, event
):
    make_attendee(ticket_code="TAKEN-CODE")
    user = make_user("no_permission", is_staff=True)
    user.user_permissions.add(
        *user.user_permissions.model.objects.filter(
            content_type__app_label="attendees", codename__in=["view_attendee", "add_attendee"]
        )
    )
    client.force_login(user)

    # A code taken or not gets the same answer: the import tells nobody which codes exist.
    refused = upload(
        client,
        csv(
            f"Ada,Lovelace,ada@example.org,MY-OWN-CODE,{event.pk}",
            f"Alan,Turing,alan@example.org,TAKEN-CODE,{event.pk}",
        ),
    )
    preview = upload(client, csv(f"Grace,Hopper,grace@example.org,,{event.pk}"))
    confirm(client, preview)

    only_with_change = ["Only users who may change attendees set ticket codes: leave this column empty."]
    assert invalid_rows(refused) == {1: {"ticket_code": only_with_change}, 2: {"ticket_code": only_with_change}}
    assert GENERATED_CODE.fullmatch(Attendee.objects.get(email="grace@example.org").ticket_code)
