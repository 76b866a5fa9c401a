"""The login path's conditional UPDATEs, each written once per shape.

``Model.objects.filter(...).update(...)`` builds and compiles its query on
every call: about 1.3 million instructions on the client, eight times what
sending the finished statement costs. A login runs six of them (claiming a
send, recording it, charging the attempt and the account, finishing the
attempt, clearing the failures), so :func:`update` writes each shape's SQL
once, with the models' own table and column names, and prepares every value
with the model field that owns it, as the ORM does. The result is the same
statement and the same row count as the ORM's on every supported database
(``tests/test_statements.py`` runs both side by side).

Only what those statements need is supported: equality (``None`` is
``IS NULL``), ``__lt`` and ``__gt`` conditions, and values or an
:class:`Increment` to set. Anything else belongs in the ORM.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Model

_OPERATORS = {"": "=", "lt": "<", "gt": ">"}


@dataclass(frozen=True)
class Increment:
    """Set a column to itself plus ``by`` (``F("name") + by`` in the ORM)."""

    by: int = 1


def update(model: type[Model], where: dict[str, Any], values: dict[str, Any]) -> int:
    """``model.objects.filter(**where).update(**values)``; returns the rows matched.

    ``where`` keys are field names (``"pk"`` for the primary key), optionally
    with ``__lt`` or ``__gt``; the conditions are joined with ``AND``.
    """
    using = router.db_for_write(model)
    connection = connections[using]
    conditions = tuple(_condition(model, key, value) for key, value in where.items())
    changes = tuple((_field(model, name), value) for name, value in values.items())
    sql = _statement(
        model,
        connection.alias,
        tuple((field.name, operator, value is None) for field, operator, value in conditions),
        tuple((field.name, isinstance(value, Increment)) for field, value in changes),
    )
    params = [
        value.by if isinstance(value, Increment) else field.get_db_prep_save(value, connection)
        for field, value in changes
    ]
    params += [
        field.get_db_prep_value(field.get_prep_value(value), connection, prepared=True)
        for field, _operator, value in conditions
        if value is not None
    ]
    with transaction.mark_for_rollback_on_error(using), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _field(model: type[Model], name: str) -> Any:
    return model._meta.pk if name == "pk" else model._meta.get_field(name)


def _condition(model: type[Model], key: str, value: Any) -> tuple[Any, str, Any]:
    name, _, lookup = key.partition("__")
    if lookup not in _OPERATORS or (value is None and lookup):
        raise ValueError(f"Unsupported condition {key!r}: use the ORM.")
    return _field(model, name), lookup, value


@functools.cache
def _statement(
    model: type[Model],
    alias: str,
    conditions: tuple[tuple[str, str, bool], ...],
    changes: tuple[tuple[str, bool], ...],
) -> str:
    quote = connections[alias].ops.quote_name

    def column(name: str) -> str:
        return quote(_field(model, name).column)

    sets = ", ".join(
        f"{column(name)} = {column(name)} + %s" if increment else f"{column(name)} = %s"
        for name, increment in changes
    )
    wheres = " AND ".join(
        f"{column(name)} IS NULL" if is_null else f"{column(name)} {_OPERATORS[operator]} %s"
        for name, operator, is_null in conditions
    )
    return f"UPDATE {quote(model._meta.db_table)} SET {sets} WHERE {wheres}"  # noqa: S608
