"""The app's data. It extends any ``AUTH_USER_MODEL`` without replacing it."""

from __future__ import annotations

import time
import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .phone import PhoneNumber, mask_e164
from .providers.base import Recipient

e164_validator = RegexValidator(
    r"^\+[1-9][0-9]{6,14}$", _("Store phone numbers in E.164 form, e.g. +14155550123.")
)
authy_id_validator = RegexValidator(r"^[1-9][0-9]{0,11}$", _("An Authy ID is a positive number."))


def new_version() -> int:
    """A version no earlier profile of any user can have had: the time in microseconds.

    Versions only grow (see :func:`next_version`), so deleting a profile and
    enrolling again can never bring back a session, token or trusted browser
    verified at an old version.
    """
    return time.time_ns() // 1000


def next_version() -> Greatest:
    """The UPDATE expression for a version bump: +1, and never behind the clock."""
    return Greatest(F("version") + 1, Value(new_version()))


class Method(models.TextChoices):
    """Ways to pass the second step."""

    TOTP = "totp", _("Authenticator app")
    SMS = "sms", _("Text message")
    CALL = "call", _("Voice call")
    PUSH = "push", _("Push approval")
    RECOVERY = "recovery", _("Recovery code")


class TwoFactorProfileQuerySet(models.QuerySet):
    def enabled(self) -> TwoFactorProfileQuerySet:
        return self.filter(enabled_at__isnull=False)

    def locked(self) -> TwoFactorProfileQuerySet:
        now = timezone.now()
        return self.filter(models.Q(hard_locked_at__isnull=False) | models.Q(locked_until__gt=now))


class TwoFactorProfile(models.Model):
    """A user's second-factor state: phone, provider ID, counters and a version.

    ``version`` is bumped on every change to the user's second factor. Sessions
    and trusted browsers remember the version they were verified at, so a
    change voids them without a query per request.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="authy2fa_profile",
        verbose_name=_("user"),
    )
    phone_number = models.CharField(
        _("phone number (E.164)"), max_length=16, blank=True, validators=[e164_validator]
    )
    authy_id = models.CharField(
        _("Authy ID"),
        max_length=12,
        null=True,
        blank=True,
        unique=True,
        validators=[authy_id_validator],
        help_text=_("Set when the phone is registered with Twilio Authy."),
    )
    default_method = models.CharField(
        _("default method"), max_length=16, choices=Method.choices, blank=True
    )
    enabled_at = models.DateTimeField(_("two-factor enabled at"), null=True, blank=True)
    phone_confirmed_at = models.DateTimeField(_("phone confirmed at"), null=True, blank=True)

    failure_count = models.PositiveIntegerField(
        _("consecutive failures"),
        default=0,
        help_text=_("Wrong codes since the last complete login, across every method."),
    )
    last_failure_at = models.DateTimeField(_("last failure at"), null=True, blank=True)
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)
    last_code_sent_at = models.DateTimeField(_("last code sent at"), null=True, blank=True)
    hard_locked_at = models.DateTimeField(
        _("hard locked at"),
        null=True,
        blank=True,
        help_text=_(
            "Set after too many failures; only an administrator or a recovery code unlocks."
        ),
    )

    version = models.PositiveBigIntegerField(_("version"), default=new_version, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = TwoFactorProfileQuerySet.as_manager()

    class Meta:
        verbose_name = _("two-factor profile")
        verbose_name_plural = _("two-factor profiles")

    def __str__(self) -> str:
        return f"Two-factor profile of {self.user}"

    def save(self, *args, **kwargs) -> None:
        # An empty Authy ID must be NULL so that the unique constraint ignores it.
        if self.authy_id == "":
            self.authy_id = None
        super().save(*args, **kwargs)

    # -- phone ---------------------------------------------------------------------------

    @property
    def phone(self) -> PhoneNumber | None:
        return PhoneNumber(self.phone_number) if self.phone_number else None

    @property
    def masked_phone(self) -> str:
        return mask_e164(self.phone_number)

    def as_recipient(self) -> Recipient:
        """What a provider needs to reach this user; never more."""
        return Recipient(
            phone=self.phone_number,
            provider_user_id=self.authy_id,
            email=getattr(self.user, "email", "") or "",
        )

    # -- state ---------------------------------------------------------------------------

    @property
    def is_enabled(self) -> bool:
        return self.enabled_at is not None

    def is_locked(self, now=None) -> bool:
        now = now or timezone.now()
        return self.hard_locked_at is not None or (
            self.locked_until is not None and self.locked_until > now
        )

    def bump_version(self) -> None:
        """Invalidate every session and trusted browser verified at the old version."""
        type(self).objects.filter(pk=self.pk).update(version=next_version())
        self.refresh_from_db(fields=["version"])


class ChallengeStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    VERIFIED = "verified", _("verified")
    FAILED = "failed", _("failed")
    CANCELLED = "cancelled", _("cancelled")


class ChallengePurpose(models.TextChoices):
    LOGIN = "login", _("login")
    ENROLL = "enroll", _("phone enrollment")
    STEP_UP = "step_up", _("confirm a sensitive change")


class LoginChallengeQuerySet(models.QuerySet):
    def open(self, now=None) -> LoginChallengeQuerySet:
        return self.filter(status=ChallengeStatus.PENDING, expires_at__gt=now or timezone.now())


class LoginChallenge(models.Model):
    """One login attempt between the password step and the second step.

    The holder (a browser session or an API client) keeps a random secret;
    only its keyed digest is stored here, so the id alone is worth nothing.
    Codes sent and pushes started for this attempt are recorded on it, and are
    valid for this attempt only. ``status`` moves away from ``pending``
    exactly once, by a conditional UPDATE, which is what makes one approval or
    one code complete exactly one login.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="authy2fa_challenges"
    )
    secret_digest = models.CharField(max_length=64, editable=False)
    auth_fingerprint = models.CharField(
        max_length=64, editable=False, help_text=_("Voids the attempt if the password changes.")
    )
    purpose = models.CharField(
        max_length=16, choices=ChallengePurpose.choices, default=ChallengePurpose.LOGIN
    )
    backend = models.CharField(max_length=255, blank=True, editable=False)
    next_url = models.CharField(max_length=2000, blank=True, editable=False)
    status = models.CharField(
        max_length=16, choices=ChallengeStatus.choices, default=ChallengeStatus.PENDING
    )
    failures = models.PositiveIntegerField(default=0)
    code_channel = models.CharField(max_length=8, blank=True)
    code_reference = models.CharField(max_length=255, blank=True, editable=False)
    code_sent_at = models.DateTimeField(null=True, blank=True)
    # A phone being enrolled (and its provider ID) until a code confirms it.
    new_phone_number = models.CharField(max_length=16, blank=True, editable=False)
    new_provider_user_id = models.CharField(max_length=12, blank=True, editable=False)
    push_reference = models.CharField(max_length=64, blank=True, editable=False, db_index=True)
    push_status = models.CharField(max_length=16, blank=True)
    method = models.CharField(max_length=16, choices=Method.choices, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = LoginChallengeQuerySet.as_manager()

    class Meta:
        verbose_name = _("login challenge")
        verbose_name_plural = _("login challenges")
        indexes = [models.Index(fields=["user", "status"], name="authy2fa_challenge_user_status")]

    def __str__(self) -> str:
        return f"Login challenge {self.pk} ({self.status})"

    def is_open(self, now=None) -> bool:
        now = now or timezone.now()
        return self.status == ChallengeStatus.PENDING and self.expires_at > now


class RecoveryCode(models.Model):
    """A single-use recovery code, stored only as a keyed digest (HMAC-SHA256).

    The codes carry 80 bits of randomness, so a keyed digest is as safe as a
    password hash here and lets a check be one indexed lookup.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="authy2fa_recovery_codes"
    )
    digest = models.CharField(max_length=64, unique=True, editable=False)
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("recovery code")
        verbose_name_plural = _("recovery codes")

    def __str__(self) -> str:
        return f"Recovery code of {self.user_id} ({'used' if self.used_at else 'unused'})"


class TrustedBrowser(models.Model):
    """A browser the user chose to trust; the cookie holds only a random token."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="authy2fa_trusted_browsers"
    )
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    profile_version = models.PositiveBigIntegerField(editable=False)
    auth_fingerprint = models.CharField(
        max_length=64,
        default="",  # rows from before this field never match: they are not trusted
        editable=False,
        help_text=_("Voids the trust if the password changes."),
    )
    label = models.CharField(max_length=200, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("trusted browser")
        verbose_name_plural = _("trusted browsers")

    def __str__(self) -> str:
        return self.label or f"Trusted browser {self.pk}"

    def is_active(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and self.expires_at > now


class EventType(models.TextChoices):
    LOGIN_PASSWORD = "login_password", _("password accepted, second step started")
    LOGIN_VERIFIED = "login_verified", _("second step passed")
    CODE_FAILED = "code_failed", _("wrong code")
    CODE_SENT = "code_sent", _("code sent")
    PUSH_SENT = "push_sent", _("push sent")
    PUSH_DENIED = "push_denied", _("push denied")
    LOCKED = "locked", _("account locked")
    UNLOCKED = "unlocked", _("account unlocked")
    ENROLLED = "enrolled", _("two-factor enabled")
    PHONE_CHANGED = "phone_changed", _("phone changed")
    RECOVERY_USED = "recovery_used", _("recovery code used")
    RECOVERY_REGENERATED = "recovery_regenerated", _("recovery codes regenerated")
    BROWSER_TRUSTED = "browser_trusted", _("browser trusted")
    BROWSER_REVOKED = "browser_revoked", _("trusted browser revoked")
    DISABLED = "disabled", _("two-factor disabled")
    RESET = "reset", _("two-factor reset by an administrator")
    PROVIDER_ERROR = "provider_error", _("provider unavailable")
    API_TOKEN_ISSUED = "api_token_issued", _("API token issued")
    API_TOKEN_REVOKED = "api_token_revoked", _("API token revoked")


class AuditEvent(models.Model):
    """A security event. Never holds a code, a secret or a full phone number."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="authy2fa_events",
    )
    event = models.CharField(max_length=32, choices=EventType.choices)
    method = models.CharField(max_length=16, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)
    details = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Who acted, when not the user (an administrator)."),
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("security event")
        verbose_name_plural = _("security events")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"], name="authy2fa_event_user_time")]

    def __str__(self) -> str:
        return f"{self.get_event_display()} ({self.created_at:%Y-%m-%d %H:%M})"


class ThrottleWindow(models.Model):
    """A counter for one rule, one key and one fixed time window.

    Keys are keyed digests (never a raw IP or phone number). Counting is a
    conditional ``UPDATE ... SET count = count + 1 WHERE count < limit``, which
    the database applies atomically, so limits hold exactly under concurrency.
    """

    # On PostgreSQL the function authy2fa_throttle_take (migration 0007) reads
    # and returns these columns with their types: a migration that changes one
    # must replace the function too.
    scope = models.CharField(max_length=32)
    key = models.CharField(max_length=64)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)
    blocked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("throttle window")
        verbose_name_plural = _("throttle windows")
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "key", "window_start"], name="authy2fa_throttle_unique_window"
            )
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.window_start:%Y-%m-%d %H:%M}: {self.count}"


class APIToken(models.Model):
    """A token for API clients, issued only after the second step.

    The key is shown once; only its keyed digest is stored. A token is valid
    until it expires or is revoked, and only at the profile version it was
    issued at: any 2FA change (enabled, phone changed, reset) voids it.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="authy2fa_api_tokens"
    )
    key_digest = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=8, editable=False, help_text=_("Identifies the token."))
    profile_version = models.PositiveBigIntegerField(editable=False)
    second_step_passed = models.BooleanField(
        default=False,
        editable=False,
        help_text=_("False for users who needed no second step when the token was issued."),
    )
    name = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    def is_active(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and self.expires_at > now


class TOTPAlgorithm(models.TextChoices):
    SHA1 = "SHA1", "SHA-1"
    SHA256 = "SHA256", "SHA-256"
    SHA512 = "SHA512", "SHA-512"


class TOTPDevice(models.Model):
    """A user's authenticator app (RFC 6238 TOTP); at most one per user.

    The secret is stored only encrypted (see ``crypto.py``) and never appears
    in forms, the admin, ``str()`` or ``repr()``. ``last_used_step`` is the
    replay guard: a code is accepted only for a time step greater than it, set
    by one conditional UPDATE, so a code works once even under concurrency.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="authy2fa_totp",
        verbose_name=_("user"),
    )
    encrypted_secret = models.TextField(_("encrypted secret"), editable=False)
    digits = models.PositiveSmallIntegerField(_("digits"), default=6, editable=False)
    step = models.PositiveSmallIntegerField(_("time step (seconds)"), default=30, editable=False)
    algorithm = models.CharField(
        _("algorithm"),
        max_length=8,
        choices=TOTPAlgorithm.choices,
        default=TOTPAlgorithm.SHA1,
        editable=False,
    )
    last_used_step = models.BigIntegerField(
        _("last accepted time step"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("Codes of this time step or an earlier one are refused."),
    )
    confirmed_at = models.DateTimeField(
        _("confirmed at"),
        null=True,
        blank=True,
        help_text=_("Set when a code from the app confirmed the enrollment."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("authenticator app")
        verbose_name_plural = _("authenticator apps")

    def __str__(self) -> str:
        state = "confirmed" if self.confirmed_at else "unconfirmed"
        return f"Authenticator app of {self.user_id} ({state})"

    def __repr__(self) -> str:
        return (
            f"<TOTPDevice pk={self.pk} user_id={self.user_id} confirmed={bool(self.confirmed_at)}>"
        )

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None
