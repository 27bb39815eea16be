import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from attendees import services
from attendees.models import Attendee, Event, Record

EVENT_NAME = "Demo Conference"
# (first name, last name, what happens to them)
PEOPLE = [
    ("Ada", "Lovelace", "inside"),
    ("Alan", "Turing", "inside"),
    ("Grace", "Hopper", "back inside"),
    ("Katherine", "Johnson", "inside"),
    ("Edsger", "Dijkstra", "left"),
    ("Barbara", "Liskov", "left"),
    ("Donald", "Knuth", "left"),
    ("Margaret", "Hamilton", "left twice"),
    ("Dennis", "Ritchie", "never arrived"),
    ("Frances", "Allen", "never arrived"),
    ("John", "McCarthy", "never arrived"),
    ("Radia", "Perlman", "never arrived"),
]
STEPS = {
    "inside": ["in"],
    "back inside": ["in", "out", "in"],
    "left": ["in", "out"],
    "left twice": ["in", "out", "in", "out"],
    "never arrived": [],
}
ROLES = {
    "Door staff": ["view_event", "view_attendee", "record_attendance"],
    "Attendance viewers": ["view_event", "view_attendee"],
    "Attendance correctors": ["view_event", "view_attendee", "record_attendance", "correct_attendance"],
}


class Command(BaseCommand):
    help = (
        "Load a demo event with attendees in every state, the groups 'Door staff', "
        "'Attendance viewers' and 'Attendance correctors', an 'admin' superuser and a 'door' user "
        "in 'Door staff' without admin access. Safe to run again: nothing is duplicated; the "
        "passwords are reset and printed."
    )

    @transaction.atomic
    def handle(self, *args, **options):
        admin_user, password = self.user("admin", staff=True)
        groups = {}
        for name, codenames in ROLES.items():
            groups[name], _ = Group.objects.get_or_create(name=name)
            groups[name].permissions.add(
                *Permission.objects.filter(content_type__app_label="attendees", codename__in=codenames)
            )
        door_user, door_password = self.user("door", staff=False)
        door_user.groups.add(groups["Door staff"])
        now = timezone.now()
        ends_at = now + timedelta(hours=6)
        event, _ = Event.objects.get_or_create(
            name=EVENT_NAME,
            # Whoever is still inside at the end is checked out by `checkout_all --due`.
            defaults={"starts_at": now - timedelta(hours=2), "ends_at": ends_at, "auto_checkout_at": ends_at},
        )
        for first_name, last_name, story in PEOPLE:
            attendee, created = Attendee.objects.get_or_create(
                event=event,
                email=f"{first_name}.{last_name}@example.org".lower(),
                defaults={"first_name": first_name, "last_name": last_name},
            )
            if created:
                for step in STEPS[story]:
                    service = services.check_in if step == "in" else services.check_out
                    service(attendee=attendee, by=admin_user, station="Main entrance", source=Record.Source.COMMAND)
        token, _ = Token.objects.get_or_create(user=admin_user)
        self.stdout.write(
            self.style.SUCCESS(f"Demo event {event.pk} ({event}) has {event.attendees.count()} attendees.")
        )
        self.stdout.write(f"Admin login: username admin, password {password}")
        self.stdout.write(f"Door staff login (no admin access): username door, password {door_password}")
        self.stdout.write("Tickets to scan: in the admin, select attendees and choose 'Print badges'.")
        self.stdout.write(f"API token for admin: {token.key}")

    def user(self, username: str, *, staff: bool):
        """The demo user `username` with a fresh password: a superuser when `staff`, else no admin access."""
        password = secrets.token_urlsafe(12)
        user, _ = get_user_model().objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.org"}
        )
        user.is_staff = user.is_superuser = staff
        user.is_active = True
        user.set_password(password)
        user.save()
        return user, password
