"""An in-memory provider for tests: messages go to :data:`outbox`.

Like Django's locmem e-mail backend: nothing leaves the process. Tests read
the codes from the outbox, approve or deny pushes, and can make the next call
fail with any exception::

    from django_authy2fa.providers import locmem

    locmem.outbox[-1].code          # the last code sent
    locmem.fail_next(ProviderUnavailable())
    locmem.set_push_status(reference, PushStatus.APPROVED)
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from .base import Channel, PushRequest, PushStatus, Recipient, SendResult
from .local import LocalCodeProvider


@dataclass(frozen=True)
class Message:
    channel: Channel
    to: str
    text: str
    code: str = ""


outbox: list[Message] = []
pushes: dict[str, PushStatus] = {}
_failures: list[BaseException] = []


def fail_next(error: BaseException) -> None:
    """Make the next provider call raise ``error`` (once)."""
    _failures.append(error)


def set_push_status(reference: str, status: PushStatus) -> None:
    if reference not in pushes:
        raise KeyError(f"no push with reference {reference!r}")
    pushes[reference] = status


def reset() -> None:
    """Empty the outbox, forget pushes and queued failures."""
    outbox.clear()
    pushes.clear()
    _failures.clear()


def _raise_queued_failure() -> None:
    if _failures:
        raise _failures.pop(0)


class LocmemProvider(LocalCodeProvider):
    """Test provider: SMS, voice and push, all recorded in memory."""

    name = "In-memory test provider"
    channels = frozenset({Channel.SMS, Channel.CALL, Channel.PUSH})
    is_test_only = True

    def deliver(self, recipient: Recipient, channel: Channel, text: str, code: str) -> None:
        outbox.append(Message(channel=channel, to=recipient.phone, text=text, code=code))

    def enroll(self, recipient: Recipient) -> str | None:
        _raise_queued_failure()
        return None

    def send_code(
        self, recipient: Recipient, channel: Channel, *, locale: str | None = None
    ) -> SendResult:
        _raise_queued_failure()
        return super().send_code(recipient, channel, locale=locale)

    def check_code(self, recipient: Recipient, code: str, *, reference: str = "") -> bool:
        _raise_queued_failure()
        return super().check_code(recipient, code, reference=reference)

    def start_push(
        self, recipient: Recipient, *, message: str, details: Mapping[str, str] | None = None
    ) -> PushRequest:
        _raise_queued_failure()
        self.ensure_channel(Channel.PUSH)
        reference = secrets.token_hex(16)
        pushes[reference] = PushStatus.PENDING
        outbox.append(Message(channel=Channel.PUSH, to=recipient.phone, text=message))
        return PushRequest(reference=reference, expires_in=120)

    def push_status(self, reference: str) -> PushStatus:
        _raise_queued_failure()
        return pushes.get(reference, PushStatus.EXPIRED)

    def remove(self, recipient: Recipient) -> None:
        _raise_queued_failure()
