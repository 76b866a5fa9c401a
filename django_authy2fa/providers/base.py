"""The interface every remote provider implements.

A provider is a stateless service: it talks to Authy, Twilio Verify or the
console, and returns small value objects. It never touches the session or the
database; whatever must be remembered between sending a code and checking it
(an Authy OneTouch UUID, a Verify SID, a keyed digest) comes back as
``reference`` and the flow keeps it on the login challenge.

To write a provider, subclass :class:`BaseProvider`, set ``name`` and
``channels``, and implement the methods for the channels you declare.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from django.core import checks

from ..conf import setting_path
from ..exceptions import Authy2FAConfigurationError, UnsupportedChannel
from ..phone import mask_e164


class Channel(str, enum.Enum):
    """Ways a provider can reach the user."""

    SMS = "sms"
    CALL = "call"
    PUSH = "push"

    def __str__(self) -> str:
        return self.value


class PushStatus(str, enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"

    @property
    def is_final(self) -> bool:
        return self is not PushStatus.PENDING


@dataclass(frozen=True)
class Recipient:
    """Who a provider talks to. Built from a user's two-factor profile."""

    phone: str = ""  # E.164
    provider_user_id: str | None = None  # e.g. the Authy ID
    email: str = ""

    def __repr__(self) -> str:
        masked = mask_e164(self.phone)
        return f"Recipient(phone={masked!r}, provider_user_id={self.provider_user_id!r})"


@dataclass(frozen=True)
class SendResult:
    """What happened when a code was requested.

    ``reference`` must be passed back to :meth:`BaseProvider.check_code`.
    ``ignored`` is True when the provider chose not to send (Authy does so for
    users of its app and pushes a prompt there instead).
    """

    channel: Channel
    reference: str = ""
    ignored: bool = False
    destination: str = ""  # masked, safe to show

    @property
    def sent(self) -> bool:
        return not self.ignored


@dataclass(frozen=True)
class PushRequest:
    reference: str
    expires_in: int


@dataclass(frozen=True)
class ProviderOption:
    """An option a provider reads from ``AUTHY2FA["PROVIDER_OPTIONS"]``."""

    name: str
    required: bool = False
    default: Any = None
    help: str = ""


class BaseProvider:
    """Base class of all providers.

    Class attributes a subclass sets:

    ``name``
        Human name used in messages and errors ("Twilio Authy").
    ``channels``
        The :class:`Channel` values the provider can deliver.
    ``app_codes``
        True when :meth:`check_code` also accepts codes from the provider's
        authenticator app without a prior send (Authy app tokens).
    ``needs_enrollment``
        True when a phone must be registered with the provider before codes
        can be sent (Authy returns an ID for it); False when the E.164 number
        is enough (Verify, console).
    ``options``
        The :class:`ProviderOption` entries read from ``PROVIDER_OPTIONS``.
    ``is_development_only``
        True for providers that must never run with ``DEBUG=False`` (check E002).
    ``is_test_only``
        True for in-memory test doubles (warning W002 when ``DEBUG=False``).
    """

    name: ClassVar[str] = ""
    channels: ClassVar[frozenset[Channel]] = frozenset()
    needs_enrollment: ClassVar[bool] = False
    app_codes: ClassVar[bool] = False
    options: ClassVar[tuple[ProviderOption, ...]] = ()
    is_development_only: ClassVar[bool] = False
    is_test_only: ClassVar[bool] = False

    def __init__(self, **options: Any) -> None:
        self.config = self.clean_options(options)

    # -- options -------------------------------------------------------------------------

    @classmethod
    def clean_options(cls, given: Mapping[str, Any]) -> dict[str, Any]:
        """Apply defaults; raise an error naming the exact setting that is missing or unknown."""
        known = {option.name: option for option in cls.options}
        for key in given:
            if key not in known:
                raise Authy2FAConfigurationError(
                    f"{setting_path('PROVIDER_OPTIONS', key)} is not an option of "
                    f"{cls.name or cls.__name__}; it accepts {sorted(known) or 'no options'}."
                )
        cleaned = {}
        for option in cls.options:
            value = given.get(option.name, option.default)
            if option.required and value in (None, ""):
                raise Authy2FAConfigurationError(
                    f"{setting_path('PROVIDER_OPTIONS', option.name)} is required by "
                    f"{cls.name or cls.__name__}. {option.help}".strip()
                )
            cleaned[option.name] = value
        return cleaned

    @classmethod
    def check(cls, options: Mapping[str, Any]) -> list[checks.CheckMessage]:
        """System-check hook; the default validates the options."""
        try:
            cls.clean_options(options)
        except Authy2FAConfigurationError as err:
            return [checks.Error(str(err), id="authy2fa.E003")]
        return []

    # -- helpers for subclasses ---------------------------------------------------------

    def supports(self, channel: Channel | str) -> bool:
        try:
            return Channel(channel) in self.channels
        except ValueError:
            return False

    def ensure_channel(self, channel: Channel | str) -> Channel:
        if not self.supports(channel):
            raise UnsupportedChannel(f"{self.name} cannot deliver codes by {channel!s}.")
        return Channel(channel)

    def _not_implemented(self, method: str) -> NotImplementedError:
        cls = type(self)
        return NotImplementedError(f"{cls.__module__}.{cls.__qualname__} must implement {method}()")

    # -- the interface ------------------------------------------------------------------

    def enroll(self, recipient: Recipient) -> str | None:
        """Register the recipient's phone; return the provider's user id (None if not needed)."""
        return None

    def send_code(
        self, recipient: Recipient, channel: Channel, *, locale: str | None = None
    ) -> SendResult:
        """Deliver a one-time code by ``channel`` (SMS or voice call)."""
        raise self._not_implemented("send_code")

    def check_code(self, recipient: Recipient, code: str, *, reference: str = "") -> bool:
        """True only when the provider explicitly confirms the code.

        ``reference`` is what :meth:`send_code` returned, so a code can only
        complete the attempt that asked for it. Wrong codes return False;
        provider trouble raises :class:`~django_authy2fa.exceptions.ProviderError`
        so that it is never counted against the user.
        """
        raise self._not_implemented("check_code")

    def start_push(
        self, recipient: Recipient, *, message: str, details: Mapping[str, str] | None = None
    ) -> PushRequest:
        """Ask the user to approve the login in an app."""
        raise self._not_implemented("start_push")

    def push_status(self, reference: str) -> PushStatus:
        """Read the state of a push started with :meth:`start_push`."""
        raise self._not_implemented("push_status")

    def remove(self, recipient: Recipient) -> None:
        """Forget the recipient at the provider (if it keeps anything)."""
        return None
