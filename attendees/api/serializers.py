import datetime

from django.db import models
from rest_framework import serializers
from rest_framework.fields import empty

from .. import selectors
from ..models import Attendee, Event

STATE_FIELDS = ("is_checked_in", "is_checked_out")


class UTCDateTimeField(serializers.DateTimeField):
    """ISO 8601 in UTC ending in `Z`, whatever the project's TIME_ZONE."""

    def __init__(self, **kwargs):
        super().__init__(format="iso-8601", default_timezone=datetime.UTC, **kwargs)


class StateFlagField(serializers.BooleanField):
    """`true` asks for a check-in/out; `false` is refused. An unticked box in the
    browsable API's HTML form means "not sent", not `false`."""

    default_empty_html = empty

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value is not True:
            raise serializers.ValidationError(
                "Only true is accepted: it checks the attendee in or out now. "
                "The state follows the history and cannot be set to false."
            )
        return value


class StrictCharField(serializers.CharField):
    """A string, and only a string: DRF would otherwise turn `5` into `"5"`."""

    default_error_messages = {"not_a_string": "Not a valid string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class StrictEmailField(StrictCharField, serializers.EmailField):
    pass


class StrictModelSerializer(serializers.ModelSerializer):
    """Wrong types are a 400, not silently converted."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.EmailField: StrictEmailField,
    }


class TimesField(serializers.ListField):
    """A read-only list of UTC times, picked from the attendee by `select`."""

    def __init__(self, select, **kwargs):
        self.select = select
        super().__init__(child=UTCDateTimeField(), read_only=True, source="*", **kwargs)

    def to_representation(self, attendee):
        return super().to_representation(self.select(attendee))


class EventSerializer(StrictModelSerializer):
    starts_at = UTCDateTimeField(required=False, allow_null=True)
    ends_at = UTCDateTimeField(required=False, allow_null=True)

    class Meta:
        model = Event
        fields = ["id", "name", "starts_at", "ends_at"]

    def validate(self, attrs):
        starts_at = attrs.get("starts_at", getattr(self.instance, "starts_at", None))
        ends_at = attrs.get("ends_at", getattr(self.instance, "ends_at", None))
        if starts_at and ends_at and ends_at < starts_at:
            raise serializers.ValidationError({"ends_at": ["The event cannot end before it starts."]})
        return attrs


class AttendeeSerializer(StrictModelSerializer):
    """An attendee, their state and their times. The times are read-only: the server
    stamps them; a client that sends them is ignored."""

    is_checked_in = StateFlagField(required=False)
    is_checked_out = StateFlagField(required=False)
    checkin_times = TimesField(selectors.checkin_times, help_text="Check-in times, oldest first, UTC.")
    checkout_times = TimesField(selectors.checkout_times, help_text="Check-out times, oldest first, UTC.")

    class Meta:
        model = Attendee
        fields = [
            "id",
            "event",
            "first_name",
            "last_name",
            "email",
            "is_checked_in",
            "is_checked_out",
            "checkin_times",
            "checkout_times",
        ]

    def validate(self, attrs):
        if all(attrs.get(name) for name in STATE_FIELDS):
            raise serializers.ValidationError({"non_field_errors": ["Send is_checked_in or is_checked_out, not both."]})
        return attrs


class AttendanceRequestSerializer(serializers.Serializer):
    """The body of a check-in or check-out: nothing is needed, the time is the server's."""


class ConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()


class BulkCheckOutSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        allow_empty=False,
        max_length=10_000,
        help_text="Attendees to check out.",
    )
    event = serializers.PrimaryKeyRelatedField(
        queryset=Event.objects.all(), required=False, help_text="Check out everyone of this event."
    )

    def validate(self, attrs):
        ids, event = attrs.get("ids"), attrs.get("event")
        if ids is None and event is None:
            raise serializers.ValidationError({"non_field_errors": ["Send ids, event, or both."]})
        if ids is not None:
            ids = sorted(set(ids))
            events_of = dict(Attendee.objects.filter(pk__in=ids).values_list("pk", "event_id"))
            unknown = [pk for pk in ids if pk not in events_of]
            if unknown:
                raise serializers.ValidationError({"ids": [f"Unknown attendee ids: {_listed(unknown)}."]})
            if event is not None:
                elsewhere = [pk for pk in ids if events_of[pk] != event.pk]
                if elsewhere:
                    raise serializers.ValidationError(
                        {"ids": [f"Attendees {_listed(elsewhere)} are not in event {event.pk}."]}
                    )
            attrs["ids"] = ids
        return attrs

    def attendees(self):
        """The attendees the validated request selects."""
        queryset = Attendee.objects.all()
        if "event" in self.validated_data:
            queryset = queryset.filter(event=self.validated_data["event"])
        if "ids" in self.validated_data:
            queryset = queryset.filter(pk__in=self.validated_data["ids"])
        return queryset


class BulkResultSerializer(serializers.Serializer):
    checked_out = serializers.IntegerField()
    skipped = serializers.IntegerField()


def _listed(ids: list[int], limit: int = 20) -> str:
    shown = ", ".join(str(pk) for pk in ids[:limit])
    return shown if len(ids) <= limit else f"{shown} and {len(ids) - limit} more"
