"""The wheel, installed with pip into a fresh virtualenv, works in another Django project.

The other project is made with `django-admin startproject` and set up with the code
blocks of the README's section on using the app in one's own project, as they are
written, so that the README's steps are proven by this test and cannot drift from it.

Slow (it builds the wheel and installs its dependencies from the package index), so it
runs only with ATTENDEES_TEST_PACKAGING=1 or in CI (CI=true).
"""

import ast
import gettext
import io
import json
import os
import re
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

README_SECTION = "## Use it in your own Django project"
# The classifier of each language the app is translated into, by its locale folder.
NATURAL_LANGUAGES = {"de": "German"}
# The project's own app, which hears the signals as an integrator's app would.
HOST_APP = "frontdesk"

HOST_APP_CONFIG = """
    from django.apps import AppConfig


    class FrontdeskConfig(AppConfig):
        name = "frontdesk"

        def ready(self):
            from . import receivers  # noqa: F401
"""

# Every receiver notes what it was sent and whether the write it announces is committed:
# seen through a second connection to the database, not the one that wrote it.
HOST_APP_RECEIVERS = """
    import sqlite3

    from django.conf import settings
    from django.db import connection

    from attendees import signals

    heard = []


    def committed(record):
        with sqlite3.connect(settings.DATABASES["default"]["NAME"]) as other:
            query = f"SELECT COUNT(*) FROM {type(record)._meta.db_table} WHERE id = ?"
            return other.execute(query, [record.pk]).fetchone()[0] == 1


    def hear(name):
        def receive(sender, record, attendee, **kwargs):
            heard.append(
                {
                    "signal": name,
                    "sender": sender.__name__,
                    "record": record.pk,
                    "attendee": None if attendee is None else attendee.pk,
                    "in_transaction": connection.in_atomic_block,
                    "committed": committed(record),
                }
            )

        return receive


    for name in ("checked_in", "checked_out", "record_voided", "scan_refused"):
        getattr(signals, name).connect(hear(name), weak=False, dispatch_uid=f"frontdesk-{name}")
"""

# Run before each script: the test client's host is allowed, as in Django's own test runner.
TEST_ENVIRONMENT = """
from django.test.utils import setup_test_environment

setup_test_environment()
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

SCAN_AT_THE_DOOR = """
import json
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from attendees.models import Attendee, Event
from frontdesk.receivers import heard

token, _ = Token.objects.get_or_create(user=get_user_model().objects.get(username="door"))
event = Event.objects.create(name="Night of scans")
grace = Attendee.objects.create(event=event, first_name="Grace", last_name="Hopper", email="grace@example.org")
door = APIClient()
door.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
scans = {}
for name, code, direction in [
    ("in", grace.ticket_code, "in"),
    ("out", grace.ticket_code, "out"),
    ("out_again", grace.ticket_code, "out"),
    ("unknown", "NO-SUCH-TICKET-42", "in"),
]:
    heard.clear()
    answer = door.post("/api/scans/", {"ticket_code": code, "direction": direction}, format="json")
    scans[name] = {"status": answer.status_code, "body": answer.json(), "heard": list(heard)}
print(json.dumps({"attendee": grace.pk, "scans": scans}))
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


def readme_steps() -> dict[str, str]:
    """The Python code blocks of the README's section on using the app in a project, by
    what they are for: "settings", "urls" and "receiver"."""
    readme = (REPO / "README.md").read_text()
    section = readme.split(f"\n{README_SECTION}\n", 1)[1].split("\n## ", 1)[0]
    blocks = [
        textwrap.dedent(code)
        for _, code in re.findall(r"^( *)```python\n(.*?)^\1```", section, re.MULTILINE | re.DOTALL)
    ]
    steps = {}
    for name, mark in [("settings", "INSTALLED_APPS"), ("urls", "urlpatterns"), ("receiver", "@receiver")]:
        (steps[name],) = [block for block in blocks if mark in block]
    return steps


@pytest.fixture(scope="module")
def other_project(tmp_path_factory, wheel) -> dict:
    """A fresh virtualenv with the wheel installed, and a project made by `django-admin
    startproject` outside this repository, set up by the README's steps, with an app of
    its own that connects a receiver to each of the app's signals."""
    root = tmp_path_factory.mktemp("other")
    venv = root / "venv"
    run([sys.executable, "-m", "venv", venv], cwd=root)
    python = venv / "bin" / "python"
    run([python, "-m", "pip", "install", "--quiet", wheel], cwd=root)

    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"DJANGO_SETTINGS_MODULE", "PYTHONPATH", "DATABASE_URL", "VIRTUAL_ENV", "PYTHONHOME"}
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    project = root / "othersite"
    project.mkdir()
    run([venv / "bin" / "django-admin", "startproject", "othersite", project], cwd=root, env=env)

    def in_venv(*args: str) -> str:
        """What the virtualenv's Python prints, run in the project's folder."""
        return run([python, *args], cwd=project, env=env)

    def manage(*args: str) -> str:
        return in_venv("manage.py", *args)

    def shell(script: str) -> str:
        return manage("shell", "-c", TEST_ENVIRONMENT + script)

    steps = readme_steps()
    manage("startapp", HOST_APP)
    for path, text in {
        "othersite/settings.py": f"{steps['settings']}\nINSTALLED_APPS += [{HOST_APP!r}]\n",
        "othersite/urls.py": steps["urls"],
        f"{HOST_APP}/receivers.py": f"{textwrap.dedent(HOST_APP_RECEIVERS)}\n\n{steps['receiver']}",
    }.items():
        with (project / path).open("a") as file:
            file.write(f"\n{text}")
    (project / HOST_APP / "apps.py").write_text(textwrap.dedent(HOST_APP_CONFIG).lstrip())

    manage("migrate", "--no-input", "-v", "0")
    door_staff_permissions = manage("shell", "-c", CREATE_DOOR_STAFF)
    return {
        "venv": venv,
        "python": in_venv,
        "project": project,
        "manage": manage,
        "shell": shell,
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
    with zipfile.ZipFile(wheel) as archive:
        for name in compiled:
            # A catalogue msgfmt wrote for its folder's language.
            catalog = gettext.GNUTranslations(io.BytesIO(archive.read(name)))
            assert catalog.info().get("language") == name.split("/")[2]


def test_wheel_carries_the_license_and_the_changelog(wheel):
    with zipfile.ZipFile(wheel) as archive:
        license_text = archive.read(f"{DIST_INFO}/licenses/LICENSE").decode()
        changelog_text = archive.read(f"{DIST_INFO}/licenses/CHANGELOG.md").decode()
    metadata = wheel_metadata(wheel)

    assert license_text == (REPO / "LICENSE").read_text()
    assert changelog_text == (REPO / "CHANGELOG.md").read_text()
    assert "BSD 3-Clause License" in license_text
    assert "License-Expression: BSD-3-Clause" in metadata
    assert "License-File: LICENSE" in metadata
    # The changelog follows the README in the description, with this version's entry.
    assert "# Changelog" in metadata
    assert f"## [{__version__}]" in metadata


def test_wheel_version_is_the_apps_version(wheel):
    metadata = wheel_metadata(wheel)
    with zipfile.ZipFile(wheel) as archive:
        module = ast.parse(archive.read("attendees/__init__.py"))
    (shipped_version,) = [
        node.value.value
        for node in module.body
        if isinstance(node, ast.Assign) and [target.id for target in node.targets] == ["__version__"]
    ]

    assert shipped_version == __version__
    assert f"Version: {shipped_version}" in metadata.splitlines()
    assert wheel.name.startswith(f"django_attendees-{shipped_version}-")
    assert f"## [{__version__}]" in (REPO / "CHANGELOG.md").read_text()


def wheel_classifiers(wheel: Path) -> set[str]:
    return {
        line.removeprefix("Classifier: ")
        for line in wheel_metadata(wheel).splitlines()
        if line.startswith("Classifier:")
    }


def test_wheel_declares_its_classifiers(wheel):
    classifiers = wheel_classifiers(wheel)
    languages = {path.split("/")[2] for path in source_files("locale/*/LC_MESSAGES/django.po")}

    assert {
        "Environment :: Web Environment",
        "Framework :: Django",
        "Framework :: Django :: 5.2",
        "Intended Audience :: Developers",
        "Operating System :: OS Independent",
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3 :: Only",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Topic :: Internet :: WWW/HTTP :: Dynamic Content",
        "Natural Language :: English",
    } <= classifiers
    assert {f"Natural Language :: {NATURAL_LANGUAGES[code]}" for code in languages} <= classifiers
    assert len([name for name in classifiers if name.startswith("Development Status :: ")]) == 1
    # The license is the SPDX expression alone (PEP 639).
    assert not [name for name in classifiers if name.startswith("License ::")]


def test_every_classifier_is_one_the_package_index_knows(wheel, other_project):
    python = other_project["python"]
    python("-m", "pip", "install", "--quiet", "trove-classifiers")
    known = python("-c", "import trove_classifiers; print(*trove_classifiers.classifiers, sep=chr(10))").splitlines()

    assert wheel_classifiers(wheel) - set(known) == set()


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
    where = other_project["python"]("-c", "import attendees; print(attendees.__file__)").strip()

    assert Path(where).is_relative_to(other_project["venv"])
    assert not Path(where).is_relative_to(REPO)


def test_installed_app_reports_its_version_and_no_system_check_fails(other_project):
    version = other_project["python"](
        "-c", "import attendees, importlib.metadata as m; print(attendees.__version__, m.version('django-attendees'))"
    ).split()

    assert version == [__version__, __version__]
    other_project["manage"]("check", "--fail-level", "WARNING")


def test_installed_app_speaks_the_languages_of_its_compiled_catalogues(other_project):
    verbose_name = last_line_json(
        other_project["shell"](
            "import json\n"
            "from django.apps import apps\n"
            "from django.utils import translation\n"
            "with translation.override('de'):\n"
            "    print(json.dumps(str(apps.get_app_config('attendees').verbose_name)))\n"
        )
    )

    assert verbose_name not in {"", "Attendees"}


def test_migrate_then_check_in_and_out_through_the_api_of_the_other_project(other_project):
    manage = other_project["manage"]
    manage("migrate", "--check", "--no-input")
    assert "attendees.record_attendance" in other_project["door_staff_permissions"]

    answers = last_line_json(other_project["shell"](CHECK_IN_AND_OUT))

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

    status, html = last_line_json(other_project["shell"](DOOR_PAGE))

    assert status == 200
    assert 'data-attendees-url="/api/attendees/"' in html
    assert Path(manage("findstatic", "attendees/door.js", "-v", "0").strip()).is_relative_to(other_project["venv"])


def test_receivers_in_the_other_projects_app_hear_each_scan_once_after_it_is_committed(other_project):
    output = other_project["shell"](SCAN_AT_THE_DOOR)
    result = last_line_json(output)
    attendee, scans = result["attendee"], result["scans"]

    def heard(signal: str, sender: str, record: int, attendee: int | None) -> list[dict]:
        return [
            {
                "signal": signal,
                "sender": sender,
                "record": record,
                "attendee": attendee,
                "in_transaction": False,
                "committed": True,
            }
        ]

    for name, result, signal in [("in", "checked_in", "checked_in"), ("out", "checked_out", "checked_out")]:
        scan = scans[name]
        assert (scan["status"], scan["body"]["result"]) == (201, result)
        assert scan["heard"] == heard(signal, "Record", scan["body"]["record"]["id"], attendee)
    refused = scans["out_again"]
    assert (refused["status"], refused["body"]["code"]) == (409, "already_checked_out")
    assert refused["heard"] == heard("scan_refused", "RefusedScan", refused["heard"][0]["record"], attendee)
    unknown = scans["unknown"]
    assert (unknown["status"], unknown["body"]["code"]) == (404, "unknown_ticket")
    assert unknown["heard"] == heard("scan_refused", "RefusedScan", unknown["heard"][0]["record"], None)
    # The README's example receiver, connected in the same module, is called too.
    assert "Grace Hopper came in at " in output
