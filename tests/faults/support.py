"""The two real providers pointed at a :class:`~tests.faults.server.FaultServer`.

A :class:`Site` knows what a healthy provider answers (a code sent, the right
code approved, any other code refused), which paths send and which check, and
how to make a user that this provider can serve.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.test import override_settings
from rest_framework.test import APIClient

from django_authy2fa.models import TwoFactorProfile

from ..contract import authy_fixtures as authy_fx
from ..contract import verify_fixtures as verify_fx
from ..helpers import Browser, make_user
from .server import FaultServer, Seen

#: (connect, read) seconds: short, so that every fault resolves quickly.
TIMEOUT = (0.5, 0.75)
#: An answer must come within the configured timeout plus this much.
MARGIN = 0.5
BOUND = sum(TIMEOUT) + MARGIN
#: What the healthy provider accepts; any other code is wrong.
GOOD_CODE = "424242"
#: Authy IDs are unique per profile: each user the tests make gets the next one.
FIRST_AUTHY_ID = 1635


def authy_healthy(seen: Seen) -> tuple[int, Any]:
    if re.fullmatch(r"/protected/json/(sms|call)/[0-9]+", seen.path):
        return 200, {**authy_fx.SMS_SENT, "cellphone": "+1-XXX-XXX-XX71"}
    match = re.fullmatch(r"/protected/json/verify/([0-9]+)/[0-9]+", seen.path)
    if match:
        if match.group(1) == GOOD_CODE:
            return 200, authy_fx.TOKEN_VALID
        return 401, authy_fx.TOKEN_INVALID
    return 404, {"message": "not found", "success": False}


def verify_healthy(seen: Seen) -> tuple[int, Any]:
    if seen.path.endswith("/Verifications"):
        return 201, verify_fx.VERIFICATION_CREATED
    if seen.path.endswith("/VerificationCheck"):
        approved = seen.form.get("Code") == GOOD_CODE
        return 200, verify_fx.CHECK_APPROVED if approved else verify_fx.CHECK_PENDING
    return 404, verify_fx.NOT_FOUND


@dataclass
class Site:
    """One provider, one fault server, the settings that join them."""

    kind: str  # "authy" or "verify"
    server: FaultServer
    settings: dict[str, Any]

    @property
    def send_path(self) -> str:
        return r"/protected/json/(sms|call)/" if self.kind == "authy" else r"/Verifications$"

    @property
    def check_path(self) -> str:
        return r"/protected/json/verify/" if self.kind == "authy" else r"/VerificationCheck$"

    @property
    def provider_name(self) -> str:
        """What the provider's messages call it."""
        return "Authy" if self.kind == "authy" else "Twilio"

    @property
    def label(self) -> str:
        return "Twilio Authy" if self.kind == "authy" else "Twilio Verify"

    def user(self, username: str, phone: str):
        user = make_user(username, phone=phone)
        if self.kind == "authy":
            authy_id = FIRST_AUTHY_ID + TwoFactorProfile.objects.exclude(authy_id=None).count()
            TwoFactorProfile.objects.filter(user=user).update(authy_id=str(authy_id))
        return user

    @contextmanager
    def configured(self, **throttle: int) -> Iterator[Site]:
        settings = dict(self.settings)
        if throttle:
            settings["THROTTLE"] = throttle
        with override_settings(AUTHY2FA=settings):
            yield self


def site_settings(kind: str, server: FaultServer) -> dict[str, Any]:
    if kind == "authy":
        options = {
            "API_KEY": "fault-test-authy-key-0123456789",
            "API_URL": server.url,
            "TIMEOUT": TIMEOUT,
        }
        provider = "django_authy2fa.providers.authy.AuthyProvider"
    else:
        options = {
            "ACCOUNT_SID": verify_fx.ACCOUNT_SID,
            "AUTH_TOKEN": "fault-test-verify-token-0123456789",
            "SERVICE_SID": verify_fx.SERVICE_SID,
            "API_URL": f"{server.url}/v2",
            "TIMEOUT": TIMEOUT,
        }
        provider = "django_authy2fa.providers.verify.VerifyProvider"
    return {"PROVIDER": provider, "PROVIDER_OPTIONS": options}


class BrokenCache:
    """Stands in for ``django.core.cache.cache`` when the cache server is down."""

    def __getattr__(self, name: str) -> Callable[..., object]:
        def broken(*args: object, **kwargs: object) -> object:
            raise ConnectionError("cache is down")

        return broken


# -- clients that remember every status they saw ---------------------------------------------


class _Counting:
    """Keeps the status of every answer; a 500 comes back as a response, never raised."""

    statuses: list[int]

    def _init_counting(self) -> None:
        self.statuses = []
        self.raise_request_exception = False

    def request(self, **request: Any):
        response = super().request(**request)  # type: ignore[misc]
        self.statuses.append(response.status_code)
        return response

    @property
    def server_errors(self) -> int:
        return sum(1 for status in self.statuses if status == 500)

    def timed(self, call, *args: Any, **kwargs: Any):
        """``call(*args, **kwargs)`` and how long it took."""
        started = time.monotonic()
        response = call(*args, **kwargs)
        return response, time.monotonic() - started


class PageBrowser(_Counting, Browser):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._init_counting()

    def is_logged_in(self) -> bool:
        return self.get("/protected/").status_code == 200


class CountingAPIClient(_Counting, APIClient):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._init_counting()


def flash_messages(page) -> list[str]:
    """The texts of the messages framework's list on a page."""
    return re.findall(r'<li class="[^"]*">([^<]+)</li>', page.content.decode())


def page_error(page) -> str:
    match = re.search(r'role="alert" id="authy2fa-error">([^<]+)<', page.content.decode())
    return match.group(1) if match else ""


__all__ = [
    "BOUND",
    "GOOD_CODE",
    "TIMEOUT",
    "BrokenCache",
    "CountingAPIClient",
    "PageBrowser",
    "Site",
    "authy_healthy",
    "flash_messages",
    "page_error",
    "site_settings",
    "verify_healthy",
]
