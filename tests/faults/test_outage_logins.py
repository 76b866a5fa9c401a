"""During an outage: the circuit breaker end to end, and the factors that need no provider.

The real providers talk to a :class:`~tests.faults.server.FaultServer`; the
server counts every request, so "fails fast" means "no request reached it".
"""

from __future__ import annotations

import time

import pytest

from django_authy2fa import recovery, totp
from django_authy2fa.models import APIToken, TwoFactorProfile
from django_authy2fa.providers import circuit, circuit_state

from ..api.test_api_flow import login, send, verify
from ..test_totp_flow import code_at
from .server import Fault
from .support import (
    BOUND,
    GOOD_CODE,
    TIMEOUT,
    BrokenCache,
    CountingAPIClient,
    PageBrowser,
    flash_messages,
)

pytestmark = pytest.mark.django_db

CIRCUIT_MESSAGE = "is temporarily unavailable; use your authenticator app or a recovery code."
#: A request the circuit refuses makes no network call: far below the connect timeout.
FAST = TIMEOUT[0]


def _charged_profiles() -> int:
    return sum(
        1
        for profile in TwoFactorProfile.objects.all()
        if profile.failure_count or profile.locked_until or profile.hard_locked_at
    )


def _send_status(browser: PageBrowser) -> tuple[str | None, list[str], float]:
    """Ask for a code on the pages: the status the redirect reports, the messages, the time."""
    response, elapsed = browser.timed(browser.send_code)
    assert response.status_code == 302
    messages = flash_messages(browser.get(response["Location"]))
    return response.get("X-Authy2FA-Status"), messages, elapsed


def _open_the_circuit(site, browser: PageBrowser) -> None:
    """Five sends that the provider fails: the circuit opens."""
    for _ in range(5):
        status, messages, _elapsed = _send_status(browser)
        assert status == "503", messages
        assert CIRCUIT_MESSAGE not in messages[0]
    assert site.server.count(site.send_path) == 5
    assert circuit_state()["state"] == "open"


def test_circuit_opens_fails_fast_and_closes_again_after_the_cooloff(site, reliability):
    with site.configured(CIRCUIT_COOLOFF_SECONDS=1):
        site.user("alice", "+14155552671")
        site.user("bob", "+14155552672")
        site.server.fail(Fault.answer(503), on=site.send_path)
        browser = PageBrowser()
        browser.password_step("alice")
        _open_the_circuit(site, browser)

        # Open: the page and the API fail at once, and say what to do instead.
        status, messages, elapsed = _send_status(browser)
        assert status == "503"
        assert messages == [f"{site.label} {CIRCUIT_MESSAGE}"]
        assert elapsed < FAST
        api = CountingAPIClient()
        challenge = login(api, "bob").json()["challenge"]
        response, api_elapsed = api.timed(send, api, challenge)
        assert response.status_code == 503
        assert response.json() == {
            "code": "provider_unavailable",
            "detail": f"{site.label} {CIRCUIT_MESSAGE}",
        }
        assert api_elapsed < FAST
        assert site.server.count(site.send_path) == 5  # nothing reached the provider

        # Half-open: after the cool-off one trial goes out; it fails, so it opens again.
        time.sleep(1.05)
        status, messages, _elapsed = _send_status(browser)
        assert status == "503"
        assert CIRCUIT_MESSAGE not in messages[0]
        assert site.server.count(site.send_path) == 6
        status, messages, elapsed = _send_status(browser)
        assert CIRCUIT_MESSAGE in messages[0]
        assert elapsed < FAST
        assert site.server.count(site.send_path) == 6

        # The provider is back: after the cool-off the trial succeeds and closes it.
        site.server.heal()
        time.sleep(1.05)
        status, messages, _elapsed = _send_status(browser)
        assert status is None, messages
        assert site.server.count(site.send_path) == 7
        assert circuit_state()["state"] == "closed"
        assert browser.enter_code(GOOD_CODE)["Location"] == "/protected/"
        assert browser.is_logged_in()
        server_errors = browser.server_errors + api.server_errors
        assert server_errors == 0
        assert APIToken.objects.count() == 0
        assert _charged_profiles() == 0
    reliability.record(
        family="fault",
        case=f"{site.label}: 5 failed sends open the circuit, cool-off, trial",
        requests=len(site.server.seen),
        server_errors=server_errors,
        outcome=(
            "6th send refused without a request in "
            f"{max(elapsed, api_elapsed) * 1000:.0f} ms with 'use your authenticator app'; "
            "failed trial reopens; healthy trial closes, login completes"
        ),
    )


@pytest.mark.parametrize("outage", ["provider-down", "circuit-open"])
def test_authenticator_app_and_recovery_codes_log_in_during_an_outage(site, outage, reliability):
    alice = site.user("alice", "+14155552671")
    enrollment = totp.start_enrollment(alice)
    confirmed_at = time.time() - 60  # the confirming code's step is spent; later ones work
    assert totp.confirm(alice, code_at(enrollment.manual_key, confirmed_at), now=confirmed_at)
    codes = recovery.replace_codes(alice)
    browser = PageBrowser()
    browser.password_step("alice")
    if outage == "provider-down":
        site.server.fail(Fault.hang())
        status, messages, elapsed = _send_status(browser)
        assert status == "503", messages
        assert elapsed < BOUND
    else:
        site.server.fail(Fault.answer(503))
        _open_the_circuit(site, browser)
        status, messages, _elapsed = _send_status(browser)
        assert CIRCUIT_MESSAGE in messages[0]
    requests_before = len(site.server.seen)

    # The pages: the app on one browser, a recovery code on another.
    response = browser.enter_code(code_at(enrollment.manual_key, time.time()), method="totp")
    assert response["Location"] == "/protected/"
    assert browser.is_logged_in()
    other = PageBrowser()
    other.password_step("alice")
    assert other.enter_code(codes[0], method="recovery")["Location"] == "/protected/"
    assert other.is_logged_in()

    # The API: the app's next code, then a recovery code.
    api = CountingAPIClient()
    challenge = login(api, "alice").json()["challenge"]
    response = verify(api, challenge, code_at(enrollment.manual_key, time.time() + 30), "totp")
    assert response.status_code == 200, response.json()
    challenge = login(api, "alice").json()["challenge"]
    response = verify(api, challenge, codes[1], "recovery")
    assert response.status_code == 200, response.json()
    assert APIToken.objects.count() == 2

    assert len(site.server.seen) == requests_before  # no factor here needed the provider
    server_errors = browser.server_errors + other.server_errors + api.server_errors
    assert server_errors == 0
    assert _charged_profiles() == 0
    reliability.record(
        family="fault",
        case=f"{site.label}: {outage.replace('-', ' ')}, sign in with the app or a recovery code",
        requests=len(site.server.seen),
        server_errors=server_errors,
        outcome="app and recovery codes log in on the pages and the API, no provider request",
    )


def test_provider_429s_never_open_the_circuit(site, reliability):
    site.user("alice", "+14155552671")
    site.server.fail(Fault.answer(429, headers=(("Retry-After", "2"),)), on=site.send_path)
    browser = PageBrowser()
    browser.password_step("alice")
    for _ in range(7):
        status, messages, _elapsed = _send_status(browser)
        assert status == "429", messages
    assert site.server.count(site.send_path) == 7
    assert circuit_state()["state"] == "closed"
    assert _charged_profiles() == 0
    reliability.record(
        family="fault",
        case=f"{site.label}: 7 sends answered 429 by the provider",
        requests=len(site.server.seen),
        server_errors=browser.server_errors,
        outcome="each a 429 message; the circuit stays closed",
    )


def test_a_broken_cache_never_breaks_a_login(site, monkeypatch, reliability):
    monkeypatch.setattr(circuit, "cache", BrokenCache())
    site.user("alice", "+14155552671")
    site.server.fail(Fault.answer(503), on=site.send_path)
    browser = PageBrowser()
    browser.password_step("alice")
    for _ in range(6):  # nothing can be counted, so nothing is skipped
        status, messages, _elapsed = _send_status(browser)
        assert status == "503", messages
    assert site.server.count(site.send_path) == 6
    site.server.heal()
    status, messages, _elapsed = _send_status(browser)
    assert status is None, messages
    assert browser.enter_code(GOOD_CODE)["Location"] == "/protected/"
    assert browser.server_errors == 0
    assert circuit_state()["state"] == "unknown"
    reliability.record(
        family="fault",
        case=f"{site.label}: the cache is down while the provider fails",
        requests=len(site.server.seen),
        server_errors=browser.server_errors,
        outcome="breaker bypassed, every send reaches the provider, login completes",
    )
