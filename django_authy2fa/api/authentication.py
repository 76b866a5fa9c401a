"""DRF authentication classes that cannot be satisfied by a password alone."""

from __future__ import annotations

import contextlib
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from .. import flows, tokens


class TwoFactorTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <key>`` with a token the app issued after the second step."""

    keyword = "Bearer"

    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid token header."))
        try:
            key = header[1].decode("ascii")
        except UnicodeError as err:
            raise exceptions.AuthenticationFailed(_("Invalid token header.")) from err
        token = tokens.authenticate_key(key)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid or expired token."))
        return token.user, token

    def authenticate_header(self, request: Any) -> str:
        return self.keyword


class _RefusePasswordOnly:
    """Mixin: refuse users who need a second step (these classes check a password only)."""

    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        result = super().authenticate(request)
        if result is not None and flows.needs_second_step(result[0]):
            raise exceptions.AuthenticationFailed(
                _("This account uses two-step verification; sign in through the 2FA API.")
            )
        return result


class TwoFactorBasicAuthentication(_RefusePasswordOnly, authentication.BasicAuthentication):
    """``BasicAuthentication`` for users without 2FA only."""


class TwoFactorDRFTokenAuthentication(_RefusePasswordOnly, authentication.TokenAuthentication):
    """DRF's own ``TokenAuthentication`` (obtained with a password) for users without 2FA only."""


# Describe the scheme in the OpenAPI schema when drf-spectacular is installed.
with contextlib.suppress(ImportError):
    from . import schema  # noqa: F401
