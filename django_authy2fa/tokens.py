"""API tokens: issued only after the second step, stored as keyed digests.

Nothing here imports Django REST framework; the API's authentication class
(``django_authy2fa.api.authentication``) calls :func:`authenticate_key`.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.utils import timezone
from django.utils.crypto import salted_hmac

from . import flows, state
from .conf import app_settings
from .models import APIToken

_SALT = "django_authy2fa.tokens.key"
KEY_PREFIX = "a2fa_"
# Touch last_used_at at most this often, so reading a token is not a write per request.
_LAST_USED_GRANULARITY = dt.timedelta(minutes=5)


def _digest(key: str) -> str:
    return salted_hmac(_SALT, key, algorithm="sha256").hexdigest()


def issue(user: Any, *, second_step_passed: bool, name: str = "") -> tuple[APIToken, str]:
    """A new token for ``user`` at their current 2FA version; the key is returned once."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    token = APIToken.objects.create(
        user=user,
        key_digest=_digest(key),
        prefix=key[len(KEY_PREFIX) : len(KEY_PREFIX) + 8],
        profile_version=state.load_user_state(user.pk).version,
        second_step_passed=second_step_passed,
        name=name[:100],
        expires_at=timezone.now() + dt.timedelta(seconds=app_settings.API_TOKEN_TTL),
    )
    return token, key


def authenticate_key(key: Any) -> APIToken | None:
    """The active token for ``key``, or None (unknown, expired, revoked, or 2FA changed)."""
    if not isinstance(key, str) or not key.startswith(KEY_PREFIX) or len(key) > 100:
        return None
    token = (
        APIToken.objects.select_related("user")
        .filter(key_digest=_digest(key), revoked_at__isnull=True)
        .first()
    )
    now = timezone.now()
    if token is None or token.expires_at <= now or not token.user.is_active:
        return None
    user_state = state.load_user_state(token.user_id)
    if token.second_step_passed:
        if user_state.version != token.profile_version:
            return None  # the user's second factor changed since
    elif flows.needs_second_step(token.user, user_state):
        return None  # issued on a password alone; the user needs a second step now
    if token.last_used_at is None or now - token.last_used_at > _LAST_USED_GRANULARITY:
        APIToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def revoke(token: APIToken) -> None:
    APIToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
