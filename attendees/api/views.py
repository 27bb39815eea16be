import json
from collections.abc import Callable

from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.text import compress_sequence
from django.utils.translation import gettext
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import filters, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings

from .. import exports, selectors, services
from ..conf import app_settings
from ..exceptions import UnknownTicket
from ..models import Area, Attendee, Event, Record
from .exceptions import conflict_body, exception_handler
from .filters import AreaFilter, AttendeeFilter, RefusedScanFilter, SearchFilter
from .idempotency import IDEMPOTENCY_KEY, respond_once
from .permissions import (
    AreaPermission,
    AttendeePermission,
    EventPermission,
    RecordAttendancePermission,
    RefusedScanPermission,
    request_may_record,
)
from .schema import AttendeesAutoSchema
from .serializers import (
    STATE_FIELDS,
    AreaSerializer,
    AttendanceFiguresSerializer,
    AttendanceRequestSerializer,
    AttendeeSerializer,
    BatchAnswerSerializer,
    BatchScanSerializer,
    BatchSerializer,
    BulkCheckOutSerializer,
    BulkResultSerializer,
    ConflictSerializer,
    CorrectionSerializer,
    EventSerializer,
    RecordSerializer,
    RefusedScanSerializer,
    RosterSerializer,
    ScanRefusalSerializer,
    ScanResultSerializer,
    ScanSerializer,
    unknown_event_message,
)

idempotency_key_parameter = OpenApiParameter(
    IDEMPOTENCY_KEY,
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
    OpenApiParameter.HEADER,
    description="Retry safely: the same key from the same user replays the first response "
    "and records nothing new. 1 to 255 printable ASCII characters.",
)
conflict_response = OpenApiResponse(ConflictSerializer, description="Refused by the rules; nothing recorded.")
key_reused_response = OpenApiResponse(
    ConflictSerializer, description="The Idempotency-Key was used before with a different request."
)


class CSVRenderer(BaseRenderer):
    """Lets `?format=csv` and `Accept: text/csv` choose the streamed CSV of an action."""

    media_type = "text/csv"
    format = "csv"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        # Only errors reach a renderer here (the CSV itself is streamed); they go out as text.
        return str(data.get("detail", data) if isinstance(data, dict) else data).encode()


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


# What every view of the API shares: its schema, its errors, its paging and its ids. (Comments,
# not docstrings: a view's docstring becomes the description of its operations in the schema.)
class ApiGenericViewSet(viewsets.GenericViewSet):
    pagination_class = Pagination
    schema = AttendeesAutoSchema()
    # Any id reaches the view, which answers a JSON 404 for ids that are not numbers.
    lookup_value_regex = "[^/]+"

    def get_exception_handler(self):
        return exception_handler


# A model's CRUD, as DRF's ModelViewSet, on the API's shared base.
class ApiViewSet(
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    mixins.ListModelMixin,
    ApiGenericViewSet,
):
    pass


@extend_schema_view(destroy=extend_schema(responses={204: None, 409: conflict_response}))
class EventViewSet(ApiViewSet):
    queryset = Event.objects.all()
    serializer_class = EventSerializer
    permission_classes = [EventPermission]
    filter_backends = [SearchFilter, filters.OrderingFilter]
    search_fields = ["name"]
    ordering_fields = ["id", "name", "starts_at", "ends_at"]

    def perform_destroy(self, instance):
        services.delete_event(event=instance)

    @extend_schema(responses={200: RosterSerializer})
    @action(detail=True, methods=["get"])
    def roster(self, request, pk=None):
        """What a door device keeps to scan offline: every attendee's names, the SHA-256 of their ticket code
        (never the code), state and area. Streamed (gzip when accepted); a constant number of queries."""
        event = self.get_object()
        body = _roster_json(event)
        response = StreamingHttpResponse(body, content_type="application/json")
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            response.streaming_content = compress_sequence(body)
            response["Content-Encoding"] = "gzip"
        patch_vary_headers(response, ["Accept-Encoding"])
        return response

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "format", str, enum=["json", "csv"], description="csv: one row per attendee instead of the figures."
            )
        ],
        responses={
            (200, "application/json"): OpenApiResponse(AttendanceFiguresSerializer, description="The figures."),
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description="With format=csv: a streamed CSV with one row per attendee: "
                "id, name, email, state, first_check_in, last_check_out, visits, seconds_inside.",
            ),
        },
    )
    @action(detail=True, methods=["get"], renderer_classes=[*api_settings.DEFAULT_RENDERER_CLASSES, CSVRenderer])
    def attendance(self, request, pk=None, format=None):
        """Who is inside, who left, who never came, the check-ins and check-outs that stand, and the median time
        inside, in a constant number of queries."""
        event = self.get_object()
        if request.accepted_renderer.format == "csv":
            return exports.attendance_response(event.attendees.all(), filename=f"attendance-event-{event.pk}.csv")
        return Response(selectors.attendance_figures(event))


@extend_schema_view(destroy=extend_schema(responses={204: None, 409: conflict_response}))
class AreaViewSet(ApiViewSet):
    """Areas of events: rooms, zones, gated parts of the venue, each with its capacity and a live `inside`."""

    queryset = Area.objects.all()
    serializer_class = AreaSerializer
    permission_classes = [AreaPermission]
    filter_backends = [DjangoFilterBackend, filters.OrderingFilter]
    filterset_class = AreaFilter
    ordering_fields = ["id", "name", "event"]
    ordering = ["event", "name", "id"]

    def perform_destroy(self, instance):
        services.delete_area(area=instance)


@extend_schema_view(
    create=extend_schema(responses={201: AttendeeSerializer, 409: conflict_response}),
    update=extend_schema(responses={200: AttendeeSerializer, 409: conflict_response}),
    partial_update=extend_schema(responses={200: AttendeeSerializer, 409: conflict_response}),
    destroy=extend_schema(responses={204: None, 409: conflict_response}),
)
class AttendeeViewSet(ApiViewSet):
    serializer_class = AttendeeSerializer
    permission_classes = [AttendeePermission]
    filter_backends = [DjangoFilterBackend, SearchFilter, filters.OrderingFilter]
    filterset_class = AttendeeFilter
    search_fields = ["first_name", "last_name", "email"]
    ordering_fields = ["id", "first_name", "last_name", "email", "event"]
    ordering = ["last_name", "first_name", "id"]

    def get_queryset(self):
        if self.action in {"list", "retrieve"}:
            return selectors.attendees_with_times()
        return Attendee.objects.all()

    def get_serializer_class(self):
        return {
            "checkin": AttendanceRequestSerializer,
            "checkout": AttendanceRequestSerializer,
            "bulk_checkout": BulkCheckOutSerializer,
        }.get(self.action, AttendeeSerializer)

    def filter_queryset(self, queryset):
        # Filters, search and ordering shape the list; any other action finds its attendee by id alone.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    def fresh(self, attendee: Attendee) -> dict:
        """The attendee as stored now, with state and times."""
        attendee = selectors.attendee_with_times(attendee)
        return AttendeeSerializer(attendee, context=self.get_serializer_context()).data

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changes, record, station = _split_state(serializer.validated_data)
        attendee = services.save_attendee(
            attendee=Attendee(), changes=changes, record=record, by=request.user, station=station
        )
        return Response(self.fresh(attendee), status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        attendee = self.get_object()
        data, asked = request.data, None
        if not partial and isinstance(data, dict):
            # A PUT describes the whole attendee: its two flags are the state asked for.
            data = {name: value for name, value in data.items() if name not in STATE_FIELDS}
            asked = self.asked_state(attendee, request.data)
        serializer = self.get_serializer(attendee, data=data, partial=partial)
        serializer.is_valid(raise_exception=True)
        changes, record, station = _split_state(serializer.validated_data)
        record = record or asked
        services.save_attendee(attendee=attendee, changes=changes, record=record, by=request.user, station=station)
        return Response(self.fresh(attendee))

    def asked_state(self, attendee: Attendee, data: dict) -> str | None:
        """The check-in or check-out a PUT's flags ask for, if any (needing `record_attendance`)."""
        flags = {}
        for name in STATE_FIELDS:
            value = data.get(name)
            if value is not None and not isinstance(value, bool):
                raise ValidationError({name: [gettext("Must be true or false.")]})
            flags[name] = value
        try:
            change = services.change_for_state(
                attendee=attendee, inside=flags["is_checked_in"], left=flags["is_checked_out"]
            )
        except services.UnreachableState:
            raise ValidationError(
                {
                    "non_field_errors": [
                        gettext(
                            "A PUT can ask for the state the attendee is in, for left (is_checked_out true) while "
                            "inside, or for inside (is_checked_in true) while not inside."
                        )
                    ]
                }
            ) from None
        if change is not None and not request_may_record(self.request):
            self.permission_denied(
                self.request, message=gettext("Checking in or out needs the permission record_attendance.")
            )
        return change

    def perform_destroy(self, instance):
        services.delete_attendee(attendee=instance)

    @extend_schema(
        parameters=[idempotency_key_parameter],
        responses={201: AttendeeSerializer, 409: conflict_response, 422: key_reused_response},
    )
    @action(detail=True, methods=["post"])
    def checkin(self, request, pk=None):
        """Check the attendee in now. Refused with 409 `already_checked_in` while inside."""
        return self.record(request, services.check_in)

    @extend_schema(
        parameters=[idempotency_key_parameter],
        responses={201: AttendeeSerializer, 409: conflict_response, 422: key_reused_response},
    )
    @action(detail=True, methods=["post"])
    def checkout(self, request, pk=None):
        """Check the attendee out now. Refused with 409 `not_checked_in` or `already_checked_out`."""
        return self.record(request, services.check_out)

    @extend_schema(
        parameters=[idempotency_key_parameter],
        responses={200: BulkResultSerializer, 422: key_reused_response},
    )
    @action(detail=False, methods=["post"], url_path="bulk-checkout")
    def bulk_checkout(self, request):
        """Check out every selected attendee who is inside; the others are counted as skipped."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)

        def perform():
            result = services.bulk_check_out(
                attendees=serializer.attendees(),
                by=request.user,
                station=serializer.validated_data.get("station", ""),
                area=serializer.validated_data.get("area"),
            )
            return Response({"checked_out": result.done, "skipped": result.skipped})

        return respond_once(request, perform)

    @extend_schema(responses={200: RecordSerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def history(self, request, pk=None):
        """Every check-in and check-out of the attendee as recorded, oldest first, voided ones included."""
        records = selectors.history(self.get_object())
        return Response(RecordSerializer(records, many=True).data)

    @extend_schema(
        request=CorrectionSerializer,
        responses={201: RecordSerializer, 409: conflict_response},
    )
    @action(detail=True, methods=["post"])
    def corrections(self, request, pk=None):
        """Void a record (`void`) or add a missed check-out (`check_out_at`), with a `reason`.
        Answers the record voided or added. Refused with 409 `already_voided`, `not_latest_record`,
        `check_out_before_check_in`, `not_checked_in` or `already_checked_out`."""
        attendee = self.get_object()
        serializer = CorrectionSerializer(data=request.data, context={"attendee": attendee})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if "record" in data:
            record = services.void_record(record=data["record"], by=request.user, reason=data["reason"])
        else:
            record = services.correct_check_out(
                attendee=attendee, at=data["check_out_at"], by=request.user, reason=data["reason"]
            )
        record = selectors.history(attendee).get(pk=record.pk)
        return Response(RecordSerializer(record).data, status=status.HTTP_201_CREATED)

    def record(self, request, service: Callable) -> Response:
        attendee = self.get_object()
        serializer = self.get_serializer(
            data=request.data, context={**self.get_serializer_context(), "attendee": attendee}
        )
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        options = {"area": data.get("area")}
        if service is services.check_in:
            options["override_capacity"] = data["override_capacity"]

        def perform():
            service(attendee=attendee, by=request.user, station=data.get("station", ""), **options)
            return Response(self.fresh(attendee), status=status.HTTP_201_CREATED)

        return respond_once(request, perform)


def _split_state(validated_data: dict) -> tuple[dict, str | None, str]:
    """The attendee's field changes, the check-in or check-out asked for, and its station."""
    changes = dict(validated_data)
    station = changes.pop("station", "")
    record = None
    if changes.pop("is_checked_in", False):
        record = "check_in"
    if changes.pop("is_checked_out", False):
        record = "check_out"
    return changes, record, station


class ScanViewSet(ApiGenericViewSet):
    """`POST /api/scans/`: a ticket scanned at the door."""

    serializer_class = ScanSerializer
    permission_classes = [RecordAttendancePermission]

    @extend_schema(
        parameters=[idempotency_key_parameter],
        responses={
            201: ScanResultSerializer,
            404: OpenApiResponse(ConflictSerializer, description="unknown_ticket: no attendee has this code; kept."),
            409: OpenApiResponse(
                ScanRefusalSerializer,
                description="wrong_event, already_checked_in, not_checked_in or already_checked_out, with whose "
                "ticket it was; kept as a refused scan, nothing recorded.",
            ),
            422: key_reused_response,
        },
    )
    def create(self, request):
        """Check in or out the attendee holding the ticket code (`direction` auto: in unless inside, else out).
        Refused scans are kept and listed at /api/refused-scans/."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data

        def perform():
            try:
                scan = services.scan_ticket(
                    ticket_code=data["ticket_code"],
                    direction=data["direction"],
                    event_id=data.get("event"),
                    area=data.get("area"),
                    station=data.get("station", ""),
                    override_capacity=data["override_capacity"],
                    by=request.user,
                )
            except services.ScanRefused as refused:
                return self.refusal(refused)
            except services.UnknownEvent as unknown:
                raise ValidationError({"event": [unknown_event_message(unknown.event_id)]}) from None
            return Response(
                {
                    "result": "checked_in" if scan.direction == "in" else "checked_out",
                    "attendee": self.attendee_json(scan.attendee),
                    "record": RecordSerializer(scan.record).data,
                },
                status=status.HTTP_201_CREATED,
            )

        return respond_once(request, perform)

    @extend_schema(request=BatchSerializer, responses={200: BatchAnswerSerializer})
    @action(detail=False, methods=["post"], serializer_class=BatchSerializer)
    def batch(self, request):
        """The scans a door device made offline, applied in the order sent with the device's times. Each nonce is
        answered once: sent again, its first answer comes back with `duplicate: true`. A scan refused by the rules,
        the time rules (`too_old`, `out_of_order`) or as `invalid` never fails the others; only a malformed batch
        is a 400, and then nothing of it is recorded."""
        batch = BatchSerializer(data=request.data)
        batch.is_valid(raise_exception=True)
        lookups = {}
        outcomes = services.apply_offline_scans(
            scans=[_offline_scan(scan, lookups) for scan in batch.validated_data["scans"]], by=request.user
        )
        written = Record.objects.select_related("recorded_by", "voided_by").filter(
            pk__in=[outcome.record_id for outcome in outcomes if outcome.record_id]
        )
        # One serializer for all the records: its fields are set up once, not once a record.
        records = {record["id"]: record for record in RecordSerializer(written, many=True).data}
        return Response({"results": [_batch_result(outcome, records) for outcome in outcomes]})

    def refusal(self, refused: "services.ScanRefused") -> Response:
        body = conflict_body(refused.error)
        if isinstance(refused.error, UnknownTicket):
            return Response(body, status=status.HTTP_404_NOT_FOUND)
        return Response({**body, "attendee": self.attendee_json(refused.attendee)}, status=status.HTTP_409_CONFLICT)

    def attendee_json(self, attendee: Attendee) -> dict:
        attendee = selectors.attendee_with_times(attendee)
        return AttendeeSerializer(attendee, context=self.get_serializer_context()).data


class RefusedScanViewSet(mixins.ListModelMixin, ApiGenericViewSet):
    """`GET /api/refused-scans/?event=<id>`: every refused scan, newest first."""

    serializer_class = RefusedScanSerializer
    permission_classes = [RefusedScanPermission]
    filter_backends = [DjangoFilterBackend]
    filterset_class = RefusedScanFilter

    def get_queryset(self):
        return selectors.refused_scans()


class RecordViewSet(ApiGenericViewSet):
    """`POST /api/records/{id}/undo/`: take back one's own mistaken scan."""

    queryset = Record.objects.select_related("attendee")
    serializer_class = RecordSerializer
    permission_classes = [RecordAttendancePermission]

    @extend_schema(
        request=None,
        responses={
            201: RecordSerializer,
            403: OpenApiResponse(ConflictSerializer, description="Recorded by someone else: use a correction."),
            409: OpenApiResponse(
                ConflictSerializer, description="undo_expired, already_voided or not_latest_record; nothing changed."
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def undo(self, request, pk=None):
        """Void a check-in or check-out you recorded within the last 2 minutes, with the reason
        "undone at the door"; the record stays in the history."""
        record = services.undo_record(record=self.get_object(), by=request.user)
        return Response(RecordSerializer(selectors.record_with_people(record.pk)).data, status=status.HTTP_201_CREATED)


def _roster_json(event: Event):
    """The roster as JSON text, in pieces, one chunk of rows at a time."""
    head = json.dumps({"event": event.pk, "at": timezone.now().isoformat().replace("+00:00", "Z")})
    yield f'{head[:-1]}, "attendees": ['.encode()
    # Read once: a setting costs a lookup in the project's settings each time.
    size = app_settings.ROSTER_CHUNK_SIZE
    separator = b""
    chunk = []
    for row in selectors.roster(event):
        # The row's fields in their order, as `dataclasses.asdict` gives them, without its deep copy.
        chunk.append(vars(row))
        if len(chunk) == size:
            yield separator + _json_items(chunk)
            separator, chunk = b",", []
    if chunk:
        yield separator + _json_items(chunk)
    yield b"]}"


def _json_items(rows: list[dict]) -> bytes:
    """`rows` as the items of a JSON array, without its brackets: one call of the encoder
    for the whole chunk, where a call per row cost most of a large roster's time."""
    return json.dumps(rows, separators=(",", ":"))[1:-1].encode()


def _offline_scan(item: dict, lookups: dict) -> services.OfflineScanRequest:
    """One scan of a batch (its nonce and time already checked by `BatchSerializer`),
    validated on its own: a wrong one is refused alone. The events and areas named are
    looked up once for the batch (`lookups`)."""
    scan = BatchScanSerializer(data=item["scan"], context={"lookups": lookups})
    nonce, at = item["nonce"], item["at"]
    if not scan.is_valid():
        return services.OfflineScanRequest(nonce=nonce, at=at, invalid=scan.errors)
    fields = scan.validated_data
    return services.OfflineScanRequest(
        nonce=nonce,
        at=at,
        ticket_code=fields.get("ticket_code"),
        attendee_id=fields.get("attendee"),
        direction=fields["direction"],
        event=fields.get("event"),
        area=fields.get("area"),
        station=fields.get("station", ""),
    )


def _batch_result(outcome: services.OfflineScanOutcome, records: dict) -> dict:
    result = {"nonce": outcome.nonce, "status": "recorded" if outcome.recorded else "refused"}
    if outcome.recorded:
        result["record"] = records[outcome.record_id]
    else:
        result["code"] = outcome.code
        if outcome.errors:
            result["errors"] = outcome.errors
    result["duplicate"] = outcome.duplicate
    return result
