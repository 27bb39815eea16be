import copy
import datetime

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from .. import selectors
from ..models import Area, Attendee, Event, Record, RefusedScan

CHANGE_ATTENDEE = "attendees.change_attendee"


def _may_see_ticket_codes(serializer: serializers.Serializer) -> bool:
    """Ticket codes are secrets: only those who may change attendees see or set them."""
    if getattr(serializer.context.get("view"), "swagger_fake_view", False):
        return True  # The OpenAPI document describes the field for those who see it.
    request = serializer.context.get("request")
    return bool(request and request.user and request.user.has_perm(CHANGE_ATTENDEE))


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
                gettext(
                    "Only true is accepted: it checks the attendee in or out now. "
                    "The state follows the history and cannot be set to false."
                )
            )
        return value


class StrictCharField(serializers.CharField):
    """A string, and only a string: DRF would otherwise turn `5` into `"5"`."""

    default_error_messages = {"not_a_string": _("Not a valid string.")}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class StrictEmailField(StrictCharField, serializers.EmailField):
    pass


class TicketCodeForEditorsOnly:
    """Leaves `ticket_code` out of a serializer for anyone who may not change attendees."""

    def get_fields(self):
        fields = super().get_fields()
        if not _may_see_ticket_codes(self):
            del fields["ticket_code"]
        return fields


def fresh_copy(field: serializers.Field) -> serializers.Field:
    """A copy of an unbound field for one serializer instance, as the REST framework's
    deep copy gives, without running the field's `__init__` again (most of the time a
    serializer takes to set up): its own attributes, to which binding adds its name and
    parent, sharing what a field only reads (validators, messages, choices). A field's
    child (`ListField`, many related) is copied too and made the copy's child. Nested
    serializers, and fields with a mutable default, are deep-copied as before."""
    if isinstance(field, serializers.BaseSerializer) or isinstance(field.default, (list, dict, set)):
        return copy.deepcopy(field)
    clone = object.__new__(type(field))
    clone.__dict__.update(field.__dict__)
    for name in ("child", "child_relation"):
        inner = field.__dict__.get(name)
        if inner is not None:
            inner = fresh_copy(inner)
            inner.parent = clone
            setattr(clone, name, inner)
    return clone


class FieldsBuiltOnce:
    """A serializer whose fields are built once per class (from the model, for a model
    serializer), not on every instance as the REST framework does; each instance gets
    its own copies (see `fresh_copy`), as it gets its declared fields."""

    def get_fields(self):
        built = type(self).__dict__.get("_fields_built")
        if built is None:
            built = super().get_fields()
            type(self)._fields_built = built
        return {name: fresh_copy(field) for name, field in built.items()}


class StrictModelSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
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


class CapacityField(serializers.IntegerField):
    """How many people a place holds at once: a whole number, 0 or more, or null for no limit."""

    def __init__(self, **kwargs):
        super().__init__(required=False, allow_null=True, min_value=0, max_value=2**31 - 1, **kwargs)


class EventSerializer(StrictModelSerializer):
    starts_at = UTCDateTimeField(required=False, allow_null=True)
    ends_at = UTCDateTimeField(required=False, allow_null=True)
    auto_checkout_at = UTCDateTimeField(
        required=False,
        allow_null=True,
        help_text="When everyone still inside is checked out automatically; the time then moves on by a day while "
        "the event lasts.",
    )

    capacity = CapacityField(help_text="How many people may be inside at once; null for no limit.")

    class Meta:
        model = Event
        fields = ["id", "name", "starts_at", "ends_at", "auto_checkout_at", "capacity", "inside", "timezone"]
        read_only_fields = ["inside"]
        extra_kwargs = {"inside": {"help_text": "How many are inside now."}}

    def validate(self, attrs):
        starts_at = attrs.get("starts_at", getattr(self.instance, "starts_at", None))
        ends_at = attrs.get("ends_at", getattr(self.instance, "ends_at", None))
        if starts_at and ends_at and ends_at < starts_at:
            raise serializers.ValidationError({"ends_at": [gettext("The event cannot end before it starts.")]})
        return attrs


class StationField(StrictCharField):
    """Where a check-in or check-out happened (at most 100 characters, optional); stored with its record."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "Where it happened, e.g. North door; stored with the record.")
        super().__init__(required=False, allow_blank=True, max_length=100, **kwargs)


class AreaSerializer(StrictModelSerializer):
    """A room, zone or gated part of an event's venue. `inside` is live and read-only."""

    capacity = CapacityField(help_text="How many people may be in the area at once; null for no limit.")

    class Meta:
        model = Area
        fields = ["id", "event", "name", "capacity", "inside"]
        read_only_fields = ["inside"]
        extra_kwargs = {"inside": {"help_text": "How many are in the area now."}}


class LookedUpOnce:
    """A related field that, among serializers sharing a `lookups` dict in their context
    (the scans of one batch), looks each id up once."""

    def to_internal_value(self, data):
        lookups = self.context.get("lookups")
        if lookups is None:
            return super().to_internal_value(data)
        key = (self.queryset.model, str(data))
        if key not in lookups:
            lookups[key] = super().to_internal_value(data)
        return lookups[key]


class EventField(LookedUpOnce, serializers.PrimaryKeyRelatedField):
    def __init__(self, **kwargs):
        super().__init__(queryset=Event.objects.all(), required=False, **kwargs)


class AreaField(LookedUpOnce, serializers.PrimaryKeyRelatedField):
    """An area, by id; `event_of` says which event it must belong to (else a 400 under `area`)."""

    default_error_messages = {"other_event": _("Area {area} is not an area of event {event}.")}

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "An area of the event, by id: the check-in or check-out is into or out of it.")
        super().__init__(queryset=Area.objects.select_related("event"), required=False, **kwargs)


class OverrideCapacityField(serializers.BooleanField):
    def __init__(self, **kwargs):
        super().__init__(
            required=False,
            default=False,
            help_text="Admit even when the place is full; needs the permission override_capacity.",
            **kwargs,
        )


def check_area_of_event(area: Area | None, event_id: int | None) -> None:
    if area is not None and event_id is not None and area.event_id != event_id:
        raise serializers.ValidationError(
            {"area": [AreaField.default_error_messages["other_event"].format(area=area.pk, event=event_id)]}
        )


class AttendeeSerializer(TicketCodeForEditorsOnly, StrictModelSerializer):
    """An attendee, their state and their times. The times are read-only: the server
    stamps them; a client that sends them is ignored."""

    is_checked_in = StateFlagField(required=False)
    is_checked_out = StateFlagField(required=False)
    station = StationField(
        write_only=True, help_text="Where a check-in or check-out sent with is_checked_in/is_checked_out happened."
    )
    checkin_times = TimesField(selectors.checkin_times, help_text="Check-in times, oldest first, UTC.")
    checkout_times = TimesField(selectors.checkout_times, help_text="Check-out times, oldest first, UTC.")
    area = serializers.SerializerMethodField(help_text="The area the attendee is in now, if any.")

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
            "station",
            "ticket_code",
            "area",
        ]
        extra_kwargs = {
            "ticket_code": {
                "required": False,
                "help_text": "What the QR code on the ticket holds: 6 to 64 of A-Z a-z 0-9 - _ . : (made up by the "
                "server when not sent). Only shown to, and set by, users who may change attendees.",
            }
        }

    def get_area(self, attendee: Attendee) -> int | None:
        return selectors.current_area_id(attendee)

    def validate(self, attrs):
        if all(attrs.get(name) for name in STATE_FIELDS):
            raise serializers.ValidationError(
                {"non_field_errors": [gettext("Send is_checked_in or is_checked_out, not both.")]}
            )
        return attrs


class AttendanceRequestSerializer(FieldsBuiltOnce, serializers.Serializer):
    """The body of a check-in or check-out: nothing is needed, the time is the server's."""

    station = StationField()
    area = AreaField()
    override_capacity = OverrideCapacityField()

    def validate(self, attrs):
        check_area_of_event(attrs.get("area"), self.context["attendee"].event_id)
        return attrs


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
    station = StationField()
    area = AreaField(help_text="Only end the stays in this area; the attendees stay inside the event.")

    def validate(self, attrs):
        ids, event = attrs.get("ids"), attrs.get("event")
        if ids is None and event is None:
            raise serializers.ValidationError({"non_field_errors": [gettext("Send ids, event, or both.")]})
        area = attrs.get("area")
        check_area_of_event(area, event.pk if event is not None else None)
        if area is not None and ids is not None:
            elsewhere = sorted(
                set(Attendee.objects.filter(pk__in=ids).exclude(event=area.event_id).values_list("pk", flat=True))
            )
            if elsewhere:
                message = ngettext(
                    "Area %(area)s is not an area of the event of attendee %(ids)s.",
                    "Area %(area)s is not an area of the event of attendees %(ids)s.",
                    len(elsewhere),
                )
                raise serializers.ValidationError({"area": [message % {"area": area.pk, "ids": _listed(elsewhere)}]})
        if ids is not None:
            ids = sorted(set(ids))
            events_of = dict(Attendee.objects.filter(pk__in=ids).values_list("pk", "event_id"))
            unknown = [pk for pk in ids if pk not in events_of]
            if unknown:
                message = ngettext("Unknown attendee id: %(ids)s.", "Unknown attendee ids: %(ids)s.", len(unknown))
                raise serializers.ValidationError({"ids": [message % {"ids": _listed(unknown)}]})
            if event is not None:
                elsewhere = [pk for pk in ids if events_of[pk] != event.pk]
                if elsewhere:
                    message = ngettext(
                        "Attendee %(ids)s is not in event %(event)s.",
                        "Attendees %(ids)s are not in event %(event)s.",
                        len(elsewhere),
                    )
                    raise serializers.ValidationError(
                        {"ids": [message % {"ids": _listed(elsewhere), "event": event.pk}]}
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


class VoidSerializer(serializers.Serializer):
    at = UTCDateTimeField(source="voided_at")
    by = serializers.SerializerMethodField()
    reason = serializers.CharField(source="void_reason")

    def get_by(self, record: Record) -> str | None:
        return record.voided_by.get_username() if record.voided_by else None


class RecordSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    """One check-in or check-out as recorded. `recorded_at` (when it was written) and
    `reason` differ from `at` and "" only for records that a correction added."""

    at = UTCDateTimeField()
    recorded_at = UTCDateTimeField()
    recorded_by = serializers.SerializerMethodField()
    voided = serializers.SerializerMethodField()

    class Meta:
        model = Record
        fields = [
            "id",
            "type",
            "at",
            "station",
            "recorded_by",
            "source",
            "voided",
            "recorded_at",
            "reason",
            "area",
            "capacity_override",
        ]

    def get_recorded_by(self, record: Record) -> str | None:
        return record.recorded_by.get_username() if record.recorded_by else None

    @extend_schema_field(VoidSerializer(allow_null=True))
    def get_voided(self, record: Record) -> dict | None:
        return VoidSerializer(record).data if record.voided_at else None


class CorrectionSerializer(serializers.Serializer):
    """Void a record, or add the missed check-out of the attendee inside; always with a reason."""

    void = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="Id of the record to void (see history)."
    )
    check_out_at = UTCDateTimeField(
        required=False, help_text="When the attendee inside actually left: in the past, after their check-in."
    )
    reason = StrictCharField(max_length=500, help_text="Why; kept in the history.")

    def validate_check_out_at(self, value):
        if value > timezone.now():
            raise serializers.ValidationError(gettext("A correction cannot record a time in the future."))
        return value

    def validate(self, attrs):
        if ("void" in attrs) == ("check_out_at" in attrs):
            raise serializers.ValidationError({"non_field_errors": [gettext("Send either void or check_out_at.")]})
        if "void" in attrs:
            attendee = self.context["attendee"]
            record = Record.objects.filter(pk=attrs["void"], attendee=attendee).first()
            if record is None:
                message = gettext("Attendee %(attendee)s has no record %(record)s.") % {
                    "attendee": attendee.pk,
                    "record": attrs["void"],
                }
                raise serializers.ValidationError({"void": [message]})
            attrs["record"] = record
        return attrs


class ScanSerializer(FieldsBuiltOnce, serializers.Serializer):
    """A ticket scanned at the door."""

    ticket_code = StrictCharField(
        max_length=200, help_text="What the QR code holds; case-sensitive, spaces around it are trimmed."
    )
    direction = serializers.ChoiceField(
        choices=["in", "out", "auto"],
        default="auto",
        help_text="in, out, or auto: in unless inside, else out.",
    )
    # An id, compared with the attendee's event id, so a scan that goes through reads no
    # event; an id no event has is a 400 all the same.
    event = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2**63 - 1,
        help_text="The event the door scans for; a ticket of another event is refused with wrong_event.",
    )
    station = StationField()
    area = AreaField(help_text="The area the door scans for: the scan checks into or out of it.")
    override_capacity = OverrideCapacityField()

    def validate(self, attrs):
        check_area_of_event(attrs.get("area"), attrs.get("event"))
        return attrs


def unknown_event_message(event_id: int) -> str:
    """What the REST framework says of an id no event has."""
    return serializers.PrimaryKeyRelatedField.default_error_messages["does_not_exist"].format(pk_value=event_id)


class ScanResultSerializer(serializers.Serializer):
    result = serializers.ChoiceField(choices=["checked_in", "checked_out"])
    attendee = AttendeeSerializer()
    record = RecordSerializer()


class ScanRefusalSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    attendee = AttendeeSerializer(help_text="Whose ticket it was.")


class RefusedScanSerializer(TicketCodeForEditorsOnly, FieldsBuiltOnce, serializers.ModelSerializer):
    """A refused scan, kept for review. `ticket_code` only for users who may change attendees."""

    at = UTCDateTimeField(help_text="When the scan happened.")
    recorded_at = UTCDateTimeField(help_text="When the server wrote it down.")
    recorded_by = serializers.SerializerMethodField()

    class Meta:
        model = RefusedScan
        fields = [
            "id",
            "at",
            "recorded_at",
            "ticket_code",
            "event",
            "attendee",
            "direction",
            "area",
            "station",
            "reason",
            "recorded_by",
            "offline",
        ]
        read_only_fields = fields

    def get_recorded_by(self, scan: RefusedScan) -> str | None:
        return scan.recorded_by.get_username() if scan.recorded_by else None


class AreaFiguresSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    capacity = serializers.IntegerField(allow_null=True)
    inside = serializers.IntegerField()
    peak_inside = serializers.IntegerField()
    check_ins = serializers.IntegerField()


class AttendanceFiguresSerializer(serializers.Serializer):
    registered = serializers.IntegerField()
    inside = serializers.IntegerField()
    left = serializers.IntegerField()
    never_arrived = serializers.IntegerField()
    check_ins = serializers.IntegerField()
    check_outs = serializers.IntegerField()
    median_seconds_inside = serializers.FloatField(
        allow_null=True, help_text="Median of the total time inside of those who came; null if nobody came."
    )
    capacity = serializers.IntegerField(allow_null=True)
    peak_inside = serializers.IntegerField(help_text="The most inside at once, from the records.")
    areas = AreaFiguresSerializer(many=True)


class BulkResultSerializer(serializers.Serializer):
    checked_out = serializers.IntegerField()
    skipped = serializers.IntegerField()


def _listed(ids: list[int], limit: int = 20) -> str:
    shown = ", ".join(str(pk) for pk in ids[:limit])
    if len(ids) <= limit:
        return shown
    more = len(ids) - limit
    return ngettext("%(ids)s and %(count)d more", "%(ids)s and %(count)d more", more) % {"ids": shown, "count": more}


class RosterAttendeeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    ticket_code_sha256 = serializers.CharField(help_text="Hex SHA-256 of the ticket code; never the code.")
    state = serializers.ChoiceField(choices=Attendee.State.values)
    area = serializers.IntegerField(allow_null=True)


class RosterSerializer(serializers.Serializer):
    event = serializers.IntegerField()
    at = UTCDateTimeField(help_text="The server's time when the roster was read.")
    attendees = RosterAttendeeSerializer(many=True)


NONCE_PATTERN = r"^[\x20-\x7e]{1,64}$"


class BatchScanItemSerializer(serializers.Serializer):
    """The shape every scan of a batch must have, or the whole batch is a 400."""

    nonce = serializers.RegexField(
        NONCE_PATTERN, help_text="The device's id for this scan: 1 to 64 printable ASCII characters."
    )
    at = UTCDateTimeField(help_text="When the scan happened, by the device's clock (ISO 8601).")


class BatchScanSerializer(BatchScanItemSerializer):
    """One offline scan; a scan that is wrong here (but has a valid nonce and time) is refused alone."""

    ticket_code = StrictCharField(max_length=200, required=False, help_text="What was scanned.")
    attendee = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="Or the attendee tapped in the device's list."
    )
    direction = serializers.ChoiceField(choices=["in", "out", "auto"], default="auto")
    event = EventField()
    area = AreaField()
    station = StationField()

    def validate(self, attrs):
        if ("ticket_code" in attrs) == ("attendee" in attrs):
            raise serializers.ValidationError({"non_field_errors": [gettext("Send ticket_code or attendee.")]})
        event = attrs.get("event")
        check_area_of_event(attrs.get("area"), event.pk if event is not None else None)
        return attrs


class BatchSerializer(serializers.Serializer):
    scans = serializers.ListField(
        child=serializers.DictField(), min_length=1, max_length=500, help_text="1 to 500 scans, in the order made."
    )

    def validate_scans(self, scans):
        """Each scan's nonce and time, checked here, beside the scan as sent:
        `{"nonce", "at", "scan"}`."""
        errors = {}
        items = []
        for index, scan in enumerate(scans):
            item = BatchScanItemSerializer(data=scan)
            if item.is_valid():
                items.append({**item.validated_data, "scan": scan})
            else:
                errors[index] = item.errors
        if errors:
            raise serializers.ValidationError(errors)
        return items


class BatchResultSerializer(serializers.Serializer):
    nonce = serializers.CharField()
    status = serializers.ChoiceField(choices=["recorded", "refused"])
    code = serializers.CharField(required=False, help_text="Why it was refused.")
    record = RecordSerializer(required=False, help_text="The record written, for a recorded scan.")
    errors = serializers.DictField(required=False, help_text="What was wrong with a scan refused as invalid.")
    duplicate = serializers.BooleanField(help_text="The nonce was seen before: this is its first answer again.")


class BatchAnswerSerializer(serializers.Serializer):
    results = BatchResultSerializer(many=True)
