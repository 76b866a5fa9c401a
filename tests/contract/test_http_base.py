"""The transport both provider clients share (``django_authy2fa.clients.http``).

Django's error reports (the 500 page with DEBUG off, the admin e-mails) show
the locals of every frame; an exception inside the transport of either client
must not put a credential, a code, a phone number or an e-mail address in one.
The sessions the clients create ignore ``~/.netrc`` and proxy variables, and
every request carries explicit credentials, so nothing in the environment or
in a caller's session can add or replace an Authorization header.
"""

from __future__ import annotations

import base64
import html
import json
import re
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, quote_plus

import pytest
import requests
import responses
from django.conf import settings
from django.views.debug import ExceptionReporter, get_default_exception_reporter_filter

from django_authy2fa.clients.authy import AuthyClient
from django_authy2fa.clients.http import (
    SENSITIVE_NAMES,
    ApiClient,
    Reply,
    check_api_url,
    check_secret,
    check_timeout,
    detached,
    is_loopback,
    new_session,
    normalise_error_code,
    parse_fields,
    parse_retry_after,
    settle_environment,
)
from django_authy2fa.clients.verify import VerifyClient
from django_authy2fa.exceptions import (
    Authy2FAConfigurationError,
    CodeExpired,
    ProviderRejected,
    ProviderThrottled,
    ProviderUnavailable,
)
from tests.contract import authy_fixtures as afx
from tests.contract import verify_fixtures as vfx

# The secrets are defined here, far from any line of this file that ends up in
# a traceback: Django quotes the source around each frame it reports.
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
SERVICE_SID = vfx.SERVICE_SID
PHONE_E164 = "+447911123456"
PHONE_NATIONAL = "07911 123456"
PHONE_DIGITS = "7911123456"  # in every encoding of the number the clients send
AUTHY_BASE = "https://api.authy.com"
VERIFY_BASE = "https://verify.twilio.com/v2"


@pytest.fixture
def sensitive() -> dict[str, str]:
    """Fresh secrets per test, so that no match can come from anywhere else."""
    token = secrets.token_hex(16)
    return {
        "api_key": "K" + secrets.token_hex(16),
        "auth_token": token,
        "basic": base64.b64encode(f"{ACCOUNT_SID}:{token}".encode()).decode(),
        "code": str(secrets.randbelow(9 * 10**7) + 10**7),  # 8 digits: both APIs take it
        "email": f"ada.{secrets.token_hex(4)}@example.com",
        "phone": PHONE_DIGITS,
    }


def needles(sensitive: dict[str, str]) -> dict[str, str]:
    """Each secret in every form a request may carry it: raw, form- and URL-encoded."""
    found = dict(sensitive)
    found["email (form)"] = quote_plus(sensitive["email"])
    found["email (url)"] = quote(sensitive["email"])
    return found


# --- Error reports ---------------------------------------------------------------------


def without_own_frames(exc: BaseException) -> BaseException:
    """Start the traceback at the client: this test's own locals hold the secrets."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    exc.__traceback__ = tb  # Django reads each chained exception's own traceback
    return exc


def reports(exc: BaseException) -> tuple[str, str]:
    """The text and HTML error reports, pprint's wrapped string literals joined again.

    pprint cuts a long ``bytes`` repr into ``b'...'`` pieces on several lines;
    a secret cut in two would otherwise slip past a plain substring check.
    """
    reporter = ExceptionReporter(None, type(exc), exc, exc.__traceback__)
    joined = []
    for report in (reporter.get_traceback_text(), reporter.get_traceback_html()):
        joined.append(re.sub(r"""['"]\s*\n\s*b?['"]""", "", html.unescape(report)))
    return joined[0], joined[1]


def chained(exc: BaseException | None) -> Iterator[BaseException]:
    """The exception and its causes, as Django's report walks them."""
    while exc is not None:
        yield exc
        explicit = exc.__cause__
        exc = explicit or (None if exc.__suppress_context__ else exc.__context__)


def leaking_locals(exc: BaseException, found: dict[str, str]) -> list[str]:
    """``function:variable -> secret`` for every unmasked local that holds a secret."""
    report_filter = get_default_exception_reporter_filter()
    leaks = []
    for link in chained(exc):
        tb = link.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            for name, value in report_filter.get_traceback_frame_variables(None, frame):
                text = repr(value)
                where = f"{frame.f_code.co_name}:{name}"
                leaks += [f"{where} -> {secret}" for secret in found if found[secret] in text]
            tb = tb.tb_next
    return leaks


def assert_report_is_clean(exc: BaseException, sensitive: dict[str, str]) -> str:
    """Neither report shows a secret; returns the HTML report for further checks."""
    assert settings.DEBUG is False  # the filter only masks when DEBUG is off
    exc = without_own_frames(exc)
    found = needles(sensitive)
    assert leaking_locals(exc, found) == []
    text, html_report = reports(exc)
    assert [name for name, value in found.items() if value in text] == []
    assert [name for name, value in found.items() if value in html_report] == []
    assert "********************" in html_report  # masking did happen
    return html_report


Calls = dict[str, Callable[[], object]]


def calls_for(client: AuthyClient | VerifyClient, sensitive: dict[str, str]) -> Calls:
    """The calls that send a code, a phone number or an e-mail address."""
    if isinstance(client, AuthyClient):
        return {
            "register_user": lambda: client.register_user(sensitive["email"], PHONE_NATIONAL, 44),
            "verify_token": lambda: client.verify_token(1635, sensitive["code"]),
            "request_sms": lambda: client.request_sms(1635),
        }
    return {
        "start_sms": lambda: client.start_verification(PHONE_E164),
        "start_email": lambda: client.start_verification(sensitive["email"], "email"),
        "check": lambda: client.check_verification(sensitive["code"], to=PHONE_E164),
    }


def new_client(kind: str, api_url: str, sensitive: dict[str, str]) -> AuthyClient | VerifyClient:
    if kind == "authy":
        return AuthyClient(sensitive["api_key"], api_url)
    return VerifyClient(ACCOUNT_SID, sensitive["auth_token"], SERVICE_SID, f"{api_url}/v2")


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("kind", "call"),
    [
        ("authy", "register_user"),  # POST: the original cause, urllib3 frames and all
        ("authy", "verify_token"),  # the code in the URL: a redacted cause
        ("authy", "request_sms"),
        ("verify", "start_sms"),
        ("verify", "start_email"),
        ("verify", "check"),
    ],
)
def test_refused_connection_report_shows_no_secret(sensitive, kind, call):
    with new_client(kind, f"http://127.0.0.1:{closed_port()}", sensitive) as client:
        calls = calls_for(client, sensitive)
        with pytest.raises(ProviderUnavailable) as excinfo:
            calls[call]()
    html_report = assert_report_is_clean(excinfo.value, sensitive)
    assert "endpoint" in html_report  # frame locals are part of the report


def test_authy_refused_post_report_masks_the_urllib3_body_locals(sensitive):
    """Authy chains the original error for a POST: its urllib3 frames hold the JSON body."""
    client = new_client("authy", f"http://127.0.0.1:{closed_port()}", sensitive)
    with client, pytest.raises(ProviderUnavailable) as excinfo:
        calls_for(client, sensitive)["register_user"]()
    html_report = assert_report_is_clean(excinfo.value, sensitive)
    for name in ("chunks_and_cl", "chunks", "msg"):
        assert f"<td>{name}</td>" in html_report  # the frame is there, the value is not


class TransportBug(RuntimeError):
    """Not a transport error, so it leaves the client with all its frames."""


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A socket that accepts connections (in its backlog) and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


@pytest.fixture
def failing_send(monkeypatch, listening_port) -> Callable[[int], None]:
    """Make the n-th ``sendall`` to the listening port raise inside http.client.

    urllib3 2.x sends the header block first (the first ``sendall``) and then
    the body chunk by chunk, so 1 fails in the headers and 2 in the body.
    """
    original = socket.socket.sendall

    def arm(fail_at: int) -> None:
        sent = []

        def sendall(sock, data, *flags):
            if sock.getpeername()[1] == listening_port:
                sent.append(len(data))
                if len(sent) == fail_at:
                    raise TransportBug("failure inside the transport")
            return original(sock, data, *flags)

        monkeypatch.setattr(socket.socket, "sendall", sendall)

    return arm


@pytest.mark.parametrize(
    ("kind", "call", "fail_at"),
    [
        ("authy", "register_user", 1),
        ("authy", "register_user", 2),
        ("authy", "verify_token", 1),
        ("authy", "request_sms", 1),
        ("verify", "start_sms", 1),
        ("verify", "start_sms", 2),
        ("verify", "start_email", 2),
        ("verify", "check", 1),
        ("verify", "check", 2),
    ],
)
def test_exception_inside_the_transport_report_shows_no_secret(
    sensitive, listening_port, failing_send, kind, call, fail_at
):
    failing_send(fail_at)
    with new_client(kind, f"http://127.0.0.1:{listening_port}", sensitive) as client:
        calls = calls_for(client, sensitive)
        with pytest.raises(TransportBug) as excinfo:
            calls[call]()
    html_report = assert_report_is_clean(excinfo.value, sensitive)
    # The report does walk down into urllib3's and http.client's frames.
    assert "<td>chunks_and_cl</td>" in html_report
    assert "_send_output" in html_report or "<td>chunk</td>" in html_report


@pytest.mark.parametrize("method", ["fetch_verification", "cancel_verification"])
def test_verify_answer_report_hides_the_full_recipient(sensitive, method):
    """Twilio echoes the full phone number; an odd answer must not put it in a report."""
    answer = {**vfx.VERIFICATION_CREATED, "service_sid": "VA" + "f" * 32}
    client = VerifyClient(ACCOUNT_SID, sensitive["auth_token"], SERVICE_SID)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.GET, vfx.VERIFICATION_URL, json=answer)
        rsps.add(responses.POST, vfx.VERIFICATION_URL, json=answer)
        with pytest.raises(ProviderUnavailable, match="another service") as excinfo:
            getattr(client, method)(vfx.VERIFICATION_SID)
    assert_report_is_clean(excinfo.value, {**sensitive, "phone": vfx.PHONE[2:]})


def test_names_cover_the_urllib3_2_request_locals():
    """urllib3 2.x holds the encoded body in these; http.client the header block."""
    assert {"chunks_and_cl", "chunks", "chunk", "body", "headers", "header", "value"} <= set(
        SENSITIVE_NAMES
    )
    assert {"msg", "one_value", "values", "message_body", "data", "datablock"} <= set(
        SENSITIVE_NAMES
    )
    # What the reports must keep showing, to be of any use.
    assert not {"endpoint", "method", "secret_in_url", "status_code"} & set(SENSITIVE_NAMES)


# --- ~/.netrc, proxies and a caller's session -------------------------------------------


@pytest.fixture
def netrc_home(tmp_path, monkeypatch) -> None:
    """A HOME whose .netrc has a ``default`` entry: requests applies it to every host."""
    netrc = tmp_path / ".netrc"
    netrc.write_text("default login intruder password stolen\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("NETRC", raising=False)
    # The trap is real: requests would use it for these hosts.
    assert requests.utils.get_netrc_auth(f"{AUTHY_BASE}/x") == ("intruder", "stolen")
    assert requests.utils.get_netrc_auth(f"{VERIFY_BASE}/x") == ("intruder", "stolen")


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    """Authy's SMS endpoint and Verify's start, whichever the test calls."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{AUTHY_BASE}/protected/json/sms/1635", json=afx.SMS_SENT)
        mock.post(
            f"{VERIFY_BASE}/Services/{SERVICE_SID}/Verifications",
            json=vfx.VERIFICATION_CREATED,
            status=201,
        )
        yield mock


def basic_auth(request: requests.PreparedRequest) -> tuple[str, str]:
    scheme, _, encoded = request.headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    username, _, password = base64.b64decode(encoded).decode("ascii").partition(":")
    return username, password


def callers_session() -> requests.Session:
    """A session as callers make them: trusting the environment, with its own credentials."""
    session = requests.Session()
    assert session.trust_env is True
    session.auth = ("someone", "else")
    session.headers["Authorization"] = "Bearer for-another-host"
    return session


@pytest.mark.parametrize("session", [None, "callers"])
def test_authy_never_sends_an_authorization_header(netrc_home, rsps, sensitive, session):
    own = callers_session() if session else None
    with AuthyClient(sensitive["api_key"], session=own) as client:
        client.request_sms(1635)
    sent = rsps.calls[0].request
    assert "Authorization" not in sent.headers
    assert sent.headers["X-Authy-API-Key"] == sensitive["api_key"]
    if own is not None:  # the caller's session is left as it was
        assert own.headers["Authorization"] == "Bearer for-another-host"


@pytest.mark.parametrize("session", [None, "callers"])
def test_verify_credentials_always_win(netrc_home, rsps, sensitive, session):
    own = callers_session() if session else None
    with VerifyClient(ACCOUNT_SID, sensitive["auth_token"], SERVICE_SID, session=own) as client:
        client.start_verification(PHONE_E164)
    assert basic_auth(rsps.calls[0].request) == (ACCOUNT_SID, sensitive["auth_token"])


class _Stub(BaseHTTPRequestHandler):
    """Answers every request as Authy's SMS endpoint or Verify's start would."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self._answer(200, afx.SMS_SENT)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._answer(201, vfx.VERIFICATION_CREATED)

    def _answer(self, status: int, body: dict) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def stub_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_proxy_variables_are_honoured(monkeypatch, stub_server, sensitive):
    """An egress proxy from the environment is used (a dead one makes the provider unavailable)."""
    dead = f"http://127.0.0.1:{closed_port()}"
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, dead)
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with (
        AuthyClient(sensitive["api_key"], stub_server) as authy,
        pytest.raises(ProviderUnavailable),
    ):
        authy.request_sms(1635)
    with new_client("verify", stub_server, sensitive) as verify, pytest.raises(ProviderUnavailable):
        verify.start_verification(PHONE_E164)


@pytest.mark.parametrize(
    ("no_proxy", "expected"),
    [("", {"https": "http://proxy.internal:3128"}), ("api.authy.com", {})],
    ids=["proxied", "NO_PROXY"],
)
def test_the_environment_is_read_once_when_the_client_is_made(monkeypatch, no_proxy, expected):
    for name in ("http_proxy", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", no_proxy)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/company-ca.pem")
    with AuthyClient("k" * 32) as client:
        session = client._session
        assert {k: v for k, v in session.proxies.items() if k == "https"} == expected
        assert session.verify == "/etc/ssl/certs/company-ca.pem"
        # Not rescanned per request: neither the environment nor ~/.netrc.
        assert session.trust_env is False


def client_on(kind: str, sensitive: dict[str, str], session: requests.Session | None):
    if kind == "authy":
        return AuthyClient(sensitive["api_key"], AUTHY_BASE, session=session)
    return VerifyClient(
        ACCOUNT_SID, sensitive["auth_token"], SERVICE_SID, VERIFY_BASE, session=session
    )


@pytest.mark.parametrize(
    ("kind", "call", "answer"),
    [
        ("authy", lambda c: c.user_status(290907, user_ip="2001:db8::1"), afx.USER_STATUS),
        ("authy", lambda c: c.verify_token(1635, "0123456", action="a&b c"), afx.TOKEN_VALID),
        (
            "authy",
            lambda c: c.register_user("ada+2fa@example.com", PHONE_NATIONAL, 44),
            afx.USER_CREATED,
        ),
        (
            "verify",
            lambda c: c.start_verification(PHONE_E164, locale="pt-BR"),
            vfx.VERIFICATION_CREATED,
        ),
        (
            "verify",
            lambda c: c.check_verification("123456", to=PHONE_E164),
            vfx.CHECK_APPROVED,
        ),
    ],
    ids=["authy-query", "authy-verify", "authy-json-body", "verify-form", "verify-check"],
)
def test_a_private_pool_sends_what_a_session_would(sensitive, kind, call, answer):
    """The private pool's shortcut past ``Session.request`` changes nothing on the wire.

    The same call goes once through the client's own pool and once through a
    plain session handed in by a caller (requests' full path); the two requests
    must be identical: method, URL and query, body, every header.
    """
    plain = requests.Session()
    plain.trust_env = False  # the test's environment is not what is compared
    private, through_session = (
        _request_sent(kind, sensitive, session, call, answer) for session in (None, plain)
    )
    assert private.method == through_session.method
    assert private.url == through_session.url
    assert "?" in private.url or private.body
    assert private.body == through_session.body
    assert dict(private.headers) == dict(through_session.headers)


@pytest.mark.parametrize(
    ("kind", "call", "answer"),
    [
        ("authy", lambda c: c.verify_token(1635, "0123456"), afx.TOKEN_VALID),
        ("verify", lambda c: c.check_verification("123456", to=PHONE_E164), vfx.CHECK_APPROVED),
    ],
    ids=["authy", "verify"],
)
def test_a_private_pool_sends_with_the_transport_settings_a_session_would(
    sensitive, kind, call, answer, monkeypatch
):
    """TLS verification (a company CA bundle), client certificate, proxies and timeout.

    The private pool hands them to the adapter itself: compared here with a
    caller's session set up from the same environment, which goes through
    ``Session.request``.
    """
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://egress.internal:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/company-ca.pem")
    shared = new_session()
    settle_environment(shared, VERIFY_BASE if kind == "verify" else AUTHY_BASE)
    private, through_session = (
        dict(_request_sent(kind, sensitive, session, call, answer).req_kwargs)
        for session in (None, shared)
    )
    assert private["verify"] == "/etc/ssl/certs/company-ca.pem"
    assert private["proxies"]["https"] == "http://egress.internal:3128"
    assert private == through_session


def _request_sent(kind, sensitive, session, call, answer) -> requests.PreparedRequest:
    """What one client call put on the wire (recorded by ``responses``)."""
    with (
        client_on(kind, sensitive, session) as client,
        responses.RequestsMock(assert_all_requests_are_fired=False) as mock,
    ):
        for method in (responses.GET, responses.POST):
            mock.add(method, re.compile(".*"), json=answer)
        call(client)
        (exchange,) = mock.calls
        return exchange.request


# --- Shared helpers -------------------------------------------------------------------------


def test_both_clients_are_built_on_the_shared_base():
    assert issubclass(AuthyClient, ApiClient)
    assert issubclass(VerifyClient, ApiClient)
    assert AuthyClient.DEFAULT_TIMEOUT == VerifyClient.DEFAULT_TIMEOUT == (3.05, 10)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (b"", {}),
        (b"  \n", {}),
        (b"<html>Bad gateway</html>", {}),
        (b"[1, 2]", {}),
        (b'"text"', {}),
        (b"[" * 100_000, {}),
        (b'{"error_code": "60001"}', {"error_code": "60001"}),
    ],
)
def test_parse_fields_keeps_only_a_json_object(body, fields):
    assert parse_fields(body) == fields


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (60020, "60020"),
        ("60020", "60020"),
        (" 60020 ", "60020"),
        (60020.0, "60020"),
        (60020.5, None),
        (True, None),
        ("6002x", None),
        ("1" * 11, None),
        ("٦٠٠٢٠", None),  # Arabic-Indic digits are not an error code
        (None, None),
    ],
)
def test_normalise_error_code(value, code):
    assert normalise_error_code(value) == code


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("120", 120), (" 5 ", 5), ("-1", None), ("Wed, 21 Oct 2015 07:28:00 GMT", None), (None, None)],
)
def test_parse_retry_after_takes_seconds_only(header, seconds):
    assert parse_retry_after(header) == seconds


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("example.com", False),
        ("10.0.0.1", False),
        ("localhost.example.com", False),
    ],
)
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_configuration_messages_name_the_provider():
    assert check_api_url("https://api.example.com/v2/", "Some API") == "https://api.example.com/v2"
    assert check_api_url("http://127.0.0.1:8000", "Some API") == "http://127.0.0.1:8000"
    for bad in ("http://api.example.com", "https://u:p@api.example.com", "https://h/#f", 1):
        with pytest.raises(Authy2FAConfigurationError, match="The Some API API URL"):
            check_api_url(bad, "Some API")
    assert check_timeout((1, 2.5), "Some API") == (1, 2.5)
    for bad in (0, -1, float("inf"), float("nan"), True, None, (1, 2, 3), "5"):
        with pytest.raises(Authy2FAConfigurationError, match="The Some API timeout"):
            check_timeout(bad, "Some API")


def test_check_secret():
    assert check_secret("abc!~", "The key") == "abc!~"
    for bad in ("", None, "with space", "newline\n", "é"):
        with pytest.raises(Authy2FAConfigurationError, match="The key"):
            check_secret(bad, "The key")
    with pytest.raises(Authy2FAConfigurationError):
        check_secret("x" * 11, "The key", max_length=10)


def test_detached_keeps_type_and_text_but_no_frames_or_request():
    request = requests.Request("GET", "https://api.example.com/x").prepare()
    try:
        raise requests.exceptions.ConnectionError("refused", request=request)
    except requests.exceptions.ConnectionError as err:
        original = err
    copy = detached(original)
    assert type(copy) is requests.exceptions.ConnectionError
    assert str(copy) == "refused"
    assert copy.__traceback__ is None
    assert copy.request is None
    assert str(detached(original, "redacted")) == "redacted"

    class OddError(OSError):
        def __init__(self, a, b):
            super().__init__(a, b)

    assert type(detached(OddError(1, 2))) is requests.RequestException


class _TestReply(Reply):
    PROVIDER = "Test API"

    @property
    def error_code(self):
        return "42"

    @property
    def provider_message(self):
        return "said so"

    @property
    def failed(self):
        return True


def test_reply_builds_provider_errors_and_user_errors():
    reply = _TestReply(status_code=429, fields={}, retry_after=30)
    throttled = reply.error(ProviderThrottled, "Slow down.")
    assert isinstance(throttled, ProviderThrottled)
    assert (throttled.provider, throttled.status_code, throttled.error_code) == (
        "Test API",
        429,
        "42",
    )
    assert throttled.retry_after == 30
    assert throttled.provider_message == "said so"
    rejected = reply.error(ProviderRejected, "No.")
    assert (rejected.provider, rejected.error_code) == ("Test API", "42")
    # The user's to fix: no provider details go with it.
    expired = reply.error(CodeExpired, "Request a new code.")
    assert type(expired) is CodeExpired
    assert expired.message == "Request a new code."
    unexpected = reply.unexpected("no sid")
    assert isinstance(unexpected, ProviderUnavailable)
    assert unexpected.message == "Test API sent an unexpected answer (no sid)."
    assert (unexpected.provider, unexpected.status_code) == ("Test API", 429)
