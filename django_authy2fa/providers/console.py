"""A development provider that prints codes to the console.

It needs no account anywhere, which is what the demo site uses. The system
check ``authy2fa.E002`` refuses it when ``DEBUG=False``: a code printed to a
server console is a code an operator (or a log collector) can read.

The last few messages are also kept in memory (:func:`recent_messages`), so
that a development page can show them as a "phone" next to the login form.
The buffer is bounded, per process, and holds only masked numbers.
"""

from __future__ import annotations

import datetime as dt
import secrets
import sys
import threading
from collections import deque
from dataclasses import dataclass
from typing import TextIO

from ..phone import mask_e164
from .base import Channel, Recipient
from .local import LocalCodeProvider

#: How many messages :func:`recent_messages` can return at most.
RECENT_MAX = 20


@dataclass(frozen=True)
class ConsoleMessage:
    """One message the console provider delivered. ``to`` is masked."""

    id: str
    to: str
    channel: str
    text: str
    code: str
    sent_at: dt.datetime


_recent: deque[ConsoleMessage] = deque(maxlen=RECENT_MAX)
_recent_lock = threading.Lock()


def recent_messages(limit: int = 10) -> list[ConsoleMessage]:
    """The last ``limit`` messages this process delivered, newest first."""
    with _recent_lock:
        newest_first = list(reversed(_recent))
    return newest_first[: max(limit, 0)]


def clear_recent_messages() -> None:
    with _recent_lock:
        _recent.clear()


class ConsoleProvider(LocalCodeProvider):
    """Prints each message, with its code, to standard output."""

    name = "Console (development only)"
    channels = frozenset({Channel.SMS, Channel.CALL})
    is_development_only = True

    def __init__(self, stream: TextIO | None = None, **options: object) -> None:
        super().__init__(**options)
        self.stream = stream
        self._lock = threading.Lock()

    def deliver(self, recipient: Recipient, channel: Channel, text: str, code: str) -> None:
        # The console is the delivery channel here, so the code is printed on
        # purpose; it is never written through logging.
        stream = self.stream or sys.stdout
        masked = mask_e164(recipient.phone)
        banner = f"[django-authy2fa console] {channel.value.upper()} to {masked}"
        with self._lock:
            stream.write(f"{banner}\n    {text}\n")
            stream.flush()
        message = ConsoleMessage(
            id=secrets.token_hex(8),
            to=masked,
            channel=channel.value,
            text=text,
            code=code,
            sent_at=dt.datetime.now(tz=dt.timezone.utc),
        )
        with _recent_lock:
            _recent.append(message)
