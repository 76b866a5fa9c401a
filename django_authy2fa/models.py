"""The app's data. It extends any ``AUTH_USER_MODEL`` without replacing it."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .phone import PhoneNumber, mask_e164
from .providers.base import Recipient

e164_validator = RegexValidator(
    r"^\+[1-9][0-9]{6,14}$", _("Store phone numbers in E.164 form, e.g. +14155550123.")
)
authy_id_validator = RegexValidator(r"^[1-9][0-9]{0,11}$", _("An Authy ID is a positive number."))


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
    hard_locked_at = models.DateTimeField(
        _("hard locked at"),
        null=True,
        blank=True,
        help_text=_(
            "Set after too many failures; only an administrator or a recovery code unlocks."
        ),
    )

    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
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
        type(self).objects.filter(pk=self.pk).update(version=F("version") + 1)
        self.refresh_from_db(fields=["version"])
