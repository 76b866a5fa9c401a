"""Contract tests for the Twilio Verify v2 client.

Requests are checked field for field against what twilio-python sends for the
same call (method, path, PascalCase form fields, HTTP Basic auth), and answers
use the bodies collected in the reference (see ``verify_fixtures``). No
database is needed.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import logging
import secrets
import socket
import threading
import time
import traceback
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
import responses
from django.http import QueryDict
from django.utils.datastructures import MultiValueDict

from django_authy2fa import __version__
from django_authy2fa.clients.verify import (
    CHANNELS,
    VERIFY_ERROR_CODES,
    WRONG_CODE_ERROR_CODES,
    VerificationCheckResult,
    VerificationResult,
    VerificationStatus,
    VerifyClient,
    compute_twilio_signature,
)
from django_authy2fa.exceptions import (
    Authy2FAConfigurationError,
    Authy2FAError,
    CodeExpired,
    InvalidIdentifier,
    InvalidInput,
    InvalidPhoneNumber,
    InvalidTokenFormat,
    ProviderAuthenticationFailed,
    ProviderDeliveryFailed,
    ProviderError,
    ProviderPhoneRejected,
    ProviderRejected,
    ProviderThrottled,
    ProviderUnavailable,
    Throttled,
    UnsupportedChannel,
    http_status,
)
from tests.contract import verify_fixtures as fx

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
API_KEY_SID = "SK" + "fedcba9876543210" * 2
AUTH_TOKEN = "f1e2d3c4b5a6978812345678abcdef90"
SERVICE_SID = fx.SERVICE_SID
VE_SID = fx.VERIFICATION_SID
BASE = "https://verify.twilio.com/v2"
VERIFICATIONS_URL = f"{BASE}/Services/{SERVICE_SID}/Verifications"
VERIFICATION_URL = f"{VERIFICATIONS_URL}/{VE_SID}"
CHECK_URL = f"{BASE}/Services/{SERVICE_SID}/VerificationCheck"
DEFAULT_TIMEOUT = (3.05, 10)
PHONE = fx.PHONE
CODE = "123456"


# --- Fixtures and helpers ----------------------------------------------------------------


@pytest.fixture
def client() -> Iterator[VerifyClient]:
    with VerifyClient(ACCOUNT_SID, AUTH_TOKEN, SERVICE_SID) as verify:
        yield verify


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


def basic_auth(request) -> tuple[str, str]:
    scheme, _, encoded = request.headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    username, _, password = base64.b64decode(encoded).decode("ascii").partition(":")
    return username, password


def assert_request(
    call: responses.Call,
    method: str,
    url: str,
    form: list[tuple[str, str]] | None = None,
    *,
    username: str = ACCOUNT_SID,
) -> None:
    """The request went out exactly as twilio-python would send it."""
    request = call.request
    sent = urlsplit(request.url)
    assert request.method == method
    assert f"{sent.scheme}://{sent.netloc}{sent.path}" == url
    assert sent.query == ""
    assert basic_auth(request) == (username, AUTH_TOKEN)
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"] == f"django-authy2fa/{__version__}"
    assert "Cookie" not in request.headers
    assert request.req_kwargs["timeout"] == DEFAULT_TIMEOUT
    if form is None:
        assert request.body is None
        assert "Content-Type" not in request.headers
    else:
        assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
        # Same names, same order, nothing else.
        assert parse_qsl(request.body, keep_blank_values=True, strict_parsing=True) == form


# --- Construction ----------------------------------------------------------------------


def test_defaults():
    client = VerifyClient(ACCOUNT_SID, AUTH_TOKEN, SERVICE_SID)
    assert client.api_url == "https://verify.twilio.com/v2"
    assert client.timeout == DEFAULT_TIMEOUT
    assert client.account_sid == ACCOUNT_SID
    assert client.service_sid == SERVICE_SID
    assert {"sms", "call", "email", "whatsapp"} == CHANNELS


@pytest.mark.parametrize(
    "account_sid",
    [
        "",
        None,
        12345,
        "AC" + "a" * 31,
        "AC" + "a" * 33,
        "AC" + "g" * 32,
        "ac" + "a" * 32,
        "VA" + "a" * 32,
        "AC" + "a" * 32 + "\n",
        " AC" + "a" * 32,
        "AC" + "\uff41" * 32,  # full-width letters
    ],
)
def test_bad_account_sid_is_a_configuration_error(account_sid):
    with pytest.raises(Authy2FAConfigurationError, match="account SID"):
        VerifyClient(account_sid, AUTH_TOKEN, SERVICE_SID)


@pytest.mark.parametrize(
    "service_sid",
    ["", None, "VA" + "a" * 31, "VE" + "a" * 32, "VA" + "z" * 32, "VA" + "a" * 32 + "/x"],
)
def test_bad_service_sid_is_a_configuration_error(service_sid):
    with pytest.raises(Authy2FAConfigurationError, match="service SID"):
        VerifyClient(ACCOUNT_SID, AUTH_TOKEN, service_sid)


@pytest.mark.parametrize(
    "token", ["", None, 12345, "tok en", "trailing-newline\n", " leading", "x" * 257, "tök"]
)
def test_bad_auth_token_is_a_configuration_error(token):
    with pytest.raises(Authy2FAConfigurationError, match="auth token") as excinfo:
        VerifyClient(ACCOUNT_SID, token, SERVICE_SID)
    if isinstance(token, str) and token:
        assert token.strip() not in str(excinfo.value)


def test_api_key_sid_is_accepted_as_username(rsps):
    rsps.post(VERIFICATIONS_URL, json=fx.VERIFICATION_CREATED, status=201)
    with VerifyClient(API_KEY_SID, AUTH_TOKEN, SERVICE_SID) as client:
        client.start_verification(PHONE)
    assert_request(
        rsps.calls[0],
        "POST",
        VERIFICATIONS_URL,
        [("To", PHONE), ("Channel", "sms")],
        username=API_KEY_SID,
    )


@pytest.mark.parametrize(
    "api_url",
    [
        "https://verify.twilio.com/v2",
        "https://verify.twilio.com/v2/",
        "https://verify.dublin.ie1.twilio.com/v2",
        "http://127.0.0.1:8000/v2",
        "http://localhost:9000",
        "http://[::1]:9000",
    ],
)
def test_accepted_api_urls(api_url):
    assert VerifyClient(ACCOUNT_SID, AUTH_TOKEN, SERVICE_SID, api_url).api_url == api_url.rstrip(
        "/"
    )


@pytest.mark.parametrize(
    "api_url",
    [
        "http://verify.twilio.com/v2",
        "http://10.0.0.1:8000",
        "ftp://verify.twilio.com",
        "verify.twilio.com/v2",
        "",
        "https://",
        "https://user:secret@verify.twilio.com/v2",
        "https://verify.twilio.com/v2?x=1",
        "https://verify.twilio.com/v2#frag",
        "https://verify.twilio.com:notaport/v2",
        None,
    ],
)
def test_rejected_api_urls(api_url):
    with pytest.raises(Authy2FAConfigurationError, match="URL"):
        VerifyClient(ACCOUNT_SID, AUTH_TOKEN, SERVICE_SID, api_url)


@pytest.mark.parametrize(
    "timeout", [0, -1, None, True, float("inf"), float("nan"), (1,) * 3, ("1", 2), (1, 0), [3, 10]]
)
def test_bad_timeout_is_a_configuration_error(timeout):
    with pytest.raises(Authy2FAConfigurationError, match="timeout"):
        VerifyClient(ACCOUNT_SID, AUTH_TOKEN, SERVICE_SID, timeout=timeout)


def test_configuration_error_is_outside_the_runtime_root():
    with pytest.raises(Authy2FAConfigurationError) as excinfo:
        VerifyClient(ACCOUNT_SID, "", SERVICE_SID)
    assert not isinstance(excinfo.value, Authy2FAError)


def test_repr_never_shows_the_token(client):
    assert AUTH_TOKEN not in repr(client)
    assert AUTH_TOKEN not in str(client)
    assert repr(client) == (
        f"VerifyClient(service_sid='{SERVICE_SID}', api_url='https://verify.twilio.com/v2')"
    )


def test_owned_session_never_retries_and_is_closed():
    client = VerifyClient(ACCOUNT_SID, AUTH_TOKEN, SERVICE_SID)
    session = client._session
    adapter = session.get_adapter("https://verify.twilio.com")
    assert adapter.max_retries.total == 0
    assert session.get_adapter("http://127.0.0.1") is adapter
    closed = []
    session.close = lambda: closed.append(True)
    with client:
        pass
    assert closed == [True]


def test_callers_session_is_used_and_left_open(rsps):
    class CountingSession(requests.Session):
        closed = 0

        def close(self):
            type(self).closed += 1
            super().close()

    session = CountingSession()
    rsps.post(VERIFICATIONS_URL, json=fx.VERIFICATION_CREATED, status=201)
    with VerifyClient(ACCOUNT_SID, AUTH_TOKEN, SERVICE_SID, session=session) as client:
        client.start_verification(PHONE)
    assert CountingSession.closed == 0
    # The credentials go per request, never onto a shared session.
    assert session.auth is None
    assert "Authorization" not in session.headers
    assert basic_auth(rsps.calls[0].request) == (ACCOUNT_SID, AUTH_TOKEN)


def test_a_netrc_entry_never_replaces_the_credentials(client, rsps, tmp_path, monkeypatch):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine verify.twilio.com login intruder password stolen\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    rsps.post(VERIFICATIONS_URL, json=fx.VERIFICATION_CREATED, status=201)
    client.start_verification(PHONE)
    assert basic_auth(rsps.calls[0].request) == (ACCOUNT_SID, AUTH_TOKEN)


def test_cookies_from_twilio_are_not_replayed(client, rsps):
    rsps.post(
        VERIFICATIONS_URL,
        json=fx.VERIFICATION_CREATED,
        status=201,
        headers={"Set-Cookie": "lb=node7; Domain=verify.twilio.com; Path=/"},
    )
    rsps.post(VERIFICATIONS_URL, json=fx.VERIFICATION_CREATED, status=201)
    client.start_verification(PHONE)
    client.start_verification(PHONE)
    assert "Cookie" not in rsps.calls[1].request.headers


# --- Starting a verification --------------------------------------------------------------


def test_start_verification_request_shape_and_result(client, rsps):
    rsps.post(VERIFICATIONS_URL, json=fx.VERIFICATION_CREATED, status=201)
    result = client.start_verification(PHONE)
    assert_request(rsps.calls[0], "POST", VERIFICATIONS_URL, [("To", PHONE), ("Channel", "sms")])
    assert rsps.calls[0].request.body == "To=%2B15017122661&Channel=sms"
    assert result == VerificationResult(
        sid=VE_SID,
        status=VerificationStatus.PENDING,
        channel="sms",
        to="+*********61",
        valid=False,
        date_created=datetime(2015, 7, 30, 20, 0, tzinfo=timezone.utc),
        date_updated=datetime(2015, 7, 30, 20, 0, tzinfo=timezone.utc),
        send_code_attempts=1,
    )
    assert PHONE not in repr(result)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.status = VerificationStatus.APPROVED  # type: ignore[misc]


@pytest.mark.parametrize("channel", ["sms", "call", "whatsapp"])
def test_start_verification_phone_channels_with_locale(client, rsps, channel):
    rsps.post(VERIFICATIONS_URL, json={**fx.VERIFICATION_CREATED, "channel": channel}, status=201)
    result = client.start_verification(PHONE, channel=channel, locale="pt-BR")
    assert_request(
        rsps.calls[0],
        "POST",
        VERIFICATIONS_URL,
        [("To", PHONE), ("Channel", channel), ("Locale", "pt-BR")],
    )
    assert result.channel == channel


def test_start_verification_by_email(client, rsps):
    rsps.post(VERIFICATIONS_URL, json=fx.EMAIL_VERIFICATION_CREATED, status=201)
    result = client.start_verification("mail@email.com", channel="email")
    assert_request(
        rsps.calls[0], "POST", VERIFICATIONS_URL, [("To", "mail@email.com"), ("Channel", "email")]
    )
    assert result.channel == "email"
    assert result.to == "m***@email.com"


def test_start_verification_accepts_200(client, rsps):
    rsps.post(VERIFICATIONS_URL, json=fx.VERIFICATION_CREATED, status=200)
    assert client.start_verification(PHONE).sid == VE_SID


@pytest.mark.parametrize("channel", ["SMS", "voice", "sna", "auto", "", None, 1, "sms\n"])
def test_unsupported_channel_never_reaches_the_network(client, rsps, channel):
    with pytest.raises(UnsupportedChannel):
        client.start_verification(PHONE, channel=channel)
    assert len(rsps.calls) == 0


BAD_PHONES = [
    "15017122661",  # no "+"
    "5017122661",
    "+1 501 712 2661",
    "+1-501-712-2661",
    "+1 (501) 712-2661",
    "+15017122661\n",
    "+1501712\x002661",
    "+1501712\t2661",
    "\u202e+15017122661",  # right-to-left override
    "+15017122661\u200b",  # zero-width space
    "+\uff11\uff15\uff10\uff11\uff17\uff11\uff12\uff12\uff16\uff16\uff11",  # full-width digits
    "+\u0661\u0665\u0660\u0661\u0667\u0661\u0662\u0662\u0666\u0666\u0661",  # Arabic-Indic
    "+1555",
    "+15555555555",  # a fictional 555 number: not valid
    "+99912345678",  # no such country code
    "+015017122661",
    "+1501712266112345",  # longer than E.164 allows
    "+15017122661?x=1",
    "+15017122661/../x",
    "+1-800-FLOWERS",
    "+",
    "",
    None,
    15017122661,
    b"+15017122661",
    "recipient@foo.com",
]


@pytest.mark.parametrize("to", BAD_PHONES)
@pytest.mark.parametrize("channel", ["sms", "call", "whatsapp"])
def test_bad_phone_never_reaches_the_network(client, rsps, to, channel):
    with pytest.raises(InvalidPhoneNumber):
        client.start_verification(to, channel=channel)
    assert len(rsps.calls) == 0


BAD_EMAILS = [
    "not-an-email",
    "a@b",
    "a@example.com\n",
    "a@exa\x00mple.com",
    "a b@example.com",
    "@example.com",
    "x" * 250 + "@example.com",
    "",
    None,
    ["a@example.com"],
    PHONE,
]


@pytest.mark.parametrize("to", BAD_EMAILS)
def test_bad_email_never_reaches_the_network(client, rsps, to):
    with pytest.raises(InvalidInput) as excinfo:
        client.start_verification(to, channel="email")
    assert not isinstance(excinfo.value, InvalidPhoneNumber)
    assert len(rsps.calls) == 0


@pytest.mark.parametrize(
    "locale", ["", "e", "english-language-tag-that-is-long", "pt BR", "en\n", 1]
)
def test_bad_locale_never_reaches_the_network(client, rsps, locale):
    with pytest.raises(InvalidInput):
        client.start_verification(PHONE, locale=locale)
    assert len(rsps.calls) == 0


def test_max_send_attempts_is_throttled(client, rsps):
    rsps.post(
        VERIFICATIONS_URL, json=fx.MAX_SEND_ATTEMPTS, status=429, headers={"Retry-After": "600"}
    )
    with pytest.raises(ProviderThrottled) as excinfo:
        client.start_verification(PHONE)
    exc = excinfo.value
    assert (exc.status_code, exc.error_code, exc.retry_after) == (429, "60203", 600)
    assert exc.provider == "Twilio Verify"
    assert exc.provider_message == "Max send attempts reached"
    assert isinstance(exc, Throttled)
    assert http_status(exc) == 429


def test_invalid_to_is_a_phone_problem(client, rsps):
    rsps.post(VERIFICATIONS_URL, json=fx.INVALID_TO, status=400)
    with pytest.raises(ProviderPhoneRejected) as excinfo:
        client.start_verification(PHONE)
    assert (excinfo.value.status_code, excinfo.value.error_code) == (400, "60200")


def test_invalid_to_for_email_is_not_a_phone_problem(client, rsps):
    rsps.post(VERIFICATIONS_URL, json=fx.INVALID_TO, status=400)
    with pytest.raises(ProviderRejected) as excinfo:
        client.start_verification("mail@email.com", channel="email")
    assert not isinstance(excinfo.value, ProviderPhoneRejected)
    assert excinfo.value.error_code == "60200"


def test_invalid_channel_means_the_channel_is_not_available(client, rsps):
    rsps.post(VERIFICATIONS_URL, json=fx.INVALID_CHANNEL, status=400)
    with pytest.raises(UnsupportedChannel):
        client.start_verification(PHONE, channel="whatsapp")


def test_other_invalid_parameter_is_rejected(client, rsps):
    rsps.post(VERIFICATIONS_URL, json=fx.INVALID_LOCALE, status=400)
    with pytest.raises(ProviderRejected) as excinfo:
        client.start_verification(PHONE, locale="xx")
    assert type(excinfo.value) is ProviderRejected
    assert excinfo.value.provider_message == "Invalid parameter: Locale"


def test_landline_is_a_phone_problem(client, rsps):
    rsps.post(VERIFICATIONS_URL, json=fx.LANDLINE, status=400)
    with pytest.raises(ProviderPhoneRejected) as excinfo:
        client.start_verification(PHONE)
    assert excinfo.value.error_code == "60205"


def test_start_with_refused_credentials(client, rsps):
    rsps.post(VERIFICATIONS_URL, json=fx.AUTHENTICATE, status=401)
    with pytest.raises(ProviderAuthenticationFailed) as excinfo:
        client.start_verification(PHONE)
    assert (excinfo.value.status_code, excinfo.value.error_code) == (401, "20003")
    assert http_status(excinfo.value) == 503


def test_start_404_means_an_unknown_service_not_an_expired_code(client, rsps):
    rsps.post(VERIFICATIONS_URL, json=fx.error(20404, 404, "not found"), status=404)
    with pytest.raises(ProviderAuthenticationFailed, match="service SID") as excinfo:
        client.start_verification(PHONE)
    assert excinfo.value.error_code == "20404"


@pytest.mark.parametrize("body", [fx.TOO_MANY_REQUESTS, fx.CONCURRENT_SAME_NUMBER])
def test_concurrency_limits_are_throttled(client, rsps, body):
    rsps.post(VERIFICATIONS_URL, json=body, status=429)
    with pytest.raises(ProviderThrottled) as excinfo:
        client.start_verification(PHONE)
    assert excinfo.value.error_code == str(body["code"])
    assert excinfo.value.retry_after is None


@pytest.mark.parametrize(
    "changes",
    [
        {"sid": None},
        {"sid": "VE123"},
        {"sid": "XX" + "a" * 32},
        {"sid": "VE../../x"},
        {"sid": "VE" + "a" * 32 + "\n"},
        {"sid": 12345},
        {"status": "sent"},
        {"status": None},
        {"service_sid": "VA" + "b" * 32},
        {"service_sid": 1},
    ],
)
def test_unexpected_verification_answer_is_unavailable(client, rsps, changes):
    rsps.post(VERIFICATIONS_URL, json={**fx.VERIFICATION_CREATED, **changes}, status=201)
    with pytest.raises(ProviderUnavailable) as excinfo:
        client.start_verification(PHONE)
    assert excinfo.value.status_code == 201


def test_answer_without_service_sid_and_dates_is_tolerated(client, rsps):
    body = {"sid": VE_SID, "status": "pending", "date_created": "yesterday"}
    rsps.post(VERIFICATIONS_URL, json=body, status=201)
    result = client.start_verification(PHONE)
    assert result == VerificationResult(
        sid=VE_SID,
        status=VerificationStatus.PENDING,
        channel=None,
        to=None,
        valid=None,
        date_created=None,
        date_updated=None,
        send_code_attempts=0,
    )


# --- Checking a code --------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 201])
def test_check_approved_by_phone(client, rsps, status):
    rsps.post(CHECK_URL, json=fx.CHECK_APPROVED, status=status)
    result = client.check_verification(CODE, to=PHONE)
    assert_request(rsps.calls[0], "POST", CHECK_URL, [("Code", CODE), ("To", PHONE)])
    assert rsps.calls[0].request.body == "Code=123456&To=%2B15017122661"
    assert result == VerificationCheckResult(
        approved=True,
        sid=VE_SID,
        status=VerificationStatus.APPROVED,
        channel="sms",
        to="+*********61",
        valid=True,
        date_created=datetime(2015, 7, 30, 20, 0, tzinfo=timezone.utc),
        date_updated=datetime(2015, 7, 30, 20, 0, tzinfo=timezone.utc),
    )


def test_check_approved_by_verification_sid(client, rsps):
    rsps.post(CHECK_URL, json=fx.CHECK_APPROVED, status=201)
    result = client.check_verification(CODE, verification_sid=VE_SID)
    assert_request(rsps.calls[0], "POST", CHECK_URL, [("Code", CODE), ("VerificationSid", VE_SID)])
    assert result.approved is True


def test_check_approved_by_email(client, rsps):
    rsps.post(CHECK_URL, json=fx.EMAIL_CHECK_APPROVED, status=201)
    result = client.check_verification("4321", to=fx.EMAIL)
    assert_request(rsps.calls[0], "POST", CHECK_URL, [("Code", "4321"), ("To", fx.EMAIL)])
    assert (result.approved, result.channel, result.to) == (True, "email", "r***@foo.com")


def test_uppercase_hex_sid_is_accepted(client, rsps):
    upper = "VE" + "A" * 32
    rsps.post(CHECK_URL, json=fx.CHECK_APPROVED, status=201)
    assert client.check_verification("1234567890", verification_sid=upper).approved is True
    assert_request(
        rsps.calls[0], "POST", CHECK_URL, [("Code", "1234567890"), ("VerificationSid", upper)]
    )


def test_wrong_code_is_pending_not_an_exception(client, rsps):
    rsps.post(CHECK_URL, json=fx.CHECK_PENDING, status=200)
    result = client.check_verification("654321", to=PHONE)
    assert result.approved is False
    assert result.status is VerificationStatus.PENDING
    assert result.valid is False


def test_approved_without_valid_field_is_approved(client, rsps):
    body = {k: v for k, v in fx.CHECK_APPROVED.items() if k != "valid"}
    rsps.post(CHECK_URL, json=body, status=201)
    result = client.check_verification(CODE, to=PHONE)
    assert (result.approved, result.valid) == (True, None)


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"valid": False}, 201),  # approved but not valid: contradictory
        ({"valid": "true"}, 201),
        ({"valid": 1}, 201),
        ({"status": "pending", "valid": True}, 200),  # valid but pending: contradictory
        ({"status": "APPROVED"}, 200),
        ({"status": "unknown"}, 200),
        ({"status": None}, 200),
        ({"sid": None}, 200),
        ({"sid": "VE../../x"}, 200),
        ({"service_sid": "VA" + "b" * 32}, 200),
        ({}, 202),  # only 200/201 count
        ({}, 206),
    ],
)
def test_check_that_is_not_explicit_fails_closed(client, rsps, changes, status):
    rsps.post(CHECK_URL, json={**fx.CHECK_APPROVED, **changes}, status=status)
    with pytest.raises(ProviderUnavailable) as excinfo:
        client.check_verification(CODE, to=PHONE)
    assert excinfo.value.status_code == status


def test_check_answer_for_another_verification_is_refused(client, rsps):
    rsps.post(CHECK_URL, json={**fx.CHECK_APPROVED, "sid": "VE" + "b" * 32}, status=201)
    with pytest.raises(ProviderUnavailable, match="another verification"):
        client.check_verification(CODE, verification_sid=VE_SID)


@pytest.mark.parametrize("body", [fx.NOT_FOUND, fx.NOT_FOUND_RFC9457])
def test_check_on_approved_expired_or_unknown_verification(client, rsps, body):
    rsps.post(CHECK_URL, json=body, status=404)
    with pytest.raises(CodeExpired, match="new code") as excinfo:
        client.check_verification(CODE, to=PHONE)
    assert http_status(excinfo.value) == 400


@pytest.mark.parametrize("body", [fx.MAX_CHECK_ATTEMPTS, fx.MAX_CHECK_ATTEMPTS_RFC9457])
def test_max_check_attempts_is_throttled(client, rsps, body):
    rsps.post(CHECK_URL, json=body, status=429)
    with pytest.raises(ProviderThrottled) as excinfo:
        client.check_verification(CODE, to=PHONE)
    assert (excinfo.value.status_code, excinfo.value.error_code) == (429, "60202")
    assert excinfo.value.provider_message == "Max check attempts reached"


def test_code_of_a_length_the_service_refuses_is_the_users_to_fix(client, rsps):
    rsps.post(CHECK_URL, json=fx.INVALID_CODE, status=400)
    with pytest.raises(InvalidTokenFormat):
        client.check_verification("1234", to=PHONE)


def test_check_with_refused_credentials(client, rsps):
    rsps.post(CHECK_URL, json=fx.AUTHENTICATE, status=401)
    with pytest.raises(ProviderAuthenticationFailed):
        client.check_verification(CODE, to=PHONE)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("max_attempts_reached", ProviderThrottled),
        ("expired", CodeExpired),
        ("canceled", CodeExpired),
        ("deleted", CodeExpired),
        ("failed", CodeExpired),
    ],
)
def test_terminal_status_in_a_check_answer_raises(client, rsps, status, expected):
    rsps.post(CHECK_URL, json={**fx.CHECK_APPROVED, "status": status, "valid": False}, status=200)
    with pytest.raises(expected):
        client.check_verification(CODE, to=PHONE)


@pytest.mark.parametrize("code", sorted(WRONG_CODE_ERROR_CODES))
def test_legacy_wrong_code_errors_are_a_wrong_code(client, rsps, code):
    rsps.post(CHECK_URL, json=fx.error(int(code), 400, "Invalid code"), status=400)
    result = client.check_verification(CODE, verification_sid=VE_SID)
    assert (result.approved, result.sid, result.status) == (False, VE_SID, None)


def test_legacy_wrong_code_error_with_429_is_not_a_wrong_code(client, rsps):
    # Contradictory (a throttle status with a wrong-code code): not counted against the user.
    rsps.post(CHECK_URL, json=fx.error(60201, 429, "Invalid code"), status=429)
    with pytest.raises(ProviderError):
        client.check_verification(CODE, to=PHONE)


@pytest.mark.parametrize(
    "code",
    [
        "12a456",
        "\uff11\uff12\uff13\uff14\uff15\uff16",  # full-width digits
        "\u0661\u0662\u0663\u0664\u0665\u0666",  # Arabic-Indic digits
        "123",
        "12345678901",
        "123456\n",
        " 123456",
        "123456 ",
        "123 456",
        "123456&To=%2B1",
        "",
        None,
        123456,
        b"123456",
        ["123456"],
    ],
)
def test_bad_code_never_reaches_the_network(client, rsps, code):
    with pytest.raises(InvalidTokenFormat):
        client.check_verification(code, to=PHONE)
    with pytest.raises(InvalidTokenFormat):
        client.check_verification(code, verification_sid=VE_SID)
    assert len(rsps.calls) == 0


@pytest.mark.parametrize("code", ["1234", "123456", "1234567890", "000000"])
def test_good_codes(client, rsps, code):
    rsps.post(CHECK_URL, json=fx.CHECK_APPROVED, status=201)
    assert client.check_verification(code, to=PHONE).approved is True
    assert parse_qsl(rsps.calls[0].request.body)[0] == ("Code", code)


@pytest.mark.parametrize(
    "to", [p for p in BAD_PHONES if p is not None and not (isinstance(p, str) and "@" in p)]
)
def test_check_with_bad_phone_never_reaches_the_network(client, rsps, to):
    with pytest.raises(InvalidPhoneNumber):
        client.check_verification(CODE, to=to)
    assert len(rsps.calls) == 0


@pytest.mark.parametrize("to", ["a@b", "a@example.com\n", "a b@example.com", "@example.com"])
def test_check_with_bad_email_never_reaches_the_network(client, rsps, to):
    with pytest.raises(InvalidInput):
        client.check_verification(CODE, to=to)
    assert len(rsps.calls) == 0


def test_check_needs_exactly_one_of_to_and_sid(client, rsps):
    with pytest.raises(InvalidInput, match="exactly one"):
        client.check_verification(CODE)
    with pytest.raises(InvalidInput, match="exactly one"):
        client.check_verification(CODE, to=PHONE, verification_sid=VE_SID)
    assert len(rsps.calls) == 0


BAD_SIDS = [
    "VE../../x",
    "VE" + "a" * 31,
    "VE" + "a" * 33,
    "VE" + "a" * 32 + "\n",
    "VE" + "a" * 32 + "/x",
    "VE" + "a" * 31 + "/",
    "VE" + "g" * 32,
    "ve" + "a" * 32,
    "VA" + "a" * 32,
    "VE" + "\uff41" * 32,
    "VE%2e%2e%2fx" + "a" * 23,
    "",
    None,
    1,
]


@pytest.mark.parametrize("sid", BAD_SIDS)
def test_bad_verification_sid_never_reaches_the_network(client, rsps, sid):
    calls = [
        lambda: client.fetch_verification(sid),
        lambda: client.cancel_verification(sid),
    ]
    if sid is not None:
        calls.append(lambda: client.check_verification(CODE, verification_sid=sid))
    for call in calls:
        with pytest.raises(InvalidIdentifier):
            call()
    assert len(rsps.calls) == 0


# --- Fetching and cancelling ---------------------------------------------------------------


def test_fetch_verification(client, rsps):
    rsps.get(VERIFICATION_URL, json=fx.VERIFICATION_FETCHED)
    result = client.fetch_verification(VE_SID)
    assert_request(rsps.calls[0], "GET", VERIFICATION_URL)
    assert (result.sid, result.status) == (VE_SID, VerificationStatus.PENDING)


def test_cancel_verification(client, rsps):
    rsps.post(VERIFICATION_URL, json=fx.VERIFICATION_CANCELED)
    result = client.cancel_verification(VE_SID)
    assert_request(rsps.calls[0], "POST", VERIFICATION_URL, [("Status", "canceled")])
    assert rsps.calls[0].request.body == "Status=canceled"
    assert result.status is VerificationStatus.CANCELED


@pytest.mark.parametrize("method", ["fetch_verification", "cancel_verification"])
def test_gone_verification_is_expired(client, rsps, method):
    rsps.add(
        responses.GET if method == "fetch_verification" else responses.POST,
        VERIFICATION_URL,
        json=fx.error(20404, 404, "not found"),
        status=404,
    )
    with pytest.raises(CodeExpired):
        getattr(client, method)(VE_SID)


@pytest.mark.parametrize("method", ["fetch_verification", "cancel_verification"])
def test_answer_about_another_verification_is_refused(client, rsps, method):
    rsps.add(
        responses.GET if method == "fetch_verification" else responses.POST,
        VERIFICATION_URL,
        json={**fx.VERIFICATION_CANCELED, "sid": "VE" + "b" * 32},
    )
    with pytest.raises(ProviderUnavailable, match="another verification"):
        getattr(client, method)(VE_SID)


# --- Unusable answers and transport failures ----------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_unavailable(client, rsps, status):
    rsps.post(
        CHECK_URL,
        json=fx.error(20500, status, "Internal Server Error"),
        status=status,
    )
    with pytest.raises(ProviderUnavailable) as excinfo:
        client.check_verification(CODE, to=PHONE)
    assert excinfo.value.status_code == status
    assert http_status(excinfo.value) == 503


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("<html><body>Service Unavailable</body></html>", 503),
        ("<html>Not Found</html>", 404),  # a proxy's 404 is not "the code expired"
        ("Unauthorized", 401),
        ("", 400),
        ("", 200),
        ("[]", 200),
        ('"approved"', 201),
        ("null", 200),
        ('{"status": "approved"', 200),  # truncated
        ("[" * 100_000, 200),  # absurd nesting
        ("{}", 201),
    ],
)
def test_non_json_or_non_object_bodies_are_unavailable(client, rsps, body, status):
    rsps.post(CHECK_URL, body=body, status=status)
    with pytest.raises(ProviderUnavailable) as excinfo:
        client.check_verification(CODE, to=PHONE)
    assert excinfo.value.status_code == status


def test_429_without_a_body_is_still_throttled(client, rsps):
    rsps.post(CHECK_URL, body="", status=429, headers={"Retry-After": "30"})
    with pytest.raises(ProviderThrottled) as excinfo:
        client.check_verification(CODE, to=PHONE)
    assert excinfo.value.retry_after == 30


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, ProviderRejected),
        (401, ProviderAuthenticationFailed),
        (403, ProviderAuthenticationFailed),
        (404, CodeExpired),
        (409, ProviderRejected),
        (429, ProviderThrottled),
        (500, ProviderUnavailable),
    ],
)
def test_status_fallback_without_a_code(client, rsps, status, expected):
    rsps.post(CHECK_URL, json={"message": "Something happened", "status": status}, status=status)
    with pytest.raises(Authy2FAError) as excinfo:
        client.check_verification(CODE, to=PHONE)
    assert type(excinfo.value) is expected


def test_unknown_code_falls_back_to_status(client, rsps):
    rsps.post(CHECK_URL, json=fx.error(69999, 400, "Something new"), status=400)
    with pytest.raises(ProviderRejected, match="not a known Verify code") as excinfo:
        client.check_verification(CODE, to=PHONE)
    assert excinfo.value.error_code == "69999"


def test_200_with_an_error_body_is_not_a_success(client, rsps):
    rsps.post(CHECK_URL, json={**fx.CHECK_APPROVED, "code": 20003}, status=200)
    with pytest.raises(ProviderAuthenticationFailed):
        client.check_verification(CODE, to=PHONE)


@pytest.mark.parametrize("raw_code", [60202, "60202", 60202.0])
def test_error_code_is_normalised_to_a_string(client, rsps, raw_code):
    rsps.post(CHECK_URL, json={"code": raw_code, "message": "Max check attempts"}, status=429)
    with pytest.raises(ProviderThrottled) as excinfo:
        client.check_verification(CODE, to=PHONE)
    assert excinfo.value.error_code == "60202"


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirect_is_not_followed(status):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(CHECK_URL, status=status, headers={"Location": "https://evil.example/steal"})
        mock.post("https://evil.example/steal", json=fx.CHECK_APPROVED, status=201)
        with (
            VerifyClient(ACCOUNT_SID, AUTH_TOKEN, SERVICE_SID) as client,
            pytest.raises(ProviderUnavailable) as excinfo,
        ):
            client.check_verification(CODE, to=PHONE)
        assert len(mock.calls) == 1
        assert excinfo.value.status_code == status


def test_redirect_with_an_approved_body_is_not_approved(client, rsps):
    rsps.post(CHECK_URL, json=fx.CHECK_APPROVED, status=302, headers={"Location": CHECK_URL})
    with pytest.raises(ProviderUnavailable, match="redirect"):
        client.check_verification(CODE, to=PHONE)


@pytest.mark.parametrize(
    "error",
    [
        requests.exceptions.ConnectTimeout("connect timed out"),
        requests.exceptions.ReadTimeout("read timed out"),
        requests.exceptions.ConnectionError("connection reset"),
        requests.exceptions.SSLError("certificate verify failed"),
        requests.exceptions.ChunkedEncodingError("broken chunk"),
        requests.exceptions.RequestException("anything else"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_transport_errors_are_unavailable(client, rsps, error):
    rsps.post(CHECK_URL, body=error)
    with pytest.raises(ProviderUnavailable) as excinfo:
        client.check_verification(CODE, to=PHONE)
    exc = excinfo.value
    # The cause keeps its type and text, but not the request (credentials, form
    # body) nor the frames whose locals hold them.
    cause = exc.__cause__
    assert type(cause) is type(error)
    assert cause is not error
    assert str(cause) == str(error)
    assert cause.__traceback__ is None
    assert getattr(cause, "request", None) is None
    assert exc.__suppress_context__ is True
    assert exc.status_code is None
    assert http_status(exc) == 503


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (requests.exceptions.ConnectTimeout("x"), "connect to Twilio Verify in time"),
        (requests.exceptions.ReadTimeout("x"), "did not answer in time"),
    ],
)
def test_timeouts_say_which_timeout(client, rsps, error, message):
    rsps.post(VERIFICATIONS_URL, body=error)
    with pytest.raises(ProviderUnavailable, match=message):
        client.start_verification(PHONE)


def test_refused_connection_is_unavailable():
    # A real socket, no mocking: bind to get a free port, then close it.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with VerifyClient(
        ACCOUNT_SID, AUTH_TOKEN, SERVICE_SID, f"http://127.0.0.1:{port}/v2"
    ) as client:
        started = time.monotonic()
        with pytest.raises(ProviderUnavailable, match="Could not connect") as excinfo:
            client.check_verification(CODE, to=PHONE)
        assert time.monotonic() - started < 3
    exc = excinfo.value
    assert isinstance(exc.__cause__, requests.exceptions.ConnectionError)
    assert "Connection refused" in str(exc.__cause__)
    assert exc.__cause__.request is None
    rendered = "".join(traceback.format_exception(exc))
    assert AUTH_TOKEN not in rendered
    assert PHONE not in rendered


def test_oversized_body_is_unavailable(client, rsps):
    rsps.post(CHECK_URL, body=b" " * (300 * 1024), status=201)
    with pytest.raises(ProviderUnavailable) as excinfo:
        client.check_verification(CODE, to=PHONE)
    assert excinfo.value.status_code == 201


# --- Real local HTTP server: connection reuse, slow bodies ----------------------------------


class _VerifyStub(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    connections = 0
    seen: list = []

    def setup(self):
        type(self).connections += 1
        super().setup()

    def log_message(self, *args):
        pass

    def _record(self) -> str:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        type(self).seen.append((self.command, self.path, self.headers["Authorization"], body))
        return body

    def do_GET(self):
        self._record()
        self._json(200, fx.VERIFICATION_FETCHED)

    def do_POST(self):
        self._record()
        if self.path.endswith("/VerificationCheck"):
            self._json(201, fx.CHECK_APPROVED)
        elif self.path.endswith("/Verifications"):
            if type(self).drip:
                self._drip(json.dumps(fx.VERIFICATION_CREATED).encode())
            else:
                self._json(201, fx.VERIFICATION_CREATED)
        else:
            self._json(200, fx.VERIFICATION_CANCELED)

    drip = False

    def _json(self, status, body):
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _drip(self, payload):
        self.send_response(201)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        try:
            for byte in payload:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass


@pytest.fixture
def stub_server() -> Iterator[str]:
    _VerifyStub.connections = 0
    _VerifyStub.seen = []
    _VerifyStub.drip = False
    server = ThreadingHTTPServer(("127.0.0.1", 0), _VerifyStub)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v2"
    finally:
        server.shutdown()
        server.server_close()


def test_calls_reuse_one_keep_alive_connection(stub_server):
    with VerifyClient(ACCOUNT_SID, AUTH_TOKEN, SERVICE_SID, stub_server) as client:
        assert client.start_verification(PHONE).status is VerificationStatus.PENDING
        assert client.check_verification(CODE, to=PHONE).approved is True
        assert client.fetch_verification(VE_SID).sid == VE_SID
        assert client.cancel_verification(VE_SID).status is VerificationStatus.CANCELED
        assert client.check_verification(CODE, verification_sid=VE_SID).approved is True
    assert _VerifyStub.connections == 1
    prefix = f"/v2/Services/{SERVICE_SID}"
    expected_auth = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert _VerifyStub.seen == [
        ("POST", f"{prefix}/Verifications", expected_auth, "To=%2B15017122661&Channel=sms"),
        ("POST", f"{prefix}/VerificationCheck", expected_auth, "Code=123456&To=%2B15017122661"),
        ("GET", f"{prefix}/Verifications/{VE_SID}", expected_auth, ""),
        ("POST", f"{prefix}/Verifications/{VE_SID}", expected_auth, "Status=canceled"),
        (
            "POST",
            f"{prefix}/VerificationCheck",
            expected_auth,
            f"Code=123456&VerificationSid={VE_SID}",
        ),
    ]


def test_a_body_that_trickles_in_is_cut_off(stub_server):
    _VerifyStub.drip = True
    # Each byte arrives well within the read timeout; only a total deadline stops it.
    with VerifyClient(
        ACCOUNT_SID, AUTH_TOKEN, SERVICE_SID, stub_server, timeout=(1, 0.5)
    ) as client:
        started = time.monotonic()
        with pytest.raises(ProviderUnavailable) as excinfo:
            client.start_verification(PHONE)
        elapsed = time.monotonic() - started
    assert elapsed < 2.5
    assert excinfo.value.status_code == 201


# --- Error-code mapping --------------------------------------------------------------------

# Written out by hand from reference §B8, independently of the table under test.
REFERENCE_B8_CODES = [
    "20003",
    "20404",
    "20429",
    "60200",
    "60201",
    "60202",
    "60203",
    "60204",
    "60205",
    "60206",
    "60207",
    "60208",
    "60209",
    "60210",
    "60211",
    "60212",
    "60213",
    "60308",
    "60310",
    "60311",
    "60318",
    "60324",
    "60364",
]


def test_table_covers_every_code_in_the_reference():
    assert len(REFERENCE_B8_CODES) == len(set(REFERENCE_B8_CODES)) == 23
    assert set(VERIFY_ERROR_CODES) == set(REFERENCE_B8_CODES)
    assert set(VERIFY_ERROR_CODES) >= WRONG_CODE_ERROR_CODES
    for cls, meaning in VERIFY_ERROR_CODES.values():
        assert issubclass(cls, Authy2FAError)
        assert meaning.endswith(".")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("20003", ProviderAuthenticationFailed),
        ("20404", CodeExpired),
        ("20429", ProviderThrottled),
        ("60202", ProviderThrottled),
        ("60203", ProviderThrottled),
        ("60204", ProviderDeliveryFailed),
        ("60205", ProviderPhoneRejected),
        ("60212", ProviderThrottled),
        ("60308", ProviderThrottled),
        ("60310", ProviderThrottled),
        ("60318", ProviderRejected),
    ],
)
def test_table_spot_checks(code, expected):
    assert VERIFY_ERROR_CODES[code][0] is expected


# The HTTP status the reference gives each code, "—" codes as 400.
_B8_STATUS = {"20003": 401, "20404": 404, "20429": 429, "60202": 429, "60203": 429}
_B8_STATUS |= {"60212": 429, "60308": 429, "60310": 429, "60311": 403, "60318": 403}
_B8_STATUS |= {"60324": 403}


@pytest.mark.parametrize("code", REFERENCE_B8_CODES)
def test_every_code_raises_its_class(client, rsps, code):
    status = _B8_STATUS.get(code, 400)
    rsps.post(VERIFICATIONS_URL, json=fx.error(int(code), status, "Something"), status=status)
    with pytest.raises(Authy2FAError) as excinfo:
        client.start_verification(PHONE)
    exc = excinfo.value
    if code == "20404":  # starting a verification: the service is unknown
        assert type(exc) is ProviderAuthenticationFailed
    else:
        assert type(exc) is VERIFY_ERROR_CODES[code][0]
    if isinstance(exc, ProviderError):
        assert (exc.status_code, exc.error_code, exc.provider) == (status, code, "Twilio Verify")


def test_known_code_decides_even_on_5xx(client, rsps):
    rsps.post(CHECK_URL, json=fx.error(20003, 500, "Authenticate"), status=500)
    with pytest.raises(ProviderAuthenticationFailed):
        client.check_verification(CODE, to=PHONE)


# --- Logging and error reports ---------------------------------------------------------------


def test_logs_name_the_endpoint_but_never_the_token_code_or_recipient(client, rsps, caplog):
    caplog.set_level(logging.DEBUG, logger="django_authy2fa")
    rsps.post(VERIFICATIONS_URL, json=fx.VERIFICATION_CREATED, status=201)
    rsps.post(CHECK_URL, json=fx.CHECK_APPROVED, status=201)
    rsps.post(CHECK_URL, json=fx.CHECK_PENDING, status=200)
    rsps.post(CHECK_URL, json=fx.MAX_CHECK_ATTEMPTS, status=429)
    rsps.post(CHECK_URL, body=requests.exceptions.ConnectionError(f"boom {CHECK_URL}"))
    client.start_verification(PHONE)
    assert client.check_verification(CODE, to=PHONE).approved is True
    assert client.check_verification(CODE, to=PHONE).approved is False
    with pytest.raises(ProviderThrottled):
        client.check_verification(CODE, to=PHONE)
    with pytest.raises(ProviderUnavailable):
        client.check_verification(CODE, to=PHONE)
    assert "start_verification" in caplog.text
    assert "check_verification" in caplog.text
    assert "60202" in caplog.text
    assert "ConnectionError" in caplog.text
    assert AUTH_TOKEN not in caplog.text
    assert CODE not in caplog.text
    assert PHONE not in caplog.text
    assert PHONE[1:] not in caplog.text


def test_django_error_report_masks_token_and_code():
    """Django's 500 page and error emails show frame locals; secrets must be masked."""
    from django.conf import settings

    if not settings.configured:
        pytest.skip("needs Django settings (run with pytest-django)")
    from django.views.debug import ExceptionReporter

    assert settings.DEBUG is False  # the filter only masks when DEBUG is off
    token = secrets.token_hex(16)
    code = str(secrets.randbelow(9 * 10**9) + 10**9)  # 10 digits: no chance match
    basic = base64.b64encode(f"{ACCOUNT_SID}:{token}".encode()).decode()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = VerifyClient(ACCOUNT_SID, token, SERVICE_SID, f"http://127.0.0.1:{port}")
    calls = (
        lambda: client.start_verification(PHONE),
        lambda: client.check_verification(code, to=PHONE),
    )
    for call in calls:
        with pytest.raises(ProviderUnavailable) as excinfo:
            call()
        exc = excinfo.value
        # Start at the client's frames: this test's own locals hold the secrets.
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
            tb = tb.tb_next
        exc.__traceback__ = tb  # Django reads each chained exception's own traceback
        report = ExceptionReporter(None, type(exc), exc, tb).get_traceback_html()
        assert "endpoint" in report  # frame locals are part of the report
        assert "********************" in report
        assert token not in report
        assert basic not in report
        assert code not in report


# --- Webhook signatures (reference §B7) ----------------------------------------------------


def independent_signature(token: str, url: str, pairs: list[tuple[str, str]]) -> str:
    """The algorithm of §B7, written out separately from the client."""
    by_name: dict[str, list[str]] = {}
    for name, value in pairs:
        by_name.setdefault(name, []).append(value)
    text = url
    for name in sorted(by_name):
        for value in sorted(by_name[name]):
            text += name + value
    mac = hmac.new(token.encode(), text.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


@pytest.fixture
def signer() -> VerifyClient:
    return VerifyClient(ACCOUNT_SID, fx.SIGNATURE_TOKEN, SERVICE_SID)


def test_twilio_python_published_vector(signer):
    assert (
        compute_twilio_signature(fx.SIGNATURE_TOKEN, fx.SIGNATURE_URL, fx.SIGNATURE_PARAMS)
        == fx.SIGNATURE
    )
    assert signer.validate_webhook_signature(fx.SIGNATURE_URL, fx.SIGNATURE_PARAMS, fx.SIGNATURE)


@pytest.mark.parametrize(
    ("url", "signature"),
    [
        # Signed without a port, requested with an explicit one (any port is dropped).
        ("https://mycompany.com:443/myapp.php?foo=1&bar=2", fx.SIGNATURE),
        ("https://mycompany.com:1234/myapp.php?foo=1&bar=2", fx.SIGNATURE),
        # Signed on the URL with the port as requested.
        ("http://mycompany.com:1234/myapp.php?foo=1&bar=2", fx.SIGNATURE_HTTP_PORT_1234),
        # Signed with the default port, requested without it.
        ("https://mycompany.com/myapp.php?foo=1&bar=2", fx.SIGNATURE_HTTPS_PORT_443),
        ("http://mycompany.com/myapp.php?foo=1&bar=2", fx.SIGNATURE_HTTP_PORT_80),
    ],
)
def test_twilio_python_port_vectors(signer, url, signature):
    assert signer.validate_webhook_signature(url, fx.SIGNATURE_PARAMS, signature) is True


def test_twilio_python_json_body_vector(signer):
    url = f"{fx.SIGNATURE_URL}&bodySHA256={fx.SIGNATURE_BODY_SHA256}"
    assert hashlib.sha256(fx.SIGNATURE_BODY.encode()).hexdigest() == fx.SIGNATURE_BODY_SHA256
    assert compute_twilio_signature(fx.SIGNATURE_TOKEN, url) == fx.SIGNATURE_WITH_BODY
    assert signer.validate_webhook_signature(url, fx.SIGNATURE_BODY, fx.SIGNATURE_WITH_BODY)
    assert signer.validate_webhook_signature(
        url, fx.SIGNATURE_BODY.encode(), fx.SIGNATURE_WITH_BODY
    )
    # A different body does not match the hash in the signed URL.
    tampered = fx.SIGNATURE_BODY.replace("true", "false")
    assert not signer.validate_webhook_signature(url, tampered, fx.SIGNATURE_WITH_BODY)
    # A raw body needs a bodySHA256 to be covered at all.
    assert not signer.validate_webhook_signature(
        fx.SIGNATURE_URL,
        fx.SIGNATURE_BODY,
        compute_twilio_signature(fx.SIGNATURE_TOKEN, fx.SIGNATURE_URL),
    )


def test_json_body_with_two_hashes_is_invalid(signer):
    digest = fx.SIGNATURE_BODY_SHA256
    url = f"{fx.SIGNATURE_URL}&bodySHA256={digest}&bodySHA256={digest}"
    signature = compute_twilio_signature(fx.SIGNATURE_TOKEN, url)
    assert not signer.validate_webhook_signature(url, fx.SIGNATURE_BODY, signature)


VERIFY_EVENT = [
    ("AccountSid", ACCOUNT_SID),
    ("ServiceSid", SERVICE_SID),
    ("VerificationSid", VE_SID),
    ("Status", "approved"),
    ("To", PHONE),
    ("Channel", "sms"),
    ("Note", "caf\u00e9 & cr\u00e8me = 100%"),  # non-ASCII and form metacharacters
    ("Tag", "b"),
    ("Tag", "a"),  # the same name twice: values are sorted
    ("Empty", ""),
]
WEBHOOK_URL = "https://example.com/authy2fa/twilio/webhook?site=1"


def test_independent_computation_matches(signer):
    expected = independent_signature(fx.SIGNATURE_TOKEN, WEBHOOK_URL, VERIFY_EVENT)
    assert compute_twilio_signature(fx.SIGNATURE_TOKEN, WEBHOOK_URL, VERIFY_EVENT) == expected
    assert signer.validate_webhook_signature(WEBHOOK_URL, VERIFY_EVENT, expected)


def test_parameter_containers_all_sign_the_same(signer):
    expected = independent_signature(fx.SIGNATURE_TOKEN, WEBHOOK_URL, VERIFY_EVENT)
    query = QueryDict(mutable=True)
    multi = MultiValueDict()
    mapping: dict[str, list[str]] = {}
    for name, value in VERIFY_EVENT:
        query.appendlist(name, value)
        multi.appendlist(name, value)
        mapping.setdefault(name, [])
        mapping[name].append(value)
    parsed = QueryDict(urlencode(VERIFY_EVENT))
    for params in (
        query,
        multi,
        mapping,
        parsed,
        list(reversed(VERIFY_EVENT)),
        tuple(VERIFY_EVENT),
    ):
        assert compute_twilio_signature(fx.SIGNATURE_TOKEN, WEBHOOK_URL, params) == expected
        assert signer.validate_webhook_signature(WEBHOOK_URL, params, expected)


def test_no_params_signs_the_url_only(signer):
    expected = independent_signature(fx.SIGNATURE_TOKEN, WEBHOOK_URL, [])
    for params in (None, {}, [], QueryDict()):
        assert compute_twilio_signature(fx.SIGNATURE_TOKEN, WEBHOOK_URL, params) == expected
        assert signer.validate_webhook_signature(WEBHOOK_URL, params, expected)


def test_default_port_is_optional_both_ways(signer):
    with_port = "https://example.com:443/hook"
    without = "https://example.com/hook"
    params = {"Status": "approved"}
    for signed, requested in [(with_port, without), (without, with_port)]:
        signature = independent_signature(fx.SIGNATURE_TOKEN, signed, list(params.items()))
        assert signer.validate_webhook_signature(requested, params, signature)
    # The scheme is part of what is signed, so is the host.
    signature = independent_signature(fx.SIGNATURE_TOKEN, without, list(params.items()))
    assert not signer.validate_webhook_signature("http://example.com/hook", params, signature)
    assert not signer.validate_webhook_signature("https://example.org/hook", params, signature)


def test_ipv6_host_port_variants(signer):
    params = [("Status", "approved")]
    signature = independent_signature(fx.SIGNATURE_TOKEN, "https://[::1]/hook", params)
    assert signer.validate_webhook_signature("https://[::1]:8443/hook", params, signature)
    assert signer.validate_webhook_signature("https://[::1]/hook", params, signature)


@pytest.fixture
def signed_event() -> tuple[str, list[tuple[str, str]], str]:
    return (
        WEBHOOK_URL,
        VERIFY_EVENT,
        independent_signature(fx.SIGNATURE_TOKEN, WEBHOOK_URL, VERIFY_EVENT),
    )


def test_untampered_event_is_valid(signer, signed_event):
    assert signer.validate_webhook_signature(*signed_event) is True


@pytest.mark.parametrize(
    "tamper",
    [
        lambda url, params, sig: (
            url,
            [(n, "denied" if n == "Status" else v) for n, v in params],
            sig,
        ),
        lambda url, params, sig: (url, params[:-1], sig),
        lambda url, params, sig: (url, [*params, ("Extra", "1")], sig),
        lambda url, params, sig: (url, [(n, v) for n, v in params if v != "a"], sig),
        lambda url, params, sig: (url.replace("site=1", "site=2"), params, sig),
        lambda url, params, sig: (url + "&x=1", params, sig),
        lambda url, params, sig: (url.replace("/webhook", "/WEBHOOK"), params, sig),
        lambda url, params, sig: (url, params, sig[:-2] + "A="),
        lambda url, params, sig: (url, params, sig.lower()),
        lambda url, params, sig: (url, params, " " + sig),
        lambda url, params, sig: (url, dict(params), sig),  # keeps one "Tag" value only
    ],
)
def test_tampered_event_is_invalid(signer, signed_event, tamper):
    assert signer.validate_webhook_signature(*tamper(*signed_event)) is False


def test_other_token_is_invalid(signed_event):
    other = VerifyClient(ACCOUNT_SID, "another-token", SERVICE_SID)
    assert other.validate_webhook_signature(*signed_event) is False


@pytest.mark.parametrize(
    ("url", "params", "signature"),
    [
        (WEBHOOK_URL, VERIFY_EVENT, None),
        (WEBHOOK_URL, VERIFY_EVENT, ""),
        (WEBHOOK_URL, VERIFY_EVENT, 12345),
        (WEBHOOK_URL, VERIFY_EVENT, b"c2lnbmF0dXJl"),
        (WEBHOOK_URL, VERIFY_EVENT, "sign\u00e9ture="),
        (WEBHOOK_URL, VERIFY_EVENT, "A" * 10_000),
        (None, VERIFY_EVENT, "c2lnbmF0dXJl"),
        ("", VERIFY_EVENT, "c2lnbmF0dXJl"),
        (123, VERIFY_EVENT, "c2lnbmF0dXJl"),
        ("ftp://example.com/hook", VERIFY_EVENT, "c2lnbmF0dXJl"),
        ("/hook", VERIFY_EVENT, "c2lnbmF0dXJl"),
        ("https://example.com:notaport/hook", VERIFY_EVENT, "c2lnbmF0dXJl"),
        ("https://example.com:99999/hook", VERIFY_EVENT, "c2lnbmF0dXJl"),
        ("https://" + "a" * 10_000 + ".com/", VERIFY_EVENT, "c2lnbmF0dXJl"),
        (WEBHOOK_URL, 12345, "c2lnbmF0dXJl"),
        (WEBHOOK_URL, object(), "c2lnbmF0dXJl"),
        (WEBHOOK_URL, [("only-a-name",)], "c2lnbmF0dXJl"),
        (WEBHOOK_URL, ["ab"], "c2lnbmF0dXJl"),
        (WEBHOOK_URL, {"Status": 1}, "c2lnbmF0dXJl"),
        (WEBHOOK_URL, {"Status": None}, "c2lnbmF0dXJl"),
        (WEBHOOK_URL, {1: "x"}, "c2lnbmF0dXJl"),
        (WEBHOOK_URL, {"Status": b"approved"}, "c2lnbmF0dXJl"),
        (WEBHOOK_URL, {"Status": "\ud800"}, "c2lnbmF0dXJl"),  # lone surrogate
        (WEBHOOK_URL, "not json and no bodySHA256", "c2lnbmF0dXJl"),
        (WEBHOOK_URL + "&bodySHA256=xyz", "{}", "c2lnbmF0dXJl"),
    ],
)
def test_malformed_input_is_invalid_not_an_exception(signer, url, params, signature):
    assert signer.validate_webhook_signature(url, params, signature) is False


def test_api_key_credentials_need_the_account_token_for_webhooks(signed_event):
    client = VerifyClient(API_KEY_SID, "key-secret", SERVICE_SID)
    with pytest.raises(Authy2FAConfigurationError, match="webhook_auth_token"):
        client.validate_webhook_signature(*signed_event)
    client = VerifyClient(
        API_KEY_SID, "key-secret", SERVICE_SID, webhook_auth_token=fx.SIGNATURE_TOKEN
    )
    assert client.validate_webhook_signature(*signed_event) is True
    with pytest.raises(Authy2FAConfigurationError, match="webhook auth token"):
        VerifyClient(API_KEY_SID, "key-secret", SERVICE_SID, webhook_auth_token="bad token")


def test_compute_rejects_what_it_cannot_sign():
    with pytest.raises(ValueError, match="auth token"):
        compute_twilio_signature("", WEBHOOK_URL, {})
    with pytest.raises(ValueError, match="URL"):
        compute_twilio_signature("t", "", {})
    with pytest.raises(TypeError, match="bodySHA256"):
        compute_twilio_signature("t", WEBHOOK_URL, "{}")
    with pytest.raises(TypeError):
        compute_twilio_signature("t", WEBHOOK_URL, {"a": 1})


def test_verification_status_is_a_string_enum():
    assert VerificationStatus("approved") == "approved"
    assert {s.value for s in VerificationStatus} == {
        "pending",
        "approved",
        "canceled",
        "max_attempts_reached",
        "deleted",
        "failed",
        "expired",
    }
