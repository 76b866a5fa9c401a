"""The demo accounts that ``manage.py demo_data`` creates and the demo page lists."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    email: str
    phone: str  # made up; with the console provider codes go to the demo phone
    staff: bool = False

    @property
    def role(self) -> str:
        return "staff: opens the admin" if self.staff else "user"


DEMO = DemoAccount("demo", "demo-password-2fa", "demo@example.com", "+14155550123")
ADMIN = DemoAccount("admin", "admin-password-2fa", "admin@example.com", "+14155550124", staff=True)
ACCOUNTS = (DEMO, ADMIN)
