"""Push approvals: bound to one login attempt, polled or called back, with a code fallback."""

import json

import pytest
import responses
from django.test import override_settings

from django_authy2fa.clients.authy import compute_callback_signature
from django_authy2fa.models import AuditEvent, LoginChallenge, TwoFactorProfile
from django_authy2fa.providers import PushStatus, locmem

from .helpers import VERIFY_URL, Browser, make_user

pytestmark = pytest.mark.django_db
PUSH_URL = "/account/2fa/verify/push/"
STATUS_URL = "/account/2fa/verify/push/status/"


@pytest.fixture
def alice():
    return make_user("alice")


def _start_push(browser):
    browser.password_step()
    response = browser.submit(PUSH_URL)
    assert response.status_code == 302
    return LoginChallenge.objects.filter(status="pending").latest("created_at").push_reference


def test_approved_push_completes_exactly_one_login(alice):
    browser = Browser()
    reference = _start_push(browser)
    assert browser.get(STATUS_URL).json() == {"status": "pending"}
    assert browser.get("/protected/").status_code == 302
    locmem.set_push_status(reference, PushStatus.APPROVED)
    body = browser.get(STATUS_URL).json()
    assert body == {"status": "approved", "redirect": "/protected/"}
    assert browser.get("/protected/").status_code == 200
    assert AuditEvent.objects.filter(user=alice, event="login_verified", method="push").count() == 1


def test_push_approved_for_another_login_is_refused(alice):
    first, second = Browser(), Browser()
    first_reference = _start_push(first)
    _start_push(second)
    locmem.set_push_status(first_reference, PushStatus.APPROVED)
    assert second.get(STATUS_URL).json()["status"] == "pending"
    assert second.get("/protected/").status_code == 302
    assert first.get(STATUS_URL).json()["status"] == "approved"


def test_one_approval_cannot_be_replayed(alice):
    browser = Browser()
    reference = _start_push(browser)
    locmem.set_push_status(reference, PushStatus.APPROVED)
    browser.get(STATUS_URL)
    browser.logout()
    # The old attempt is finished; polling it again logs nobody in.
    again = Browser()
    again.password_step()
    assert again.get(STATUS_URL).status_code == 400  # no push on this attempt
    assert again.get("/protected/").status_code == 302


def test_denied_push_counts_one_failure_and_falls_back_to_codes(alice):
    browser = Browser()
    reference = _start_push(browser)
    locmem.set_push_status(reference, PushStatus.DENIED)
    assert browser.get(STATUS_URL).json()["status"] == "denied"
    browser.get(STATUS_URL)
    assert TwoFactorProfile.objects.get(user=alice).failure_count == 1
    browser.send_code()
    response = browser.enter_code(locmem.outbox[-1].code)
    assert response["Location"] == "/protected/"


def test_push_quota(alice):
    browser = Browser()
    browser.password_step()
    for _ in range(3):
        browser.submit(PUSH_URL)
    browser.submit(PUSH_URL)
    pushes = [m for m in locmem.outbox if m.channel == "push"]
    assert len(pushes) == 3


API_KEY = "test-authy-api-key-0123456789abcdef"
AUTHY_SETTINGS = {
    "PROVIDER": "django_authy2fa.providers.authy.AuthyProvider",
    "PROVIDER_OPTIONS": {"API_KEY": API_KEY},
}
CALLBACK = "http://testserver/account/2fa/callbacks/authy/"


def _signed_post(client, body, *, key=API_KEY, nonce=None):
    import time

    nonce = nonce or f"{time.time():.6f}"
    signature = compute_callback_signature(
        key, url=CALLBACK, method="POST", params=body, nonce=nonce
    )
    return client.post(
        "/account/2fa/callbacks/authy/",
        data=json.dumps(body),
        content_type="application/json",
        headers={"X-Authy-Signature": signature, "X-Authy-Signature-Nonce": nonce},
    )


UUID = "550e8400-e29b-41d4-a716-446655440000"


@pytest.fixture
def authy_push():
    """An Authy user whose login attempt started a OneTouch push; yields (browser, callback)."""
    with override_settings(AUTHY2FA=AUTHY_SETTINGS), responses.RequestsMock() as mocked:
        alice = make_user("alice")
        TwoFactorProfile.objects.filter(user=alice).update(authy_id="1635")
        mocked.post(
            "https://api.authy.com/onetouch/json/users/1635/approval_requests",
            json={"approval_request": {"uuid": UUID}, "success": True},
        )
        browser = Browser()
        browser.password_step()
        browser.submit(PUSH_URL)
        callback = {
            "authy_id": 1635,
            "uuid": UUID,
            "status": "approved",
            "callback_action": "approval_request_status",
            "device_uuid": 1,
        }
        yield browser, callback


def test_unsigned_wrongly_signed_or_stale_callbacks_change_nothing(client, authy_push):
    browser, callback = authy_push
    unsigned = client.post(
        "/account/2fa/callbacks/authy/", data=json.dumps(callback), content_type="application/json"
    )
    assert unsigned.status_code == 403
    assert _signed_post(client, callback, key="another-key").status_code == 403
    assert _signed_post(client, callback, nonce="1427849783.886085").status_code == 403
    assert LoginChallenge.objects.get(push_reference=UUID).push_status == "pending"
    assert browser.get("/protected/").status_code == 302


def test_signed_callback_for_another_push_matches_nothing(client, authy_push):
    _browser, callback = authy_push
    other = {**callback, "uuid": "11111111-2222-3333-4444-555555555555"}
    assert _signed_post(client, other).json() == {"ok": False}
    assert LoginChallenge.objects.get(push_reference=UUID).push_status == "pending"


def test_signed_denial_is_stored_and_counted_once(client, authy_push):
    browser, callback = authy_push
    assert _signed_post(client, {**callback, "status": "denied"}).json() == {"ok": True}
    assert browser.get(STATUS_URL).json()["status"] == "denied"
    assert TwoFactorProfile.objects.get(user__username="alice").failure_count == 1


def test_signed_approval_callback_then_poll_logs_in(client, authy_push):
    browser, callback = authy_push
    assert _signed_post(client, callback).json() == {"ok": True}
    # The poll reads the stored approval without asking Authy again.
    assert browser.get(STATUS_URL).json()["status"] == "approved"
    assert browser.get("/protected/").status_code == 200
    # A second callback for the same push matches nothing.
    assert _signed_post(client, callback).json() == {"ok": False}


def test_callback_is_404_without_authy(client):
    assert client.post("/account/2fa/callbacks/authy/").status_code == 404


def test_verify_page_offers_push_and_fallbacks(alice):
    browser = Browser()
    browser.password_step()
    page = browser.get(VERIFY_URL + "?method=push").content.decode()
    assert "Send a request to my phone" in page
    assert "?method=sms" in page


@pytest.mark.parametrize(
    "body", [b"[" * 50000, b'{"a": "' + b"x" * 70000 + b'"}', b"\xff\xfe", b"null"]
)
def test_hostile_callback_bodies_are_refused_not_500(client, authy_push, body):
    response = client.post(
        "/account/2fa/callbacks/authy/", data=body, content_type="application/json"
    )
    assert response.status_code == 403
    assert LoginChallenge.objects.get(push_reference=UUID).push_status == "pending"


def test_a_code_sent_as_a_push_answer_is_refused_and_costs_nothing(alice):
    browser = Browser()
    browser.password_step()
    browser.send_code()
    code = locmem.outbox[-1].code
    response = browser.enter_code(code, method="push")
    assert response.status_code == 400
    assert browser.get("/protected/").status_code == 302
    attempt = LoginChallenge.objects.get(status="pending")
    assert attempt.failures == 0
    assert TwoFactorProfile.objects.get(user=alice).failure_count == 0
    # The code still works for what it was sent for.
    assert browser.enter_code(code)["Location"] == "/protected/"


def test_a_phone_code_is_recorded_under_the_channel_it_went_by(alice):
    browser = Browser()
    browser.password_step()
    browser.send_code("sms")
    response = browser.enter_code(locmem.outbox[-1].code, method="call")
    assert response["Location"] == "/protected/"
    verified = AuditEvent.objects.get(user=alice, event="login_verified")
    assert verified.method == "sms"
