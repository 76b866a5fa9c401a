"""The real Authy and Verify providers against a misbehaving server, through pages and API.

Every fault is served on real sockets by :mod:`tests.faults.server`; nothing in
``requests`` is mocked. For each fault, at the send step and at the check step,
the login is driven through the pages (password, send, code) and through the
API (``login/``, ``send/``, ``verify/``), and the test asserts:

* no 500: pages show a clear message, the API answers 503 ``provider_unavailable``
  or 429 ``throttled``;
* the answer came within the configured timeout plus a small margin;
* nobody was logged in and no API token was issued;
* nobody's failure count moved and nobody was locked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from django_authy2fa.models import APIToken, LoginChallenge, TwoFactorProfile

from ..api.test_api_flow import login, send, verify
from .server import Fault
from .support import (
    BOUND,
    GOOD_CODE,
    CountingAPIClient,
    PageBrowser,
    flash_messages,
    page_error,
)

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Case:
    id: str
    label: str
    make: Callable[[str], Fault]  # gets the URL of the "other host"
    throttled: bool = False
    stages: tuple[str, ...] = ("send", "check")
    #: (provider, stage) pairs where a known bug makes the case fail.
    bugs: dict[tuple[str, str], pytest.MarkDecorator] = field(default_factory=dict)


HTML = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
PORTAL = "<!doctype html><html><body><form>Sign in to the hotel Wi-Fi</form></body></html>"
RETRY_AFTER = (("Retry-After", "7"),)

CASES = [
    Case("hang", "hangs past the read timeout", lambda other: Fault.hang()),
    Case("reset", "resets the connection (RST)", lambda other: Fault.reset()),
    Case("close", "closes without answering", lambda other: Fault.close()),
    Case("drip-body", "drips the body a byte at a time", lambda other: Fault.drip_body()),
    Case(
        "500-json",
        "answers 500 with a JSON body",
        lambda other: Fault.answer(500, {"message": "Internal Server Error", "status": 500}),
    ),
    Case("500-empty", "answers 500 without a body", lambda other: Fault.answer(500)),
    Case(
        "502-html",
        "answers 502 with a proxy's HTML page",
        lambda other: Fault.answer(502, HTML, content_type="text/html"),
    ),
    Case("502-empty", "answers 502 without a body", lambda other: Fault.answer(502)),
    Case(
        "503-json",
        "answers 503 with a JSON body",
        lambda other: Fault.answer(503, {"message": "Service Unavailable", "status": 503}),
    ),
    Case("503-empty", "answers 503 without a body", lambda other: Fault.answer(503)),
    Case(
        "429-json",
        "answers 429 with a body and Retry-After",
        lambda other: Fault.answer(
            429, {"message": "Too Many Requests", "status": 429}, headers=RETRY_AFTER
        ),
        throttled=True,
    ),
    Case(
        "429-empty",
        "answers 429 without a body, with Retry-After",
        lambda other: Fault.answer(429, headers=RETRY_AFTER),
        throttled=True,
    ),
    Case(
        "malformed-json",
        "answers 200 with malformed JSON",
        lambda other: Fault.answer(200, '{"success": true, "token": "is valid",'),
    ),
    Case(
        "truncated-json",
        "answers 200 with a truncated body (Content-Length too large)",
        lambda other: Fault.truncated(),
    ),
    Case(
        "html-200",
        "answers 200 with an HTML page (captive portal)",
        lambda other: Fault.answer(200, PORTAL, content_type="text/html"),
    ),
    Case(
        "json-list",
        "answers 200 with []",
        lambda other: Fault.answer(200, []),
    ),
    Case(
        "success-only",
        'answers the check with {"success": true} only',
        lambda other: Fault.answer(200, {"success": True}),
        stages=("check",),
    ),
    Case(
        "token-without-success",
        'answers the check with {"token": "is valid"} without success',
        lambda other: Fault.answer(200, {"token": "is valid"}),
        stages=("check",),
    ),
    Case(
        "approved-without-sid",
        'answers the check with {"status": "approved"} without a SID',
        lambda other: Fault.answer(200, {"status": "approved", "valid": True}),
        stages=("check",),
    ),
    Case(
        "redirect",
        "redirects (302) to another host",
        lambda other: Fault.redirect(f"{other}/protected/json/sms/1635"),
    ),
]


def _params():
    for kind in ("authy", "verify"):
        for case in CASES:
            for stage in case.stages:
                bug = case.bugs.get((kind, stage))
                yield pytest.param(
                    kind, case, stage, id=f"{kind}-{case.id}-{stage}", marks=[bug] if bug else []
                )


def _is_clear(message: str, provider_name: str) -> bool:
    """A sentence for a person: names the service, no status codes, no traceback."""
    return (
        bool(message.strip())
        and provider_name in message
        and "HTTP" not in message
        and "Traceback" not in message
    )


def _wrong_locks() -> int:
    return sum(
        1
        for profile in TwoFactorProfile.objects.all()
        if profile.failure_count or profile.locked_until or profile.hard_locked_at
    )


@pytest.mark.parametrize(("site", "case", "stage"), list(_params()), indirect=["site"])
def test_provider_fault_is_a_clear_error_and_never_a_login_or_a_lock(
    site, case, stage, other_host, reliability
):
    site.user("alice", "+14155552671")
    site.user("bob", "+14155552672")
    fault = case.make(other_host.url)
    fault_path = site.send_path if stage == "send" else site.check_path
    expected = 429 if case.throttled else 503
    timings: list[float] = []

    # -- the pages ------------------------------------------------------------------------------
    browser = PageBrowser()
    browser.password_step("alice")
    if stage == "check":
        sent = browser.send_code()
        assert "X-Authy2FA-Status" not in sent, flash_messages(browser.get(sent["Location"]))
    site.server.fail(fault, on=fault_path)
    if stage == "send":
        response, elapsed = browser.timed(browser.send_code)
        messages = flash_messages(browser.get(response["Location"]))
        assert response.status_code == 302
        assert response.get("X-Authy2FA-Status") == str(expected), messages
        assert len(messages) == 1, messages
        page_message = messages[0]
    else:
        response, elapsed = browser.timed(browser.enter_code, GOOD_CODE)
        assert response.status_code == expected, response.content[:300]
        page_message = page_error(response)
    timings.append(elapsed)
    assert _is_clear(page_message, site.provider_name), page_message
    assert elapsed < BOUND, f"the page answered after {elapsed:.2f} s"
    logged_in = browser.is_logged_in()

    # -- the API --------------------------------------------------------------------------------
    site.server.heal()
    api = CountingAPIClient()
    answer = login(api, "bob")
    assert answer.status_code == 202
    challenge = answer.json()["challenge"]
    if stage == "check":
        assert send(api, challenge).status_code == 202
    site.server.fail(fault, on=fault_path)
    if stage == "send":
        response, elapsed = api.timed(send, api, challenge)
    else:
        response, elapsed = api.timed(verify, api, challenge, GOOD_CODE)
    timings.append(elapsed)
    body = response.json()
    assert response.status_code == expected, body
    assert body["code"] == ("throttled" if case.throttled else "provider_unavailable")
    assert _is_clear(body["detail"], site.provider_name), body
    assert "token" not in body
    if case.throttled:
        assert response["Retry-After"] == "7"  # the provider's own Retry-After
    assert elapsed < BOUND, f"the API answered after {elapsed:.2f} s"

    # -- nobody logged in, nobody charged --------------------------------------------------
    wrong_logins = int(logged_in) + APIToken.objects.count()
    wrong_locks = _wrong_locks()
    server_errors = browser.server_errors + api.server_errors
    assert server_errors == 0
    assert wrong_logins == 0
    assert wrong_locks == 0
    assert set(LoginChallenge.objects.values_list("failures", flat=True)) == {0}
    assert other_host.seen == []  # a redirect was never followed
    reliability.record(
        family="fault",
        case=f"{site.label}: provider {case.label}, at the {stage} step",
        requests=len(site.server.seen),
        server_errors=server_errors,
        wrong_logins=wrong_logins,
        wrong_locks=wrong_locks,
        outcome=(
            f"page {'429' if case.throttled else '503'} with a message, API {expected} "
            f"{body['code']}, in at most {max(timings) * 1000:.0f} ms"
        ),
    )


@pytest.mark.parametrize("site", ["authy", "verify"], indirect=True)
def test_headers_dripped_a_byte_at_a_time_are_cut_off_at_the_timeout(site, reliability):
    site.user("alice", "+14155552671")
    browser = PageBrowser()
    browser.password_step("alice")
    browser.send_code()
    site.server.fail(Fault.drip_headers(duration=BOUND + 0.25), on=site.check_path)
    response, elapsed = browser.timed(browser.enter_code, GOOD_CODE)
    assert response.status_code == 503
    assert not browser.is_logged_in()
    assert TwoFactorProfile.objects.get().failure_count == 0
    assert elapsed < BOUND, f"the page answered after {elapsed:.2f} s"
    reliability.record(
        family="fault",
        case=f"{site.label}: provider drips the status line and headers",
        requests=len(site.server.seen),
        server_errors=browser.server_errors,
        outcome=f"page 503 with a message in {elapsed * 1000:.0f} ms",
    )
