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
from functools import partial
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
from django.utils.functional import SimpleLazyObject, empty
from django.utils.http import urlencode

from . import flows, state
from .backends import VERIFIED_ATTRIBUTE

_LOGIN_SEEN = "_authy2fa_login_seen"
_LOGIN_DECIDED = "_authy2fa_login_decided"
_USER_STATE = "_authy2fa_user_state"
_WRAPPED = "_authy2fa_wrapped"


@receiver(user_logged_in, dispatch_uid="django_authy2fa.middleware.login_seen")
def _remember_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """Note a ``login()`` so that it is decided before anything trusts it.

    Once this middleware's request phase has run, the logged-in user becomes
    lazy again: whoever reads ``request.user`` next — the view, or the view
    behind a middleware placed after this one that logs users in itself
    (``RemoteUserMiddleware``, a magic-link middleware) — gets the decided
    user, not the one ``login()`` put there.
    """
    if request is None:
        return
    # A DRF view passes its Request, which wraps Django's: this middleware
    # looks at Django's.
    http_request = request.__dict__.get("_request", request)
    http_request.__dict__.pop(_LOGIN_DECIDED, None)
    setattr(http_request, _LOGIN_SEEN, user)
    if _WRAPPED in http_request.__dict__ and hasattr(request, "user"):
        request.user = SimpleLazyObject(partial(_login_decision, http_request))


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
        if _LOGIN_SEEN in request.__dict__:
            self._after_login(request)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        redirect = await sync_to_async(self._wrap)(request)
        if redirect is not None:
            return redirect
        response = await self.get_response(request)
        if _LOGIN_SEEN in request.__dict__:
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
        setattr(request, _WRAPPED, True)
        verified_pk = _verified_session_user(request)
        if verified_pk is None and _needs_eager_check(request):
            # Decide now, so that even code reading the session directly (a
            # view calling auth.get_user(), Channels) finds no stale login.
            request.user = _resolve(request, original_user)
        elif not _defer_in_place(original_user, request, verified_pk):
            request.user = SimpleLazyObject(lambda: _resolve(request, original_user, verified_pk))
        original_auser = getattr(request, "auser", None)
        if original_auser is not None:
            request.auser = partial(_resolved_auser, request, original_auser)
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
        """A view called ``login()``: decide it now, before the session is saved."""
        if not _login_decision(request).is_authenticated:
            request.user = AnonymousUser()


def _login_decision(request: HttpRequest) -> Any:
    """The user the latest ``login()`` of this request leaves signed in, or ``AnonymousUser``.

    Decided once per ``login()``: by whoever reads the user first, or by the
    response phase. A login that did not pass the second step (or that the
    policy does not allow without it) is demoted to a pending attempt.
    """
    decided = request.__dict__.get(_LOGIN_DECIDED)
    if decided is not None:
        return decided
    user = request.__dict__[_LOGIN_SEEN]
    if str(request.session.get(SESSION_KEY)) != str(user.pk):
        # The login is gone already: demoted when this middleware's request phase
        # ran (a login by a middleware placed before it), or logged out since.
        setattr(request, _LOGIN_DECIDED, AnonymousUser())
        return request.__dict__[_LOGIN_DECIDED]
    verified_version = getattr(user, VERIFIED_ATTRIBUTE, None)
    if verified_version is not None:  # both factors passed in TwoFactorBackend
        state.mark_session(request.session, user, version=verified_version, verified=True)
    if _session_may_keep(request, user, fresh=True):
        decided = user
    else:
        next_url = request.POST.get("next") or request.GET.get("next") or ""
        flows.demote_session(request, user, request.session.get(BACKEND_SESSION_KEY, ""), next_url)
        decided = AnonymousUser()
    setattr(request, _LOGIN_DECIDED, decided)
    return decided


def _verified_session_user(request: HttpRequest) -> str | None:
    """The session's user id when it passed the second step at the user's current version.

    One cache read; the answer is kept for the rest of the request, so the
    hot path (a verified session) decides once and then only compares ids.
    """
    user_pk = request.session.get(SESSION_KEY)
    if user_pk is None:
        return None
    if _verified_now(request.session, user_pk, _user_state(request, user_pk)):
        return str(user_pk)
    return None


def _needs_eager_check(request: HttpRequest) -> bool:
    """A logged-in session whose user has 2FA on but which is not verified at this version.

    The verified hot path and users without 2FA stay lazy and query-free.
    (A policy that obliges users without 2FA is checked lazily.) Called after
    :func:`_verified_session_user`, so the state comes from the request's memo.
    """
    user_pk = request.session.get(SESSION_KEY)
    return user_pk is not None and _user_state(request, user_pk).enabled


def _user_state(request: HttpRequest, user_pk: Any, *, fresh: bool = False) -> state.UserState:
    """The user's 2FA state, read once per request: one cache read on the hot path.

    A change made by another request during this one counts from the next
    request on, as if it had landed a moment later. ``fresh`` reads again,
    for the decision after a view called ``login()``.
    """
    # Through __dict__: getattr() with a default raises and catches an
    # AttributeError inside when the memo is missing, a real cost per request.
    memo = request.__dict__.get(_USER_STATE)
    if not fresh and memo is not None and memo[0] == str(user_pk):
        return memo[1]
    user_state = state.load_user_state(user_pk)
    setattr(request, _USER_STATE, (str(user_pk), user_state))
    return user_state


def _defer_in_place(user: Any, request: HttpRequest, verified_pk: str | None) -> bool:
    """Make ``AuthenticationMiddleware``'s own lazy user resolve through :func:`_resolve`.

    Only for Django's unevaluated ``SimpleLazyObject``: its loader is
    replaced, so views read the user through one proxy (a few Python calls
    per attribute, on every request) rather than through a second one
    wrapped around it, and code that kept a reference to the request's user
    before this middleware ran gets the decided user too. Returns False
    (wrap instead) for anything else: a user already loaded, or an object
    another middleware put there.
    """
    if type(user) is not SimpleLazyObject:
        return False
    # The instance's own __dict__, past LazyObject's __getattribute__ and
    # __setattr__: the first costs a Python call per attribute, the second
    # would load the user to set the attribute on them.
    fields = object.__getattribute__(user, "__dict__")
    load = fields.get("_setupfunc")
    if fields.get("_wrapped", empty) is not empty or load is None:
        return False
    fields["_setupfunc"] = lambda: _resolve_loaded(request, load(), verified_pk)
    return True


def _settle(lazy_user: Any, decided: Any) -> Any:
    """Make Django's lazy user hold the decided user too; returns ``decided``.

    Code that kept a reference to the request's user before this middleware
    ran then sees the same user as every view, not the one loaded before the
    decision.
    """
    if type(lazy_user) is SimpleLazyObject:
        object.__getattribute__(lazy_user, "__dict__")["_wrapped"] = decided
    return decided


async def _resolved_auser(request: HttpRequest, original_auser: Callable[[], Awaitable[Any]]):
    user = await original_auser()
    return await sync_to_async(_resolve)(request, user)


def _resolve(request: HttpRequest, user: Any, verified_pk: str | None = None) -> Any:
    """The user every view sees: the real one, or ``AnonymousUser`` (fail closed).

    ``verified_pk`` is the id of the user this session was found verified
    for when the request began (:func:`_verified_session_user`): that user
    keeps without another look.
    """
    return _settle(user, _resolve_loaded(request, _unwrapped(user), verified_pk))


def _resolve_loaded(request: HttpRequest, user: Any, verified_pk: str | None) -> Any:
    """:func:`_resolve` for a user object already loaded."""
    if not getattr(user, "is_authenticated", False):
        return user
    if verified_pk is not None and str(user.pk) == verified_pk:
        if str(request.session.get(SESSION_KEY)) == verified_pk:
            return user
        # The session was verified for this user when the request began but no
        # longer names them (flushed or signed in anew since): not theirs now.
        return AnonymousUser()
    if _session_may_keep(request, user):
        return user
    flows.demote_session(request, user, request.session.get(BACKEND_SESSION_KEY, ""))
    return AnonymousUser()


def _unwrapped(user: Any) -> Any:
    """The object behind Django's lazy user, loaded now.

    The request's user becomes this middleware's lazy object; wrapping a
    lazy object inside it would make every attribute a view reads pass
    through two proxies, a few Python calls each, on every request. Only a
    plain ``SimpleLazyObject``: a subclass may answer some attributes itself.
    """
    if type(user) is SimpleLazyObject:
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
