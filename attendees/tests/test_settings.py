import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import path

import attendees

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


def shell_json(code: str, **environ: str | None):
    """What `code` prints last, as JSON, run by `manage.py shell` under that environment."""
    result = manage("shell", "--no-imports", "-c", code, **environ)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def loaded_settings(*names: str, **environ: str | None) -> dict:
    """Settings as the project loads them under that environment (None: not set); no database is touched."""
    code = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({{name: getattr(settings, name, None) for name in {list(names)!r}}}, default=str))"
    )
    return shell_json(code, **environ)


def loaded_setting(name: str, **environ: str | None):
    return loaded_settings(name, **environ)[name]


def production(**environ: str | None) -> dict[str, str | None]:
    """The three variables production needs, and any others given."""
    return {
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "checkin.example.org,testserver",
        **environ,
    }


TLS_SETTINGS = (
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SILENCED_SYSTEM_CHECKS",
)

# Requests through the whole middleware stack, answered without a database: the API refuses
# anonymous requests before it reads anything.
REQUESTS = """
import json
from django.test import Client, RequestFactory

def answer(response):
    return {
        "status": response.status_code,
        "location": response.headers.get("Location"),
        "hsts": response.headers.get("Strict-Transport-Security"),
    }

client = Client()
forwarded = {"X-Forwarded-Proto": "https"}
print(json.dumps({
    "http": answer(client.get("/api/attendees/")),
    "https": answer(client.get("/api/attendees/", secure=True)),
    "forwarded_https": answer(client.get("/api/attendees/", headers=forwarded)),
    "forwarded_https_is_secure": RequestFactory().get("/", headers=forwarded).is_secure(),
}))
"""


def test_production_settings_refuse_to_start_without_a_secret_key():
    result = manage("check", DJANGO_DEBUG="0")

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_deploy_check_is_clean_with_only_the_secret_key_debug_flag_and_allowed_hosts():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **production(DATABASE_URL=None))

    assert result.returncode == 0, result.stdout + result.stderr


def test_production_redirects_to_https_sends_hsts_for_a_year_and_keeps_cookies_secure_by_default():
    loaded = loaded_settings(*TLS_SETTINGS, **production())

    assert loaded == {
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 365 * 24 * 60 * 60,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        # Preloading is the domain owner's decision (DJANGO_SECURE_HSTS_PRELOAD=1); its
        # warning alone is silenced.
        "SECURE_HSTS_PRELOAD": False,
        "SECURE_PROXY_SSL_HEADER": None,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SILENCED_SYSTEM_CHECKS": ["security.W021"],
    }


def test_production_answers_http_with_a_redirect_and_https_with_hsts():
    answers = shell_json(REQUESTS, **production())

    assert answers["http"] == {"status": 301, "location": "https://testserver/api/attendees/", "hsts": None}
    assert answers["https"] == {"status": 401, "location": None, "hsts": "max-age=31536000; includeSubDomains"}
    # Without a proxy in front, a client's X-Forwarded-Proto is not believed.
    assert answers["forwarded_https"]["status"] == 301
    assert answers["forwarded_https_is_secure"] is False


def test_behind_a_tls_proxy_django_leaves_redirect_and_hsts_to_it_and_trusts_its_header():
    loaded = loaded_settings(*TLS_SETTINGS, **production(DJANGO_BEHIND_TLS_PROXY="1"))

    assert loaded == {
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": False,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        # Exactly the warnings about what the proxy does.
        "SILENCED_SYSTEM_CHECKS": ["security.W021", "security.W008", "security.W004"],
    }


def test_behind_a_tls_proxy_requests_are_not_redirected_and_forwarded_https_counts_as_secure():
    answers = shell_json(REQUESTS, **production(DJANGO_BEHIND_TLS_PROXY="1"))

    assert answers["http"] == {"status": 401, "location": None, "hsts": None}
    assert answers["forwarded_https"] == {"status": 401, "location": None, "hsts": None}
    assert answers["forwarded_https_is_secure"] is True


def test_deploy_check_is_clean_behind_a_tls_proxy():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **production(DJANGO_BEHIND_TLS_PROXY="1"))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "(2 silenced)" in result.stdout


def test_behind_a_tls_proxy_a_redirect_or_hsts_turned_on_again_is_checked_again():
    loaded = loaded_settings(
        "SILENCED_SYSTEM_CHECKS",
        **production(DJANGO_BEHIND_TLS_PROXY="1", DJANGO_SECURE_SSL_REDIRECT="1", DJANGO_SECURE_HSTS_SECONDS="600"),
    )

    assert loaded["SILENCED_SYSTEM_CHECKS"] == ["security.W021"]


def test_hsts_preload_is_an_opt_in_that_turns_its_check_back_on():
    loaded = loaded_settings(
        "SECURE_HSTS_PRELOAD", "SILENCED_SYSTEM_CHECKS", **production(DJANGO_SECURE_HSTS_PRELOAD="1")
    )

    assert loaded == {"SECURE_HSTS_PRELOAD": True, "SILENCED_SYSTEM_CHECKS": []}


def test_while_debugging_locally_there_is_no_redirect_no_hsts_and_cookies_work_over_http():
    loaded = loaded_settings(*TLS_SETTINGS, DJANGO_DEBUG="1")

    assert loaded["SECURE_SSL_REDIRECT"] is False
    assert loaded["SECURE_HSTS_SECONDS"] == 0
    assert loaded["SESSION_COOKIE_SECURE"] is False
    assert loaded["CSRF_COOKIE_SECURE"] is False


def test_an_unreadable_hsts_duration_refuses_to_start_with_a_clear_message():
    result = manage("check", **production(DJANGO_SECURE_HSTS_SECONDS="a year"))

    assert result.returncode != 0
    assert "DJANGO_SECURE_HSTS_SECONDS must be a whole number, not 'a year'" in result.stderr


def test_the_api_documents_the_apps_version():
    assert settings.SPECTACULAR_SETTINGS["VERSION"] == attendees.__version__


def test_deploy_check_is_clean_with_each_tls_setting_given_explicitly():
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


PG_URL = "postgres://someone@127.0.0.1:5432/somewhere"


def test_postgresql_connections_plan_for_pages_in_memory_unless_told_otherwise():
    """The site's PostgreSQL connections set `random_page_cost` to 1.1, or to what
    `DJANGO_PG_RANDOM_PAGE_COST` says; empty leaves the server's; SQLite gets nothing."""
    assert loaded_setting("DATABASES", DATABASE_URL=PG_URL)["default"]["OPTIONS"] == {
        "options": "-c random_page_cost=1.1"
    }
    assert loaded_setting("DATABASES", DATABASE_URL=PG_URL, DJANGO_PG_RANDOM_PAGE_COST="2")["default"]["OPTIONS"] == {
        "options": "-c random_page_cost=2.0"
    }
    assert "options" not in loaded_setting("DATABASES", DATABASE_URL=PG_URL, DJANGO_PG_RANDOM_PAGE_COST="")[
        "default"
    ].get("OPTIONS", {})
    assert "options" not in loaded_setting("DATABASES")["default"]["OPTIONS"]


@pytest.mark.skipif(settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql", reason="PostgreSQL")
def test_the_setting_reaches_the_server(db):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW random_page_cost")
        assert cursor.fetchone() == ("1.1",)
