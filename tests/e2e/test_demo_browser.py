"""The demo page in a real browser, as a newcomer uses it.

Debian's Chromium, driven by Playwright, against the example project served by
``runserver`` on its embedded defaults (SQLite, console provider, DEBUG): register,
read the code on the demo phone, confirm, sign out, sign in with the second
step, reach the protected page, sign out. Two screenshots are taken; with
``AUTHY2FA_UPDATE_SCREENSHOTS=1`` they replace the README's in ``docs/images/``.

Without ``/usr/bin/chromium`` (or the ``playwright`` package) the test is
skipped, unless ``AUTHY2FA_E2E=required`` (as in ``.ci/run``): then it fails.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from .demo_server import ROOT, DemoServer, demo_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The README's screenshots are refreshed only on request, so a normal run
# leaves the work tree clean: AUTHY2FA_UPDATE_SCREENSHOTS=1 make test.
SCREENSHOTS = (
    ROOT / "docs" / "images"
    if os.environ.get("AUTHY2FA_UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "authy2fa-screenshots"
)
VIEWPORT = {"width": 1280, "height": 860}
TIMEOUT_MS = 15_000

NEWCOMER = {
    "username": "newcomer",
    "email": "newcomer@example.com",
    "phone": "+44 7400 123456",
    "password": "a long enough passphrase",
}
MASKED_PHONE = "+44 ••••••••56"

pytestmark = pytest.mark.e2e


def _unavailable(reason: str) -> None:
    if os.environ.get("AUTHY2FA_E2E") == "required":
        pytest.fail(f"{reason} (AUTHY2FA_E2E=required)", pytrace=False)
    pytest.skip(f"{reason}; set AUTHY2FA_E2E=required to make this a failure")


@pytest.fixture(scope="module")
def sync_playwright():
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is missing (pip install -e '.[e2e]')")
    return sync_playwright


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[DemoServer]:
    # A short resend cooldown keeps the test quick; the countdown still runs.
    with demo_server(
        tmp_path_factory.mktemp("demo-site"),
        DEBUG="True",
        AUTHY2FA_PROVIDER="console",
        CACHE_URL="locmemcache://",
        AUTHY2FA_SEND_COOLDOWN_SECONDS="3",
    ) as running:
        yield running
        print(f"--- demo server log ---\n{running.log_tail()}")  # shown if the test failed


@pytest.fixture
def browser(sync_playwright):
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=30_000
        )
        try:
            yield chromium
        finally:
            chromium.close()


class Watch:
    """What a page did that it should not: script errors, requests to other hosts."""

    def __init__(self, server_url: str) -> None:
        self.host = urlsplit(server_url).netloc
        self.errors: list[str] = []
        self.foreign: list[str] = []

    def attach(self, page) -> None:
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on(
            "console",
            lambda msg: msg.type == "error" and self.errors.append(msg.text),
        )
        page.on("request", self._request)

    def _request(self, request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https") and parts.netloc != self.host:
            self.foreign.append(request.url)


def _new_page(browser, watch: Watch):
    context = browser.new_context(viewport=VIEWPORT, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    watch.attach(page)
    return page


def _phone_ids(page) -> list[str]:
    return page.locator("#demo-phone-messages li[data-id]").evaluate_all(
        "items => items.map(item => item.dataset.id)"
    )


def _send_code(page, expect) -> None:
    """Press "Text me a code" once the resend countdown allows it, as a person would."""
    for _attempt in range(4):
        button = page.locator("#authy2fa-send")
        expect(button).to_be_enabled(timeout=TIMEOUT_MS)
        button.click()
        page.wait_for_load_state()
        messages = page.locator(".messages")
        expect(messages).to_be_visible()
        if "We sent a code" in messages.inner_text():
            return
        # The server's cooldown can outlast the page's countdown by under a second.
        page.wait_for_timeout(1000)
    raise AssertionError(f"no code was sent: {page.locator('.messages').inner_text()}")


def test_register_confirm_sign_in_with_a_code_from_the_demo_phone(browser, server):
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    watch = Watch(server.url)
    page = _new_page(browser, watch)

    # The demo page: register on the left, sign in on the right, the demo phone beside.
    page.goto(f"{server.url}/")
    expect(page).to_have_title(re.compile("django-authy2fa demo"))
    register, login = page.locator("#register"), page.locator("#login")
    expect(register.get_by_role("heading", name="Register")).to_be_visible()
    expect(login.get_by_role("heading", name="Sign in with the second step")).to_be_visible()
    expect(page.locator("#demo-phone")).to_be_visible()
    expect(page.locator("#demo-phone-messages")).to_have_attribute("aria-live", "polite")

    # Register: the account is created and a code goes to the (demo) phone.
    register.get_by_label("Username").fill(NEWCOMER["username"])
    register.get_by_label("Email").fill(NEWCOMER["email"])
    register.get_by_label("Mobile phone").fill(NEWCOMER["phone"])
    register.get_by_label("Password").fill(NEWCOMER["password"])
    register.get_by_role("button", name="Create account").click()
    expect(page.locator("#confirm-form")).to_be_visible()
    code_field = register.get_by_label("Code")
    expect(code_field).to_be_focused()
    latest = page.locator("#demo-phone-messages li[data-id]").first
    expect(latest).to_contain_text(f"Text message to {MASKED_PHONE}")
    enrollment_code = latest.get_attribute("data-code")
    assert re.fullmatch(r"[0-9]{6}", enrollment_code)

    # Confirm: two-step verification is on, the recovery codes are shown once,
    # and this browser is signed in.
    code_field.fill(enrollment_code)
    register.get_by_role("button", name="Confirm phone").click()
    codes = page.locator("#recovery-codes li")
    expect(codes).to_have_count(10)
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", codes.first.inner_text().strip())
    expect(login).to_contain_text(f"You are signed in as {NEWCOMER['username']}")

    # Sign out.
    login.get_by_role("button", name="Sign out").click()
    expect(login.get_by_label("Username")).to_be_visible()

    # The "phone": another browser showing the demo page, which learns of new
    # messages only by polling.
    phone = _new_page(browser, watch)
    phone.goto(f"{server.url}/")
    seen = _phone_ids(phone)
    assert seen, "the registration's message is on the demo phone"

    # Sign in on the right: the password, then the second step.
    login.get_by_label("Username").fill(NEWCOMER["username"])
    login.get_by_label("Password").fill(NEWCOMER["password"])
    login.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/account/2fa/verify/"))
    card = page.locator(".authy2fa-card")
    if card.get_attribute("data-method") != "sms":
        page.get_by_role("link", name="Text message").click()
    expect(card).to_have_attribute("data-method", "sms")
    expect(page.locator("#demo-phone")).to_be_visible()  # the library's page, the demo's look
    _send_code(page, expect)

    # The code arrives on the phone page by polling.
    newest = phone.locator("#demo-phone-messages li[data-id]").first
    expect(newest).not_to_have_attribute("data-id", seen[0], timeout=TIMEOUT_MS)
    expect(newest).to_contain_text(f"Text message to {MASKED_PHONE}")
    login_code = newest.get_attribute("data-code")
    assert re.fullmatch(r"[0-9]{6}", login_code)
    assert (
        page.locator("#demo-phone-messages li[data-id]").first.get_attribute("data-code")
        == login_code
    )

    page.get_by_label("Code", exact=True).fill(login_code)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "code-step.png"), full_page=True)
    page.get_by_role("button", name="Verify").click()

    # The protected page, after both steps.
    expect(page).to_have_url(f"{server.url}/protected/")
    expect(page.get_by_role("heading", name="Protected page")).to_be_visible()
    expect(page.locator("#protected")).to_contain_text(NEWCOMER["username"])

    # Sign out, back on the demo page.
    page.locator("#protected").get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{server.url}/")
    expect(login.get_by_label("Username")).to_be_visible()
    page.goto(f"{server.url}/protected/")
    expect(page).to_have_url(re.compile(r"/account/2fa/login/\?next=/protected/"))

    page.goto(f"{server.url}/")
    expect(page.locator("#demo-phone-messages li[data-id]")).to_have_count(2)
    page.screenshot(path=str(SCREENSHOTS / "demo-page.png"), full_page=True)

    assert watch.errors == []
    assert watch.foreign == [], "the pages load nothing from other hosts"
