"""Authenticator apps (RFC 6238 TOTP): enrollment, QR code and replay-safe checks.

Parameters follow docs/security.md P1: a 160-bit key from :mod:`secrets`,
SHA-1, 6 digits, 30-second steps, and one step of drift either way. The key is
stored only encrypted (:mod:`.crypto`), bound to its user, and decrypted only
to check a code or to show it once during enrollment.

A code is accepted once: success moves ``last_used_step`` forward with one
conditional UPDATE (``... WHERE last_used_step IS NULL OR last_used_step <
S``), so the same code, or any code of an equal or earlier step, is refused
afterwards, even when two requests race. Time always comes from the server
clock; ``now`` exists for tests.

The QR code is drawn on the server (segno) as inline SVG: the secret never
reaches a third-party QR service.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from .conf import app_settings
from .crypto import DecryptionFailed, decrypt, encrypt
from .exceptions import Authy2FAError, Authy2FAImproperlyInstalled, InvalidTokenFormat
from .models import TOTPAlgorithm, TOTPDevice

try:
    import pyotp
    import segno
except ImportError as err:  # pragma: no cover - exercised without the extra installed
    raise Authy2FAImproperlyInstalled(err.name or "pyotp", "totp") from err

logger = logging.getLogger(__name__)

DIGITS = 6
STEP = 30  # seconds
ALGORITHM = TOTPAlgorithm.SHA1
TOLERANCE = 1  # steps accepted either side of the current one (RFC 6238 section 5.2)
SECRET_BYTES = 20  # 160 bits (RFC 4226 R6)

_DIGESTS = {
    TOTPAlgorithm.SHA1: hashlib.sha1,
    TOTPAlgorithm.SHA256: hashlib.sha256,
    TOTPAlgorithm.SHA512: hashlib.sha512,
}
# Binds a stored secret to its user: a ciphertext copied into another user's
# row does not decrypt to a usable secret there.
_SEAL_PREFIX = "django_authy2fa.totp.v1"


class TOTPError(Authy2FAError):
    """Root of the errors specific to authenticator apps."""


class AlreadyConfirmed(TOTPError):
    """The user already has a confirmed authenticator app; remove it first (with a step-up)."""

    default_message = gettext_noop(
        "An authenticator app is already set up. Remove it first, then set up the new one."
    )


class NoEnrollment(TOTPError):
    """There is no unconfirmed authenticator app to confirm."""

    default_message = gettext_noop("Start setting up the authenticator app again.")


@dataclass(frozen=True)
class Enrollment:
    """What the enrollment page shows once: never log or store it."""

    device: TOTPDevice
    #: ``otpauth://totp/...`` URI (the content of the QR code).
    provisioning_uri: str = field(repr=False)
    #: The base32 secret in groups of four, for typing into an app by hand.
    manual_key: str = field(repr=False)
    #: An inline ``<svg>`` (no XML declaration, scalable) showing the URI as a QR code.
    qr_svg: str = field(repr=False)


# -- secrets ---------------------------------------------------------------------------


def new_secret() -> str:
    """A fresh 160-bit key as unpadded base32 (32 characters)."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii").rstrip("=")


def _seal(user_pk, secret: str) -> str:
    return encrypt(f"{_SEAL_PREFIX}:{user_pk}:{secret}".encode("ascii"))


def _unseal(device: TOTPDevice) -> str:
    """The base32 secret of ``device``; :class:`DecryptionFailed` if it is not this user's."""
    plaintext = decrypt(device.encrypted_secret).decode("ascii", "replace")
    prefix, _, rest = plaintext.partition(":")
    user_pk, _, secret = rest.rpartition(":")
    if prefix != _SEAL_PREFIX or user_pk != str(device.user_id) or not secret:
        raise DecryptionFailed("The stored TOTP secret does not belong to this user.")
    return secret


def group(secret: str, size: int = 4) -> str:
    return " ".join(secret[i : i + size] for i in range(0, len(secret), size))


# -- provisioning ------------------------------------------------------------------------


def issuer_name() -> str:
    """``AUTHY2FA["ISSUER_NAME"]``, else the current Site's name, else "Django"."""
    if app_settings.ISSUER_NAME:
        return app_settings.ISSUER_NAME
    if apps.is_installed("django.contrib.sites"):
        from django.contrib.sites.models import Site

        try:
            name = Site.objects.get_current().name
        except (Site.DoesNotExist, ImproperlyConfigured):  # no row or no SITE_ID
            name = ""
        if name:
            return name
    return "Django"


def provisioning_uri(
    secret: str,
    *,
    account: str,
    issuer: str,
    digits: int = DIGITS,
    step: int = STEP,
    algorithm: str = ALGORITHM,
) -> str:
    """The Key URI Format: ``otpauth://totp/Issuer:account?secret=..&issuer=..&...``.

    Both label parts are percent-encoded entirely (a ":" inside one becomes
    %3A), so the one literal ":" always separates issuer and account.
    """
    label = f"{quote(issuer, safe='')}:{quote(account, safe='')}"
    query = urlencode(
        {
            "secret": secret,
            "issuer": issuer,
            "algorithm": algorithm,
            "digits": digits,
            "period": step,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"


def qr_svg(uri: str) -> str:
    """``uri`` as an inline SVG QR code: black modules on white, 4-module quiet zone.

    No width/height (only a viewBox), so CSS sizes it; no XML declaration, so
    it can go straight into a template (mark it safe: segno escapes nothing
    that comes from users, the URI is encoded in the path data only).
    """
    code = segno.make(uri, error="m", micro=False)
    return code.svg_inline(
        scale=1,
        border=4,
        dark="#000",
        light="#fff",
        omitsize=True,
        svgclass="authy2fa-qr",
        lineclass="authy2fa-qr-modules",
    )


# -- enrollment ---------------------------------------------------------------------------


def get_device(user) -> TOTPDevice | None:
    """The user's app, if any: one per user (a unique key), so no ORDER BY is needed."""
    try:
        return TOTPDevice.objects.get(user=user)
    except TOTPDevice.DoesNotExist:
        return None


def has_confirmed_device(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()


def start_enrollment(user) -> Enrollment:
    """Create (or restart) the user's unconfirmed authenticator app and return what to show.

    Starting again replaces the secret of an unconfirmed app, so only the
    latest QR code works. A confirmed app is never replaced here:
    :class:`AlreadyConfirmed` tells the caller to remove it first (behind a
    step-up).
    """
    secret = new_secret()
    fields = {
        "encrypted_secret": _seal(user.pk, secret),
        "digits": DIGITS,
        "step": STEP,
        "algorithm": ALGORITHM,
    }
    with transaction.atomic():
        device, created = TOTPDevice.objects.get_or_create(user=user, defaults=fields)
        if not created:
            # Conditional: a confirmation racing with this restart wins, and we refuse.
            replaced = TOTPDevice.objects.filter(pk=device.pk, confirmed_at__isnull=True).update(
                **fields
            )
            if not replaced:
                raise AlreadyConfirmed()
            device.refresh_from_db()
    return _enrollment(user, device, secret)


def _enrollment(user, device: TOTPDevice, secret: str) -> Enrollment:
    uri = provisioning_uri(
        secret,
        account=user.get_username(),
        issuer=issuer_name(),
        digits=device.digits,
        step=device.step,
        algorithm=device.algorithm,
    )
    return Enrollment(
        device=device, provisioning_uri=uri, manual_key=group(secret), qr_svg=qr_svg(uri)
    )


def remove(user) -> bool:
    """Delete the user's authenticator app; True when there was one."""
    deleted, _ = TOTPDevice.objects.filter(user=user).delete()
    return bool(deleted)


# -- checking codes -----------------------------------------------------------------------


def _unix_time(now: dt.datetime | float | None) -> int:
    if now is None:
        return int(time.time())
    if isinstance(now, dt.datetime):
        if timezone.is_naive(now):
            raise ValueError("now must be an aware datetime.")
        return int(now.timestamp())
    return int(now)


def _check_format(code: object, digits: int) -> str:
    if not isinstance(code, str) or not re.fullmatch(rf"[0-9]{{{digits}}}", code):
        raise InvalidTokenFormat()
    return code


def _generator(secret: str, *, digits: int, algorithm: str, step: int) -> pyotp.TOTP:
    """The OTP math (RFC 4226 truncation over RFC 6238 counters) comes from pyotp."""
    return pyotp.TOTP(secret, digits=digits, digest=_DIGESTS[algorithm], interval=step)


def _matching_step(device: TOTPDevice, secret: str, code: str, unix_time: int) -> int | None:
    """The highest step within the tolerance whose code equals ``code``, else None.

    Every candidate is computed and compared in constant time; taking the
    highest match means a code that happens to be valid for two steps is
    burnt for both.
    """
    otp = _generator(secret, digits=device.digits, algorithm=device.algorithm, step=device.step)
    current = unix_time // device.step
    matched = None
    for step in range(current - TOLERANCE, current + TOLERANCE + 1):
        if step < 0:
            continue
        if hmac.compare_digest(otp.generate_otp(step).encode(), code.encode()):
            matched = step
    return matched


def _accept(
    device: TOTPDevice, code: object, now, *, confirmed: bool, confirm: bool = False
) -> bool:
    code = _check_format(code, device.digits)
    try:
        secret = _unseal(device)
    except DecryptionFailed:
        logger.error("TOTP secret of device %s cannot be decrypted; code refused.", device.pk)
        raise
    step = _matching_step(device, secret, code, _unix_time(now))
    if step is None:
        return False
    guard = Q(last_used_step__isnull=True) | Q(last_used_step__lt=step)
    rows = TOTPDevice.objects.filter(guard, pk=device.pk, confirmed_at__isnull=not confirmed)
    if confirm:
        # The secret the code was checked against must still be the stored one
        # (a restarted enrollment replaces it; each encryption is unique).
        rows = rows.filter(encrypted_secret=device.encrypted_secret)
        updated = rows.update(last_used_step=step, confirmed_at=timezone.now())
    else:
        updated = rows.update(last_used_step=step)
    if updated != 1:
        # ASVS 4.0.3 V2.8.5: a reused code is refused and logged (never the code itself).
        # The other cause is the app being removed or re-enrolled meanwhile.
        logger.warning(
            "TOTP code refused for user %s: time step %s already used, or the app changed.",
            device.user_id,
            step,
        )
        return False
    return True


def verify(user, code: object, *, now: dt.datetime | float | None = None) -> bool:
    """True exactly once per code of the user's confirmed authenticator app.

    ``code`` must be exactly 6 ASCII digits (:class:`InvalidTokenFormat`
    otherwise). False when the code is wrong, outside the current step +/- 1,
    already used (or older than one used), or when the user has no confirmed
    app. ``now`` is for tests only: in production time is the server's.
    """
    device = get_device(user)
    if device is None or device.confirmed_at is None:
        _check_format(code, DIGITS if device is None else device.digits)
        return False
    return _accept(device, code, now, confirmed=True)


def confirm(user, code: object, *, now: dt.datetime | float | None = None) -> bool:
    """Confirm the enrollment started by :func:`start_enrollment` with a first code.

    True once (and ``confirmed_at`` is set); the code is burnt like any other.
    :class:`NoEnrollment` when there is nothing to confirm,
    :class:`AlreadyConfirmed` when the app is already confirmed.
    """
    device = get_device(user)
    if device is None:
        _check_format(code, DIGITS)
        raise NoEnrollment()
    if device.confirmed_at is not None:
        raise AlreadyConfirmed()
    accepted = _accept(device, code, now, confirmed=False, confirm=True)
    if (
        not accepted
        and TOTPDevice.objects.filter(pk=device.pk, confirmed_at__isnull=False).exists()
    ):
        raise AlreadyConfirmed()
    return accepted


def import_confirmed_device(user, secret: str) -> TOTPDevice:
    """A confirmed app with an existing seed (migration from Authy's TOTP export)."""
    normalized = secret.replace(" ", "").upper()
    try:
        seed = base64.b32decode(normalized + "=" * (-len(normalized) % 8))
    except (ValueError, TypeError) as err:
        raise TOTPError("The exported seed is not base32.") from err
    if len(seed) * 8 < 112:  # NIST SP 800-63B: at least 112 bits
        raise TOTPError("The exported seed is shorter than 112 bits; enroll an app again.")
    fields = {
        "encrypted_secret": _seal(user.pk, normalized),
        "digits": DIGITS,
        "step": STEP,
        "algorithm": ALGORITHM,
        "confirmed_at": timezone.now(),
        "last_used_step": None,
    }
    device, _created = TOTPDevice.objects.update_or_create(user=user, defaults=fields)
    return device


def pending_enrollment(user) -> Enrollment | None:
    """The unconfirmed app's QR code and key again (after a mistyped code), or None."""
    device = get_device(user)
    if device is None or device.is_confirmed:
        return None
    secret = _unseal(device)
    return _enrollment(user, device, secret)
