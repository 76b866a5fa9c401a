"""Create the demo accounts (safe to run again).

* ``demo`` / ``demo-password-2fa``: a user with two-step verification on;
* ``admin`` / ``admin-password-2fa``: a staff superuser, also with two-step
  verification on, so the admin is reached through the second step.

Both get a made-up phone number; with the console provider their codes
appear in the terminal and in the demo page's "demo phone".
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from django_authy2fa import state
from django_authy2fa.models import Method, TwoFactorProfile
from example_project.accounts import ACCOUNTS, DemoAccount


class Command(BaseCommand):
    help = "Create the demo accounts with two-step verification on (safe to run again)."

    def handle(self, *args, **options) -> None:
        for account in ACCOUNTS:
            created = self._ensure(account)
            state_text = "created" if created else "already there"
            self.stdout.write(
                f"Demo account {account.username!r} {state_text} "
                f"(password {account.password!r}{', staff' if account.staff else ''})."
            )

    @transaction.atomic
    def _ensure(self, account: DemoAccount) -> bool:
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=account.username,
            defaults={
                "email": account.email,
                "is_staff": account.staff,
                "is_superuser": account.staff,
            },
        )
        if created:
            user.set_password(account.password)
            user.save()
        profile, _ = TwoFactorProfile.objects.get_or_create(user=user)
        if not profile.is_enabled:
            # New, or someone turned 2FA off while trying the demo: back to the documented state.
            now = timezone.now()
            profile.phone_number = account.phone
            profile.phone_confirmed_at = now
            profile.enabled_at = now
            profile.default_method = Method.SMS
            profile.version += 1
            profile.save()
            state.publish_user_state(user.pk)
        return created
