"""``IsTwoFactorVerified``: the request passed every step its user needs."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import BasePermission

from .. import flows
from ..models import APIToken


class IsTwoFactorVerified(BasePermission):
    """Allow only users who passed the second step (or need none).

    A token the app issued proves it; a session proves it because the
    middleware turns every unverified session into ``AnonymousUser``; any
    other authentication (Basic, DRF tokens) passes only for users without 2FA.
    """

    message = _("Two-step verification required.")

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if isinstance(request.auth, APIToken) or (request.auth is None and _via_session(request)):
            return True
        return not flows.needs_second_step(user)


def _via_session(request: Any) -> bool:
    authenticator = getattr(request, "successful_authenticator", None)
    return isinstance(authenticator, SessionAuthentication)
