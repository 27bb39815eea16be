"""The door page and its login; include it with `path("door/", include("attendees.urls"))`."""

from django.urls import path
from django.views.i18n import JavaScriptCatalog

from . import views

app_name = "attendees"

urlpatterns = [
    path("", views.door, name="door"),
    path("counts/", views.door_counts, name="door-counts"),
    # Beside the door page, so that the worker's scope takes in the page.
    path("sw.js", views.door_service_worker, name="door-service-worker"),
    path("manifest.webmanifest", views.door_manifest, name="door-manifest"),
    # The door script's translations, served by the app so a host project need not add a URL.
    path("jsi18n/", JavaScriptCatalog.as_view(packages=["attendees"]), name="door-jsi18n"),
    path("login/", views.DoorLoginView.as_view(), name="door-login"),
    path("logout/", views.DoorLogoutView.as_view(), name="door-logout"),
]
