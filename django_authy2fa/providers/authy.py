"""Twilio Authy (legacy) as a provider.

The Authy API is closed to new customers; Twilio Verify is its successor. This
provider stays for sites that already have Authy users, and the system check
``authy2fa.W001`` says so. It registers a phone to get an Authy ID, sends codes
by SMS or voice call, verifies app and SMS codes, and sends OneTouch pushes.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from django.core import checks

from ..clients.authy import ApprovalStatus, AuthyClient
from ..exceptions import ProviderUserNotFound
from ..phone import PhoneNumber
from .base import (
    BaseProvider,
    Channel,
    ProviderOption,
    PushRequest,
    PushStatus,
    Recipient,
    SendResult,
)

_PUSH_STATUSES = {
    ApprovalStatus.PENDING: PushStatus.PENDING,
    ApprovalStatus.APPROVED: PushStatus.APPROVED,
    ApprovalStatus.DENIED: PushStatus.DENIED,
    ApprovalStatus.EXPIRED: PushStatus.EXPIRED,
}


class AuthyProvider(BaseProvider):
    """Codes by SMS and voice, app tokens and OneTouch pushes through Twilio Authy."""

    name = "Twilio Authy"
    channels = frozenset({Channel.SMS, Channel.CALL, Channel.PUSH})
    needs_enrollment = True
    app_codes = True
    options = (
        ProviderOption(
            "API_KEY",
            required=True,
            help="Copy it from the Authy application in the Twilio console, e.g. "
            "env('AUTHY_API_KEY').",
        ),
        ProviderOption("API_URL", default=AuthyClient.DEFAULT_API_URL),
        ProviderOption("TIMEOUT", default=(3.05, 10)),
        ProviderOption("DELETE_PATH", default=AuthyClient.DEFAULT_DELETE_PATH),
        # Send the SMS or call even to users of the Authy app: the user asked for it.
        ProviderOption("FORCE_DELIVERY", default=True),
        ProviderOption("PUSH_SECONDS_TO_EXPIRE", default=120),
    )

    def __init__(self, client: AuthyClient | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.client = client or AuthyClient(
            self.config["API_KEY"],
            api_url=self.config["API_URL"],
            timeout=self.config["TIMEOUT"],
            delete_path=self.config["DELETE_PATH"],
        )

    @classmethod
    def check(cls, options: Mapping[str, Any]) -> list[checks.CheckMessage]:
        return [
            *super().check(options),
            checks.Warning(
                "Twilio Authy is closed to new customers and will reach end of life.",
                hint="Plan the move to Twilio Verify (docs/migrating-from-authy.md).",
                id="authy2fa.W001",
            ),
        ]

    def close(self) -> None:
        self.client.close()

    # -- the interface ------------------------------------------------------------------

    def enroll(self, recipient: Recipient) -> str:
        phone = PhoneNumber(recipient.phone)
        return self.client.register_user(recipient.email, phone.national_number, phone.country_code)

    def send_code(
        self, recipient: Recipient, channel: Channel, *, locale: str | None = None
    ) -> SendResult:
        channel = self.ensure_channel(channel)
        request = self.client.request_call if channel is Channel.CALL else self.client.request_sms
        # Authy's "action" makes the code valid only when verified with the same
        # action: a random one per send binds the code to this login attempt.
        action = f"login-{secrets.token_hex(16)}"
        result = request(
            self._authy_id(recipient),
            force=bool(self.config["FORCE_DELIVERY"]),
            locale=locale,
            action=action,
        )
        return SendResult(
            channel=channel,
            reference=action,
            ignored=result.ignored,
            destination=result.cellphone or "",
        )

    def check_code(self, recipient: Recipient, code: str, *, reference: str = "") -> bool:
        # With a reference, only the code sent for that attempt passes; without
        # one, Authy checks the user's app (TOTP) code.
        return self.client.verify_token(self._authy_id(recipient), code, action=reference or None)

    def start_push(
        self, recipient: Recipient, *, message: str, details: Mapping[str, str] | None = None
    ) -> PushRequest:
        seconds = int(self.config["PUSH_SECONDS_TO_EXPIRE"])
        uuid = self.client.create_approval_request(
            self._authy_id(recipient),
            message,
            details=dict(details or {}),
            seconds_to_expire=seconds,
        )
        return PushRequest(reference=uuid, expires_in=seconds)

    def push_status(self, reference: str) -> PushStatus:
        return _PUSH_STATUSES[self.client.get_approval_status(reference)]

    def remove(self, recipient: Recipient) -> None:
        if recipient.provider_user_id:
            self.client.delete_user(recipient.provider_user_id)

    def _authy_id(self, recipient: Recipient) -> str:
        if not recipient.provider_user_id:
            raise ProviderUserNotFound(
                "This phone is not registered with Authy yet.", provider=self.name
            )
        return recipient.provider_user_id
