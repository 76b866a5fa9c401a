"""No secret reaches the logs, the error e-mails, the error reports or the audit events.

Every flow family runs end to end, failures included, while everything is captured:

* all logging (root logger and ``django`` at DEBUG: ``django.request``, ``django.security``
  and the app's own loggers);
* the e-mails ``mail_admins`` sends for server errors (``ADMINS`` set, ``DEBUG=False``,
  Django's default ``AdminEmailHandler``);
* the ``ExceptionReporter`` text rendered from ``got_request_exception`` for server errors
  forced in the middle of the code check and of an enrollment;
* every ``AuditEvent`` row.

Then none of these may appear: a code sent or typed, a recovery code, a password, an API
token key, a TOTP secret or manual key, a trusted-browser token, a full phone number (E.164
or national digits), the ``SECRET_KEY``.
"""

from __future__ import annotations

import inspect
import logging
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import django
import phonenumbers
import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.core.signals import got_request_exception, request_started
from django.test import Client
from django.utils.log import AdminEmailHandler
from django.views.debug import ExceptionReporter
from rest_framework.test import APIClient

from django_authy2fa import flows, recovery
from django_authy2fa.models import AuditEvent, LoginChallenge, TwoFactorProfile
from django_authy2fa.providers import PushStatus, locmem

from ..helpers import PASSWORD, Browser, make_user, wrong
from ..test_totp_flow import code_at
from .support import fresh_send_budget

pytestmark = pytest.mark.django_db

PAGES = "/account/2fa/"
API = "/api/2fa/"
ALICE_PHONE = "+14155552671"
BOB_PHONE = "+447400123456"
DAVE_PHONE = "+33612345678"
NEW_PHONE = "+447911123456"
RECOVERY_RE = re.compile(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}")
KEY_RE = re.compile(r'id="authy2fa-manual-key">([A-Z2-7 ]+)<')


# -- capture ---------------------------------------------------------------------------------


class _ListHandler(logging.Handler):
    def __init__(self, sink: list[tuple[str, int, str]]):
        super().__init__(level=logging.DEBUG)
        self.sink = sink
        self.formatter = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        parts = [record.name, record.levelname, record.getMessage(), repr(vars(record))]
        if record.exc_info:
            parts.append(self.formatter.formatException(record.exc_info))
        self.sink.append((record.name, record.levelno, " ".join(parts)))


def _template_debug(name: str, level: int) -> bool:
    return name == "django.template" and level <= logging.DEBUG


@dataclass
class Capture:
    records: list[tuple[str, int, str]] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)  # ExceptionReporter text
    html_reports: list[str] = field(default_factory=list)  # ... and HTML
    requests: int = 0
    server_errors: int = 0

    def mails(self, *, html: bool = False) -> list[str]:
        texts = []
        for message in mail.outbox:
            texts += [message.subject, message.body]
            if html:
                texts += [content for content, _type in getattr(message, "alternatives", [])]
        return texts

    def audit(self) -> list[str]:
        return [repr(row) for row in AuditEvent.objects.values()]

    @property
    def logs(self) -> list[str]:
        """Every log record, django.template's DEBUG ones included."""
        return [text for _name, _level, text in self.records]

    @property
    def template_debug(self) -> list[str]:
        return [text for name, level, text in self.records if _template_debug(name, level)]

    def everything(self) -> dict[str, list[str]]:
        return {
            "logs": self.logs,
            "error mails": self.mails(),
            "error reports": self.reports,
            "audit events": self.audit(),
        }


@pytest.fixture
def capture(settings):
    # Django 6 takes addresses; (name, address) pairs are deprecated there.
    settings.ADMINS = (
        ["ops@example.com"] if django.VERSION >= (6, 0) else [("Ops", "ops@example.com")]
    )
    settings.DEBUG = False
    sink = Capture()
    handler = _ListHandler(sink.records)
    loggers = [logging.getLogger(name) for name in ("", "django", "django_authy2fa")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)

    def on_request(sender, **kwargs):
        sink.requests += 1

    def on_error(sender, request, **kwargs):
        sink.server_errors += 1
        reporter = ExceptionReporter(request, *sys.exc_info(), is_email=True)
        sink.reports.append(reporter.get_traceback_text())
        sink.html_reports.append(reporter.get_traceback_html())

    request_started.connect(on_request)
    got_request_exception.connect(on_error)
    yield sink
    got_request_exception.disconnect(on_error)
    request_started.disconnect(on_request)
    logging.getLogger().removeHandler(handler)
    for lg, level in zip(loggers, levels, strict=True):
        lg.setLevel(level)


# -- secrets ------------------------------------------------------------------------------------


def _national(e164: str) -> str:
    return phonenumbers.national_significant_number(phonenumbers.parse(e164))


@dataclass
class Secrets:
    values: set[str] = field(default_factory=set)

    def __post_init__(self):
        self.add(PASSWORD, django_settings.SECRET_KEY)
        for phone in (ALICE_PHONE, BOB_PHONE, DAVE_PHONE, NEW_PHONE):
            self.add(phone, _national(phone))

    def add(self, *values: str) -> None:
        for value in values:
            if not value:
                continue
            self.values.add(value)
            if RECOVERY_RE.fullmatch(value):
                self.values.add(value.replace("-", ""))
            if " " in value and value.replace(" ", "").isalnum():  # a TOTP manual key
                self.values.add(value.replace(" ", ""))

    def add_outbox(self) -> None:
        self.add(*(m.code for m in locmem.outbox if m.code))

    def found_in(self, sources: dict[str, list[str]]) -> list[str]:
        leaks = []
        for secret in sorted(self.values):
            # Short numeric codes must stand alone: "123456" inside a timestamp is no leak.
            if secret.isdigit() and len(secret) <= 10:
                pattern = re.compile(rf"(?<![0-9A-Za-z]){secret}(?![0-9A-Za-z])")
            else:
                pattern = re.compile(re.escape(secret))
            for where, texts in sources.items():
                if any(pattern.search(text) for text in texts):
                    leaks.append(f"{secret!r} in {where}")
        return leaks


def recovery_codes_in(response) -> list[str]:
    return RECOVERY_RE.findall(response.content.decode())


# -- the flows -----------------------------------------------------------------------------


def _api_challenge(client: APIClient, username: str = "alice") -> str:
    return client.post(
        f"{API}login/", {"username": username, "password": PASSWORD}, format="json"
    ).json()["challenge"]


def flow_password_step(secrets: Secrets) -> None:
    make_user("alice")
    wrong_passwords = [f"wrong-password-{i}-xyzzy" for i in range(12)]
    secrets.add(*wrong_passwords)
    browser = Browser()
    assert browser.password_step()["Location"] == "/account/2fa/verify/"
    Browser().password_step(password=wrong_passwords[0])
    Browser().password_step("nobody", password=wrong_passwords[1])
    api = APIClient()
    started = api.post(f"{API}login/", {"username": "alice", "password": PASSWORD}, "json")
    assert started.status_code == 202
    api.post(f"{API}login/", {"username": "alice", "password": wrong_passwords[2]}, format="json")
    session = api.post(
        f"{API}login/",
        {"username": "alice", "password": PASSWORD, "session": True},
        format="json",
    )
    assert session.status_code == 202
    burst = Browser()
    for password in wrong_passwords:  # up to the password throttle (429)
        last = burst.password_step(password=password)
    assert last.status_code == 429


def flow_sms_and_voice(secrets: Secrets) -> None:
    make_user("alice")
    browser = Browser()
    browser.password_step()
    browser.send_code("sms")
    browser.send_code("call")  # cooldown: refused
    fresh_send_budget()
    browser.send_code("call")
    api = APIClient()
    challenge = _api_challenge(api)
    fresh_send_budget()
    api.post(f"{API}send/", {"challenge": challenge, "channel": "sms"}, format="json")
    fresh_send_budget()
    api.post(f"{API}send/", {"challenge": challenge, "channel": "call"}, format="json")
    secrets.add_outbox()


def flow_wrong_and_right_codes(secrets: Secrets) -> None:
    alice = make_user("alice")
    codes = recovery.replace_codes(alice)
    secrets.add(*codes)
    browser = Browser()
    browser.password_step()
    browser.send_code()
    code = locmem.outbox[-1].code
    secrets.add(wrong(code))
    browser.enter_code(wrong(code))
    browser.enter_code(code, trust_browser="on")
    trust = browser.cookies["authy2fa_trust"].value
    secrets.add(trust)
    browser.logout()
    browser.password_step()  # the trusted browser skips the code
    loser = Browser()
    loser.password_step()
    fresh_send_budget()
    loser.send_code()
    for _ in range(5):  # until the attempt is over
        loser.enter_code(wrong(locmem.outbox[-1].code))
        secrets.add(wrong(locmem.outbox[-1].code))
    api = APIClient()
    challenge = _api_challenge(api)
    fresh_send_budget()
    api.post(f"{API}send/", {"challenge": challenge, "channel": "sms"}, format="json")
    code = locmem.outbox[-1].code
    for attempt in (wrong(code), code):
        answer = api.post(
            f"{API}verify/",
            {"challenge": challenge, "method": "sms", "code": attempt},
            format="json",
        )
    secrets.add(answer.json()["token"])
    one_shot = Client()  # the one-shot view is CSRF-exempt, like a script's endpoint
    one_shot.post(
        "/one-shot-login/", {"username": "alice", "password": PASSWORD, "token": "000000"}
    )
    one_shot.post(
        "/one-shot-login/", {"username": "alice", "password": PASSWORD, "token": codes[5]}
    )
    secrets.add_outbox()


def flow_push(secrets: Secrets) -> None:
    make_user("alice")
    browser = Browser()
    browser.password_step()
    browser.submit(f"{PAGES}verify/push/")
    locmem.set_push_status(LoginChallenge.objects.get().push_reference, PushStatus.APPROVED)
    assert browser.get(f"{PAGES}verify/push/status/").json()["status"] == "approved"
    api = APIClient()
    for outcome in (PushStatus.DENIED, PushStatus.APPROVED):
        challenge = _api_challenge(api)
        api.post(f"{API}push/", {"challenge": challenge}, format="json")
        reference = LoginChallenge.objects.exclude(push_reference="").latest("created_at")
        locmem.set_push_status(reference.push_reference, outcome)
        answer = api.post(f"{API}push/status/", {"challenge": challenge}, format="json")
        assert answer.json()["status"] == outcome.value
        secrets.add(answer.json().get("token", ""))


def flow_recovery_codes(secrets: Secrets) -> None:
    alice = make_user("alice")
    codes = recovery.replace_codes(alice)
    typo = "ZZZZ-ZZZZ-ZZZZ-ZZZZ"
    secrets.add(*codes, typo)
    browser = Browser()
    browser.password_step()
    browser.enter_code(typo, method="recovery")
    browser.enter_code(codes[0].lower(), method="recovery")
    assert browser.get("/protected/").status_code == 200
    api = APIClient()
    challenge = _api_challenge(api)
    answer = api.post(
        f"{API}verify/", {"challenge": challenge, "method": "recovery", "code": codes[1]}, "json"
    )
    secrets.add(answer.json()["token"])


def flow_phone_enrollment(secrets: Secrets) -> None:
    make_user("bob", enabled=False)
    browser = Browser()
    browser.password_step("bob")
    browser.submit(f"{PAGES}enroll/", {"phone": "+44 7400 123456", "channel": "sms"})
    secrets.add("+44 7400 123456", "7400 123456")
    code = locmem.outbox[-1].code
    browser.submit(f"{PAGES}enroll/confirm/", {"code": wrong(code)})
    shown = browser.submit(f"{PAGES}enroll/confirm/", {"code": code})
    assert len(recovery_codes_in(shown)) == 10
    secrets.add(*recovery_codes_in(shown), wrong(code))
    make_user("dave", enabled=False)
    api = APIClient()
    token = api.post(
        f"{API}login/", {"username": "dave", "password": PASSWORD}, format="json"
    ).json()["token"]
    secrets.add(token)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    enrollment = api.post(f"{API}enroll/", {"phone": DAVE_PHONE}, format="json").json()
    code = locmem.outbox[-1].code
    done = api.post(
        f"{API}enroll/confirm/", {"enrollment": enrollment["enrollment"], "code": code}, "json"
    )
    secrets.add(*done.json()["recovery_codes"])
    secrets.add_outbox()


def flow_app_enrollment(secrets: Secrets, monkeypatch) -> None:
    make_user("erin", enabled=False)
    browser = Browser()
    browser.password_step("erin")
    key = KEY_RE.search(browser.get(f"{PAGES}enroll/app/").content.decode()).group(1)
    secrets.add(key)
    now = time.time()
    bad = "000000" if code_at(key, now) != "000000" else "111111"
    browser.submit(f"{PAGES}enroll/app/", {"code": bad})
    shown = browser.submit(f"{PAGES}enroll/app/", {"code": code_at(key, now)})
    assert len(recovery_codes_in(shown)) == 10
    secrets.add(*recovery_codes_in(shown), code_at(key, now))
    browser.logout()
    later = now + 60
    monkeypatch.setattr("django_authy2fa.totp.time.time", lambda: later)
    again = Browser()
    again.password_step("erin")
    assert again.enter_code(code_at(key, later), method="totp")["Location"] == "/protected/"
    secrets.add(code_at(key, later))
    make_user("fred", enabled=False)
    api = APIClient()
    token = api.post(
        f"{API}login/", {"username": "fred", "password": PASSWORD}, format="json"
    ).json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    started = api.post(f"{API}enroll/app/", {}, format="json").json()
    secrets.add(started["manual_key"], token)
    code = code_at(started["manual_key"], later)
    done = api.post(f"{API}enroll/app/confirm/", {"code": code}, format="json")
    secrets.add(code, *done.json()["recovery_codes"])


def _verified_alice(secrets: Secrets) -> tuple[Browser, APIClient, list[str]]:
    alice = make_user("alice")
    codes = recovery.replace_codes(alice)
    secrets.add(*codes)
    browser = Browser()
    browser.full_login()
    api = APIClient()
    challenge = _api_challenge(api)
    token = api.post(
        f"{API}verify/", {"challenge": challenge, "method": "recovery", "code": codes[0]}, "json"
    ).json()["token"]
    secrets.add(token)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return browser, api, codes


def _page_step_up(browser: Browser, secrets: Secrets, target: str) -> None:
    fresh_send_budget()
    browser.submit(f"{PAGES}manage/confirm/?next={target}", {"send": "sms"})
    code = locmem.outbox[-1].code
    secrets.add("wrong-step-up-password", wrong(code))
    confirm = f"{PAGES}manage/confirm/"
    browser.submit(confirm, {"password": "wrong-step-up-password", "method": "sms", "code": code})
    browser.submit(confirm, {"password": PASSWORD, "method": "sms", "code": wrong(code)})
    browser.submit(confirm, {"password": PASSWORD, "method": "sms", "code": code, "next": target})


def _api_step_up(api: APIClient, secrets: Secrets, channel: str | None = "sms") -> str:
    fresh_send_budget()
    body = {"channel": channel} if channel else {}
    return api.post(f"{API}step-up/", body, format="json").json()["step_up"]


def flow_step_up(secrets: Secrets) -> None:
    browser, api, _codes = _verified_alice(secrets)
    step_up = _api_step_up(api, secrets)
    code = locmem.outbox[-1].code
    proof = {"step_up": step_up, "method": "sms"}
    refused = api.post(
        f"{API}recovery-codes/", {**proof, "password": "wrong-api-password", "code": code}, "json"
    )
    assert refused.status_code == 400
    api.post(f"{API}recovery-codes/", {**proof, "password": PASSWORD, "code": wrong(code)}, "json")
    secrets.add("wrong-api-password", wrong(code))
    _page_step_up(browser, secrets, f"{PAGES}enroll/")
    fresh_send_budget()
    browser.submit(f"{PAGES}enroll/", {"phone": NEW_PHONE, "channel": "sms"})
    changed = browser.submit(f"{PAGES}enroll/confirm/", {"code": locmem.outbox[-1].code})
    assert changed.status_code == 302
    assert TwoFactorProfile.objects.get(user__username="alice").phone_number == NEW_PHONE
    secrets.add_outbox()


def flow_recovery_regeneration(secrets: Secrets) -> None:
    browser, api, _codes = _verified_alice(secrets)
    _page_step_up(browser, secrets, f"{PAGES}manage/")
    shown = browser.submit(f"{PAGES}manage/recovery-codes/")
    assert len(recovery_codes_in(shown)) == 10
    secrets.add(*recovery_codes_in(shown))
    step_up = _api_step_up(api, secrets, channel=None)
    fresh_codes = recovery_codes_in(shown)
    answer = api.post(
        f"{API}recovery-codes/",
        {"step_up": step_up, "password": PASSWORD, "method": "recovery", "code": fresh_codes[0]},
        "json",
    )
    secrets.add(*answer.json()["recovery_codes"])
    secrets.add_outbox()


def flow_disable(secrets: Secrets) -> None:
    browser, _api, _codes = _verified_alice(secrets)
    _page_step_up(browser, secrets, f"{PAGES}manage/disable/")
    browser.submit(f"{PAGES}manage/disable/")
    assert not TwoFactorProfile.objects.get(user__username="alice").is_enabled
    _verified_bob_api = APIClient()
    bob = make_user("bob", phone=BOB_PHONE)
    bob_codes = recovery.replace_codes(bob)
    secrets.add(*bob_codes)
    challenge = _api_challenge(_verified_bob_api, "bob")
    token = _verified_bob_api.post(
        f"{API}verify/",
        {"challenge": challenge, "method": "recovery", "code": bob_codes[0]},
        "json",
    ).json()["token"]
    secrets.add(token)
    _verified_bob_api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    step_up = _api_step_up(_verified_bob_api, secrets, channel=None)
    disabled = _verified_bob_api.post(
        f"{API}disable/",
        {"step_up": step_up, "password": PASSWORD, "method": "recovery", "code": bob_codes[1]},
        "json",
    )
    assert disabled.status_code == 204
    secrets.add_outbox()


def flow_api_tokens(secrets: Secrets) -> None:
    make_user("alice")
    make_user("bob", enabled=False)
    api = APIClient()
    challenge = _api_challenge(api)
    api.post(f"{API}send/", {"challenge": challenge, "channel": "sms"}, format="json")
    token = api.post(
        f"{API}verify/",
        {"challenge": challenge, "method": "sms", "code": locmem.outbox[-1].code},
        format="json",
    ).json()["token"]
    secrets.add(token)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/api/whoami/").status_code == 200
    api.get(f"{API}status/")
    api.post(f"{API}logout/")
    api.get(f"{API}status/")  # revoked: 401
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}x")
    api.get(f"{API}status/")
    plain = APIClient()
    bob_token = plain.post(
        f"{API}login/", {"username": "bob", "password": PASSWORD}, format="json"
    ).json()["token"]
    secrets.add(bob_token)
    plain.credentials(HTTP_AUTHORIZATION=f"Bearer {bob_token}")
    plain.get(f"{API}status/")
    session = APIClient()
    session.post(
        f"{API}login/", {"username": "alice", "password": PASSWORD, "session": True}, "json"
    )
    fresh_send_budget()
    session.post(f"{API}send/", {"channel": "sms"}, format="json")
    done = session.post(f"{API}verify/", {"method": "sms", "code": locmem.outbox[-1].code}, "json")
    assert done.json() == {"status": "ok"}
    session.post(f"{API}logout/")
    secrets.add_outbox()


def _boom(*args, **kwargs):
    raise RuntimeError("forced failure in the middle of a flow")


def flow_forced_errors(secrets: Secrets, monkeypatch) -> None:
    """Server errors while a code, a password and a phone number are being handled."""
    make_user("alice")
    browser = Browser(raise_request_exception=False)
    browser.password_step()
    browser.send_code()
    code = locmem.outbox[-1].code
    api = APIClient(raise_request_exception=False)
    challenge = _api_challenge(api)
    fresh_send_budget()
    api.post(f"{API}send/", {"challenge": challenge, "channel": "sms"}, format="json")
    api_code = locmem.outbox[-1].code
    make_user("bob", enabled=False)
    enrolling = Browser(raise_request_exception=False)
    enrolling.password_step("bob")
    make_user("dave", enabled=False)
    dave = APIClient(raise_request_exception=False)
    token = dave.post(
        f"{API}login/", {"username": "dave", "password": PASSWORD}, format="json"
    ).json()["token"]
    secrets.add(token)
    dave.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    monkeypatch.setattr(flows, "_charge", _boom)  # after the code is parsed, before the check
    monkeypatch.setattr(flows, "_deliver_code", _boom)  # after the phone is parsed
    answers = [
        browser.enter_code(code),
        api.post(
            f"{API}verify/", {"challenge": challenge, "method": "sms", "code": api_code}, "json"
        ),
        enrolling.submit(f"{PAGES}enroll/", {"phone": BOB_PHONE, "channel": "sms"}),
        dave.post(f"{API}enroll/", {"phone": DAVE_PHONE, "channel": "sms"}, format="json"),
    ]
    assert [a.status_code for a in answers] == [500] * 4
    secrets.add_outbox()


FLOWS: dict[str, Callable] = {
    "password step (right, wrong, unknown user, throttled; pages and API)": flow_password_step,
    "SMS and voice sends (pages and API, cooldown refusals)": flow_sms_and_voice,
    "wrong and right codes, trusted browser, one-shot backend": flow_wrong_and_right_codes,
    "push approve and deny (pages and API)": flow_push,
    "recovery code use (wrong and right)": flow_recovery_codes,
    "phone enrollment (pages and API)": flow_phone_enrollment,
    "authenticator app enrollment and TOTP sign-in": flow_app_enrollment,
    "step-up and phone change": flow_step_up,
    "recovery code regeneration": flow_recovery_regeneration,
    "disable (pages and API)": flow_disable,
    "API login, verify, token use, logout, session mode": flow_api_tokens,
    "forced server errors in code check and enrollment": flow_forced_errors,
}


@pytest.mark.parametrize("family", FLOWS, ids=range(len(FLOWS)))
def test_no_secret_leaves_the_flows(family, capture, reliability, monkeypatch):
    secrets = Secrets()
    flow = FLOWS[family]
    if "monkeypatch" in inspect.signature(flow).parameters:
        flow(secrets, monkeypatch)
    else:
        flow(secrets)
    secrets.add_outbox()
    assert capture.requests > 0
    # Some flows log nothing at all; test_the_capture_finds_a_planted_secret proves it works.
    injected = 4 if "forced" in family else 0  # flow_forced_errors makes four views fail
    assert capture.server_errors == injected
    if injected:
        assert len(capture.reports) == injected
        assert len(capture.mails()) >= 2 * injected  # subject and body of each error e-mail
    leaks = secrets.found_in(capture.everything())
    assert not leaks, "\n".join(leaks)
    reliability.record(
        family="secrets",
        case=family,
        requests=capture.requests,
        server_errors=capture.server_errors - injected,
        wrong_logins=0,
        wrong_locks=0,
        outcome=(
            f"{len(secrets.values)} secrets absent from {len(capture.logs)} log records "
            f"({len(capture.template_debug)} of them django.template DEBUG), "
            f"{len(mail.outbox)} error e-mails, {len(capture.reports)} error reports and "
            f"{AuditEvent.objects.count()} audit events"
            + (f"; {injected} 500s injected on purpose, not counted" if injected else "")
        ),
    )


def test_the_capture_finds_a_planted_secret(capture):
    """The detector is not blind: a code logged on purpose is found."""
    make_user("alice")
    browser = Browser()
    browser.password_step()
    browser.send_code()
    secrets = Secrets()
    secrets.add_outbox()
    logging.getLogger("django_authy2fa.test").debug("oops %s", locmem.outbox[-1].code)
    assert secrets.found_in(capture.everything())
    assert TwoFactorProfile.objects.count() == 1


# -- leaks found, now regression tests -------------------------------------------------------------


def test_api_enrollment_error_reports_hide_the_phone_and_the_code(capture, monkeypatch):
    make_user("dave", enabled=False)
    dave = APIClient(raise_request_exception=False)
    token = dave.post(
        f"{API}login/", {"username": "dave", "password": PASSWORD}, format="json"
    ).json()["token"]
    dave.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    enrollment = dave.post(f"{API}enroll/", {"phone": DAVE_PHONE}, format="json").json()
    code = locmem.outbox[-1].code
    monkeypatch.setattr(flows, "_deliver_code", _boom)
    monkeypatch.setattr(flows, "confirm_phone", _boom)
    fresh_send_budget()
    form = "application/x-www-form-urlencoded"
    first = dave.post(f"{API}enroll/", f"phone=%2B{DAVE_PHONE[1:]}", content_type=form)
    second = dave.post(
        f"{API}enroll/confirm/",
        f"enrollment={enrollment['enrollment']}&code={code}",
        content_type=form,
    )
    assert (first.status_code, second.status_code) == (500, 500)
    secrets = Secrets()
    secrets.add(code)
    leaks = secrets.found_in({"error reports": capture.reports, "error mails": capture.mails()})
    assert not leaks, "\n".join(leaks)


def test_html_error_reports_hold_no_secrets(capture, monkeypatch):
    handler = AdminEmailHandler(include_html=True)
    request_logger = logging.getLogger("django.request")
    request_logger.addHandler(handler)
    try:
        make_user("alice")
        browser = Browser(raise_request_exception=False)
        browser.password_step()
        browser.send_code()
        code = locmem.outbox[-1].code
        monkeypatch.setattr(flows, "_charge", _boom)
        assert browser.enter_code(code).status_code == 500
    finally:
        request_logger.removeHandler(handler)
    secrets = Secrets()
    secrets.add(code)
    leaks = secrets.found_in(
        {"HTML error reports": capture.html_reports, "HTML e-mails": capture.mails(html=True)}
    )
    assert not leaks, "\n".join(leaks)


def test_page_templates_do_not_log_their_secrets_at_debug(capture):
    secrets = Secrets()
    make_user("erin", enabled=False)
    browser = Browser()
    browser.password_step("erin")
    key = KEY_RE.search(browser.get(f"{PAGES}enroll/app/").content.decode()).group(1)
    shown = browser.submit(f"{PAGES}enroll/app/", {"code": code_at(key, time.time())})
    secrets.add(key, *recovery_codes_in(shown))
    leaks = secrets.found_in({"django.template DEBUG": capture.template_debug})
    assert not leaks, "\n".join(leaks)


def test_error_e_mail_rendering_does_not_log_frame_secrets(capture, monkeypatch):
    secrets = Secrets()
    flow_forced_errors(secrets, monkeypatch)
    secrets.add_outbox()
    assert capture.server_errors == 4
    leaks = secrets.found_in({"django.template DEBUG": capture.template_debug})
    assert not leaks, "\n".join(leaks)
