"""Small helpers to drive the pages like a browser does (CSRF enforced)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from django_authy2fa.models import TwoFactorProfile
from django_authy2fa.providers import locmem

PASSWORD = "correct horse battery staple"
LOGIN_URL = "/account/2fa/login/"
VERIFY_URL = "/account/2fa/verify/"
SEND_URL = "/account/2fa/verify/send/"


def make_user(
    username: str = "alice",
    *,
    enabled: bool = True,
    staff: bool = False,
    phone: str = "+14155552671",
):
    user = get_user_model().objects.create_user(
        username, f"{username}@example.com", PASSWORD, is_staff=staff, is_superuser=staff
    )
    if enabled:
        now = timezone.now()
        TwoFactorProfile.objects.create(
            user=user,
            phone_number=phone,
            enabled_at=now,
            phone_confirmed_at=now,
            default_method="sms",
        )
    return user


class Browser(Client):
    """A test client that behaves like a browser: CSRF enforced, token sent back."""

    def __init__(self, **kwargs):
        super().__init__(enforce_csrf_checks=True, **kwargs)

    def csrf(self) -> str:
        if "csrftoken" not in self.cookies:
            self.get(LOGIN_URL)
        return self.cookies["csrftoken"].value

    def submit(self, url: str, data: dict | None = None, **kwargs):
        return self.post(url, {**(data or {}), "csrfmiddlewaretoken": self.csrf()}, **kwargs)

    def password_step(
        self, username: str = "alice", password: str = PASSWORD, next_url: str = "/protected/"
    ):
        return self.submit(
            LOGIN_URL, {"username": username, "password": password, "next": next_url}
        )

    def send_code(self, channel: str = "sms"):
        return self.submit(SEND_URL, {"channel": channel})

    def enter_code(self, code: str, method: str = "sms", **extra):
        return self.submit(VERIFY_URL, {"method": method, "code": code, **extra})

    def full_login(self, username: str = "alice", next_url: str = "/protected/"):
        self.password_step(username, next_url=next_url)
        self.send_code()
        return self.enter_code(locmem.outbox[-1].code)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def run_with_settings(settings_module: str, script: str) -> str:
    """Run ``script`` in a new Python process on ``settings_module``, SQLite in memory.

    For what Django fixes when it starts (``AUTH_USER_MODEL``): the script's
    standard output, or an assertion error carrying its standard error.
    """
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DATABASE_URL": "sqlite://:memory:",
        "CACHE_URL": "locmemcache://",
        "PYTHONPATH": str(root),
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()
