"""Authentication backend: the password step, plus a one-shot form for scripts.

The password is checked with Django's hashers (``check_password``); for a
username that does not exist, :class:`~django.contrib.auth.backends.ModelBackend`
still runs the hasher once, so the time taken does not reveal who exists.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from . import flows, state
from .audit import ClientInfo
from .exceptions import Authy2FAError, Throttled
from .models import ChallengePurpose, Method

VERIFIED_ATTRIBUTE = "_authy2fa_verified_by_backend"


class TwoFactorBackend(ModelBackend):
    """``authenticate(request, username=..., password=..., token=...)``.

    Without ``token`` this is the password step: it returns the user, and the
    second step follows (the middleware demotes any session that skips it).
    With ``token`` (an authenticator-app code or a recovery code), both
    factors are checked at once, with the same throttles as the pages; the
    user is returned only when both pass, ready for ``login()``.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        attempt = self._reserve(request, username)
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            return None  # the attempt stays counted
        attempt.release()
        if token is None:
            return user
        if not flows.needs_second_step(user):
            return user
        return self._with_token(request, user, token)

    @staticmethod
    def _reserve(request: HttpRequest | None, username: str):
        """Count the password attempt on every path that calls authenticate() (L7).

        The admin's login, DRF's login and Basic authentication and scripts all
        land here, so none of them is an unthrottled password oracle.
        """
        try:
            return flows.reserve_password_attempt(username, ClientInfo.from_request(request))
        except Throttled as err:
            if request is not None:
                request.authy2fa_password_throttled = err
            # PermissionDenied makes authenticate() stop and answer None.
            raise PermissionDenied(err.message) from err

    def _with_token(self, request: HttpRequest | None, user: Any, token: str) -> Any:
        challenge, _secret = flows.create_challenge(
            user, purpose=ChallengePurpose.LOGIN, backend=f"{__name__}.{type(self).__name__}"
        )
        pending = flows.pending_for(challenge)
        method = Method.RECOVERY if "-" in str(token) or len(str(token)) > 10 else Method.TOTP
        try:
            flows.verify_code(pending, method, token, ClientInfo.from_request(request))
        except Authy2FAError:
            return None
        setattr(user, VERIFIED_ATTRIBUTE, state.load_user_state(user.pk).version)
        return user
