"""Encryption at rest for TOTP secrets (Fernet: AES-128-CBC + HMAC-SHA256).

Keys come from ``AUTHY2FA["ENCRYPTION_KEYS"]``: a list of Fernet keys where the
first one encrypts and every one decrypts, so a new key goes first and an old
one stays listed until ``manage.py authy2fa_rotate_totp_key`` has re-encrypted
every secret with the new key.

When the list is empty (the default), one key is derived from
``SECRET_KEY`` with HKDF-SHA256 and a fixed, app-specific salt and info. Keys
derived from ``SECRET_KEY_FALLBACKS`` decrypt too, so rotating the secret key
the Django way (old key moved to the fallbacks) keeps every secret readable.

Nothing here ever logs or puts a key, a token or a plaintext in a message.
"""

from __future__ import annotations

import base64
import threading

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.encoding import force_bytes

from .conf import app_settings, setting_path
from .exceptions import Authy2FAConfigurationError, Authy2FAError, Authy2FAImproperlyInstalled

try:
    from cryptography.fernet import Fernet, InvalidToken, MultiFernet
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
except ImportError as err:  # pragma: no cover - exercised without the extra installed
    raise Authy2FAImproperlyInstalled("cryptography", "totp") from err

# Fixed and app-specific: a key derived here is useless anywhere else SECRET_KEY is used.
_HKDF_SALT = b"django_authy2fa.crypto"
_HKDF_INFO = b"django_authy2fa TOTP secret encryption key v1"
_RELOAD_ON = frozenset({"AUTHY2FA", "SECRET_KEY", "SECRET_KEY_FALLBACKS"})


class DecryptionFailed(Authy2FAError):
    """A stored token could not be decrypted with any configured key (or was altered)."""

    default_message = (
        "A stored secret could not be decrypted. Was the encryption key (or SECRET_KEY) "
        "changed without keeping the old one?"
    )


def derive_key(secret_key: str | bytes) -> bytes:
    """The Fernet key this app derives from a Django ``SECRET_KEY``."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(force_bytes(secret_key)))


def _secret_key_derived() -> list[bytes]:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [derive_key(key) for key in keys if key]


def _build(*, accept_derived: bool) -> MultiFernet:
    configured = list(app_settings.ENCRYPTION_KEYS)
    if not configured:
        keys = _secret_key_derived()
        if not keys:
            raise Authy2FAConfigurationError(
                f"SECRET_KEY is empty and {setting_path('ENCRYPTION_KEYS')} is not set: "
                "there is no key to encrypt TOTP secrets with."
            )
    else:
        keys = configured + (_secret_key_derived() if accept_derived else [])
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except (TypeError, ValueError):  # conf.py validates; this is a safety net
        raise Authy2FAConfigurationError(
            f"{setting_path('ENCRYPTION_KEYS')} holds an invalid Fernet key."
        ) from None


_lock = threading.Lock()
_cached: MultiFernet | None = None


def _multi() -> MultiFernet:
    global _cached
    cached = _cached
    if cached is None:
        with _lock:
            if _cached is None:
                _cached = _build(accept_derived=False)
            cached = _cached
    return cached


def reset() -> None:
    """Forget the cached keys; the next call reads the settings again."""
    global _cached
    with _lock:
        _cached = None


def _primary() -> Fernet:
    configured = app_settings.ENCRYPTION_KEYS
    return Fernet(configured[0] if configured else derive_key(settings.SECRET_KEY))


def encrypt(plaintext: bytes) -> str:
    """Encrypt with the current (first) key; the result is ASCII, safe for a TextField."""
    if not isinstance(plaintext, bytes):
        raise TypeError("encrypt() takes bytes.")
    return _multi().encrypt(plaintext).decode("ascii")


def _decrypt_with(multi: MultiFernet, token: str) -> bytes:
    if not isinstance(token, str) or not token:
        raise DecryptionFailed()
    try:
        return multi.decrypt(token.encode("ascii"))
    except (InvalidToken, UnicodeEncodeError, TypeError, ValueError):
        raise DecryptionFailed() from None


def decrypt(token: str) -> bytes:
    """The plaintext of ``token``; :class:`DecryptionFailed` if no key opens it intact."""
    return _decrypt_with(_multi(), token)


def is_current(token: str) -> bool:
    """True when ``token`` is already encrypted with the current (first) key."""
    try:
        _primary().decrypt(token.encode("ascii"))
    except (InvalidToken, UnicodeEncodeError, AttributeError, TypeError, ValueError):
        return False
    return True


def rotate(token: str, *, accept_derived: bool = False) -> str:
    """Re-encrypt ``token`` with the current first key (any configured key may open it).

    ``accept_derived=True`` also lets the keys derived from ``SECRET_KEY`` and
    ``SECRET_KEY_FALLBACKS`` open it: use it once, when moving from the default
    (derived) key to explicit ``ENCRYPTION_KEYS``. It changes nothing when
    ``ENCRYPTION_KEYS`` is empty, since those keys are then the only ones.
    """
    multi = _build(accept_derived=True) if accept_derived else _multi()
    plaintext = _decrypt_with(multi, token)
    return _primary().encrypt(plaintext).decode("ascii")


def _reset_on_change(*, setting: str, **kwargs) -> None:
    if setting in _RELOAD_ON:
        reset()


setting_changed.connect(_reset_on_change, dispatch_uid="django_authy2fa.crypto.reset")
