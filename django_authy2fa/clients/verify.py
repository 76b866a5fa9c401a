"""HTTP client for Twilio Verify v2 (``verify.twilio.com/v2``).

Verify replaces the Authy API for codes sent by SMS, voice call, e-mail and
WhatsApp. This client sends the same requests as twilio-python (method, path,
PascalCase form fields, HTTP Basic auth) and shares its transport with the
Authy client (:mod:`django_authy2fa.clients.http`), so it keeps the same rules:

* every argument is validated *before* the network, so nothing a user types
  can change the path or the fields of a request;
* one pooled :class:`requests.Session` with explicit timeouts, no retries (a
  retried send is a second SMS, a retried check spends an attempt), no
  redirects (they would carry the credentials elsewhere), no cookies;
* the size and total read time of every response body are bounded;
* every answer becomes a typed result or one exception from
  :mod:`django_authy2fa.exceptions`, decided in a single place
  (:func:`_error_for`); an answer that is not explicit fails closed;
* the auth token, the code and the recipient never reach a log, a ``repr`` or
  Django's error reports.

It does not read Django settings; the provider layer builds it from them.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import phonenumbers
import requests
from django.utils.dateparse import parse_datetime
from django.views.decorators.debug import sensitive_variables

from django_authy2fa.clients.http import (
    DEFAULT_TIMEOUT,
    MAX_EMAIL_LENGTH,
    MAX_PROVIDER_MESSAGE_LENGTH,
    SENSITIVE_NAMES,
    ApiClient,
    Reply,
    Timeout,
    check_secret,
    clean_email,
    clean_locale,
    normalise_error_code,
    optional_text,
    path_segment,
)
from django_authy2fa.exceptions import (
    Authy2FAConfigurationError,
    Authy2FAError,
    CodeExpired,
    InvalidIdentifier,
    InvalidInput,
    InvalidPhoneNumber,
    InvalidTokenFormat,
    ProviderAuthenticationFailed,
    ProviderDeliveryFailed,
    ProviderError,
    ProviderPhoneRejected,
    ProviderRejected,
    ProviderThrottled,
    ProviderUnavailable,
    UnsupportedChannel,
    _,
)

__all__ = [
    "CHANNELS",
    "VERIFY_ERROR_CODES",
    "WRONG_CODE_ERROR_CODES",
    "VerificationCheckResult",
    "VerificationResult",
    "VerificationStatus",
    "VerifyClient",
    "compute_twilio_signature",
]

logger = logging.getLogger(__name__)

PROVIDER: Final = "Twilio Verify"

#: Channels this client sends codes through (``sna`` and ``auto`` are not offered).
CHANNELS: Final = frozenset({"sms", "call", "email", "whatsapp"})
_PHONE_CHANNELS: Final = frozenset({"sms", "call", "whatsapp"})

MAX_AUTH_TOKEN_LENGTH: Final = 256
MAX_SIGNATURE_LENGTH: Final = 128
MAX_WEBHOOK_URL_LENGTH: Final = 8192

# ``re.ASCII`` and ``fullmatch`` everywhere: ``\d`` would accept other scripts'
# digits and ``$`` matches before a trailing newline.
_ACCOUNT_SID_RE: Final = re.compile(r"(?:AC|SK)[0-9a-fA-F]{32}", re.ASCII)
_SERVICE_SID_RE: Final = re.compile(r"VA[0-9a-fA-F]{32}", re.ASCII)
_VERIFICATION_SID_RE: Final = re.compile(r"VE[0-9a-fA-F]{32}", re.ASCII)
_CODE_RE: Final = re.compile(r"[0-9]{4,10}", re.ASCII)
_E164_RE: Final = re.compile(r"\+[1-9][0-9]{1,14}", re.ASCII)
_SHA256_HEX_RE: Final = re.compile(r"[0-9a-f]{64}", re.ASCII | re.IGNORECASE)
# "Invalid parameter: To", "Invalid parameter `Code`: ..." -> the parameter name.
_INVALID_PARAMETER_RE: Final = re.compile(
    r"invalid parameter\W{0,3}([A-Za-z][A-Za-z0-9.]{0,63})", re.ASCII | re.IGNORECASE
)

_SUCCESS_STATUSES: Final = frozenset({200, 201})


# --- Result types --------------------------------------------------------------------


class VerificationStatus(str, enum.Enum):
    """The state of a verification (reference §B3)."""

    PENDING = "pending"
    APPROVED = "approved"
    CANCELED = "canceled"
    MAX_ATTEMPTS_REACHED = "max_attempts_reached"
    DELETED = "deleted"
    FAILED = "failed"
    EXPIRED = "expired"


@dataclass(frozen=True)
class VerificationResult:
    """A verification as Twilio describes it after a send, a fetch or a cancel."""

    sid: str
    status: VerificationStatus
    channel: str | None
    #: Masked: ``"+*********61"`` or ``"a***@example.com"``.
    to: str | None
    #: Legacy field; read ``status`` instead.
    valid: bool | None
    date_created: datetime | None
    date_updated: datetime | None
    #: How many codes were sent for this verification (Twilio allows 5).
    send_code_attempts: int = 0


@dataclass(frozen=True)
class ServiceDetails:
    """What Twilio says about the Verify service the client uses."""

    sid: str
    friendly_name: str | None
    code_length: int | None


@dataclass(frozen=True)
class VerificationCheckResult:
    """The answer to a code check.

    ``approved`` is true only for an explicit approval (HTTP 200/201,
    ``status == "approved"`` and ``valid`` not false). A wrong code gives
    ``approved=False`` with status ``pending``. ``sid`` and ``status`` are None
    only when Twilio answered with a legacy wrong-code error (60201).
    """

    approved: bool
    sid: str | None
    status: VerificationStatus | None
    channel: str | None
    #: Masked, as in :class:`VerificationResult`.
    to: str | None
    valid: bool | None
    date_created: datetime | None
    date_updated: datetime | None


# --- Error codes ---------------------------------------------------------------------

_AUTH = ProviderAuthenticationFailed
_THROTTLED = ProviderThrottled
_PHONE = ProviderPhoneRejected
_DELIVERY = ProviderDeliveryFailed
_REJECTED = ProviderRejected

#: Every Verify error code in the reference (§B8), mapped to the exception
#: raised for it and a short English meaning (used as the message). Two codes
#: are refined where they are raised: 20404 by endpoint (see ``not_found``)
#: and 60200 by the parameter Twilio names.
VERIFY_ERROR_CODES: Final[Mapping[str, tuple[type[Authy2FAError], str]]] = MappingProxyType(
    {
        "20003": (_AUTH, "Twilio refused the account SID or auth token."),
        "20404": (CodeExpired, "This code is no longer valid. Request a new code."),
        "20429": (_THROTTLED, "Too many concurrent requests to Twilio; retry later."),
        "60200": (_REJECTED, "Twilio Verify rejected a request parameter."),
        "60201": (_REJECTED, "The verification code is invalid."),
        "60202": (_THROTTLED, "The maximum number of check attempts was reached."),
        "60203": (_THROTTLED, "The maximum number of send attempts was reached."),
        "60204": (_DELIVERY, "The Verify service does not support this feature."),
        "60205": (_PHONE, "SMS cannot be sent to a landline number."),
        "60206": (_REJECTED, "Amount and Payee are required (PSD2)."),
        "60207": (_REJECTED, "The service has the maximum number of rate limits."),
        "60208": (_REJECTED, "A rate limit with this unique name already exists."),
        "60209": (_REJECTED, "The rate limit unique name is invalid."),
        "60210": (_REJECTED, "The rate limit has the maximum number of buckets."),
        "60211": (_REJECTED, "A bucket with this interval already exists."),
        "60212": (_THROTTLED, "Too many concurrent requests for this phone number."),
        "60213": (_REJECTED, "A messaging configuration already exists for this country."),
        "60308": (_THROTTLED, "The maximum number of challenge attempts was reached."),
        "60310": (_THROTTLED, "The maximum number of factor verification attempts was reached."),
        "60311": (_REJECTED, "The factor verification failed."),
        "60318": (_REJECTED, "The factor is not verified."),
        "60324": (_REJECTED, "The challenge verification failed (invalid AuthPayload)."),
        "60364": (_REJECTED, "The challenge SID is invalid or missing."),
    }
)

#: Codes that mean "the user typed a wrong code" (legacy error forms; Verify v2
#: normally answers a wrong code with HTTP 200 and ``status: "pending"``).
WRONG_CODE_ERROR_CODES: Final = frozenset({"60201", "60311", "60324"})

_NOT_FOUND_CODE: Final = "20404"
_INVALID_PARAMETER_CODE: Final = "60200"

#: What a 404 means per endpoint: the verification is gone (approved, expired,
#: cancelled or unknown), or, when starting one, the service itself is unknown.
_VERIFICATION_GONE: Final = VERIFY_ERROR_CODES[_NOT_FOUND_CODE]
_SERVICE_UNKNOWN: Final = (
    ProviderAuthenticationFailed,
    "Twilio Verify does not know the service SID (or the account may not use it).",
)


# --- Parsed answers ------------------------------------------------------------------


class _Reply(Reply):
    """One HTTP answer from Twilio, parsed tolerantly."""

    PROVIDER = PROVIDER

    @property
    def error_code(self) -> str | None:
        """The integer ``code`` of an error body (legacy and RFC 9457 shapes), as text."""
        return normalise_error_code(self.fields.get("code"))

    @property
    def provider_message(self) -> str | None:
        # "message" in the legacy shape; "detail" / "title" in RFC 9457.
        for key in ("message", "detail", "title"):
            value = self.fields.get(key)
            if isinstance(value, str) and value.strip():
                return value[:MAX_PROVIDER_MESSAGE_LENGTH]
        return None

    @property
    def ok(self) -> bool:
        return (
            self.status_code in _SUCCESS_STATUSES and self.error_code is None and bool(self.fields)
        )

    @property
    def failed(self) -> bool:
        """Anything but an explicit success is logged, including an empty 200."""
        return not self.ok


# --- The one place that turns an answer into an exception ---------------------------


def _error_for(
    reply: _Reply,
    *,
    not_found: tuple[type[Authy2FAError], str] = _VERIFICATION_GONE,
    email: bool = False,
) -> Authy2FAError:
    """Return the exception for an answer that is not a success.

    A known Verify ``code`` decides the class; otherwise the HTTP status does.
    ``not_found`` is what a 404 means for the endpoint; ``email`` says whether
    the request's ``To`` was an e-mail address (for 60200 on ``To``).
    """
    status = reply.status_code
    code = reply.error_code
    if 300 <= status < 400:
        # Redirects are never followed: they would send the credentials elsewhere.
        return reply.error(ProviderUnavailable, "Twilio Verify answered with a redirect.")
    if not reply.fields and status != 429:
        # HTML from a proxy, an empty or truncated body: nothing to go on.
        return reply.error(ProviderUnavailable, "Twilio Verify sent an unusable answer.")
    if code == _NOT_FOUND_CODE or (status == 404 and code not in VERIFY_ERROR_CODES):
        return reply.error(*not_found)
    if code == _INVALID_PARAMETER_CODE:
        return reply.error(*_invalid_parameter(reply, email))
    if code is not None and code in VERIFY_ERROR_CODES:
        return reply.error(*VERIFY_ERROR_CODES[code])
    cls, message = _class_for_status(status)
    if code is not None:
        message = f"{message} The error code is not a known Verify code."
    return reply.error(cls, message)


def _invalid_parameter(reply: _Reply, email: bool) -> tuple[type[Authy2FAError], str]:
    """60200 names the parameter in its message; a few of them are the user's to fix."""
    match = _INVALID_PARAMETER_RE.search(reply.provider_message or "")
    name = match.group(1).lower() if match else ""
    if name == "to":
        if email:
            return ProviderRejected, "Twilio Verify rejected the e-mail address."
        return ProviderPhoneRejected, "Twilio Verify rejected the phone number."
    if name == "code":
        return InvalidTokenFormat, "The code does not have the length this service expects."
    if name == "channel":
        return UnsupportedChannel, UnsupportedChannel.default_message
    return VERIFY_ERROR_CODES[_INVALID_PARAMETER_CODE]


def _class_for_status(status: int) -> tuple[type[ProviderError], str]:
    if status in (401, 403):
        return ProviderAuthenticationFailed, "Twilio refused the request as unauthorized."
    if status == 429:
        return ProviderThrottled, "Twilio is rate limiting requests."
    if 400 <= status < 500:
        return ProviderRejected, "Twilio Verify rejected the request."
    if 200 <= status < 300:
        return ProviderUnavailable, "Twilio Verify sent an unexpected answer."
    return ProviderUnavailable, "Twilio Verify is unavailable."


def _wrong_code(reply: _Reply) -> bool:
    """A legacy wrong-code error (4xx other than 429, with a wrong-code error code)."""
    return (
        400 <= reply.status_code < 500
        and reply.status_code != 429
        and reply.error_code in WRONG_CODE_ERROR_CODES
    )


# --- Input validation (all before any network) --------------------------------------


def _clean_channel(channel: Any) -> str:
    if not isinstance(channel, str) or channel not in CHANNELS:
        raise UnsupportedChannel("The channel must be one of sms, call, email or whatsapp.")
    return channel


def _clean_phone(to: Any) -> str:
    """An E.164 number (``+`` and ASCII digits only) that phonenumbers calls valid."""
    if not isinstance(to, str) or not _E164_RE.fullmatch(to):
        raise InvalidPhoneNumber(
            "Enter the phone number in international format, e.g. +14155552671."
        )
    try:
        parsed = phonenumbers.parse(to, None)
    except phonenumbers.NumberParseException:
        raise InvalidPhoneNumber() from None
    if (
        not phonenumbers.is_valid_number(parsed)
        or phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) != to
    ):
        raise InvalidPhoneNumber()
    return to


def _clean_recipient(to: Any, channel: str | None) -> str:
    """``to`` for ``channel``; without a channel (checks) the shape decides."""
    if channel in _PHONE_CHANNELS or (channel is None and not (isinstance(to, str) and "@" in to)):
        return _clean_phone(to)
    return clean_email(to)


def _clean_code(code: Any) -> str:
    if not isinstance(code, str) or not _CODE_RE.fullmatch(code):
        raise InvalidTokenFormat(_("Enter the code as 4 to 10 digits."))
    return code


def _clean_verification_sid(sid: Any) -> str:
    if not isinstance(sid, str) or not _VERIFICATION_SID_RE.fullmatch(sid):
        raise InvalidIdentifier("The verification SID must be 'VE' and 32 hexadecimal digits.")
    return sid


# --- Configuration validation --------------------------------------------------------


def _check_account_sid(account_sid: Any) -> str:
    if not isinstance(account_sid, str) or not _ACCOUNT_SID_RE.fullmatch(account_sid):
        raise Authy2FAConfigurationError(
            "The Twilio account SID is missing or malformed (expected 'AC' or, for an API "
            "key, 'SK', followed by 32 hexadecimal digits)."
        )
    return account_sid


def _check_service_sid(service_sid: Any) -> str:
    if not isinstance(service_sid, str) or not _SERVICE_SID_RE.fullmatch(service_sid):
        raise Authy2FAConfigurationError(
            "The Twilio Verify service SID is missing or malformed "
            "(expected 'VA' followed by 32 hexadecimal digits)."
        )
    return service_sid


def _check_auth_token(token: Any, name: str) -> str:
    return check_secret(token, f"The Twilio {name}", MAX_AUTH_TOKEN_LENGTH)


# --- The client ---------------------------------------------------------------------


class VerifyClient(ApiClient[_Reply]):
    """A client for the Verifications and VerificationCheck resources of Verify v2.

    One instance holds one connection pool and is meant to be shared: it keeps
    no per-request state on its session (credentials go with each request and
    cookies are refused). Call :meth:`close` when done, or use it as a context
    manager.

    ``account_sid`` may be an Account SID (``AC…``) with its auth token, or an
    API key SID (``SK…``) with the key's secret. Twilio signs webhooks with the
    account's primary auth token, never with an API key secret: with an API
    key, pass ``webhook_auth_token`` to validate webhook signatures.

    Every method validates its arguments before any network call and raises
    exceptions from :mod:`django_authy2fa.exceptions` only.
    """

    DEFAULT_API_URL: Final = "https://verify.twilio.com/v2"
    PROVIDER = PROVIDER
    LOGGER = logger
    _reply_type = _Reply

    @sensitive_variables(*SENSITIVE_NAMES)
    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        service_sid: str,
        api_url: str = DEFAULT_API_URL,
        timeout: Timeout = DEFAULT_TIMEOUT,
        *,
        session: requests.Session | None = None,
        webhook_auth_token: str | None = None,
    ) -> None:
        """Build a client; raises :class:`Authy2FAConfigurationError` for bad settings.

        ``session`` lets a caller supply (and own) the :class:`requests.Session`;
        by default the client creates a pooled one and closes it in :meth:`close`.
        """
        self.account_sid = _check_account_sid(account_sid)
        self._auth = (self.account_sid, _check_auth_token(auth_token, "auth token"))
        self.service_sid = _check_service_sid(service_sid)
        if webhook_auth_token is not None:
            self._webhook_auth_token: str | None = _check_auth_token(
                webhook_auth_token, "webhook auth token"
            )
        else:
            # An account's auth token signs its webhooks; an API key secret does not.
            self._webhook_auth_token = auth_token if account_sid.startswith("AC") else None
        super().__init__(api_url, timeout, session)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(service_sid={self.service_sid!r}, api_url={self.api_url!r})"

    # --- Verifications ----------------------------------------------------------------

    @sensitive_variables(*SENSITIVE_NAMES)
    def start_verification(
        self, to: str, channel: str = "sms", locale: str | None = None
    ) -> VerificationResult:
        """Send a code to ``to`` (E.164 phone number, or e-mail address for ``email``).

        Sending again to the same ``to`` while a verification is pending re-sends
        the same code; after 5 sends Twilio answers 60203 (:class:`ProviderThrottled`).
        """
        channel = _clean_channel(channel)
        to = _clean_recipient(to, channel)
        form = {"To": to, "Channel": channel}
        if locale is not None:
            form["Locale"] = clean_locale(locale)
        reply = self._send("POST", "start_verification", self._path("Verifications"), form)
        fields = self._expect_ok(reply, not_found=_SERVICE_UNKNOWN, email=channel == "email")
        return self._verification_from(reply, fields)

    @sensitive_variables(*SENSITIVE_NAMES)  # the answer holds the full recipient
    def fetch_verification(self, sid: str) -> VerificationResult:
        """Return a verification's current state (Twilio allows 60 fetches a minute)."""
        sid = _clean_verification_sid(sid)
        path = self._path("Verifications", path_segment(sid))
        reply = self._send("GET", "fetch_verification", path)
        return self._verification_from(reply, self._expect_ok(reply), expected_sid=sid)

    @sensitive_variables(*SENSITIVE_NAMES)  # the answer holds the full recipient
    def cancel_verification(self, sid: str) -> VerificationResult:
        """Cancel a pending verification so its code can no longer be used.

        Raises :class:`CodeExpired` when the verification is already gone
        (approved, expired, cancelled or unknown); callers that only want it
        dead may ignore that.
        """
        sid = _clean_verification_sid(sid)
        reply = self._send(
            "POST",
            "cancel_verification",
            self._path("Verifications", path_segment(sid)),
            {"Status": VerificationStatus.CANCELED.value},
        )
        return self._verification_from(reply, self._expect_ok(reply), expected_sid=sid)

    # --- Checking codes -----------------------------------------------------------------

    @sensitive_variables(*SENSITIVE_NAMES)
    def check_verification(
        self, code: str, to: str | None = None, verification_sid: str | None = None
    ) -> VerificationCheckResult:
        """Check a code typed by the user, by recipient (``to``) or by ``verification_sid``.

        Returns ``approved=True`` only for an explicit approval and
        ``approved=False`` only for an explicit wrong code. Everything else
        raises: :class:`CodeExpired` when the verification is gone (404/20404),
        :class:`ProviderThrottled` after too many checks (60202),
        :class:`ProviderUnavailable` for an unclear answer, ... none of which may
        be counted as the user's mistake or let the login through.
        """
        code = _clean_code(code)
        if (to is None) == (verification_sid is None):
            raise InvalidInput("Give exactly one of to and verification_sid.")
        form = {"Code": code}
        if to is not None:
            to = _clean_recipient(to, None)
            form["To"] = to
        else:
            verification_sid = _clean_verification_sid(verification_sid)
            form["VerificationSid"] = verification_sid
        email = to is not None and "@" in to
        reply = self._send("POST", "check_verification", self._path("VerificationCheck"), form)
        if _wrong_code(reply):
            return VerificationCheckResult(
                approved=False,
                sid=verification_sid,
                status=None,
                channel=None,
                to=_mask_recipient(to),
                valid=False,
                date_created=None,
                date_updated=None,
            )
        fields = self._expect_ok(reply, email=email)
        return self._check_from(reply, fields, expected_sid=verification_sid)

    # --- Service ----------------------------------------------------------------------------

    def fetch_service(self) -> ServiceDetails:
        """The configured Verify service: a health check that sends nothing to anyone."""
        reply = self._send("GET", "fetch_service", self._path())
        fields = self._expect_ok(reply, not_found=_SERVICE_UNKNOWN)
        sid = fields.get("sid")
        if not isinstance(sid, str) or sid.lower() != self.service_sid.lower():
            raise reply.unexpected("another service")
        code_length = fields.get("code_length")
        return ServiceDetails(
            sid=sid,
            friendly_name=optional_text(fields.get("friendly_name")),
            code_length=code_length
            if isinstance(code_length, int) and not isinstance(code_length, bool)
            else None,
        )

    # --- Webhooks -------------------------------------------------------------------------

    def validate_webhook_signature(self, url: Any, params: Any, signature: Any) -> bool:
        """Check the ``X-Twilio-Signature`` of a request Twilio sent to ``url``.

        ``url`` is the full URL Twilio requested (scheme, host, path and query,
        as Twilio called it). ``params`` are the POST form parameters (a
        ``QueryDict``, a mapping or ``(name, value)`` pairs), or the raw body
        (``str``/``bytes``) of a JSON request, whose ``bodySHA256`` query
        parameter must then match. Never raises for anything a caller of the
        webhook controls: a malformed input is simply not valid.
        """
        if self._webhook_auth_token is None:
            raise Authy2FAConfigurationError(
                "Twilio signs webhooks with the account's auth token, not an API key "
                "secret: give VerifyClient a webhook_auth_token to validate them."
            )
        return _validate_twilio_signature(self._webhook_auth_token, url, params, signature)

    # --- Answer parsing -------------------------------------------------------------------

    def _answered_sid(self, reply: _Reply, fields: dict[str, Any], expected: str | None) -> str:
        sid = fields.get("sid")
        if not isinstance(sid, str) or not _VERIFICATION_SID_RE.fullmatch(sid):
            raise reply.unexpected("no valid verification SID")
        if expected is not None and sid.lower() != expected.lower():
            raise reply.unexpected("another verification")
        service_sid = fields.get("service_sid")
        if service_sid is not None and (
            not isinstance(service_sid, str) or service_sid.lower() != self.service_sid.lower()
        ):
            raise reply.unexpected("another service")
        return sid

    def _verification_from(
        self, reply: _Reply, fields: dict[str, Any], *, expected_sid: str | None = None
    ) -> VerificationResult:
        attempts = fields.get("send_code_attempts")
        return VerificationResult(
            sid=self._answered_sid(reply, fields, expected_sid),
            status=_answered_status(reply, fields),
            channel=optional_text(fields.get("channel")),
            to=_mask_recipient(fields.get("to")),
            valid=_optional_bool(fields.get("valid")),
            date_created=_optional_datetime(fields.get("date_created")),
            date_updated=_optional_datetime(fields.get("date_updated")),
            send_code_attempts=len(attempts) if isinstance(attempts, list) else 0,
        )

    def _check_from(
        self, reply: _Reply, fields: dict[str, Any], *, expected_sid: str | None
    ) -> VerificationCheckResult:
        sid = self._answered_sid(reply, fields, expected_sid)
        status = _answered_status(reply, fields)
        valid = fields.get("valid")
        if valid is not None and not isinstance(valid, bool):
            raise reply.unexpected("valid is not a boolean")
        return VerificationCheckResult(
            approved=_approved(reply, status, valid),
            sid=sid,
            status=status,
            channel=optional_text(fields.get("channel")),
            to=_mask_recipient(fields.get("to")),
            valid=valid,
            date_created=_optional_datetime(fields.get("date_created")),
            date_updated=_optional_datetime(fields.get("date_updated")),
        )

    # --- Plumbing -------------------------------------------------------------------------

    def _path(self, *segments: str) -> str:
        return "/".join(("/Services", path_segment(self.service_sid), *segments))

    @staticmethod
    def _expect_ok(
        reply: _Reply,
        *,
        not_found: tuple[type[Authy2FAError], str] = _VERIFICATION_GONE,
        email: bool = False,
    ) -> dict[str, Any]:
        """Return the fields of a successful answer, or raise the decided error."""
        if reply.ok:
            return reply.fields
        raise _error_for(reply, not_found=not_found, email=email)


# --- Answer helpers -------------------------------------------------------------------


def _answered_status(reply: _Reply, fields: dict[str, Any]) -> VerificationStatus:
    try:
        return VerificationStatus(fields.get("status"))
    except ValueError:
        raise reply.unexpected("unknown verification status") from None


def _approved(reply: _Reply, status: VerificationStatus, valid: bool | None) -> bool:
    """Approved, wrong code, or an exception: a check answer never means anything else."""
    if status is VerificationStatus.APPROVED:
        if valid is False:
            raise reply.unexpected("approved but not valid")
        return True
    if status is VerificationStatus.PENDING:
        if valid is True:
            raise reply.unexpected("valid but still pending")
        return False
    if status is VerificationStatus.MAX_ATTEMPTS_REACHED:
        raise reply.error(ProviderThrottled, VERIFY_ERROR_CODES["60202"][1])
    # canceled, expired, deleted, failed: this code can no longer be approved.
    raise reply.error(*_VERIFICATION_GONE)


def _optional_bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _optional_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None


def _mask_recipient(value: Any) -> str | None:
    """``+*********61`` for a phone number, ``a***@example.com`` for an e-mail."""
    if not isinstance(value, str) or not value:
        return None
    value = value[:MAX_EMAIL_LENGTH]
    if "@" in value:
        local, _at, domain = value.rpartition("@")
        return f"{local[:1]}***@{domain}"
    prefix = "+" if value.startswith("+") else ""
    digits = value[len(prefix) :]
    return prefix + "*" * max(len(digits) - 2, 0) + digits[-2:]


# --- Webhook signatures (reference §B7) ------------------------------------------------


@sensitive_variables(*SENSITIVE_NAMES)
def compute_twilio_signature(auth_token: str, url: str, params: Any = None) -> str:
    """Return the base64 HMAC-SHA1 that Twilio puts in ``X-Twilio-Signature``.

    The signed text is ``url`` exactly as given, followed by ``name + value``
    for every POST parameter, names sorted and, for a name sent several times,
    its values sorted too. ``params`` is None, a mapping (a list or tuple value
    means several values), a Django ``QueryDict`` or ``(name, value)`` pairs;
    names and values must be strings. For a JSON body sign the URL (which
    carries ``bodySHA256``) with no params. Raises ``TypeError``/``ValueError``
    for inputs that cannot be signed.
    """
    if not isinstance(auth_token, str) or not auth_token:
        raise ValueError("The auth token must be a non-empty string.")
    if not isinstance(url, str) or not url:
        raise ValueError("The URL must be a non-empty string.")
    payload = url + "".join(
        name + value
        for name, values in sorted(_param_lists(params).items())
        for value in sorted(values)
    )
    digest = hmac.new(auth_token.encode("utf-8"), payload.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _param_lists(params: Any) -> dict[str, list[str]]:
    if params is None:
        return {}
    if isinstance(params, (str, bytes)):
        raise TypeError("A raw body is signed through bodySHA256: pass params=None.")
    lists = getattr(params, "lists", None)
    if callable(lists):  # Django QueryDict / MultiValueDict: keep every value
        pairs: Iterable[Any] = ((name, value) for name, values in lists() for value in values)
    elif isinstance(params, Mapping):
        pairs = (
            (name, value)
            for name, raw in params.items()
            for value in (raw if isinstance(raw, (list, tuple)) else (raw,))
        )
    elif isinstance(params, Iterable):
        pairs = params
    else:
        raise TypeError("params must be a mapping or (name, value) pairs.")
    result: dict[str, list[str]] = {}
    for pair in pairs:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError("params must be a mapping or (name, value) pairs.")
        name, value = pair
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError("Parameter names and values must be strings.")
        result.setdefault(name, []).append(value)
    return result


@sensitive_variables(*SENSITIVE_NAMES)
def _validate_twilio_signature(auth_token: str, url: Any, params: Any, signature: Any) -> bool:
    if (
        not isinstance(signature, str)
        or not signature
        or not signature.isascii()
        or len(signature) > MAX_SIGNATURE_LENGTH
        or not isinstance(url, str)
        or not url
        or len(url) > MAX_WEBHOOK_URL_LENGTH
    ):
        return False
    try:
        candidates = _signed_url_variants(url)
        if isinstance(params, (str, bytes)):
            if not _body_hash_matches(url, params):
                return False
            params = None
        expected = [compute_twilio_signature(auth_token, c, params) for c in candidates]
    except (TypeError, ValueError, UnicodeError):
        return False
    given = signature.encode("ascii")
    # Every candidate is compared, so the time taken does not say which matched.
    matches = [hmac.compare_digest(e.encode("ascii"), given) for e in expected]
    return any(matches)


def _signed_url_variants(url: str) -> list[str]:
    """``url`` as given, plus the same URL without its port or with the default one.

    Twilio signs the URL as configured, which may or may not name the port;
    twilio-python accepts both forms (it drops any explicit port, or adds 443
    for https / 80 for http), and so does this.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("Not an http(s) URL.")
    port = parts.port  # ValueError for a malformed port
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if port is None:
        other = hostport + (":443" if parts.scheme == "https" else ":80")
    else:
        other = hostport[: hostport.rfind(":")]
    variants = [url, parts.geturl(), parts._replace(netloc=userinfo + at + other).geturl()]
    return list(dict.fromkeys(variants))


def _body_hash_matches(url: str, body: str | bytes) -> bool:
    """The URL's single ``bodySHA256`` is the hex SHA-256 of the raw body."""
    claimed = parse_qs(urlsplit(url).query, keep_blank_values=True).get("bodySHA256")
    if not claimed or len(claimed) != 1 or not _SHA256_HEX_RE.fullmatch(claimed[0]):
        return False
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return hmac.compare_digest(hashlib.sha256(raw).hexdigest(), claimed[0].lower())
