"""Events, attendees, their visits and the record of every check-in and check-out.

A `Visit` is one stay inside: it opens with a check-in and closes with a check-out.
The state of an attendee is derived from their visits (see `selectors.py`) and so can
never disagree with them. The database enforces the rules that matter under
concurrency: at most one open visit per attendee, and no check-out before its check-in.

A `Record` is one check-in or check-out as it was recorded: when, where, by whom and
how. Records are append-only: a correction voids a record (saying who, when and why)
or adds one, and never deletes or rewrites one. A voided check-in voids its visit; a
voided check-out reopens it.
"""

import datetime
import functools
import secrets
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

# What a ticket's QR code holds. Generated ones are 22 characters from 128 random bits;
# organizers may bring their own from another ticketing system.
GENERATED_TICKET_CODE_BYTES = 16
TICKET_CODE_PATTERN = r"^[A-Za-z0-9._:-]{6,64}$"
ticket_code_validator = RegexValidator(
    TICKET_CODE_PATTERN,
    _("A ticket code has 6 to 64 characters: letters, digits and - _ . :"),
    code="invalid_ticket_code",
)


def new_ticket_code() -> str:
    """A fresh ticket code from the operating system's CSPRNG: 128 bits, URL-safe."""
    return secrets.token_urlsafe(GENERATED_TICKET_CODE_BYTES)


def default_timezone() -> str:
    return settings.TIME_ZONE


@functools.cache
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_timezone(name: str) -> None:
    if name not in _zone_names():
        raise ValidationError(
            _("%(name)s is not a time zone name; use an IANA name such as Europe/Berlin."),
            code="invalid_timezone",
            params={"name": name},
        )


class CountsWhoIsInside(models.Model):
    """A place with live counts (`counters`: `inside`, and more for an event), which only
    the services change (by conditional UPDATEs, in the same transaction as the stays):
    saving the place never writes them back, so a stale copy in memory cannot overwrite
    a count."""

    counters = ("inside",)

    inside = models.PositiveIntegerField(_("inside"), default=0, editable=False)

    class Meta:
        abstract = True

    def save(self, *args, update_fields=None, **kwargs):
        if update_fields is None and not self._state.adding:
            update_fields = [
                field.name
                for field in self._meta.concrete_fields
                if not field.primary_key and field.name not in self.counters
            ]
        super().save(*args, update_fields=update_fields, **kwargs)


class Event(CountsWhoIsInside):
    name = models.CharField(_("name"), max_length=200)
    starts_at = models.DateTimeField(_("starts at"), null=True, blank=True)
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True)
    auto_checkout_at = models.DateTimeField(
        _("auto checkout at"),
        null=True,
        blank=True,
        help_text=_(
            "When everyone still inside is checked out automatically; the time then moves on by a day "
            "while the event lasts."
        ),
    )
    capacity = models.PositiveIntegerField(
        _("capacity"), null=True, blank=True, help_text=_("How many people may be inside at once; empty for no limit.")
    )
    timezone = models.CharField(
        _("time zone"),
        max_length=64,
        default=default_timezone,
        validators=[validate_timezone],
        help_text=_("Where the event takes place, e.g. Europe/Berlin: its times are shown in this zone."),
    )
    # `inside`: how many are inside now, kept by the services in the same transaction as
    # the stays, so a live count is one row and the capacity holds under any concurrency.
    # `registered`: how many attendees the event has; `arrived`: how many of them have a
    # standing stay (inside now or left). Kept the same way, so the door's counts are one
    # row whatever the size.
    counters = ("inside", "registered", "arrived")
    registered = models.PositiveIntegerField(_("registered"), default=0, editable=False)
    arrived = models.PositiveIntegerField(_("arrived"), default=0, editable=False)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-starts_at", "id"]
        indexes = [models.Index(fields=["auto_checkout_at"], name="event_auto_checkout_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(starts_at__isnull=True) | Q(ends_at__gte=F("starts_at")),
                name="attendees_event_ends_after_start",
                violation_error_message=_("The event cannot end before it starts."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The event's time zone, for showing its times."""
        return zoneinfo.ZoneInfo(self.timezone)


class Attendee(models.Model):
    class State(models.TextChoices):
        """Where an attendee stands, derived from their stays in the event (see `selectors`)."""

        INSIDE = "inside", _("inside")
        LEFT = "left", _("left")
        NEVER_ARRIVED = "never_arrived", _("never arrived")

        @classmethod
        def of(cls, *, is_checked_in: bool, is_checked_out: bool) -> "Attendee.State":
            if is_checked_in:
                return cls.INSIDE
            return cls.LEFT if is_checked_out else cls.NEVER_ARRIVED

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="attendees", verbose_name=_("event"))
    first_name = models.CharField(_("first name"), max_length=150)
    last_name = models.CharField(_("last name"), max_length=150)
    email = models.EmailField(_("email"))
    # A secret: whoever holds it can open the ticket page, and a door scans it.
    ticket_code = models.CharField(
        _("ticket code"),
        max_length=64,
        unique=True,
        default=new_ticket_code,
        validators=[ticket_code_validator],
        help_text=_("What the QR code on the ticket holds. Made up by the server when left empty."),
    )

    class Meta:
        verbose_name = _("attendee")
        verbose_name_plural = _("attendees")
        ordering = ["last_name", "first_name", "id"]
        permissions = [
            ("record_attendance", _("Can check attendees in and out")),
            ("correct_attendance", _("Can correct attendance records")),
            ("override_capacity", _("Can admit attendees over capacity")),
        ]
        indexes = [
            models.Index(fields=["event", "last_name", "first_name"], name="attendee_event_name_idx"),
            models.Index(fields=["email"], name="attendee_email_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @classmethod
    def from_db(cls, db, field_names, values):
        attendee = super().from_db(db, field_names, values)
        # The event as stored, so that a save moving the attendee to another event can be
        # counted out of the one and into the other (see `services.count_registered`).
        attendee.stored_event_id = attendee.__dict__.get("event_id")
        return attendee


class Area(CountsWhoIsInside):
    """A room, zone or gated part of an event's venue, with its own capacity."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="areas", verbose_name=_("event"))
    name = models.CharField(_("name"), max_length=100)
    capacity = models.PositiveIntegerField(
        _("capacity"),
        null=True,
        blank=True,
        help_text=_("How many people may be in this area at once; empty for no limit."),
    )

    class Meta:
        verbose_name = _("area")
        verbose_name_plural = _("areas")
        ordering = ["event", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "name"], name="attendees_area_name_unique_per_event"),
        ]

    def __str__(self) -> str:
        return self.name


class VisitQuerySet(models.QuerySet):
    """The words of the domain for stays, each rule written once."""

    def standing(self) -> "VisitQuerySet":
        """Stays whose check-in has not been voided: the ones the state, the times and the figures count."""
        return self.filter(voided_at__isnull=True)

    def open(self) -> "VisitQuerySet":
        """Stays not yet ended by a check-out."""
        return self.filter(checked_out_at__isnull=True)

    def closed(self) -> "VisitQuerySet":
        return self.filter(checked_out_at__isnull=False)

    def in_event(self) -> "VisitQuerySet":
        """Stays inside the event itself (not in one of its areas)."""
        return self.filter(area__isnull=True)

    def in_areas(self) -> "VisitQuerySet":
        return self.filter(area__isnull=False)


class Visit(models.Model):
    """One stay: a check-in, and the check-out that ends it once it happens. A stay in
    the event has no `area`; a stay in one of its areas lies within a stay in the event."""

    # PROTECT: deleting an attendee must never silently delete their history.
    attendee = models.ForeignKey(Attendee, on_delete=models.PROTECT, related_name="visits", verbose_name=_("attendee"))
    checked_in_at = models.DateTimeField(_("checked in at"))
    checked_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("checked in by"),
    )
    checked_out_at = models.DateTimeField(_("checked out at"), null=True, blank=True)
    checked_out_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("checked out by"),
    )
    # Set when its check-in is voided: the stay is then left out of the state, the times
    # and the figures. Its records keep what was recorded.
    voided_at = models.DateTimeField(_("voided at"), null=True, blank=True)
    # PROTECT: an area with history cannot be deleted.
    area = models.ForeignKey(
        Area, on_delete=models.PROTECT, null=True, blank=True, related_name="visits", verbose_name=_("area")
    )

    objects = VisitQuerySet.as_manager()

    class Meta:
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        ordering = ["checked_in_at", "id"]
        indexes = [
            models.Index(fields=["attendee", "checked_in_at"], name="visit_attendee_in_idx"),
            # Finds the visits a check-out just closed, and the last check-out, without
            # reading the attendee's whole history.
            models.Index(fields=["attendee", "checked_out_at"], name="visit_attendee_out_idx"),
            # Find the stays that began or ended in one minute, to keep its `PlaceMinute`s.
            models.Index(fields=["checked_in_at"], name="visit_in_idx"),
            models.Index(fields=["checked_out_at"], name="visit_out_idx"),
        ]
        constraints = [
            # At most one open stay in the event per attendee: a second check-in of someone
            # inside fails in the database, whatever the number of app servers.
            models.UniqueConstraint(
                fields=["attendee"],
                condition=Q(checked_out_at__isnull=True, voided_at__isnull=True, area__isnull=True),
                name="attendees_one_open_visit_per_attendee",
            ),
            # And at most one open stay in any of its areas: nobody is in two areas at once.
            models.UniqueConstraint(
                fields=["attendee"],
                condition=Q(checked_out_at__isnull=True, voided_at__isnull=True, area__isnull=False),
                name="attendees_one_open_area_stay_per_attendee",
            ),
            models.CheckConstraint(
                condition=Q(checked_out_at__isnull=True) | Q(checked_out_at__gte=F("checked_in_at")),
                name="attendees_visit_out_after_in",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.attendee} {self.checked_in_at:%Y-%m-%d %H:%M:%S}"


class PlaceMinute(models.Model):
    """What happened in one place in one minute, kept by the services in the same
    transaction as the stays (and rebuilt from them by `recount`): how many standing
    stays began and ended in it, and `rise`, the highest the number inside went within
    the minute, counted from the minute's start, with check-outs before check-ins at the
    same instant. The place is the event itself (`area_key` 0) or one of its areas (its
    id). The figures and the occupancy chart read these, a few hundred rows for a day,
    rather than every stay: the true peak inside is the highest of the numbers inside
    before each minute plus its rise."""

    EVENT = 0

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+", verbose_name=_("event"))
    area_key = models.PositiveIntegerField(_("area"), help_text=_("The area's id; 0 for the event itself."))
    minute = models.DateTimeField(_("minute"))
    check_ins = models.PositiveIntegerField(_("check-ins"))
    check_outs = models.PositiveIntegerField(_("check-outs"))
    rise = models.IntegerField(_("rise"))
    # When the latest of them began or ended: a record at or after it is added to the
    # row as it stands; one before it rebuilds the minute from its stays.
    last_at = models.DateTimeField(_("last at"))

    class Meta:
        verbose_name = _("minute of a place")
        verbose_name_plural = _("minutes of places")
        constraints = [
            models.UniqueConstraint(fields=["event", "area_key", "minute"], name="attendees_one_place_minute"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id}/{self.area_key} {self.minute:%Y-%m-%d %H:%M}"


class Microseconds(models.Func):
    """A duration in whole microseconds."""

    output_field = models.BigIntegerField()

    def as_sql(self, compiler, connection, **extra_context):
        # Django's durations are whole microseconds in SQL on SQLite already.
        return compiler.compile(self.source_expressions[0])

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"(EXTRACT(EPOCH FROM ({sql})) * 1000000)::bigint", params


class TimeInside(models.Model):
    """One attendee's time inside the event, kept by the services in the same
    transaction as their stays (and rebuilt from them by `recount`), for the median of
    the figures: how many standing stays they have in the event, whether one is open,
    and `microseconds`, the total of the closed ones, less, while one is open, its start
    in microseconds since 1970. Their time inside at a moment is `microseconds` plus,
    while inside, that moment in microseconds since 1970: a sum of two whole numbers,
    exact, so the database sorts the event's times without reading a single stay."""

    EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)

    attendee = models.OneToOneField(
        Attendee, on_delete=models.CASCADE, primary_key=True, related_name="+", verbose_name=_("attendee")
    )
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+", verbose_name=_("event"))
    stays = models.PositiveIntegerField(_("stays"))
    open_stays = models.PositiveIntegerField(_("open stays"))
    microseconds = models.BigIntegerField(_("microseconds"))

    class Meta:
        verbose_name = _("time inside")
        verbose_name_plural = _("times inside")
        # An event's times inside, readable from the index alone among many events'.
        indexes = [models.Index(fields=["event", "stays", "open_stays", "microseconds"], name="timeinside_event_idx")]

    def __str__(self) -> str:
        return f"{self.attendee_id}: {self.stays} stays"


class RecordQuerySet(models.QuerySet):
    def standing(self) -> "RecordQuerySet":
        """Records that have not been voided: what the state follows."""
        return self.filter(voided_at__isnull=True)


class Record(models.Model):
    """One check-in or check-out as recorded; never deleted, only voided."""

    class Type(models.TextChoices):
        CHECK_IN = "check_in", _("check-in")
        CHECK_OUT = "check_out", _("check-out")

    class Source(models.TextChoices):
        API = "api", _("API")
        ADMIN = "admin", _("admin")
        COMMAND = "command", _("command")
        AUTO = "auto", _("scheduled check-out")
        CORRECTION = "correction", _("correction")
        SCAN = "scan", _("scan")
        OFFLINE = "offline", _("offline scan")

    attendee = models.ForeignKey(Attendee, on_delete=models.PROTECT, related_name="records", verbose_name=_("attendee"))
    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="records", verbose_name=_("visit"))
    type = models.CharField(_("type"), max_length=9, choices=Type)
    # When it happened: the server's time, or the past time a correction gives.
    at = models.DateTimeField(_("at"))
    # When it was written; differs from `at` only for corrections.
    recorded_at = models.DateTimeField(_("recorded at"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    station = models.CharField(_("station"), max_length=100, blank=True)
    source = models.CharField(_("source"), max_length=10, choices=Source)
    # The area of the stay, as on its visit; kept here so the history reads it directly.
    area = models.ForeignKey(
        Area, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("area")
    )
    # A check-in admitted over the place's capacity by someone allowed to.
    capacity_override = models.BooleanField(_("capacity override"), default=False)
    reason = models.TextField(_("reason"), blank=True, help_text=_("Why a correction added this record."))
    voided_at = models.DateTimeField(_("voided at"), null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("voided by"),
    )
    void_reason = models.TextField(_("void reason"), blank=True)

    objects = RecordQuerySet.as_manager()

    class Meta:
        verbose_name = _("record")
        verbose_name_plural = _("records")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["attendee", "at"], name="record_attendee_at_idx")]
        constraints = [
            # A visit has one standing check-in and at most one standing check-out.
            models.UniqueConstraint(
                fields=["visit", "type"],
                condition=Q(voided_at__isnull=True),
                name="attendees_one_standing_record_per_visit_and_type",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} of {self.attendee} at {self.at:%Y-%m-%d %H:%M:%S}"


class RefusedScan(models.Model):
    """A scan the door was refused (unknown ticket, wrong event, a rule's refusal), kept
    for review; append-only, never deleted."""

    class Direction(models.TextChoices):
        IN = "in", _("in")
        OUT = "out", _("out")
        AUTO = "auto", _("auto")

    # When the scan happened, and when the server wrote it down.
    at = models.DateTimeField(_("at"))
    recorded_at = models.DateTimeField(_("recorded at"))
    # What was scanned, as scanned: a secret like any ticket code.
    ticket_code = models.CharField(_("ticket code"), max_length=200)
    event = models.ForeignKey(
        Event, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("event")
    )
    attendee = models.ForeignKey(
        Attendee, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("attendee")
    )
    area = models.ForeignKey(
        Area, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("area")
    )
    direction = models.CharField(_("direction"), max_length=4, choices=Direction)
    station = models.CharField(_("station"), max_length=100, blank=True)
    reason = models.CharField(_("reason"), max_length=50)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    offline = models.BooleanField(_("offline"), default=False)

    class Meta:
        verbose_name = _("refused scan")
        verbose_name_plural = _("refused scans")
        ordering = ["-recorded_at", "-id"]
        indexes = [models.Index(fields=["event", "recorded_at"], name="refusedscan_event_idx")]

    def __str__(self) -> str:
        return f"{self.reason} at {self.at:%Y-%m-%d %H:%M:%S}"


class FirstAnswer(models.Model):
    """The first answer to something a user sent, kept so that sending it again replays
    it rather than acting twice: one per user and key (each model names its key)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        abstract = True


class IdempotentRequest(FirstAnswer):
    """The first response to a request sent with an `Idempotency-Key`, replayed on retries."""

    key = models.CharField(_("key"), max_length=255)
    fingerprint = models.CharField(_("fingerprint"), max_length=64)
    status_code = models.PositiveSmallIntegerField(_("status code"), null=True)
    # JSON text rather than a JSONField: PostgreSQL's jsonb would reorder the keys, and a
    # replay must be the same body as the first response.
    body = models.TextField(_("body"), blank=True)

    class Meta:
        verbose_name = _("idempotent request")
        verbose_name_plural = _("idempotent requests")
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="attendees_idempotency_key_per_user"),
        ]

    def __str__(self) -> str:
        return self.key


class OfflineScan(FirstAnswer):
    """The answer the server gave to a scan a door device made offline, by the device's
    `nonce` for it: a batch sent again gets the same answers and records nothing new."""

    nonce = models.CharField(_("nonce"), max_length=64)
    # JSON text of the first answer, as given.
    result = models.TextField(_("result"))

    class Meta:
        verbose_name = _("offline scan")
        verbose_name_plural = _("offline scans")
        constraints = [
            models.UniqueConstraint(fields=["user", "nonce"], name="attendees_offline_scan_nonce_per_user"),
        ]

    def __str__(self) -> str:
        return self.nonce
