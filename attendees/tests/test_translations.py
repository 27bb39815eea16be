"""The German translation: complete and compiled for every string the app marks, and chosen
per request, so `Accept-Language: de` gives German refusals (codes unchanged), pages and door
script, while English stays the default.

The catalogue checks refresh the catalogues of a copy of the app the way a maintainer does
(below) and fail for a string marked for translation and not yet translated, or changed
since it was (a fuzzy entry). They need GNU gettext: without it they are skipped, except in
CI (`CI=true`), where they fail.

Refreshing the catalogues, from the project's top directory (the same commands as
`refreshed_catalogues` runs; the door scripts mark their strings with their own
`t(text, values)` and `tn(singular, plural, count, values)`, which xgettext is told about):

    cd attendees
    export DJANGO_SETTINGS_MODULE=eventsite.settings PYTHONPATH=..
    django-admin makemessages -l de --ignore='tests/*'
    python -P - <<'EOF'
    import django
    from django.core.management import call_command
    from django.core.management.commands.makemessages import Command

    django.setup()
    Command.xgettext_options = [*Command.xgettext_options, "--keyword=t", "--keyword=tn:1,2"]
    call_command(
        "makemessages", locale=["de"], domain="djangojs", ignore_patterns=["tests/*", "static/attendees/vendor/*"]
    )
    EOF
    cd ../eventsite
    django-admin makemessages -l de
    # translate the new and the fuzzy entries of attendees/locale/de/LC_MESSAGES/*.po and
    # eventsite/locale/de/LC_MESSAGES/django.po (the demo project's home page), then:
    django-admin compilemessages
"""

import gettext
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.urls import reverse

from attendees.models import Attendee, Event

APP = Path(__file__).resolve().parents[1]
PROJECT = APP.parent
LANGUAGE = "de"
GETTEXT_TOOLS = ["xgettext", "msgmerge", "msguniq", "msgfmt"]

# Each catalogue: the directory makemessages runs in, so that it collects only that
# directory's strings (not the app's tests' nor the vendored libraries'), and how.
DJANGOJS_MAKEMESSAGES = """
import django
from django.core.management import call_command
from django.core.management.commands.makemessages import Command

django.setup()
Command.xgettext_options = [*Command.xgettext_options, "--keyword=t", "--keyword=tn:1,2"]
call_command(
    "makemessages", locale=["de"], domain="djangojs", ignore_patterns=["tests/*", "static/attendees/vendor/*"]
)
"""
MAKEMESSAGES = {
    ("attendees", "django"): ["-m", "django", "makemessages", "-l", LANGUAGE, "--ignore=tests/*"],
    ("attendees", "djangojs"): ["-c", DJANGOJS_MAKEMESSAGES],
    ("eventsite", "django"): ["-m", "django", "makemessages", "-l", LANGUAGE],
}
CATALOGUES = list(MAKEMESSAGES)
REFRESH = "refresh the catalogues as the docstring of attendees/tests/test_translations.py shows"


def catalogue(root: Path, directory: str, domain: str) -> Path:
    return root / directory / "locale" / LANGUAGE / "LC_MESSAGES" / f"{domain}.po"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true"}


@pytest.fixture(scope="module")
def gettext_tools() -> None:
    missing = [tool for tool in GETTEXT_TOOLS if shutil.which(tool) is None]
    if missing:
        reason = f"needs GNU gettext ({', '.join(missing)} not found): apt-get install gettext"
        if in_ci():
            pytest.fail(reason)
        pytest.skip(reason)


@dataclass
class Entry:
    msgid: str
    msgid_plural: str | None
    msgstrs: list[str]
    fuzzy: bool


def unquote(text: str) -> str:
    """A .po string's text, its C escapes undone."""
    return re.sub(r"\\(.)", lambda escape: {"n": "\n", "t": "\t"}.get(escape[1], escape[1]), text)


def read_po(path: Path) -> list[Entry]:
    """The live entries of a .po file, its header (msgid "") first; not the obsolete `#~` ones.

    An entry ends where the next one's comments or msgid begin, blank line or not (a new
    catalogue from `makemessages` may have none after its header)."""
    entries: list[Entry] = []
    fields: dict[str, str] = {}
    fuzzy = False
    current = None

    def finish() -> None:
        if "msgid" in fields:
            msgstrs = [value for name, value in fields.items() if name.startswith("msgstr")]
            entries.append(Entry(fields["msgid"], fields.get("msgid_plural"), msgstrs, fuzzy))

    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#~"):
            continue
        keyword = re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+"(.*)"$', line)
        starts_entry = line.startswith("#") or (keyword is not None and keyword[1] in {"msgctxt", "msgid"})
        if starts_entry and any(name.startswith("msgstr") for name in fields):
            finish()
            fields, fuzzy, current = {}, False, None
        if line.startswith("#"):
            fuzzy = fuzzy or (line.startswith("#,") and "fuzzy" in line)
        elif keyword is not None:
            current = keyword[1]
            fields[current] = unquote(keyword[2])
        elif line.startswith('"') and current is not None:
            fields[current] += unquote(line[1:-1])
    finish()
    return entries


@pytest.fixture(scope="module")
def refreshed(gettext_tools, tmp_path_factory) -> Path:
    """A copy of the app and of the demo project whose catalogues `makemessages` has brought
    up to date: every string marked now, merged into the committed translations."""
    root = tmp_path_factory.mktemp("refreshed")
    for directory in ("attendees", "eventsite"):
        shutil.copytree(PROJECT / directory, root / directory, ignore=shutil.ignore_patterns("__pycache__", "tests"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "eventsite.settings",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT), os.environ.get("PYTHONPATH")])),
    }
    for (directory, domain), arguments in MAKEMESSAGES.items():
        # -P: run inside the copy, whose modules (selectors.py) must not hide the standard library's.
        command = [sys.executable, "-P", *arguments]
        run = subprocess.run(command, cwd=root / directory, env=env, capture_output=True, text=True, check=False)
        assert run.returncode == 0, f"makemessages for {directory} {domain} failed:\n{run.stdout}{run.stderr}"
    return root


@pytest.mark.parametrize(("directory", "domain"), CATALOGUES)
def test_every_string_marked_for_translation_has_german_that_is_not_fuzzy(refreshed, directory, domain):
    entries = read_po(catalogue(refreshed, directory, domain))
    untranslated = [entry.msgid for entry in entries if entry.msgid and not all(entry.msgstrs)]
    fuzzy = [entry.msgid or "(the header)" for entry in entries if entry.fuzzy]

    assert len(entries) > 1, f"{directory} {domain}.po has no strings"
    assert not untranslated, f"{directory} {domain}.po lacks German for {untranslated}; {REFRESH}"
    assert not fuzzy, f"{directory} {domain}.po has fuzzy entries, changed since translated: {fuzzy}; {REFRESH}"


@pytest.mark.parametrize(("directory", "domain"), CATALOGUES)
def test_the_committed_german_catalogues_are_compiled(gettext_tools, tmp_path, directory, domain):
    source = catalogue(PROJECT, directory, domain)
    compiled = tmp_path / f"{domain}.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(compiled), str(source)], check=True)

    with compiled.open("rb") as fresh, source.with_suffix(".mo").open("rb") as committed:
        assert gettext.GNUTranslations(committed)._catalog == gettext.GNUTranslations(fresh)._catalog, (
            f"{source.with_suffix('.mo')} is older than its .po: run compilemessages"
        )


def test_a_second_check_in_is_refused_in_german_with_its_code_unchanged(door_client, attendee):
    url = f"/api/attendees/{attendee.pk}/checkin/"
    assert door_client.post(url, format="json", HTTP_ACCEPT_LANGUAGE=LANGUAGE).status_code == 201

    response = door_client.post(url, format="json", HTTP_ACCEPT_LANGUAGE=LANGUAGE)

    assert response.status_code == 409
    assert response.json() == {"detail": "Die Person ist bereits eingecheckt.", "code": "already_checked_in"}
    assert response["Content-Language"] == LANGUAGE


def test_a_refused_scan_tells_the_door_in_german_since_when_and_where(door_client, attendee):
    scan = {"ticket_code": attendee.ticket_code, "direction": "in", "station": "Nordeingang"}
    assert door_client.post("/api/scans/", scan, format="json").status_code == 201

    response = door_client.post("/api/scans/", scan, format="json", HTTP_ACCEPT_LANGUAGE=LANGUAGE)

    assert response.status_code == 409
    assert response.json()["code"] == "already_checked_in"
    assert re.fullmatch(r"Bereits drinnen seit \d\d:\d\d UTC, Nordeingang\.", response.json()["detail"])


def test_a_bad_request_is_explained_in_german(door_client):
    response = door_client.post(
        "/api/attendees/bulk-checkout/", {"ids": [999_999]}, format="json", HTTP_ACCEPT_LANGUAGE=LANGUAGE
    )

    assert response.status_code == 400
    assert response.json() == {"ids": ["Unbekannte Teilnehmer-ID: 999999."]}


def test_english_stays_the_default_and_for_languages_not_offered(door_client, attendee):
    url = f"/api/attendees/{attendee.pk}/checkin/"
    door_client.post(url, format="json")

    for accept_language in ({}, {"HTTP_ACCEPT_LANGUAGE": "fr"}):
        response = door_client.post(url, format="json", **accept_language)

        assert response.json() == {"detail": "The attendee is already checked in.", "code": "already_checked_in"}


def test_the_ticket_page_is_german(client, db):
    event = Event.objects.create(name="PyCon", starts_at=datetime(2026, 11, 24, 9, 0, tzinfo=UTC), timezone="UTC")
    attendee = Attendee.objects.create(event=event, first_name="Ada", last_name="Lovelace", email="ada@example.org")

    response = client.get(f"/tickets/{attendee.ticket_code}/", HTTP_ACCEPT_LANGUAGE=LANGUAGE)

    html = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="de">' in html
    assert "Ticketinhaber" in html
    assert "Dienstag, 24. November 2026" in html
    assert "Ticket holder" not in html


def test_the_door_login_page_is_german(client, db):
    response = client.get(reverse("attendees:door-login"), HTTP_ACCEPT_LANGUAGE=LANGUAGE)

    html = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="de">' in html
    assert "Anmelden" in html
    assert "Benutzername" in html
    assert "Sign in" not in html


def test_the_door_script_gets_every_german_string_from_the_javascript_catalog(client, db):
    response = client.get(reverse("javascript-catalog"), HTTP_ACCEPT_LANGUAGE=LANGUAGE)

    catalog = json.loads(re.search(r"const newcatalog = (\{.*?\});", response.content.decode(), re.DOTALL)[1])
    assert catalog.get("Checked in") == "Eingecheckt"
    assert catalog.get("Checked out") == "Ausgecheckt"
    strings = read_po(catalogue(PROJECT, "attendees", "djangojs"))
    missing = [entry.msgid for entry in strings if entry.msgid not in {"", *catalog}]
    assert not missing, f"not in the compiled catalogue: {missing}"


def test_the_demo_home_page_is_german(client, db):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE=LANGUAGE)

    html = response.content.decode()
    assert '<html lang="de">' in html
    assert "Einlasskontrolle" in html
    assert "API-Dokumentation" in html
    assert "Event check-in" not in html
