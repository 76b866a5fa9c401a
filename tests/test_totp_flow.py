"""Authenticator apps through the pages: enroll with a QR code, sign in, one use per code."""

import base64
import hashlib
import hmac
import re
import struct
import time

import pytest
from django.test import override_settings

from django_authy2fa.models import TOTPDevice, TwoFactorProfile
from django_authy2fa.providers import locmem

from .helpers import PASSWORD, Browser, make_user

pytestmark = pytest.mark.django_db
ENROLL_APP = "/account/2fa/enroll/app/"


def code_at(key: str, unix_time: float, step: int = 30) -> str:
    """RFC 6238 by hand (not the library under test)."""
    secret = base64.b32decode(key.replace(" ", "") + "=" * (-len(key.replace(" ", "")) % 8))
    digest = hmac.new(secret, struct.pack(">Q", int(unix_time) // step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10**6:06d}"


def enroll_app(browser) -> str:
    page = browser.get(ENROLL_APP).content.decode()
    assert "<svg" in page
    key = re.search(r'id="authy2fa-manual-key">([A-Z2-7 ]+)<', page).group(1)
    done = browser.submit(ENROLL_APP, {"code": code_at(key, time.time())})
    assert done.status_code == 200, done.content
    return key


def test_enroll_an_app_turns_2fa_on_with_recovery_codes():
    make_user("bob", enabled=False)
    browser = Browser()
    browser.password_step("bob")
    page = browser.get(ENROLL_APP).content.decode()
    key = re.search(r'id="authy2fa-manual-key">([A-Z2-7 ]+)<', page).group(1)
    assert len(key.replace(" ", "")) == 32  # 160 bits
    wrong = browser.submit(
        ENROLL_APP, {"code": "000000" if code_at(key, time.time()) != "000000" else "111111"}
    )
    assert wrong.status_code == 400
    assert key in wrong.content.decode()  # the same QR code again, not a new secret
    done = browser.submit(ENROLL_APP, {"code": code_at(key, time.time())})
    assert (
        len(re.findall(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", done.content.decode()))
        == 10
    )
    profile = TwoFactorProfile.objects.get(user__username="bob")
    assert profile.is_enabled and profile.default_method == "totp"
    device = TOTPDevice.objects.get(user__username="bob")
    assert key.replace(" ", "") not in device.encrypted_secret


def test_sign_in_with_the_app_and_a_code_works_once(monkeypatch):
    make_user("bob", enabled=False)
    browser = Browser()
    browser.password_step("bob")
    key = enroll_app(browser)
    browser.logout()
    later = time.time() + 30  # the next step: the enrollment code's step is spent
    code = code_at(key, later)
    first = Browser()
    first.password_step("bob")
    monkeypatch.setattr("django_authy2fa.totp.time.time", lambda: later)
    assert first.enter_code(code, method="totp")["Location"] == "/protected/"
    second = Browser()
    second.password_step("bob")
    assert second.enter_code(code, method="totp").status_code == 400  # replayed
    assert second.enter_code(code_at(key, later - 60), method="totp").status_code == 400  # old
    assert TwoFactorProfile.objects.get(user__username="bob").failure_count == 2


def test_app_and_phone_together_and_the_default_is_the_users_choice():
    alice = make_user("alice")
    browser = Browser()
    browser.full_login()
    TwoFactorProfile.objects.filter(user=alice).update(last_code_sent_at=None)
    assert browser.get(ENROLL_APP)["Location"].startswith("/account/2fa/manage/confirm/")
    browser.submit("/account/2fa/manage/confirm/?next=" + ENROLL_APP, {"send": "sms"})
    browser.submit(
        "/account/2fa/manage/confirm/",
        {"password": PASSWORD, "method": "sms", "code": locmem.outbox[-1].code, "next": ENROLL_APP},
    )
    page = browser.get(ENROLL_APP).content.decode()
    key = re.search(r'id="authy2fa-manual-key">([A-Z2-7 ]+)<', page).group(1)
    done = browser.submit(ENROLL_APP, {"code": code_at(key, time.time())})
    assert done["Location"] == "/account/2fa/manage/"  # already enabled: no new recovery codes
    browser.submit("/account/2fa/manage/default-method/", {"method": "totp"})
    browser.logout()
    again = Browser()
    again.password_step()
    verify_page = again.get("/account/2fa/verify/").content.decode()
    assert 'data-method="totp"' in verify_page
    assert "?method=sms" in verify_page


@override_settings(
    AUTHY2FA={"PROVIDER": None, "METHODS": ["totp", "recovery"], "REQUIRED_FOR": "all"}
)
def test_totp_only_site_needs_no_provider_at_all():
    make_user("carol", enabled=False)
    browser = Browser()
    assert browser.password_step("carol")["Location"] == "/account/2fa/enroll/"
    page = browser.get(ENROLL_APP).content.decode()
    key = re.search(r'id="authy2fa-manual-key">([A-Z2-7 ]+)<', page).group(1)
    browser.submit(ENROLL_APP, {"code": code_at(key, time.time())})
    assert browser.get("/protected/").status_code == 200
