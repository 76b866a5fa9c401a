"""The cached 2FA state: a change the other servers could not see is refused."""

import pytest

from django_authy2fa import flows
from django_authy2fa.audit import ClientInfo
from django_authy2fa.exceptions import CacheUnavailable
from django_authy2fa.models import TwoFactorProfile

from .helpers import make_user

pytestmark = pytest.mark.django_db


def test_disable_is_refused_when_the_cache_cannot_be_updated(monkeypatch):
    alice = make_user("alice")

    def broken(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr("django_authy2fa.state.cache.delete", broken)
    with pytest.raises(CacheUnavailable):
        flows.disable(alice, ClientInfo())
    profile = TwoFactorProfile.objects.get(user=alice)
    assert profile.is_enabled
    assert profile.phone_number == "+14155552671"


def test_counting_a_failure_does_not_need_the_cache(monkeypatch):
    from django_authy2fa import throttling

    alice = make_user("alice")
    monkeypatch.setattr(
        "django_authy2fa.state.cache.delete", lambda *a, **k: (_ for _ in ()).throw(OSError())
    )
    charge = throttling.charge_account_attempt(TwoFactorProfile.objects.get(user=alice).pk)
    assert charge.count == 1
