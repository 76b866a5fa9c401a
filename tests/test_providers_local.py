"""The console and in-memory providers: codes generated here, stored only as keyed digests."""

import hashlib
import io
import logging
import re

import pytest
from django.test import override_settings

from django_authy2fa.exceptions import (
    Authy2FAConfigurationError,
    CodeExpired,
    InvalidTokenFormat,
    ProviderUnavailable,
    UnsupportedChannel,
)
from django_authy2fa.providers import Channel, PushStatus, Recipient, get_provider, locmem
from django_authy2fa.providers.console import ConsoleProvider
from django_authy2fa.providers.locmem import LocmemProvider

ALICE = Recipient(phone="+14155552671", email="alice@example.com")
BOB = Recipient(phone="+447400123456", email="bob@example.com")


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(LocmemProvider, "clock", fake)
    monkeypatch.setattr(ConsoleProvider, "clock", fake)
    return fake


def test_sms_code_reaches_outbox_and_checks_once_correct():
    provider = LocmemProvider()
    result = provider.send_code(ALICE, Channel.SMS)
    message = locmem.outbox[-1]
    assert message.to == ALICE.phone
    assert message.channel is Channel.SMS
    assert re.fullmatch(r"[0-9]{6}", message.code)
    assert message.code in message.text
    assert result.sent and result.destination == "+1 ••••••••71"
    assert provider.check_code(ALICE, message.code, reference=result.reference) is True


def test_reference_is_a_keyed_digest_not_the_code():
    provider = LocmemProvider()
    result = provider.send_code(ALICE, Channel.SMS)
    code = locmem.outbox[-1].code
    channel, expires, nonce, digest = result.reference.split(":")
    assert channel == "sms"
    assert expires.isdigit()
    assert re.fullmatch(r"[0-9a-f]{32}", nonce)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert hashlib.sha256(code.encode()).hexdigest() != digest
    # The digest is keyed with SECRET_KEY: under another key the same code fails.
    with override_settings(SECRET_KEY="another-secret-key-for-this-test-only-0123456789"):
        assert provider.check_code(ALICE, code, reference=result.reference) is False
    assert provider.check_code(ALICE, code, reference=result.reference) is True


def test_wrong_code_fails():
    provider = LocmemProvider()
    result = provider.send_code(ALICE, Channel.SMS)
    wrong = f"{(int(locmem.outbox[-1].code) + 1) % 10**6:06d}"
    assert provider.check_code(ALICE, wrong, reference=result.reference) is False


def test_code_is_bound_to_recipient_and_reference():
    provider = LocmemProvider()
    first = provider.send_code(ALICE, Channel.SMS)
    first_code = locmem.outbox[-1].code
    second = provider.send_code(BOB, Channel.SMS)
    assert provider.check_code(BOB, first_code, reference=first.reference) is False
    assert provider.check_code(ALICE, first_code, reference=second.reference) is False
    assert provider.check_code(ALICE, first_code, reference="") is False


def test_tampered_reference_fails():
    provider = LocmemProvider()
    result = provider.send_code(ALICE, Channel.SMS)
    code = locmem.outbox[-1].code
    channel, expires, nonce, digest = result.reference.split(":")
    later = ":".join((channel, str(int(expires) + 3600), nonce, digest))
    other_channel = ":".join(("call", expires, nonce, digest))
    for reference in (later, other_channel, result.reference + "0", "junk"):
        assert provider.check_code(ALICE, code, reference=reference) is False


def test_expired_code_raises_code_expired(clock):
    provider = LocmemProvider()
    result = provider.send_code(ALICE, Channel.SMS)
    code = locmem.outbox[-1].code
    clock.now += 300
    assert provider.check_code(ALICE, code, reference=result.reference) is True
    clock.now += 1
    with pytest.raises(CodeExpired):
        provider.check_code(ALICE, code, reference=result.reference)


@pytest.mark.parametrize(
    "code", ["12345a", "12345", "１２３４５６", "123456\n", "", None, 123456, "../sms"]
)
def test_malformed_codes_are_rejected(code):
    provider = LocmemProvider()
    result = provider.send_code(ALICE, Channel.SMS)
    with pytest.raises(InvalidTokenFormat):
        provider.check_code(ALICE, code, reference=result.reference)


def test_voice_message_spells_the_digits():
    LocmemProvider().send_code(ALICE, Channel.CALL)
    message = locmem.outbox[-1]
    assert message.channel is Channel.CALL
    assert ", ".join(message.code) in message.text


@override_settings(
    AUTHY2FA={"PROVIDER": "django_authy2fa.providers.locmem.LocmemProvider", "CODE_LENGTH": 8}
)
def test_code_length_setting():
    LocmemProvider().send_code(ALICE, Channel.SMS)
    assert len(locmem.outbox[-1].code) == 8


def test_codes_are_random():
    provider = LocmemProvider()
    for _ in range(20):
        provider.send_code(ALICE, Channel.SMS)
    assert len({m.code for m in locmem.outbox}) > 15


def test_push_status_is_controlled_by_tests():
    provider = LocmemProvider()
    push = provider.start_push(ALICE, message="Log in to demo?")
    assert provider.push_status(push.reference) is PushStatus.PENDING
    locmem.set_push_status(push.reference, PushStatus.APPROVED)
    assert provider.push_status(push.reference) is PushStatus.APPROVED
    assert provider.push_status("unknown") is PushStatus.EXPIRED


def test_failures_can_be_injected_once():
    provider = LocmemProvider()
    locmem.fail_next(ProviderUnavailable(provider="test"))
    with pytest.raises(ProviderUnavailable):
        provider.send_code(ALICE, Channel.SMS)
    assert locmem.outbox == []
    provider.send_code(ALICE, Channel.SMS)
    assert len(locmem.outbox) == 1


def test_console_prints_the_message_and_logs_nothing(caplog):
    stream = io.StringIO()
    provider = ConsoleProvider(stream=stream)
    with caplog.at_level(logging.DEBUG):
        result = provider.send_code(ALICE, Channel.SMS)
    printed = stream.getvalue()
    code = re.search(r"code is ([0-9]{6})", printed).group(1)
    assert "+1 ••••••••71" in printed
    assert ALICE.phone not in printed
    assert code not in caplog.text
    assert provider.check_code(ALICE, code, reference=result.reference) is True


def test_console_has_no_push():
    with pytest.raises(UnsupportedChannel):
        ConsoleProvider(stream=io.StringIO()).send_code(ALICE, Channel.PUSH)
    assert not ConsoleProvider(stream=io.StringIO()).supports("push")
    assert not ConsoleProvider(stream=io.StringIO()).supports("fax")


def test_unknown_provider_option_names_the_setting():
    with pytest.raises(
        Authy2FAConfigurationError, match=r"AUTHY2FA\['PROVIDER_OPTIONS'\]\['API_KEY'\]"
    ):
        ConsoleProvider(API_KEY="x")


def test_get_provider_builds_once_and_resets_on_settings_change():
    first = get_provider()
    assert isinstance(first, LocmemProvider)
    assert get_provider() is first
    with override_settings(
        AUTHY2FA={"PROVIDER": "django_authy2fa.providers.console.ConsoleProvider"}
    ):
        assert isinstance(get_provider(), ConsoleProvider)
    assert isinstance(get_provider(), LocmemProvider)
    assert get_provider() is not first
