"""HTTP client for the legacy Twilio Authy REST API (``api.authy.com``).

The official ``authy`` package is abandoned, sets no timeouts, opens a new
connection for every call and reports errors as loosely shaped dicts. This
client keeps the same wire format (field for field) but:

* validates every identifier and token *before* the network, so nothing a user
  types can change the path of a request;
* uses one pooled :class:`requests.Session` with explicit timeouts, never
  retries (a retried SMS request is a second SMS) and never follows redirects
  (a redirect would carry the API key header to another host);
* bounds the size and the total read time of every response body;
* turns every answer into either a typed result or one exception from
  :mod:`django_authy2fa.exceptions`, decided in a single place
  (:func:`_error_for`), and fails closed when an answer is not explicit;
* never logs the API key, a token or a URL (the verify URL contains the token).

The transport (session, bounded reads, failures, error-report masking) is
shared with the Verify client in :mod:`django_authy2fa.clients.http`. It does
not read Django settings; the provider layer builds it from them.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import ipaddress
import json
import logging
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import quote_plus

import phonenumbers
import requests
from django.views.decorators.debug import sensitive_variables

from django_authy2fa.clients.http import (
    DEFAULT_TIMEOUT,
    MAX_PROVIDER_MESSAGE_LENGTH,
    SENSITIVE_NAMES,
    ApiClient,
    Reply,
    Timeout,
    check_secret,
    clean_email,
    clean_locale,
    is_positive_number,
    normalise_error_code,
    optional_text,
    path_segment,
)
from django_authy2fa.clients.http import (
    MAX_EMAIL_LENGTH as MAX_EMAIL_LENGTH,
)
from django_authy2fa.clients.http import (
    MAX_RESPONSE_BYTES as MAX_RESPONSE_BYTES,
)
from django_authy2fa.exceptions import (
    ApprovalRequestNotFound,
    Authy2FAConfigurationError,
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
    ProviderUserNotFound,
    _,
)

__all__ = [
    "AUTHY_ERROR_CODES",
    "WRONG_TOKEN_ERROR_CODES",
    "ApprovalStatus",
    "AuthyClient",
    "AuthyUserStatus",
    "QRCodeResult",
    "TOTPSecretExport",
    "TokenRequestResult",
    "canonicalize_callback_params",
    "compute_callback_signature",
]

logger = logging.getLogger(__name__)

PROVIDER: Final = "Authy"

# Limits taken from the official clients (reference §A5, §A6, §A7.1).
MAX_AUTHY_ID_DIGITS: Final = 12
MAX_ACTION_LENGTH: Final = 255
MAX_APPROVAL_TEXT_LENGTH: Final = 200
MAX_PHONE_INPUT_LENGTH: Final = 32
MAX_LABEL_LENGTH: Final = 255
MAX_QR_SIZE: Final = 2000

# ``re.ASCII`` and ``fullmatch`` everywhere: ``\d`` would accept other scripts'
# digits and ``$`` matches before a trailing newline.
_TOKEN_RE: Final = re.compile(r"[0-9]{6,10}", re.ASCII)
_AUTHY_ID_RE: Final = re.compile(rf"[0-9]{{1,{MAX_AUTHY_ID_DIGITS}}}", re.ASCII)
_UUID_RE: Final = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII | re.IGNORECASE
)
_COUNTRY_CODE_RE: Final = re.compile(r"\+?[0-9]{1,3}", re.ASCII)
_PHONE_INPUT_RE: Final = re.compile(r"[0-9 ().\-]+", re.ASCII)
_DELETE_PATH_RE: Final = re.compile(r"/[A-Za-z0-9_./{}\-]*", re.ASCII)
_NONCE_RE: Final = re.compile(r"[\x21-\x7b\x7d\x7e]{1,64}", re.ASCII)  # printable, no "|"
_NONCE_TIME_RE: Final = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,9})?", re.ASCII)

_LOGO_RESOLUTIONS: Final = frozenset({"default", "low", "med", "high"})
_CALLBACK_METHODS: Final = frozenset({"GET", "POST"})
_MAX_CALLBACK_DEPTH: Final = 32


# --- Result types --------------------------------------------------------------------


@dataclass(frozen=True)
class AuthyUserStatus:
    """What ``GET /users/{id}/status`` says about one Authy user."""

    authy_id: str
    #: The user has used a valid code at least once.
    confirmed: bool
    #: The Authy app (mobile or desktop) is registered for the user.
    registered: bool
    country_code: int | None
    #: Masked by Authy (``"XXX-XXX-1118"``); only the last digits are visible.
    phone_number: str | None
    #: Device kinds such as ``"android"``, ``"ios"``, ``"sms"``.
    devices: tuple[str, ...]
    has_hard_token: bool
    #: The user is marked for deletion.
    account_disabled: bool


@dataclass(frozen=True)
class TokenRequestResult:
    """The answer to an SMS or voice-call request.

    ``ignored`` is true when Authy did not send anything because the user has
    the Authy app and ``force`` was not set (it pushes a prompt instead).
    """

    ignored: bool
    #: The user's most recent device, only given when the request was ignored.
    device: str | None
    #: Masked by Authy, e.g. ``"+351-XXX-XXX-XX67"``.
    cellphone: str | None
    message: str

    @property
    def sent(self) -> bool:
        """True when Authy says it sent (or started) the SMS or call."""
        return not self.ignored


@dataclass(frozen=True)
class AppDetails:
    """What Authy says about the application the API key belongs to."""

    app_id: str | None
    name: str | None
    plan: str | None
    #: Whether SMS is enabled for the application (None when Authy did not say).
    sms_enabled: bool | None


class ApprovalStatus(str, enum.Enum):
    """The state of a OneTouch (push) approval request."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"


@dataclass(frozen=True)
class QRCodeResult:
    """A link to a QR code image for a generic authenticator app."""

    qr_code: str
    label: str


@dataclass(frozen=True)
class TOTPSecretExport:
    """A user's TOTP seed exported for migration to another provider.

    The secret is a long-lived credential: it never appears in ``repr``.
    """

    secret: str = field(repr=False)
    otp: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return "TOTPSecretExport(secret='***', otp='***')"


# --- Error codes ---------------------------------------------------------------------

_AUTH = ProviderAuthenticationFailed
_THROTTLED = ProviderThrottled
_NOT_FOUND = ProviderUserNotFound
_PHONE = ProviderPhoneRejected
_DELIVERY = ProviderDeliveryFailed
_APPROVAL = ApprovalRequestNotFound
_DOWN = ProviderUnavailable
_REJECTED = ProviderRejected

#: Every Authy error code known from the reference (§A10), mapped to the
#: exception raised for it and a short English meaning (used as the message).
AUTHY_ERROR_CODES: Final[Mapping[str, tuple[type[ProviderError], str]]] = MappingProxyType(
    {
        "60000": (_REJECTED, "Authy reported an unspecified error."),
        "60001": (_AUTH, "The Authy API key is invalid."),
        "60002": (_REJECTED, "Authy rejected the request as invalid."),
        "60003": (_THROTTLED, "Too many requests to Authy; wait before trying again."),
        "60004": (_REJECTED, "A request parameter is invalid."),
        "60005": (_REJECTED, "The request encoding is invalid."),
        "60006": (_DELIVERY, "Codes by voice call are not enabled for this application."),
        "60007": (_DELIVERY, "SMS is not enabled for this application."),
        "60008": (_AUTH, "The Authy account is suspended."),
        "60009": (_DELIVERY, "The monthly SMS limit has been reached."),
        "60010": (_DELIVERY, "The daily SMS limit has been reached."),
        "60011": (_DELIVERY, "The monthly voice-call limit has been reached."),
        "60012": (_DELIVERY, "The daily voice-call limit has been reached."),
        "60013": (_PHONE, "The phone number's country is banned."),
        "60014": (_DELIVERY, "The voice call could not be started."),
        "60015": (_DELIVERY, "The SMS was not sent."),
        "60016": (_NOT_FOUND, "The Authy user does not exist."),
        "60017": (_REJECTED, "The Authy user is suspended."),
        "60018": (_REJECTED, "The Authy user is disabled."),
        "60019": (_REJECTED, "The code was used recently."),
        "60020": (_REJECTED, "The code is invalid."),
        "60021": (_REJECTED, "The phone verification could not be created."),
        "60022": (_REJECTED, "The phone verification code is incorrect."),
        "60023": (_REJECTED, "There is no pending phone verification."),
        "60024": (_REJECTED, "Phone information is not available."),
        "60025": (_DOWN, "Authy failed while querying phone information."),
        "60026": (_NOT_FOUND, "The Authy user was not found."),
        "60027": (_REJECTED, "Authy rejected the user's details."),
        "60028": (_REJECTED, "The Authy user could not be deleted."),
        "60029": (_REJECTED, "The activity could not be recorded."),
        "60030": (_REJECTED, "The user parameters are incorrect."),
        "60031": (_AUTH, "The application is not allowed to perform this action."),
        "60032": (_DELIVERY, "The SMS was not found."),
        "60033": (_PHONE, "The phone number is invalid."),
        "60034": (_REJECTED, "The registration request is invalid."),
        "60035": (_REJECTED, "The registration request was not found."),
        "60036": (_REJECTED, "The registration PIN is invalid."),
        "60037": (_REJECTED, "The registration request has expired."),
        "60038": (_REJECTED, "The email address is invalid."),
        "60042": (_REJECTED, "The phone verification parameters are invalid."),
        "60047": (_AUTH, "A Twilio API key was used where an Authy API key is required."),
        "60049": (_APPROVAL, "The approval request was not found."),
        "60050": (_REJECTED, "The user has no device registered for push approvals."),
        "60051": (_REJECTED, "The user's push device was not found."),
        "60052": (_DOWN, "Authy had an internal connection error."),
        "60053": (_DOWN, "Authy failed to send the approval request."),
        "60054": (_DOWN, "Authy failed to process the approval request."),
        "60055": (_DOWN, "Authy failed to notify the application."),
        "60056": (_AUTH, "Authy requires HTTPS."),
        "60057": (_AUTH, "The Authy account is temporarily suspended."),
        "60058": (_PHONE, "The phone number was not found."),
        "60059": (_PHONE, "The phone number is invalid."),
        "60060": (_AUTH, "The Twilio account is suspended."),
        "60061": (_AUTH, "The Authy application is suspended."),
        "60063": (_AUTH, "Requests from this IP address are not allowed."),
        "60064": (_REJECTED, "Push approvals could not be enabled."),
        "60066": (_REJECTED, "The push callback could not be saved."),
        "60068": (_REJECTED, "The device registration could not be updated."),
        "60069": (_AUTH, "Authy reported an access key error."),
        "60070": (_AUTH, "The Authy application is invalid."),
        "60071": (_AUTH, "The access key was not found."),
        "60072": (_AUTH, "The access key is invalid."),
        "60073": (_AUTH, "The application API key is invalid."),
        "60074": (_AUTH, "The access key does not allow this action."),
        "60075": (_REJECTED, "The application could not be deleted."),
        "60078": (_PHONE, "The country code is invalid."),
        "60079": (_REJECTED, "The approval request is no longer pending."),
        "60080": (_REJECTED, "The approval request is invalid."),
        "60082": (_PHONE, "SMS cannot be sent to a landline."),
        "60083": (_PHONE, "The phone number is not supported."),
        "60086": (_REJECTED, "The JWT has expired."),
        "60087": (_REJECTED, "The JWT signature is invalid."),
        "60089": (_REJECTED, "The reporting query is invalid."),
        "60090": (_REJECTED, "The registration request could not be created."),
        "60091": (_REJECTED, "Custom messages are not allowed for this application."),
        "60092": (_REJECTED, "The device was not found."),
        "60093": (_REJECTED, "The SDK device was not deleted."),
        "60094": (_REJECTED, "The reporting interval is invalid."),
        "60095": (_REJECTED, "The report is invalid."),
        "60096": (_DOWN, "Authy failed while processing the report."),
        "60097": (_REJECTED, "A phone number change is in progress for this user."),
        "60098": (_REJECTED, "The webhook could not be created."),
        "60099": (_REJECTED, "The webhooks could not be listed."),
        "60100": (_REJECTED, "The webhook could not be deleted."),
        "60101": (_REJECTED, "The JWT is invalid."),
        "60102": (_REJECTED, "The push certificate could not be created."),
        "60103": (_REJECTED, "The push platform is not recognised."),
        "60104": (_REJECTED, "The push certificates are invalid."),
        "60105": (_REJECTED, "The notification JWT is invalid."),
        "60106": (_REJECTED, "The user is suspended from this application."),
        "60107": (_REJECTED, "The user is blocked."),
        "60108": (_REJECTED, "This channel is not valid for the user's device."),
        "60109": (_REJECTED, "The authentication method was not found."),
        "60110": (_REJECTED, "The authentication method could not be created."),
        "60111": (_REJECTED, "The authentication was not found."),
        "60112": (_REJECTED, "The authentication method is invalid."),
        "60113": (_REJECTED, "The authenticator was not found."),
        "60114": (_REJECTED, "The authenticator could not be updated."),
        "60115": (_PHONE, "The phone number has opted out of messages."),
        "60116": (_REJECTED, "The phone verification JWT parameters are invalid."),
        "60117": (_AUTH, "The Authy application was not found."),
        "60118": (_REJECTED, "The authenticator app code is invalid."),
        "60119": (_REJECTED, "A user without personal data is required."),
        "60120": (_DELIVERY, "The SMS limit has been reached."),
        "60121": (_DELIVERY, "The SMS is invalid."),
        "60122": (_DOWN, "Authy failed to generate the QR code."),
        "60123": (_REJECTED, "Generic authenticator tokens are disabled for this application."),
        "60124": (_AUTH, "The Authy account was not found."),
        "60125": (_REJECTED, "The SDK application is invalid."),
        "60126": (_DOWN, "Authy failed to produce the HLR report."),
        "60127": (_NOT_FOUND, "The Authy user is pending deletion."),
        "60128": (_NOT_FOUND, "The Authy user was deleted."),
        "60129": (_REJECTED, "The public key was not found."),
        "60130": (_NOT_FOUND, "The Authy user is being deleted."),
        "60131": (_REJECTED, "The Authy user could not be deleted."),
        "60132": (_REJECTED, "The account deletion is incomplete."),
        "60133": (_REJECTED, "Authy refused the message (CLNPC)."),
    }
)

#: Codes that mean "the user typed a wrong, reused or invalid code" on verify.
WRONG_TOKEN_ERROR_CODES: Final = frozenset({"60019", "60020", "60118"})

# 60027 ("User was not valid") names the offending field; a phone field means
# the phone number, not the request, is the problem.
_USER_INVALID_CODE: Final = "60027"
_PHONE_FIELDS: Final = ("cellphone", "country_code")


# --- Parsed answers ------------------------------------------------------------------


class _Reply(Reply):
    """One HTTP answer from Authy, parsed tolerantly."""

    PROVIDER = PROVIDER

    @property
    def error_code(self) -> str | None:
        return normalise_error_code(self.fields.get("error_code"))

    @property
    def success(self) -> bool | None:
        """``success`` as a tri-state: Authy sends booleans or the strings "true"/"false"."""
        return _tri_state(self.fields.get("success"))

    @property
    def provider_message(self) -> str | None:
        message = self.fields.get("message")
        if not isinstance(message, str):
            errors = self.fields.get("errors")
            message = errors.get("message") if isinstance(errors, dict) else None
        if not isinstance(message, str):
            return None
        return message[:MAX_PROVIDER_MESSAGE_LENGTH]

    @property
    def failed(self) -> bool:
        """Any status but 200 is logged: every Authy endpoint answers a success with 200."""
        return self.status_code != 200


def _tri_state(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
    return None


def _flag(value: Any) -> bool:
    """A boolean field: only an explicit true counts."""
    return _tri_state(value) is True


# --- The one place that turns an answer into an exception ---------------------------


def _error_for(
    reply: _Reply,
    *,
    not_found: type[ProviderError] = ProviderUserNotFound,
) -> ProviderError:
    """Return the exception for an answer that is not a success.

    A known Authy ``error_code`` decides the class; otherwise the HTTP status
    does. ``not_found`` is the class for a bare 404 (it depends on the path).
    """
    status = reply.status_code
    code = reply.error_code
    if 300 <= status < 400:
        # Redirects are never followed: they would send the API key elsewhere.
        return reply.error(ProviderUnavailable, "Authy answered with a redirect.")
    if code is not None and code in AUTHY_ERROR_CODES:
        cls, meaning = AUTHY_ERROR_CODES[code]
        if code == _USER_INVALID_CODE and _names_phone_field(reply.fields):
            cls, meaning = ProviderPhoneRejected, "Authy rejected the phone number."
        return reply.error(cls, meaning)
    cls, message = _class_for_status(status, not_found)
    if code is not None:
        message = f"{message} The error code is not a known Authy code."
    return reply.error(cls, message)


def _class_for_status(
    status: int, not_found: type[ProviderError]
) -> tuple[type[ProviderError], str]:
    if status == 401:
        return ProviderAuthenticationFailed, "Authy refused the request as unauthorized."
    if status == 404:
        return not_found, not_found.default_message
    if status == 429:
        return ProviderThrottled, "Authy is rate limiting requests."
    if 400 <= status < 500:
        return ProviderRejected, "Authy rejected the request."
    if status == 200:
        return ProviderUnavailable, "Authy sent an unexpected answer."
    return ProviderUnavailable, "Authy is unavailable."


def _names_phone_field(fields: dict[str, Any]) -> bool:
    errors = fields.get("errors")
    places = [fields, errors] if isinstance(errors, dict) else [fields]
    return any(name in place for place in places for name in _PHONE_FIELDS)


# --- Input validation (all before any network) --------------------------------------


def _clean_authy_id(value: Any) -> str:
    """A positive int or a string of 1-12 ASCII digits, as a canonical string."""
    if isinstance(value, bool):
        raise InvalidIdentifier("The Authy ID must be a number.")
    if isinstance(value, int):
        if 0 < value < 10**MAX_AUTHY_ID_DIGITS:
            return str(value)
    elif isinstance(value, str) and _AUTHY_ID_RE.fullmatch(value) and int(value) > 0:
        return str(int(value))
    raise InvalidIdentifier("The Authy ID must be a positive number.")


def _authy_id_from_answer(value: Any) -> str | None:
    try:
        return _clean_authy_id(value)
    except InvalidIdentifier:
        return None


def _clean_token(token: Any) -> str:
    if not isinstance(token, str) or not _TOKEN_RE.fullmatch(token):
        raise InvalidTokenFormat(_("Enter the code as 6 to 10 digits."))
    return token


def _clean_uuid(value: Any) -> str:
    if not isinstance(value, str) or not _UUID_RE.fullmatch(value):
        raise InvalidIdentifier("The approval request ID is not a valid UUID.")
    return value.lower()


def _clean_country_code(value: Any) -> int:
    if isinstance(value, bool):
        raise InvalidPhoneNumber(_("The country calling code is invalid."))
    if isinstance(value, str) and _COUNTRY_CODE_RE.fullmatch(value):
        value = int(value.lstrip("+"))
    if isinstance(value, int) and 1 <= value <= 999:
        return value
    raise InvalidPhoneNumber(_("The country calling code is invalid."))


def _clean_phone(phone_number: Any, country_code: int) -> str:
    """Return the national significant number, or raise InvalidPhoneNumber."""
    if (
        not isinstance(phone_number, str)
        or len(phone_number) > MAX_PHONE_INPUT_LENGTH
        # ASCII digits and separators only: phonenumbers would otherwise accept
        # vanity letters and other scripts' digits.
        or not _PHONE_INPUT_RE.fullmatch(phone_number)
    ):
        raise InvalidPhoneNumber()
    digits = re.sub(r"[^0-9]", "", phone_number)
    try:
        parsed = phonenumbers.parse(f"+{country_code}{digits}", None)
    except phonenumbers.NumberParseException:
        raise InvalidPhoneNumber() from None
    if parsed.country_code != country_code or not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber()
    return phonenumbers.national_significant_number(parsed)


def _clean_user_ip(user_ip: Any) -> str | None:
    if user_ip is None:
        return None
    if isinstance(user_ip, str):
        try:
            return str(ipaddress.ip_address(user_ip))
        except ValueError:
            pass
    raise InvalidInput("user_ip must be an IPv4 or IPv6 address.")


def _clean_text(value: Any, name: str, max_length: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise InvalidInput(f"{name} must be a non-empty string of at most {max_length} characters.")
    return value


def _clean_non_negative_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"{name} must be a non-negative integer.")
    return value


def _clean_details(details: Any, name: str) -> dict[str, str]:
    """Flat label -> text pairs; values are coerced to text.

    Over-long entries are rejected rather than truncated: the user approves
    exactly what they see, so silently cutting "Amount: 1000000" is not an option.
    """
    if details is None:
        return {}
    if not isinstance(details, Mapping):
        raise InvalidInput(f"{name} must be a mapping of labels to values.")
    cleaned: dict[str, str] = {}
    for key, value in details.items():
        label = _clean_text(str(key), f"A {name} label", MAX_APPROVAL_TEXT_LENGTH)
        text = "" if value is None else str(value)
        if len(text) > MAX_APPROVAL_TEXT_LENGTH:
            raise InvalidInput(
                f"{name} values must be at most {MAX_APPROVAL_TEXT_LENGTH} characters."
            )
        cleaned[label] = text
    return cleaned


def _clean_logos(logos: Any) -> list[dict[str, str]]:
    if logos is None:
        return []
    if isinstance(logos, (str, bytes, Mapping)) or not isinstance(logos, Iterable):
        raise InvalidInput("logos must be a list of {'res': ..., 'url': ...} mappings.")
    cleaned = []
    for logo in logos:
        if not isinstance(logo, Mapping) or set(logo) != {"res", "url"}:
            raise InvalidInput("Each logo must have exactly the keys 'res' and 'url'.")
        res, url = logo["res"], logo["url"]
        if res not in _LOGO_RESOLUTIONS:
            raise InvalidInput("A logo's res must be one of default, low, med, high.")
        if (
            not isinstance(url, str)
            or not url.startswith("https://")
            or len(url) > MAX_APPROVAL_TEXT_LENGTH
        ):
            raise InvalidInput("A logo's url must be an https URL of at most 200 characters.")
        cleaned.append({"res": res, "url": url})
    return cleaned


# --- Configuration validation --------------------------------------------------------


def _check_api_key(api_key: Any) -> str:
    return check_secret(api_key, "The Authy API key")


def _check_delete_path(delete_path: Any) -> str:
    if (
        not isinstance(delete_path, str)
        or not _DELETE_PATH_RE.fullmatch(delete_path)
        or "{authy_id}" not in delete_path
        or ".." in delete_path
    ):
        raise Authy2FAConfigurationError(
            "The Authy delete path must start with '/' and contain '{authy_id}'."
        )
    try:
        delete_path.format(authy_id="1")
    except (KeyError, IndexError, ValueError):
        raise Authy2FAConfigurationError(
            "The Authy delete path may contain no placeholder other than '{authy_id}'."
        ) from None
    return delete_path


# --- The client ---------------------------------------------------------------------


class AuthyClient(ApiClient[_Reply]):
    """A client for the Authy REST API.

    One instance holds one connection pool and is meant to be shared: it keeps
    no per-request state on its session (headers go with each request and
    cookies are refused), so concurrent calls do not affect each other. Call
    :meth:`close` when done, or use it as a context manager.

    Every method validates its arguments before any network call and raises
    exceptions from :mod:`django_authy2fa.exceptions` only.
    """

    DEFAULT_API_URL: Final = "https://api.authy.com"
    #: Three variants exist in the official clients (reference §A4.3); pick one
    #: with ``delete_path``. Must contain ``{authy_id}``.
    DEFAULT_DELETE_PATH: Final = "/protected/json/users/{authy_id}/remove"
    PROVIDER = PROVIDER
    LOGGER = logger
    _reply_type = _Reply

    @sensitive_variables(*SENSITIVE_NAMES)
    def __init__(
        self,
        api_key: str,
        api_url: str = DEFAULT_API_URL,
        timeout: Timeout = DEFAULT_TIMEOUT,
        *,
        delete_path: str = DEFAULT_DELETE_PATH,
        session: requests.Session | None = None,
    ) -> None:
        """Build a client; raises :class:`Authy2FAConfigurationError` for bad settings.

        ``session`` lets a caller supply (and own) the :class:`requests.Session`;
        by default the client creates a pooled one and closes it in :meth:`close`.
        """
        self._api_key = _check_api_key(api_key)
        self.delete_path = _check_delete_path(delete_path)
        super().__init__(api_url, timeout, session)

    # --- Users --------------------------------------------------------------------

    @sensitive_variables(*SENSITIVE_NAMES)
    def register_user(
        self,
        email: str,
        phone_number: str,
        country_code: int | str,
        send_install_link_via_sms: bool = False,
    ) -> str:
        """Register a user with Authy and return their Authy ID (as a string).

        ``phone_number`` is the national number (digits and `` ().-`` only);
        ``country_code`` the calling code (``44``, ``"44"`` or ``"+44"``).
        Registering the same phone again returns the same Authy ID.
        """
        email = clean_email(email)
        code = _clean_country_code(country_code)
        national = _clean_phone(phone_number, code)
        if not isinstance(send_install_link_via_sms, bool):
            raise InvalidInput("send_install_link_via_sms must be a boolean.")
        body = {
            "user": {"email": email, "cellphone": national, "country_code": code},
            "send_install_link_via_sms": send_install_link_via_sms,
        }
        reply = self._send("POST", "register_user", "/protected/json/users/new", body=body)
        fields = self._expect_ok(reply)
        user = fields.get("user")
        authy_id = _authy_id_from_answer(user.get("id") if isinstance(user, dict) else None)
        if authy_id is None:
            raise reply.unexpected("no valid user ID")
        return authy_id

    def user_status(self, authy_id: int | str, user_ip: str | None = None) -> AuthyUserStatus:
        """Return what Authy knows about a user (app registered, devices, ...)."""
        authy_id = _clean_authy_id(authy_id)
        ip = _clean_user_ip(user_ip)
        reply = self._send(
            "GET",
            "user_status",
            f"/protected/json/users/{path_segment(authy_id)}/status",
            params={"user_ip": ip} if ip else None,
        )
        status = self._expect_ok(reply).get("status")
        if not isinstance(status, dict):
            raise reply.unexpected("no status object")
        answered_id = status.get("authy_id")
        if answered_id is not None and _authy_id_from_answer(answered_id) != authy_id:
            raise reply.unexpected("status for another user")
        return _user_status_from(status, authy_id)

    def delete_user(self, authy_id: int | str, user_ip: str | None = None) -> None:
        """Ask Authy to remove a user (Authy applies it after a delay, ~24 h)."""
        authy_id = _clean_authy_id(authy_id)
        ip = _clean_user_ip(user_ip)
        path = self.delete_path.format(authy_id=path_segment(authy_id))
        reply = self._send("POST", "delete_user", path, body={"user_ip": ip} if ip else {})
        self._expect_ok(reply)

    # --- Sending codes ----------------------------------------------------------------

    def request_sms(
        self,
        authy_id: int | str,
        force: bool = False,
        locale: str | None = None,
        action: str | None = None,
        action_message: str | None = None,
    ) -> TokenRequestResult:
        """Ask Authy to send a code by SMS.

        Without ``force`` Authy ignores the request for users who have the app
        (``result.ignored``) and pushes a prompt to the app instead.
        """
        return self._request_token("sms", authy_id, force, locale, action, action_message)

    def request_call(
        self,
        authy_id: int | str,
        force: bool = False,
        locale: str | None = None,
        action: str | None = None,
        action_message: str | None = None,
    ) -> TokenRequestResult:
        """Ask Authy to read a code in a voice call (same rules as :meth:`request_sms`)."""
        return self._request_token("call", authy_id, force, locale, action, action_message)

    def _request_token(
        self,
        channel: str,
        authy_id: int | str,
        force: bool,
        locale: str | None,
        action: str | None,
        action_message: str | None,
    ) -> TokenRequestResult:
        authy_id = _clean_authy_id(authy_id)
        if not isinstance(force, bool):
            raise InvalidInput("force must be a boolean.")
        params: dict[str, str] = {}
        if force:
            # Lowercase text: requests would send Python's "True".
            params["force"] = "true"
        if locale is not None:
            params["locale"] = clean_locale(locale)
        if action is not None:
            params["action"] = _clean_text(action, "action", MAX_ACTION_LENGTH)
        if action_message is not None:
            params["action_message"] = _clean_text(
                action_message, "action_message", MAX_ACTION_LENGTH
            )
        reply = self._send(
            "GET",
            f"request_{channel}",
            f"/protected/json/{channel}/{path_segment(authy_id)}",
            params=params or None,
        )
        fields = self._expect_ok(reply)
        if reply.success is not True:
            # A captive portal's page, [] or broken JSON is not "sent": fail closed.
            raise reply.unexpected("no explicit success for the code request")
        return TokenRequestResult(
            ignored=_flag(fields.get("ignored")),
            device=optional_text(fields.get("device")),
            cellphone=optional_text(fields.get("cellphone")),
            message=optional_text(fields.get("message")) or "",
        )

    # --- Verifying codes --------------------------------------------------------------

    @sensitive_variables(*SENSITIVE_NAMES)
    def verify_token(self, authy_id: int | str, token: str, action: str | None = None) -> bool:
        """Check a code typed by the user.

        Returns True only for an explicit success and False only for an
        explicit wrong, reused or invalid code. Anything else raises: a refused
        API key (:class:`ProviderAuthenticationFailed`), an unknown user, an
        unclear answer (:class:`ProviderUnavailable`) ... none of which may be
        counted as the user's mistake or let the login through.
        """
        authy_id = _clean_authy_id(authy_id)
        token = _clean_token(token)
        # force=true always: without it Authy accepts any code for users who
        # have not completed registration (reference §A6).
        params = {"force": "true"}
        if action is not None:
            params["action"] = _clean_text(action, "action", MAX_ACTION_LENGTH)
        reply = self._send(
            "GET",
            "verify",
            f"/protected/json/verify/{path_segment(token)}/{path_segment(authy_id)}",
            params=params,
            secret_in_url=True,
        )
        if _token_accepted(reply):
            return True
        if _token_rejected(reply):
            return False
        raise _error_for(reply)

    # --- OneTouch (push approvals) ----------------------------------------------------

    def create_approval_request(
        self,
        authy_id: int | str,
        message: str,
        details: Mapping[str, Any] | None = None,
        hidden_details: Mapping[str, Any] | None = None,
        seconds_to_expire: int = 120,
        logos: Iterable[Mapping[str, str]] | None = None,
    ) -> str:
        """Push an approval request to the user's Authy app; return its UUID.

        ``details`` are shown to the user, ``hidden_details`` only stored.
        ``seconds_to_expire=0`` means the request never expires (Authy's rule).
        """
        authy_id = _clean_authy_id(authy_id)
        body = {
            "message": _clean_text(message, "message", MAX_APPROVAL_TEXT_LENGTH),
            "seconds_to_expire": _clean_non_negative_int(seconds_to_expire, "seconds_to_expire"),
            "details": _clean_details(details, "details"),
            "hidden_details": _clean_details(hidden_details, "hidden_details"),
            "logos": _clean_logos(logos),
        }
        reply = self._send(
            "POST",
            "create_approval_request",
            f"/onetouch/json/users/{path_segment(authy_id)}/approval_requests",
            body=body,
        )
        approval = self._expect_ok(reply).get("approval_request")
        uuid = approval.get("uuid") if isinstance(approval, dict) else None
        if not isinstance(uuid, str) or not _UUID_RE.fullmatch(uuid):
            raise reply.unexpected("no valid approval request UUID")
        return uuid.lower()

    def get_approval_status(self, uuid: str) -> ApprovalStatus:
        """Return the current status of an approval request."""
        uuid = _clean_uuid(uuid)
        reply = self._send(
            "GET",
            "get_approval_status",
            f"/onetouch/json/approval_requests/{path_segment(uuid)}",
        )
        approval = self._expect_ok(reply, not_found=ApprovalRequestNotFound).get("approval_request")
        if not isinstance(approval, dict):
            raise reply.unexpected("no approval request object")
        answered_uuid = approval.get("uuid")
        if answered_uuid is not None and (
            not isinstance(answered_uuid, str) or answered_uuid.lower() != uuid
        ):
            raise reply.unexpected("status of another approval request")
        try:
            return ApprovalStatus(approval.get("status"))
        except ValueError:
            raise reply.unexpected("unknown approval status") from None

    def validate_callback_signature(
        self,
        *,
        url: str,
        method: str,
        params: Any,
        nonce: Any,
        signature: Any,
        max_age: float | None = None,
        now: float | None = None,
    ) -> bool:
        """Check the ``X-Authy-Signature`` of a OneTouch callback.

        See :func:`compute_callback_signature` for ``url``, ``method`` and
        ``params``. ``nonce`` and ``signature`` are the ``X-Authy-Signature-Nonce``
        and ``X-Authy-Signature`` headers. With ``max_age`` (seconds) a nonce
        whose timestamp is further than that from ``now`` (default: the current
        time) is rejected, a simple replay guard. Never raises for anything an
        attacker controls: a malformed input is simply not valid.
        """
        return _validate_signature(
            self._api_key,
            url=url,
            method=method,
            params=params,
            nonce=nonce,
            signature=signature,
            max_age=max_age,
            now=now,
        )

    # --- Authenticator apps -------------------------------------------------------------

    def generate_qr_code(self, authy_id: int | str, label: str, qr_size: int = 300) -> QRCodeResult:
        """Ask Authy for a QR code that adds the user to a generic authenticator app."""
        authy_id = _clean_authy_id(authy_id)
        label = _clean_text(label, "label", MAX_LABEL_LENGTH)
        if (
            isinstance(qr_size, bool)
            or not isinstance(qr_size, int)
            or not 0 < qr_size <= MAX_QR_SIZE
        ):
            raise InvalidInput(f"qr_size must be an integer between 1 and {MAX_QR_SIZE}.")
        reply = self._send(
            "POST",
            "generate_qr_code",
            f"/protected/json/users/{path_segment(authy_id)}/secret",
            body={"label": label, "qr_size": qr_size},
        )
        qr_code = self._expect_ok(reply).get("qr_code")
        # The link ends up in an <img src>; only an https URL or an inline image is safe.
        if not isinstance(qr_code, str) or not qr_code.startswith(("https://", "data:image/")):
            raise reply.unexpected("no valid QR code link")
        return QRCodeResult(qr_code=qr_code, label=label)

    def export_totp_secret(self, authy_id: int | str) -> TOTPSecretExport:
        """Export a user's TOTP seed for migration (access-gated by Twilio support)."""
        authy_id = _clean_authy_id(authy_id)
        reply = self._send(
            "GET",
            "export_totp_secret",
            f"/protected/json/users/{path_segment(authy_id)}/secret/export",
        )
        fields = self._expect_ok(reply)
        secret = fields.get("secret")
        if not isinstance(secret, str) or not secret.strip():
            raise reply.unexpected("no secret")
        otp = fields.get("otp")
        if isinstance(otp, int) and not isinstance(otp, bool):
            otp = str(otp)
        return TOTPSecretExport(secret=secret, otp=otp if isinstance(otp, str) else None)

    # --- Application ----------------------------------------------------------------

    def app_details(self) -> AppDetails:
        """The application behind the API key: a health check that sends nothing to anyone."""
        reply = self._send("GET", "app_details", "/protected/json/app/details")
        app = self._expect_ok(reply).get("app")
        if not isinstance(app, dict):
            raise reply.unexpected("no app object")
        app_id = app.get("app_id")
        return AppDetails(
            app_id=str(app_id) if is_positive_number(app_id) else None,
            name=optional_text(app.get("name")),
            plan=optional_text(app.get("plan")),
            sms_enabled=_tri_state(app.get("sms_enabled")),
        )

    # --- Plumbing -----------------------------------------------------------------------

    @sensitive_variables(*SENSITIVE_NAMES)
    def _headers(self, has_body: bool) -> dict[str, str]:
        """Authy authenticates by its own header, not HTTP auth (see NoCredentials)."""
        headers = {"X-Authy-API-Key": self._api_key, **super()._headers(has_body)}
        if has_body:
            headers["Content-Type"] = "application/json"
        return headers

    def _encode_body(self, body: Mapping[str, Any]) -> bytes:
        """JSON, as the official clients send it; NaN is not JSON and never sent."""
        return json.dumps(body, allow_nan=False).encode("utf-8")

    def _failure_cause(
        self, err: BaseException, endpoint: str, secret_in_url: bool
    ) -> BaseException:
        """The original error, unless its text (which quotes the URL) carries the code.

        requests puts the full URL in its messages, and the verify URL holds
        the user's code; chained exceptions end up in logs and error reports.
        """
        return super()._failure_cause(err, endpoint, secret_in_url) if secret_in_url else err

    @staticmethod
    def _expect_ok(
        reply: _Reply, *, not_found: type[ProviderError] = ProviderUserNotFound
    ) -> dict[str, Any]:
        """Return the fields of a successful answer, or raise the decided error."""
        if reply.status_code == 200 and reply.success is not False and reply.error_code is None:
            return reply.fields
        raise _error_for(reply, not_found=not_found)


# --- Answer helpers -------------------------------------------------------------------


def _user_status_from(status: dict[str, Any], authy_id: str) -> AuthyUserStatus:
    country_code = status.get("country_code")
    if isinstance(country_code, str) and country_code.isascii() and country_code.isdigit():
        country_code = int(country_code)
    if isinstance(country_code, bool) or not isinstance(country_code, int):
        country_code = None
    devices = status.get("devices")
    return AuthyUserStatus(
        authy_id=authy_id,
        confirmed=_flag(status.get("confirmed")),
        registered=_flag(status.get("registered")),
        country_code=country_code,
        phone_number=optional_text(status.get("phone_number")),
        devices=tuple(d for d in devices if isinstance(d, str))
        if isinstance(devices, list)
        else (),
        has_hard_token=_flag(status.get("has_hard_token")),
        account_disabled=_flag(status.get("account_disabled")),
    )


def _token_accepted(reply: _Reply) -> bool:
    """Only an explicit success: HTTP 200, ``token == "is valid"`` and ``success`` true."""
    return (
        reply.status_code == 200
        and reply.error_code is None
        and reply.fields.get("token") == "is valid"
        and reply.success is True
    )


def _token_rejected(reply: _Reply) -> bool:
    """Only an explicit "wrong code": a wrong-code error code, or a token marked invalid."""
    if reply.status_code not in (200, 401):
        return False
    code = reply.error_code
    if code is not None:
        # Any other code (60001 bad API key, ...) is not the user's fault.
        return code in WRONG_TOKEN_ERROR_CODES
    errors = reply.fields.get("errors")
    return reply.fields.get("token") == "is invalid" or (
        isinstance(errors, dict) and errors.get("token") == "is invalid"
    )


# --- Callback signatures (reference §A7.4) -------------------------------------------


def canonicalize_callback_params(params: Any) -> str:
    """Return the form-encoded parameter string that Authy signs.

    ``params`` is the callback's JSON body (a nested mapping) for POST. For
    GET pass the query parameters as a Django ``QueryDict`` or an iterable of
    decoded ``(key, value)`` pairs in the order received (``parse_qsl``); they
    are first nested again the way Authy's (Rails) server parses them, so
    repeated ``p[][k]`` keys keep their grouping. A plain mapping of flat
    bracketed keys also works as long as no array has several elements.

    The encoding is Rails' ``Hash#to_query``: nested keys become ``p[k]``,
    array items ``p[]``; booleans are ``true``/``false``, None is empty, empty
    mappings and lists vanish; keys and values are form-encoded (space as
    ``+``) and the pairs sorted case-sensitively, except inside arrays, whose
    items keep their order. A global sort (what some official clients do)
    fails on real callbacks that carry two logos.
    """
    if params is None or isinstance(params, (str, bytes)):
        raise TypeError("Callback params must be a mapping or (key, value) pairs.")
    if isinstance(params, Mapping) and not callable(getattr(params, "lists", None)):
        return _rails_hash_query(params, None, 0)
    return _rails_hash_query(_nest_query_pairs(params), None, 0)


@sensitive_variables(*SENSITIVE_NAMES)
def compute_callback_signature(
    api_key: str, *, url: str, method: str, params: Any, nonce: str | int
) -> str:
    """Return the base64 HMAC-SHA256 Authy puts in ``X-Authy-Signature``.

    ``url`` is the callback URL as Authy called it; any query string is
    dropped. ``method`` is GET or POST. Raises ``ValueError``/``TypeError`` for
    inputs that cannot be signed.
    """
    _check_api_key(api_key)
    verb = method.upper() if isinstance(method, str) else ""
    if verb not in _CALLBACK_METHODS:
        raise ValueError("The callback method must be GET or POST.")
    if not isinstance(url, str) or not url:
        raise ValueError("The callback URL must be a non-empty string.")
    if isinstance(nonce, bool) or not isinstance(nonce, (str, int)):
        raise TypeError("The nonce must be a string.")
    base_url = url.split("#", 1)[0].split("?", 1)[0]
    message = "|".join((str(nonce), verb, base_url, canonicalize_callback_params(params)))
    digest = hmac.new(api_key.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


@sensitive_variables(*SENSITIVE_NAMES)
def _validate_signature(
    api_key: str,
    *,
    url: Any,
    method: Any,
    params: Any,
    nonce: Any,
    signature: Any,
    max_age: float | None,
    now: float | None,
) -> bool:
    if max_age is not None and not is_positive_number(max_age):
        raise ValueError("max_age must be a positive number of seconds.")
    if isinstance(nonce, int) and not isinstance(nonce, bool):
        nonce = str(nonce)
    if (
        not isinstance(signature, str)
        or not signature
        or not signature.isascii()
        or len(signature) > 128
        or not isinstance(nonce, str)
        or not _NONCE_RE.fullmatch(nonce)
    ):
        return False
    try:
        expected = compute_callback_signature(
            api_key, url=url, method=method, params=params, nonce=nonce
        )
    except (TypeError, ValueError, UnicodeError):
        return False
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii")):
        return False
    return max_age is None or _nonce_is_fresh(nonce, max_age, now)


def _nonce_is_fresh(nonce: str, max_age: float, now: float | None) -> bool:
    if not _NONCE_TIME_RE.fullmatch(nonce):
        return False
    current = time.time() if now is None else now
    return abs(current - float(nonce)) <= max_age


def _rails_hash_query(mapping: Mapping[Any, Any], namespace: str | None, depth: int) -> str:
    if depth > _MAX_CALLBACK_DEPTH:
        # The input comes from the network: refuse absurd nesting.
        raise ValueError("Callback params are nested too deeply.")
    chunks = []
    for key, value in mapping.items():
        if isinstance(value, (Mapping, list, tuple)) and not value:
            continue
        name = str(key) if namespace is None else f"{namespace}[{key}]"
        chunk = _rails_value_query(value, name, depth + 1)
        if chunk:
            chunks.append(chunk)
    # Rails sorts each mapping's chunks, but not inside arrays ("[]" in the
    # namespace): there the original key order is what gets signed.
    if namespace is None or "[]" not in namespace:
        chunks.sort()
    return "&".join(chunks)


def _rails_value_query(value: Any, name: str, depth: int) -> str:
    if isinstance(value, Mapping):
        return _rails_hash_query(value, name, depth)
    if isinstance(value, (list, tuple)):
        # The index is dropped: every array item is signed as "p[]".
        prefix = f"{name}[]"
        if not value:
            return _encoded_pair(prefix, None)
        parts = (_rails_value_query(item, prefix, depth + 1) for item in value)
        return "&".join(part for part in parts if part)
    return _encoded_pair(name, value)


def _encoded_pair(name: str, value: Any) -> str:
    return f"{quote_plus(name, safe='')}={quote_plus(_scalar_text(value), safe='')}"


def _query_pairs(params: Any) -> Iterator[tuple[str, Any]]:
    lists = getattr(params, "lists", None)
    if callable(lists):  # Django QueryDict / MultiValueDict: keep every value
        for key, values in lists():
            for value in values:
                yield str(key), value
        return
    for key, value in params:
        yield str(key), value


def _nest_query_pairs(params: Any) -> dict[str, Any]:
    """Rebuild nested params from flat ``a[b][]...`` pairs, as Rack parses them."""
    nested: dict[str, Any] = {}
    for key, value in _query_pairs(params):
        _rack_insert(nested, key, value, 0)
    return nested


_RACK_NAME_RE: Final = re.compile(r"[\[\]]*([^\[\]]+)\]*")
_RACK_ARRAY_CHILD_RE: Final = re.compile(r"\[\]\[([^\[\]]+)\]")
_RACK_ARRAY_REST_RE: Final = re.compile(r"\[\](.+)", re.DOTALL)


def _rack_insert(target: dict[str, Any], name: str, value: Any, depth: int) -> dict[str, Any]:
    if depth > _MAX_CALLBACK_DEPTH:
        raise ValueError("Callback params are nested too deeply.")
    match = _RACK_NAME_RE.match(name)
    if match is None:
        return target  # a key made only of brackets is ignored, as Rack does
    key, after = match.group(1), name[match.end() :]
    if after == "":
        target[key] = value
    elif after == "[":
        target[name] = value
    elif after == "[]":
        _rack_list(target, key).append(value)
    elif child := _rack_array_child(after):
        items = _rack_list(target, key)
        last = items[-1] if items else None
        # Consecutive "p[][a]=..&p[][b]=.." fill one item until a key repeats.
        if isinstance(last, dict) and not _rack_has_key(last, child):
            _rack_insert(last, child, value, depth + 1)
        else:
            items.append(_rack_insert({}, child, value, depth + 1))
    else:
        child_map = target.setdefault(key, {})
        if not isinstance(child_map, dict):
            raise ValueError("Conflicting callback parameter names.")
        _rack_insert(child_map, after, value, depth + 1)
    return target


def _rack_array_child(after: str) -> str | None:
    match = _RACK_ARRAY_CHILD_RE.fullmatch(after) or _RACK_ARRAY_REST_RE.fullmatch(after)
    return match.group(1) if match else None


def _rack_list(target: dict[str, Any], key: str) -> list[Any]:
    items = target.setdefault(key, [])
    if not isinstance(items, list):
        raise ValueError("Conflicting callback parameter names.")
    return items


def _rack_has_key(mapping: dict[str, Any], name: str) -> bool:
    if "[]" in name:
        return False
    current: Any = mapping
    for part in re.split(r"[\[\]]+", name):
        if not part:
            continue
        if not isinstance(current, dict) or part not in current:
            return False
        current = current[part]
    return True


def _scalar_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise TypeError(f"Cannot sign a callback value of type {type(value).__name__}.")
