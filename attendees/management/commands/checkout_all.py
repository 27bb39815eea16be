from django.core.management.base import BaseCommand, CommandError

from attendees import selectors, services
from attendees.models import Event


class Command(BaseCommand):
    help = "Check out everyone of an event who is inside (end of day)."

    def add_arguments(self, parser):
        parser.add_argument("--event", type=int, required=True, metavar="ID", help="The event's id.")
        parser.add_argument("--dry-run", action="store_true", help="Only say how many would be checked out.")

    def handle(self, *args, event: int, dry_run: bool, **options):
        try:
            event = Event.objects.get(pk=event)
        except Event.DoesNotExist:
            raise CommandError(f"No event with id {event}.") from None
        attendees = event.attendees.all()
        if dry_run:
            inside = selectors.count_inside(attendees)
            self.stdout.write(f"Would check out {_attendees(inside)} of event {event.pk} ({event}); nothing recorded.")
            return
        result = services.bulk_check_out(attendees=attendees, by=None)
        self.stdout.write(
            self.style.SUCCESS(
                f"Checked out {_attendees(result.done)} of event {event.pk} ({event}); "
                f"skipped {result.skipped} who {'was' if result.skipped == 1 else 'were'} not inside."
            )
        )


def _attendees(count: int) -> str:
    return f"{count} attendee" if count == 1 else f"{count} attendees"
