"""A demo event whose day has passed, at least partly, for the quick start.

The day is made up the same way on every run (a fixed seed): arrivals peak between
08:30 and 10:00, the keynote fills the main hall, workshops fill their rooms, many go
out for lunch or sit in the lounge, some come back, some leave early, some never come
and a few forget to check out. What has happened by now is written as the services
write it at the door: a stay and a record per check-in, its record per check-out, the
numbers inside, and the signals once it is committed.
"""

import dataclasses
import datetime
import random
import secrets
from collections import Counter
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from attendees import selectors, services, signals
from attendees.models import Area, Attendee, Event, Record, Visit

EVENT_NAME = "Demo Conference"
EVENT_TIMEZONE = "Europe/Berlin"
EVENT_CAPACITY = 200
OPENS = datetime.time(8, 0)
CLOSES = datetime.time(18, 0)
# Before this local time the demo shows yesterday: today would have too little to show.
TODAY_FROM = datetime.time(10, 0)
REGISTERED = 120
SEED = 20260905

HALL, WORKSHOP_A, WORKSHOP_B, LOUNGE = "Main hall", "Workshop A", "Workshop B", "Lounge"
AREAS = {HALL: 120, WORKSHOP_A: 30, WORKSHOP_B: 30, LOUNGE: None}
WORKSHOPS = {WORKSHOP_A, WORKSHOP_B}
# Where else someone can be: inside the event in none of its areas, or out for a while.
FOYER = "foyer"
AWAY = "away"

# The programme: from when (local time) who goes where, by weight. A full workshop
# sends the rest to the main hall.
PROGRAMME = [
    (datetime.time(8, 0), {FOYER: 3, LOUNGE: 2}),  # registration and coffee
    (datetime.time(9, 0), {HALL: 16, LOUNGE: 2, FOYER: 1}),  # keynote
    (datetime.time(10, 40), {HALL: 8, WORKSHOP_A: 7, WORKSHOP_B: 4, LOUNGE: 1}),
    (datetime.time(12, 15), {AWAY: 9, LOUNGE: 8, FOYER: 3}),  # lunch in town or in the lounge
    (datetime.time(13, 30), {HALL: 8, WORKSHOP_A: 5, WORKSHOP_B: 6, LOUNGE: 1}),
    (datetime.time(15, 0), {LOUNGE: 6, FOYER: 3}),  # coffee break
    (datetime.time(15, 20), {HALL: 10, WORKSHOP_A: 4, WORKSHOP_B: 4, LOUNGE: 2}),
    (datetime.time(16, 50), {HALL: 8, LOUNGE: 2}),  # closing talk
    (datetime.time(17, 30), {LOUNGE: 3, FOYER: 2}),  # drinks
]
LUNCH = 3

FIRST_NAMES = [
    "Aisha", "Alejandro", "Amara", "Anna", "Arjun", "Astrid", "Ben", "Carlos", "Chen", "Chiara",
    "Daniel", "Elif", "Emma", "Fatima", "Felix", "Hana", "Hugo", "Ines", "Ivan", "Jakob",
    "Jana", "Jonas", "Julia", "Kai", "Kenji", "Laila", "Lars", "Lea", "Leon", "Lina",
    "Lucas", "Maja", "Marco", "Maria", "Mateo", "Mia", "Mohammed", "Nadia", "Niklas", "Noah",
    "Olga", "Omar", "Paul", "Priya", "Rafael", "Rosa", "Sara", "Sofia", "Tariq", "Thomas",
    "Tom", "Valentina", "Wei", "Yara", "Yusuf", "Zoe",
]  # fmt: skip
LAST_NAMES = [
    "Adeyemi", "Andersen", "Bauer", "Becker", "Costa", "Dubois", "Fischer", "Garcia", "Hansen", "Hoffmann",
    "Ito", "Jensen", "Kaya", "Keller", "Klein", "Kowalski", "Krause", "Lange", "Lehmann", "Lopez",
    "Meyer", "Moreau", "Mueller", "Nakamura", "Neumann", "Nguyen", "Novak", "Okafor", "Park", "Petrov",
    "Rossi", "Schmidt", "Schneider", "Schulz", "Silva", "Singh", "Svensson", "Tanaka", "Wagner", "Weber",
    "Wolf", "Yilmaz", "Zimmermann",
]  # fmt: skip

ROLES = {
    "Door staff": ["view_event", "view_attendee", "record_attendance"],
    "Attendance viewers": ["view_event", "view_attendee"],
    "Attendance correctors": ["view_event", "view_attendee", "record_attendance", "correct_attendance"],
}


@dataclasses.dataclass(frozen=True)
class Step:
    """One check-in or check-out of the plan, `minute`s after the doors open."""

    minute: float
    person: int
    check: str  # "in" or "out"
    area: str | None  # None: the event itself


class Command(BaseCommand):
    help = (
        "Load a demo event whose day has passed, at least partly: areas with capacities and "
        f"{REGISTERED} attendees whose check-ins, moves between areas and check-outs are spread "
        "over the day; the groups 'Door staff', 'Attendance viewers' and 'Attendance correctors', "
        "an 'admin' superuser and a 'door' user in 'Door staff' without admin access. Safe to run "
        "again: nothing is duplicated; the passwords are reset and printed."
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
        event = self.event(now)
        day = event.starts_at.astimezone(event.zone).date() if event.starts_at else demo_day(now)
        opens_at = datetime.datetime.combine(day, OPENS, event.zone)
        areas = {
            name: Area.objects.get_or_create(event=event, name=name, defaults={"capacity": capacity})[0]
            for name, capacity in AREAS.items()
        }
        rng = random.Random(SEED)
        people = []
        for first_name, last_name in names(rng, REGISTERED):
            attendee, created = Attendee.objects.get_or_create(
                event=event,
                email=f"{first_name}.{last_name}@example.org".lower(),
                defaults={"first_name": first_name, "last_name": last_name},
            )
            people.append((attendee, created))
        # Only the attendees created now get their day; those of an earlier run keep theirs.
        newcomers = {person: attendee for person, (attendee, created) in enumerate(people) if created}
        steps = [step for step in plan(rng, len(people)) if step.person in newcomers]
        write_day(steps, newcomers, areas, opens_at=opens_at, now=now, by=admin_user)

        token, _ = Token.objects.get_or_create(user=admin_user)
        self.summary(event, now)
        self.stdout.write(f"Admin login: username admin, password {password}")
        self.stdout.write(f"Door staff login (no admin access): username door, password {door_password}")
        self.stdout.write("Tickets to scan: in the admin, select attendees and choose 'Print badges'.")
        self.stdout.write(f"API token for admin: {token.key}")

    def event(self, now: datetime.datetime) -> Event:
        """The demo event: made for `demo_day(now)` on the first run, kept as it is after."""
        zone = ZoneInfo(EVENT_TIMEZONE)
        day = demo_day(now)
        ends_at = datetime.datetime.combine(day, CLOSES, zone)
        event, _ = Event.objects.get_or_create(
            name=EVENT_NAME,
            defaults={
                "starts_at": datetime.datetime.combine(day, OPENS, zone),
                "ends_at": ends_at,
                # Whoever is still inside at the end is checked out by `checkout_all --due`.
                "auto_checkout_at": ends_at,
                "capacity": EVENT_CAPACITY,
                "timezone": EVENT_TIMEZONE,
            },
        )
        return event

    def summary(self, event: Event, now: datetime.datetime) -> None:
        figures = selectors.attendance_figures(event, now)
        when = ""
        if event.starts_at and event.ends_at:
            starts_at, ends_at = event.starts_at.astimezone(event.zone), event.ends_at.astimezone(event.zone)
            when = (
                f" on {starts_at:%A} {starts_at.day} {starts_at:%B %Y}, "
                f"{starts_at:%H:%M} to {ends_at:%H:%M} {event.timezone},"
            )
        self.stdout.write(
            self.style.SUCCESS(f"Demo event {event.pk} ({event}){when} has {figures['registered']} attendees.")
        )
        capacity = f" of {event.capacity}" if event.capacity is not None else ""
        self.stdout.write(
            f"Inside now: {figures['inside']}{capacity}; peak inside: {figures['peak_inside']}; "
            f"left: {figures['left']}; never arrived: {figures['never_arrived']}; "
            f"median time inside: {duration(figures['median_seconds_inside'])}."
        )
        areas = "; ".join(
            f"{area['name']} {area['inside']} inside, peak {area['peak_inside']}"
            + (f" of {area['capacity']}" if area["capacity"] is not None else "")
            for area in figures["areas"]
        )
        self.stdout.write(f"Areas: {areas}.")

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


def write_day(
    steps: list[Step],
    attendees: dict[int, Attendee],
    areas: dict[str, Area],
    *,
    opens_at: datetime.datetime,
    now: datetime.datetime,
    by: AbstractBaseUser,
) -> None:
    """Write the stays and records of `steps` up to `now`, as the services would have
    written them at the door at those times, then the numbers inside.

    Written in bulk, a few statements in all: played one by one through the services,
    the day takes many seconds. The plan keeps the rules the services keep (one stay
    at a time, inside the event while in an area, capacities), and the same
    signals are sent once the transaction commits.
    """
    in_event: dict[int, Visit] = {}
    in_area: dict[int, Visit] = {}
    visits: list[Visit] = []
    records: list[Record] = []

    def record(visit: Visit, type: str, at: datetime.datetime, station: str) -> None:
        records.append(
            Record(
                attendee=visit.attendee,
                visit=visit,
                type=type,
                at=at,
                recorded_at=now,
                recorded_by=by,
                station=station,
                source=Record.Source.COMMAND,
                area=visit.area,
            )
        )

    def enter(attendee: Attendee, area: Area | None, at: datetime.datetime, station: str) -> Visit:
        visit = Visit(attendee=attendee, checked_in_at=at, checked_in_by=by, area=area)
        visits.append(visit)
        record(visit, Record.Type.CHECK_IN, at, station)
        return visit

    def leave(stays: dict[int, Visit], person: int, at: datetime.datetime, station: str) -> None:
        visit = stays.pop(person, None)
        if visit is not None:
            visit.checked_out_at = at
            visit.checked_out_by = by
            record(visit, Record.Type.CHECK_OUT, at, station)

    for step in steps:
        at = opens_at + datetime.timedelta(seconds=round(step.minute * 60))
        if at > now:
            continue
        attendee = attendees[step.person]
        station = step.area or "Main entrance"
        if step.check == "in":
            # Into the event, or into an area: entering the event too if outside, leaving
            # another area at the same instant (a move).
            if step.person not in in_event:
                in_event[step.person] = enter(attendee, None, at, station)
            if step.area is not None:
                leave(in_area, step.person, at, station)
                in_area[step.person] = enter(attendee, areas[step.area], at, station)
        else:
            # Out of an area, or out of the event, which ends any stay in an area too.
            leave(in_area, step.person, at, station)
            if step.area is None:
                leave(in_event, step.person, at, station)

    Visit.objects.bulk_create(visits)
    written = Record.objects.bulk_create(records)
    services.recount(events=Event.objects.filter(pk__in={area.event_id for area in areas.values()}))
    record_ids = [record.pk for record in written]
    if record_ids and (signals.checked_in.has_listeners(Record) or signals.checked_out.has_listeners(Record)):
        transaction.on_commit(lambda: announce(record_ids))


def announce(record_ids: list[int]) -> None:
    """Send `checked_in` or `checked_out` for each of the records, in time order."""
    for record in Record.objects.filter(pk__in=record_ids).select_related("attendee").order_by("at", "id"):
        signal = signals.checked_in if record.type == Record.Type.CHECK_IN else signals.checked_out
        signal.send(sender=Record, record=record, attendee=record.attendee)


def demo_day(now: datetime.datetime) -> datetime.date:
    """Today in the demo's time zone, or yesterday before `TODAY_FROM`."""
    local = now.astimezone(ZoneInfo(EVENT_TIMEZONE))
    return local.date() if local.time() >= TODAY_FROM else local.date() - datetime.timedelta(days=1)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "none yet"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


def names(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """`count` different (first name, last name) pairs."""
    pairs = rng.sample(range(len(FIRST_NAMES) * len(LAST_NAMES)), count)
    return [(FIRST_NAMES[pair % len(FIRST_NAMES)], LAST_NAMES[pair // len(FIRST_NAMES)]) for pair in pairs]


def minutes(moment: datetime.time) -> float:
    """Minutes after the doors open."""
    return (moment.hour - OPENS.hour) * 60 + moment.minute - OPENS.minute


def plan(rng: random.Random, count: int) -> list[Step]:
    """The day of `count` people, in time order: about a tenth never come.

    Capacities hold at every moment: at each change of programme everyone leaves a
    workshop before that change and enters one after it, and no more are sent to a
    workshop than it holds.
    """
    starts = [minutes(start) for start, _ in PROGRAMME]
    taken: Counter[tuple[int, str]] = Counter()
    never = set(rng.sample(range(count), round(count / 10)))
    steps = []
    for person in range(count):
        if person in never:
            continue
        arrival = arrival_minute(rng)
        departure = departure_minute(rng, arrival, lunch=starts[LUNCH])
        steps += person_day(rng, person, arrival, departure, starts, taken)
    return sorted(steps, key=lambda step: (step.minute, step.person))


def arrival_minute(rng: random.Random) -> float:
    roll = rng.random()
    if roll < 0.08:
        return rng.uniform(0, 30)
    if roll < 0.82:
        return rng.triangular(30, 120, 50)
    if roll < 0.92:
        return rng.uniform(120, 240)
    return rng.uniform(300, 420)


def departure_minute(rng: random.Random, arrival: float, *, lunch: float) -> float | None:
    """When they leave, or None for those who forget to check out."""
    roll = rng.random()
    if roll < 0.1:
        return None
    if roll < 0.15 and arrival < 60:
        # Came for the keynote only.
        return rng.uniform(90, 150)
    if roll < 0.28 and arrival < lunch - 60:
        return lunch + rng.uniform(-5, 20)
    if roll < 0.47 and arrival < 465:
        return rng.uniform(max(arrival + 60, 360), 525)
    return rng.uniform(555, 598)


def person_day(
    rng: random.Random,
    person: int,
    arrival: float,
    departure: float | None,
    starts: list[float],
    taken: Counter[tuple[int, str]],
) -> list[Step]:
    """The check-ins and check-outs of one person, from arrival to departure."""
    ends = [*starts[1:], float("inf")]
    slot = next(n for n, end in enumerate(ends) if arrival < end)
    if arrival > ends[slot] - 10:
        slot += 1
        arrival = starts[slot] + rng.uniform(0.5, 5)
    where = place(rng, slot, taken, arriving=True)
    moves = [(arrival, "in", area_of(where), where)]
    steps_out = arrival < starts[1] + 10 and rng.random() < 0.12
    for current in range(slot, len(PROGRAMME)):
        if current > slot:
            if departure is not None and starts[current] - 25 > departure:
                break
            there = place(rng, current, taken, arriving=False)
            moves += transition(rng, where, there, starts[current])
            where = there
        if current == 1 and steps_out:
            # Steps out during the keynote, to fetch something, and comes back.
            out = starts[1] + rng.uniform(15, 50)
            moves.append((out, "out", None, AWAY))
            moves.append((out + rng.uniform(10, 30), "in", area_of(where), where))
    kept = [move for move in moves if departure is None or move[0] < departure]
    if departure is not None and kept[-1][3] != AWAY:
        kept.append((departure, "out", None, AWAY))
    return [Step(minute, person, check, area) for minute, check, area, _ in kept]


def place(rng: random.Random, slot: int, taken: Counter[tuple[int, str]], *, arriving: bool) -> str:
    """Where someone goes in `slot` of the programme: to the main hall when the workshop
    is full, to the lounge when the hall is."""
    weights = PROGRAMME[slot][1]
    chosen = rng.choices(list(weights), weights=list(weights.values()))[0]
    if arriving and chosen == AWAY:
        chosen = LOUNGE
    fits = [where for where in (chosen, HALL) if AREAS.get(where) is None or taken[slot, where] < AREAS[where]]
    where = fits[0] if fits else LOUNGE
    taken[slot, where] += 1
    return where


def area_of(where: str) -> str | None:
    return where if where in AREAS else None


def transition(rng: random.Random, before: str, after: str, at: float) -> Iterator[tuple[float, str, str | None, str]]:
    """The steps from `before` to `after` around the programme change `at`: leaving a
    workshop before it, entering one after it (so no workshop ever holds more than its
    place in the programme), anything else around it."""
    if before == after:
        return
    leave = at - rng.uniform(1, 8)
    enter = at + rng.uniform(0, 8)
    if before in WORKSHOPS and after in WORKSHOPS:
        yield leave, "out", before, FOYER
        yield enter, "in", after, after
        return
    if before in WORKSHOPS:
        when = leave
    elif after in WORKSHOPS:
        when = enter
    elif after == AWAY:
        when = at + rng.uniform(-5, 15)
    elif before == AWAY:
        when = at + rng.uniform(-25, 8)
    else:
        when = at + rng.uniform(-8, 8)
    if after == AWAY:
        yield when, "out", None, AWAY
    elif before == AWAY:
        yield when, "in", area_of(after), after
    elif after == FOYER:
        yield when, "out", before, FOYER
    else:
        # Into an area from the foyer, or from another area (a move).
        yield when, "in", after, after
