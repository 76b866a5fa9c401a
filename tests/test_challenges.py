"""Finding an attempt by its id and secret: only an open one, of the purpose asked for."""

import datetime as dt
import uuid

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.connection import ConnectionDoesNotExist

from django_authy2fa import flows, recovery
from django_authy2fa.models import (
    ChallengePurpose,
    ChallengeStatus,
    LoginChallenge,
    TOTPDevice,
    TwoFactorProfile,
)

from .helpers import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def attempt():
    alice = make_user("alice")
    challenge, secret = flows.create_challenge(alice)
    return alice, challenge, secret


def _find(challenge_id, secret, purpose=ChallengePurpose.LOGIN):
    return flows.find_challenge(challenge_id, secret, purpose)


def test_an_open_attempt_is_found_with_its_user_in_one_statement(attempt):
    alice, challenge, secret = attempt
    with CaptureQueriesContext(connection) as captured:
        found = _find(str(challenge.pk), secret)
        assert found.user == alice
        assert found.user.is_active
        assert found.expires_at == challenge.expires_at  # converted as the ORM does
    assert found.pk == challenge.pk
    assert found.status == ChallengeStatus.PENDING
    assert len(captured.captured_queries) == 1


def _pending(challenge, secret):
    return flows.find_pending(str(challenge.pk), secret, ChallengePurpose.LOGIN)


def test_a_pending_login_reads_attempt_user_and_profile_in_one_statement(attempt):
    alice, challenge, secret = attempt
    with CaptureQueriesContext(connection) as captured:
        pending = _pending(challenge, secret)
        assert pending.user == alice and pending.challenge.user is pending.user
        assert pending.profile.user is pending.user
        assert pending.methods == ["sms", "call", "push"]
    assert len(captured.captured_queries) == 1
    # Every column converted as the ORM converts it, on every database.
    for read in (pending.challenge, pending.user, pending.profile):
        assert _values(read) == _values(type(read).objects.get(pk=read.pk))


def _values(instance):
    return [getattr(instance, f.attname) for f in instance._meta.concrete_fields]


def test_the_pending_login_knows_the_user_s_app_and_recovery_codes(attempt):
    alice, challenge, secret = attempt
    before = _pending(challenge, secret).profile
    assert (before.has_app, before.has_recovery_codes) == (False, False)
    TOTPDevice.objects.create(user=alice, encrypted_secret="x", confirmed_at=timezone.now())
    recovery.replace_codes(alice)
    pending = _pending(challenge, secret)
    assert (pending.profile.has_app, pending.profile.has_recovery_codes) == (True, True)
    assert "totp" in pending.methods and "recovery" in pending.methods


def test_a_pending_login_of_a_user_without_a_profile_has_none():
    bob = make_user("bob", enabled=False)
    challenge, secret = flows.create_challenge(bob)
    pending = _pending(challenge, secret)
    assert pending.user == bob and pending.profile is None and pending.methods == []


def test_the_pending_login_is_not_found_where_the_attempt_is_not(attempt):
    _alice, challenge, secret = attempt
    assert _pending(challenge, secret + "x") is None
    LoginChallenge.objects.filter(pk=challenge.pk).update(status=ChallengeStatus.VERIFIED)
    assert _pending(challenge, secret) is None


class ProfilesReadFromAReplica:
    def db_for_read(self, model, **hints):
        return "replica" if model is TwoFactorProfile else None


@override_settings(DATABASE_ROUTERS=[f"{__name__}.ProfilesReadFromAReplica"])
def test_a_profile_routed_elsewhere_is_read_where_the_router_says(attempt):
    # Joined on the attempt's database it would bypass the site's router; read
    # on its own, it goes to the replica (which this test does not have).
    _alice, challenge, secret = attempt
    with pytest.raises(ConnectionDoesNotExist):
        _pending(challenge, secret)


@pytest.mark.parametrize(
    "change",
    [
        {"status": ChallengeStatus.VERIFIED},
        {"status": ChallengeStatus.CANCELLED},
        {"purpose": ChallengePurpose.STEP_UP},
        {"expires_at": timezone.now() - dt.timedelta(seconds=1)},
    ],
    ids=["verified", "cancelled", "other-purpose", "expired"],
)
def test_an_attempt_that_is_not_open_for_this_purpose_is_not_found(attempt, change):
    _alice, challenge, secret = attempt
    LoginChallenge.objects.filter(pk=challenge.pk).update(**change)
    assert _find(str(challenge.pk), secret) is None


@pytest.mark.parametrize(
    "challenge_id", ["", "a", "not-a-uuid", "1 OR 1=1", str(uuid.uuid4()), "0" * 33]
)
def test_an_id_that_names_no_attempt_finds_nothing(attempt, challenge_id):
    _alice, _challenge, secret = attempt
    assert _find(challenge_id, secret) is None


def test_the_wrong_secret_or_an_inactive_user_finds_nothing(attempt):
    alice, challenge, secret = attempt
    assert _find(str(challenge.pk), secret + "x") is None
    alice.is_active = False
    alice.save()
    assert _find(str(challenge.pk), secret) is None


class UsersReadFromAReplica:
    """A site's router that sends reads of its users to a replica (no such database here)."""

    def db_for_read(self, model, **hints):
        return "replica" if model._meta.label == settings.AUTH_USER_MODEL else None


@override_settings(DATABASE_ROUTERS=[f"{__name__}.UsersReadFromAReplica"])
def test_the_attempt_s_user_is_read_where_the_attempt_is_not_from_a_replica(attempt):
    # A replica may not have seen a deactivation yet: the user who finishes an
    # attempt is read on the attempt's own database, the default one (E006).
    alice, challenge, secret = attempt
    found = _find(str(challenge.pk), secret)
    assert found is not None and found.user == alice
    alice.is_active = False
    alice.save()
    assert _find(str(challenge.pk), secret) is None
