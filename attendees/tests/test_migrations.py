"""The app's migrations, run for real, forward from nothing and back to nothing.

The rules that hold under concurrency (one open visit per attendee, no check-out before
its check-in) live in the database, so they are only as good as the migrations that
create them: a fresh install and a rollback must both work on SQLite and on PostgreSQL,
whichever DATABASE_URL names. These tests change the schema of the shared test database,
so each one puts every app back at its latest migration before the next module runs.
"""

import datetime

import pytest
from django.apps import apps as current_apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from attendees import models, selectors, services
from attendees.api.idempotency import run_once
from attendees.exceptions import AlreadyCheckedIn

# Schema changes cannot be rolled back like rows, and SQLite refuses them inside a
# transaction while foreign keys are enforced: these tests run outside one.
pytestmark = pytest.mark.django_db(transaction=True)

APP = "attendees"
ZERO = [(APP, None)]
MODELS = list(current_apps.get_app_config(APP).get_models())
TABLES = {model._meta.db_table for model in MODELS}


def migrate(targets):
    """Migrate to `targets`; return a fresh executor that sees what is now applied."""
    MigrationExecutor(connection).migrate(targets)
    # An executor reads the applied migrations once, when it is made.
    return MigrationExecutor(connection)


def latest_migration(executor):
    [leaf] = executor.loader.graph.leaf_nodes(APP)
    return leaf


def restore_latest_migrations():
    # Other modules run next in this same database, which --reuse-db also keeps for the
    # next session: whatever happened in the test, every app goes back to its latest state.
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def existing_tables():
    return set(connection.introspection.table_names())


def missing_rules():
    """Constraints and indexes declared on the current models but absent from the database."""
    missing = {}
    with connection.cursor() as cursor:
        for model in MODELS:
            present = set(connection.introspection.get_constraints(cursor, model._meta.db_table))
            declared = {rule.name for rule in [*model._meta.constraints, *model._meta.indexes]}
            if declared - present:
                missing[model._meta.db_table] = declared - present
    return missing


def refused_by_the_database(write):
    # Its own outermost atomic block: PostgreSQL checks foreign keys at commit, and a
    # failed statement must not poison the connection for the checks that follow.
    try:
        with transaction.atomic():
            write()
    except IntegrityError:
        return True
    return False


def test_migrating_forward_from_empty_keeps_the_rules_in_the_database():
    try:
        executor = migrate(ZERO)
        assert TABLES & existing_tables() == set()
        # A row the new tables will point at, already there when they are created.
        get_user_model().objects.create(username="door", password="!")

        latest = latest_migration(executor)
        executor = migrate([latest])
        assert executor.migration_plan([latest]) == []
        assert TABLES - existing_tables() == set()
        assert missing_rules() == {}

        # The models as the migrations describe them, not as models.py does today.
        historical = executor.loader.project_state([latest]).apps
        User = historical.get_model(settings.AUTH_USER_MODEL)
        Event, Attendee, Visit, IdempotentRequest = (
            historical.get_model(APP, name) for name in ["Event", "Attendee", "Visit", "IdempotentRequest"]
        )
        door = User.objects.get(username="door")
        now = timezone.now()
        hour = datetime.timedelta(hours=1)
        event = Event.objects.create(name="PyCon", starts_at=now - 2 * hour, ends_at=now + 8 * hour)
        ada = Attendee.objects.create(event=event, first_name="Ada", last_name="Lovelace", email="ada@example.org")
        alan = Attendee.objects.create(event=event, first_name="Alan", last_name="Turing", email="alan@example.org")
        Visit.objects.create(
            attendee=ada,
            checked_in_at=now - hour,
            checked_in_by=door,
            checked_out_at=now - hour / 2,
            checked_out_by=door,
        )
        # Re-entry after a check-out: the unique constraint only counts open visits.
        Visit.objects.create(attendee=ada, checked_in_at=now - hour / 4, checked_in_by=door)
        Visit.objects.create(attendee=alan, checked_in_at=now - hour / 4)
        IdempotentRequest.objects.create(user=door, key="k1", fingerprint="f" * 64, status_code=201, body="{}")

        breaches = {
            "a second open visit": lambda: Visit.objects.create(attendee=ada, checked_in_at=now),
            "a check-out before its check-in": lambda: Visit.objects.create(
                attendee=alan, checked_in_at=now, checked_out_at=now - hour
            ),
            "an event ending before it starts": lambda: Event.objects.create(
                name="Backwards", starts_at=now, ends_at=now - hour
            ),
            # On SQLite the executor turned foreign key checks off to edit the schema;
            # this one is refused only if it turned them back on.
            "a visit of no attendee": lambda: Visit.objects.create(attendee_id=alan.pk + 1000, checked_in_at=now),
            "an idempotency key used twice": lambda: IdempotentRequest.objects.create(
                user=door, key="k1", fingerprint="0" * 64
            ),
        }
        accepted = [breach for breach, write in breaches.items() if not refused_by_the_database(write)]
        assert accepted == []

        assert Event.objects.count() == 1
        assert sorted(Attendee.objects.values_list("first_name", flat=True)) == ["Ada", "Alan"]
        assert Visit.objects.filter(attendee=ada).count() == 2
        assert set(Visit.objects.filter(checked_out_at__isnull=True).values_list("attendee", flat=True)) == {
            ada.pk,
            alan.pk,
        }
        assert IdempotentRequest.objects.get().user_id == door.pk
    finally:
        restore_latest_migrations()


def test_migrating_back_to_zero_drops_the_tables_and_forward_again_restores_them():
    try:
        executor = MigrationExecutor(connection)
        latest = latest_migration(executor)
        # Rows in every table, so that going back drops tables that are not empty; on
        # SQLite it first rebuilds the visits table, foreign keys and all, with its rows in it.
        door = get_user_model().objects.create(username="door", password="!")
        event = models.Event.objects.create(name="PyCon")
        left = models.Attendee.objects.create(
            event=event, first_name="Ada", last_name="Lovelace", email="ada@example.org"
        )
        inside = models.Attendee.objects.create(
            event=event, first_name="Alan", last_name="Turing", email="alan@example.org"
        )
        services.check_in(attendee=left, by=door)
        services.check_out(attendee=left, by=door)
        services.check_in(attendee=inside, by=door)
        run_once(user=door, key="k1", fingerprint="f" * 64, operation=lambda: (201, {}))

        executor = migrate(ZERO)
        assert TABLES & existing_tables() == set()
        assert latest not in executor.loader.applied_migrations

        executor = migrate([latest])
        assert TABLES - existing_tables() == set()
        assert missing_rules() == {}
        assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []
        # Going back lost the rows, as it should; the users it did not own are kept.
        assert [model.__name__ for model in MODELS if model.objects.exists()] == []
        assert get_user_model().objects.filter(pk=door.pk).exists()

        # The app itself works on the rebuilt tables, its refusals included.
        again = models.Attendee.objects.create(
            event=models.Event.objects.create(name="PyCon"),
            first_name="Ada",
            last_name="Lovelace",
            email="ada@example.org",
        )
        services.check_in(attendee=again, by=door)
        with pytest.raises(AlreadyCheckedIn):
            services.check_in(attendee=again, by=door)
        assert selectors.attendees_with_state().get(pk=again.pk).is_checked_in
    finally:
        restore_latest_migrations()


def test_migrating_to_ticket_codes_gives_every_existing_attendee_its_own_code():
    try:
        executor = migrate([(APP, "0002_records_corrections_and_scheduled_checkout")])
        old_apps = executor.loader.project_state([(APP, "0002_records_corrections_and_scheduled_checkout")]).apps
        Event = old_apps.get_model(APP, "Event")
        Attendee = old_apps.get_model(APP, "Attendee")
        event = Event.objects.create(name="PyCon")
        Attendee.objects.bulk_create(
            Attendee(event=event, first_name=f"F{n}", last_name=f"L{n}", email=f"p{n}@example.org") for n in range(25)
        )

        executor = migrate([(APP, "0003_tickets_and_refused_scans")])
        Attendee = executor.loader.project_state([(APP, "0003_tickets_and_refused_scans")]).apps.get_model(
            APP, "Attendee"
        )

        codes = list(Attendee.objects.values_list("ticket_code", flat=True))
        assert len(codes) == 25
        assert len(set(codes)) == 25
        assert all(models.ticket_code_validator.regex.fullmatch(code) for code in codes)
        with pytest.raises(IntegrityError), transaction.atomic():
            Attendee.objects.filter(pk__in=Attendee.objects.values("pk")[:2]).update(ticket_code="same")
    finally:
        restore_latest_migrations()
        models.Attendee.objects.all().delete()
        models.Event.objects.all().delete()
