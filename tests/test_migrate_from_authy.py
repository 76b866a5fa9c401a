"""Moving Authy users to Verify or local TOTP: dry run, nothing lost on failure, re-runnable."""

import io
import time

import pytest
import responses
from django.core.management import call_command
from django.core.management.base import CommandError

from django_authy2fa import totp
from django_authy2fa.models import TOTPDevice, TwoFactorProfile

from .helpers import make_user
from .test_totp_flow import code_at

pytestmark = pytest.mark.django_db
API = "https://api.authy.com"
KEY = "test-authy-api-key-0123456789abcdef"


@pytest.fixture
def authy_users():
    users = [
        make_user(name, phone=phone)
        for name, phone in [("ann", "+14155552671"), ("ben", "+447400123456")]
    ]
    for index, user in enumerate(users, start=1):
        TwoFactorProfile.objects.filter(user=user).update(authy_id=str(1000 + index))
    orphan = make_user("cy", enabled=False)
    TwoFactorProfile.objects.create(user=orphan, authy_id="1003")
    return users


def run(*args) -> str:
    out = io.StringIO()
    call_command("authy2fa_migrate_from_authy", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_dry_run_changes_nothing(authy_users):
    report = run("--to", "verify")
    assert "dry run" in report
    assert "would migrate: 2" in report
    assert "no phone number: 1" in report
    assert TwoFactorProfile.objects.filter(authy_id__isnull=False).count() == 3


def test_to_verify_clears_authy_ids_and_keeps_phones(authy_users):
    report = run("--to", "verify", "--commit")
    assert "migrated: 2" in report
    ann = TwoFactorProfile.objects.get(user__username="ann")
    assert ann.authy_id is None
    assert ann.phone_number == "+14155552671"
    assert ann.is_enabled
    # Safe to run again: only the user without a phone is left.
    assert "no phone number: 1" in run("--to", "verify", "--commit")


@responses.activate
def test_to_totp_imports_the_seed_and_survives_an_authy_failure(authy_users, settings):
    responses.get(
        f"{API}/protected/json/users/1001/secret/export",
        json={"secret": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "otp": "492039", "success": True},
    )
    responses.get(
        f"{API}/protected/json/users/1002/secret/export", body="<html>oops</html>", status=502
    )
    responses.get(
        f"{API}/protected/json/users/1003/secret/export",
        json={"secret": "KRSXG5CTMVRXEZLU", "otp": "000000", "success": True},  # 80 bits
    )
    report = run("--to", "totp", "--commit", "--api-key", KEY)
    assert "migrated: 1" in report
    assert "failed: 2" in report  # Authy's 502, and a seed too short to keep
    assert not TOTPDevice.objects.filter(user__username="cy").exists()
    assert totp.has_confirmed_device(authy_users[0])
    # The user's app (same seed) now signs in against this site, without Authy.
    assert totp.verify(authy_users[0], code_at("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", time.time()))
    assert not TOTPDevice.objects.filter(user=authy_users[1]).exists()
    # Nothing was lost for the user Authy failed on; a second run picks it up.
    assert TwoFactorProfile.objects.get(user=authy_users[1]).authy_id == "1002"
    responses.replace(
        responses.GET,
        f"{API}/protected/json/users/1002/secret/export",
        json={"secret": "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "otp": "287082", "success": True},
    )
    report = run("--to", "totp", "--commit", "--api-key", KEY)
    assert "already done: 1" in report
    assert "migrated: 1" in report
    stored = TOTPDevice.objects.get(user=authy_users[1]).encrypted_secret
    assert "GEZDGNBVGY3TQOJQ" not in stored


def test_totp_needs_an_api_key(authy_users):
    with pytest.raises(CommandError, match=r"AUTHY2FA\['PROVIDER_OPTIONS'\]\['API_KEY'\]"):
        run("--to", "totp")
