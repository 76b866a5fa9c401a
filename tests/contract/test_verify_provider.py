"""VerifyProvider through the pages: the SID binds a code to its login; HTTP mocked at one seam."""

from urllib.parse import parse_qs

import pytest
import responses
from django.test import override_settings

from django_authy2fa.exceptions import Authy2FAConfigurationError
from django_authy2fa.models import AuditEvent, LoginChallenge, TwoFactorProfile
from django_authy2fa.providers.verify import VerifyProvider

from ..helpers import Browser, make_user
from . import verify_fixtures as fx

pytestmark = pytest.mark.django_db
BASE = f"https://verify.twilio.com/v2/Services/{fx.SERVICE_SID}"
VERIFY_SETTINGS = {
    "PROVIDER": "django_authy2fa.providers.verify.VerifyProvider",
    "PROVIDER_OPTIONS": {
        "ACCOUNT_SID": fx.ACCOUNT_SID,
        "AUTH_TOKEN": "verify-auth-token-0123456789abcdef",
        "SERVICE_SID": fx.SERVICE_SID,
    },
}
OTHER_SID = "VE" + "b" * 32


@pytest.fixture
def verify_site():
    with override_settings(AUTHY2FA=VERIFY_SETTINGS), responses.RequestsMock() as mocked:
        make_user("alice", phone=fx.PHONE)
        yield mocked


def _form(call) -> dict:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


def test_login_with_verify_sends_to_e164_and_checks_by_sid(verify_site):
    verify_site.post(f"{BASE}/Verifications", json=fx.VERIFICATION_CREATED, status=201)
    verify_site.post(f"{BASE}/VerificationCheck", json=fx.CHECK_APPROVED)
    browser = Browser()
    browser.password_step()
    browser.send_code()
    assert _form(verify_site.calls[0]) == {"To": fx.PHONE, "Channel": "sms"}
    assert LoginChallenge.objects.get().code_reference == fx.VERIFICATION_SID
    response = browser.enter_code("123456")
    assert response["Location"] == "/protected/"
    assert _form(verify_site.calls[1]) == {"Code": "123456", "VerificationSid": fx.VERIFICATION_SID}


def test_wrong_code_is_pending_and_counts_as_a_failure(verify_site):
    verify_site.post(f"{BASE}/Verifications", json=fx.VERIFICATION_CREATED, status=201)
    verify_site.post(f"{BASE}/VerificationCheck", json=fx.CHECK_PENDING)
    browser = Browser()
    browser.password_step()
    browser.send_code()
    assert browser.enter_code("654321").status_code == 400
    assert TwoFactorProfile.objects.get().failure_count == 1
    assert browser.get("/protected/").status_code == 302


def test_expired_verification_asks_for_a_new_code_without_a_failure(verify_site):
    verify_site.post(f"{BASE}/Verifications", json=fx.VERIFICATION_CREATED, status=201)
    verify_site.post(f"{BASE}/VerificationCheck", json=fx.NOT_FOUND, status=404)
    browser = Browser()
    browser.password_step()
    browser.send_code()
    response = browser.enter_code("123456")
    assert response.status_code == 400
    assert (
        b"Request a new one" in response.content
        or b"request a new code" in response.content.lower()
    )
    assert TwoFactorProfile.objects.get().failure_count == 0


def test_max_sends_is_a_clear_429_and_frees_our_quota(verify_site):
    verify_site.post(f"{BASE}/Verifications", json=fx.MAX_SEND_ATTEMPTS, status=429)
    browser = Browser()
    browser.password_step()
    response = browser.send_code()
    assert response["X-Authy2FA-Status"] == "429"
    assert TwoFactorProfile.objects.get().last_code_sent_at is None
    assert not AuditEvent.objects.filter(event="code_sent").exists()


def test_a_code_can_only_complete_the_login_that_started_its_verification(verify_site):
    first, second = Browser(), Browser()
    verify_site.post(f"{BASE}/Verifications", json=fx.VERIFICATION_CREATED, status=201)
    first.password_step()
    first.send_code()
    TwoFactorProfile.objects.update(last_code_sent_at=None)
    verify_site.replace(
        responses.POST,
        f"{BASE}/Verifications",
        json={**fx.VERIFICATION_CREATED, "sid": OTHER_SID},
        status=201,
    )
    second.password_step()
    second.send_code()
    verify_site.post(f"{BASE}/VerificationCheck", json={**fx.CHECK_APPROVED, "sid": OTHER_SID})
    second.enter_code("123456")
    assert _form(verify_site.calls[-1])["VerificationSid"] == OTHER_SID


def test_timeout_is_503_not_a_failure(verify_site):
    import requests

    verify_site.post(f"{BASE}/Verifications", json=fx.VERIFICATION_CREATED, status=201)
    verify_site.post(f"{BASE}/VerificationCheck", body=requests.exceptions.ReadTimeout("slow"))
    browser = Browser()
    browser.password_step()
    browser.send_code()
    response = browser.enter_code("123456")
    assert response.status_code == 503
    assert TwoFactorProfile.objects.get().failure_count == 0


def test_missing_credentials_name_the_setting():
    with pytest.raises(Authy2FAConfigurationError, match=r"\['SERVICE_SID'\]"):
        VerifyProvider(ACCOUNT_SID=fx.ACCOUNT_SID, AUTH_TOKEN="x" * 32)
    assert [m.id for m in VerifyProvider.check({})] == ["authy2fa.E003"]


@override_settings(AUTHY2FA=VERIFY_SETTINGS)
def test_status_callback_needs_a_valid_twilio_signature(client):
    from django_authy2fa.clients.verify import compute_twilio_signature

    url = "http://testserver/account/2fa/callbacks/verify/"
    params = {"VerificationSid": fx.VERIFICATION_SID, "Status": "approved"}
    token = VERIFY_SETTINGS["PROVIDER_OPTIONS"]["AUTH_TOKEN"]
    good = compute_twilio_signature(token, url, params)
    assert client.post(url, params, headers={"X-Twilio-Signature": good}).json() == {"ok": True}
    assert client.post(url, params).status_code == 403
    forged = compute_twilio_signature("another-token", url, params)
    response = client.post(url, params, headers={"X-Twilio-Signature": forged})
    assert response.status_code == 403
    tampered = {**params, "Status": "canceled"}
    assert client.post(url, tampered, headers={"X-Twilio-Signature": good}).status_code == 403


def test_verify_callback_is_404_with_another_provider(client):
    assert client.post("/account/2fa/callbacks/verify/").status_code == 404
