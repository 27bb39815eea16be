"""The app in a host project: its API URL names in a namespace, the door login configurable."""

import pytest
from django.urls import NoReverseMatch, reverse

pytestmark = pytest.mark.django_db


def test_the_api_url_names_live_in_their_own_namespace():
    assert reverse("attendees_api:attendee-list") == "/api/attendees/"
    assert reverse("attendees_api:scan-batch") == "/api/scans/batch/"
    with pytest.raises(NoReverseMatch):
        reverse("attendee-list")


def test_anonymous_visitors_of_the_door_go_to_the_projects_login_url(client, settings):
    settings.LOGIN_URL = "/accounts/login/"

    response = client.get("/door/?event=1")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/door/%3Fevent%3D1"


def test_the_attendees_setting_chooses_another_door_login(client, settings):
    settings.ATTENDEES = {"DOOR_LOGIN_URL": "admin:login"}

    response = client.get("/door/")

    assert response["Location"] == "/admin/login/?next=/door/"
