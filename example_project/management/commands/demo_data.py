"""Create the demo account (idempotent): ``demo`` / ``demo-password-2fa``."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils import timezone

from django_authy2fa.models import Method, TwoFactorProfile

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password-2fa"
DEMO_PHONE = "+14155550123"


class Command(BaseCommand):
    help = "Create the demo account with a confirmed phone (safe to run again)."

    def handle(self, *args, **options) -> None:
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=DEMO_USERNAME, defaults={"email": "demo@example.com"}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        now = timezone.now()
        TwoFactorProfile.objects.get_or_create(
            user=user,
            defaults={
                "phone_number": DEMO_PHONE,
                "phone_confirmed_at": now,
                "enabled_at": now,
                "default_method": Method.SMS,
            },
        )
        state = "created" if created else "already there"
        self.stdout.write(f"Demo account {DEMO_USERNAME!r} {state} (password {DEMO_PASSWORD!r}).")
