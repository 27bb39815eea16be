"""The door page and its login; include it with `path("door/", include("attendees.urls"))`."""

from django.urls import path

from . import views

app_name = "attendees"

urlpatterns = [
    path("", views.door, name="door"),
    path("counts/", views.door_counts, name="door-counts"),
    path("login/", views.DoorLoginView.as_view(), name="door-login"),
    path("logout/", views.DoorLogoutView.as_view(), name="door-logout"),
]
