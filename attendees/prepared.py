"""Statements the ORM builds once, then runs again with new values.

A scan runs the same few statements every time, for one attendee: finding them,
taking a place, opening or closing a stay, writing its record. Building each as a
queryset and compiling it to SQL costs the ORM more time than the database takes to
run it. A `Prepared` statement is built by its function once per database, with a
`Param` wherever a value goes, and keeps the SQL; each run only fills in the values,
converted as the ORM converts them for their fields. The SQL is the one the queryset
itself would run, so the rules stay written once, in the querysets.
"""

import threading
from collections.abc import Callable

from django.db import connections
from django.db.models import Expression, Field, QuerySet
from django.db.models.sql import UpdateQuery


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


class Prepared:
    """A statement built once per database by `build(alias)`, which returns its SQL and
    parameters (constants, and `Param`s for the values of each run)."""

    def __init__(self, build: Callable[[str], tuple[str, list]]):
        self.build = build
        self.built: dict[str, tuple[str, list]] = {}
        self.lock = threading.Lock()

    def sql(self, alias: str, **values) -> tuple[str, list]:
        """The statement's SQL for the database `alias`, and its parameters with `values`."""
        built = self.built.get(alias)
        if built is None:
            with self.lock:
                built = self.built.get(alias) or self.build(alias)
                _check(built[1])
                self.built[alias] = built
        connection = connections[alias]
        sql, params = built
        return sql, [
            param.output_field.get_db_prep_value(values[param.name], connection) if isinstance(param, Param) else param
            for param in params
        ]

    def execute(self, alias: str, **values):
        """Run the statement on the database `alias` with `values`; return the cursor's
        row count and rows (none for a statement that returns none)."""
        sql, params = self.sql(alias, **values)
        with connections[alias].cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount, (cursor.fetchall() if cursor.description else [])


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

    def __init__(self, build: Callable[[], QuerySet]):
        super().__init__(self._compile)
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
