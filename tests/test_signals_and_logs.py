"""Signals fire from the flows, lockout tools hear failures, and logs hold no secrets."""

import logging

import pytest
from django.contrib.auth.signals import user_login_failed

from django_authy2fa import recovery, signals
from django_authy2fa.models import AuditEvent
from django_authy2fa.providers import locmem

from .helpers import PASSWORD, Browser, make_user, wrong

pytestmark = pytest.mark.django_db


class Recorder:
    def __init__(self):
        self.calls = []

    def __call__(self, sender, **kwargs):
        self.calls.append(kwargs)


@pytest.fixture
def recorded():
    receivers = {}
    for name in (
        "code_sent",
        "second_factor_failed",
        "second_factor_verified",
        "recovery_code_used",
    ):
        receivers[name] = Recorder()
        getattr(signals, name).connect(receivers[name])
    receivers["user_login_failed"] = Recorder()
    user_login_failed.connect(receivers["user_login_failed"])
    yield receivers
    for name, receiver in receivers.items():
        target = user_login_failed if name == "user_login_failed" else getattr(signals, name)
        target.disconnect(receiver)


def test_signals_from_a_login_with_one_wrong_code(recorded):
    alice = make_user("alice")
    browser = Browser()
    browser.password_step()
    browser.send_code()
    browser.enter_code(wrong(locmem.outbox[-1].code))
    browser.enter_code(locmem.outbox[-1].code)
    assert recorded["code_sent"].calls[0]["channel"] == "sms"
    assert recorded["second_factor_failed"].calls[0]["failure_count"] == 1
    assert recorded["second_factor_verified"].calls[0]["user"] == alice
    assert recorded["user_login_failed"].calls[0]["credentials"] == {"username": "alice"}


def test_recovery_code_use_is_signalled_with_remaining(recorded):
    alice = make_user("alice")
    codes = recovery.replace_codes(alice)
    browser = Browser()
    browser.password_step()
    browser.enter_code(codes[0], method="recovery")
    assert recorded["recovery_code_used"].calls[0]["remaining"] == 9
    assert AuditEvent.objects.get(event="recovery_used").details == {"remaining": 9}


def test_no_code_password_or_phone_reaches_logs_or_events(caplog):
    alice = make_user("alice")
    codes = recovery.replace_codes(alice)
    caplog.set_level(logging.DEBUG)
    browser = Browser()
    browser.password_step()
    browser.send_code()
    sms_code = locmem.outbox[-1].code
    browser.enter_code(wrong(sms_code))
    browser.enter_code(sms_code)
    browser.logout()
    other = Browser()
    other.password_step()
    other.enter_code(codes[0], method="recovery")
    events = " ".join(f"{e.details} {e.user_agent} {e.method}" for e in AuditEvent.objects.all())
    for secret in (sms_code, wrong(sms_code), codes[0], PASSWORD, "4155552671"):
        assert secret not in caplog.text
        assert secret not in events
