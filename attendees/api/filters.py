import django_filters
from django.utils.translation import gettext
from rest_framework import filters
from rest_framework.exceptions import ValidationError

from .. import selectors
from ..models import Area, Attendee, RefusedScan

TRUE_VALUES = {"true", "True", "1"}
BOOLEAN_CHOICES = [(value, value) for value in ("true", "false", "True", "False", "1", "0")]


class StrictBooleanFilter(django_filters.TypedChoiceFilter):
    """`true` or `false`; anything else is a 400, not silently ignored."""

    def __init__(self, **kwargs):
        super().__init__(choices=BOOLEAN_CHOICES, coerce=lambda value: value in TRUE_VALUES, **kwargs)


class AttendeeFilter(django_filters.FilterSet):
    is_checked_in = StrictBooleanFilter(help_text="Inside now.")
    is_checked_out = StrictBooleanFilter(help_text="Has left: the latest record is a check-out.")
    inside_longer_than = django_filters.NumberFilter(
        method="filter_inside_longer_than",
        min_value=0,
        # Ten years: anything longer cannot be a stay.
        max_value=10 * 365 * 24 * 3600,
        help_text="Inside the event for longer than this many seconds in their current stay (forgotten exits); "
        "moving between areas does not start a new stay.",
    )

    class Meta:
        model = Attendee
        fields = ["event", "is_checked_in", "is_checked_out", "inside_longer_than"]

    def filter_inside_longer_than(self, queryset, name, value):
        if value != int(value):
            raise ValidationError({name: [gettext("Send a whole number of seconds.")]})
        return selectors.inside_longer_than(queryset, seconds=int(value))


class AreaFilter(django_filters.FilterSet):
    class Meta:
        model = Area
        fields = ["event"]


class RefusedScanFilter(django_filters.FilterSet):
    class Meta:
        model = RefusedScan
        fields = ["event"]


class SearchFilter(filters.SearchFilter):
    """DRF's search, with its errors under the `search` parameter's name."""

    def get_search_terms(self, request):
        if "\x00" in request.query_params.get(self.search_param, ""):
            raise ValidationError({self.search_param: [gettext("Null characters are not allowed.")]})
        return super().get_search_terms(request)
