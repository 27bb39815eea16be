"""Reads that need care: the attendee state derived from the history, and the times."""

from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    prefetch_related_objects,
)

from .models import Attendee, Visit


def _visits_of_row():
    return Visit.objects.filter(attendee=OuterRef("pk"))


def attendees_with_state(queryset: QuerySet[Attendee] | None = None) -> QuerySet[Attendee]:
    """Attendees annotated with `is_checked_in` and `is_checked_out`, derived from the
    visits in the same query, so state and history cannot disagree.

    Inside: an open visit exists. Left: visits exist and none is open. Neither: no visit.
    """
    queryset = Attendee.objects.all() if queryset is None else queryset
    inside = Exists(_visits_of_row().filter(checked_out_at__isnull=True))
    has_left = Exists(_visits_of_row().filter(checked_out_at__isnull=False))
    return queryset.annotate(
        is_checked_in=inside,
        is_checked_out=ExpressionWrapper(has_left & ~inside, output_field=BooleanField()),
    )


def attendees_with_times(queryset: QuerySet[Attendee] | None = None) -> QuerySet[Attendee]:
    """`attendees_with_state` plus the visits prefetched oldest first (one extra query
    for any number of attendees), for `checkin_times` and `checkout_times`."""
    return attendees_with_state(queryset).prefetch_related(visits_prefetch())


def attendee_with_times(attendee: Attendee) -> Attendee:
    """`attendee` with its visits fetched afresh (one query) and its state derived from
    those same visits, as `attendees_with_state` derives it in SQL: what a check-in or
    check-out answers with."""
    attendee._prefetched_objects_cache = {}
    prefetch_related_objects([attendee], visits_prefetch())
    visits = attendee.visits.all()
    attendee.is_checked_in = any(visit.checked_out_at is None for visit in visits)
    attendee.is_checked_out = bool(visits) and not attendee.is_checked_in
    return attendee


def visits_prefetch() -> Prefetch:
    """The visits of attendees, oldest first, with only what the times need."""
    visits = Visit.objects.order_by("checked_in_at", "id").only("attendee_id", "checked_in_at", "checked_out_at")
    return Prefetch("visits", queryset=visits)


def attendees_for_changelist(queryset: QuerySet[Attendee]) -> QuerySet[Attendee]:
    """`attendees_with_state` plus the latest check-in and check-out times, for the admin list."""
    latest = _visits_of_row().order_by("-checked_in_at", "-id")
    return (
        attendees_with_state(queryset)
        .select_related("event")
        .annotate(
            last_checked_in_at=Subquery(latest.values("checked_in_at")[:1]),
            last_checked_out_at=Subquery(latest.filter(checked_out_at__isnull=False).values("checked_out_at")[:1]),
        )
    )


def checkin_times(attendee: Attendee) -> list:
    """Check-in times, oldest first, from the prefetched visits."""
    return [visit.checked_in_at for visit in attendee.visits.all()]


def checkout_times(attendee: Attendee) -> list:
    """Check-out times, oldest first, from the prefetched visits."""
    return [visit.checked_out_at for visit in attendee.visits.all() if visit.checked_out_at is not None]


def count_inside(queryset: QuerySet[Attendee]) -> int:
    """How many of `queryset` are inside now (what a bulk check-out would check out)."""
    return attendees_with_state(queryset).filter(is_checked_in=True).count()
