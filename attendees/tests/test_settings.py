import json
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


def manage(*args: str, **environ: str | None) -> subprocess.CompletedProcess:
    """Run manage.py with only the given DJANGO_* variables and an in-memory database,
    unless DATABASE_URL is given (None: unset)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("DJANGO_")}
    env.update({"DATABASE_URL": "sqlite://:memory:", **environ})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_ROOT,
        env={name: value for name, value in env.items() if value is not None},
        capture_output=True,
        text=True,
        timeout=60,
    )


def loaded_setting(name: str, **environ: str | None):
    """A setting as the project loads it under that environment; no database is touched."""
    code = f"import json; from django.conf import settings; print(json.dumps(settings.{name}, default=str))"
    result = manage("shell", "--no-imports", "-c", code, **environ)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


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


def test_allowed_hosts_are_read_from_a_comma_separated_list():
    hosts = loaded_setting("ALLOWED_HOSTS", DJANGO_ALLOWED_HOSTS="checkin.example.org,10.0.0.5")

    assert hosts == ["checkin.example.org", "10.0.0.5"]


def test_database_url_chooses_the_database_without_connecting_to_it():
    databases = loaded_setting("DATABASES", DATABASE_URL="postgres://u:p@db.example.org:5433/att")

    database = databases["default"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["HOST"], database["PORT"], database["NAME"]) == ("db.example.org", 5433, "att")
    assert (database["USER"], database["PASSWORD"]) == ("u", "p")


def test_without_database_url_the_database_is_a_sqlite_file_beside_manage_py():
    databases = loaded_setting("DATABASES", DATABASE_URL=None)

    database = databases["default"]
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert database["NAME"] == str(PROJECT_ROOT / "db.sqlite3")
    assert (PROJECT_ROOT / "manage.py").is_file()


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_an_unreadable_debug_flag_refuses_to_start_with_a_clear_message(value):
    result = manage("check", DJANGO_DEBUG=value)

    assert result.returncode != 0
    assert f"DJANGO_DEBUG must be 1 or 0, not {value!r}" in result.stderr


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
