"""Contract tests for the Authy REST client.

Request shapes are checked field for field against the official client's wire
format, and responses use the real bodies collected in the reference (see
``authy_fixtures``). No database is needed.
"""

from __future__ import annotations

import json
import logging
import secrets
import socket
import threading
import time
import traceback
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses

from django_authy2fa import __version__
from django_authy2fa.clients.authy import (
    AUTHY_ERROR_CODES,
    WRONG_TOKEN_ERROR_CODES,
    ApprovalStatus,
    AuthyClient,
    AuthyUserStatus,
    QRCodeResult,
    TokenRequestResult,
    TOTPSecretExport,
    canonicalize_callback_params,
    compute_callback_signature,
)
from django_authy2fa.exceptions import (
    ApprovalRequestNotFound,
    Authy2FAConfigurationError,
    Authy2FAError,
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
    ProviderUserNotFound,
    Throttled,
)
from tests.contract import authy_fixtures as fx

API_KEY = "AuthyTestKey0123456789abcdefABCDEF"
BASE = "https://api.authy.com"
DEFAULT_TIMEOUT = (3.05, 10)
AUTHY_ID = "1635"
UUID = fx.APPROVAL_UUID


# --- Fixtures and helpers ----------------------------------------------------------------


@pytest.fixture
def client() -> Iterator[AuthyClient]:
    with AuthyClient(API_KEY) as authy:
        yield authy


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


def assert_request(
    call: responses.Call,
    method: str,
    path: str,
    *,
    query: str = "",
    body: dict | None = None,
) -> None:
    """The request went out exactly as the official client would send it."""
    request = call.request
    url = urlsplit(request.url)
    assert request.method == method
    assert f"{url.scheme}://{url.netloc}" == BASE
    assert url.path == path
    assert url.query == query
    assert request.headers["X-Authy-API-Key"] == API_KEY
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"] == f"django-authy2fa/{__version__}"
    assert request.req_kwargs["timeout"] == DEFAULT_TIMEOUT
    if body is None:
        assert request.body is None
        assert "Content-Type" not in request.headers
    else:
        assert request.headers["Content-Type"] == "application/json"
        assert json.loads(request.body) == body


def error_body(code: str, message: str = "Something went wrong") -> dict:
    return {
        "message": message,
        "success": False,
        "errors": {"message": message},
        "error_code": code,
    }


# --- Construction ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "api_key", ["", None, 12345, "key with space", "trailing-newline\n", " leading"]
)
def test_bad_api_key_is_a_configuration_error(api_key):
    with pytest.raises(Authy2FAConfigurationError):
        AuthyClient(api_key)


@pytest.mark.parametrize(
    "api_url",
    [
        "https://api.authy.com",
        "https://api.authy.com/",
        "https://proxy.example.com:8443/authy",
        "http://127.0.0.1:8000",
        "http://localhost:9000",
        "http://[::1]:9000",
    ],
)
def test_accepted_api_urls(api_url):
    client = AuthyClient(API_KEY, api_url)
    assert client.api_url == api_url.rstrip("/")


@pytest.mark.parametrize(
    "api_url",
    [
        "http://api.authy.com",
        "http://10.0.0.1:8000",
        "ftp://api.authy.com",
        "api.authy.com",
        "",
        "https://",
        "https://user:secret@api.authy.com",
        "https://api.authy.com/?api_key=x",
        "https://api.authy.com/#frag",
        "https://api.authy.com:notaport",
        None,
    ],
)
def test_rejected_api_urls(api_url):
    with pytest.raises(Authy2FAConfigurationError):
        AuthyClient(API_KEY, api_url)


@pytest.mark.parametrize(
    "delete_path",
    [
        "/protected/json/users/{authy_id}/remove",
        "/protected/json/users/{authy_id}/delete",
        "/protected/json/users/delete/{authy_id}",
    ],
)
def test_delete_path_variants_are_accepted(delete_path):
    assert AuthyClient(API_KEY, delete_path=delete_path).delete_path == delete_path


@pytest.mark.parametrize(
    "delete_path",
    [
        "protected/json/users/{authy_id}/remove",
        "/protected/json/users/remove",
        "/protected/json/users/{id}/remove",
        "/protected/json/users/{authy_id}/{other}",
        "/protected/json/users/{authy_id}/../../app",
        "/protected/json/users/{authy_id}/remove?x=1",
        "",
        None,
    ],
)
def test_bad_delete_path_is_a_configuration_error(delete_path):
    with pytest.raises(Authy2FAConfigurationError):
        AuthyClient(API_KEY, delete_path=delete_path)


@pytest.mark.parametrize(
    "timeout", [0, -1, None, True, float("inf"), (1,) * 3, ("1", 2), (1, 0), [3, 10]]
)
def test_bad_timeout_is_a_configuration_error(timeout):
    with pytest.raises(Authy2FAConfigurationError):
        AuthyClient(API_KEY, timeout=timeout)


def test_configuration_error_is_outside_the_runtime_root():
    with pytest.raises(Authy2FAConfigurationError) as excinfo:
        AuthyClient("")
    assert not isinstance(excinfo.value, Authy2FAError)


def test_repr_never_shows_the_api_key(client):
    assert API_KEY not in repr(client)
    assert API_KEY not in str(client)
    assert repr(client) == "AuthyClient(api_url='https://api.authy.com')"


def test_owned_session_never_retries_and_is_closed():
    client = AuthyClient(API_KEY)
    session = client._session
    adapter = session.get_adapter("https://api.authy.com")
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
    rsps.get(f"{BASE}/protected/json/sms/{AUTHY_ID}", json=fx.SMS_SENT)
    with AuthyClient(API_KEY, session=session) as client:
        client.request_sms(AUTHY_ID)
    assert CountingSession.closed == 0
    # The key goes per request, never onto a shared session.
    assert "X-Authy-API-Key" not in session.headers
    assert rsps.calls[0].request.headers["X-Authy-API-Key"] == API_KEY


def test_cookies_from_authy_are_not_replayed(client, rsps):
    rsps.get(
        f"{BASE}/protected/json/sms/1635", json=fx.SMS_SENT, headers={"Set-Cookie": "lb=node7"}
    )
    rsps.get(f"{BASE}/protected/json/sms/1635", json=fx.SMS_SENT)
    client.request_sms(1635)
    client.request_sms(1635)
    assert "Cookie" not in rsps.calls[1].request.headers


# --- Users -------------------------------------------------------------------------------


def test_register_user_request_shape_and_result(client, rsps):
    rsps.post(f"{BASE}/protected/json/users/new", json=fx.USER_CREATED)
    authy_id = client.register_user("alice@example.com", "(201) 555-0123", 1)
    assert authy_id == "1635"
    assert isinstance(authy_id, str)
    assert_request(
        rsps.calls[0],
        "POST",
        "/protected/json/users/new",
        body={
            "user": {"email": "alice@example.com", "cellphone": "2015550123", "country_code": 1},
            "send_install_link_via_sms": False,
        },
    )


@pytest.mark.parametrize("country_code", [44, "44", "+44"])
def test_register_user_normalises_country_code_and_trunk_prefix(client, rsps, country_code):
    rsps.post(f"{BASE}/protected/json/users/new", json=fx.USER_CREATED)
    client.register_user(
        "bob@example.co.uk", "07911 123456", country_code, send_install_link_via_sms=True
    )
    assert json.loads(rsps.calls[0].request.body) == {
        "user": {"email": "bob@example.co.uk", "cellphone": "7911123456", "country_code": 44},
        "send_install_link_via_sms": True,
    }


def test_register_user_phone_rejected_by_authy(client, rsps):
    rsps.post(f"{BASE}/protected/json/users/new", json=fx.USER_NOT_VALID_CELLPHONE, status=400)
    with pytest.raises(ProviderPhoneRejected) as excinfo:
        client.register_user("alice@example.com", "2015550123", 1)
    exc = excinfo.value
    assert (exc.status_code, exc.error_code, exc.provider) == (400, "60027", "Authy")
    assert exc.provider_message == "User was not valid"


def test_register_user_60027_for_email_is_not_a_phone_problem(client, rsps):
    rsps.post(f"{BASE}/protected/json/users/new", json=fx.USER_NOT_VALID_EMAIL, status=400)
    with pytest.raises(ProviderRejected) as excinfo:
        client.register_user("alice@example.com", "2015550123", 1)
    assert type(excinfo.value) is ProviderRejected
    assert excinfo.value.error_code == "60027"


def test_register_user_invalid_api_key(client, rsps):
    rsps.post(f"{BASE}/protected/json/users/new", json=fx.INVALID_API_KEY, status=401)
    with pytest.raises(ProviderAuthenticationFailed) as excinfo:
        client.register_user("alice@example.com", "2015550123", 1)
    assert (excinfo.value.status_code, excinfo.value.error_code) == (401, "60001")


@pytest.mark.parametrize(
    "body",
    [
        {"message": "User created successfully.", "success": True},
        {"user": {}, "success": True},
        {"user": {"id": "abc"}, "success": True},
        {"user": {"id": True}, "success": True},
        {"user": {"id": 0}, "success": True},
        {"user": {"id": -5}, "success": True},
        {"user": "1635", "success": True},
    ],
)
def test_register_user_without_a_valid_id_is_unavailable(client, rsps, body):
    rsps.post(f"{BASE}/protected/json/users/new", json=body)
    with pytest.raises(ProviderUnavailable):
        client.register_user("alice@example.com", "2015550123", 1)


def test_register_user_accepts_id_sent_as_digit_string(client, rsps):
    rsps.post(f"{BASE}/protected/json/users/new", json={"user": {"id": "1635"}, "success": True})
    assert client.register_user("alice@example.com", "2015550123", 1) == "1635"


@pytest.mark.parametrize(
    ("phone", "country_code"),
    [
        ("555", 1),
        ("5555555555", 1),  # right length, not a valid number
        ("2015550123", 999),
        ("2015550123", 0),
        ("2015550123", 1000),
        ("2015550123", -1),
        ("2015550123", True),
        ("2015550123", "abc"),
        ("2015550123", "+"),
        ("2015550123", "1 "),
        ("2015550123", 1.0),
        ("2015550123", None),
        ("1-800-FLOWERS", 1),
        ("\uff12\uff10\uff11\uff15\uff15\uff15\uff10\uff11\uff12\uff13", 1),  # full-width
        ("+12015550123", 1),
        ("2015550123\n", 1),
        ("", 1),
        (None, 1),
        (2015550123, 1),
        ("2" * 40, 1),
    ],
)
def test_invalid_phone_never_reaches_the_network(client, rsps, phone, country_code):
    with pytest.raises(InvalidPhoneNumber):
        client.register_user("alice@example.com", phone, country_code)
    assert len(rsps.calls) == 0


@pytest.mark.parametrize(
    "email", ["not-an-email", "", None, "alice@", "alice@example.com\n", "a" * 250 + "@x.com"]
)
def test_invalid_email_never_reaches_the_network(client, rsps, email):
    with pytest.raises(InvalidInput) as excinfo:
        client.register_user(email, "2015550123", 1)
    assert type(excinfo.value) is InvalidInput
    assert len(rsps.calls) == 0


def test_user_status_request_and_result(client, rsps):
    rsps.get(f"{BASE}/protected/json/users/290907/status", json=fx.USER_STATUS)
    status = client.user_status(290907)
    assert status == AuthyUserStatus(
        authy_id="290907",
        confirmed=True,
        registered=False,
        country_code=1,
        phone_number="XXX-XXX-1118",
        devices=(),
        has_hard_token=False,
        account_disabled=False,
    )
    assert_request(rsps.calls[0], "GET", "/protected/json/users/290907/status")


def test_user_status_with_devices_and_user_ip(client, rsps):
    body = json.loads(json.dumps(fx.USER_STATUS))
    body["status"]["devices"] = ["iphone", "ipad"]
    body["status"]["registered"] = "true"
    rsps.get(f"{BASE}/protected/json/users/290907/status", json=body)
    status = client.user_status("290907", user_ip="203.0.113.7")
    assert status.devices == ("iphone", "ipad")
    assert status.registered is True
    assert_request(
        rsps.calls[0], "GET", "/protected/json/users/290907/status", query="user_ip=203.0.113.7"
    )


def test_user_status_for_another_user_is_refused(client, rsps):
    rsps.get(f"{BASE}/protected/json/users/1635/status", json=fx.USER_STATUS)
    with pytest.raises(ProviderUnavailable):
        client.user_status(1635)


def test_user_status_unknown_user(client, rsps):
    rsps.get(f"{BASE}/protected/json/users/1635/status", json=fx.USER_NOT_FOUND, status=404)
    with pytest.raises(ProviderUserNotFound) as excinfo:
        client.user_status(1635)
    assert (excinfo.value.status_code, excinfo.value.error_code) == (404, "60026")
    assert excinfo.value.provider_message == "User not found."


@pytest.mark.parametrize("user_ip", ["not-an-ip", "203.0.113.7/24", "", 2130706433])
def test_bad_user_ip_never_reaches_the_network(client, rsps, user_ip):
    with pytest.raises(InvalidInput):
        client.user_status(AUTHY_ID, user_ip=user_ip)
    assert len(rsps.calls) == 0


def test_delete_user_default_path(client, rsps):
    rsps.post(f"{BASE}/protected/json/users/1635/remove", json=fx.USER_REMOVED)
    assert client.delete_user(1635) is None
    assert_request(rsps.calls[0], "POST", "/protected/json/users/1635/remove", body={})


def test_delete_user_configured_path_and_user_ip(rsps):
    client = AuthyClient(API_KEY, delete_path="/protected/json/users/delete/{authy_id}")
    rsps.post(f"{BASE}/protected/json/users/delete/1635", json=fx.USER_REMOVED)
    client.delete_user("1635", user_ip="2001:db8::1")
    assert_request(
        rsps.calls[0],
        "POST",
        "/protected/json/users/delete/1635",
        body={"user_ip": "2001:db8::1"},
    )


def test_delete_unknown_user(client, rsps):
    rsps.post(f"{BASE}/protected/json/users/1635/remove", json=fx.USER_NOT_FOUND, status=404)
    with pytest.raises(ProviderUserNotFound):
        client.delete_user(1635)


# --- SMS and calls ---------------------------------------------------------------------


def test_request_sms_sent_without_force(client, rsps):
    rsps.get(f"{BASE}/protected/json/sms/1635", json=fx.SMS_SENT)
    result = client.request_sms(1635)
    assert result == TokenRequestResult(
        ignored=False, device=None, cellphone="+351-XXX-XXX-XX67", message="SMS token was sent"
    )
    assert result.sent is True
    assert_request(rsps.calls[0], "GET", "/protected/json/sms/1635", query="")


def test_request_sms_ignored(client, rsps):
    rsps.get(f"{BASE}/protected/json/sms/1635", json=fx.SMS_IGNORED)
    result = client.request_sms("1635")
    assert result.ignored is True
    assert result.sent is False
    assert result.device == "iphone"
    assert result.cellphone == "+351-XXX-XXX-XX67"
    assert result.message.startswith("Ignored: SMS is not needed")


@pytest.mark.parametrize(("value", "ignored"), [("true", True), ("false", False), (None, False)])
def test_ignored_is_parsed_tolerantly(client, rsps, value, ignored):
    rsps.get(f"{BASE}/protected/json/sms/1635", json={**fx.SMS_IGNORED, "ignored": value})
    assert client.request_sms(1635).ignored is ignored


def test_request_sms_with_force_and_options(client, rsps):
    rsps.get(f"{BASE}/protected/json/sms/1635", json=fx.SMS_SENT)
    client.request_sms(
        1635, force=True, locale="pt-BR", action="login", action_message="Login to Example"
    )
    assert_request(
        rsps.calls[0],
        "GET",
        "/protected/json/sms/1635",
        query="force=true&locale=pt-BR&action=login&action_message=Login+to+Example",
    )


def test_request_sms_options_without_force(client, rsps):
    rsps.get(f"{BASE}/protected/json/sms/1635", json=fx.SMS_SENT)
    client.request_sms(1635, locale="es")
    assert_request(rsps.calls[0], "GET", "/protected/json/sms/1635", query="locale=es")


def test_request_sms_disabled(client, rsps):
    rsps.get(f"{BASE}/protected/json/sms/1635", json=fx.SMS_DISABLED, status=400)
    with pytest.raises(ProviderDeliveryFailed) as excinfo:
        client.request_sms(1635)
    assert (excinfo.value.status_code, excinfo.value.error_code) == (400, "60007")


def test_request_call_started(client, rsps):
    rsps.get(f"{BASE}/protected/json/call/1635", json=fx.CALL_STARTED)
    result = client.request_call(1635, force=True)
    assert result.sent is True
    assert result.message == "Call started..."
    assert_request(rsps.calls[0], "GET", "/protected/json/call/1635", query="force=true")


def test_request_call_ignored(client, rsps):
    rsps.get(f"{BASE}/protected/json/call/1635", json=fx.CALL_IGNORED)
    result = client.request_call(1635)
    assert (result.ignored, result.sent, result.device) == (True, False, "iphone")
    assert_request(rsps.calls[0], "GET", "/protected/json/call/1635", query="")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"force": "true"},
        {"force": 1},
        {"locale": ""},
        {"locale": "en US"},
        {"locale": "x" * 256},
        {"action": ""},
        {"action": "a" * 256},
        {"action": 5},
        {"action_message": "m" * 256},
        {"action_message": "   "},
    ],
)
def test_bad_sms_options_never_reach_the_network(client, rsps, kwargs):
    with pytest.raises(InvalidInput):
        client.request_sms(AUTHY_ID, **kwargs)
    with pytest.raises(InvalidInput):
        client.request_call(AUTHY_ID, **kwargs)
    assert len(rsps.calls) == 0


def test_action_of_255_characters_is_accepted(client, rsps):
    rsps.get(f"{BASE}/protected/json/sms/1635", json=fx.SMS_SENT)
    client.request_sms(1635, action="a" * 255, action_message="m" * 255)
    query = dict(parse_qsl(urlsplit(rsps.calls[0].request.url).query))
    assert query == {"action": "a" * 255, "action_message": "m" * 255}


# --- Verify ------------------------------------------------------------------------------

VERIFY_URL = f"{BASE}/protected/json/verify/123456/1635"


def test_verify_valid_token(client, rsps):
    rsps.get(VERIFY_URL, json=fx.TOKEN_VALID)
    assert client.verify_token(1635, "123456") is True
    assert_request(rsps.calls[0], "GET", "/protected/json/verify/123456/1635", query="force=true")


def test_verify_always_forces_even_with_action(client, rsps):
    rsps.get(VERIFY_URL, json=fx.TOKEN_VALID)
    assert client.verify_token("1635", "123456", action="login") is True
    assert_request(
        rsps.calls[0],
        "GET",
        "/protected/json/verify/123456/1635",
        query="force=true&action=login",
    )


def test_verify_valid_with_string_success_and_device(client, rsps):
    rsps.get(VERIFY_URL, json=fx.TOKEN_VALID_JAVA)
    assert client.verify_token(1635, "123456") is True


def test_verify_accepts_ten_digit_tokens(client, rsps):
    rsps.get(f"{BASE}/protected/json/verify/1234567890/1635", json=fx.TOKEN_VALID)
    assert client.verify_token(1635, "1234567890") is True


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (fx.TOKEN_INVALID, 401),
        (fx.TOKEN_REUSED, 401),
        (fx.TOKEN_INVALID_SHORT, 401),
        (error_body("60118", "TOTP code is invalid"), 401),
        ({**fx.TOKEN_INVALID, "error_code": 60020}, 401),  # integer code
        ({"message": "Token is invalid", "token": "is invalid", "success": False}, 200),
    ],
    ids=["60020", "60019-reused", "short-form", "60118", "int-code", "200-is-invalid"],
)
def test_verify_wrong_code_returns_false(client, rsps, body, status):
    rsps.get(VERIFY_URL, json=body, status=status)
    assert client.verify_token(1635, "123456") is False


def test_verify_bad_api_key_raises_instead_of_false(client, rsps):
    rsps.get(VERIFY_URL, json=fx.INVALID_API_KEY, status=401)
    with pytest.raises(ProviderAuthenticationFailed) as excinfo:
        client.verify_token(1635, "123456")
    exc = excinfo.value
    assert (exc.status_code, exc.error_code, exc.provider) == (401, "60001", "Authy")
    assert exc.provider_message == "Invalid API key"


def test_verify_bad_api_key_wins_over_a_token_marker(client, rsps):
    rsps.get(VERIFY_URL, json={**fx.INVALID_API_KEY, "token": "is invalid"}, status=401)
    with pytest.raises(ProviderAuthenticationFailed):
        client.verify_token(1635, "123456")


def test_verify_401_without_code_or_marker_is_not_blamed_on_the_user(client, rsps):
    # co-authy's "used recently" mock has neither error_code nor a token field:
    # nothing tells it apart from a refused key, so it must not return False.
    body = {
        "message": "Token is invalid. Token was used recently.",
        "success": False,
        "errors": {"message": "Token is invalid. Token was used recently."},
    }
    rsps.get(VERIFY_URL, json=body, status=401)
    with pytest.raises(ProviderAuthenticationFailed) as excinfo:
        client.verify_token(1635, "123456")
    assert (excinfo.value.status_code, excinfo.value.error_code) == (401, None)


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        (fx.TOKEN_INVALID, 400, ProviderRejected),
        (fx.TOKEN_INVALID_SHORT, 503, ProviderUnavailable),
        ({"token": "is invalid"}, 500, ProviderUnavailable),
    ],
)
def test_wrong_code_markers_only_count_on_200_or_401(client, rsps, body, status, expected):
    rsps.get(VERIFY_URL, json=body, status=status)
    with pytest.raises(ProviderError) as excinfo:
        client.verify_token(1635, "123456")
    assert type(excinfo.value) is expected


def test_verify_unknown_user(client, rsps):
    rsps.get(VERIFY_URL, json=fx.USER_NOT_FOUND, status=404)
    with pytest.raises(ProviderUserNotFound) as excinfo:
        client.verify_token(1635, "123456")
    assert (excinfo.value.status_code, excinfo.value.error_code) == (404, "60026")


def test_verify_rate_limited_with_retry_after(client, rsps):
    rsps.get(VERIFY_URL, json=fx.RATE_LIMITED, status=429, headers={"Retry-After": "30"})
    with pytest.raises(ProviderThrottled) as excinfo:
        client.verify_token(1635, "123456")
    exc = excinfo.value
    assert isinstance(exc, Throttled)
    assert (exc.status_code, exc.error_code, exc.retry_after) == (429, "60003", 30)


@pytest.mark.parametrize(
    ("header", "expected"),
    [("Wed, 21 Oct 2015 07:28:00 GMT", None), ("-5", None), (" 7 ", 7), ("1.5", None)],
)
def test_retry_after_only_numeric_seconds(client, rsps, header, expected):
    rsps.get(VERIFY_URL, body="", status=429, headers={"Retry-After": header})
    with pytest.raises(ProviderThrottled) as excinfo:
        client.verify_token(1635, "123456")
    assert excinfo.value.retry_after == expected
    assert excinfo.value.error_code is None


def test_verify_service_unavailable(client, rsps):
    rsps.get(VERIFY_URL, body="Service Unavailable", status=503)
    with pytest.raises(ProviderUnavailable) as excinfo:
        client.verify_token(1635, "123456")
    assert excinfo.value.status_code == 503


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("<html><body><h1>502 Bad Gateway</h1></body></html>", 502),
        ("<html><body>Welcome to nginx</body></html>", 200),
        ("", 200),
        ("[]", 200),
        ('["token", "is valid"]', 200),
        ('"is valid"', 200),
        ("null", 200),
        ('{"token": "is valid", "success": tr', 200),  # truncated
        ("[" * 100_000, 200),  # absurd nesting
    ],
    ids=[
        "html-502",
        "html-200",
        "empty",
        "list",
        "list-of-strings",
        "string",
        "null",
        "cut",
        "deep",
    ],
)
def test_verify_non_json_or_non_object_bodies_are_unavailable(client, rsps, body, status):
    rsps.get(VERIFY_URL, body=body, status=status, content_type="text/html")
    with pytest.raises(ProviderUnavailable) as excinfo:
        client.verify_token(1635, "123456")
    assert excinfo.value.status_code == status


@pytest.mark.parametrize(
    "body",
    [
        {"success": True},
        {"message": "Token is valid.", "success": True},
        {"token": "is valid"},
        {"token": "is valid", "success": False},
        {"token": "is valid", "success": "yes"},
        {"token": "is valid", "success": 1},
        {"token": "IS VALID", "success": True},
        {"token": ["is valid"], "success": True},
    ],
)
def test_verify_200_that_is_not_explicit_fails_closed(client, rsps, body):
    rsps.get(VERIFY_URL, json=body)
    with pytest.raises(ProviderUnavailable):
        client.verify_token(1635, "123456")


@pytest.mark.parametrize(
    "body",
    [fx.INVALID_API_KEY, {"token": "is valid", "success": True, "error_code": "60001"}],
)
def test_verify_200_with_auth_error_code_raises_auth(client, rsps, body):
    rsps.get(VERIFY_URL, json=body)
    with pytest.raises(ProviderAuthenticationFailed) as excinfo:
        client.verify_token(1635, "123456")
    assert (excinfo.value.status_code, excinfo.value.error_code) == (200, "60001")


def test_redirect_is_not_followed():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(
            VERIFY_URL,
            status=302,
            headers={"Location": "https://evil.example/protected/json/verify/123456/1635"},
        )
        mock.get("https://evil.example/protected/json/verify/123456/1635", json=fx.TOKEN_VALID)
        with AuthyClient(API_KEY) as client, pytest.raises(ProviderUnavailable) as excinfo:
            client.verify_token(1635, "123456")
        assert len(mock.calls) == 1
        assert excinfo.value.status_code == 302


@pytest.mark.parametrize(
    "token",
    [
        "12345a",
        "123 456",
        "12345",
        "12345678901",
        "\uff11\uff12\uff13\uff14\uff15\uff16",  # full-width digits
        "\u0661\u0662\u0663\u0664\u0665\u0666",  # Arabic-Indic digits
        "../sms",
        "123456/../../sms/1",
        "123456\n",
        "123456?x=1",
        "123456%2F",
        " 123456",
        "",
        None,
        123456,
        b"123456",
    ],
)
def test_bad_token_never_reaches_the_network(client, rsps, token):
    with pytest.raises(InvalidTokenFormat):
        client.verify_token(1635, token)
    assert len(rsps.calls) == 0


BAD_AUTHY_IDS = [
    "abc",
    "-1",
    "1/../2",
    "",
    "\u0661\u0662\u0663",  # Arabic-Indic digits pass str.isdigit()
    "\uff11\uff12",  # full-width
    "12\n",
    " 12",
    "1" * 13,
    "0",
    "000",
    True,
    False,
    0,
    -5,
    10**12,
    1.0,
    None,
    [1],
]


@pytest.mark.parametrize("authy_id", BAD_AUTHY_IDS)
def test_bad_authy_id_never_reaches_the_network(client, rsps, authy_id):
    calls = [
        lambda: client.verify_token(authy_id, "123456"),
        lambda: client.request_sms(authy_id),
        lambda: client.request_call(authy_id),
        lambda: client.user_status(authy_id),
        lambda: client.delete_user(authy_id),
        lambda: client.create_approval_request(authy_id, "Login"),
        lambda: client.generate_qr_code(authy_id, "Example"),
        lambda: client.export_totp_secret(authy_id),
    ]
    for call in calls:
        with pytest.raises(InvalidIdentifier):
            call()
    assert len(rsps.calls) == 0


@pytest.mark.parametrize(
    ("authy_id", "in_path"),
    [(1635, "1635"), ("1635", "1635"), ("001635", "1635"), ("9" * 12, "9" * 12)],
)
def test_good_authy_ids(client, rsps, authy_id, in_path):
    rsps.get(f"{BASE}/protected/json/sms/{in_path}", json=fx.SMS_SENT)
    client.request_sms(authy_id)
    assert urlsplit(rsps.calls[0].request.url).path == f"/protected/json/sms/{in_path}"


# --- Transport failures --------------------------------------------------------------------


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
    rsps.get(f"{BASE}/protected/json/sms/1635", body=error)
    with pytest.raises(ProviderUnavailable) as excinfo:
        client.request_sms(1635)
    assert excinfo.value.__cause__ is error
    assert excinfo.value.status_code is None


def test_verify_transport_error_does_not_carry_the_token(client, rsps):
    error = requests.exceptions.ReadTimeout(
        "HTTPSConnectionPool(host='api.authy.com', port=443): Read timed out. "
        "(url: /protected/json/verify/987654/1635?force=true)"
    )
    rsps.get(f"{BASE}/protected/json/verify/987654/1635", body=error)
    token = "9876" + "54"  # not spelled out, so the test's own source line cannot match
    with pytest.raises(ProviderUnavailable) as excinfo:
        client.verify_token(1635, token)
    exc = excinfo.value
    assert isinstance(exc.__cause__, requests.exceptions.ReadTimeout)
    assert exc.__cause__ is not error
    assert exc.__context__ is None
    rendered = "".join(traceback.format_exception(exc))
    assert "987654" not in rendered
    assert API_KEY not in rendered
    assert "ReadTimeout" in rendered


def test_refused_connection_is_unavailable():
    # A real socket, no mocking: bind to get a free port, then close it.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with AuthyClient(API_KEY, f"http://127.0.0.1:{port}") as client:
        started = time.monotonic()
        with pytest.raises(ProviderUnavailable) as excinfo:
            client.verify_token(1635, "123456")
        assert time.monotonic() - started < 3
    assert isinstance(excinfo.value.__cause__, requests.exceptions.ConnectionError)
    assert "123456" not in str(excinfo.value.__cause__)


def test_oversized_body_is_unavailable(client, rsps):
    rsps.get(VERIFY_URL, body=b" " * (300 * 1024))
    with pytest.raises(ProviderUnavailable) as excinfo:
        client.verify_token(1635, "123456")
    assert excinfo.value.status_code == 200


# --- Real local HTTP server: connection reuse, chunked bodies, slow bodies ----------------


class _AuthyStub(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    connections = 0
    seen: list = []

    def setup(self):
        type(self).connections += 1
        super().setup()

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).seen.append((self.path, self.headers.get("X-Authy-API-Key")))
        if self.path.startswith("/protected/json/verify/"):
            self._chunked(json.dumps(fx.TOKEN_VALID).encode())
        elif self.path.startswith("/protected/json/call/"):
            self._drip()
        elif self.path.startswith("/protected/json/users/"):
            self._redirect_with_error_body()
        else:
            self._plain(json.dumps(fx.SMS_SENT).encode())

    def _plain(self, payload):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _chunked(self, payload):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for start in range(0, len(payload), 7):
            piece = payload[start : start + 7]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        self.wfile.write(b"0\r\n\r\n")

    def _redirect_with_error_body(self):
        payload = json.dumps(fx.INVALID_API_KEY).encode()
        self.send_response(307)
        self.send_header("Location", "https://evil.example/steal")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _drip(self):
        payload = json.dumps(fx.CALL_STARTED).encode()
        self.send_response(200)
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
    _AuthyStub.connections = 0
    _AuthyStub.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AuthyStub)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_calls_reuse_one_keep_alive_connection(stub_server):
    with AuthyClient(API_KEY, stub_server) as client:
        assert client.request_sms(1635).sent is True
        assert client.request_sms(1635, force=True).sent is True
        assert client.verify_token(1635, "123456") is True  # chunked body
        assert client.request_sms(1635).sent is True
    assert _AuthyStub.connections == 1
    assert [path for path, _ in _AuthyStub.seen] == [
        "/protected/json/sms/1635",
        "/protected/json/sms/1635?force=true",
        "/protected/json/verify/123456/1635?force=true",
        "/protected/json/sms/1635",
    ]
    assert {key for _, key in _AuthyStub.seen} == {API_KEY}


def test_a_redirect_is_unavailable_even_with_an_auth_error_body(stub_server):
    with AuthyClient(API_KEY, stub_server) as client, pytest.raises(ProviderError) as excinfo:
        client.user_status(1635)
    assert type(excinfo.value) is ProviderUnavailable
    assert excinfo.value.status_code == 307
    # Not followed: nothing else was requested, here or at the Location host.
    assert [path for path, _ in _AuthyStub.seen] == ["/protected/json/users/1635/status"]


def test_a_body_that_trickles_in_is_cut_off(stub_server):
    # Each byte arrives well within the read timeout; only a total deadline stops it.
    with AuthyClient(API_KEY, stub_server, timeout=(1, 0.5)) as client:
        started = time.monotonic()
        with pytest.raises(ProviderUnavailable) as excinfo:
            client.request_call(1635)
        elapsed = time.monotonic() - started
    assert elapsed < 2.5
    assert excinfo.value.status_code == 200


# --- Error-code mapping --------------------------------------------------------------------

# Written out by hand from reference §A10, independently of the table under test.
REFERENCE_A10_CODES = (
    [f"600{n:02d}" for n in range(0, 34)]  # 60000-60033 are each listed
    + ["60034", "60035", "60036", "60037", "60038", "60042", "60047", "60049"]
    + ["60050", "60051", "60052", "60053", "60054", "60055", "60056", "60057"]
    + ["60058", "60059", "60060", "60061", "60063", "60064", "60066", "60068"]
    + ["60069", "60070", "60071", "60072", "60073", "60074", "60075", "60078"]
    + ["60079", "60080", "60082", "60083", "60086", "60087", "60089", "60090"]
    + ["60091", "60092", "60093", "60094", "60095", "60096", "60097", "60098"]
    + ["60099", "60100", "60101", "60102", "60103", "60104", "60105", "60106"]
    + ["60107", "60108", "60109", "60110", "60111", "60112", "60113", "60114"]
    + ["60115", "60116", "60117", "60118", "60119", "60120", "60121", "60122"]
    + ["60123", "60124", "60125", "60126", "60127", "60128", "60129", "60130"]
    + ["60131", "60132", "60133"]
)


def test_table_covers_every_code_in_the_reference():
    assert len(REFERENCE_A10_CODES) == len(set(REFERENCE_A10_CODES)) == 117
    assert set(AUTHY_ERROR_CODES) == set(REFERENCE_A10_CODES)
    for cls, meaning in AUTHY_ERROR_CODES.values():
        assert issubclass(cls, ProviderError)
        assert meaning
        assert meaning.endswith(".")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("60001", ProviderAuthenticationFailed),
        ("60008", ProviderAuthenticationFailed),
        ("60047", ProviderAuthenticationFailed),
        ("60056", ProviderAuthenticationFailed),
        ("60063", ProviderAuthenticationFailed),
        ("60069", ProviderAuthenticationFailed),
        ("60074", ProviderAuthenticationFailed),
        ("60117", ProviderAuthenticationFailed),
        ("60003", ProviderThrottled),
        ("60016", ProviderUserNotFound),
        ("60026", ProviderUserNotFound),
        ("60127", ProviderUserNotFound),
        ("60128", ProviderUserNotFound),
        ("60130", ProviderUserNotFound),
        ("60013", ProviderPhoneRejected),
        ("60033", ProviderPhoneRejected),
        ("60082", ProviderPhoneRejected),
        ("60083", ProviderPhoneRejected),
        ("60115", ProviderPhoneRejected),
        ("60006", ProviderDeliveryFailed),
        ("60007", ProviderDeliveryFailed),
        ("60010", ProviderDeliveryFailed),
        ("60015", ProviderDeliveryFailed),
        ("60121", ProviderDeliveryFailed),
        ("60049", ApprovalRequestNotFound),
        ("60052", ProviderUnavailable),
        ("60000", ProviderRejected),
        ("60020", ProviderRejected),
        ("60027", ProviderRejected),
        ("60133", ProviderRejected),
    ],
)
def test_table_spot_checks(code, expected):
    assert AUTHY_ERROR_CODES[code][0] is expected


def test_wrong_token_codes():
    assert frozenset({"60019", "60020", "60118"}) == WRONG_TOKEN_ERROR_CODES


@pytest.mark.parametrize(("code", "entry"), sorted(AUTHY_ERROR_CODES.items()))
def test_every_code_raises_its_class(client, rsps, code, entry):
    cls, meaning = entry
    rsps.get(
        f"{BASE}/protected/json/users/1635/status",
        json=error_body(code, "Authy said so"),
        status=400,
    )
    with pytest.raises(ProviderError) as excinfo:
        client.user_status(1635)
    exc = excinfo.value
    assert type(exc) is cls
    assert exc.message == meaning
    assert (exc.provider, exc.status_code, exc.error_code) == ("Authy", 400, code)
    assert exc.provider_message == "Authy said so"


def test_known_code_decides_even_on_5xx(client, rsps):
    rsps.get(f"{BASE}/protected/json/sms/1635", json=error_body("60015"), status=503)
    with pytest.raises(ProviderDeliveryFailed):
        client.request_sms(1635)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, ProviderRejected),
        (401, ProviderAuthenticationFailed),
        (403, ProviderRejected),
        (404, ProviderUserNotFound),
        (418, ProviderRejected),
        (429, ProviderThrottled),
        (500, ProviderUnavailable),
        (502, ProviderUnavailable),
        (503, ProviderUnavailable),
        (504, ProviderUnavailable),
        (301, ProviderUnavailable),
        (307, ProviderUnavailable),
        (201, ProviderUnavailable),
        (204, ProviderUnavailable),
    ],
)
def test_status_fallback_without_a_code(client, rsps, status, expected):
    rsps.get(f"{BASE}/protected/json/users/1635/status", body="", status=status)
    with pytest.raises(ProviderError) as excinfo:
        client.user_status(1635)
    assert type(excinfo.value) is expected
    assert (excinfo.value.status_code, excinfo.value.error_code) == (status, None)


def test_unknown_code_falls_back_to_status(client, rsps):
    rsps.get(f"{BASE}/protected/json/users/1635/status", json=error_body("69999"), status=400)
    with pytest.raises(ProviderRejected) as excinfo:
        client.user_status(1635)
    assert type(excinfo.value) is ProviderRejected
    assert excinfo.value.error_code == "69999"


@pytest.mark.parametrize("raw_code", [60026, "60026", " 60026 ", 60026.0])
def test_error_code_is_normalised_to_a_string(client, rsps, raw_code):
    rsps.get(
        f"{BASE}/protected/json/users/1635/status",
        json={**fx.USER_NOT_FOUND, "error_code": raw_code},
        status=404,
    )
    with pytest.raises(ProviderUserNotFound) as excinfo:
        client.user_status(1635)
    assert excinfo.value.error_code == "60026"


@pytest.mark.parametrize("success", [False, "false", "FALSE"])
def test_200_with_success_false_is_not_a_success(client, rsps, success):
    rsps.get(f"{BASE}/protected/json/sms/1635", json={**fx.SMS_SENT, "success": success})
    with pytest.raises(ProviderUnavailable):
        client.request_sms(1635)


# --- OneTouch ----------------------------------------------------------------------------

APPROVALS_URL = f"{BASE}/onetouch/json/users/1635/approval_requests"


def test_create_approval_request_shape(client, rsps):
    rsps.post(APPROVALS_URL, json=fx.APPROVAL_CREATED)
    uuid = client.create_approval_request(1635, "Login requested for Example")
    assert uuid == UUID
    assert_request(
        rsps.calls[0],
        "POST",
        "/onetouch/json/users/1635/approval_requests",
        body={
            "message": "Login requested for Example",
            "seconds_to_expire": 120,
            "details": {},
            "hidden_details": {},
            "logos": [],
        },
    )


def test_create_approval_request_with_everything(client, rsps):
    rsps.post(APPROVALS_URL, json=fx.APPROVAL_CREATED)
    logo = {"res": "default", "url": "https://example.com/logo.png"}
    client.create_approval_request(
        "1635",
        "Login requested",
        details={"Username": "alice", "Attempts": 3, "Flag": None},
        hidden_details={"ip": "203.0.113.7"},
        seconds_to_expire=0,
        logos=[logo, {"res": "high", "url": "https://example.com/logo@3x.png"}],
    )
    assert json.loads(rsps.calls[0].request.body) == {
        "message": "Login requested",
        "seconds_to_expire": 0,
        "details": {"Username": "alice", "Attempts": "3", "Flag": ""},
        "hidden_details": {"ip": "203.0.113.7"},
        "logos": [logo, {"res": "high", "url": "https://example.com/logo@3x.png"}],
    }


@pytest.mark.parametrize(
    "kwargs",
    [
        {"message": ""},
        {"message": "   "},
        {"message": "m" * 201},
        {"message": None},
        {"seconds_to_expire": -1},
        {"seconds_to_expire": True},
        {"seconds_to_expire": "120"},
        {"seconds_to_expire": 1.5},
        {"details": {"k": "v" * 201}},
        {"details": {"": "v"}},
        {"details": ["k", "v"]},
        {"hidden_details": "x"},
        {"logos": [{"res": "huge", "url": "https://example.com/a.png"}]},
        {"logos": [{"res": "default", "url": "http://example.com/a.png"}]},
        {"logos": [{"res": "default", "url": "https://example.com/a.png", "x": 1}]},
        {"logos": [{"res": "default"}]},
        {"logos": {"res": "default", "url": "https://example.com/a.png"}},
        {"logos": "https://example.com/a.png"},
    ],
)
def test_bad_approval_request_never_reaches_the_network(client, rsps, kwargs):
    arguments = {"message": "Login requested", **kwargs}
    with pytest.raises(InvalidInput):
        client.create_approval_request(1635, **arguments)
    assert len(rsps.calls) == 0


def test_message_of_200_characters_is_accepted(client, rsps):
    rsps.post(APPROVALS_URL, json=fx.APPROVAL_CREATED)
    client.create_approval_request(1635, "m" * 200)
    assert json.loads(rsps.calls[0].request.body)["message"] == "m" * 200


@pytest.mark.parametrize(
    "body",
    [
        {"success": True},
        {"approval_request": {}, "success": True},
        {"approval_request": {"uuid": "not-a-uuid"}, "success": True},
        {"approval_request": {"uuid": 5}, "success": True},
        {"approval_request": "550e8400-e29b-41d4-a716-446655440000", "success": True},
    ],
)
def test_create_approval_request_without_uuid_is_unavailable(client, rsps, body):
    rsps.post(APPROVALS_URL, json=body)
    with pytest.raises(ProviderUnavailable):
        client.create_approval_request(1635, "Login")


def test_create_approval_request_for_unknown_user(client, rsps):
    rsps.post(APPROVALS_URL, json={"message": "User not found.", "success": False}, status=404)
    with pytest.raises(ProviderUserNotFound):
        client.create_approval_request(1635, "Login")


@pytest.mark.parametrize("status", ["pending", "approved", "denied", "expired"])
def test_get_approval_status(client, rsps, status):
    rsps.get(f"{BASE}/onetouch/json/approval_requests/{UUID}", json=fx.approval_status_body(status))
    result = client.get_approval_status(UUID)
    assert result is ApprovalStatus(status)
    assert result == status
    assert_request(rsps.calls[0], "GET", f"/onetouch/json/approval_requests/{UUID}")


def test_get_approval_status_normalises_uuid_case(client, rsps):
    rsps.get(
        f"{BASE}/onetouch/json/approval_requests/{UUID}", json=fx.approval_status_body("approved")
    )
    assert client.get_approval_status(UUID.upper()) is ApprovalStatus.APPROVED


@pytest.mark.parametrize(
    "body",
    [
        fx.approval_status_body("maybe"),
        fx.approval_status_body("APPROVED"),
        fx.approval_status_body(None),
        fx.approval_status_body("approved", uuid="6edb8f40-c01c-0135-c648-0e00ace7f69c"),
        {"success": True},
    ],
    ids=["unknown", "upper", "null", "other-uuid", "missing"],
)
def test_unexpected_approval_status_is_unavailable(client, rsps, body):
    rsps.get(f"{BASE}/onetouch/json/approval_requests/{UUID}", json=body)
    with pytest.raises(ProviderUnavailable):
        client.get_approval_status(UUID)


def test_unknown_approval_request(client, rsps):
    rsps.get(
        f"{BASE}/onetouch/json/approval_requests/{UUID}", json=fx.APPROVAL_NOT_FOUND, status=404
    )
    with pytest.raises(ApprovalRequestNotFound) as excinfo:
        client.get_approval_status(UUID)
    exc = excinfo.value
    assert (exc.status_code, exc.error_code) == (404, None)
    assert exc.provider_message == "Approval request not found: 1231"


@pytest.mark.parametrize(
    "uuid",
    [
        "",
        "not-a-uuid",
        "550e8400e29b41d4a716446655440000",
        "{550e8400-e29b-41d4-a716-446655440000}",
        "urn:uuid:550e8400-e29b-41d4-a716-446655440000",
        "550e8400-e29b-41d4-a716-446655440000\n",
        "550e8400-e29b-41d4-a716-44665544000g",
        "../../users/1635/status",
        "550e8400-e29b-41d4-a716-446655440000/../x",
        None,
        123,
    ],
)
def test_bad_approval_uuid_never_reaches_the_network(client, rsps, uuid):
    with pytest.raises(InvalidIdentifier):
        client.get_approval_status(uuid)
    assert len(rsps.calls) == 0


# --- Authenticator apps ----------------------------------------------------------------------


def test_generate_qr_code(client, rsps):
    rsps.post(f"{BASE}/protected/json/users/1635/secret", json=fx.QR_CODE)
    result = client.generate_qr_code(1635, "Example (alice)")
    assert result == QRCodeResult(qr_code=fx.QR_CODE["qr_code"], label="Example (alice)")
    assert_request(
        rsps.calls[0],
        "POST",
        "/protected/json/users/1635/secret",
        body={"label": "Example (alice)", "qr_size": 300},
    )


@pytest.mark.parametrize(
    "kwargs", [{"qr_size": 0}, {"qr_size": True}, {"qr_size": "300"}, {"label": ""}]
)
def test_bad_qr_arguments_never_reach_the_network(client, rsps, kwargs):
    with pytest.raises(InvalidInput):
        client.generate_qr_code(1635, **{"label": "Example", **kwargs})
    assert len(rsps.calls) == 0


@pytest.mark.parametrize("qr_code", ["javascript:alert(1)", "http://example.com/qr.png", None])
def test_unsafe_qr_link_is_refused(client, rsps, qr_code):
    rsps.post(f"{BASE}/protected/json/users/1635/secret", json={"qr_code": qr_code})
    with pytest.raises(ProviderUnavailable):
        client.generate_qr_code(1635, "Example")


def test_export_totp_secret(client, rsps):
    rsps.get(f"{BASE}/protected/json/users/1635/secret/export", json=fx.TOTP_EXPORT)
    export = client.export_totp_secret(1635)
    assert export == TOTPSecretExport(secret="JBSWY3DPEHPK3PXP", otp="492039")
    assert_request(rsps.calls[0], "GET", "/protected/json/users/1635/secret/export")


def test_export_repr_hides_the_secret():
    export = TOTPSecretExport(secret="JBSWY3DPEHPK3PXP", otp="492039")
    for text in (repr(export), str(export), repr([export])):
        assert "JBSWY3DPEHPK3PXP" not in text
        assert "492039" not in text


def test_export_without_secret_is_unavailable(client, rsps):
    rsps.get(f"{BASE}/protected/json/users/1635/secret/export", json={"success": True})
    with pytest.raises(ProviderUnavailable):
        client.export_totp_secret(1635)


def test_export_refused_credentials(client, rsps):
    rsps.get(f"{BASE}/protected/json/users/1635/secret/export", json=fx.INVALID_API_KEY, status=401)
    with pytest.raises(ProviderAuthenticationFailed):
        client.export_totp_secret(1635)


# --- Logging ------------------------------------------------------------------------------


def test_logs_name_the_endpoint_but_never_the_token_or_key(client, rsps, caplog):
    caplog.set_level(logging.DEBUG, logger="django_authy2fa")
    rsps.get(VERIFY_URL, json=fx.TOKEN_VALID)
    rsps.get(VERIFY_URL, json=fx.TOKEN_INVALID, status=401)
    rsps.get(VERIFY_URL, body=requests.exceptions.ConnectionError(f"boom {VERIFY_URL}"))
    assert client.verify_token(1635, "123456") is True
    assert client.verify_token(1635, "123456") is False
    with pytest.raises(ProviderUnavailable):
        client.verify_token(1635, "123456")
    assert "verify" in caplog.text
    assert "60020" in caplog.text
    assert "123456" not in caplog.text
    assert API_KEY not in caplog.text


def test_django_error_report_masks_key_and_token():
    """Django's 500 page and error emails show frame locals; secrets must be masked."""
    from django.conf import settings

    if not settings.configured:
        pytest.skip("needs Django settings (run with pytest-django)")
    from django.views.debug import ExceptionReporter

    assert settings.DEBUG is False  # the filter only masks when DEBUG is off
    key = "K" + secrets.token_hex(16)
    token = str(secrets.randbelow(900_000) + 100_000)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = AuthyClient(key, f"http://127.0.0.1:{port}")
    for call in (lambda: client.request_sms(1635), lambda: client.verify_token(1635, token)):
        with pytest.raises(ProviderUnavailable) as excinfo:
            call()
        exc = excinfo.value
        # Start at the client's frames: this test's own locals hold the secrets.
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
            tb = tb.tb_next
        exc.__traceback__ = tb  # Django reads each chained exception's own traceback
        report = ExceptionReporter(None, type(exc), exc, tb).get_traceback_html()
        assert "secret_in_url" in report  # frame locals are part of the report
        assert "********************" in report
        assert key not in report
        assert token not in report


# --- Callback signatures ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key", "nonce", "method", "url", "params", "expected"),
    fx.REFERENCE_VECTORS,
    ids=[v[0] for v in fx.REFERENCE_VECTORS],
)
def test_reference_signature_vectors(name, key, nonce, method, url, params, expected):
    assert compute_callback_signature(key, url=url, method=method, params=params, nonce=nonce) == (
        expected
    )
    client = AuthyClient(key)
    assert client.validate_callback_signature(
        url=url, method=method, params=params, nonce=nonce, signature=expected
    )


@pytest.mark.parametrize(
    ("params", "canonical"),
    [
        (fx.DOCS_PARAMS, "a=value1&b=val%7Cue%262"),
        ({"foo": {"bar": {"biz": "foo"}}, "qux": "net"}, "foo%5Bbar%5D%5Bbiz%5D=foo&qux=net"),
        (
            {"foo": {"bar": {"biz": "foo bar"}}, "qux": "net"},
            "foo%5Bbar%5D%5Bbiz%5D=foo+bar&qux=net",
        ),
        (
            {"t": True, "f": False, "n": None, "i": 15083, "e": {}, "l": []},
            "f=false&i=15083&n=&t=true",
        ),
        ({"a": [1, 2], "B": "x"}, "B=x&a%5B%5D=1&a%5B%5D=2"),
        ({"s": "a/b:c,d~e*f"}, "s=a%2Fb%3Ac%2Cd~e%2Af"),
    ],
)
def test_canonical_parameter_strings(params, canonical):
    assert canonicalize_callback_params(params) == canonical


def test_python_client_constants_sign_an_empty_parameter_string():
    # Why reference vectors 3-4 are not parameter-encoding vectors.
    kwargs = {"url": fx.DOCS_URL, "nonce": fx.DOCS_NONCE}
    post = compute_callback_signature("foobar123", method="POST", params={}, **kwargs)
    get = compute_callback_signature("foobar123", method="GET", params={}, **kwargs)
    assert (post, get) == (fx.PYTHON_EMPTY_PARAMS_POST, fx.PYTHON_EMPTY_PARAMS_GET)
    assert (
        compute_callback_signature("foobar123", method="POST", params=fx.DOCS_PARAMS, **kwargs)
        != fx.PYTHON_EMPTY_PARAMS_POST
    )


def _java_params(method: str, payload: str):
    if method == "POST":
        return json.loads(payload)
    return parse_qsl(payload, keep_blank_values=True, strict_parsing=True)


@pytest.mark.parametrize(
    ("name", "key", "nonce", "method", "url", "payload", "expected"),
    fx.JAVA_VECTORS,
    ids=[v[0] for v in fx.JAVA_VECTORS],
)
def test_authy_java_vectors(name, key, nonce, method, url, payload, expected):
    client = AuthyClient(key)
    params = _java_params(method, payload)
    assert compute_callback_signature(key, url=url, method=method, params=params, nonce=nonce) == (
        expected
    )
    assert client.validate_callback_signature(
        url=url, method=method, params=params, nonce=nonce, signature=expected
    )


@pytest.mark.parametrize(
    "vector", [v for v in fx.JAVA_VECTORS if v[3] == "GET"], ids=lambda v: v[0]
)
def test_get_vectors_from_a_multivaluedict_and_a_flat_dict(vector):
    from django.utils.datastructures import MultiValueDict

    _, key, nonce, _, url, payload, expected = vector
    pairs = parse_qsl(payload, keep_blank_values=True, strict_parsing=True)
    multi = MultiValueDict()
    for k, v in pairs:
        multi.appendlist(k, v)
    for params in (multi, dict(pairs)):
        assert compute_callback_signature(
            key, url=url, method="GET", params=params, nonce=nonce
        ) == (expected)


def test_keys_inside_array_items_keep_their_order():
    # Rails' to_query sorts mapping keys except under an array ("[]") prefix.
    params = {"z": "1", "logos": [{"url": "https://x.test/a.png", "res": "med"}], "a": "2"}
    assert canonicalize_callback_params(params) == (
        "a=2&logos%5B%5D%5Burl%5D=https%3A%2F%2Fx.test%2Fa.png&logos%5B%5D%5Bres%5D=med&z=1"
    )


def test_arrays_keep_their_order_and_round_trip_through_a_query_string():
    params = json.loads(fx.JAVA_POST_APPROVED_WITH_LOGOS)
    canonical = canonicalize_callback_params(params)
    logos = [p for p in canonical.split("&") if "logos" in p]
    assert [p.split("=")[0].rsplit("%5B", 1)[1] for p in logos] == [
        "res%5D",
        "url%5D",
        "res%5D",
        "url%5D",
    ]
    # A global sort would regroup them and break real Authy signatures.
    assert canonical != "&".join(sorted(canonical.split("&")))
    # The same data sent as a GET query string canonicalises identically.
    pairs = parse_qsl(canonical, keep_blank_values=True)
    assert canonicalize_callback_params(pairs) == canonical


@pytest.fixture
def signed_post():
    _, key, nonce, method, url, payload, signature = fx.JAVA_VECTORS[0]
    return {
        "client": AuthyClient(key),
        "params": json.loads(payload),
        "nonce": nonce,
        "method": method,
        "url": url,
        "signature": signature,
    }


def _validate(signed, **changes):
    arguments = {k: v for k, v in signed.items() if k != "client"}
    arguments.update(changes)
    return signed["client"].validate_callback_signature(**arguments)


def test_untampered_callback_is_valid(signed_post):
    assert _validate(signed_post) is True
    assert _validate(signed_post, url=signed_post["url"] + "?ignored=1") is True
    assert _validate(signed_post, method="post") is True


def test_tampered_value_is_rejected(signed_post):
    params = json.loads(json.dumps(signed_post["params"]))
    params["status"] = "denied"
    assert _validate(signed_post, params=params) is False
    params = json.loads(json.dumps(signed_post["params"]))
    params["approval_request"]["transaction"]["status"] = "denied"
    assert _validate(signed_post, params=params) is False


def test_added_or_removed_param_is_rejected(signed_post):
    assert _validate(signed_post, params={**signed_post["params"], "extra": "1"}) is False
    params = dict(signed_post["params"])
    del params["device"]
    assert _validate(signed_post, params=params) is False


@pytest.mark.parametrize(
    "changes",
    [
        {"nonce": "1512923420"},
        {"method": "GET"},
        {"url": "https://requestb.in/ui9vdiuj"},
        {"url": "http://requestb.in/ui9vdiui"},
        {"url": "https://requestb.in/ui9vdiui/"},
        {"signature": "6uKAaKxCkkFEyQujwdudyPNUgRi2fY5otoCOQN7VjCX="},
        {"signature": "6UKAAKXCKKFEYQUJWDUDYPNUGRI2FY5OTOCOQN7VJCW="},
    ],
)
def test_tampered_envelope_is_rejected(signed_post, changes):
    assert _validate(signed_post, **changes) is False


@pytest.mark.parametrize(
    "changes",
    [
        {"signature": ""},
        {"signature": None},
        {"signature": 123},
        {"signature": "é" * 44},
        {"signature": "x" * 10_000},
        {"nonce": ""},
        {"nonce": None},
        {"nonce": True},
        {"nonce": "1512923419|POST"},
        {"method": "PUT"},
        {"method": ""},
        {"method": None},
        {"url": None},
        {"url": ""},
        {"params": None},
        {"params": "status=approved"},
        {"params": [("only-one-item",)]},
        {"params": {"a": object()}},
    ],
)
def test_malformed_input_is_invalid_not_an_exception(signed_post, changes):
    assert _validate(signed_post, **changes) is False


def test_absurdly_nested_params_are_invalid_not_an_exception(signed_post):
    deep: dict = {}
    node = deep
    for _ in range(500):
        node["a"] = {}
        node = node["a"]
    node["a"] = "x"
    assert _validate(signed_post, params=deep) is False
    deep_query = [("a" + "[b]" * 500, "x")]
    assert _validate(signed_post, params=deep_query) is False


def test_max_age_accepts_a_fresh_nonce_and_rejects_an_old_or_future_one(signed_post):
    issued = float(signed_post["nonce"])
    assert _validate(signed_post, max_age=300, now=issued + 299) is True
    assert _validate(signed_post, max_age=300, now=issued + 301) is False
    assert _validate(signed_post, max_age=300, now=issued - 301) is False
    assert _validate(signed_post, max_age=300) is False  # the vector is from 2017


def test_max_age_with_fractional_and_non_numeric_nonces():
    client = AuthyClient("foobar123")
    params = fx.DOCS_PARAMS
    for nonce, fresh in ((fx.DOCS_NONCE, True), ("not-a-time", False)):
        signature = compute_callback_signature(
            "foobar123", url=fx.DOCS_URL, method="POST", params=params, nonce=nonce
        )
        assert client.validate_callback_signature(
            url=fx.DOCS_URL, method="POST", params=params, nonce=nonce, signature=signature
        )
        assert (
            client.validate_callback_signature(
                url=fx.DOCS_URL,
                method="POST",
                params=params,
                nonce=nonce,
                signature=signature,
                max_age=60,
                now=1427849783.886085 + 30,
            )
            is fresh
        )


@pytest.mark.parametrize("max_age", [0, -1, float("nan"), "60"])
def test_bad_max_age_is_a_programming_error(signed_post, max_age):
    with pytest.raises(ValueError, match="max_age"):
        _validate(signed_post, max_age=max_age)


def test_compute_requires_a_key_and_a_known_method():
    with pytest.raises(Authy2FAConfigurationError):
        compute_callback_signature("", url=fx.DOCS_URL, method="POST", params={}, nonce="1")
    with pytest.raises(ValueError, match="GET or POST"):
        compute_callback_signature("k", url=fx.DOCS_URL, method="DELETE", params={}, nonce="1")


def test_approval_status_is_a_string_enum():
    assert ApprovalStatus("approved") is ApprovalStatus.APPROVED
    assert ApprovalStatus.DENIED == "denied"
    assert [s.value for s in ApprovalStatus] == ["pending", "approved", "denied", "expired"]
