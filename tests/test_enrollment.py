"""Enrolling a phone, recovery codes, step-up for sensitive changes, disabling."""

import re

import pytest
from django.test import override_settings

from django_authy2fa import recovery
from django_authy2fa.models import AuditEvent, RecoveryCode, TrustedBrowser, TwoFactorProfile
from django_authy2fa.providers import locmem

from .helpers import PASSWORD, Browser, make_user, wrong

pytestmark = pytest.mark.django_db
ENROLL = "/account/2fa/enroll/"
CONFIRM = "/account/2fa/enroll/confirm/"
MANAGE = "/account/2fa/manage/"
STEP_UP = "/account/2fa/manage/confirm/"
DISABLE = "/account/2fa/manage/disable/"
CODE_RE = re.compile(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}")


def _signed_in_without_2fa(username="bob"):
    make_user(username, enabled=False)
    browser = Browser()
    browser.password_step(username)
    return browser


def test_enroll_confirm_enables_2fa_and_shows_recovery_codes_once():
    browser = _signed_in_without_2fa()
    response = browser.submit(ENROLL, {"phone": "+44 7400 123456", "channel": "sms"})
    assert response["Location"] == CONFIRM
    profile = TwoFactorProfile.objects.get(user__username="bob")
    assert not profile.is_enabled
    assert profile.phone_number == ""  # not the user's phone until confirmed
    assert locmem.outbox[-1].to == "+447400123456"
    page = browser.submit(CONFIRM, {"code": locmem.outbox[-1].code})
    assert page.status_code == 200
    codes = CODE_RE.findall(page.content.decode())
    assert len(codes) == 10
    assert "no-store" in page["Cache-Control"]
    profile.refresh_from_db()
    assert profile.is_enabled
    assert profile.phone_number == "+447400123456"
    stored = list(RecoveryCode.objects.filter(user=profile.user).values_list("digest", flat=True))
    assert len(stored) == 10
    assert not any(
        code in digest or code.replace("-", "") in digest for code in codes for digest in stored
    )
    assert AuditEvent.objects.filter(user=profile.user, event="enrolled").exists()
    # This session stays signed in and verified after the change.
    assert browser.get("/protected/").status_code == 200


def test_wrong_confirmation_code_keeps_2fa_off():
    browser = _signed_in_without_2fa()
    browser.submit(ENROLL, {"phone": "+44 7400 123456", "channel": "sms"})
    response = browser.submit(CONFIRM, {"code": wrong(locmem.outbox[-1].code)})
    assert response.status_code == 400
    assert not TwoFactorProfile.objects.get(user__username="bob").is_enabled


def test_a_refused_second_send_leaves_the_first_enrollment_confirmable():
    from django_authy2fa.models import LoginChallenge

    browser = _signed_in_without_2fa()
    browser.submit(ENROLL, {"phone": "+44 7400 123456", "channel": "sms"})
    code = locmem.outbox[-1].code
    attempts = LoginChallenge.objects.count()
    refused = browser.submit(ENROLL, {"phone": "+1 415 555 2671", "channel": "sms"})
    assert refused.status_code == 429  # the resend cooldown
    assert len(locmem.outbox) == 1
    assert LoginChallenge.objects.count() == attempts  # no attempt left behind
    page = browser.submit(CONFIRM, {"code": code})
    assert page.status_code == 200
    profile = TwoFactorProfile.objects.get(user__username="bob")
    assert profile.phone_number == "+447400123456"
    assert profile.failure_count == 0


@pytest.mark.parametrize("method", ["get", "post"])
def test_enrollment_pages_leave_a_pending_login_that_needs_no_enrollment_alone(method):
    make_user("alice")
    browser = Browser()
    browser.password_step("alice")
    browser.send_code()
    code = locmem.outbox[-1].code
    if method == "get":
        response = browser.get(ENROLL)
    else:
        response = browser.submit(ENROLL, {"phone": "+1 415 555 2671", "channel": "sms"})
    assert response.status_code == 302
    assert response["Location"] == "/account/2fa/verify/"
    assert len(locmem.outbox) == 1  # nothing sent to the other number
    assert browser.enter_code(code)["Location"] == "/protected/"


@pytest.mark.parametrize("phone", ["", "12", "+44 20 7183 8750", "not a phone", "+1" + "5" * 40])
def test_bad_phone_is_a_clear_400(phone):
    browser = _signed_in_without_2fa()
    response = browser.submit(ENROLL, {"phone": phone, "channel": "sms"})
    assert response.status_code == 400
    assert b"errorlist" in response.content or b"authy2fa-error" in response.content
    assert locmem.outbox == []


@override_settings(
    AUTHY2FA={"PROVIDER": "django_authy2fa.providers.locmem.LocmemProvider", "REQUIRED_FOR": "all"}
)
def test_forced_enrollment_completes_the_login():
    make_user("carol", enabled=False)
    browser = Browser()
    assert browser.password_step("carol")["Location"] == ENROLL
    browser.submit(ENROLL, {"phone": "+1 415 555 2671", "channel": "sms"})
    page = browser.submit(CONFIRM, {"code": locmem.outbox[-1].code})
    assert len(CODE_RE.findall(page.content.decode())) == 10
    assert browser.get("/protected/").status_code == 200


def test_changing_the_phone_needs_password_and_current_factor():
    alice = make_user("alice")
    codes = recovery.replace_codes(alice)
    browser = Browser()
    browser.full_login()
    response = browser.get(ENROLL)
    assert response["Location"].startswith(STEP_UP)
    bad = browser.submit(
        STEP_UP, {"password": "wrong", "method": "recovery", "code": codes[0], "next": ENROLL}
    )
    assert bad.status_code == 400
    assert recovery.remaining(alice) == 10  # the password failed first; the code is intact
    ok = browser.submit(
        STEP_UP, {"password": PASSWORD, "method": "recovery", "code": codes[0], "next": ENROLL}
    )
    assert ok["Location"] == ENROLL
    cooling = browser.submit(ENROLL, {"phone": "+44 7400 123456", "channel": "sms"})
    assert cooling.status_code == 429  # the login's SMS was seconds ago: cooldown holds
    TwoFactorProfile.objects.filter(user=alice).update(last_code_sent_at=None)
    browser.submit(ENROLL, {"phone": "+44 7400 123456", "channel": "sms"})
    done = browser.submit(CONFIRM, {"code": locmem.outbox[-1].code})
    assert done["Location"] == MANAGE
    profile = TwoFactorProfile.objects.get(user=alice)
    assert profile.phone_number == "+447400123456"
    assert AuditEvent.objects.filter(user=alice, event="phone_changed").exists()
    assert browser.get(MANAGE).status_code == 200


def test_disable_needs_step_up_and_removes_everything():
    alice = make_user("alice")
    recovery.replace_codes(alice)
    browser = Browser()
    browser.full_login(next_url="/protected/")
    assert browser.get(DISABLE)["Location"].startswith(STEP_UP)
    TwoFactorProfile.objects.filter(user=alice).update(last_code_sent_at=None)
    browser.submit(STEP_UP + f"?next={DISABLE}", {"send": "sms"})
    ok = browser.submit(
        STEP_UP,
        {"password": PASSWORD, "method": "sms", "code": locmem.outbox[-1].code, "next": DISABLE},
    )
    assert ok["Location"] == DISABLE
    assert browser.submit(DISABLE)["Location"] == MANAGE
    profile = TwoFactorProfile.objects.get(user=alice)
    assert not profile.is_enabled
    assert profile.phone_number == ""
    assert RecoveryCode.objects.filter(user=alice).count() == 0
    assert AuditEvent.objects.filter(user=alice, event="disabled").exists()
    assert browser.get("/protected/").status_code == 200


def test_a_password_only_session_cannot_disable():
    make_user("alice")
    browser = Browser()
    browser.password_step()
    response = browser.submit(DISABLE)
    assert response.status_code == 302
    assert "/login/" in response["Location"]
    assert TwoFactorProfile.objects.get(user__username="alice").is_enabled


def test_regenerate_needs_step_up_and_voids_the_old_set():
    alice = make_user("alice")
    old = recovery.replace_codes(alice)
    browser = Browser()
    browser.full_login()
    first = browser.submit("/account/2fa/manage/recovery-codes/")
    assert first["Location"].startswith(STEP_UP)
    assert recovery.consume(alice, old[0])  # nothing changed yet
    ok = browser.submit(
        STEP_UP, {"password": PASSWORD, "method": "recovery", "code": old[1], "next": MANAGE}
    )
    assert ok["Location"] == MANAGE
    page = browser.submit("/account/2fa/manage/recovery-codes/")
    new = CODE_RE.findall(page.content.decode())
    assert len(new) == 10
    assert not recovery.consume(alice, old[2])
    assert recovery.consume(alice, new[0])
    # The step-up is spent: another regeneration needs a new one.
    assert browser.submit("/account/2fa/manage/recovery-codes/")["Location"].startswith(STEP_UP)


def test_someone_elses_enrollment_cannot_be_confirmed():
    bob = _signed_in_without_2fa("bob")
    bob.submit(ENROLL, {"phone": "+44 7400 123456", "channel": "sms"})
    code = locmem.outbox[-1].code
    make_user("carol", enabled=False)
    # Carol signs in on the same browser (session data carries over).
    bob.logout()
    bob.password_step("carol")
    response = bob.submit(CONFIRM, {"code": code})
    assert response.status_code == 302
    assert not TwoFactorProfile.objects.filter(user__username="carol", enabled_at__isnull=False)


def test_trusted_browser_dies_with_a_password_change():
    alice = make_user("alice")
    browser = Browser()
    browser.password_step()
    browser.send_code()
    cookie = browser.enter_code(locmem.outbox[-1].code, trust_browser="on").cookies[
        "authy2fa_trust"
    ]
    alice.set_password("a new passphrase for alice")
    alice.save()
    fresh = Browser()
    fresh.cookies["authy2fa_trust"] = cookie.value
    assert fresh.password_step(password="a new passphrase for alice")["Location"] == (
        "/account/2fa/verify/"
    )


def test_enrolling_someone_elses_number_does_not_use_up_their_sign_in_quota():
    make_user("alice")  # owns +14155552671
    for name in ("m1", "m2", "m3"):
        attacker = _signed_in_without_2fa(name)
        for _ in range(2):
            TwoFactorProfile.objects.filter(user__username=name).update(last_code_sent_at=None)
            attacker.submit(ENROLL, {"phone": "+1 415 555 2671", "channel": "sms"})
    # Unconfirmed sends to one number are capped (5 per hour)...
    assert len(locmem.outbox) == 5
    # ...and the owner can still sign in with a code to that number.
    owner = Browser()
    owner.password_step()
    response = owner.send_code()
    assert "X-Authy2FA-Status" not in response
    assert len(locmem.outbox) == 6
    assert owner.enter_code(locmem.outbox[-1].code)["Location"] == "/protected/"


def test_manage_page_lists_methods_browsers_and_events_without_secrets():
    alice = make_user("alice")
    browser = Browser()
    browser.password_step()
    browser.send_code()
    code = locmem.outbox[-1].code
    browser.enter_code(code, trust_browser="on")
    page = browser.get(MANAGE).content.decode()
    assert "+1 ••••••••71" in page
    assert "4155552671" not in page
    assert "Second step passed" in page or "second step passed" in page
    browser_row = TrustedBrowser.objects.get(user=alice)
    revoke = browser.submit(f"/account/2fa/manage/browsers/{browser_row.pk}/revoke/")
    assert revoke.status_code == 302
    browser_row.refresh_from_db()
    assert browser_row.revoked_at is not None


def test_someone_elses_trusted_browser_cannot_be_revoked():
    make_user("alice")
    bob = make_user("bob", phone="+447400123456")
    from django.utils import timezone

    theirs = TrustedBrowser.objects.create(
        user=bob, token_digest="x" * 64, profile_version=1, expires_at=timezone.now()
    )
    browser = Browser()
    browser.full_login()
    browser.submit(f"/account/2fa/manage/browsers/{theirs.pk}/revoke/")
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_a_revoke_id_beyond_64_bits_is_a_404_and_revokes_nothing():
    alice = make_user("alice")
    from django.utils import timezone

    mine = TrustedBrowser.objects.create(
        user=alice, token_digest="y" * 64, profile_version=1, expires_at=timezone.now()
    )
    browser = Browser()
    browser.full_login()
    # An id that fits the column but names no browser of theirs: back to the page.
    assert browser.submit(f"/account/2fa/manage/browsers/{'9' * 18}/revoke/").status_code == 302
    for huge in ("9" * 19, "1" + "0" * 19, "9" * 40):
        answer = browser.submit(f"/account/2fa/manage/browsers/{huge}/revoke/")
        assert answer.status_code == 404
    mine.refresh_from_db()
    assert mine.revoked_at is None
