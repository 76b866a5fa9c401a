"""Finding an attempt by its id and secret: only an open one, of the purpose asked for."""

import datetime as dt
import uuid

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_authy2fa import flows
from django_authy2fa.models import ChallengePurpose, ChallengeStatus, LoginChallenge

from .helpers import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def attempt():
    alice = make_user("alice")
    challenge, secret = flows.create_challenge(alice)
    return alice, challenge, secret


def _find(challenge_id, secret, purpose=ChallengePurpose.LOGIN):
    return flows.find_challenge(challenge_id, secret, purpose)


def test_an_open_attempt_is_found_with_its_user_in_two_statements(attempt):
    alice, challenge, secret = attempt
    with CaptureQueriesContext(connection) as captured:
        found = _find(str(challenge.pk), secret)
        assert found.user == alice
        assert found.user.is_active
        assert found.expires_at == challenge.expires_at  # converted as the ORM does
    assert found.pk == challenge.pk
    assert found.status == ChallengeStatus.PENDING
    assert len(captured.captured_queries) == 2


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
