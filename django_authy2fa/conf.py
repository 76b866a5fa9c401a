"""The app's settings: one ``AUTHY2FA`` dict in the project's settings.

Every key has a documented default (see ``DEFAULTS`` and docs/settings.md).
Access goes through :data:`app_settings`, which

* reads the dict lazily and validates it once (unknown keys and wrong types
  raise an error that names the exact setting, with a suggestion for typos),
* offers one typed property per setting,
* resolves import strings once and memoises the result,
* reloads itself when tests change ``AUTHY2FA`` (``override_settings``).
"""

from __future__ import annotations

import base64
import binascii
import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from .exceptions import Authy2FAConfigurationError

SETTING_NAME = "AUTHY2FA"

#: Methods a user can use for the second step, in the order pages offer them.
ALL_METHODS = ("totp", "sms", "call", "push", "recovery")

#: Thresholds from docs/security.md; every one can be overridden in ``THROTTLE``.
THROTTLE_DEFAULTS: dict[str, int] = {
    # Wrong codes
    "PENDING_LOGIN_MAX_FAILURES": 5,  # then the password is asked again
    "ACCOUNT_LOCK_AFTER": 10,  # consecutive failures across methods and sessions
    "ACCOUNT_LOCK_SECONDS": 15 * 60,
    "ACCOUNT_HARD_LOCK_AFTER": 20,  # until an admin or a recovery code unlocks
    "IP_MAX_FAILURES": 20,
    "IP_WINDOW_SECONDS": 10 * 60,
    "IP_BLOCK_SECONDS": 15 * 60,
    "IP_MAX_FAILURES_PER_DAY": 100,
    # Sends (SMS and voice)
    "SEND_COOLDOWN_SECONDS": 30,
    "SENDS_PER_HOUR": 5,
    "SENDS_PER_DAY": 10,
    "CALLS_PER_DAY": 3,
    "PHONE_SENDS_PER_HOUR": 5,
    "PHONE_SENDS_PER_DAY": 10,
    "IP_SENDS_PER_HOUR": 10,
    "IP_SENDS_PER_DAY": 50,
    # Password step (counted for unknown usernames too, so answers do not differ).
    # The block is per username *and* IP, so an attacker elsewhere cannot lock
    # the owner out; a much higher cap per username slows distributed guessing.
    "PASSWORD_FAILURES_PER_USERNAME": 10,
    "PASSWORD_FAILURES_PER_USERNAME_ALL_IPS": 100,
    "PASSWORD_FAILURES_PER_IP": 50,
    "PASSWORD_WINDOW_SECONDS": 15 * 60,
    # Push
    "PUSHES_PER_TEN_MINUTES": 3,
    "PUSHES_PER_DAY": 10,
    # Provider circuit breaker: skip the provider after this many consecutive
    # failures (timeouts, 5xx, unusable answers), for this many seconds.
    "CIRCUIT_FAILURES": 5,
    "CIRCUIT_COOLOFF_SECONDS": 60,
}

DEFAULTS: dict[str, Any] = {
    # Import string of the remote provider that enrolls phones and sends codes.
    "PROVIDER": None,
    # Options passed to the provider (keys, SIDs, timeouts). Read them from the
    # environment; never commit them.
    "PROVIDER_OPTIONS": {},
    # Who must use a second factor: None (only users who enrolled), "staff",
    # "all", or an import string of a callable ``(user) -> bool``.
    "REQUIRED_FOR": None,
    "METHODS": list(ALL_METHODS),
    # Seconds between the password step and the code step (at most 10 minutes).
    "PENDING_TIMEOUT": 300,
    "TRUSTED_BROWSER_DAYS": 30,
    # Lifetime of API tokens in seconds (12 hours, NIST's AAL2 re-authentication bound).
    "API_TOKEN_TTL": 12 * 3600,
    # Codes that the app itself generates (console and test providers).
    "CODE_LENGTH": 6,
    "CODE_VALIDITY": 300,
    # Region assumed for phone numbers typed without "+country code" (e.g. "US").
    "PHONE_DEFAULT_REGION": None,
    # ISO regions a phone number may belong to; None allows every region.
    "PHONE_ALLOWED_REGIONS": None,
    # Number of reverse proxies whose X-Forwarded-For entries are trusted.
    "TRUSTED_PROXY_COUNT": 0,
    # Name shown in push requests and authenticator apps; defaults to the site.
    "ISSUER_NAME": None,
    "THROTTLE": {},
    # Fernet keys that encrypt TOTP secrets at rest: the first encrypts, all decrypt
    # (list a new key first, run ``manage.py authy2fa_rotate_totp_key``, then drop
    # the old one). Empty: a key derived from SECRET_KEY (and SECRET_KEY_FALLBACKS).
    # Read them from the environment; never commit them.
    "ENCRYPTION_KEYS": [],
}

IMPORT_STRINGS = ("PROVIDER",)


@dataclass(frozen=True)
class _IntRule:
    minimum: int
    maximum: int | None = None


INT_RULES: dict[str, _IntRule] = {
    "PENDING_TIMEOUT": _IntRule(30, 600),
    "TRUSTED_BROWSER_DAYS": _IntRule(0, 365),
    "API_TOKEN_TTL": _IntRule(60, 30 * 86400),
    "CODE_LENGTH": _IntRule(6, 10),
    "CODE_VALIDITY": _IntRule(30, 600),
    "TRUSTED_PROXY_COUNT": _IntRule(0, 10),
}


def _is_fernet_key(key: Any) -> bool:
    """What ``cryptography.fernet.Fernet`` accepts: url-safe base64 of 32 bytes."""
    if isinstance(key, str):
        if not key.isascii():
            return False
        key = key.encode("ascii")
    if not isinstance(key, bytes):
        return False
    try:
        return len(base64.urlsafe_b64decode(key)) == 32
    except (binascii.Error, ValueError):
        return False


def setting_path(*keys: str) -> str:
    """Spell a nested setting the way a developer types it: AUTHY2FA['A']['B']."""
    return SETTING_NAME + "".join(f"[{key!r}]" for key in keys)


def _unknown_key_error(key: str, known: Mapping[str, Any], *parents: str) -> str:
    message = f"Unknown setting {setting_path(*parents, key)}."
    close = difflib.get_close_matches(key, list(known), n=1)
    if close:
        message += f" Did you mean {setting_path(*parents, close[0])}?"
    return message


class AppSettings:
    """Typed, validated, reloadable view over ``settings.AUTHY2FA``."""

    def __init__(self, user_settings: Mapping[str, Any] | None = None) -> None:
        self._explicit = user_settings
        self._imported: dict[str, Any] = {}

    # -- loading ---------------------------------------------------------------------

    @cached_property
    def _user_settings(self) -> dict[str, Any]:
        raw = self._explicit
        if raw is None:
            raw = getattr(settings, SETTING_NAME, {}) or {}
        if not isinstance(raw, Mapping):
            raise Authy2FAConfigurationError(
                f"settings.{SETTING_NAME} must be a dict, not {type(raw).__name__}."
            )
        for key in raw:
            if key not in DEFAULTS:
                raise Authy2FAConfigurationError(_unknown_key_error(key, DEFAULTS))
        return dict(raw)

    def _get(self, key: str) -> Any:
        return self._user_settings.get(key, DEFAULTS[key])

    def _int(self, key: str) -> int:
        value = self._get(key)
        rule = INT_RULES[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < rule.minimum
            or (rule.maximum is not None and value > rule.maximum)
        ):
            bounds = f"between {rule.minimum} and {rule.maximum}"
            raise Authy2FAConfigurationError(
                f"{setting_path(key)} must be an integer {bounds}, not {value!r}."
            )
        return value

    def reload(self) -> None:
        """Forget everything read or imported; the next access reads settings again."""
        self.__dict__.pop("_user_settings", None)
        self._imported.clear()

    # -- import strings ---------------------------------------------------------------

    def _import(self, key: str) -> Any:
        if key not in self._imported:
            dotted = self._get(key)
            try:
                self._imported[key] = import_string(dotted)
            except ImportError as err:
                raise Authy2FAConfigurationError(
                    f"{setting_path(key)} = {dotted!r} could not be imported: {err}"
                ) from err
        return self._imported[key]

    # -- typed settings ---------------------------------------------------------------

    @property
    def PROVIDER(self) -> str | None:
        return self._get("PROVIDER")

    @property
    def provider_class(self) -> type:
        """The configured provider class, imported once."""
        if not self.PROVIDER:
            raise Authy2FAConfigurationError(
                f"{setting_path('PROVIDER')} is not set. Add the import string of a "
                "provider, e.g. 'django_authy2fa.providers.console.ConsoleProvider' for "
                "development or 'django_authy2fa.providers.authy.AuthyProvider'."
            )
        return self._import("PROVIDER")

    @property
    def PROVIDER_OPTIONS(self) -> dict[str, Any]:
        options = self._get("PROVIDER_OPTIONS")
        if not isinstance(options, Mapping):
            raise Authy2FAConfigurationError(f"{setting_path('PROVIDER_OPTIONS')} must be a dict.")
        return dict(options)

    @property
    def REQUIRED_FOR(self) -> str | None:
        value = self._get("REQUIRED_FOR")
        if value not in (None, "staff", "all") and not (isinstance(value, str) and "." in value):
            raise Authy2FAConfigurationError(
                f"{setting_path('REQUIRED_FOR')} must be None, 'staff', 'all' or the import "
                f"string of a callable, not {value!r}."
            )
        return value

    @property
    def required_for_callable(self) -> Callable[[Any], bool] | None:
        """The policy callable when ``REQUIRED_FOR`` is an import string."""
        value = self.REQUIRED_FOR
        if value in (None, "staff", "all"):
            return None
        try:
            return self._imported.setdefault("REQUIRED_FOR", import_string(value))
        except ImportError as err:
            raise Authy2FAConfigurationError(
                f"{setting_path('REQUIRED_FOR')} = {value!r} could not be imported: {err}"
            ) from err

    @property
    def METHODS(self) -> tuple[str, ...]:
        methods = self._get("METHODS")
        if isinstance(methods, str) or not all(m in ALL_METHODS for m in methods):
            raise Authy2FAConfigurationError(
                f"{setting_path('METHODS')} must be a list drawn from {list(ALL_METHODS)}, "
                f"not {methods!r}."
            )
        return tuple(methods)

    @property
    def PENDING_TIMEOUT(self) -> int:
        return self._int("PENDING_TIMEOUT")

    @property
    def TRUSTED_BROWSER_DAYS(self) -> int:
        return self._int("TRUSTED_BROWSER_DAYS")

    @property
    def API_TOKEN_TTL(self) -> int:
        return self._int("API_TOKEN_TTL")

    @property
    def CODE_LENGTH(self) -> int:
        return self._int("CODE_LENGTH")

    @property
    def CODE_VALIDITY(self) -> int:
        return self._int("CODE_VALIDITY")

    @property
    def PHONE_DEFAULT_REGION(self) -> str | None:
        region = self._get("PHONE_DEFAULT_REGION")
        if region is not None and not (isinstance(region, str) and len(region) == 2):
            raise Authy2FAConfigurationError(
                f"{setting_path('PHONE_DEFAULT_REGION')} must be a two-letter region code "
                f"such as 'US', not {region!r}."
            )
        return region.upper() if region else None

    @property
    def PHONE_ALLOWED_REGIONS(self) -> frozenset[str] | None:
        regions = self._get("PHONE_ALLOWED_REGIONS")
        if regions is None:
            return None
        if isinstance(regions, str) or not all(isinstance(r, str) and len(r) == 2 for r in regions):
            raise Authy2FAConfigurationError(
                f"{setting_path('PHONE_ALLOWED_REGIONS')} must be None or a list of "
                f"two-letter region codes, not {regions!r}."
            )
        return frozenset(r.upper() for r in regions)

    @property
    def TRUSTED_PROXY_COUNT(self) -> int:
        return self._int("TRUSTED_PROXY_COUNT")

    @property
    def ISSUER_NAME(self) -> str | None:
        return self._get("ISSUER_NAME")

    @property
    def THROTTLE(self) -> dict[str, int]:
        overrides = self._get("THROTTLE")
        if not isinstance(overrides, Mapping):
            raise Authy2FAConfigurationError(f"{setting_path('THROTTLE')} must be a dict.")
        merged = dict(THROTTLE_DEFAULTS)
        for key, value in overrides.items():
            if key not in THROTTLE_DEFAULTS:
                raise Authy2FAConfigurationError(
                    _unknown_key_error(key, THROTTLE_DEFAULTS, "THROTTLE")
                )
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise Authy2FAConfigurationError(
                    f"{setting_path('THROTTLE', key)} must be a positive integer, not {value!r}."
                )
            merged[key] = value
        return merged

    @property
    def ENCRYPTION_KEYS(self) -> tuple[bytes, ...]:
        """The configured Fernet keys as bytes, checked without importing cryptography."""
        keys = self._get("ENCRYPTION_KEYS")
        if isinstance(keys, (str, bytes)) or not isinstance(keys, (list, tuple)):
            raise Authy2FAConfigurationError(
                f"{setting_path('ENCRYPTION_KEYS')} must be a list of Fernet keys, "
                f"not {type(keys).__name__}."
            )
        checked = []
        for index, key in enumerate(keys):
            # The message never includes the key itself.
            if not _is_fernet_key(key):
                raise Authy2FAConfigurationError(
                    f"{setting_path('ENCRYPTION_KEYS')}[{index}] is not a valid Fernet key "
                    "(32 url-safe base64-encoded bytes). Generate one with "
                    "cryptography.fernet.Fernet.generate_key()."
                )
            checked.append(key.encode("ascii") if isinstance(key, str) else bytes(key))
        if len(set(checked)) != len(checked):
            raise Authy2FAConfigurationError(
                f"{setting_path('ENCRYPTION_KEYS')} lists the same key twice."
            )
        return tuple(checked)

    def validate(self) -> None:
        """Read every setting once so that any mistake surfaces (used by system checks)."""
        for name in DEFAULTS:
            getattr(self, name)
        self.required_for_callable  # noqa: B018 - imported for its error


app_settings = AppSettings()


def _reload_on_change(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        app_settings.reload()


setting_changed.connect(_reload_on_change, dispatch_uid="django_authy2fa.conf.reload")
