"""Recovery codes: 10 codes of 80 random bits, shown once, stored as keyed digests.

A code is 16 Crockford base32 characters, shown as ``XXXX-XXXX-XXXX-XXXX``.
Input is forgiving (case, dashes, spaces, and the letters Crockford maps to
digits). Digests use HMAC-SHA256 keyed from ``SECRET_KEY``; keys listed in
``SECRET_KEY_FALLBACKS`` are tried too, so rotating the secret key does not
void the codes users printed.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from .models import RecoveryCode

CODE_COUNT = 10
CODE_LENGTH = 16  # characters; 16 x 5 bits = 80 bits
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
_CONFUSABLE = str.maketrans({"I": "1", "L": "1", "O": "0"})
_SALT = "django_authy2fa.recovery.code"


def generate_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def normalize(code: object) -> str | None:
    """Canonical form of typed input, or None when it cannot be a recovery code."""
    if not isinstance(code, str) or len(code) > 64:
        return None
    cleaned = code.upper().replace("-", "").replace(" ", "").translate(_CONFUSABLE)
    if len(cleaned) != CODE_LENGTH or any(ch not in _ALPHABET for ch in cleaned):
        return None
    return cleaned


def _digests(normalized: str) -> list[str]:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [
        salted_hmac(_SALT, normalized, secret=key, algorithm="sha256").hexdigest() for key in keys
    ]


def looks_like_recovery_code(code: object) -> bool:
    return normalize(code) is not None


def replace_codes(user) -> list[str]:
    """Void every existing code of ``user`` and return a fresh set (show it once)."""
    codes = [generate_code() for _ in range(CODE_COUNT)]
    with transaction.atomic():
        RecoveryCode.objects.filter(user=user).delete()
        RecoveryCode.objects.bulk_create(
            RecoveryCode(user=user, digest=_digests(normalize(code))[0]) for code in codes
        )
    return codes


def consume(user, code: object) -> bool:
    """Mark the matching unused code as used; True exactly once per code.

    One indexed lookup and one conditional UPDATE: two requests racing with
    the same code cannot both succeed.
    """
    normalized = normalize(code)
    if normalized is None:
        return False
    used = RecoveryCode.objects.filter(
        user=user, digest__in=_digests(normalized), used_at__isnull=True
    ).update(used_at=timezone.now())
    return used == 1


def remaining(user) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()
