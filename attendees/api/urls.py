from rest_framework.routers import DefaultRouter

from .views import AttendeeViewSet, EventViewSet

router = DefaultRouter()
router.register("events", EventViewSet, basename="event")
router.register("attendees", AttendeeViewSet, basename="attendee")

urlpatterns = router.urls
