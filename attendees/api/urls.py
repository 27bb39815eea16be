from django.urls import path
from rest_framework.routers import DefaultRouter

from .views import (
    AreaViewSet,
    AttendeeViewSet,
    CSVRenderer,
    EventViewSet,
    RecordViewSet,
    RefusedScanViewSet,
    ScanViewSet,
)

# The API's URL names live in their own namespace, out of the host project's way.
app_name = "attendees_api"

router = DefaultRouter()
# Ids are matched loosely (see ApiViewSet.lookup_value_regex), so no `.json` suffix routes.
router.include_format_suffixes = False
router.register("events", EventViewSet, basename="event")
router.register("attendees", AttendeeViewSet, basename="attendee")
router.register("areas", AreaViewSet, basename="area")
router.register("scans", ScanViewSet, basename="scan")
router.register("refused-scans", RefusedScanViewSet, basename="refused-scan")
router.register("records", RecordViewSet, basename="record")

urlpatterns = [
    path(
        "events/<str:pk>/attendance.csv",
        EventViewSet.as_view({"get": "attendance"}, renderer_classes=[CSVRenderer]),
        {"format": "csv"},
        name="event-attendance-csv",
    ),
    *router.urls,
]
