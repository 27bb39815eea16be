"""Statements the ORM builds once, then runs again with new values.

A scan runs the same few statements every time, for one attendee: finding them,
taking a place, opening or closing a stay, writing its record. Building each as a
queryset and compiling it to SQL costs the ORM more time than the database takes to
run it. A `Prepared` statement is built by its function once per database, with a
`Param` wherever a value goes, and keeps the SQL; each run only fills in the values,
converted as the ORM converts them for their fields. The SQL is the one the queryset
itself would run, so the rules stay written once, in the querysets.

On PostgreSQL the statement is also prepared on the server (`PREPARE`), once per
connection, and run with `EXECUTE`: the database then plans it once, not on every run
(planning the permission query alone took 0.5 ms, four times its run). The first run
on a connection sends both in one round trip. `ATTENDEES["PREPARE_ON_SERVER"] = False`
turns this off, for a pooler that shares server connections between transactions.
A statement whose best plan depends on its values is built once but never prepared on
the server (`plan_each_run`): after five runs PostgreSQL may keep one generic plan for
all values, and an event's figures are best read by an index for a small event and by
a scan for a large one.
"""

import itertools
import re
import threading
from collections.abc import Callable

from django.db import connections
from django.db.models import Expression, Field, QuerySet
from django.db.models.sql import UpdateQuery

from .conf import app_settings


class Param(Expression):
    """A value given when a `Prepared` statement runs, by `name`, of the kind of `output_field`."""

    def __init__(self, name: str, output_field: Field):
        super().__init__(output_field=output_field)
        self.name = name

    def __repr__(self) -> str:
        return f"Param({self.name!r})"

    def as_sql(self, compiler, connection):
        return "%s", [self]

    def get_group_by_cols(self):
        return []


_NUMBERS = itertools.count(1)
# Every statement by its name on the server, to tell what an `EXECUTE` of it runs.
_BY_NAME: dict[str, "Prepared"] = {}


class Prepared:
    """A statement built once per database by `build(alias)`, which returns its SQL and
    parameters (constants, and `Param`s for the values of each run). With `plan_each_run`,
    the database plans it for the values of each run: it is never prepared on the server."""

    def __init__(self, build: Callable[[str], tuple[str, list]], *, plan_each_run: bool = False):
        self.build = build
        self.plan_each_run = plan_each_run
        self.built: dict[str, tuple[str, list]] = {}
        self.on_server: dict[str, tuple[str, str, list[Param]]] = {}
        self.lock = threading.Lock()
        self.name = f"attendees_{next(_NUMBERS)}"
        _BY_NAME[self.name] = self

    def built_for(self, alias: str) -> tuple[str, list]:
        """The statement's SQL for the database `alias`, and its parameters as built:
        constants, and `Param`s."""
        built = self.built.get(alias)
        if built is None:
            with self.lock:
                built = self.built.get(alias) or self.build(alias)
                _check(built[1])
                self.built[alias] = built
        return built

    def sql(self, alias: str, **values) -> tuple[str, list]:
        """The statement's SQL for the database `alias`, and its parameters with `values`."""
        connection = connections[alias]
        sql, params = self.built_for(alias)
        return sql, [
            param.output_field.get_db_prep_value(values[param.name], connection) if isinstance(param, Param) else param
            for param in params
        ]

    def execute(self, alias: str, **values):
        """Run the statement on the database `alias` with `values`; return the cursor's
        row count and rows (none for a statement that returns none)."""
        connection = connections[alias]
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql" and app_settings.PREPARE_ON_SERVER and not self.plan_each_run:
                sql, params = self._on_server(connection, cursor, **values)
            else:
                sql, params = self.sql(alias, **values)
            cursor.execute(sql, params)
            return cursor.rowcount, (cursor.fetchall() if cursor.description else [])

    def _on_server(self, connection, cursor, **values) -> tuple[str, list]:
        """`EXECUTE` of the statement with `values`, preceded by its `PREPARE` the first
        time on this connection. A prepared statement outlives a transaction rolled back
        or a failed `EXECUTE`, so it counts as prepared once sent; a new connection
        starts with none."""
        prepare, execute, params = self._server_sql(connection, cursor)
        arguments = [param.output_field.get_db_prep_value(values[param.name], connection) for param in params]
        held = _prepared_on(connection)
        if self.name in held:
            return execute, arguments
        held.add(self.name)
        return f"{prepare}; {execute}", arguments

    def _server_sql(self, connection, cursor) -> tuple[str, str, list[Param]]:
        """The statement's `PREPARE` (its constants written in, `%` escaped) and
        `EXECUTE` for this database, and the `Param`s in the order `EXECUTE` takes them
        (each name once)."""
        alias = connection.alias
        found = self.on_server.get(alias)
        if found is None:
            sql, params = self.built_for(alias)
            texts, constants, named = [], [], {}
            pieces = iter(params)
            for token in re.split(r"(%%|%s)", sql):
                if token != "%s":
                    texts.append(token)
                    continue
                param = next(pieces)
                if isinstance(param, Param):
                    number = named.setdefault(param.name, (len(named) + 1, param))[0]
                    texts.append(f"${number}")
                else:
                    texts.append("%s")
                    constants.append(param)
            ordered = [param for _, param in sorted(named.values(), key=lambda item: item[0])]
            types = ", ".join(param.output_field.db_type(connection) or "unknown" for param in ordered)
            prepare = cursor.mogrify(f"PREPARE {self.name} ({types}) AS {''.join(texts)}", constants)
            execute = f"EXECUTE {self.name} ({', '.join(['%s'] * len(ordered))})"
            found = (prepare.decode().replace("%", "%%"), execute, ordered)
            self.on_server[alias] = found
        return found


def _prepared_on(connection) -> set[str]:
    """The names of the statements prepared on `connection`'s current database session;
    empty again once it has reconnected."""
    session = connection.connection
    held = connection.__dict__.get("attendees_prepared")
    if held is None or held[0] is not session:
        held = (session, set())
        connection.__dict__["attendees_prepared"] = held
    return held[1]


def executed(sql: str) -> str:
    """The SQL a statement as sent runs: for an `EXECUTE` of a prepared statement (or
    its `PREPARE` and `EXECUTE`), the prepared SQL, as built; else `sql` itself. For
    reading captured queries."""
    found = re.match(r"(?:PREPARE|EXECUTE) (attendees_\d+) ", sql)
    if found is None:
        return sql
    statement = _BY_NAME[found.group(1)]
    return next(iter(statement.built.values()))[0]


def _check(params: list) -> None:
    names = [param.name for param in params if isinstance(param, Param)]
    if not names:
        raise ValueError("A prepared statement without parameters needs no preparing.")


def select_sql(queryset: QuerySet, alias: str) -> tuple[str, list]:
    """The SELECT of `queryset`, as it would run on the database `alias`."""
    return queryset.query.get_compiler(using=alias).as_sql()


def update_sql(queryset: QuerySet, alias: str, **values) -> tuple[str, list]:
    """`queryset.update(**values)` as SQL for the database `alias`, not run."""
    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(values)
    query.clear_select_clause()
    return query.get_compiler(using=alias).as_sql()


class PreparedQuery(Prepared):
    """A prepared SELECT of the rows of a `values_list` queryset built by `build()`; each
    run answers them as dicts by name, the values converted as the ORM converts them."""

    def __init__(self, build: Callable[[], QuerySet], *, plan_each_run: bool = False):
        super().__init__(self._compile, plan_each_run=plan_each_run)
        self.queryset_of = build
        self.columns: dict[str, tuple[list[str], list]] = {}

    def _compile(self, alias: str) -> tuple[str, list]:
        compiler = self.queryset_of().query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        query = compiler.query
        names = [*query.extra_select, *query.values_select, *query.annotation_select]
        self.columns[alias] = (names, [column for column, _, _ in compiler.select])
        return sql, list(params)

    def rows(self, alias: str, **values) -> list[dict]:
        _, rows = self.execute(alias, **values)
        names, columns = self.columns[alias]
        # The converters of this thread's connection, as the ORM's compiler finds them.
        connection = connections[alias]
        converters = [
            (index, converters, column)
            for index, column in enumerate(columns)
            if (converters := connection.ops.get_db_converters(column) + column.get_db_converters(connection))
        ]
        answers = []
        for row in rows:
            row = list(row)
            for index, functions, column in converters:
                for function in functions:
                    row[index] = function(row[index], column, connection)
            answers.append(dict(zip(names, row, strict=True)))
        return answers
