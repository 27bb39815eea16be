import django_filters
from rest_framework import filters
from rest_framework.exceptions import ValidationError

from ..models import Attendee, RefusedScan

TRUE_VALUES = {"true", "True", "1"}
BOOLEAN_CHOICES = [(value, value) for value in ("true", "false", "True", "False", "1", "0")]


class StrictBooleanFilter(django_filters.TypedChoiceFilter):
    """`true` or `false`; anything else is a 400, not silently ignored."""

    def __init__(self, **kwargs):
        super().__init__(choices=BOOLEAN_CHOICES, coerce=lambda value: value in TRUE_VALUES, **kwargs)


class AttendeeFilter(django_filters.FilterSet):
    is_checked_in = StrictBooleanFilter(help_text="Inside now.")
    is_checked_out = StrictBooleanFilter(help_text="Has left: the latest record is a check-out.")

    class Meta:
        model = Attendee
        fields = ["event", "is_checked_in", "is_checked_out"]


class RefusedScanFilter(django_filters.FilterSet):
    class Meta:
        model = RefusedScan
        fields = ["event"]


class SearchFilter(filters.SearchFilter):
    """DRF's search, with its errors under the `search` parameter's name."""

    def get_search_terms(self, request):
        if "\x00" in request.query_params.get(self.search_param, ""):
            raise ValidationError({self.search_param: ["Null characters are not allowed."]})
        return super().get_search_terms(request)
