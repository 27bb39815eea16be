"""Events, attendees and their visits.

A `Visit` is one stay inside: it opens with a check-in and closes with a check-out.
The history is the list of visits, never rewritten; the state of an attendee is
derived from it (see `selectors.py`) and so can never disagree with it. The database
enforces the rules that matter under concurrency: at most one open visit per attendee,
and no check-out before its check-in.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class Event(models.Model):
    name = models.CharField(max_length=200)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(starts_at__isnull=True) | Q(ends_at__gte=F("starts_at")),
                name="attendees_event_ends_after_start",
                violation_error_message="The event cannot end before it starts.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Attendee(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="attendees")
    first_name = models.CharField(max_length=150)
    last_name = models.CharField(max_length=150)
    email = models.EmailField()

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        permissions = [("record_attendance", "Can check attendees in and out")]
        indexes = [
            models.Index(fields=["event", "last_name", "first_name"], name="attendee_event_name_idx"),
            models.Index(fields=["email"], name="attendee_email_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Visit(models.Model):
    """One stay: a check-in, and the check-out that ends it once it happens."""

    # PROTECT: deleting an attendee must never silently delete their history.
    attendee = models.ForeignKey(Attendee, on_delete=models.PROTECT, related_name="visits")
    checked_in_at = models.DateTimeField()
    checked_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    checked_out_at = models.DateTimeField(null=True, blank=True)
    checked_out_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["checked_in_at", "id"]
        indexes = [models.Index(fields=["attendee", "checked_in_at"], name="visit_attendee_in_idx")]
        constraints = [
            # At most one open visit per attendee: a second check-in of someone inside
            # fails in the database, whatever the number of app servers.
            models.UniqueConstraint(
                fields=["attendee"],
                condition=Q(checked_out_at__isnull=True),
                name="attendees_one_open_visit_per_attendee",
            ),
            models.CheckConstraint(
                condition=Q(checked_out_at__isnull=True) | Q(checked_out_at__gte=F("checked_in_at")),
                name="attendees_visit_out_after_in",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.attendee} {self.checked_in_at:%Y-%m-%d %H:%M:%S}"


class IdempotentRequest(models.Model):
    """The first response to a request sent with an `Idempotency-Key`, replayed on retries."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    # JSON text rather than a JSONField: PostgreSQL's jsonb would reorder the keys, and a
    # replay must be the same body as the first response.
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="attendees_idempotency_key_per_user"),
        ]

    def __str__(self) -> str:
        return self.key
