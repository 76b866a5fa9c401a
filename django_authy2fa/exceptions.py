"""Exceptions raised by django-authy2fa.

Runtime errors share one root, :class:`Authy2FAError`, so a caller can catch
everything the app raises while a login is in progress with one ``except``.
Configuration errors deliberately live *outside* that root (they derive from
Django's :class:`~django.core.exceptions.ImproperlyConfigured`): a view that
turns runtime errors into a friendly message must never hide a broken setup.

Where it helps callers, an exception also derives from the built-in they would
already catch (``ValueError`` for bad input).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import AppRegistryNotReady, ImproperlyConfigured
from django.utils.translation import gettext


def _(message: str) -> str:
    """Marks ``message`` for translation (makemessages); :func:`translated` translates it.

    Not Django's ``gettext_noop``: that one needs configured settings, and the
    HTTP clients (and so this module) can be used without them.
    """
    return message


class Authy2FAError(Exception):
    """Root of every runtime error raised by the app."""

    default_message = _("Two-factor authentication failed.")

    def __init__(self, message: str | None = None) -> None:
        self.message = translated(message or self.default_message)
        super().__init__(self.message)


def translated(message: str) -> str:
    """``message`` in the language active where an error is raised (the request's).

    Messages are only marked (``_``, ``gettext_noop``) where they are written, and
    translated here; a text that is not in the catalogs (a provider's own
    wording) comes back unchanged. The HTTP clients can be used without Django
    settings: the message then stays as written.
    """
    text = str(message)
    if not settings.configured:
        return text
    try:
        return gettext(text)
    except AppRegistryNotReady:  # raised while the apps are still loading
        return text


# --- Input that never reaches a provider -------------------------------------------


class InvalidInput(Authy2FAError, ValueError):
    """Input from a user or a caller was rejected before any network call."""


class InvalidPhoneNumber(InvalidInput):
    default_message = _("Enter a valid mobile phone number, including the country code.")


class InvalidTokenFormat(InvalidInput):
    default_message = _("Enter the code as digits only.")


class InvalidIdentifier(InvalidInput):
    """A provider identifier (Authy ID, approval UUID, ...) is malformed."""

    default_message = _("The identifier is not valid.")


class UnsupportedChannel(InvalidInput):
    default_message = _("This delivery channel is not supported by the configured provider.")


class CodeExpired(Authy2FAError):
    """The code (or the attempt it belonged to) is no longer valid."""

    default_message = _("This code has expired. Request a new one.")


# --- Our own throttles -------------------------------------------------------------


class Throttled(Authy2FAError):
    """Too many attempts or sends; ``retry_after`` is in seconds when known."""

    default_message = _("Too many attempts. Please wait before trying again.")

    def __init__(self, message: str | None = None, retry_after: int | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


# --- Provider errors -----------------------------------------------------------------


class ProviderError(Authy2FAError):
    """A remote provider could not do what was asked.

    Carries what is useful for debugging and never anything secret: the
    provider name, the HTTP status, the provider's own error code (as a string,
    as Authy sends it) and the provider's message.
    """

    default_message = _("The verification service returned an error.")

    def __init__(
        self,
        message: str | None = None,
        *,
        provider: str = "",
        status_code: int | None = None,
        error_code: str | None = None,
        provider_message: str | None = None,
    ) -> None:
        self.provider = provider
        self.status_code = status_code
        self.error_code = error_code
        # The provider's own wording, kept for operators; never shown to end users.
        self.provider_message = provider_message
        super().__init__(message)

    def __str__(self) -> str:
        parts = [self.message]
        details = []
        if self.provider:
            details.append(self.provider)
        if self.status_code is not None:
            details.append(f"HTTP {self.status_code}")
        if self.error_code:
            details.append(f"error {self.error_code}")
        if details:
            parts.append(f"({', '.join(details)})")
        return " ".join(parts)


class ProviderUnavailable(ProviderError):
    """The provider could not be reached or did not answer usefully.

    Connection errors, timeouts, 5xx answers and bodies that cannot be parsed
    all land here. Nothing about the user is implied: a flow must neither count
    it as a wrong code nor let the login through.
    """

    default_message = _("The verification service is unavailable. Please try again shortly.")


class CacheUnavailable(ProviderUnavailable):
    """The shared cache cannot be updated, so a 2FA change is refused (it would go unseen)."""

    default_message = _(
        "Two-step verification settings cannot be changed right now. Please try again shortly."
    )


class ProviderThrottled(ProviderError, Throttled):
    """The provider refused because of its own rate limit (HTTP 429)."""

    default_message = _("The verification service is busy. Please wait before trying again.")

    def __init__(
        self, message: str | None = None, *, retry_after: int | None = None, **kwargs
    ) -> None:
        ProviderError.__init__(self, message, **kwargs)
        # Assigned last: ProviderError's super() call reaches Throttled, which resets it.
        self.retry_after = retry_after


class ProviderRejected(ProviderError):
    """The provider answered and refused the request (a 4xx with an error code)."""

    default_message = _("The verification service rejected the request.")


class ProviderAuthenticationFailed(ProviderRejected):
    """The site's credentials (API key, auth token) were refused: an operator problem."""

    default_message = _("The verification service refused the site's credentials.")


class ProviderUserNotFound(ProviderRejected):
    """The provider does not know the user (e.g. an Authy ID that was removed)."""

    default_message = _("The verification service does not know this user.")


class ProviderPhoneRejected(ProviderRejected):
    """The provider refused the phone number (invalid, landline, banned country...)."""

    default_message = _("The verification service cannot use this phone number.")


class ProviderDeliveryFailed(ProviderRejected):
    """The code could not be delivered (SMS/call disabled, quota reached, not sent)."""

    default_message = _("The code could not be sent. Please use another method.")


class ApprovalRequestNotFound(ProviderRejected):
    """A push approval request is unknown to the provider."""

    default_message = _("The approval request was not found.")


# --- Callbacks -----------------------------------------------------------------------


class InvalidCallbackSignature(Authy2FAError):
    """A provider callback failed signature validation."""

    default_message = _("The callback signature is not valid.")


def http_status(error: Authy2FAError) -> int:
    """The HTTP status a page or an API answers with for ``error``.

    429 for throttles (ours or the provider's), 503 when the provider is
    unavailable or refused the site, 400 for everything the user can fix.
    """
    if isinstance(error, Throttled):
        return 429
    if isinstance(error, ProviderError):
        return 503
    return 400


# --- Configuration (outside the runtime root on purpose) ----------------------------


class Authy2FAConfigurationError(ImproperlyConfigured):
    """The site's settings are missing or wrong; the message names the setting."""


class Authy2FAImproperlyInstalled(Authy2FAConfigurationError, ImportError):
    """An optional dependency is missing; the message names the pip extra."""

    def __init__(self, missing_package: str, extra: str) -> None:
        self.missing_package = missing_package
        self.extra = extra
        super().__init__(
            f"{missing_package} is not installed. Install it with: "
            f'pip install "django-authy2fa[{extra}]"'
        )
