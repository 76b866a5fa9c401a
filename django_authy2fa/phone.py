"""Phone numbers: parsing, normalising to E.164 and masking, with ``phonenumbers``."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

from .conf import app_settings
from .exceptions import InvalidPhoneNumber

# Longest input worth parsing: E.164 has at most 15 digits; allow generous separators.
MAX_INPUT_LENGTH = 32

# Line types that cannot receive an SMS code (a voice call may still reach a
# fixed line, but one number must work for both channels).
_REJECTED_TYPES = frozenset(
    {
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.PREMIUM_RATE,
        PhoneNumberType.SHARED_COST,
        PhoneNumberType.TOLL_FREE,
        PhoneNumberType.PAGER,
        PhoneNumberType.UAN,
        PhoneNumberType.VOICEMAIL,
        PhoneNumberType.VOIP,
    }
)


@dataclass(frozen=True)
class PhoneNumber:
    """A validated phone number. ``e164`` is the only form the app stores."""

    e164: str

    @property
    def _parsed(self) -> phonenumbers.PhoneNumber:
        return phonenumbers.parse(self.e164)

    @property
    def country_code(self) -> int:
        """The calling code, e.g. 44 for the United Kingdom."""
        return self._parsed.country_code

    @property
    def national_number(self) -> str:
        """The national significant number: digits only, no trunk prefix."""
        return phonenumbers.national_significant_number(self._parsed)

    @property
    def region(self) -> str | None:
        """The ISO region (``"GB"``), or None for non-geographic numbers."""
        return phonenumbers.region_code_for_number(self._parsed)

    @property
    def display(self) -> str:
        """International format for the owner's own eyes, e.g. ``+44 7400 123456``."""
        return phonenumbers.format_number(self._parsed, PhoneNumberFormat.INTERNATIONAL)

    @property
    def masked(self) -> str:
        """Safe to show anywhere: the calling code and the last two digits only."""
        return mask_e164(self.e164)

    def __str__(self) -> str:
        return self.masked

    def __repr__(self) -> str:
        return f"PhoneNumber({self.masked!r})"


def mask_e164(e164: str) -> str:
    """``+447400123456`` → ``+44 ••••••••56``; an empty value stays empty."""
    if not e164:
        return ""
    try:
        country_code = str(phonenumbers.parse(e164).country_code)
    except NumberParseException:
        return "•" * 4
    rest = e164[1 + len(country_code) :]
    return f"+{country_code} {'•' * max(len(rest) - 2, 0)}{rest[-2:]}"


def parse_phone(raw: object, region: str | None = None, *, mobile_only: bool = True) -> PhoneNumber:
    """Validate and normalise a number typed by a user.

    ``region`` (or ``AUTHY2FA["PHONE_DEFAULT_REGION"]``) is used for numbers
    typed without a ``+country code``. Raises :class:`InvalidPhoneNumber` with
    a message fit for the user.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidPhoneNumber()
    text = raw.strip()
    if len(text) > MAX_INPUT_LENGTH or not text.isascii() or not text.isprintable():
        raise InvalidPhoneNumber()
    region = region or app_settings.PHONE_DEFAULT_REGION
    try:
        parsed = phonenumbers.parse(text, region)
    except NumberParseException as err:
        raise InvalidPhoneNumber() from err
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber()
    _check_region(parsed)
    if mobile_only and phonenumbers.number_type(parsed) in _REJECTED_TYPES:
        raise InvalidPhoneNumber("This number cannot receive text messages. Use a mobile number.")
    return PhoneNumber(phonenumbers.format_number(parsed, PhoneNumberFormat.E164))


def _check_region(parsed: phonenumbers.PhoneNumber) -> None:
    allowed = app_settings.PHONE_ALLOWED_REGIONS
    if allowed is not None and phonenumbers.region_code_for_number(parsed) not in allowed:
        raise InvalidPhoneNumber("Phone numbers from this country are not accepted here.")
