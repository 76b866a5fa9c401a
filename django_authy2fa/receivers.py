"""Keep the cached two-factor state honest when profiles change outside the flows."""

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from . import state
from .models import TwoFactorProfile


@receiver(post_save, sender=TwoFactorProfile, dispatch_uid="django_authy2fa.profile_saved")
@receiver(post_delete, sender=TwoFactorProfile, dispatch_uid="django_authy2fa.profile_deleted")
def _profile_changed(sender: Any, instance: TwoFactorProfile, **kwargs: Any) -> None:
    state.publish_user_state(instance.user_id)
