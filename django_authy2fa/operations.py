"""What administrators do to two-factor state, for the management commands and site code.

The ``authy2fa_*`` management commands only parse arguments and print; the work
is here, so a site's own admin pages, scripts or health endpoints can reuse it.

* Changes (:func:`reset_two_factor`, :func:`unlock_user`) go through the same
  flows as the admin actions (:func:`~django_authy2fa.flows.disable`,
  :func:`~django_authy2fa.flows.unlock`), so the audit events, the signals and
  the version bump that voids other sessions, trusted browsers and API tokens
  are the same whichever way an administrator acts.
* Reports (:func:`status_report`, :func:`recent_events`,
  :func:`provider_configuration`) hold no secret: phone numbers are masked,
  credentials in the provider options appear only as "set" or "not set", and
  audit details are scrubbed again before they are shown.
* Only :func:`ping_provider` and :func:`send_test_code` reach the network.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from . import flows
from .audit import ClientInfo
from .conf import app_settings
from .exceptions import (
    Authy2FAConfigurationError,
    Authy2FAError,
    InvalidInput,
    ProviderAuthenticationFailed,
    ProviderDeliveryFailed,
    ProviderError,
    ProviderPhoneRejected,
    ProviderThrottled,
    ProviderUnavailable,
    ProviderUserNotFound,
)
from .models import (
    APIToken,
    AuditEvent,
    EventType,
    LoginChallenge,
    RecoveryCode,
    TOTPDevice,
    TrustedBrowser,
    TwoFactorProfile,
)
from .phone import mask_e164

__all__ = [
    "MAX_REASON_LENGTH",
    "OperationError",
    "UnknownUser",
    "UnlockResult",
    "UserSummary",
    "command_client",
    "describe_provider_error",
    "describe_user",
    "find_user",
    "parse_since",
    "ping_provider",
    "provider_configuration",
    "recent_events",
    "reset_two_factor",
    "safe_details",
    "send_test_code",
    "status_report",
    "unlock_user",
]

#: Longest administrator's note kept on an audit event.
MAX_REASON_LENGTH = 500
# Audit details are shown at most this long: enough for any note, not a dump.
_MAX_DETAIL_LENGTH = 500
_E164_ANYWHERE = re.compile(r"\+[1-9][0-9]{6,14}(?![0-9])")
# Detail keys never shown, whatever they hold (split on "_": "api_key" -> "key").
_SECRET_WORDS = frozenset({"code", "codes", "key", "otp", "password", "pin", "secret", "seed"})
_SECRET_WORDS |= {"token", "tokens"}
_SAFE_KEYS = frozenset({"error_code", "status_code"})
# Provider options shown only as set / not set, and identifiers shown shortened.
_CREDENTIAL_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD")
_SINCE_RELATIVE = re.compile(r"([0-9]{1,6})([smhdw])", re.ASCII)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_VERIFY_SID = re.compile(r"VE[0-9a-fA-F]{32}", re.ASCII)


class OperationError(Authy2FAError):
    """An administrative operation was refused; nothing was changed."""


class UnknownUser(OperationError, LookupError):
    """No user matches the given username or id."""


# -- users -------------------------------------------------------------------------------


def find_user(username: str | None = None, *, user_id: Any = None) -> Any:
    """The user with this ``USERNAME_FIELD`` value, or this primary key.

    Raises :class:`UnknownUser` (with a message naming what was looked for)
    when there is none, and :class:`InvalidInput` unless exactly one is given.
    """
    if (username is None) == (user_id is None):
        raise InvalidInput("Give a username or an id, not both.")
    model = get_user_model()
    if user_id is not None:
        try:
            pk = model._meta.pk.to_python(user_id)
            return model._default_manager.get(pk=pk)
        except (ValidationError, ValueError, TypeError, model.DoesNotExist):
            raise UnknownUser(f"No user with id {user_id!r}.") from None
    try:
        return model._default_manager.get_by_natural_key(username)
    except model.DoesNotExist:
        field = model.USERNAME_FIELD
        raise UnknownUser(f"No user with {field} {username!r}.") from None


def user_label(user: Any) -> str:
    """How reports name a user: the ``USERNAME_FIELD`` value, or ``#id`` when it is empty."""
    if user is None:
        return ""
    return str(getattr(user, user.USERNAME_FIELD, "") or f"#{user.pk}")


@dataclass(frozen=True)
class UserSummary:
    """A user's two-factor state, safe to print: the phone is masked."""

    user_id: Any
    username: str
    has_profile: bool
    enabled: bool
    masked_phone: str
    has_authy_id: bool
    default_method: str
    authenticator_app: bool
    recovery_codes_left: int
    trusted_browsers: int
    api_tokens: int
    open_challenges: int
    failure_count: int
    locked_until: dt.datetime | None
    hard_locked: bool

    @property
    def locked(self) -> bool:
        return self.hard_locked or (
            self.locked_until is not None and self.locked_until > timezone.now()
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["locked"] = self.locked
        return data


def describe_user(user: Any, now: dt.datetime | None = None) -> UserSummary:
    """What a reset would remove and what an unlock would clear, for this user."""
    now = now or timezone.now()
    profile = TwoFactorProfile.objects.filter(user=user).first()
    return UserSummary(
        user_id=user.pk,
        username=user_label(user),
        has_profile=profile is not None,
        enabled=bool(profile and profile.is_enabled),
        masked_phone=profile.masked_phone if profile else "",
        has_authy_id=bool(profile and profile.authy_id),
        default_method=profile.default_method if profile else "",
        authenticator_app=TOTPDevice.objects.filter(user=user).exists(),
        recovery_codes_left=RecoveryCode.objects.filter(user=user, used_at__isnull=True).count(),
        trusted_browsers=TrustedBrowser.objects.filter(
            user=user, revoked_at__isnull=True, expires_at__gt=now
        ).count(),
        api_tokens=APIToken.objects.filter(
            user=user, revoked_at__isnull=True, expires_at__gt=now
        ).count(),
        open_challenges=LoginChallenge.objects.open(now).filter(user=user).count(),
        failure_count=profile.failure_count if profile else 0,
        locked_until=profile.locked_until if profile else None,
        hard_locked=bool(profile and profile.hard_locked_at),
    )


def command_client(command: str) -> ClientInfo:
    """The audit "client" of a management command: no IP, the command as user agent."""
    return ClientInfo(ip=None, user_agent=f"manage.py {command}"[:255])


def clean_reason(reason: Any, *, required: bool) -> str:
    """An administrator's note: one line of text, at most :data:`MAX_REASON_LENGTH`."""
    text = " ".join(str(reason or "").split())
    if required and not text:
        raise InvalidInput("Give a reason; it is kept in the audit event.")
    if len(text) > MAX_REASON_LENGTH:
        raise InvalidInput(f"The reason is longer than {MAX_REASON_LENGTH} characters.")
    return _E164_ANYWHERE.sub(lambda match: mask_e164(match.group()), text)


def reset_two_factor(
    user: Any, *, reason: str, actor: Any = None, client: ClientInfo | None = None
) -> UserSummary:
    """Turn the user's two-factor authentication off, as the admin's "reset" action does.

    The phone (and Authy ID), the authenticator app, recovery codes and
    trusted browsers go; the version bump voids other sessions' verification
    and every API token. The audit event is ``reset`` with ``reason`` and
    ``actor`` (the administrator's account, if any). Returns the state
    before the reset. Raises :class:`~django_authy2fa.exceptions.CacheUnavailable`
    (and changes nothing) when the shared cache cannot be updated.
    """
    reason = clean_reason(reason, required=True)
    before = describe_user(user)
    flows.disable(user, client or ClientInfo(), actor=actor, reason=reason)
    return before


@dataclass(frozen=True)
class UnlockResult:
    """What :func:`unlock_user` found and did."""

    before: UserSummary
    unlocked: bool

    @property
    def message(self) -> str:
        if not self.before.has_profile:
            return f"{self.before.username} has no two-factor profile; nothing to unlock."
        if not self.unlocked:
            return f"{self.before.username} is not locked and has no failures; nothing changed."
        return (
            f"Unlocked {self.before.username} (failures were {self.before.failure_count}"
            f"{', hard lock' if self.before.hard_locked else ''})."
        )


def unlock_user(
    user: Any, *, reason: str = "", actor: Any = None, client: ClientInfo | None = None
) -> UnlockResult:
    """Clear the user's failure counter and locks, as the admin's "unlock" action does.

    A user with nothing to clear is left alone (no audit event).
    """
    reason = clean_reason(reason, required=False)
    before = describe_user(user)
    clear = before.failure_count == 0 and before.locked_until is None and not before.hard_locked
    if not before.has_profile or clear:
        return UnlockResult(before, unlocked=False)
    flows.unlock(user, client or ClientInfo(), actor=actor, reason=reason)
    return UnlockResult(before, unlocked=True)


# -- status --------------------------------------------------------------------------------


def status_report(now: dt.datetime | None = None, *, locked_limit: int = 20) -> dict[str, Any]:
    """Counts for an operator's dashboard; reads the database and the cache, never the network."""
    now = now or timezone.now()
    user_model = get_user_model()
    enabled = TwoFactorProfile.objects.enabled()
    by_method = {
        row["default_method"] or "none": row["n"]
        for row in enabled.values("default_method").annotate(n=Count("id")).order_by()
    }
    locked = TwoFactorProfile.objects.locked().select_related("user").order_by("-last_failure_at")
    hard = locked.filter(hard_locked_at__isnull=False).count()
    total_locked = locked.count()
    users_total = user_model._default_manager.count()
    enabled_count = enabled.count()
    return {
        "generated_at": now,
        "users": {
            "total": users_total,
            "two_factor_on": enabled_count,
            "two_factor_off": users_total - enabled_count,
            "required_without_two_factor": _required_without(enabled),
        },
        "methods": {
            "default_method": dict(sorted(by_method.items())),
            "phone_confirmed": enabled.filter(phone_confirmed_at__isnull=False).count(),
            "authy_id": enabled.filter(authy_id__isnull=False).count(),
            "authenticator_app": TOTPDevice.objects.filter(confirmed_at__isnull=False).count(),
            "with_recovery_codes": RecoveryCode.objects.filter(used_at__isnull=True)
            .values("user_id")
            .distinct()
            .count(),
        },
        "locks": {
            "locked": total_locked,
            "hard": hard,
            "temporary": total_locked - hard,
            "users": [
                {
                    "user": user_label(profile.user),
                    "user_id": profile.user_id,
                    "hard": profile.hard_locked_at is not None,
                    "locked_until": profile.locked_until,
                    "failures": profile.failure_count,
                }
                for profile in locked[:locked_limit]
            ],
        },
        "pending_challenges": {
            row["purpose"]: row["n"]
            for row in LoginChallenge.objects.open(now)
            .values("purpose")
            .annotate(n=Count("id"))
            .order_by()
        },
        "trusted_browsers": TrustedBrowser.objects.filter(
            revoked_at__isnull=True, expires_at__gt=now
        ).count(),
        "api_tokens": APIToken.objects.filter(revoked_at__isnull=True, expires_at__gt=now).count(),
        "provider": provider_health(),
    }


def _required_without(enabled: Any) -> int | None:
    """Users the policy requires to have 2FA who have not set it up (None: cannot tell)."""
    try:
        policy = app_settings.REQUIRED_FOR
    except Authy2FAConfigurationError:
        return None
    model = get_user_model()
    users = model._default_manager.exclude(pk__in=enabled.values("user_id"))
    names = {field.name for field in model._meta.get_fields()}
    if "is_active" in names:
        users = users.filter(is_active=True)
    if policy == "all":
        return users.count()
    if policy == "staff" and "is_staff" in names:
        return users.filter(is_staff=True).count()
    if policy is None:
        return 0
    return None  # a callable policy: asking it about every user is not a status check


def provider_health() -> dict[str, Any]:
    """The configured provider and its circuit breaker state, without a network call."""
    from .providers import circuit_state, get_provider

    report: dict[str, Any] = {"setting": app_settings.PROVIDER}
    if not app_settings.PROVIDER:
        return {**report, "configured": False, "error": "AUTHY2FA['PROVIDER'] is not set."}
    try:
        provider = get_provider()
    except Authy2FAConfigurationError as err:
        return {**report, "configured": False, "error": str(err)}
    circuit = circuit_state(provider)
    return {
        **report,
        "configured": True,
        "name": provider.name,
        "channels": sorted(str(channel) for channel in provider.channels),
        "circuit": {key: circuit.get(key) for key in _CIRCUIT_KEYS if key in circuit},
    }


_CIRCUIT_KEYS = (
    "state",
    "failures",
    "threshold",
    "cooloff_seconds",
    "retry_after",
    "trial_in_progress",
    "error",
)


# -- events --------------------------------------------------------------------------------


def parse_since(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """``30m``, ``24h``, ``7d``, ``2w`` before now, or an ISO date or date-time.

    A date or a date-time without an offset is in the current time zone.
    """
    now = now or timezone.now()
    value = (text or "").strip()
    match = _SINCE_RELATIVE.fullmatch(value)
    if match:
        return now - dt.timedelta(seconds=int(match[1]) * _UNITS[match[2]])
    try:
        moment = parse_datetime(value)
        day = None if moment else parse_date(value)
    except ValueError:
        moment = day = None
    if day is not None:
        moment = dt.datetime.combine(day, dt.time.min)
    if moment is None:
        raise InvalidInput(
            f"Cannot read --since {text!r}: use e.g. 30m, 24h, 7d, 2w, 2024-05-01 "
            "or 2024-05-01T12:00:00+00:00."
        )
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def event_kinds() -> list[str]:
    """Every audit event type, as stored."""
    return [choice.value for choice in EventType]


def recent_events(
    *,
    user: Any = None,
    kinds: Iterable[str] = (),
    since: dt.datetime | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """The newest audit events first, as dicts safe to print or serialise."""
    kinds = list(kinds)
    unknown = sorted(set(kinds) - set(event_kinds()))
    if unknown:
        raise InvalidInput(
            f"Unknown event type {', '.join(unknown)}; choose from {', '.join(event_kinds())}."
        )
    if limit < 1:
        raise InvalidInput("The limit must be at least 1.")
    events = AuditEvent.objects.select_related("user", "actor").order_by("-created_at", "-pk")
    if user is not None:
        events = events.filter(user=user)
    if kinds:
        events = events.filter(event__in=kinds)
    if since is not None:
        events = events.filter(created_at__gte=since)
    return [_event_dict(event) for event in events[:limit]]


def _event_dict(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.pk,
        "time": event.created_at,
        "event": event.event,
        "description": str(event.get_event_display()),
        "user": user_label(event.user) if event.user_id else None,
        "user_id": event.user_id,
        "method": event.method,
        "ip": event.ip_address,
        "user_agent": _scrub_text(event.user_agent),
        "actor": user_label(event.actor) if event.actor_id else None,
        "details": safe_details(event.details),
    }


def safe_details(details: Any) -> Any:
    """Audit details as shown to operators.

    Events are written without secrets; this is the second line: values under
    a key that names a secret are replaced, any full phone number is masked,
    and long text is cut.
    """
    if isinstance(details, Mapping):
        return {
            str(key): "[hidden]" if _names_secret(str(key)) else safe_details(value)
            for key, value in details.items()
        }
    if isinstance(details, (list, tuple)):
        return [safe_details(value) for value in details]
    if isinstance(details, str):
        return _scrub_text(details)
    return details


def _names_secret(key: str) -> bool:
    lowered = key.lower()
    if lowered in _SAFE_KEYS:
        return False
    return any(part in _SECRET_WORDS for part in re.split(r"[^a-z0-9]+", lowered))


def _scrub_text(text: str) -> str:
    masked = _E164_ANYWHERE.sub(lambda match: mask_e164(match.group()), text)
    if len(masked) > _MAX_DETAIL_LENGTH:
        masked = masked[: _MAX_DETAIL_LENGTH - 1] + "…"
    return masked


# -- the provider ------------------------------------------------------------------------------


def provider_configuration() -> dict[str, Any]:
    """The provider setting, its options (credentials hidden) and the checks that concern it.

    Raises :class:`~django_authy2fa.exceptions.Authy2FAConfigurationError`
    when ``AUTHY2FA`` cannot be read at all.
    """
    from .checks import check_settings

    report: dict[str, Any] = {
        "setting": app_settings.PROVIDER,
        "options": {
            name: _shown_option(name, value)
            for name, value in sorted(app_settings.PROVIDER_OPTIONS.items())
        },
        "checks": [
            {"id": message.id, "level": _level(message.level), "message": message.msg}
            for message in check_settings()
        ],
    }
    if app_settings.PROVIDER:
        provider_class = app_settings.provider_class
        report.update(
            name=getattr(provider_class, "name", "") or provider_class.__name__,
            channels=sorted(str(c) for c in getattr(provider_class, "channels", ())),
            needs_enrollment=bool(getattr(provider_class, "needs_enrollment", False)),
        )
    return report


def _level(level: int) -> str:
    from django.core import checks

    names = {checks.ERROR: "error", checks.WARNING: "warning", checks.CRITICAL: "critical"}
    return names.get(level, "info")


def _shown_option(name: str, value: Any) -> str:
    if any(word in name.upper() for word in _CREDENTIAL_WORDS):
        return "set" if value not in (None, "") else "not set"
    if name.upper().endswith("SID") and isinstance(value, str) and len(value) > 8:
        # Identifiers, not secrets, but no need to print them whole.
        return f"{value[:2]}…{value[-4:]}"
    return repr(value)


def _unwrapped_provider() -> Any:
    """The configured provider without its circuit breaker: a probe must reach the provider."""
    from .providers import get_provider

    provider = get_provider()
    return getattr(provider, "wrapped_provider", provider)


def ping_provider() -> dict[str, Any]:
    """Ask the provider's API about the site's own account; nothing is sent to anyone.

    Authy: ``GET /protected/json/app/details``; Verify: ``GET /v2/Services/{sid}``.
    Local providers (console, tests) have nothing to ask: ``{"supported": False}``.
    Provider errors propagate (see :func:`describe_provider_error`).
    """
    from .clients.authy import AuthyClient
    from .clients.verify import VerifyClient

    provider = _unwrapped_provider()
    client = getattr(provider, "client", None)
    if isinstance(client, AuthyClient):
        app = client.app_details()
        return {
            "supported": True,
            "provider": provider.name,
            "endpoint": "GET /protected/json/app/details",
            "application": app.name,
            "plan": app.plan,
            "sms_enabled": app.sms_enabled,
        }
    if isinstance(client, VerifyClient):
        service = client.fetch_service()
        return {
            "supported": True,
            "provider": provider.name,
            "endpoint": "GET /v2/Services/{ServiceSid}",
            "service": service.friendly_name,
            "code_length": service.code_length,
        }
    return {"supported": False, "provider": provider.name}


def send_test_code(to: str, channel: str = "sms", *, email: str = "") -> dict[str, Any]:
    """Send a real code to ``to`` (E.164) through the configured provider.

    The circuit breaker is bypassed: the point is to find out whether the
    provider answers now. Providers that register phones first (Authy) need
    ``email``; the number is registered (Authy returns the same ID for a
    number it knows). The code is not kept anywhere: it only proves delivery.
    Provider errors propagate (see :func:`describe_provider_error`).
    """
    from .phone import parse_phone
    from .providers.base import Channel, Recipient

    if not isinstance(to, str) or not to.strip().startswith("+"):
        raise InvalidInput("Give the number in E.164 form, e.g. +14155550123.")
    phone = parse_phone(to.strip(), mobile_only=False).e164
    provider = _unwrapped_provider()
    delivery = provider.ensure_channel(channel)
    if delivery is Channel.PUSH:
        raise InvalidInput("A test can send an SMS or a voice call, not a push.")
    recipient = Recipient(phone=phone, email=email)
    provider_user_id = None
    if provider.needs_enrollment:
        if not email:
            raise InvalidInput(f"{provider.name} registers the number with an e-mail address.")
        provider_user_id = provider.enroll(recipient)
        recipient = Recipient(phone=phone, provider_user_id=provider_user_id, email=email)
    result = provider.send_code(recipient, delivery)
    reference = result.reference if _VERIFY_SID.fullmatch(result.reference or "") else ""
    return {
        "provider": provider.name,
        "channel": delivery.value,
        "to": mask_e164(phone),
        "sent": result.sent,
        "registered_id": provider_user_id,
        "reference": reference,
    }


def describe_provider_error(err: ProviderError) -> str:
    """An operator's explanation of a provider error: what it means and what to check."""
    if isinstance(err, ProviderAuthenticationFailed):
        advice = (
            "The provider refused the site's credentials (or does not know the service): "
            "check AUTHY2FA['PROVIDER_OPTIONS']."
        )
    elif isinstance(err, ProviderThrottled):
        wait = f" Retry after {err.retry_after} s." if err.retry_after else ""
        advice = f"The provider is rate limiting this account.{wait}"
    elif isinstance(err, ProviderPhoneRejected):
        advice = "The provider refused this phone number (invalid, landline or blocked region)."
    elif isinstance(err, ProviderDeliveryFailed):
        advice = "The provider could not deliver the code (channel disabled or quota reached)."
    elif isinstance(err, ProviderUserNotFound):
        advice = "The provider does not know this user."
    elif isinstance(err, ProviderUnavailable):
        advice = (
            "The provider could not be reached or gave no usable answer (network, timeout, "
            "5xx): check connectivity and the provider's status page."
        )
    else:
        advice = "The provider refused the request."
    said = f" It said: {_scrub_text(err.provider_message)}" if err.provider_message else ""
    return f"{advice} [{err}]{said}"
