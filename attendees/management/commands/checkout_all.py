from django.core.management.base import BaseCommand, CommandError

from attendees import selectors, services
from attendees.models import Event, Record


class Command(BaseCommand):
    help = (
        "Check out everyone inside: of one event (--event ID, end of day), or of every event whose "
        "scheduled check-out time has come (--due, for cron)."
    )

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--event", type=int, metavar="ID", help="The event's id.")
        which.add_argument(
            "--due",
            action="store_true",
            help="Every event whose auto_checkout_at has come; its time then moves on by a day while the event "
            "lasts. Safe to run twice, even at once.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Only say how many would be checked out.")

    def handle(self, *args, event: int | None, due: bool, dry_run: bool, **options):
        if due:
            self.check_out_due(dry_run)
            return
        try:
            event = Event.objects.get(pk=event)
        except Event.DoesNotExist:
            raise CommandError(f"No event with id {event}.") from None
        attendees = event.attendees.all()
        if dry_run:
            inside = selectors.count_inside(attendees)
            self.stdout.write(f"Would check out {_attendees(inside)} of event {event.pk} ({event}); nothing recorded.")
            return
        result = services.bulk_check_out(attendees=attendees, by=None, source=Record.Source.COMMAND)
        self.stdout.write(self.style.SUCCESS(f"{_checked_out(event, result)}."))

    def check_out_due(self, dry_run: bool) -> None:
        if dry_run:
            due = selectors.events_due_for_check_out()
            for event in due:
                inside = selectors.count_inside(event.attendees.all())
                self.stdout.write(f"Would check out {_attendees(inside)} of event {event.pk} ({event}).")
            self.stdout.write(f"{len(due)} event{'' if len(due) == 1 else 's'} due; nothing recorded.")
            return
        done = services.check_out_due()
        for item in done:
            then = f"next at {item.next_at:%Y-%m-%d %H:%M} UTC" if item.next_at else "no further scheduled check-out"
            self.stdout.write(self.style.SUCCESS(f"{_checked_out(item.event, item.result)}; {then}."))
        self.stdout.write(f"{len(done)} event{'' if len(done) == 1 else 's'} due.")


def _checked_out(event: Event, result: services.BulkResult) -> str:
    return (
        f"Checked out {_attendees(result.done)} of event {event.pk} ({event}); "
        f"skipped {result.skipped} who {'was' if result.skipped == 1 else 'were'} not inside"
    )


def _attendees(count: int) -> str:
    return f"{count} attendee" if count == 1 else f"{count} attendees"
