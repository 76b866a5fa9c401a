"""Keep the cached two-factor state honest when profiles change outside the flows."""

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from . import state
from .models import APIToken, TrustedBrowser, TwoFactorProfile


@receiver(post_save, sender=TwoFactorProfile, dispatch_uid="django_authy2fa.profile_saved")
def _profile_changed(sender: Any, instance: TwoFactorProfile, created: bool, **kwargs: Any) -> None:
    if created and not instance.is_enabled:
        return  # a profile started for enrollment changes nothing yet
    update_fields = kwargs.get("update_fields")
    if update_fields is not None and not {"version", "enabled_at"} & set(update_fields):
        return  # counters and locks: the cached state does not include them
    state.publish_user_state(instance.user_id)


@receiver(post_delete, sender=TwoFactorProfile, dispatch_uid="django_authy2fa.profile_deleted")
def _profile_deleted(sender: Any, instance: TwoFactorProfile, **kwargs: Any) -> None:
    """A deleted profile takes its trusted browsers and API tokens with it."""
    now = timezone.now()
    TrustedBrowser.objects.filter(user_id=instance.user_id, revoked_at__isnull=True).update(
        revoked_at=now
    )
    APIToken.objects.filter(user_id=instance.user_id, revoked_at__isnull=True).update(
        revoked_at=now
    )
    state.publish_user_state(instance.user_id)
