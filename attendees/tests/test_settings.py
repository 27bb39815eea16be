import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def failing_view(request):
    raise RuntimeError("something broke inside the view")


# ROOT_URLCONF of the test of errors inside a view.
urlpatterns = [path("broken/", failing_view)]


def manage(*args: str, **environ: str) -> subprocess.CompletedProcess:
    """Run manage.py with only the given DJANGO_* variables and an in-memory database."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("DJANGO_")}
    env.update(DATABASE_URL="sqlite://:memory:", **environ)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_settings_refuse_to_start_without_a_secret_key():
    result = manage("check", DJANGO_DEBUG="0")

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_deploy_check_is_clean_with_production_environment():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_SECURE_SSL_REDIRECT="1",
        DJANGO_SECURE_HSTS_SECONDS="31536000",
        DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS="1",
        DJANGO_SECURE_HSTS_PRELOAD="1",
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_models_have_no_missing_migrations():
    result = manage("makemigrations", "--check", "--dry-run")

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def production_client(client, settings):
    settings.DEBUG = False
    client.raise_request_exception = False
    return client


def assert_no_debug_page(response) -> None:
    body = response.content.decode()
    assert "Traceback" not in body
    assert "DEBUG = True" not in body
    assert "SECRET_KEY" not in body
    assert "URLconf" not in body
    assert "ROOT_URLCONF" not in body


def test_unknown_page_without_debug_shows_no_debug_information(production_client):
    response = production_client.get("/no-such-page/")

    assert response.status_code == 404
    assert_no_debug_page(response)


def test_error_in_a_view_without_debug_shows_no_traceback(production_client, settings):
    settings.ROOT_URLCONF = __name__

    response = production_client.get("/broken/")

    assert response.status_code == 500
    assert_no_debug_page(response)
    assert "something broke inside the view" not in response.content.decode()
