"""The authentication backend: Django's hashers, no user enumeration by timing, one-shot use."""

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import get_hasher

from django_authy2fa import recovery
from django_authy2fa.models import TwoFactorProfile

from .helpers import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def test_password_step_returns_the_user_and_uses_the_hasher():
    alice = make_user("alice")
    assert authenticate(None, username="alice", password=PASSWORD) == alice
    assert authenticate(None, username="alice", password="nope") is None
    assert alice.password.startswith(get_hasher().algorithm)


def test_unknown_user_still_runs_the_hasher(monkeypatch):
    calls = []
    hasher = get_hasher()
    original = type(hasher).encode

    def counting_encode(self, password, salt, *args, **kwargs):
        calls.append(password)
        return original(self, password, salt, *args, **kwargs)

    monkeypatch.setattr(type(hasher), "encode", counting_encode)
    assert authenticate(None, username="nobody", password="guess") is None
    assert calls == ["guess"]


def test_one_shot_with_a_recovery_code():
    alice = make_user("alice")
    codes = recovery.replace_codes(alice)
    user = authenticate(None, username="alice", password=PASSWORD, token=codes[0])
    assert user == alice
    assert authenticate(None, username="alice", password=PASSWORD, token=codes[0]) is None
    assert authenticate(None, username="alice", password="wrong", token=codes[1]) is None
    assert recovery.remaining(alice) == 9


def test_one_shot_wrong_token_counts_as_a_failure():
    alice = make_user("alice")
    recovery.replace_codes(alice)
    assert (
        authenticate(None, username="alice", password=PASSWORD, token="AAAA-BBBB-CCCC-DDDD") is None
    )
    assert TwoFactorProfile.objects.get(user=alice).failure_count == 1


def test_one_shot_for_a_user_without_2fa_needs_only_the_password():
    bob = make_user("bob", enabled=False)
    assert authenticate(None, username="bob", password=PASSWORD, token="123456") == bob


def test_one_shot_then_login_keeps_the_session_verified(client):
    alice = make_user("alice")
    codes = recovery.replace_codes(alice)
    response = client.post(
        "/one-shot-login/", {"username": "alice", "password": PASSWORD, "token": codes[0]}
    )
    assert response.status_code == 200
    assert client.get("/protected/").content == b"secret page of alice"


def test_one_shot_without_token_then_login_is_demoted(client):
    make_user("alice")
    response = client.post("/one-shot-login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    assert client.get("/protected/").status_code == 302
