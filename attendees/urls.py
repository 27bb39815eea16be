"""The door page; include it with `path("door/", include("attendees.urls"))`."""

from django.urls import path

from . import views

app_name = "attendees"

urlpatterns = [
    path("", views.door, name="door"),
    path("counts/", views.door_counts, name="door-counts"),
]
