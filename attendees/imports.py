"""Attendees imported from a CSV file in the admin, with django-import-export.

Columns: first_name, last_name, email, event (the event's id, or its exact name), and
optionally ticket_code (left empty, a code is made up as for any new attendee). A row
only ever adds an attendee, never changes one. Every row is checked as the admin's own
form would check it, codes already taken (in the database or higher up in the same
file) included, and the import runs in one transaction: any bad row and nothing is
saved.
"""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from import_export import fields, resources, widgets

from .models import Attendee, Event

# In the order of the preview; all but ticket_code are required.
COLUMNS = ("first_name", "last_name", "email", "ticket_code", "event")
REQUIRED_COLUMNS = tuple(column for column in COLUMNS if column != "ticket_code")


class EventWidget(widgets.Widget):
    """An event by its id (a whole number) or else by its exact name, looked up once per import."""

    def __init__(self):
        super().__init__()
        self.found: dict[str, Event] = {}

    def clean(self, value, row=None, **kwargs) -> Event:
        text = "" if value is None else str(value).strip()
        if not text:
            raise ValueError(gettext("Give the event: its id or its exact name."))
        if text not in self.found:
            self.found[text] = self.look_up(text)
        return self.found[text]

    @staticmethod
    def look_up(text: str) -> Event:
        if text.isdigit():
            event = Event.objects.filter(pk=int(text)).first()
            if event is None:
                raise ValueError(gettext("There is no event with the id %(id)s.") % {"id": text})
            return event
        events = list(Event.objects.filter(name=text)[:2])
        if not events:
            raise ValueError(gettext("There is no event named “%(name)s”.") % {"name": text})
        if len(events) > 1:
            raise ValueError(
                gettext("More than one event is named “%(name)s”: give the event's id instead.") % {"name": text}
            )
        return events[0]

    def render(self, value, obj=None, **kwargs) -> str:
        return "" if value is None else value.name


class TicketCodeField(fields.Field):
    """An empty ticket code leaves the one the new attendee was made with; the preview
    says so rather than show a code the real import will not use."""

    def save(self, instance, row, is_m2m=False, **kwargs) -> None:
        if not (row.get(self.column_name) or "").strip():
            instance._ticket_code_made_up = True
            return
        super().save(instance, row, is_m2m, **kwargs)

    def export(self, instance, **kwargs) -> str:
        if getattr(instance, "_ticket_code_made_up", False):
            return gettext("(made up on import)")
        return super().export(instance, **kwargs)


class AttendeeResource(resources.ModelResource):
    first_name = fields.Field(attribute="first_name", column_name="first_name", widget=widgets.CharWidget())
    last_name = fields.Field(attribute="last_name", column_name="last_name", widget=widgets.CharWidget())
    email = fields.Field(attribute="email", column_name="email", widget=widgets.CharWidget())
    ticket_code = TicketCodeField(attribute="ticket_code", column_name="ticket_code", widget=widgets.CharWidget())
    event = fields.Field(attribute="event", column_name="event", widget=EventWidget())

    class Meta:
        model = Attendee
        fields = COLUMNS
        import_order = COLUMNS
        # Every row is a new attendee: a row is never matched to one already there.
        force_init_instance = True
        # The model's own validation: field lengths, the email, the ticket code's form and uniqueness.
        clean_model_instances = True
        # All rows or none.
        use_transactions = True

    def __init__(self, *, may_set_ticket_codes: bool = True, **kwargs):
        super().__init__(**kwargs)
        # As in the API, only users who may change attendees choose ticket codes.
        self.may_set_ticket_codes = may_set_ticket_codes

    def before_import(self, dataset, **kwargs) -> None:
        """Refuses a file whose header is not the import's columns; a misspelt column would
        otherwise be left out silently (a ticket_code column so named would make up new codes)."""
        headers = [str(header or "").strip().lower() for header in dataset.headers or []]
        missing = [column for column in REQUIRED_COLUMNS if column not in headers]
        unknown = [header for header in headers if header not in COLUMNS]
        repeated = sorted({header for header in headers if headers.count(header) > 1})
        problems = []
        if missing:
            problems.append(gettext("Columns missing: %(columns)s.") % {"columns": ", ".join(missing)})
        if unknown:
            problems.append(gettext("Columns not known: %(columns)s.") % {"columns": ", ".join(map(repr, unknown))})
        if repeated:
            problems.append(gettext("Columns given twice: %(columns)s.") % {"columns": ", ".join(repeated)})
        if problems:
            raise ValueError(
                gettext("The first line must name the columns %(columns)s (ticket_code may be left out).")
                % {"columns": ", ".join(COLUMNS)}
                + " "
                + " ".join(problems)
            )
        dataset.headers = headers

    def before_import_row(self, row, **kwargs) -> None:
        # Spreadsheets and scanners leave spaces around values.
        for column, value in row.items():
            if isinstance(value, str):
                row[column] = value.strip()

    def import_instance(self, instance, row, **kwargs) -> None:
        errors = {}
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as error:
            errors = error.update_error_dict(errors)
        if row.get("ticket_code") and not self.may_set_ticket_codes:
            errors.setdefault("ticket_code", []).append(
                gettext("Only users who may change attendees set ticket codes: leave this column empty.")
            )
        if errors:
            raise ValidationError(errors)
