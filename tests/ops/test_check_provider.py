"""authy2fa_check_provider: configuration without network, --ping, --to; HTTP mocked with responses.

Bodies are the reference's shapes (tests/contract/*_fixtures.py); an unmocked
request fails the test, which is how "no network by default" is checked.
"""

from __future__ import annotations

import json
from io import StringIO
from urllib.parse import parse_qs

import pytest
import responses
from django.core.management import CommandError, call_command
from django.test import override_settings

from django_authy2fa.providers import get_provider, locmem

from ..contract import authy_fixtures as authy_fx
from ..contract import verify_fixtures as verify_fx

pytestmark = pytest.mark.django_db

AUTH_TOKEN = "verify-auth-token-0123456789abcdef"
API_KEY = "authy-api-key-0123456789abcdef"
VERIFY = {
    "PROVIDER": "django_authy2fa.providers.verify.VerifyProvider",
    "PROVIDER_OPTIONS": {
        "ACCOUNT_SID": verify_fx.ACCOUNT_SID,
        "AUTH_TOKEN": AUTH_TOKEN,
        "SERVICE_SID": verify_fx.SERVICE_SID,
    },
}
AUTHY = {
    "PROVIDER": "django_authy2fa.providers.authy.AuthyProvider",
    "PROVIDER_OPTIONS": {"API_KEY": API_KEY},
}
SERVICE_URL = f"https://verify.twilio.com/v2/Services/{verify_fx.SERVICE_SID}"
# Fields of twilio-python's service fixture that the command reads (reference §B2).
SERVICE = {
    "sid": verify_fx.SERVICE_SID,
    "account_sid": verify_fx.ACCOUNT_SID,
    "friendly_name": "My Site",
    "code_length": 6,
    "lookup_enabled": True,
    "url": SERVICE_URL,
}
# Reference §A9.
APP_DETAILS = {
    "app": {
        "app_id": 3,
        "name": "Test",
        "plan": "pay_as_you_go",
        "sms_enabled": False,
        "white_label": False,
    },
    "message": "Application information.",
    "success": True,
}
AUTHY_BASE = "https://api.authy.com/protected/json"


def run(**options) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("authy2fa_check_provider", stdout=out, stderr=err, **options)
    except CommandError as error:
        error.output = out.getvalue() + err.getvalue()
        raise
    return out.getvalue(), err.getvalue()


def failing(returncode: int, **options) -> str:
    """Run, expect a CommandError with ``returncode``; return everything it said."""
    with pytest.raises(CommandError) as caught:
        run(**options)
    assert caught.value.returncode == returncode
    return caught.value.output + str(caught.value)


def assert_no_secret(text: str) -> None:
    assert AUTH_TOKEN not in text
    assert API_KEY not in text
    assert verify_fx.PHONE not in text


@pytest.fixture
def mocked():
    # Any request not registered below raises ConnectionError: no surprise network calls.
    with responses.RequestsMock() as rsps:
        yield rsps


# -- configuration (no network) ------------------------------------------------------------


@override_settings(AUTHY2FA=VERIFY)
def test_configuration_report_hides_credentials_and_calls_nothing(mocked):
    out, _ = run()
    assert "PROVIDER: django_authy2fa.providers.verify.VerifyProvider" in out
    assert "Twilio Verify; channels: call, sms" in out
    assert "PROVIDER_OPTIONS['AUTH_TOKEN']: set" in out
    assert "PROVIDER_OPTIONS['SERVICE_SID']: VA…aaaa" in out
    assert "Circuit breaker: closed, 0/5 failures" in out
    assert_no_secret(out)
    assert len(mocked.calls) == 0


@override_settings(AUTHY2FA=VERIFY)
def test_json_report(mocked):
    out, _ = run(json=True)
    report = json.loads(out)
    assert report["configuration"]["options"]["AUTH_TOKEN"] == "set"
    assert report["health"]["circuit"]["state"] == "closed"
    assert_no_secret(out)


@override_settings(AUTHY2FA={"PROVIDER": "django_authy2fa.providers.console.ConsoleProvider"})
def test_console_provider_without_debug_is_a_configuration_error():
    output = failing(3)
    assert "authy2fa.E002" in output


@override_settings(AUTHY2FA={"PROVIDER": "no.such.Provider"})
def test_unimportable_provider_is_a_configuration_error():
    assert "could not be imported" in failing(3)


@override_settings(AUTHY2FA={"METHODS": ["totp", "recovery"]})
def test_no_provider_is_a_configuration_error():
    assert "AUTHY2FA['PROVIDER'] is not set" in failing(3)


@override_settings(
    AUTHY2FA={**VERIFY, "PROVIDER_OPTIONS": {**VERIFY["PROVIDER_OPTIONS"], "AUTH_TOKEN": ""}}
)
def test_missing_credential_is_e003_and_shown_as_not_set():
    output = failing(3)
    assert "authy2fa.E003" in output
    assert "PROVIDER_OPTIONS['AUTH_TOKEN']: not set" in output


# -- --ping --------------------------------------------------------------------------------


@override_settings(AUTHY2FA=VERIFY)
def test_ping_verify_fetches_the_service(mocked):
    mocked.get(SERVICE_URL, json=SERVICE)
    out, _ = run(ping=True)
    assert "Twilio Verify answered GET /v2/Services/{ServiceSid}: service: My Site" in out
    assert mocked.calls[0].request.method == "GET"
    assert_no_secret(out)


@override_settings(AUTHY2FA=AUTHY)
def test_ping_authy_reads_the_application_details(mocked):
    mocked.get(f"{AUTHY_BASE}/app/details", json=APP_DETAILS)
    out, _ = run(ping=True)
    assert "Twilio Authy answered GET /protected/json/app/details" in out
    assert "application: Test, plan: pay_as_you_go, sms_enabled: False" in out
    assert "authy2fa.W001" in out  # the legacy warning is shown, not fatal
    assert mocked.calls[0].request.headers["X-Authy-API-Key"] == API_KEY
    assert_no_secret(out)


@pytest.mark.parametrize(
    ("settings", "url", "status", "body", "expected"),
    [
        (VERIFY, SERVICE_URL, 401, verify_fx.AUTHENTICATE, "refused the site's credentials"),
        (VERIFY, SERVICE_URL, 404, verify_fx.NOT_FOUND, "refused the site's credentials"),
        (VERIFY, SERVICE_URL, 429, verify_fx.TOO_MANY_REQUESTS, "rate limiting"),
        (VERIFY, SERVICE_URL, 503, {}, "could not be reached"),
        (VERIFY, SERVICE_URL, 200, {**SERVICE, "sid": "VA" + "b" * 32}, "no usable answer"),
        (AUTHY, f"{AUTHY_BASE}/app/details", 200, {"success": True}, "no usable answer"),
        (AUTHY, f"{AUTHY_BASE}/app/details", 401, authy_fx.INVALID_API_KEY, "credentials"),
        (AUTHY, f"{AUTHY_BASE}/app/details", 429, authy_fx.RATE_LIMITED, "rate limiting"),
    ],
)
def test_ping_errors_are_explained_with_exit_code_4(mocked, settings, url, status, body, expected):
    mocked.get(url, json=body, status=status)
    with override_settings(AUTHY2FA=settings):
        output = failing(4, ping=True)
    assert expected in output
    assert_no_secret(output)


@override_settings(AUTHY2FA=VERIFY)
def test_unreachable_provider_is_exit_code_4(mocked):
    # Nothing registered: responses raises ConnectionError, as a dead network would.
    output = failing(4, ping=True)
    assert "could not be reached" in output
    assert_no_secret(output)


def test_ping_local_provider_has_nothing_to_ask():
    out, _ = run(ping=True)
    assert "has no remote API to ask" in out


# -- --to ----------------------------------------------------------------------------------


@override_settings(AUTHY2FA=VERIFY)
def test_test_code_through_verify(mocked):
    mocked.post(f"{SERVICE_URL}/Verifications", json=verify_fx.VERIFICATION_CREATED, status=201)
    out, _ = run(to=verify_fx.PHONE)
    form = parse_qs(mocked.calls[0].request.body)
    assert (form["To"], form["Channel"]) == ([verify_fx.PHONE], ["sms"])
    assert f"sent a test SMS to +1 ••••••••61 (reference {verify_fx.VERIFICATION_SID})" in out
    assert_no_secret(out)


@override_settings(AUTHY2FA=VERIFY)
def test_test_call_through_verify_as_json(mocked):
    mocked.post(
        f"{SERVICE_URL}/Verifications",
        json={**verify_fx.VERIFICATION_CREATED, "channel": "call"},
        status=201,
    )
    report = json.loads(run(to=verify_fx.PHONE, channel="call", json=True)[0])
    assert parse_qs(mocked.calls[0].request.body)["Channel"] == ["call"]
    assert report["test"]["sent"] is True
    assert report["test"]["to"] == "+1 ••••••••61"


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (400, verify_fx.INVALID_TO, "refused this phone number"),
        (400, verify_fx.LANDLINE, "refused this phone number"),
        (429, verify_fx.MAX_SEND_ATTEMPTS, "rate limiting"),
        (401, verify_fx.AUTHENTICATE, "credentials"),
    ],
)
@override_settings(AUTHY2FA=VERIFY)
def test_test_code_errors(mocked, status, body, expected):
    mocked.post(f"{SERVICE_URL}/Verifications", json=body, status=status)
    output = failing(4, to=verify_fx.PHONE)
    assert expected in output
    assert_no_secret(output)


@override_settings(AUTHY2FA=AUTHY)
def test_test_code_through_authy_registers_then_sends(mocked):
    mocked.post(f"{AUTHY_BASE}/users/new", json=authy_fx.USER_CREATED)
    mocked.get(f"{AUTHY_BASE}/sms/1635", json=authy_fx.SMS_SENT)
    out, _ = run(to=verify_fx.PHONE, email="ops@example.com")
    assert json.loads(mocked.calls[0].request.body)["user"]["email"] == "ops@example.com"
    assert "force=true" in mocked.calls[1].request.url
    assert "Twilio Authy sent a test SMS to +1 ••••••••61." in out
    assert_no_secret(out)


@override_settings(AUTHY2FA=AUTHY)
def test_authy_sms_disabled_is_a_delivery_error(mocked):
    mocked.post(f"{AUTHY_BASE}/users/new", json=authy_fx.USER_CREATED)
    mocked.get(f"{AUTHY_BASE}/sms/1635", json=authy_fx.SMS_DISABLED, status=400)
    assert "could not deliver" in failing(4, to=verify_fx.PHONE, email="ops@example.com")


@override_settings(AUTHY2FA=AUTHY)
def test_authy_test_needs_an_email(mocked):
    assert "e-mail" in failing(1, to=verify_fx.PHONE)
    assert len(mocked.calls) == 0


@pytest.mark.parametrize("to", ["14155552671", "+1415", "call me"])
def test_test_code_needs_an_e164_number(to):
    failing(1, to=to)
    assert locmem.outbox == []


def test_test_code_through_the_local_provider_goes_through_it():
    out, _ = run(to=verify_fx.PHONE, channel="call")
    assert [(m.channel.value, m.to) for m in locmem.outbox] == [("call", verify_fx.PHONE)]
    assert "sent a test voice call to +1 ••••••••61." in out
    assert locmem.outbox[0].code not in out


def test_reset_circuit_closes_an_open_breaker():
    from django_authy2fa.exceptions import ProviderUnavailable
    from django_authy2fa.providers.base import Recipient

    provider = get_provider()
    for _ in range(5):
        locmem.fail_next(ProviderUnavailable())
        with pytest.raises(ProviderUnavailable):
            provider.check_code(Recipient(phone=verify_fx.PHONE), "123456")
    assert "Circuit breaker: open, 5/5 failures" in run()[0]
    out, _ = run(reset_circuit=True)
    assert "Circuit breaker reset" in out
    assert "Circuit breaker: closed, 0/5 failures" in out
