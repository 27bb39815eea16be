"""The run's own scratch database: a fresh PostgreSQL database on the server named by
`--database-url`, or a temporary SQLite file; dropped or deleted at the end."""

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import dj_database_url

POSTGRESQL_ENGINE = "django.db.backends.postgresql"


def is_postgresql(url: str) -> bool:
    return dj_database_url.parse(url)["ENGINE"] == POSTGRESQL_ENGINE


@contextlib.contextmanager
def scratch_database(url: str) -> Iterator[str]:
    """Yield the URL of a database made for this run only, and remove it afterwards."""
    if is_postgresql(url):
        with _postgresql_database(url) as scratch_url:
            yield scratch_url
    else:
        folder = Path(tempfile.mkdtemp(prefix="bench-"))
        try:
            yield f"sqlite:///{folder / 'bench.sqlite3'}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def _postgresql_database(url: str) -> Iterator[str]:
    name = f"bench_{os.getpid()}"
    server = _connect(url)
    try:
        _drop(server, name)
        with server.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        try:
            yield urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
        finally:
            _drop(server, name)
    finally:
        server.close()


def _connect(url: str):
    import psycopg2

    settings = dj_database_url.parse(url)
    options = {
        "dbname": settings["NAME"] or "postgres",
        "user": settings["USER"],
        "password": settings["PASSWORD"],
        "host": settings["HOST"],
        "port": settings["PORT"],
    }
    connection = psycopg2.connect(
        **{key: value for key, value in options.items() if value}, **settings.get("OPTIONS", {})
    )
    connection.autocommit = True
    return connection


def _drop(server, name: str) -> None:
    with server.cursor() as cursor:
        # FORCE ends connections a killed server worker may have left behind.
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
