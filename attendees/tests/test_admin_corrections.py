"""The attendee's page in the admin: their history, and the corrections made there by
users with `correct_attendance`, by the same rules (the same services) as the API."""

import datetime
import re
from unittest import mock

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import constants
from django.db import connection
from django.test.utils import CaptureQueriesContext

from attendees import selectors, services
from attendees.exceptions import (
    AlreadyCheckedOut,
    AlreadyVoided,
    CheckOutBeforeCheckIn,
    NotCheckedIn,
    NotLatestRecord,
    TimeInTheFuture,
)
from attendees.models import Area, Attendee, Event, Record, Visit

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
# In the past of the real clock; Berlin is on CET (UTC+1) then.
NINE_CET = datetime.datetime(2026, 11, 20, 8, 0, 5, tzinfo=UTC)
TEN_CET = NINE_CET + datetime.timedelta(hours=1)
NOON_CET = NINE_CET + datetime.timedelta(hours=3)
ONE_PM_CET = NINE_CET + datetime.timedelta(hours=4)

CHANGELIST = "/admin/attendees/attendee/"


def page_of(attendee: Attendee) -> str:
    return f"{CHANGELIST}{attendee.pk}/change/"


def void_url(attendee: Attendee) -> str:
    return f"{CHANGELIST}{attendee.pk}/history/void/"


def check_out_url(attendee: Attendee) -> str:
    return f"{CHANGELIST}{attendee.pk}/history/check-out/"


def clock_at(moment: datetime.datetime):
    return mock.patch("django.utils.timezone.now", return_value=moment)


def state(attendee: Attendee) -> str:
    fresh = selectors.attendees_with_state(Attendee.objects.filter(pk=attendee.pk)).get()
    return Attendee.State.of(is_checked_in=fresh.is_checked_in, is_checked_out=fresh.is_checked_out)


def history_snapshot() -> tuple[list, list]:
    return list(Record.objects.order_by("pk").values()), list(Visit.objects.order_by("pk").values())


def messages_at(response, level: int) -> list[str]:
    return [str(message) for message in response.context["messages"] if message.level == level]


def history_rows(html: str) -> dict[int, str]:
    return {int(pk): row for pk, row in re.findall(r'<tr id="record-(\d+)"(.*?)</tr>', html, re.DOTALL)}


def give(user, *codenames: str) -> None:
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="attendees", codename__in=codenames))


@pytest.fixture
def berlin(db) -> Event:
    return Event.objects.create(name="PyCon DE", timezone="Europe/Berlin")


@pytest.fixture
def corrector(make_user):
    user = make_user("viewer", username="carla", is_staff=True)
    give(user, "correct_attendance")
    return user


@pytest.fixture
def corrector_client(client, corrector):
    client.force_login(corrector)
    return client


@pytest.fixture
def door_person(make_user):
    return make_user("door_staff", username="dora", is_staff=True)


@pytest.fixture
def ada(make_attendee, berlin) -> Attendee:
    return make_attendee(event=berlin, first_name="Ada", last_name="Lovelace", email="ada@example.org")


@pytest.fixture
def ada_returned(ada, door_person) -> Attendee:
    """Came at nine (North door), left at ten, came back at noon: inside, all in Berlin's CET."""
    with clock_at(NINE_CET):
        services.check_in(attendee=ada, by=door_person, station="North door")
    with clock_at(TEN_CET):
        services.check_out(attendee=ada, by=door_person, station="North door", source=Record.Source.SCAN)
    with clock_at(NOON_CET):
        services.check_in(attendee=ada, by=door_person, station="South door", source=Record.Source.SCAN)
    return ada


def records_of(attendee: Attendee) -> list[Record]:
    return list(Record.objects.filter(attendee=attendee).order_by("at", "pk"))


# The history


def test_page_shows_every_record_with_when_where_who_and_how_in_the_events_local_time(corrector_client, ada_returned):
    html = corrector_client.get(page_of(ada_returned)).content.decode()

    first_in, out, second_in = records_of(ada_returned)
    rows = history_rows(html)
    assert list(rows) == [first_in.pk, out.pk, second_in.pk]
    assert "2026-11-20 09:00:05 CET" in rows[first_in.pk]
    assert "North door" in rows[first_in.pk]
    assert "dora" in rows[first_in.pk]
    assert "API" in rows[first_in.pk]
    assert "2026-11-20 10:00:05 CET" in rows[out.pk]
    assert "check-out" in rows[out.pk]
    assert "scan" in rows[out.pk]
    assert "2026-11-20 12:00:05 CET" in rows[second_in.pk]
    assert "South door" in rows[second_in.pk]
    assert "Europe/Berlin" in html


def test_page_shows_times_only_in_the_events_zone_never_as_utc_timestamps(corrector_client, ada_returned):
    html = corrector_client.get(page_of(ada_returned)).content.decode()

    # The check-in and check-out times beside the state, to the second and named as in the history.
    assert "<div>2026-11-20 09:00:05 CET</div><div>2026-11-20 12:00:05 CET</div>" in html
    assert "<div>2026-11-20 10:00:05 CET</div>" in html
    assert "times (UTC)" not in html
    # The history's <time datetime="..."> attributes are the only ISO times: none is shown as text.
    shown = re.sub(r"<[^>]+>", " ", html)
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", shown)


def test_page_shows_a_voided_record_with_who_voided_it_when_and_why(corrector_client, ada_returned, corrector):
    second_in = records_of(ada_returned)[-1]
    with clock_at(ONE_PM_CET):
        services.void_record(record=second_in, by=corrector, reason="scanned the wrong badge")

    row = history_rows(corrector_client.get(page_of(ada_returned)).content.decode())[second_in.pk]

    assert 'class="attendees-record voided"' in row
    assert "Voided 2026-11-20 13:00:05 CET by carla: scanned the wrong badge" in row


def test_page_shows_the_area_the_capacity_override_and_when_a_late_record_was_written(
    corrector_client, ada, berlin, door_person
):
    hall = Area.objects.create(event=berlin, name="Main hall", capacity=0)
    with clock_at(TEN_CET):
        services.check_in(attendee=ada, by=door_person, area=hall, override_capacity=True, at=NINE_CET)

    rows = history_rows(corrector_client.get(page_of(ada)).content.decode())

    area_row = next(row for row in rows.values() if "Main hall" in row)
    assert "Admitted over capacity" in area_row
    assert "2026-11-20 09:00:05 CET" in area_row
    assert "written 2026-11-20 10:00:05 CET" in area_row


def test_page_shows_a_correction_with_its_reason(corrector_client, ada_returned, corrector):
    services.correct_check_out(attendee=ada_returned, at=ONE_PM_CET, by=corrector, reason="left by the side exit")

    row = history_rows(corrector_client.get(page_of(ada_returned)).content.decode())[records_of(ada_returned)[-1].pk]

    assert "correction" in row
    assert "Why: left by the side exit" in row
    assert "carla" in row


def test_page_of_an_attendee_without_records_says_so(corrector_client, ada):
    html = corrector_client.get(page_of(ada)).content.decode()

    assert "No check-in or check-out has been recorded for this attendee." in html
    assert "There is no standing record to void." in html


def test_page_runs_in_the_same_number_of_queries_whatever_the_length_of_the_history(
    corrector_client, make_attendee, berlin
):
    counts = []
    for visits in (1, 5):
        attendee = make_attendee(event=berlin)
        for _ in range(visits):
            services.check_in(attendee=attendee, by=None, station="North door")
            services.check_out(attendee=attendee, by=None)
        with CaptureQueriesContext(connection) as queries:
            corrector_client.get(page_of(attendee))
        counts.append(len(queries))

    assert counts[0] == counts[1]


# Voiding


def test_voiding_a_check_out_reopens_the_stay_keeps_the_record_and_the_state_follows(corrector_client, ada, corrector):
    with clock_at(NINE_CET):
        services.check_in(attendee=ada, by=None)
    with clock_at(TEN_CET):
        services.check_out(attendee=ada, by=None)
    out = records_of(ada)[-1]

    response = corrector_client.post(void_url(ada), {"record": out.pk, "reason": "still in the building"})

    assert response.status_code == 302
    assert response["Location"] == f"{page_of(ada)}#attendance-history"
    out.refresh_from_db()
    assert (out.voided_by, out.void_reason) == (corrector, "still in the building")
    assert out.voided_at is not None
    assert state(ada) == Attendee.State.INSIDE
    page = corrector_client.get(response["Location"])
    assert messages_at(page, constants.SUCCESS) == [
        "Voided the check-out at 2026-11-20 10:00:05 CET: the stay it ended is open again."
    ]


def test_voiding_a_check_in_voids_its_stay_and_the_attendee_never_arrived(corrector_client, ada, corrector):
    with clock_at(NINE_CET):
        services.check_in(attendee=ada, by=None)
    with clock_at(TEN_CET):
        services.check_out(attendee=ada, by=None)
    check_in = records_of(ada)[0]

    response = corrector_client.post(void_url(ada), {"record": check_in.pk, "reason": "wrong person"}, follow=True)

    assert Record.objects.filter(attendee=ada, voided_at__isnull=True).count() == 0
    assert Record.objects.filter(attendee=ada).count() == 2
    assert state(ada) == Attendee.State.NEVER_ARRIVED
    assert messages_at(response, constants.SUCCESS) == [
        "Voided the check-in at 2026-11-20 09:00:05 CET, and the stay it began."
    ]


def test_void_form_offers_the_standing_records_only(corrector_client, ada_returned, corrector):
    first_in, out, second_in = records_of(ada_returned)
    services.void_record(record=second_in, by=corrector, reason="double scan")

    form = corrector_client.get(page_of(ada_returned)).context["void_record_form"]

    assert [record.pk for record in form.fields["record"].queryset] == [out.pk, first_in.pk]


def test_void_without_choosing_a_record_is_refused_and_records_nothing(corrector_client, ada_returned):
    before = history_snapshot()

    response = corrector_client.post(void_url(ada_returned), {"record": "", "reason": "oops"}, follow=True)

    assert history_snapshot() == before
    assert messages_at(response, constants.ERROR) == ["Choose the record to void."]


def test_void_without_a_reason_is_refused_and_records_nothing(corrector_client, ada_returned):
    before = history_snapshot()

    response = corrector_client.post(
        void_url(ada_returned), {"record": records_of(ada_returned)[-1].pk, "reason": "  "}, follow=True
    )

    assert history_snapshot() == before
    assert messages_at(response, constants.ERROR) == [
        "Give a reason for voiding the record: it is kept in the history."
    ]


def test_void_of_another_attendees_record_is_refused_and_records_nothing(
    corrector_client, ada_returned, make_attendee, berlin
):
    alan = make_attendee("inside", event=berlin)
    before = history_snapshot()

    response = corrector_client.post(
        void_url(ada_returned), {"record": records_of(alan)[0].pk, "reason": "mistake"}, follow=True
    )

    assert history_snapshot() == before
    assert messages_at(response, constants.ERROR) == ["That record is not one of this attendee's."]


# Adding a missed check-out


def test_missed_check_out_is_read_in_the_events_zone_and_recorded_in_utc(corrector_client, ada, corrector):
    with clock_at(NINE_CET):
        services.check_in(attendee=ada, by=None)

    response = corrector_client.post(
        check_out_url(ada), {"at": "2026-11-20T17:30:05", "reason": "forgot to scan out"}, follow=True
    )

    record = records_of(ada)[-1]
    assert record.type == Record.Type.CHECK_OUT
    assert record.at == datetime.datetime(2026, 11, 20, 16, 30, 5, tzinfo=UTC)
    assert (record.source, record.recorded_by, record.reason) == (
        Record.Source.CORRECTION,
        corrector,
        "forgot to scan out",
    )
    assert state(ada) == Attendee.State.LEFT
    assert messages_at(response, constants.SUCCESS) == ["Added the missed check-out at 2026-11-20 17:30:05 CET."]


def test_missed_check_out_accepts_a_time_without_seconds(corrector_client, ada):
    with clock_at(NINE_CET):
        services.check_in(attendee=ada, by=None)

    corrector_client.post(check_out_url(ada), {"at": "2026-11-20T17:30", "reason": "forgot"})

    assert records_of(ada)[-1].at == datetime.datetime(2026, 11, 20, 16, 30, tzinfo=UTC)


def test_missed_check_out_at_a_local_time_that_does_not_exist_is_refused_and_records_nothing(
    corrector_client, make_attendee, berlin
):
    with clock_at(datetime.datetime(2026, 3, 29, 0, 0, tzinfo=UTC)):
        attendee = make_attendee("inside", event=berlin)
    before = history_snapshot()

    # Clocks in Berlin went from 02:00 to 03:00 that night.
    response = corrector_client.post(
        check_out_url(attendee), {"at": "2026-03-29T02:30:00", "reason": "left"}, follow=True
    )

    assert history_snapshot() == before
    [error] = messages_at(response, constants.ERROR)
    assert "Europe/Berlin" in error


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"at": "", "reason": "forgot"}, "Give the time the attendee left."),
        ({"at": "half past five", "reason": "forgot"}, "Give the time the attendee left as a date and a time."),
        ({"at": "2026-11-20T17:30:05", "reason": ""}, "Give a reason for the check-out: it is kept in the history."),
    ],
)
def test_missed_check_out_form_errors_are_shown_and_record_nothing(corrector_client, ada, data, error):
    with clock_at(NINE_CET):
        services.check_in(attendee=ada, by=None)
    before = history_snapshot()

    response = corrector_client.post(check_out_url(ada), data, follow=True)

    assert history_snapshot() == before
    assert messages_at(response, constants.ERROR) == [error]


# Refusals by the rules: the service's own words, as an error message, and nothing recorded


def left_at_ten(attendee: Attendee) -> None:
    with clock_at(NINE_CET):
        services.check_in(attendee=attendee, by=None)
    with clock_at(TEN_CET):
        services.check_out(attendee=attendee, by=None)


def inside_since_nine(attendee: Attendee) -> None:
    with clock_at(NINE_CET):
        services.check_in(attendee=attendee, by=None)


def void_voided_check_out(attendee: Attendee) -> dict:
    left_at_ten(attendee)
    out = records_of(attendee)[-1]
    services.void_record(record=out, by=None, reason="first time")
    return {"url": void_url(attendee), "data": {"record": out.pk, "reason": "again"}}


def void_check_out_before_re_entry(attendee: Attendee) -> dict:
    left_at_ten(attendee)
    out = records_of(attendee)[-1]
    with clock_at(NOON_CET):
        services.check_in(attendee=attendee, by=None)
    return {"url": void_url(attendee), "data": {"record": out.pk, "reason": "never left"}}


def check_out_in_the_future(attendee: Attendee) -> dict:
    inside_since_nine(attendee)
    return {"url": check_out_url(attendee), "data": {"at": "2099-01-01T10:00:00", "reason": "later"}}


def check_out_before_the_check_in(attendee: Attendee) -> dict:
    inside_since_nine(attendee)
    return {"url": check_out_url(attendee), "data": {"at": "2026-11-20T08:59:59", "reason": "early"}}


def check_out_of_someone_who_never_came(attendee: Attendee) -> dict:
    return {"url": check_out_url(attendee), "data": {"at": "2026-11-20T10:00:00", "reason": "absent"}}


def check_out_of_someone_who_left(attendee: Attendee) -> dict:
    left_at_ten(attendee)
    return {"url": check_out_url(attendee), "data": {"at": "2026-11-20T11:00:00", "reason": "again"}}


@pytest.mark.parametrize(
    ("arrange", "refusal", "detail"),
    [
        (void_voided_check_out, AlreadyVoided, str(AlreadyVoided.message)),
        (void_check_out_before_re_entry, NotLatestRecord, str(NotLatestRecord.message)),
        (check_out_in_the_future, TimeInTheFuture, str(TimeInTheFuture.message)),
        (
            check_out_before_the_check_in,
            CheckOutBeforeCheckIn,
            "A check-out cannot be earlier than the check-in it ends (2026-11-20T08:00:05Z).",
        ),
        (check_out_of_someone_who_never_came, NotCheckedIn, str(NotCheckedIn.message)),
        (check_out_of_someone_who_left, AlreadyCheckedOut, str(AlreadyCheckedOut.message)),
    ],
    ids=lambda value: value.code if isinstance(value, type) else None,
)
def test_a_correction_the_rules_refuse_is_an_error_message_and_records_nothing(
    corrector_client, ada, arrange, refusal, detail
):
    request = arrange(ada)
    before = history_snapshot()

    response = corrector_client.post(request["url"], request["data"], follow=True)

    assert response.status_code == 200
    assert history_snapshot() == before
    assert messages_at(response, constants.ERROR) == [detail]
    assert messages_at(response, constants.SUCCESS) == []


# Who may correct


@pytest.mark.parametrize("role", ["viewer", "door_staff", "editor"])
def test_staff_without_correct_attendance_see_the_history_but_no_forms(client, make_user, ada_returned, role):
    client.force_login(make_user(role, is_staff=True))

    response = client.get(page_of(ada_returned))

    html = response.content.decode()
    assert response.status_code == 200
    assert len(history_rows(html)) == 3
    assert 'id="void-record-form"' not in html
    assert 'id="missed-check-out-form"' not in html
    assert void_url(ada_returned) not in html


@pytest.mark.parametrize("role", ["viewer", "door_staff", "editor"])
def test_a_correction_posted_without_correct_attendance_is_403_and_records_nothing(
    client, make_user, ada_returned, role
):
    client.force_login(make_user(role, is_staff=True))
    before = history_snapshot()

    voided = client.post(void_url(ada_returned), {"record": records_of(ada_returned)[-1].pk, "reason": "no"})
    added = client.post(check_out_url(ada_returned), {"at": "2026-11-20T17:00:00", "reason": "no"})

    assert (voided.status_code, added.status_code) == (403, 403)
    assert history_snapshot() == before


def test_correct_attendance_without_viewing_attendees_is_403(client, make_user, ada_returned):
    user = make_user("no_permission", is_staff=True)
    give(user, "correct_attendance")
    client.force_login(user)

    response = client.post(check_out_url(ada_returned), {"at": "2026-11-20T17:00:00", "reason": "no"})

    assert response.status_code == 403


def test_users_with_correct_attendance_see_both_forms(corrector_client, ada_returned):
    html = corrector_client.get(page_of(ada_returned)).content.decode()

    assert f'action="{void_url(ada_returned)}"' in html
    assert f'action="{check_out_url(ada_returned)}"' in html
    assert 'type="datetime-local"' in html
    assert html.count('name="csrfmiddlewaretoken"') >= 3


def test_missed_check_out_form_is_shown_only_for_an_attendee_inside(corrector_client, make_attendee, berlin):
    never = make_attendee("never", event=berlin)
    left = make_attendee("inside", event=berlin)
    services.check_out(attendee=left, by=None)

    for attendee in (never, left):
        html = corrector_client.get(page_of(attendee)).content.decode()
        assert 'id="void-record-form"' in html
        assert 'id="missed-check-out-form"' not in html
        assert check_out_url(attendee) not in html


def test_correction_urls_answer_only_post(corrector_client, ada_returned):
    assert corrector_client.get(void_url(ada_returned)).status_code == 405
    assert corrector_client.get(check_out_url(ada_returned)).status_code == 405


def test_a_correction_is_refused_without_the_csrf_token(client, corrector, ada_returned):
    client.handler.enforce_csrf_checks = True
    client.force_login(corrector)
    before = history_snapshot()

    response = client.post(check_out_url(ada_returned), {"at": "2026-11-20T17:00:00", "reason": "forgot"})

    assert response.status_code == 403
    assert history_snapshot() == before


def test_a_correction_for_an_unknown_attendee_is_404(corrector_client):
    response = corrector_client.post(
        f"{CHANGELIST}999999/history/check-out/", {"at": "2026-11-20T17:00", "reason": "x"}
    )

    assert response.status_code == 404


def test_anonymous_correction_is_sent_to_the_login_page_and_records_nothing(client, ada_returned):
    before = history_snapshot()

    response = client.post(check_out_url(ada_returned), {"at": "2026-11-20T17:00:00", "reason": "forgot"})

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    assert history_snapshot() == before
