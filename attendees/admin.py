import dataclasses
import datetime
import functools
import zoneinfo

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import NestedObjects, quote, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import router
from django.db.models import QuerySet, prefetch_related_objects
from django.db.models.constants import LOOKUP_SEP
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST
from import_export.admin import ImportMixin
from import_export.formats.base_formats import CSV
from import_export.results import RowResult

from . import charts, exports, selectors, services, tickets
from .exceptions import AttendanceError
from .imports import AttendeeResource
from .models import Area, Attendee, Event, Record, RefusedScan, Visit, validate_timezone
from .views import DOOR_PERMISSIONS

ADMIN = Record.Source.ADMIN


def may_see_ticket_codes(request) -> bool:
    """Ticket codes are secrets: only users who may change attendees see or set them."""
    return request.user.has_perm(f"{Attendee._meta.app_label}.change_attendee")


def is_ticket_code_lookup(lookup: str) -> bool:
    # The admin accepts a filter on any field of its model in the URL; one on the ticket code
    # (`?ticket_code__startswith=a`) would let a user who may not see codes guess them a
    # character at a time.
    return lookup.split(LOOKUP_SEP, 1)[0] == "ticket_code"


class StateFilter(admin.SimpleListFilter):
    """By `Attendee.State`, spelled in the URL as in the API and the CSV."""

    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [
            (Attendee.State.INSIDE, _("Inside")),
            (Attendee.State.LEFT, _("Left")),
            (Attendee.State.NEVER_ARRIVED, _("Never checked in")),
        ]

    def queryset(self, request, queryset):
        match self.value():
            case Attendee.State.INSIDE:
                return queryset.filter(is_checked_in=True)
            case Attendee.State.LEFT:
                return queryset.filter(is_checked_out=True)
            case Attendee.State.NEVER_ARRIVED:
                return queryset.filter(is_checked_in=False, is_checked_out=False)
        return queryset


class InsideLongerThanFilter(admin.SimpleListFilter):
    """Who has been inside the event longer than a time in their current stay: forgotten
    exits. Any whole number of seconds in the URL, as in the API; the choices are hours."""

    title = _("inside longer than")
    parameter_name = "inside_longer_than"

    def lookups(self, request, model_admin):
        return [
            (str(hours * 3600), ngettext("%(hours)d hour", "%(hours)d hours", hours) % {"hours": hours})
            for hours in (1, 2, 4, 8)
        ]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        try:
            seconds = int(self.value())
        except ValueError:
            seconds = -1
        if seconds < 0:
            raise IncorrectLookupParameters(gettext("The time inside is a whole number of seconds."))
        return selectors.inside_longer_than(queryset, seconds=seconds)


def has_history(area: Area) -> bool:
    """Whether deleting `area` would delete attendance history, which the database
    protects: found as the admin's own delete page finds protected objects."""
    collector = NestedObjects(using=router.db_for_write(Area))
    collector.collect([area])
    return bool(collector.protected)


class AreaFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        # Before the admin's own check, which would list every stay and record that keeps
        # the area, rather than say why it stays.
        kept = [form.instance for form in self.deleted_forms if form.instance.pk and has_history(form.instance)]
        if kept:
            raise ValidationError(
                [
                    gettext(
                        "The area “%(name)s” cannot be deleted: people have been in it, and attendance history "
                        "is kept forever."
                    )
                    % {"name": area.name}
                    for area in kept
                ],
                code="has_history",
            )
        super().clean()

    def delete_existing(self, obj: Area, commit: bool = True) -> None:
        if commit:
            services.delete_area(area=obj)


class AreaInline(admin.TabularInline):
    model = Area
    formset = AreaFormSet
    fields = ["name", "capacity", "inside"]
    readonly_fields = ["inside"]
    extra = 0


# The prefix of the areas' forms on the event page.
AREAS_PREFIX = Area._meta.get_field("event").remote_field.get_accessor_name()

EVENT_TIMES = ["starts_at", "ends_at", "auto_checkout_at"]


@functools.cache
def _zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class ZoneSelect(forms.Select):
    """The select of some 600 time zones, its options written once for all pages:
    rendered through the template of a single option each, they took most of the event
    page's time. The same HTML as `Select`'s: the options' values and labels escaped,
    the one chosen marked selected."""

    template_name = "attendees/admin/zone_select.html"

    def get_context(self, name, value, attrs):
        context = forms.Widget.get_context(self, name, value, attrs)
        chosen = set(self.format_value(value))
        context["widget"]["options"] = mark_safe(
            "".join(selected if key in chosen else plain for key, plain, selected in _options_html(tuple(self.choices)))
        )
        return context


@functools.lru_cache(maxsize=8)
def _options_html(choices: tuple[tuple[str, str], ...]) -> list[tuple[str, str, str]]:
    """Each choice's value, and its option escaped, plain and selected."""
    return [
        (
            str(key),
            format_html('<option value="{}">{}</option>', key, label),
            format_html('<option value="{}" selected>{}</option>', key, label),
        )
        for key, label in choices
    ]


class EventAdminForm(forms.ModelForm):
    """The event's times are shown and read as local times in its zone: the zone chosen
    on the form when one is posted, else the event's (a new event's: the site's). A form
    posted without a zone (by a script, say) keeps the event's."""

    class Meta:
        model = Event
        fields = ["name", "timezone", *EVENT_TIMES, "capacity"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields.get("timezone")
        if field is not None:
            field.required = False
            # The function, not its list: each form then copies no 600 choices it may never render.
            field.widget = ZoneSelect(choices=_zone_choices)
            # Checked as the form's own field, so that an unknown zone never reaches the event shown beside it.
            field.validators = [*field.validators, validate_timezone]
            # Compared with the event's own zone, not with a hidden copy of the default.
            field.show_hidden_initial = False
        self.zone = self._chosen_zone()
        for name in EVENT_TIMES:
            if name in self.fields:
                self.fields[name].help_text = gettext("Local time in %(zone)s, the event's time zone.") % {
                    "zone": self.zone.key
                }

    def _chosen_zone(self) -> zoneinfo.ZoneInfo:
        posted = self.data.get(self.add_prefix("timezone")) if self.is_bound else None
        try:
            validate_timezone(posted)
        except ValidationError:
            return self.instance.zone
        return zoneinfo.ZoneInfo(posted)

    def clean_timezone(self) -> str:
        return self.cleaned_data["timezone"] or self.instance.timezone

    def full_clean(self) -> None:
        # A time without an offset is read in the event's zone (a time that does not exist
        # there, or exists twice, is an error), and comes out aware.
        with timezone.override(self.zone):
            super().full_clean()

    @cached_property
    def changed_data(self) -> list[str]:
        with timezone.override(self.zone):
            return super().changed_data


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["name", "starts", "ends", "auto_checkout", "registered", "inside", "capacity", "door"]
    search_fields = ["name"]
    date_hierarchy = "starts_at"
    form = EventAdminForm
    fields = ["name", "timezone", *EVENT_TIMES, "capacity", "attendance", "occupancy"]
    readonly_fields = ["attendance", "occupancy"]
    inlines = [AreaInline]
    actions = ["export_attendance"]
    change_form_template = "attendees/admin/event_change_form.html"

    def get_list_display(self, request):
        # The door page is for those with the door permissions, in a project that serves it.
        if request.user.has_perms(DOOR_PERMISSIONS) and _door_url() is not None:
            return self.list_display
        return [name for name in self.list_display if name != "door"]

    def get_fields(self, request, obj=None):
        # The figures and the chart need attendees to show: not on the add page, and only to those who may see them.
        if obj is None or not self.has_view_attendee_permission(request):
            return [name for name in self.fields if name not in self.readonly_fields]
        return self.fields

    def get_inline_instances(self, request, obj=None):
        inlines = super().get_inline_instances(request, obj)
        if request.method == "POST" and f"{AREAS_PREFIX}-TOTAL_FORMS" not in request.POST:
            # An event posted without its areas (by a script, say) leaves them as they are,
            # rather than failing for want of the areas' management form.
            return [inline for inline in inlines if not isinstance(inline, AreaInline)]
        return inlines

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # The page is rendered in the zone its form reads times in, so that the date and
        # time pickers' "Today" and "Now" are the event's.
        with timezone.override(context["adminform"].form.zone):
            response = super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)
            return response.render()

    def has_view_attendee_permission(self, request) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.view_attendee")

    @admin.display(description=Event._meta.get_field("starts_at").verbose_name, ordering="starts_at")
    def starts(self, event: Event) -> str | None:
        return None if event.starts_at is None else local_time(event.starts_at, event.zone)

    @admin.display(description=Event._meta.get_field("ends_at").verbose_name, ordering="ends_at")
    def ends(self, event: Event) -> str | None:
        return None if event.ends_at is None else local_time(event.ends_at, event.zone)

    @admin.display(description=Event._meta.get_field("auto_checkout_at").verbose_name, ordering="auto_checkout_at")
    def auto_checkout(self, event: Event) -> str | None:
        return None if event.auto_checkout_at is None else local_time(event.auto_checkout_at, event.zone)

    @admin.display(description=_("door"))
    def door(self, event: Event):
        return format_html('<a href="{}?event={}">{}</a>', _door_url(), event.pk, _("Open the door page"))

    @admin.display(description=_("attendance"))
    def attendance(self, event: Event):
        figures = selectors.attendance_figures(event)
        median = figures["median_seconds_inside"]
        rows = [
            (_("Registered"), figures["registered"]),
            (_("Inside now"), figures["inside"]),
            (_("Left"), figures["left"]),
            (_("Never arrived"), figures["never_arrived"]),
            (_("Check-ins"), figures["check_ins"]),
            (_("Check-outs"), figures["check_outs"]),
            (_("Median time inside"), "-" if median is None else _duration(datetime.timedelta(seconds=median))),
        ]
        places = [
            (
                _("Whole event"),
                _inside_of(figures["inside"], figures["capacity"]),
                figures["peak_inside"],
                figures["check_ins"],
            ),
            *(
                (area["name"], _inside_of(area["inside"], area["capacity"]), area["peak_inside"], area["check_ins"])
                for area in figures["areas"]
            ),
        ]
        return format_html(
            '<table class="attendees-figures">{}</table>'
            '<table class="attendees-places"><caption>{}</caption>'
            '<thead><tr><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th>'
            "</tr></thead><tbody>{}</tbody></table>",
            format_html_join("", '<tr><th scope="row">{}</th><td>{}</td></tr>', rows),
            _("The event and its areas"),
            _("Place"),
            _("Inside now / capacity"),
            _("Peak inside"),
            _("Check-ins"),
            format_html_join("", '<tr><th scope="row">{}</th><td>{}</td><td>{}</td><td>{}</td></tr>', places),
        )

    @admin.display(description=_("people inside over time"))
    def occupancy(self, event: Event):
        points, areas = selectors.occupancy_by_area(event)
        return charts.occupancy_svg(
            points, areas=[(area.name, area_points) for area, area_points in areas], zone=event.zone
        )

    @admin.action(description=_("Export attendance of selected events as CSV"), permissions=["view_attendee"])
    def export_attendance(self, request, queryset: QuerySet[Event]):
        attendees = Attendee.objects.filter(event__in=queryset.order_by().values("pk"))
        return exports.attendance_response(attendees, filename="attendance.csv", with_event=True)


def _door_url() -> str | None:
    try:
        return reverse("attendees:door")
    except NoReverseMatch:
        return None


def _inside_of(inside: int, capacity: int | None) -> str:
    """ "12 / 50"; "50 / 50 (full)" and "52 / 50 (over capacity)" once the capacity is reached."""
    if capacity is None:
        return gettext("%(inside)d / no limit") % {"inside": inside}
    if inside > capacity:
        text = gettext("%(inside)d / %(capacity)d (over capacity)")
    elif inside == capacity:
        text = gettext("%(inside)d / %(capacity)d (full)")
    else:
        text = gettext("%(inside)d / %(capacity)d")
    return text % {"inside": inside, "capacity": capacity}


class AttendeeAdminForm(forms.ModelForm):
    """The ticket code may be left empty: a new attendee then gets one made up by the
    server, and an existing one keeps theirs."""

    class Meta:
        model = Attendee
        fields = ["event", "first_name", "last_name", "email", "ticket_code"]
        help_texts = {
            "ticket_code": _(
                "What the QR code on the ticket and badge holds (6 to 64 letters, digits and - _ . :). "
                "Left empty, a new attendee gets one made up by the server and an existing one keeps theirs."
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields.get("ticket_code")
        if field is not None:
            field.required = False
            # A new attendee's form starts empty rather than with a code made up for it.
            field.initial = None
            field.show_hidden_initial = False
            if self.instance._state.adding:
                self.initial.pop("ticket_code", None)

    def clean_ticket_code(self) -> str:
        return self.cleaned_data["ticket_code"] or self.instance.ticket_code

    def clean_event(self) -> Event:
        event = self.cleaned_data["event"]
        try:
            services.check_move(attendee=self.instance, event=event)
        except AttendanceError as refused:
            raise forms.ValidationError(refused.detail) from None
        return event


def local_time(moment: datetime.datetime, zone: zoneinfo.ZoneInfo) -> str:
    """A time as organizers read it: the event's local date and time to the second, and the zone's name."""
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}"


class VoidRecordForm(forms.Form):
    """Which of the attendee's records to void, and why. It offers the standing records;
    any of the attendee's records is accepted, so that one voided meanwhile is refused
    by the rules (`AlreadyVoided`) rather than by the form."""

    record = forms.ModelChoiceField(
        queryset=Record.objects.none(),
        label=_("Record"),
        # Voiding is chosen, never preselected.
        empty_label=_("Choose a record"),
        error_messages={
            "required": _("Choose the record to void."),
            "invalid_choice": _("That record is not one of this attendee's."),
        },
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        error_messages={"required": _("Give a reason for voiding the record: it is kept in the history.")},
    )

    def __init__(self, *args, attendee: Attendee, **kwargs):
        # Ids of their own: the page holds the attendee's form and the other correction too.
        kwargs.setdefault("auto_id", "id_void_%s")
        super().__init__(*args, **kwargs)
        records = attendee.records.select_related("area")
        field = self.fields["record"]
        field.queryset = records if self.is_bound else records.standing().order_by("-at", "-id")
        zone = attendee.event.zone
        field.label_from_instance = lambda record: _record_label(record, zone)


def _record_label(record: Record, zone: zoneinfo.ZoneInfo) -> str:
    values = {"id": record.pk, "time": local_time(record.at, zone)}
    if record.area is None:
        if record.type == Record.Type.CHECK_IN:
            return gettext("#%(id)d: check-in at %(time)s") % values
        return gettext("#%(id)d: check-out at %(time)s") % values
    values["area"] = record.area.name
    if record.type == Record.Type.CHECK_IN:
        return gettext("#%(id)d: entered %(area)s at %(time)s") % values
    return gettext("#%(id)d: left %(area)s at %(time)s") % values


class MissedCheckOutForm(forms.Form):
    """When the attendee inside actually left, as a local time in the event's zone, and why."""

    at = forms.DateTimeField(
        label=_("Left at"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}, format="%Y-%m-%dT%H:%M:%S"),
        error_messages={
            "required": _("Give the time the attendee left."),
            "invalid": _("Give the time the attendee left as a date and a time."),
        },
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        error_messages={"required": _("Give a reason for the check-out: it is kept in the history.")},
    )

    def __init__(self, *args, zone: zoneinfo.ZoneInfo, **kwargs):
        kwargs.setdefault("auto_id", "id_missed_check_out_%s")
        super().__init__(*args, **kwargs)
        self.zone = zone

    def full_clean(self) -> None:
        # A time without an offset is read in the event's zone (a time that does not exist
        # there, or exists twice, is an error), and comes out aware.
        with timezone.override(self.zone):
            super().full_clean()


@dataclasses.dataclass(frozen=True)
class HistoryRow:
    """A record as the attendee page shows it, its times in the event's zone."""

    record: Record
    at: str
    # When it was written, for a record written later than it happened (a correction, an offline scan).
    recorded_at: str | None
    voided_at: str | None


def _history_rows(attendee: Attendee) -> list[HistoryRow]:
    zone = attendee.event.zone
    return [
        HistoryRow(
            record=record,
            at=local_time(record.at, zone),
            recorded_at=local_time(record.recorded_at, zone)
            if abs(record.recorded_at - record.at) >= datetime.timedelta(seconds=1)
            else None,
            voided_at=None if record.voided_at is None else local_time(record.voided_at, zone),
        )
        for record in selectors.history(attendee).select_related("area")
    ]


@admin.register(Attendee)
class AttendeeAdmin(ImportMixin, admin.ModelAdmin):
    list_display = [
        "last_name",
        "first_name",
        "email",
        "event",
        "state",
        "current_area",
        "last_checked_in_at",
        "last_checked_out_at",
        "time_inside",
    ]
    list_display_links = ["last_name", "first_name"]
    list_filter = ["event", StateFilter, InsideLongerThanFilter]
    # A ticket code is found only whole: a part of one must not find anybody.
    search_fields = ["first_name", "last_name", "email", "=ticket_code"]
    actions = ["check_in_selected", "check_out_selected", "email_tickets", "print_badges"]
    form = AttendeeAdminForm
    fields = ["event", "first_name", "last_name", "email", "ticket_code", "state", "checkin_times", "checkout_times"]
    readonly_fields = ["state", "checkin_times", "checkout_times"]
    list_select_related = ["event"]
    change_form_template = "attendees/admin/attendee_change_form.html"
    change_list_template = "attendees/admin/attendee_change_list.html"
    # Import from CSV (see `imports.py`), with a preview and all rows or none.
    resource_classes = [AttendeeResource]
    import_formats = [CSV]
    import_template_name = "attendees/admin/import.html"

    def get_fields(self, request, obj=None):
        if may_see_ticket_codes(request):
            return self.fields
        return [name for name in self.fields if name != "ticket_code"]

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/history/void/",
                self.admin_site.admin_view(self.void_record_view),
                name="{}_{}_void_record".format(*info),
            ),
            path(
                "<path:object_id>/history/check-out/",
                self.admin_site.admin_view(self.missed_check_out_view),
                name="{}_{}_missed_check_out".format(*info),
            ),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk is not None:
            context.update(self.history_context(request, obj))
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def history_context(self, request, attendee: Attendee) -> dict:
        """The attendee's history for their page and, for those who may correct it, the two correction forms."""
        zone = attendee.event.zone
        context = {
            "attendance_history": _history_rows(attendee),
            "attendance_zone": attendee.event.timezone,
            "may_correct_attendance": self.has_correct_attendance_permission(request),
        }
        if context["may_correct_attendance"]:
            object_id = quote(attendee.pk)
            context.update(
                may_void=any(row.record.voided_at is None for row in context["attendance_history"]),
                void_record_form=VoidRecordForm(attendee=attendee),
                void_record_url=self._url("void_record", object_id),
            )
            # A missed check-out applies only to an attendee inside.
            if attendee.is_checked_in:
                context.update(
                    missed_check_out_form=MissedCheckOutForm(zone=zone),
                    missed_check_out_url=self._url("missed_check_out", object_id),
                )
        return context

    @method_decorator(require_POST)
    def void_record_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        attendee = self._attendee_to_correct(request, object_id)
        form = VoidRecordForm(request.POST, attendee=attendee)
        if not form.is_valid():
            return self._refuse(request, attendee, form)
        try:
            record = services.void_record(
                record=form.cleaned_data["record"], by=request.user, reason=form.cleaned_data["reason"]
            )
        except AttendanceError as error:
            self.message_user(request, error.detail, messages.ERROR)
        else:
            values = {"time": local_time(record.at, attendee.event.zone)}
            if record.type == Record.Type.CHECK_IN:
                message = gettext("Voided the check-in at %(time)s, and the stay it began.") % values
            else:
                message = gettext("Voided the check-out at %(time)s: the stay it ended is open again.") % values
            self.message_user(request, message, messages.SUCCESS)
        return HttpResponseRedirect(self._change_url(attendee))

    @method_decorator(require_POST)
    def missed_check_out_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        attendee = self._attendee_to_correct(request, object_id)
        zone = attendee.event.zone
        form = MissedCheckOutForm(request.POST, zone=zone)
        if not form.is_valid():
            return self._refuse(request, attendee, form)
        try:
            record = services.correct_check_out(
                attendee=attendee,
                at=form.cleaned_data["at"].astimezone(datetime.UTC),
                by=request.user,
                reason=form.cleaned_data["reason"],
            )
        except AttendanceError as error:
            self.message_user(request, error.detail, messages.ERROR)
        else:
            message = gettext("Added the missed check-out at %(time)s.") % {"time": local_time(record.at, zone)}
            self.message_user(request, message, messages.SUCCESS)
        return HttpResponseRedirect(self._change_url(attendee))

    def _attendee_to_correct(self, request: HttpRequest, object_id: str) -> Attendee:
        if not (self.has_correct_attendance_permission(request) and self.has_view_or_change_permission(request)):
            raise PermissionDenied
        attendee = self.get_object(request, unquote(object_id))
        if attendee is None:
            raise Http404(gettext("There is no attendee with this id."))
        return attendee

    def _refuse(self, request: HttpRequest, attendee: Attendee, form: forms.Form) -> HttpResponse:
        for errors in form.errors.values():
            for error in errors:
                self.message_user(request, error, messages.ERROR)
        return HttpResponseRedirect(self._change_url(attendee))

    def _url(self, name: str, *args) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_{name}", args=args, current_app=self.admin_site.name
        )

    def _change_url(self, attendee: Attendee) -> str:
        return f"{self._url('change', quote(attendee.pk))}#attendance-history"

    # Import

    def has_import_permission(self, request) -> bool:
        return self.has_add_permission(request)

    def get_import_resource_kwargs(self, request, **kwargs) -> dict:
        return {
            **super().get_import_resource_kwargs(request, **kwargs),
            "may_set_ticket_codes": may_see_ticket_codes(request),
        }

    def add_data_read_fail_error_to_form(self, form, e) -> None:
        form.add_error(
            "import_file",
            gettext(
                "This file cannot be read as CSV text in UTF-8. Save it from the spreadsheet as “CSV UTF-8” "
                "and upload it again."
            ),
        )

    def get_import_data_kwargs(self, **kwargs) -> dict:
        # A row refused by validation rolls the whole import back, as a row that failed does.
        return {**super().get_import_data_kwargs(**kwargs), "rollback_on_validation_errors": True}

    def process_result(self, result, request):
        if result.has_errors() or result.has_validation_errors():
            # The file was checked in the preview; something changed since (a ticket code taken meanwhile).
            self.message_user(
                request,
                gettext("Nothing was imported: the file no longer imports cleanly. Upload it again to see why."),
                messages.ERROR,
            )
            return HttpResponseRedirect(self._url("import"))
        return super().process_result(result, request)

    def add_success_message(self, result, request) -> None:
        count = result.totals[RowResult.IMPORT_TYPE_NEW]
        message = ngettext("Imported %(count)d attendee.", "Imported %(count)d attendees.", count) % {"count": count}
        self.message_user(request, message, messages.SUCCESS)

    def lookup_allowed(self, lookup, value, request=None) -> bool:
        if is_ticket_code_lookup(lookup) and (request is None or not may_see_ticket_codes(request)):
            return False
        return super().lookup_allowed(lookup, value, request)

    def get_queryset(self, request) -> QuerySet[Attendee]:
        return selectors.with_current_area(selectors.attendees_for_changelist(super().get_queryset(request)))

    def get_object(self, request, object_id, from_field=None):
        attendee = super().get_object(request, object_id, from_field)
        if attendee is not None:
            # The change page shows the times.
            prefetch_related_objects([attendee], selectors.visits_prefetch())
        return attendee

    def has_record_attendance_permission(self, request) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.record_attendance")

    def has_correct_attendance_permission(self, request) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.correct_attendance")

    @admin.display(description=_("state"))
    def state(self, attendee: Attendee) -> str:
        if getattr(attendee, "is_checked_in", False):
            return _("Inside")
        if getattr(attendee, "is_checked_out", False):
            return _("Left")
        return _("Never checked in")

    @admin.display(description=_("area"), ordering="current_area_name")
    def current_area(self, attendee: Attendee) -> str | None:
        return attendee.current_area_name

    @admin.display(description=_("last check-in"), ordering="last_checked_in_at")
    def last_checked_in_at(self, attendee: Attendee) -> str | None:
        return _list_time(attendee.last_checked_in_at, attendee.event.zone)

    @admin.display(description=_("last check-out"), ordering="last_checked_out_at")
    def last_checked_out_at(self, attendee: Attendee) -> str | None:
        return _list_time(attendee.last_checked_out_at, attendee.event.zone)

    @admin.display(description=_("time inside"), ordering="time_inside")
    def time_inside(self, attendee: Attendee):
        return "-" if attendee.time_inside is None else _duration(attendee.time_inside)

    @admin.display(description=_("check-in times"))
    def checkin_times(self, attendee: Attendee):
        return _times_list(selectors.checkin_times(attendee), attendee.event.zone) if attendee.pk else "-"

    @admin.display(description=_("check-out times"))
    def checkout_times(self, attendee: Attendee):
        return _times_list(selectors.checkout_times(attendee), attendee.event.zone) if attendee.pk else "-"

    @admin.action(description=_("Check in selected attendees"), permissions=["record_attendance"])
    def check_in_selected(self, request, queryset: QuerySet[Attendee]) -> None:
        result = services.bulk_check_in(attendees=queryset, by=request.user, source=ADMIN)
        done = ngettext("Checked in %(done)d attendee", "Checked in %(done)d attendees", result.done)
        skipped = ngettext(
            "skipped %(skipped)d who was already inside", "skipped %(skipped)d who were already inside", result.skipped
        )
        self.report(request, result, done, skipped)

    @admin.action(description=_("Check out selected attendees"), permissions=["record_attendance"])
    def check_out_selected(self, request, queryset: QuerySet[Attendee]) -> None:
        result = services.bulk_check_out(attendees=queryset, by=request.user, source=ADMIN)
        done = ngettext("Checked out %(done)d attendee", "Checked out %(done)d attendees", result.done)
        skipped = ngettext(
            "skipped %(skipped)d who was not inside", "skipped %(skipped)d who were not inside", result.skipped
        )
        self.report(request, result, done, skipped)

    @admin.action(description=_("Email tickets to selected attendees"), permissions=["change"])
    def email_tickets(self, request, queryset: QuerySet[Attendee]) -> None:
        result = tickets.send_tickets(
            attendees=queryset.select_related("event"),
            build_url=lambda attendee: request.build_absolute_uri(
                reverse("attendees_tickets:ticket", args=[attendee.ticket_code])
            ),
        )
        message = ngettext(
            "Emailed a ticket to %(sent)d attendee", "Emailed tickets to %(sent)d attendees", result.sent
        ) % {"sent": result.sent}
        if result.failed:
            failed = ngettext("%(failed)d could not be sent", "%(failed)d could not be sent", result.failed)
            message += "; " + failed % {"failed": result.failed}
        if not result.failed:
            level = messages.SUCCESS
        elif result.sent:
            level = messages.WARNING
        else:
            level = messages.ERROR
        self.message_user(request, f"{message}.", level)

    @admin.action(description=_("Print badges for selected attendees"), permissions=["change"])
    def print_badges(self, request, queryset: QuerySet[Attendee]):
        return tickets.badges_response(request, list(queryset.select_related("event")))

    def report(self, request, result: services.BulkResult, done: str, skipped: str) -> None:
        message = done % {"done": result.done}
        if result.skipped:
            message += "; " + skipped % {"skipped": result.skipped}
        self.message_user(request, f"{message}.", messages.SUCCESS if result.done else messages.WARNING)


def _list_time(moment: datetime.datetime | None, zone: zoneinfo.ZoneInfo) -> str | None:
    """A time in the attendee list: the date, and the time of day with its zone, each kept on one line."""
    if moment is None:
        return None
    local = moment.astimezone(zone)
    return format_html(
        '<span class="attendees-time">{}</span> <span class="attendees-time">{} {}</span>',
        f"{local:%Y-%m-%d}",
        f"{local:%H:%M:%S}",
        local.tzname(),
    )


def _times_list(times: list[datetime.datetime], zone: zoneinfo.ZoneInfo) -> str:
    """The times of the attendee's stays, one a line, as the history shows them: local, to the second, zone named."""
    if not times:
        return "-"
    return format_html_join("", "<div>{}</div>", ((local_time(at, zone),) for at in times))


def _duration(duration: datetime.timedelta) -> str:
    """H:MM:SS, hours running past 24."""
    seconds = round(duration.total_seconds())
    return f"{seconds // 3600}:{seconds % 3600 // 60:02}:{seconds % 60:02}"


class ViewOnlyAdmin(admin.ModelAdmin):
    """The history is recorded by check-ins, check-outs and corrections only: never added,
    edited or deleted here, not even by a superuser."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Visit)
class VisitAdmin(ViewOnlyAdmin):
    """Each stay, voided ones included; read-only."""

    list_display = ["attendee", "checked_in_at", "checked_in_by", "checked_out_at", "checked_out_by", "voided_at"]
    list_filter = ["attendee__event"]
    list_select_related = ["attendee", "checked_in_by", "checked_out_by"]
    search_fields = ["attendee__first_name", "attendee__last_name", "attendee__email"]
    date_hierarchy = "checked_in_at"


@admin.register(Record)
class RecordAdmin(ViewOnlyAdmin):
    """Every check-in and check-out as recorded, voided ones included; read-only.
    Corrections are made on the attendee's page or through the API's corrections endpoint,
    which keep who, when and why."""

    list_display = ["attendee", "type", "at", "station", "source", "recorded_by", "voided_at", "voided_by"]
    list_filter = ["type", "source", "attendee__event"]
    list_select_related = ["attendee", "recorded_by", "voided_by"]
    search_fields = ["attendee__first_name", "attendee__last_name", "attendee__email", "station"]
    date_hierarchy = "at"


@admin.register(RefusedScan)
class RefusedScanAdmin(ViewOnlyAdmin):
    """Every scan the door was refused, kept for review; read-only. What was scanned is
    shown only to users who may see ticket codes."""

    list_display = [
        "recorded_at",
        "at",
        "reason",
        "event",
        "attendee",
        "direction",
        "station",
        "recorded_by",
        "offline",
        "ticket_code",
    ]
    list_filter = ["event", "reason", "offline"]
    list_select_related = ["event", "attendee", "recorded_by"]
    date_hierarchy = "recorded_at"
    fields = [
        "recorded_at",
        "at",
        "reason",
        "ticket_code",
        "event",
        "attendee",
        "direction",
        "station",
        "recorded_by",
        "offline",
    ]

    def has_view_permission(self, request, obj=None) -> bool:
        # As in the API: whoever may view attendees may view the scans refused at their door.
        return super().has_view_permission(request, obj) or request.user.has_perm(
            f"{self.opts.app_label}.view_attendee"
        )

    def get_list_display(self, request):
        if may_see_ticket_codes(request):
            return self.list_display
        return [name for name in self.list_display if name != "ticket_code"]

    def get_fields(self, request, obj=None):
        if may_see_ticket_codes(request):
            return self.fields
        return [name for name in self.fields if name != "ticket_code"]

    def lookup_allowed(self, lookup, value, request=None) -> bool:
        if is_ticket_code_lookup(lookup) and (request is None or not may_see_ticket_codes(request)):
            return False
        return super().lookup_allowed(lookup, value, request)
