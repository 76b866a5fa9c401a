"""Shared machinery for providers that generate codes themselves (console, test).

The code is never stored. ``send_code`` returns a reference of the form
``<channel>:<expiry>:<nonce>:<digest>``, where the digest is a keyed HMAC (derived from
``SECRET_KEY``) over the recipient, channel, expiry, nonce and code. Whoever
reads the database learns nothing usable without the key; the flow stores the
reference on the login challenge and passes it back to ``check_code``.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable

from django.utils.crypto import constant_time_compare, salted_hmac

from ..conf import app_settings
from ..exceptions import CodeExpired, InvalidTokenFormat
from ..phone import mask_e164
from .base import BaseProvider, Channel, Recipient, SendResult

_KEY_SALT = "django_authy2fa.providers.local.code"
_REFERENCE = re.compile(
    r"(?P<channel>sms|call):(?P<expires>[0-9]{1,12}):(?P<nonce>[0-9a-f]{32}):(?P<digest>[0-9a-f]{64})"
)


def generate_code(length: int) -> str:
    """A uniformly random numeric code from the OS's secure generator."""
    return f"{secrets.randbelow(10**length):0{length}d}"


def _digest(recipient: Recipient, channel: str, expires: int, nonce: str, code: str) -> str:
    message = f"{recipient.phone}|{channel}|{expires}|{nonce}|{code}"
    return salted_hmac(_KEY_SALT, message, algorithm="sha256").hexdigest()


def message_text(code: str, channel: Channel, validity_seconds: int) -> str:
    """The text a user receives; voice calls read the digits one by one."""
    minutes = max(validity_seconds // 60, 1)
    if channel is Channel.CALL:
        spoken = ", ".join(code)
        return f"Your verification code is {spoken}. Again: {spoken}."
    return f"Your verification code is {code}. It expires in {minutes} minutes. Never share it."


class LocalCodeProvider(BaseProvider):
    """Generates, delivers (via :meth:`deliver`) and checks its own codes."""

    channels = frozenset({Channel.SMS, Channel.CALL})
    clock: Callable[[], float] = staticmethod(time.time)

    def deliver(self, recipient: Recipient, channel: Channel, text: str, code: str) -> None:
        raise self._not_implemented("deliver")

    def send_code(
        self, recipient: Recipient, channel: Channel, *, locale: str | None = None
    ) -> SendResult:
        channel = self.ensure_channel(channel)
        code = generate_code(app_settings.CODE_LENGTH)
        validity = app_settings.CODE_VALIDITY
        expires = int(self.clock()) + validity
        nonce = secrets.token_hex(16)
        self.deliver(recipient, channel, message_text(code, channel, validity), code)
        return SendResult(
            channel=channel,
            reference=":".join(
                (
                    channel.value,
                    str(expires),
                    nonce,
                    _digest(recipient, channel.value, expires, nonce, code),
                )
            ),
            destination=mask_e164(recipient.phone),
        )

    def check_code(self, recipient: Recipient, code: str, *, reference: str = "") -> bool:
        if not isinstance(code, str) or not re.fullmatch(r"[0-9]{6,10}", code, re.ASCII):
            raise InvalidTokenFormat()
        match = _REFERENCE.fullmatch(reference or "")
        if match is None:
            return False
        expires = int(match["expires"])
        if self.clock() > expires:
            raise CodeExpired()
        expected = _digest(recipient, match["channel"], expires, match["nonce"], code)
        return constant_time_compare(match["digest"], expected)
