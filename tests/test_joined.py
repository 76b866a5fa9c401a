"""One statement's row read as instances of several models (django_authy2fa.joined)."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from django_authy2fa import flows, joined
from django_authy2fa.models import LoginChallenge, TwoFactorProfile

from .helpers import make_user

pytestmark = pytest.mark.django_db


class ChallengeProxy(LoginChallenge):
    """A proxy stores in its concrete model's table: its columns are that table's."""

    class Meta:
        proxy = True
        app_label = "django_authy2fa"


def _join(models_and_aliases):
    quote = connection.ops.quote_name
    user_column = quote(LoginChallenge._meta.get_field("user").column)
    user_table = quote(get_user_model()._meta.db_table)
    user_key = quote(get_user_model()._meta.pk.column)
    challenge_table = quote(LoginChallenge._meta.db_table)
    profile_table = quote(TwoFactorProfile._meta.db_table)
    return (
        f"SELECT {joined.columns('default', models_and_aliases)} FROM {challenge_table} c "  # noqa: S608
        f"INNER JOIN {user_table} u ON u.{user_key} = c.{user_column} "
        f"LEFT JOIN {profile_table} p ON p.{user_column} = c.{user_column}"
    )


def test_each_model_gets_its_own_columns_converted_and_a_missing_side_reads_none():
    bob = make_user("bob", enabled=False)
    challenge, _secret = flows.create_challenge(bob)
    models = [ChallengeProxy, get_user_model(), TwoFactorProfile]
    sql = _join(list(zip(models, ["c", "u", "p"], strict=True)))
    read, user, profile = joined.fetch_one("default", sql, [], models)
    assert type(read) is ChallengeProxy and read.pk == challenge.pk
    assert read.expires_at == challenge.expires_at  # a datetime, also on SQLite
    assert read._state.db == "default" and not read._state.adding
    assert profile is None
    stored = get_user_model().objects.get(pk=bob.pk)
    assert [getattr(user, f.attname) for f in user._meta.concrete_fields] == [
        getattr(stored, f.attname) for f in stored._meta.concrete_fields
    ]


def test_no_row_reads_none():
    models = [LoginChallenge, get_user_model()]
    sql = _join(list(zip(models, ["c", "u"], strict=True)))
    assert joined.fetch_one("default", sql, [], models) is None
