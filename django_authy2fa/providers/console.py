"""A development provider that prints codes to the console.

It needs no account anywhere, which is what the demo site uses. The system
check ``authy2fa.E002`` refuses it when ``DEBUG=False``: a code printed to a
server console is a code an operator (or a log collector) can read.
"""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from ..phone import mask_e164
from .base import Channel, Recipient
from .local import LocalCodeProvider


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
        banner = (
            f"[django-authy2fa console] {channel.value.upper()} to {mask_e164(recipient.phone)}"
        )
        with self._lock:
            stream.write(f"{banner}\n    {text}\n")
            stream.flush()
