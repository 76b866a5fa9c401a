"""One statement's row read as instances of several models, converted as the ORM would.

The second step reads an attempt, its user and the user's profile on every
request. Three ``raw()`` reads cost three round trips; one join costs one.
``raw()`` maps a row to a single model, so this module does for a joined row
what ``raw()`` does for its own: each model's columns go through the
converters the ORM applies to them on this database, then ``Model.from_db()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connections
from django.db.models import Model
from django.db.models.sql import Query


def columns(alias: str, parts: Sequence[tuple[type[Model], str]]) -> str:
    """The select list for ``parts``, pairs of (model, table alias in the statement).

    Each model's own columns (:func:`_stored_fields`), in the order
    :func:`fetch_one` reads them back in.
    """
    quote = connections[alias].ops.quote_name
    return ", ".join(
        f"{table}.{quote(f.column)}" for model, table in parts for f in _stored_fields(model)
    )


def _stored_fields(model: type[Model]) -> Sequence[Any]:
    """The fields stored in the model's own table.

    A proxy stores in its concrete model's table. A model that inherits from
    another concrete model (multi-table) keeps its parents' fields in their
    tables: :func:`fetch_one` reads those apart, on the same database.
    """
    return model._meta.concrete_model._meta.local_concrete_fields


def fetch_one(
    alias: str, sql: str, params: Sequence[Any], models: Sequence[type[Model]]
) -> list[Any] | None:
    """The first row of ``sql``: one instance per model, then any further columns as read.

    ``sql`` must select :func:`columns` of ``models`` first. A model whose
    primary key reads NULL (the far side of a LEFT JOIN) gives None.
    """
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    fields = [f for model in models for f in _stored_fields(model)]
    compiler = connection.ops.compiler("SQLCompiler")(Query(models[0]), connection, alias)
    converters = compiler.get_converters([f.get_col(f.model._meta.db_table) for f in fields])
    values = list(next(iter(compiler.apply_converters([row], converters)))) if converters else row
    read: list[Any] = []
    start = 0
    for model in models:
        stored = _stored_fields(model)
        end = start + len(stored)
        own = values[start:end]
        pk_at = stored.index(model._meta.pk)
        names = [f.attname for f in stored]
        instance = None if own[pk_at] is None else model.from_db(alias, names, own)
        if instance is not None and len(stored) < len(model._meta.concrete_fields):
            # Read now and here: left deferred, they would load when first read,
            # from wherever the site's routers send reads (a replica, say).
            inherited = [f.attname for f in model._meta.concrete_fields if f not in stored]
            instance.refresh_from_db(using=alias, fields=inherited)
        read.append(instance)
        start = end
    return [*read, *values[start:]]
