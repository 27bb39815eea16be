"""The wheel, installed with pip into a fresh virtualenv, works in another Django project.

Slow (it builds the wheel and installs its dependencies from the package index), so it
runs only with ATTENDEES_TEST_PACKAGING=1 or in CI (CI=true).
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from attendees import __version__

REPO = Path(__file__).resolve().parents[3]
# What the build needs; copied so that building leaves nothing behind in the work tree.
BUILD_SOURCES = ["pyproject.toml", "README.md", "CHANGELOG.md", "LICENSE", "MANIFEST.in", "attendees"]
DIST_INFO = f"django_attendees-{__version__}.dist-info"

pytestmark = [
    pytest.mark.packaging,
    pytest.mark.skipif(
        os.environ.get("ATTENDEES_TEST_PACKAGING") != "1" and os.environ.get("CI", "").lower() not in {"1", "true"},
        reason="builds and installs the wheel: set ATTENDEES_TEST_PACKAGING=1 (CI=true runs it too)",
    ),
]

SETTINGS = """
    from pathlib import Path

    BASE_DIR = Path(__file__).resolve().parent.parent
    SECRET_KEY = "not-secret-only-for-this-test"
    DEBUG = True
    ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
    INSTALLED_APPS = [
        "django.contrib.admin",
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
        "django.contrib.staticfiles",
        "rest_framework",
        "rest_framework.authtoken",
        "django_filters",
        "drf_spectacular",
        "import_export",
        "attendees",
    ]
    MIDDLEWARE = [
        "django.middleware.security.SecurityMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    ]
    ROOT_URLCONF = "othersite.urls"
    TEMPLATES = [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "APP_DIRS": True,
            "OPTIONS": {
                "context_processors": [
                    "django.template.context_processors.request",
                    "django.contrib.auth.context_processors.auth",
                    "django.contrib.messages.context_processors.messages",
                ],
            },
        },
    ]
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}
    DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
    USE_TZ = True
    STATIC_URL = "static/"
    REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": [
            "rest_framework.authentication.TokenAuthentication",
            "rest_framework.authentication.SessionAuthentication",
        ],
        "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    }
"""

URLS = """
    from django.contrib import admin
    from django.urls import include, path

    urlpatterns = [
        path("admin/", admin.site.urls),
        path("api/", include("attendees.api.urls")),
        path("door/", include("attendees.urls")),
    ]
"""

MANAGE = """
    import os
    import sys

    if __name__ == "__main__":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "othersite.settings")
        from django.core.management import execute_from_command_line

        execute_from_command_line(sys.argv)
"""

CREATE_DOOR_STAFF = """
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

user = get_user_model().objects.create_user("door", password="door-password")
user.user_permissions.add(
    *Permission.objects.filter(
        content_type__app_label="attendees", codename__in=["view_event", "view_attendee", "record_attendance"]
    )
)
print(sorted(user.get_all_permissions()))
"""

CHECK_IN_AND_OUT = """
import json
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.authtoken.models import Token
from attendees.models import Attendee, Event

token, _ = Token.objects.get_or_create(user=get_user_model().objects.get(username="door"))
event = Event.objects.create(name="Launch party")
ada = Attendee.objects.create(event=event, first_name="Ada", last_name="Lovelace", email="ada@example.org")
door = Client(headers={"Authorization": f"Token {token.key}"})
answers = {
    "anonymous": Client().get("/api/attendees/"),
    "checkin": door.post(f"/api/attendees/{ada.pk}/checkin/"),
    "checkout": door.post(f"/api/attendees/{ada.pk}/checkout/"),
    "checkout_again": door.post(f"/api/attendees/{ada.pk}/checkout/"),
}
print(json.dumps({name: [answer.status_code, answer.json()] for name, answer in answers.items()}))
"""

DOOR_PAGE = """
import json
from django.contrib.auth import get_user_model
from django.test import Client

client = Client()
client.force_login(get_user_model().objects.get(username="door"))
page = client.get("/door/")
print(json.dumps([page.status_code, page.content.decode()]))
"""


def run(command: list, cwd: Path, env: dict | None = None, timeout: int = 600) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{' '.join(map(str, command))} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def last_line_json(output: str):
    return json.loads(output.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in BUILD_SOURCES:
        origin = REPO / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(origin, source / name)
    wheelhouse = tmp_path_factory.mktemp("wheelhouse")
    run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-w", wheelhouse], cwd=source)
    (built,) = wheelhouse.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def other_project(tmp_path_factory, wheel) -> dict:
    """A fresh virtualenv with the wheel installed, and a minimal Django project outside this repository."""
    root = tmp_path_factory.mktemp("other")
    venv = root / "venv"
    run([sys.executable, "-m", "venv", venv], cwd=root)
    python = venv / "bin" / "python"
    run([python, "-m", "pip", "install", "--quiet", wheel], cwd=root)

    project = root / "othersite"
    (project / "othersite").mkdir(parents=True)
    for path, text in {
        "othersite/__init__.py": "",
        "othersite/settings.py": SETTINGS,
        "othersite/urls.py": URLS,
        "manage.py": MANAGE,
    }.items():
        (project / path).write_text(textwrap.dedent(text).lstrip())

    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"DJANGO_SETTINGS_MODULE", "PYTHONPATH", "DATABASE_URL", "VIRTUAL_ENV", "PYTHONHOME"}
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"

    def manage(*args: str) -> str:
        return run([python, "manage.py", *args], cwd=project, env=env)

    manage("migrate", "--no-input", "-v", "0")
    door_staff_permissions = manage("shell", "-c", CREATE_DOOR_STAFF)
    return {
        "venv": venv,
        "python": python,
        "project": project,
        "manage": manage,
        "env": env,
        "door_staff_permissions": door_staff_permissions,
    }


def wheel_metadata(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(f"{DIST_INFO}/METADATA").decode()


def source_files(*patterns: str) -> set[str]:
    """Files of the app in this repository matching the patterns, as paths inside the wheel."""
    return {
        path.relative_to(REPO).as_posix()
        for pattern in patterns
        for path in (REPO / "attendees").glob(pattern)
        if path.is_file()
    }


def test_wheel_holds_the_app_with_migrations_commands_templates_and_static_files(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())

    assert wheel.name == f"django_attendees-{__version__}-py3-none-any.whl"
    for expected in (
        "attendees/models.py",
        "attendees/conf.py",
        "attendees/checks.py",
        "attendees/api/views.py",
        "attendees/migrations/0001_initial.py",
        "attendees/management/commands/checkout_all.py",
        "attendees/templates/attendees/door.html",
        "attendees/templates/attendees/email/ticket.txt",
        "attendees/static/attendees/door.js",
        "attendees/static/attendees/door.css",
    ):
        assert expected in names
    assert not [name for name in names if name.startswith(("attendees/tests/", "eventsite/"))]


def test_wheel_holds_every_template_and_static_file_with_the_vendored_licenses(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())

    shipped = source_files("templates/**/*", "static/**/*")
    assert shipped
    assert shipped - names == set()
    vendored = {name.rsplit("/", 1)[0] for name in names if name.startswith("attendees/static/attendees/vendor/")}
    for library in vendored:
        assert f"{library}/LICENSE" in names
        assert f"{library}/README.txt" in names


def test_wheel_holds_the_translations_compiled(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())

    sources = source_files("locale/*/LC_MESSAGES/*.po")
    compiled = source_files("locale/*/LC_MESSAGES/*.mo")
    assert {name.removesuffix(".po") + ".mo" for name in sources} <= compiled
    assert (sources | compiled) - names == set()


def test_wheel_carries_the_license_and_the_changelog(wheel):
    with zipfile.ZipFile(wheel) as archive:
        license_text = archive.read(f"{DIST_INFO}/licenses/LICENSE").decode()
    metadata = wheel_metadata(wheel)

    assert license_text == (REPO / "LICENSE").read_text()
    assert "BSD 3-Clause License" in license_text
    assert "License-Expression: BSD-3-Clause" in metadata
    assert "License-File: LICENSE" in metadata
    # The changelog follows the README in the description, with this version's entry.
    assert "# Changelog" in metadata
    assert f"## [{__version__}]" in metadata


def test_wheel_version_is_the_apps_version(wheel):
    metadata = wheel_metadata(wheel)

    assert f"Version: {__version__}" in metadata.splitlines()
    assert f"## [{__version__}]" in (REPO / "CHANGELOG.md").read_text()


def test_wheel_declares_its_classifiers(wheel):
    classifiers = {
        line.removeprefix("Classifier: ")
        for line in wheel_metadata(wheel).splitlines()
        if line.startswith("Classifier:")
    }

    assert {
        "Environment :: Web Environment",
        "Framework :: Django",
        "Framework :: Django :: 5.2",
        "Intended Audience :: Developers",
        "Operating System :: OS Independent",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Topic :: Internet :: WWW/HTTP :: Dynamic Content",
    } <= classifiers
    assert [name for name in classifiers if name.startswith("Development Status :: ")]


def test_wheel_declares_its_python_and_dependency_ranges(wheel):
    metadata = wheel_metadata(wheel)

    assert "Requires-Python: >=3.11" in metadata
    requirements = {
        line.removeprefix("Requires-Dist: ") for line in metadata.splitlines() if line.startswith("Requires-Dist:")
    }
    names = {requirement.split(">")[0].split("<")[0].split("=")[0].strip().lower() for requirement in requirements}
    assert names == {
        "django",
        "djangorestframework",
        "django-filter",
        "django-import-export",
        "drf-spectacular",
        "segno",
    }
    assert not [requirement for requirement in requirements if "==" in requirement]


def test_app_is_imported_from_the_virtualenv_not_from_this_repository(other_project):
    where = run(
        [other_project["python"], "-c", "import attendees; print(attendees.__file__)"],
        cwd=other_project["project"],
        env=other_project["env"],
    ).strip()

    assert Path(where).is_relative_to(other_project["venv"])
    assert not Path(where).is_relative_to(REPO)


def test_installed_app_reports_its_version_and_no_system_check_fails(other_project):
    version = run(
        [
            other_project["python"],
            "-c",
            "import attendees, importlib.metadata as m; print(attendees.__version__, m.version('django-attendees'))",
        ],
        cwd=other_project["project"],
        env=other_project["env"],
    ).split()

    assert version == [__version__, __version__]
    other_project["manage"]("check", "--fail-level", "WARNING")


def test_migrate_then_check_in_and_out_through_the_api_of_the_other_project(other_project):
    manage = other_project["manage"]
    manage("migrate", "--check", "--no-input")
    assert "attendees.record_attendance" in other_project["door_staff_permissions"]

    answers = last_line_json(manage("shell", "-c", CHECK_IN_AND_OUT))

    assert answers["anonymous"][0] == 401
    status, attendee = answers["checkin"]
    assert status == 201
    assert (attendee["is_checked_in"], attendee["is_checked_out"]) == (True, False)
    status, attendee = answers["checkout"]
    assert status == 201
    assert (attendee["is_checked_in"], attendee["is_checked_out"]) == (False, True)
    assert len(attendee["checkin_times"]) == len(attendee["checkout_times"]) == 1
    status, refusal = answers["checkout_again"]
    assert (status, refusal["code"]) == (409, "already_checked_out")


def test_door_page_and_its_static_files_come_with_the_wheel(other_project):
    manage = other_project["manage"]

    status, html = last_line_json(manage("shell", "-c", DOOR_PAGE))

    assert status == 200
    assert 'data-attendees-url="/api/attendees/"' in html
    assert Path(manage("findstatic", "attendees/door.js", "-v", "0").strip()).is_relative_to(other_project["venv"])
