"""The login path's UPDATEs written once behave as the ORM's update() on every database."""

import datetime as dt

import pytest
from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone

from django_authy2fa import flows, statements
from django_authy2fa.models import ChallengeStatus, LoginChallenge, TwoFactorProfile

from .helpers import make_user

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=123456)
LATER = NOW + dt.timedelta(minutes=5)


def _challenges(**fields):
    """Two identical attempts: one for the ORM, one for statements.update()."""
    alice = make_user("alice", enabled=False)
    pair = [flows.create_challenge(alice)[0] for _ in range(2)]
    LoginChallenge.objects.filter(pk__in=[c.pk for c in pair]).update(**fields)
    return pair


def _profiles(**fields):
    pair = [make_user(name).authy2fa_profile for name in ("alice", "bob")]
    TwoFactorProfile.objects.filter(pk__in=[p.pk for p in pair]).update(**fields)
    return pair


def _row(model, pk, names):
    return model.objects.filter(pk=pk).values(*names).get()


CHALLENGE_CASES = [
    # (fields before, where, values): the shapes the login path runs, matching or not.
    ({}, {"status": ChallengeStatus.PENDING, "failures__lt": 5}, {"failures": "+1"}),
    ({"failures": 5}, {"status": ChallengeStatus.PENDING, "failures__lt": 5}, {"failures": "+1"}),
    (
        {},
        {"status": ChallengeStatus.PENDING, "expires_at__gt": NOW},
        {"status": ChallengeStatus.VERIFIED, "completed_at": NOW, "method": "sms"},
    ),
    (
        {"expires_at": NOW - dt.timedelta(seconds=1)},
        {"status": ChallengeStatus.PENDING, "expires_at__gt": NOW},
        {"status": ChallengeStatus.VERIFIED, "completed_at": NOW, "method": "sms"},
    ),
    ({}, {}, {"code_channel": "call", "code_reference": "VE" + "0" * 32, "code_sent_at": NOW}),
    ({"completed_at": None}, {"completed_at": None}, {"method": "totp"}),
    ({"completed_at": NOW}, {"completed_at": None}, {"method": "totp"}),
]


@pytest.mark.parametrize(("before", "where", "values"), CHALLENGE_CASES)
def test_challenge_updates_match_the_orm(before, where, values):
    by_orm, by_statement = _challenges(**before)
    orm_values = {k: F(k) + 1 if v == "+1" else v for k, v in values.items()}
    ours = {k: statements.Increment() if v == "+1" else v for k, v in values.items()}
    expected = LoginChallenge.objects.filter(pk=by_orm.pk, **where).update(**orm_values)
    got = statements.update(LoginChallenge, {"pk": by_statement.pk, **where}, ours)
    assert got == expected
    names = ["status", "failures", "completed_at", "method", "code_channel", "code_sent_at"]
    assert _row(LoginChallenge, by_statement.pk, names) == _row(LoginChallenge, by_orm.pk, names)


PROFILE_CASES = [
    # The compare-and-set charge, with NULLs on both sides, and the reset.
    (
        {"failure_count": 2, "locked_until": None, "hard_locked_at": None},
        {"failure_count": 2, "locked_until": None, "hard_locked_at": None},
        {"failure_count": 3, "last_failure_at": NOW, "locked_until": LATER},
    ),
    (
        {"failure_count": 3, "locked_until": LATER, "hard_locked_at": None},
        {"failure_count": 3, "locked_until": None, "hard_locked_at": None},
        {"failure_count": 4, "last_failure_at": NOW},
    ),
    (
        {"failure_count": 3, "locked_until": LATER, "hard_locked_at": None},
        {"failure_count": 3, "locked_until": LATER, "hard_locked_at": None},
        {"failure_count": 4, "last_failure_at": NOW},
    ),
    (
        {"failure_count": 9, "locked_until": LATER, "hard_locked_at": NOW},
        {},
        {"failure_count": 0, "last_failure_at": None, "locked_until": None, "hard_locked_at": None},
    ),
    ({"last_code_sent_at": None}, {"last_code_sent_at": None}, {"last_code_sent_at": NOW}),
    ({"last_code_sent_at": NOW}, {"last_code_sent_at": None}, {"last_code_sent_at": LATER}),
    ({"last_code_sent_at": NOW}, {"last_code_sent_at": NOW}, {"last_code_sent_at": LATER}),
]


@pytest.mark.parametrize(("before", "where", "values"), PROFILE_CASES)
def test_profile_updates_match_the_orm(before, where, values):
    by_orm, by_statement = _profiles(**before)
    expected = TwoFactorProfile.objects.filter(pk=by_orm.pk, **where).update(**values)
    got = statements.update(TwoFactorProfile, {"pk": by_statement.pk, **where}, values)
    assert got == expected
    names = ["failure_count", "last_failure_at", "locked_until", "hard_locked_at"]
    names.append("last_code_sent_at")
    assert _row(TwoFactorProfile, by_statement.pk, names) == _row(
        TwoFactorProfile, by_orm.pk, names
    )


def test_the_primary_key_of_a_challenge_is_matched_in_the_database_s_own_form():
    _by_orm, challenge = _challenges()
    # A string id, as a session holds it, matches like the UUID does.
    assert statements.update(LoginChallenge, {"pk": str(challenge.pk)}, {"method": "sms"}) == 1
    assert LoginChallenge.objects.get(pk=challenge.pk).method == "sms"


@pytest.mark.parametrize("key", ["failures__gte", "status__in", "user__username", "failures__lt"])
def test_conditions_it_does_not_write_are_refused(key):
    _by_orm, challenge = _challenges()
    value = None if key == "failures__lt" else 1  # NULL has no order
    with pytest.raises(ValueError, match="Unsupported condition"):
        statements.update(LoginChallenge, {"pk": challenge.pk, key: value}, {"method": "sms"})
    assert LoginChallenge.objects.get(pk=challenge.pk).method == ""


def test_a_failed_statement_inside_a_transaction_marks_it_for_rollback():
    _by_orm, challenge = _challenges()
    with transaction.atomic():
        with pytest.raises(DatabaseError):  # the CHECK, or MySQL's UNSIGNED range
            statements.update(
                LoginChallenge, {"pk": challenge.pk}, {"failures": statements.Increment(-1)}
            )
        assert transaction.get_rollback()
