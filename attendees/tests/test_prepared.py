"""Prepared statements: built once with `Param`s, they run the SQL that the same
querysets built with the values themselves would run."""

import datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import CharField, F, Q, Value
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from attendees import selectors, services
from attendees.models import Area, Attendee, Event
from attendees.prepared import Param, Prepared, PreparedQuery, executed, select_sql, update_sql

ALIAS = "default"
NOW = datetime.datetime(2026, 5, 4, 9, 30, 15, 123456, tzinfo=datetime.UTC)


@pytest.fixture
def values(door_staff):
    return services._Values.given(
        now=NOW,
        recorded_at=NOW + datetime.timedelta(seconds=3),
        by=door_staff,
        station="North door",
        source="scan",
        capacity_override=True,
    )


def _filled(statement: Prepared, values: services._Values, **more) -> tuple[str, list]:
    """The prepared statement with its values, its parameters bracketed as plain ones: a
    lookup puts an expression's SQL in brackets, `= (%s)` where a value gives `= %s`."""
    sql, params = statement.sql(ALIAS, **{**values.raw, **more})
    return sql.replace("(%s)", "%s"), params


@pytest.mark.parametrize("in_area", [False, True])
def test_opening_a_stay_is_the_statement_of_the_attendees_queryset(door_staff, in_area):
    area = Area(pk=42) if in_area else None
    values = services._Values.given(
        now=NOW, recorded_at=None, by=door_staff, station="", source="api", capacity_override=False, area=area
    )
    direct = services._insert_sql(
        connection,
        services.Visit,
        services.VISIT_COLUMNS,
        services._opening(Q(pk=7), values, services._scope(in_area=in_area)),
        on_conflict_do_nothing=True,
    )
    prepared = _filled(services._OPEN_ONE[in_area], values, attendee=7)
    assert prepared[0] == direct[0].replace('NULL AS "stay_area"', '%s AS "stay_area"')
    # None is NULL in the statement built with it, a parameter in the prepared one.
    assert [p for p in prepared[1] if p is not None] == list(direct[1])


@pytest.mark.parametrize("which", ["all", "area", "areas"])
def test_closing_and_recording_are_the_statements_of_the_querysets(values, which):
    theirs = services.Visit.objects.filter(attendee=7)
    stays = {"all": theirs, "area": theirs.filter(area=42), "areas": theirs.in_areas()}[which]
    direct = update_sql(stays.standing().open(), ALIAS, **services._closing(values))
    prepared = _filled(services._CLOSE_ONE[which], values, attendee=7, area=42)
    assert prepared == (direct[0], list(direct[1]))

    rows = services._recording(services.Record.Type.CHECK_OUT, stays.filter(checked_out_at__gte=values.now), values)
    direct = services._insert_sql(
        connection, services.Record, services.RECORD_COLUMNS, rows, on_conflict_do_nothing=False
    )
    sql, params = _filled(services._RECORD_ONE["closed", which], values, attendee=7, area=42)
    assert sql.startswith(direct[0] + " RETURNING ")
    assert params == list(direct[1])


def test_the_query_of_a_scan_is_the_querysets(db):
    prepared = selectors._FOR_SCAN[True, True, True, True]
    sql, params = prepared.sql(ALIAS, ticket_code="Code-123456", attendee=None, area=42)
    assert "Code-123456" in params
    assert 42 in params
    assert sql.count("%s") == len(params)


def test_a_statement_is_built_once_and_answers_each_runs_values(make_attendee, event):
    builds = []

    def build():
        builds.append(1)
        return (
            Attendee.objects.filter(event=Param("event", Event._meta.pk)).order_by("pk").values_list("pk", "first_name")
        )

    statement = PreparedQuery(build)
    ada = make_attendee(first_name="Ada")
    other_event = Event.objects.create(name="Elsewhere")
    grace = Attendee.objects.create(event=other_event, first_name="Grace", last_name="Hopper", email="g@example.org")

    assert statement.rows(ALIAS, event=event.pk) == [{"pk": ada.pk, "first_name": "Ada"}]
    assert statement.rows(ALIAS, event=other_event.pk) == [{"pk": grace.pk, "first_name": "Grace"}]
    assert statement.rows(ALIAS, event=0) == []
    assert len(builds) == 1


def test_values_are_converted_as_the_orm_converts_them(make_attendee, event):
    """A time given to a prepared UPDATE is stored as the ORM stores it, and read back as
    an aware datetime on every backend."""
    statement = Prepared(
        lambda alias: update_sql(
            Event.objects.filter(pk=Param("event", Event._meta.pk)),
            alias,
            starts_at=Param("at", Event._meta.get_field("starts_at")),
            capacity=F("inside") + Param("more", Event._meta.get_field("capacity")),
        )
    )
    at = timezone.now().replace(microsecond=654321)

    assert statement.execute(ALIAS, event=event.pk, at=at, more=5)[0] == 1

    event.refresh_from_db()
    assert (event.starts_at, event.capacity) == (at, 5)
    read = PreparedQuery(lambda: Event.objects.filter(pk=Param("event", Event._meta.pk)).values_list("starts_at"))
    assert read.rows(ALIAS, event=event.pk) == [{"starts_at": at}]


def test_a_statement_without_parameters_is_refused(db):
    statement = Prepared(lambda alias: select_sql(Event.objects.values_list("pk"), alias))
    with pytest.raises(ValueError, match="without parameters"):
        statement.sql(ALIAS)


# Prepared on the server (PostgreSQL)


def _named(make_attendee):
    """A statement, the attendee it finds by name, and what it answers for them."""
    statement = PreparedQuery(
        lambda: (
            Attendee.objects.filter(first_name=Param("name", Attendee._meta.get_field("first_name")))
            .annotate(share=Value("100%", output_field=CharField()))
            .values_list("pk", "share")
        )
    )
    ada = make_attendee(first_name="Ada")
    return statement, [{"pk": ada.pk, "share": "100%"}]


@pytest.mark.postgresql
def test_a_statement_is_prepared_on_the_server_once_per_connection(make_attendee):
    statement, answer = _named(make_attendee)

    with CaptureQueriesContext(connection) as first:
        assert statement.rows(ALIAS, name="Ada") == answer
    with CaptureQueriesContext(connection) as second:
        assert statement.rows(ALIAS, name="Ada") == answer
        assert statement.rows(ALIAS, name="Nobody") == []

    [sent] = [query["sql"] for query in first.captured_queries]
    assert sent.startswith(f"PREPARE {statement.name} (varchar(150)) AS SELECT")
    assert f"; EXECUTE {statement.name} ('Ada')" in sent
    assert [query["sql"] for query in second.captured_queries] == [
        f"EXECUTE {statement.name} ('Ada')",
        f"EXECUTE {statement.name} ('Nobody')",
    ]
    assert executed(sent) == executed(second.captured_queries[0]["sql"]) == statement.built[ALIAS][0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name = %s", [statement.name])
        assert cursor.fetchone() == (1,)


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_new_connection_prepares_the_statement_again(make_attendee):
    statement, answer = _named(make_attendee)
    assert statement.rows(ALIAS, name="Ada") == answer

    connection.close()

    with CaptureQueriesContext(connection) as again:
        assert statement.rows(ALIAS, name="Ada") == answer
    assert again.captured_queries[0]["sql"].startswith(f"PREPARE {statement.name} ")


@pytest.mark.postgresql
def test_a_statement_stays_prepared_after_its_run_fails(make_attendee, event):
    """A failed EXECUTE aborts its transaction but not the PREPARE sent with it."""
    renamed = Prepared(
        lambda alias: update_sql(
            Area.objects.filter(pk=Param("area", Area._meta.pk)),
            alias,
            name=Param("name", Area._meta.get_field("name")),
        )
    )
    hall = Area.objects.create(event=event, name="Hall")
    Area.objects.create(event=event, name="Garden")

    with pytest.raises(IntegrityError), transaction.atomic():
        renamed.execute(ALIAS, area=hall.pk, name="Garden")

    with CaptureQueriesContext(connection) as after:
        assert renamed.execute(ALIAS, area=hall.pk, name="Main hall")[0] == 1
    assert after.captured_queries[0]["sql"].startswith(f"EXECUTE {renamed.name} ")
    hall.refresh_from_db()
    assert hall.name == "Main hall"


@pytest.mark.postgresql
def test_without_prepare_on_server_the_sql_is_sent_as_built(make_attendee, settings):
    settings.ATTENDEES = {"PREPARE_ON_SERVER": False}
    statement, answer = _named(make_attendee)

    with CaptureQueriesContext(connection) as plain:
        assert statement.rows(ALIAS, name="Ada") == answer
    assert plain.captured_queries[0]["sql"].startswith("SELECT")


@pytest.mark.postgresql
def test_a_statement_planned_each_run_is_never_prepared_on_the_server(make_attendee):
    """PostgreSQL may keep one generic plan for a prepared statement after its fifth run:
    a statement whose best plan depends on its values is sent as built every time."""
    statement, answer = _named(make_attendee)
    statement.plan_each_run = True

    with CaptureQueriesContext(connection) as runs:
        for _ in range(7):
            assert statement.rows(ALIAS, name="Ada") == answer
    assert {query["sql"].split(" ", 1)[0] for query in runs.captured_queries} == {"SELECT"}
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name = %s", [statement.name])
        assert cursor.fetchone() == (0,)


@pytest.mark.postgresql
def test_the_figures_are_planned_for_each_event(make_attendee, door_staff):
    """A small event's figures read by an index, a large one's by a scan: a generic plan
    kept for both after a few runs read every event's times inside to find a small one's."""
    small = Event.objects.create(name="Small")
    large = Event.objects.create(name="Large")
    for event in (small, large, large):
        services.check_in(attendee=make_attendee(event=event), by=door_staff)

    with CaptureQueriesContext(connection) as runs:
        for _ in range(4):
            for event in (large, small):
                selectors.attendance_figures(event)
                selectors.occupancy_by_area(event)
    statements = (selectors._PLACE_TOTALS, selectors._MIDDLE_TIMES, selectors._STEP_TOTALS)
    assert not [query["sql"] for query in runs.captured_queries if query["sql"].startswith(("PREPARE", "EXECUTE"))]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE name = ANY(%s)",
            [[statement.name for statement in statements]],
        )
        assert cursor.fetchone() == (0,)
