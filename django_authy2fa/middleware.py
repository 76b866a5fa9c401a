"""The fail-closed middleware.

Place it right after ``AuthenticationMiddleware``. For every request it
decides lazily, when a view first looks at ``request.user``:

* a session that passed the second step at the user's current 2FA version,
  or that belongs to a user who needs no second step, keeps its user;
* any other authenticated session — whatever view called ``login()``: the
  admin's login, a password-reset auto-login, a third-party view — loses its
  login and becomes a pending attempt; every view sees ``AnonymousUser``.

The steady state costs no database query: the session says at which version
it was verified, and the user's current version comes from the cache
(:mod:`django_authy2fa.state`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, SESSION_KEY, user_logged_in
from django.contrib.auth.models import AnonymousUser
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.urls import NoReverseMatch, reverse
from django.utils.functional import LazyObject, SimpleLazyObject, empty
from django.utils.http import urlencode

from . import flows, state
from .backends import VERIFIED_ATTRIBUTE

_LOGIN_SEEN = "_authy2fa_login_seen"
_USER_STATE = "_authy2fa_user_state"


@receiver(user_logged_in, dispatch_uid="django_authy2fa.middleware.login_seen")
def _remember_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None:
        setattr(request, _LOGIN_SEEN, user)


def _foreign_login_paths() -> set[str]:
    """Password pages other than ours: the admin's, and the site's LOGIN_URL."""
    paths = set()
    with contextlib.suppress(NoReverseMatch):
        paths.add(reverse("admin:login"))
    with contextlib.suppress(NoReverseMatch):
        paths.add(urlsplit(resolve_url(settings.LOGIN_URL)).path)
    paths.discard(reverse("authy2fa:login"))
    return paths


class TwoFactorMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self._async:
            return self.__acall__(request)
        redirect = self._wrap(request)
        if redirect is not None:
            return redirect
        response = self.get_response(request)
        self._after_login(request)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        redirect = await sync_to_async(self._wrap)(request)
        if redirect is not None:
            return redirect
        response = await self.get_response(request)
        await sync_to_async(self._after_login)(request)
        return response

    # -- request phase -------------------------------------------------------------------

    def _wrap(self, request: HttpRequest) -> HttpResponse | None:
        if not hasattr(request, "user"):
            from django.core.exceptions import ImproperlyConfigured

            raise ImproperlyConfigured(
                "django_authy2fa.middleware.TwoFactorMiddleware must come after "
                "django.contrib.auth.middleware.AuthenticationMiddleware in MIDDLEWARE."
            )
        original_user = request.user
        if _needs_eager_check(request):
            # Decide now, so that even code reading the session directly (a
            # view calling auth.get_user(), Channels) finds no stale login.
            request.user = _resolve(request, original_user)
        else:
            request.user = SimpleLazyObject(lambda: _resolve(request, original_user))
        original_auser = getattr(request, "auser", None)
        if original_auser is not None:
            request.auser = _async_user(request, original_auser)
        return self._redirect_login_pages(request)

    @staticmethod
    def _redirect_login_pages(request: HttpRequest) -> HttpResponse | None:
        """Send a pending attempt from another password page to the second step.

        Without this, the admin (or the site's own login page) shows its
        password form again to a user who just entered the right password.
        """
        if state.PENDING_SESSION_KEY not in request.session:
            return None
        if request.path not in _foreign_login_paths():
            return None
        target = reverse("authy2fa:verify")
        next_url = request.GET.get("next")
        if next_url:
            target += "?" + urlencode({"next": next_url})
        return HttpResponseRedirect(target)

    # -- response phase ------------------------------------------------------------------

    @staticmethod
    def _after_login(request: HttpRequest) -> None:
        """A view called ``login()``: demote it now, before the session is saved."""
        user = getattr(request, _LOGIN_SEEN, None)
        if user is None:
            return
        verified_version = getattr(user, VERIFIED_ATTRIBUTE, None)
        if verified_version is not None:  # both factors passed in TwoFactorBackend
            state.mark_session(request.session, user, version=verified_version, verified=True)
        if not _session_may_keep(request, user, fresh=True):
            next_url = request.POST.get("next") or request.GET.get("next") or ""
            flows.demote_session(
                request, user, request.session.get(BACKEND_SESSION_KEY, ""), next_url
            )
            request.user = AnonymousUser()


def _needs_eager_check(request: HttpRequest) -> bool:
    """A logged-in session whose user has 2FA on but which is not verified at this version.

    One cache read; the verified hot path and users without 2FA stay lazy and
    query-free. (A policy that obliges users without 2FA is checked lazily.)
    """
    user_pk = request.session.get(SESSION_KEY)
    if user_pk is None:
        return False
    user_state = _user_state(request, user_pk)
    return user_state.enabled and not _verified_now(request.session, user_pk, user_state)


def _user_state(request: HttpRequest, user_pk: Any, *, fresh: bool = False) -> state.UserState:
    """The user's 2FA state, read once per request: one cache read on the hot path.

    A change made by another request during this one counts from the next
    request on, as if it had landed a moment later. ``fresh`` reads again,
    for the decision after a view called ``login()``.
    """
    memo = getattr(request, _USER_STATE, None)
    if not fresh and memo is not None and memo[0] == str(user_pk):
        return memo[1]
    user_state = state.load_user_state(user_pk)
    setattr(request, _USER_STATE, (str(user_pk), user_state))
    return user_state


def _async_user(request: HttpRequest, original_auser: Callable[[], Awaitable[Any]]):
    async def auser() -> Any:
        user = await original_auser()
        return await sync_to_async(_resolve)(request, user)

    return auser


def _resolve(request: HttpRequest, user: Any) -> Any:
    """The user every view sees: the real one, or ``AnonymousUser`` (fail closed)."""
    user = _unwrapped(user)
    if not getattr(user, "is_authenticated", False):
        return user
    if _session_may_keep(request, user):
        return user
    flows.demote_session(request, user, request.session.get(BACKEND_SESSION_KEY, ""))
    return AnonymousUser()


def _unwrapped(user: Any) -> Any:
    """The object behind ``AuthenticationMiddleware``'s lazy user, loaded now.

    The request's user becomes this middleware's lazy object; wrapping the
    first lazy object inside it would make every attribute a view reads pass
    through two proxies, a few Python calls each, on every request.
    """
    if isinstance(user, LazyObject):
        if user._wrapped is empty:
            user._setup()
        return user._wrapped
    return user


def _session_may_keep(request: HttpRequest, user: Any, *, fresh: bool = False) -> bool:
    """True when this session passed the second step at the current version, or needs none."""
    user_state = _user_state(request, user.pk, fresh=fresh)
    if _verified_now(request.session, user.pk, user_state):
        return True
    if not fresh and user_state.enabled:
        # Not verified at the version read when the request began: this request
        # may have changed it (and marked the session anew), so look again.
        user_state = _user_state(request, user.pk, fresh=True)
        if _verified_now(request.session, user.pk, user_state):
            return True
    return not flows.needs_second_step(user, user_state)


def _verified_now(session: Any, user_pk: Any, user_state: state.UserState) -> bool:
    mark = state.session_mark(session)
    return bool(
        mark
        and mark.get("verified")
        and mark.get("user") == str(user_pk)
        and mark.get("version") == user_state.version
    )
