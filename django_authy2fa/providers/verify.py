"""Twilio Verify v2 as a provider: the recommended remote provider.

Verify needs no per-user registration: codes go to the E.164 number. Each
send returns a verification SID, which the flow keeps on the login challenge
and passes back to :meth:`VerifyProvider.check_code`, so a code can only
complete the login that asked for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..clients.verify import VerifyClient
from ..phone import mask_e164
from .base import BaseProvider, Channel, ProviderOption, Recipient, SendResult

_VERIFY_CHANNELS = {Channel.SMS: "sms", Channel.CALL: "call"}


class VerifyProvider(BaseProvider):
    """Codes by SMS and voice call through Twilio Verify."""

    name = "Twilio Verify"
    channels = frozenset(_VERIFY_CHANNELS)
    options = (
        ProviderOption(
            "ACCOUNT_SID",
            required=True,
            help="The Twilio account SID (AC...) or an API key SID (SK...), e.g. "
            "env('TWILIO_ACCOUNT_SID').",
        ),
        ProviderOption(
            "AUTH_TOKEN",
            required=True,
            help="The account's auth token (or the API key's secret), e.g. "
            "env('TWILIO_AUTH_TOKEN').",
        ),
        ProviderOption(
            "SERVICE_SID",
            required=True,
            help="The Verify service (VA...) from Twilio console > Verify > Services, e.g. "
            "env('TWILIO_VERIFY_SERVICE_SID').",
        ),
        ProviderOption("API_URL", default=VerifyClient.DEFAULT_API_URL),
        ProviderOption("TIMEOUT", default=(3.05, 10)),
        # Needed to check webhook signatures when ACCOUNT_SID is an API key.
        ProviderOption("WEBHOOK_AUTH_TOKEN", default=None),
    )

    def __init__(self, client: VerifyClient | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.client = client or VerifyClient(
            self.config["ACCOUNT_SID"],
            self.config["AUTH_TOKEN"],
            self.config["SERVICE_SID"],
            api_url=self.config["API_URL"],
            timeout=self.config["TIMEOUT"],
            webhook_auth_token=self.config["WEBHOOK_AUTH_TOKEN"],
        )

    def close(self) -> None:
        self.client.close()

    def send_code(
        self, recipient: Recipient, channel: Channel, *, locale: str | None = None
    ) -> SendResult:
        channel = self.ensure_channel(channel)
        verification = self.client.start_verification(
            recipient.phone, channel=_VERIFY_CHANNELS[channel], locale=locale
        )
        return SendResult(
            channel=channel, reference=verification.sid, destination=mask_e164(recipient.phone)
        )

    def check_code(self, recipient: Recipient, code: str, *, reference: str = "") -> bool:
        if not reference:
            return False  # Verify codes exist only for a verification this attempt started
        return self.client.check_verification(code, verification_sid=reference).approved

    def validate_webhook(self, url: str, params: Mapping[str, Any], signature: str) -> bool:
        """``X-Twilio-Signature`` check for a configured status callback."""
        return self.client.validate_webhook_signature(url, params, signature)
