"""The user table the benchmarks run against: N users, each with 2FA turned on.

Every user ``u0000042`` has the password :data:`PASSWORD`, an enabled
:class:`~django_authy2fa.models.TwoFactorProfile` with a phone number, one
unused recovery-code row, an authenticator app of this app and a TOTP device
of django-otp. The filler secrets are not usable: the benchmarks enroll real
secrets for the users they sign in.

Small tables are built with the ORM (any database); large ones on PostgreSQL
with one ``INSERT ... SELECT FROM generate_series`` per table and a password
hash computed once, so a million users take seconds rather than hours.
"""

from __future__ import annotations

import time
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, models, transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice as OtpTOTPDevice

from django_authy2fa.models import RecoveryCode, TOTPDevice, TwoFactorProfile, new_version

from .identities import PASSWORD, phone, username


def count() -> int:
    return get_user_model().objects.count()


def grow(target: int, password_hash: str | None = None) -> float:
    """Add users ``count()+1 .. target``; returns the seconds taken (0 when nothing to add)."""
    start = count() + 1
    if start > target:
        return 0.0
    password_hash = password_hash or make_password(PASSWORD)
    began = time.perf_counter()
    if connection.vendor == "postgresql":
        _grow_sql(start, target, password_hash)
    else:
        _grow_orm(start, target, password_hash)
    return time.perf_counter() - began


def _grow_orm(start: int, end: int, password_hash: str) -> None:
    user_model = get_user_model()
    now = timezone.now()
    with transaction.atomic():
        users = user_model.objects.bulk_create(
            user_model(
                id=i,
                username=username(i),
                email=f"{username(i)}@example.com",
                password=password_hash,
            )
            for i in range(start, end + 1)
        )
        TwoFactorProfile.objects.bulk_create(
            TwoFactorProfile(
                user=u,
                phone_number=phone(u.pk),
                default_method="sms",
                enabled_at=now,
                phone_confirmed_at=now,
            )
            for u in users
        )
        RecoveryCode.objects.bulk_create(RecoveryCode(user=u, digest=f"{u.pk:064x}") for u in users)
        TOTPDevice.objects.bulk_create(
            # A filler row, never checked; benchmarked users get a real secret.
            TOTPDevice(user=u, encrypted_secret="filler", confirmed_at=now)  # noqa: S106
            for u in users
        )
        OtpTOTPDevice.objects.bulk_create(
            OtpTOTPDevice(user=u, name="filler", confirmed=True) for u in users
        )
    _reset_sequences()


def _grow_sql(start: int, end: int, password_hash: str) -> None:
    """One INSERT ... SELECT per table; ``g`` is the user id from generate_series."""
    name = "'u' || lpad(g::text, 7, '0')"
    tables: list[tuple[type[models.Model], dict[str, tuple[str, list[Any]]]]] = [
        (
            get_user_model(),
            {
                "id": ("g", []),
                "username": (name, []),
                "email": (f"{name} || '@example.com'", []),
                "password": ("%s", [password_hash]),
                "date_joined": ("now()", []),
            },
        ),
        (
            TwoFactorProfile,
            {
                "user": ("g", []),
                "phone_number": ("'+1415' || lpad((g %% 10000000)::text, 7, '0')", []),
                "default_method": ("'sms'", []),
                "enabled_at": ("now()", []),
                "phone_confirmed_at": ("now()", []),
                "version": ("%s", [new_version()]),
                "created_at": ("now()", []),
                "updated_at": ("now()", []),
            },
        ),
        (
            RecoveryCode,
            {
                "user": ("g", []),
                "digest": ("lpad(to_hex(g), 64, '0')", []),
                "created_at": ("now()", []),
            },
        ),
        (
            TOTPDevice,
            {
                "user": ("g", []),
                "encrypted_secret": ("'filler'", []),
                "confirmed_at": ("now()", []),
                "created_at": ("now()", []),
            },
        ),
        (
            OtpTOTPDevice,
            {
                "user": ("g", []),
                "name": ("'filler'", []),
                "key": ("md5(g::text) || '00000000'", []),
                "created_at": ("now()", []),
            },
        ),
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        for model, given in tables:
            columns, values, params = _insert_parts(model, given)
            cursor.execute(
                f'INSERT INTO "{model._meta.db_table}" ({", ".join(columns)}) '  # noqa: S608 - names from _meta
                f"SELECT {', '.join(values)} FROM generate_series(%s, %s) AS g",
                [*params, start, end],
            )
    _reset_sequences()


def settle() -> float:
    """Let the database finish with a bulk load before anything is timed; returns seconds.

    ``VACUUM (ANALYZE)`` gives the planner statistics and sets the rows'
    visibility bits (otherwise the first reads of each row write them), and
    ``CHECKPOINT`` flushes the load to disk now rather than during the
    measurements that follow.
    """
    if connection.vendor != "postgresql":
        return 0.0
    began = time.perf_counter()
    tables = [get_user_model(), TwoFactorProfile, RecoveryCode, TOTPDevice, OtpTOTPDevice]
    with connection.cursor() as cursor:
        for model in tables:
            cursor.execute(f'VACUUM (ANALYZE) "{model._meta.db_table}"')
        cursor.execute("CHECKPOINT")
    return time.perf_counter() - began


def _insert_parts(
    model: type[models.Model], given: dict[str, tuple[str, list[Any]]]
) -> tuple[list[str], list[str], list[Any]]:
    """Columns, SQL expressions and parameters for every concrete field of ``model``.

    A field not in ``given`` takes its static default, else NULL, else "" when
    it may be blank; a field
    with neither (or a callable default) must be given, so a model change
    fails here loudly instead of inserting wrong rows.
    """
    columns: list[str] = []
    values: list[str] = []
    params: list[Any] = []
    for field in model._meta.concrete_fields:
        if field.name in given:
            expression, args = given[field.name]
        elif field.primary_key:
            continue
        elif field.has_default() and not callable(field.default):
            expression, args = "%s", [field.get_db_prep_save(field.default, connection)]
        elif field.null:
            expression, args = "NULL", []
        elif field.blank and field.empty_strings_allowed:
            expression, args = "''", []
        else:
            raise ValueError(f"{model.__name__}.{field.name} needs a value in the bulk insert.")
        columns.append(connection.ops.quote_name(field.column))
        values.append(expression)
        params.extend(args)
    return columns, values, params


def _reset_sequences() -> None:
    from django.core.management.color import no_style

    models_ = [get_user_model(), TwoFactorProfile, RecoveryCode, TOTPDevice, OtpTOTPDevice]
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), models_):
            cursor.execute(sql)
