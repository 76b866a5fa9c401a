"""The use cases of the second step. Every rule that protects an account lives here.

Pages (``views.py``), the REST API and the admin call these functions; none of
them decides anything about codes, throttles or challenges on its own, so they
cannot disagree.

A login between the password and the second step is a :class:`LoginChallenge`
row. Its holder (a browser session here, an API client later) keeps a random
secret; only the secret's digest is stored. Everything that happens during
the attempt (codes sent, pushes started, wrong codes) is recorded on the row,
and the row leaves ``pending`` exactly once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model, login, user_login_failed
from django.core.exceptions import ValidationError
from django.db import connections, router, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.debug import sensitive_variables

from . import joined, recovery, signals, state, statements, throttling, totp
from .audit import ClientInfo, record
from .conf import app_settings
from .exceptions import (
    Authy2FAError,
    InvalidInput,
    InvalidTokenFormat,
    ProviderError,
    Throttled,
    UnsupportedChannel,
)
from .models import (
    APIToken,
    ChallengePurpose,
    ChallengeStatus,
    EventType,
    LoginChallenge,
    Method,
    TOTPDevice,
    TrustedBrowser,
    TwoFactorProfile,
    next_version,
)
from .phone import parse_phone
from .providers import Channel, PushStatus, Recipient, SendResult, get_provider

_SECRET_SALT = "django_authy2fa.flows.challenge-secret"  # noqa: S105 - a salt, not a secret
_TRUST_SALT = "django_authy2fa.flows.trusted-browser"
TRUST_COOKIE_NAME = "authy2fa_trust"
#: How long a passed step-up lets the user make sensitive changes.
STEP_UP_SECONDS = 5 * 60
_CODE_PATTERN = re.compile(r"[0-9]{6,10}", re.ASCII)

#: For every flow that holds a code, a password, a phone number or a challenge
#: secret: Django's error reports (the debug page, admin e-mails, trackers that
#: honour the filter) then show none of the locals of that frame or of the
#: frames below it (providers, clients, hashers).
hides_locals = sensitive_variables()


# -- errors the pages and the API turn into messages ---------------------------------------


class InvalidCode(Authy2FAError):
    """The code was wrong. ``attempts_left`` is for this login attempt."""

    default_message = gettext_noop("That code is not right. Check it and try again.")

    def __init__(self, message: str | None = None, attempts_left: int | None = None) -> None:
        self.attempts_left = attempts_left
        super().__init__(message)


class LoginRestart(Authy2FAError):
    """The login attempt is over (too many wrong codes, expired, voided): start again."""

    default_message = gettext_noop("Please sign in again.")


class MethodNotAvailable(Authy2FAError):
    default_message = gettext_noop("This method is not set up for your account.")


class PasswordRequired(Authy2FAError):
    default_message = gettext_noop("Enter your current password.")


class StepUpRequired(Authy2FAError):
    """A sensitive change needs a fresh step-up: the password and a current second factor."""

    default_message = gettext_noop(
        "Confirm it is you first: your password and a current second factor."
    )


class RequiredByPolicy(Authy2FAError):
    """The site's policy (``REQUIRED_FOR``) does not let this user turn 2FA off."""

    default_message = gettext_noop("Two-factor authentication is required for your account.")


# -- what the holder of a login attempt sees ----------------------------------------------


@dataclass
class PendingLogin:
    """A login attempt that passed the password step and waits for the second step."""

    challenge: LoginChallenge
    user: Any
    profile: TwoFactorProfile | None = None
    methods: list[str] = field(default_factory=list)

    @property
    def needs_enrollment(self) -> bool:
        return self.profile is None or not self.profile.is_enabled

    @property
    def masked_phone(self) -> str:
        return self.profile.masked_phone if self.profile else ""


# -- policy ------------------------------------------------------------------------------------


def policy_requires(user: Any) -> bool:
    """Whether ``AUTHY2FA["REQUIRED_FOR"]`` obliges this user to use a second factor."""
    rule = app_settings.REQUIRED_FOR
    if rule is None:
        return False
    if rule == "all":
        return True
    if rule == "staff":
        return bool(user.is_staff or user.is_superuser)
    policy = app_settings.required_for_callable
    return bool(policy(user)) if policy else False


def needs_second_step(user: Any, user_state: state.UserState | None = None) -> bool:
    user_state = user_state or state.load_user_state(user.pk)
    return user_state.enabled or policy_requires(user)


def available_methods(user: Any, profile: TwoFactorProfile | None) -> list[str]:
    """The methods this user can use now, in the order of ``AUTHY2FA["METHODS"]``."""
    if profile is None or not profile.is_enabled:
        return []
    provider = _provider_or_none()
    return [m for m in app_settings.METHODS if _offers(m, user, profile, provider)]


def _offers(method: str, user: Any, profile: TwoFactorProfile, provider) -> bool:
    # A profile from _profile_with_factors() already knows; any other one asks.
    if method == Method.RECOVERY:
        known = getattr(profile, "has_recovery_codes", None)
        return known if known is not None else recovery.remaining(user) > 0
    if method == Method.TOTP:
        known = getattr(profile, "has_app", None)
        if known if known is not None else totp.has_confirmed_device(user):
            return True
    return provider is not None and _provider_offers(provider, method, profile)


def _profile_with_factors(user: Any) -> TwoFactorProfile | None:
    """The user's profile, with whether an app and unused recovery codes exist: one query.

    Every page of a pending login needs the methods on offer; this is what
    they cost. The statement is written once (:func:`_profile_with_factors_sql`):
    built through the ORM on every request, its two ``EXISTS`` took longer to
    build than to run.
    """
    alias = router.db_for_read(TwoFactorProfile)
    owner = TwoFactorProfile._meta.get_field("user").target_field
    user_key = _stored_user_key(TwoFactorProfile, getattr(user, owner.attname), alias)
    found = TwoFactorProfile.objects.db_manager(alias).raw(
        _profile_with_factors_sql(alias), [user_key]
    )
    profile = next(iter(found), None)
    if profile is None:
        return None
    return _with_factors(profile, user, profile.has_app, profile.has_recovery_codes)


def _stored_user_key(model: Any, user_key: Any, alias: str) -> Any:
    """``user_key`` as ``model``'s ``user`` column stores it (a UUID is 32 hex digits on SQLite).

    ``raw()`` sends its parameters as they are; the ORM would prepare them.
    """
    target = model._meta.get_field("user").target_field
    return target.get_db_prep_value(user_key, connections[alias])


@functools.cache
def _profile_with_factors_sql(alias: str) -> str:
    quote = connections[alias].ops.quote_name
    profile = TwoFactorProfile
    owner = f"p.{quote(profile._meta.get_field('user').column)}"
    return (
        f"SELECT p.*, {_factors_sql(alias, owner)} "  # noqa: S608 - names from the models
        f"FROM {quote(profile._meta.db_table)} p WHERE {owner} = %s"
    )


def _factors_sql(alias: str, owner: str) -> str:
    """``has_app`` and ``has_recovery_codes`` of the user whose id is in column ``owner``.

    ``owner`` names its table's alias, which must be neither ``dev`` nor ``rc``.
    """
    quote = connections[alias].ops.quote_name

    def table(model: Any) -> str:
        return quote(model._meta.db_table)

    def column(model: Any, name: str) -> str:
        return quote(model._meta.get_field(name).column)

    device, code = TOTPDevice, recovery.RecoveryCode
    return (
        f"EXISTS (SELECT 1 FROM {table(device)} dev WHERE dev.{column(device, 'user')} = {owner} "  # noqa: S608
        f"AND dev.{column(device, 'confirmed_at')} IS NOT NULL) AS has_app, "
        f"EXISTS (SELECT 1 FROM {table(code)} rc WHERE rc.{column(code, 'user')} = {owner} "
        f"AND rc.{column(code, 'used_at')} IS NULL) AS has_recovery_codes"
    )


def _provider_or_none():
    if not app_settings.PROVIDER:
        return None
    return get_provider()


def _provider_offers(provider, method: str, profile: TwoFactorProfile) -> bool:
    if not profile.phone_confirmed_at:
        return False
    if provider.needs_enrollment and not profile.authy_id:
        return False
    if method == Method.TOTP:
        return provider.app_codes
    return provider.supports(method)


def default_method(pending: PendingLogin) -> str:
    preferred = pending.profile.default_method if pending.profile else ""
    if preferred in pending.methods:
        return preferred
    non_recovery = [m for m in pending.methods if m != Method.RECOVERY]
    return (non_recovery or pending.methods or [""])[0]


# -- challenges --------------------------------------------------------------------------------


def _secret_digest(secret: str) -> str:
    return salted_hmac(_SECRET_SALT, secret, algorithm="sha256").hexdigest()


@hides_locals
def create_challenge(
    user: Any,
    *,
    purpose: str = ChallengePurpose.LOGIN,
    backend: str = "",
    next_url: str = "",
    client: ClientInfo | None = None,
) -> tuple[LoginChallenge, str]:
    """A new attempt for ``user``; returns the row and the secret its holder must keep."""
    secret = secrets.token_urlsafe(32)
    challenge = LoginChallenge.objects.create(
        user=user,
        purpose=purpose,
        secret_digest=_secret_digest(secret),
        auth_fingerprint=state.auth_fingerprint(user.get_session_auth_hash()),
        backend=backend,
        next_url=next_url,
        ip_address=client.ip if client else None,
        expires_at=timezone.now() + dt.timedelta(seconds=app_settings.PENDING_TIMEOUT),
    )
    return challenge, secret


@hides_locals
def find_challenge(
    challenge_id: Any, secret: Any, purpose: str, *, passed: bool = False
) -> LoginChallenge | None:
    """The open challenge the holder of ``secret`` owns, or None.

    ``passed=True`` finds a step-up that was passed and is still good instead
    (see :func:`step_up`). None as well when the user changed their password
    or was deactivated since: the attempt is bound to the user's auth hash.
    """
    found = _held_challenge(challenge_id, secret, purpose, passed=passed, with_profile=False)
    return found[0] if found else None


@hides_locals
def find_pending(challenge_id: Any, secret: Any, purpose: str) -> PendingLogin | None:
    """:func:`find_challenge`, then :func:`pending_for`: one read for the attempt, its
    user and their profile where the routers keep all three on one database."""
    found = _held_challenge(challenge_id, secret, purpose, passed=False, with_profile=True)
    return pending_for(*found) if found else None


def _held_challenge(
    challenge_id: Any, secret: Any, purpose: str, *, passed: bool, with_profile: bool
) -> tuple[LoginChallenge, Any] | None:
    """The challenge the holder of ``secret`` owns, and the profile if it was read with it."""
    if not isinstance(secret, str) or not isinstance(challenge_id, str):
        return None
    profile: Any = _UNREAD
    if passed:
        try:
            candidates = _passed_step_ups().select_related("user")
            challenge = candidates.get(pk=challenge_id, purpose=purpose)
        except (LoginChallenge.DoesNotExist, ValueError, ValidationError):
            return None
    else:
        found = _open_challenge(challenge_id, purpose, with_profile=with_profile)
        if found is None:
            return None
        challenge, profile = found
    if not constant_time_compare(challenge.secret_digest, _secret_digest(secret)):
        return None
    user = challenge.user
    if not user.is_active or not state.fingerprint_matches(challenge.auth_fingerprint, user):
        return None
    return challenge, profile


def _open_challenge(
    challenge_id: str, purpose: str, *, with_profile: bool
) -> tuple[LoginChallenge, Any] | None:
    """The open challenge with this id and purpose, its user loaded, and (``with_profile``)
    the user's profile as :func:`_profile_with_factors` reads it: one statement written once.

    Every page and API call of a pending login starts here. Built through the
    ORM on each request (``open().select_related("user").get()``), the read
    took three times as long as the database needed to answer it; read as
    three statements, it cost three round trips. The columns are converted
    as the ORM converts them on every database (:mod:`.joined`).
    The rows are read on the challenge's database (``default``, system check
    E006), never a read replica of the users: a user deactivated a moment ago
    must not finish a pending attempt. The profile comes with them only when
    the routers read profiles there too; otherwise it is left unread
    (:data:`_UNREAD`) for :func:`pending_for` to read where they say.
    """
    alias = router.db_for_read(LoginChallenge)
    connection = connections[alias]
    pk_field = LoginChallenge._meta.pk
    try:
        # to_python() refuses what cannot be one of our ids.
        challenge_pk = pk_field.get_db_prep_value(pk_field.to_python(challenge_id), connection)
    except ValidationError:
        return None
    with_profile = with_profile and router.db_for_read(TwoFactorProfile) == alias
    now = LoginChallenge._meta.get_field("expires_at").get_db_prep_value(timezone.now(), connection)
    models: list[Any] = [LoginChallenge, get_user_model()]
    if with_profile:
        models.append(TwoFactorProfile)
    row = joined.fetch_one(
        alias,
        _open_challenge_sql(alias, with_profile),
        [challenge_pk, purpose, ChallengeStatus.PENDING, now],
        models,
    )
    if row is None:
        return None
    challenge, user = row[0], row[1]
    challenge.user = user
    if not with_profile:
        return challenge, _UNREAD
    profile, has_app, has_recovery_codes = row[2:]
    return challenge, _with_factors(profile, user, has_app, has_recovery_codes)


def _with_factors(profile: Any, user: Any, has_app: Any, has_recovery_codes: Any) -> Any:
    if profile is not None:
        profile.has_app = bool(has_app)  # 0 or 1 on SQLite and MySQL
        profile.has_recovery_codes = bool(has_recovery_codes)
        profile.user = user  # the caller's user: sending a code reads its e-mail, not a copy
    return profile


@functools.cache
def _open_challenge_sql(alias: str, with_profile: bool) -> str:
    quote = connections[alias].ops.quote_name
    meta, user_meta = LoginChallenge._meta, get_user_model()._meta
    owner = f"c.{quote(meta.get_field('user').column)}"

    def column(name: str) -> str:
        return f"c.{quote(meta.get_field(name).column)}"

    parts: list[tuple[Any, str]] = [(LoginChallenge, "c"), (get_user_model(), "u")]
    tables = (
        f"{quote(meta.db_table)} c INNER JOIN {quote(user_meta.db_table)} u "
        f"ON u.{quote(meta.get_field('user').target_field.column)} = {owner}"
    )
    factors = ""
    if with_profile:
        parts.append((TwoFactorProfile, "p"))
        profile_meta = TwoFactorProfile._meta
        profile_owner = f"p.{quote(profile_meta.get_field('user').column)}"
        tables += f" LEFT JOIN {quote(profile_meta.db_table)} p ON {profile_owner} = {owner}"
        factors = ", " + _factors_sql(alias, owner)
    return (
        f"SELECT {joined.columns(alias, parts)}{factors} FROM {tables} "  # noqa: S608 - names from the models
        f"WHERE c.{quote(meta.pk.column)} = %s AND {column('purpose')} = %s "
        f"AND {column('status')} = %s AND {column('expires_at')} > %s"
    )


#: ``pending_for()`` reads the profile itself unless the caller has read it.
_UNREAD: Any = object()


def pending_for(challenge: LoginChallenge, profile: Any = _UNREAD) -> PendingLogin:
    """The attempt with what the user can do now; ``profile`` if the caller just read it
    (with :func:`_profile_with_factors`), None for a user who has none."""
    if profile is _UNREAD:
        profile = _profile_with_factors(challenge.user)
    return PendingLogin(
        challenge=challenge,
        user=challenge.user,
        profile=profile,
        methods=available_methods(challenge.user, profile),
    )


def _finish(challenge: LoginChallenge, method: str) -> bool:
    """Move the challenge out of ``pending``; True for exactly one caller."""
    now = timezone.now()
    finished = statements.update(
        LoginChallenge,
        {"pk": challenge.pk, "status": ChallengeStatus.PENDING, "expires_at__gt": now},
        {"status": ChallengeStatus.VERIFIED, "completed_at": now, "method": method},
    )
    return finished == 1


def _fail(challenge: LoginChallenge) -> None:
    LoginChallenge.objects.filter(pk=challenge.pk, status=ChallengeStatus.PENDING).update(
        status=ChallengeStatus.FAILED, completed_at=timezone.now()
    )


# -- the browser session as the holder --------------------------------------------------------


def safe_next_url(request: HttpRequest, candidate: Any) -> str:
    """``candidate`` if it stays on this site, else the default landing page."""
    if (
        isinstance(candidate, str)
        and candidate.isprintable()  # no NUL or control characters reach the database
        and len(candidate) <= 2000
        and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return candidate
    return _resolve_default_redirect()


def _resolve_default_redirect() -> str:
    from django.shortcuts import resolve_url

    return resolve_url(settings.LOGIN_REDIRECT_URL)


def reserve_password_attempt(username: Any, client: ClientInfo) -> throttling.Reservation:
    """Count a password attempt before checking it; release it when the password was right.

    Raises :class:`Throttled` the same way whether or not the username exists.
    """
    name = username if isinstance(username, str) else ""
    return throttling.reserve(throttling.password_rules(name, client.ip))


@dataclass(frozen=True)
class LoginResult:
    """What :func:`begin_login` did: logged in already, or a second step is needed."""

    logged_in: bool
    redirect_url: str
    pending: PendingLogin | None = None


def begin_login(
    request: HttpRequest, user: Any, *, backend: str, next_url: Any = ""
) -> LoginResult:
    """After a correct password: log in, or start the second step (never both).

    The session gets no password and no login yet, only the attempt's id and
    secret. The session key changes here, and again when the login completes.
    """
    client = ClientInfo.from_request(request)
    next_url = safe_next_url(request, next_url)
    user_state, profile = _state_and_profile(user)
    if not needs_second_step(user, user_state):
        _login_session(request, user, backend, user_state, verified=False)
        return LoginResult(True, next_url)
    if user_state.enabled and _trusted_browser_matches(request, user, user_state.version):
        _login_session(request, user, backend, user_state, verified=True)
        return LoginResult(True, next_url)
    pending = _start_web_pending(
        request, user, backend=backend, next_url=next_url, client=client, profile=profile
    )
    record(EventType.LOGIN_PASSWORD, user=user, client=client)
    return LoginResult(False, next_url, pending)


def _state_and_profile(user: Any) -> tuple[state.UserState, Any]:
    """The user's 2FA state and, when the cache did not have it, their profile as well.

    At a login the cached state has usually expired. The profile query the
    second step needs anyway then answers both, so the password step reads
    the profile once rather than twice. On a cache hit the profile is left
    unread (:data:`_UNREAD`): a user without a second step needs none.
    """
    read: list[Any] = []

    def profile_state() -> state.UserState:
        read.append(_profile_with_factors(user))
        return state.state_of(read[0])

    user_state = state.load_user_state(user.pk, read=profile_state)
    return user_state, (read[0] if read else _UNREAD)


def _start_web_pending(
    request: HttpRequest,
    user: Any,
    *,
    backend: str,
    next_url: str,
    client: ClientInfo,
    profile: Any = _UNREAD,
) -> PendingLogin:
    challenge, secret = create_challenge(user, backend=backend, next_url=next_url, client=client)
    _renew_session_key(request.session)
    request.session[state.PENDING_SESSION_KEY] = {"id": str(challenge.pk), "secret": secret}
    return pending_for(challenge, profile)


def _renew_session_key(session: Any) -> None:
    """A new key for a session that has one, against session fixation.

    A session not stored yet has no key to fixate: it gets a new random one
    when it is saved, so creating it now as well (``cycle_key()`` does) would
    only store it twice. Reading it first drops a key from a cookie that
    matches no stored session, as every Django session engine does on load.
    """
    session.get(state.PENDING_SESSION_KEY)
    if session.session_key:
        session.cycle_key()


def _login_session(
    request: HttpRequest, user: Any, backend: str, user_state: state.UserState, *, verified: bool
) -> None:
    request.session.pop(state.PENDING_SESSION_KEY, None)
    login(request, user, backend=backend)
    state.mark_session(request.session, user, version=user_state.version, verified=verified)


def demote_session(request: HttpRequest, user: Any, backend: str, next_url: Any = "") -> None:
    """Turn a login made elsewhere (admin, password reset...) into a pending attempt.

    The session loses its authenticated user at once; the attempt continues
    on the second-step page.
    """
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    for key in (SESSION_KEY, BACKEND_SESSION_KEY, HASH_SESSION_KEY, state.VERIFIED_SESSION_KEY):
        request.session.pop(key, None)
    if backend not in settings.AUTHENTICATION_BACKENDS:
        # The login completes through one of the site's own backends, or
        # Django's get_user() would drop it again.
        backend = settings.AUTHENTICATION_BACKENDS[0]
    client = ClientInfo.from_request(request)
    _start_web_pending(
        request, user, backend=backend, next_url=safe_next_url(request, next_url), client=client
    )
    record(EventType.LOGIN_PASSWORD, user=user, client=client, via="external login")


def get_pending(request: HttpRequest) -> PendingLogin | None:
    """The session's login attempt, if it is still open and valid."""
    held = request.session.get(state.PENDING_SESSION_KEY)
    if not isinstance(held, dict):
        return None
    pending = find_pending(held.get("id"), held.get("secret"), ChallengePurpose.LOGIN)
    if pending is None:
        request.session.pop(state.PENDING_SESSION_KEY, None)
    return pending


def cancel_login(request: HttpRequest) -> None:
    held = request.session.pop(state.PENDING_SESSION_KEY, None)
    if isinstance(held, dict):
        challenge = find_challenge(held.get("id"), held.get("secret"), ChallengePurpose.LOGIN)
        if challenge is not None:
            LoginChallenge.objects.filter(pk=challenge.pk, status=ChallengeStatus.PENDING).update(
                status=ChallengeStatus.CANCELLED, completed_at=timezone.now()
            )


@dataclass(frozen=True)
class Completion:
    redirect_url: str
    trust_token: str | None = None


def complete_web_login(
    request: HttpRequest, pending: PendingLogin, *, trust_browser: bool = False
) -> Completion:
    """Log in after the second step: the session key rotates, counters reset."""
    user, challenge = pending.user, pending.challenge
    user_state = state.load_user_state(user.pk)
    _login_session(request, user, challenge.backend, user_state, verified=True)
    token = None
    if trust_browser and app_settings.TRUSTED_BROWSER_DAYS and pending.profile:
        token = _trust_browser(user, pending.profile, ClientInfo.from_request(request))
    return Completion(safe_next_url(request, challenge.next_url), token)


def _trusted_browser_matches(request: HttpRequest, user: Any, version: int) -> bool:
    token = request.COOKIES.get(TRUST_COOKIE_NAME)
    if not token or len(token) > 100:
        return False
    now = timezone.now()
    updated = TrustedBrowser.objects.filter(
        user=user,
        token_digest=salted_hmac(_TRUST_SALT, token, algorithm="sha256").hexdigest(),
        profile_version=version,
        auth_fingerprint=state.auth_fingerprint(user.get_session_auth_hash()),
        revoked_at__isnull=True,
        expires_at__gt=now,
    ).update(last_used_at=now)
    return updated == 1


def _trust_browser(user: Any, profile: TwoFactorProfile, client: ClientInfo) -> str:
    token = secrets.token_urlsafe(32)
    TrustedBrowser.objects.create(
        user=user,
        token_digest=salted_hmac(_TRUST_SALT, token, algorithm="sha256").hexdigest(),
        profile_version=profile.version,
        auth_fingerprint=state.auth_fingerprint(user.get_session_auth_hash()),
        label=client.user_agent[:200],
        ip_address=client.ip,
        expires_at=timezone.now() + dt.timedelta(days=app_settings.TRUSTED_BROWSER_DAYS),
    )
    record(EventType.BROWSER_TRUSTED, user=user, client=client)
    return token


def revoke_trusted_browser(user: Any, browser_id: Any, client: ClientInfo) -> bool:
    revoked = TrustedBrowser.objects.filter(
        user=user, pk=browser_id, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    if revoked:
        record(EventType.BROWSER_REVOKED, user=user, client=client)
    return bool(revoked)


# -- an API client as the holder ---------------------------------------------------------


@hides_locals
def challenge_token(challenge: LoginChallenge, secret: str) -> str:
    """The opaque string an API client holds: the attempt's id and its secret."""
    return f"{challenge.pk}.{secret}"


@hides_locals
def find_api_pending(token: Any, purpose: str = ChallengePurpose.LOGIN) -> PendingLogin | None:
    """The attempt an API client names by its token; the client never names a user."""
    if not isinstance(token, str) or token.count(".") != 1 or len(token) > 200:
        return None
    challenge_id, secret = token.split(".")
    return find_pending(challenge_id, secret, purpose)


@hides_locals
def begin_api_login(
    user: Any, client: ClientInfo, *, backend: str
) -> tuple[PendingLogin, str] | None:
    """After a correct password through the API: None if no second step is needed."""
    user_state, profile = _state_and_profile(user)
    if not needs_second_step(user, user_state):
        return None
    challenge, secret = create_challenge(user, backend=backend, client=client)
    record(EventType.LOGIN_PASSWORD, user=user, client=client, via="api")
    return pending_for(challenge, profile), challenge_token(challenge, secret)


@hides_locals
def issue_api_token(user: Any, client: ClientInfo, *, second_step_passed: bool, name: str = ""):
    """A token for a user who passed every step this login needed (see :mod:`.tokens`)."""
    from . import tokens

    token, key = tokens.issue(user, second_step_passed=second_step_passed, name=name)
    record(EventType.API_TOKEN_ISSUED, user=user, client=client)
    return token, key


# -- sending codes --------------------------------------------------------------------------


@hides_locals
def send_code(
    pending: PendingLogin, channel: str, client: ClientInfo, *, locale: str | None = None
) -> SendResult:
    """Send a code by SMS or voice for this attempt (cooldown and quotas apply).

    A resend replaces the attempt's previous code and never resets the
    failure counts.
    """
    if channel not in pending.methods or channel not in (Method.SMS, Method.CALL):
        raise MethodNotAvailable()
    throttling.raise_if_locked(pending.profile, timezone.now())
    return _deliver_code(
        pending.challenge,
        pending.profile,
        pending.profile.as_recipient(),
        Channel(channel),
        client,
        locale=locale,
    )


@hides_locals
def _deliver_code(
    challenge: LoginChallenge,
    profile: TwoFactorProfile,
    recipient: Recipient,
    channel: Channel,
    client: ClientInfo,
    *,
    locale: str | None = None,
    new_phone: tuple[str, str] | None = None,
) -> SendResult:
    """Send a code for ``challenge`` and record it there, only once the provider took it.

    ``new_phone`` is the (number, provider user id) being enrolled: it is
    stored with the code reference, so that a refused send (cooldown, quota,
    outage) leaves the attempt exactly as it was.
    """
    provider = get_provider()
    provider.ensure_channel(channel)
    now = timezone.now()
    previous = throttling.start_cooldown(profile.pk, now, last_sent=profile.last_code_sent_at)
    rules = throttling.send_rules(
        profile.user_id,
        recipient.phone,
        client.ip,
        channel.value,
        unconfirmed=new_phone is not None,
    )
    try:
        reservation = throttling.reserve(rules, now)
    except BaseException:
        throttling.cancel_cooldown(profile.pk, now, previous)
        raise
    try:
        result = provider.send_code(recipient, channel, locale=locale)
    except BaseException as err:
        reservation.release()
        throttling.cancel_cooldown(profile.pk, now, previous)
        if not isinstance(err, ProviderError):
            raise
        record(
            EventType.PROVIDER_ERROR,
            user=profile.user,
            client=client,
            method=channel.value,
            error=type(err).__name__,
        )
        raise
    sent = {"code_channel": channel.value, "code_reference": result.reference, "code_sent_at": now}
    if new_phone is not None:
        sent.update(new_phone_number=new_phone[0], new_provider_user_id=new_phone[1])
    statements.update(LoginChallenge, {"pk": challenge.pk}, sent)
    for name, value in sent.items():
        setattr(challenge, name, value)
    record(EventType.CODE_SENT, user=profile.user, client=client, method=channel.value)
    signals.code_sent.send(sender=__name__, user=profile.user, request=None, channel=channel.value)
    return result


# -- push -------------------------------------------------------------------------------------


def start_push(pending: PendingLogin, client: ClientInfo) -> str:
    """Ask the user's app to approve this attempt; returns the push reference."""
    if Method.PUSH not in pending.methods:
        raise MethodNotAvailable()
    throttling.raise_if_locked(pending.profile, timezone.now())
    reservation = throttling.reserve(throttling.push_rules(pending.user.pk))
    provider = get_provider()
    issuer = app_settings.ISSUER_NAME or _("this site")
    try:
        push = provider.start_push(
            pending.profile.as_recipient(),
            message=_("Log in to %(site)s?") % {"site": issuer},
            details={_("From"): client.ip or _("unknown"), _("Browser"): client.user_agent[:80]},
        )
    except ProviderError:
        reservation.release()
        raise
    LoginChallenge.objects.filter(pk=pending.challenge.pk).update(
        push_reference=push.reference, push_status=PushStatus.PENDING.value
    )
    pending.challenge.push_reference = push.reference
    pending.challenge.push_status = PushStatus.PENDING.value
    record(EventType.PUSH_SENT, user=pending.user, client=client, method=Method.PUSH)
    return push.reference


def push_outcome(pending: PendingLogin, client: ClientInfo) -> PushStatus:
    """The push's state; on approval the attempt is finished (exactly once).

    Reads the status a signed callback stored, or asks the provider.
    """
    challenge = pending.challenge
    if not challenge.push_reference:
        raise MethodNotAvailable()
    status = PushStatus(challenge.push_status or PushStatus.PENDING.value)
    if status is PushStatus.PENDING:
        status = get_provider().push_status(challenge.push_reference)
        _store_push_status(challenge, status)
    if status is PushStatus.APPROVED:
        if not _finish(challenge, Method.PUSH):
            raise LoginRestart()
        _succeeded(pending, Method.PUSH, client)
    elif status in (PushStatus.DENIED, PushStatus.EXPIRED):
        _push_failed_once(pending, status, client)
    return status


def _store_push_status(challenge: LoginChallenge, status: PushStatus) -> None:
    LoginChallenge.objects.filter(pk=challenge.pk, push_reference=challenge.push_reference).update(
        push_status=status.value
    )
    challenge.push_status = status.value


def _push_failed_once(pending: PendingLogin, status: PushStatus, client: ClientInfo) -> None:
    # Count a denial as one failure, however often the page polls afterwards.
    claimed = LoginChallenge.objects.filter(
        pk=pending.challenge.pk, push_reference=pending.challenge.push_reference
    ).update(push_reference="")
    if claimed and status is PushStatus.DENIED:
        charge = throttling.charge_account_attempt(pending.profile.pk, allow_when_locked=True)
        _record_failure(pending, Method.PUSH, client, charge)


def apply_push_callback(reference: str, status: PushStatus) -> bool:
    """Store a push answer from a signed provider callback; True if it matched an attempt.

    Only the attempt that started this push can be completed by it.
    """
    if status not in (PushStatus.APPROVED, PushStatus.DENIED) or not reference:
        return False
    updated = (
        LoginChallenge.objects.open()
        .filter(push_reference=reference, push_status=PushStatus.PENDING.value)
        .update(push_status=status.value)
    )
    return updated == 1


# -- verifying codes ---------------------------------------------------------------------------


@hides_locals
def verify_code(pending: PendingLogin, method: str, code: Any, client: ClientInfo) -> None:
    """Check a code for this attempt and finish it, or raise.

    Throttles are charged before the code is checked and given back when the
    provider fails, so an outage never counts against the user and concurrent
    guesses cannot exceed the limits.
    """
    if method not in pending.methods:
        raise MethodNotAvailable()
    if method == Method.PUSH:
        # A push is approved in the app, never typed: a code sent with it would
        # be checked as some other method's.
        raise InvalidInput(_("Approve the request in your app; there is no code to enter."))
    if method == Method.RECOVERY:
        return _verify_recovery(pending, code, client)
    code = _clean_code(code)
    if method == Method.TOTP and totp.has_confirmed_device(pending.user):
        _checked(pending, method, client, lambda: totp.verify(pending.user, code))
        return None
    if method in (Method.SMS, Method.CALL):
        if not pending.challenge.code_reference:
            raise InvalidInput(_("Ask for a code first."))
        # The code is the one this attempt sent, by whichever channel it went:
        # the audit trail and the signals name that channel.
        method = pending.challenge.code_channel or method
    recipient = pending.profile.as_recipient()
    reference = pending.challenge.code_reference if method != Method.TOTP else ""
    _checked(
        pending,
        method,
        client,
        lambda: get_provider().check_code(recipient, code, reference=reference),
    )
    return None


@hides_locals
def _clean_code(code: Any) -> str:
    if isinstance(code, str):
        code = code.strip().replace(" ", "")
    if not isinstance(code, str) or not _CODE_PATTERN.fullmatch(code):
        raise InvalidTokenFormat()
    return code


@dataclass
class _Charges:
    ip: throttling.Reservation | None = None
    recovery: throttling.Reservation | None = None
    account: throttling.AccountCharge | None = None
    challenge_charged: bool = False

    def release_rate_limits(self) -> None:
        """A correct code is not a failure: give back the per-IP and recovery slots."""
        for reservation in (self.ip, self.recovery):
            if reservation:
                reservation.release()

    def refund(self, challenge: LoginChallenge) -> None:
        self.release_rate_limits()
        if self.account:
            throttling.refund_account_attempt(self.account)
        if self.challenge_charged:
            LoginChallenge.objects.filter(pk=challenge.pk, failures__gt=0).update(
                failures=F("failures") - 1
            )


def _charge(pending: PendingLogin, client: ClientInfo, *, recovery_code: bool) -> _Charges:
    """Charge every limit before the code is checked; all or nothing.

    The attempt is charged before the account, so a burst of submissions for
    one attempt can hold at most its own budget of the account's.
    """
    charges = _Charges()
    try:
        if client.ip:
            charges.ip = throttling.reserve(throttling.ip_failure_rules(client.ip))
        charges.challenge_charged = _charge_challenge(pending.challenge)
        if recovery_code:
            charges.recovery = throttling.reserve(
                [(throttling.recovery_failure_rule(), str(pending.user.pk))]
            )
        charges.account = throttling.charge_account_attempt(
            pending.profile.pk, allow_when_locked=recovery_code, loaded=pending.profile
        )
    except BaseException:
        charges.refund(pending.challenge)
        raise
    return charges


def _charge_challenge(challenge: LoginChallenge) -> bool:
    limit = app_settings.THROTTLE["PENDING_LOGIN_MAX_FAILURES"]
    charged = statements.update(
        LoginChallenge,
        {"pk": challenge.pk, "status": ChallengeStatus.PENDING, "failures__lt": limit},
        {"failures": statements.Increment()},
    )
    if charged:
        return True
    if not LoginChallenge.objects.open().filter(pk=challenge.pk).exists():
        raise LoginRestart(_("Too many wrong codes. Please sign in again."))
    # The budget is taken by codes still being checked, not (yet) by wrong
    # ones: refuse this one without failing the attempt.
    raise Throttled(_("Another code for this sign-in is being checked. Try again."), 1)


@hides_locals
def _checked(pending: PendingLogin, method: str, client: ClientInfo, check) -> None:
    charges = _charge(pending, client, recovery_code=method == Method.RECOVERY)
    try:
        ok = check()
    except BaseException:
        # Provider trouble, an expired code or a bug: not the user's failure.
        charges.refund(pending.challenge)
        raise
    if ok and _finish(pending.challenge, method):
        charges.release_rate_limits()
        _succeeded(pending, method, client)
        return
    if ok:  # correct, but another request finished this attempt first
        charges.refund(pending.challenge)
        raise LoginRestart()
    _record_failure(pending, method, client, charges.account)
    _raise_invalid(pending)


def _raise_invalid(pending: PendingLogin) -> None:
    limit = app_settings.THROTTLE["PENDING_LOGIN_MAX_FAILURES"]
    failures = (
        LoginChallenge.objects.filter(pk=pending.challenge.pk)
        .values_list("failures", flat=True)
        .first()
    )
    if failures is None or failures >= limit:
        _fail(pending.challenge)
        raise LoginRestart(_("Too many wrong codes. Please sign in again."))
    raise InvalidCode(attempts_left=limit - failures)


@hides_locals
def _verify_recovery(pending: PendingLogin, code: Any, client: ClientInfo) -> None:
    if not recovery.looks_like_recovery_code(code):
        raise InvalidTokenFormat(_("Enter a recovery code like ABCD-EFGH-JKMN-PQRS."))

    def consume_and_finish() -> bool:
        with transaction.atomic():
            if not recovery.consume(pending.user, code):
                return False
            if not _finish(pending.challenge, Method.RECOVERY):
                transaction.set_rollback(True)  # keep the code for a live attempt
                raise LoginRestart()
            return True

    _checked_recovery(pending, client, consume_and_finish)


@hides_locals
def _checked_recovery(pending: PendingLogin, client: ClientInfo, consume_and_finish) -> None:
    charges = _charge(pending, client, recovery_code=True)
    try:
        ok = consume_and_finish()
    except BaseException:
        charges.refund(pending.challenge)
        raise
    if ok:
        charges.release_rate_limits()
        _succeeded(pending, Method.RECOVERY, client)
        left = recovery.remaining(pending.user)
        record(EventType.RECOVERY_USED, user=pending.user, client=client, remaining=left)
        signals.recovery_code_used.send(
            sender=__name__, user=pending.user, request=None, remaining=left
        )
        return
    _record_failure(pending, Method.RECOVERY, client, charges.account)
    _raise_invalid(pending)


def _succeeded(pending: PendingLogin, method: str, client: ClientInfo) -> None:
    throttling.reset_account_failures(pending.profile.pk)
    record(EventType.LOGIN_VERIFIED, user=pending.user, client=client, method=method)
    signals.second_factor_verified.send(
        sender=__name__, user=pending.user, request=None, method=method
    )


def _record_failure(
    pending: PendingLogin, method: str, client: ClientInfo, charge: throttling.AccountCharge | None
) -> None:
    user = pending.user
    count = charge.count if charge else 0
    record(EventType.CODE_FAILED, user=user, client=client, method=method, failures=count)
    signals.second_factor_failed.send(
        sender=__name__, user=user, request=None, method=method, failure_count=count
    )
    user_login_failed.send(
        sender=__name__,
        credentials={get_user_model().USERNAME_FIELD: user.get_username()},
        request=None,
    )
    if charge and (charge.locked or charge.hard_locked):
        record(EventType.LOCKED, user=user, client=client, hard=charge.hard_locked)
        signals.account_locked.send(
            sender=__name__, user=user, request=None, hard=charge.hard_locked
        )


# -- enrollment and management -------------------------------------------------------------


def get_or_create_profile(user: Any) -> TwoFactorProfile:
    profile, _created = TwoFactorProfile.objects.get_or_create(user=user)
    return profile


@hides_locals
def start_phone_enrollment(
    user: Any,
    raw_phone: Any,
    channel: str,
    client: ClientInfo,
    *,
    purpose_challenge=None,
    step_up: LoginChallenge | None = None,
) -> tuple[LoginChallenge, str | None, SendResult]:
    """Register a phone with the provider and send a code to confirm it.

    The phone is not the user's until the code comes back
    (:func:`confirm_phone`). ``purpose_challenge`` is a pending login (forced
    enrollment) to carry the enrollment; otherwise a new enrollment attempt is
    created and its secret returned, and an account that has 2FA on needs a
    fresh ``step_up`` (:func:`require_step_up`).
    """
    if purpose_challenge is None:
        require_step_up(user, step_up)
    phone = parse_phone(raw_phone)
    provider = get_provider()
    if not provider.supports(channel) or channel not in (Method.SMS, Method.CALL):
        raise UnsupportedChannel()
    profile = get_or_create_profile(user)
    recipient = Recipient(phone=phone.e164, email=getattr(user, "email", "") or "")
    provider_user_id = provider.enroll(recipient) if provider.needs_enrollment else None
    secret = None
    challenge = purpose_challenge
    if challenge is None:
        challenge, secret = create_challenge(user, purpose=ChallengePurpose.ENROLL, client=client)
    recipient = Recipient(
        phone=phone.e164, provider_user_id=provider_user_id, email=recipient.email
    )
    try:
        result = _deliver_code(
            challenge,
            profile,
            recipient,
            Channel(channel),
            client,
            new_phone=(phone.e164, provider_user_id or ""),
        )
    except Authy2FAError:
        if purpose_challenge is None:
            # Refused before anything was sent (throttle, channel, provider):
            # the new attempt would only be litter.
            LoginChallenge.objects.filter(pk=challenge.pk).delete()
        raise
    return challenge, secret, result


@hides_locals
def confirm_phone(
    user: Any,
    challenge: LoginChallenge,
    code: Any,
    client: ClientInfo,
    *,
    step_up: LoginChallenge | None = None,
) -> list[str] | None:
    """Check the code sent to the new phone; on success the phone becomes the user's.

    Returns fresh recovery codes when this enabled 2FA (show them once), else None.
    An account that has 2FA on by now needs a fresh ``step_up`` here too: an
    enrollment started before 2FA was on must not add a factor without one.
    """
    require_step_up(user, step_up)
    if not challenge.new_phone_number or not challenge.code_reference:
        raise InvalidInput(_("Ask for a code first."))
    code = _clean_code(code)
    profile = get_or_create_profile(user)
    pending = PendingLogin(challenge=challenge, user=user, profile=profile)
    recipient = Recipient(
        phone=challenge.new_phone_number,
        provider_user_id=challenge.new_provider_user_id or None,
    )
    charges = _charge(pending, client, recovery_code=False)
    try:
        ok = get_provider().check_code(recipient, code, reference=challenge.code_reference)
    except BaseException:
        charges.refund(challenge)
        raise
    if not ok:
        _record_failure(pending, challenge.code_channel, client, charges.account)
        _raise_invalid(pending)
    if not _finish(challenge, challenge.code_channel):
        charges.refund(challenge)
        raise LoginRestart()
    charges.release_rate_limits()
    throttling.reset_account_failures(profile.pk)
    return _bind_phone(user, profile, challenge, client)


@hides_locals
def _bind_phone(
    user: Any, profile: TwoFactorProfile, challenge: LoginChallenge, client: ClientInfo
) -> list[str] | None:
    was_enabled = profile.is_enabled
    old_recipient = profile.as_recipient()
    now = timezone.now()
    with transaction.atomic():
        TwoFactorProfile.objects.filter(pk=profile.pk).update(
            phone_number=challenge.new_phone_number,
            authy_id=challenge.new_provider_user_id or None,
            phone_confirmed_at=now,
            enabled_at=profile.enabled_at or now,
            default_method=profile.default_method or challenge.code_channel,
            version=next_version(),
        )
        codes = None if was_enabled else recovery.replace_codes(user)
        state.publish_user_state(user.pk)
    profile.refresh_from_db()
    event = EventType.PHONE_CHANGED if was_enabled else EventType.ENROLLED
    record(
        event, user=user, client=client, method=challenge.code_channel, phone=profile.masked_phone
    )
    signals.second_factor_enrolled.send(
        sender=__name__, user=user, request=None, method=challenge.code_channel
    )
    if (
        was_enabled
        and old_recipient.provider_user_id
        and (old_recipient.provider_user_id != profile.authy_id)
    ):
        _forget_at_provider(old_recipient)
    return codes


def _forget_at_provider(recipient: Recipient) -> None:
    # The provider forgets unused users anyway; never block the user's change.
    with contextlib.suppress(ProviderError):
        get_provider().remove(recipient)


def start_app_enrollment(user: Any, *, step_up: LoginChallenge | None = None) -> totp.Enrollment:
    """A new authenticator-app secret to show once (QR code and key); not yet a factor.

    An account that has 2FA on needs a fresh ``step_up`` (:func:`require_step_up`).
    """
    require_step_up(user, step_up)
    return totp.start_enrollment(user)


@hides_locals
def confirm_app(
    user: Any, code: Any, client: ClientInfo, *, step_up: LoginChallenge | None = None
) -> list[str] | None:
    """A code from the app makes it a factor; returns recovery codes when this enabled 2FA.

    Like :func:`confirm_phone`, an account that has 2FA on by now needs a fresh
    ``step_up``: an app set up before 2FA was on must not become a factor without one.
    """
    require_step_up(user, step_up)
    throttling.reserve([(throttling.enrollment_confirm_rule(), str(user.pk))])
    if not totp.confirm(user, _clean_code(code)):
        raise InvalidCode()
    profile = get_or_create_profile(user)
    was_enabled = profile.is_enabled
    now = timezone.now()
    with transaction.atomic():
        TwoFactorProfile.objects.filter(pk=profile.pk).update(
            enabled_at=profile.enabled_at or now,
            default_method=profile.default_method or Method.TOTP,
            version=next_version(),
        )
        codes = None if was_enabled else recovery.replace_codes(user)
        state.publish_user_state(user.pk)
    record(EventType.ENROLLED, user=user, client=client, method=Method.TOTP)
    signals.second_factor_enrolled.send(
        sender=__name__, user=user, request=None, method=Method.TOTP
    )
    return codes


def finish_enrollment_login(pending: PendingLogin) -> Any:
    """A forced enrollment just confirmed a factor: this attempt's login may complete (once)."""
    if not _finish(pending.challenge, Method.TOTP):
        raise LoginRestart()
    return pending.user


def set_default_method(user: Any, method: str) -> None:
    """The user's choice of method offered first at sign-in."""
    profile = TwoFactorProfile.objects.filter(user=user).first()
    if profile is None or method not in available_methods(user, profile):
        raise MethodNotAvailable()
    TwoFactorProfile.objects.filter(pk=profile.pk).update(default_method=method)


@hides_locals
def ensure_can_regenerate(user: Any) -> None:
    """Recovery codes belong to an account with 2FA on: raise MethodNotAvailable otherwise."""
    profile = TwoFactorProfile.objects.filter(user=user).first()
    if profile is None or not profile.is_enabled:
        raise MethodNotAvailable()


def regenerate_recovery_codes(
    user: Any, client: ClientInfo, *, step_up: LoginChallenge | None
) -> list[str]:
    """Void the old set and return a new one (show it once); uses up a fresh step-up."""
    ensure_can_regenerate(user)
    with transaction.atomic():
        _use_up_step_up(user, step_up)
        codes = recovery.replace_codes(user)
    record(EventType.RECOVERY_REGENERATED, user=user, client=client)
    return codes


@hides_locals
def check_password(user: Any, password: Any) -> None:
    if not isinstance(password, str) or not user.check_password(password):
        raise PasswordRequired(_("That password is not right."))


@hides_locals
def step_up(
    request_user: Any,
    password: Any,
    method: str,
    code: Any,
    client: ClientInfo,
    challenge: LoginChallenge,
) -> None:
    """Check the password and a current second factor against a step-up ``challenge``.

    A passed step-up is the proof that sensitive changes ask for: good for
    :data:`STEP_UP_SECONDS`, used up by disabling or regenerating recovery codes.
    """
    attempt = reserve_password_attempt(request_user.get_username(), client)
    check_password(request_user, password)
    attempt.release()
    pending = pending_for(challenge)
    verify_code(pending, method, code, client)
    good_until = timezone.now() + dt.timedelta(seconds=STEP_UP_SECONDS)
    LoginChallenge.objects.filter(pk=challenge.pk).update(expires_at=good_until)
    challenge.expires_at = good_until


def _passed_step_ups():
    return LoginChallenge.objects.filter(
        purpose=ChallengePurpose.STEP_UP,
        status=ChallengeStatus.VERIFIED,
        expires_at__gt=timezone.now(),
    )


def has_step_up(user: Any, proof: LoginChallenge | None) -> bool:
    """Whether ``proof`` is a step-up ``user`` passed in the last minutes and has not used up."""
    return proof is not None and _passed_step_ups().filter(pk=proof.pk, user_id=user.pk).exists()


def require_step_up(user: Any, proof: LoginChallenge | None) -> None:
    """Raise :class:`StepUpRequired` unless ``user`` has no second factor yet or ``proof`` holds.

    Adding or replacing a factor on an account that has one binds a new
    authenticator: whoever holds the session must prove both factors first.
    """
    profile = TwoFactorProfile.objects.filter(user=user).first()
    if profile is not None and profile.is_enabled and not has_step_up(user, proof):
        raise StepUpRequired()


def _use_up_step_up(user: Any, proof: LoginChallenge | None) -> None:
    """Spend ``proof`` (once, atomically with the caller's transaction), or refuse."""
    if proof is None:
        raise StepUpRequired()
    used = _passed_step_ups().filter(pk=proof.pk, user_id=user.pk).update(expires_at=timezone.now())
    if used != 1:
        raise StepUpRequired()


def ensure_can_turn_off(user: Any) -> None:
    """Raise :class:`RequiredByPolicy` when the site's policy requires 2FA for ``user``."""
    if policy_requires(user):
        raise RequiredByPolicy()


def turn_off(user: Any, client: ClientInfo, *, step_up: LoginChallenge | None) -> None:
    """The user turns their own 2FA off: allowed by the policy, proven by a fresh step-up.

    The proof is spent in the transaction that switches 2FA off, so a refused
    change (a cache that cannot be updated) keeps it.
    """
    ensure_can_turn_off(user)
    if not has_step_up(user, step_up):
        raise StepUpRequired()
    disable(user, client, actor=user, spend=lambda: _use_up_step_up(user, step_up))


def disable(
    user: Any,
    client: ClientInfo,
    *,
    actor: Any = None,
    reason: str = "",
    spend: Callable[[], None] | None = None,
) -> None:
    """Turn 2FA off: phone, app, recovery codes and trusted browsers go; sessions re-check.

    ``reason`` is an administrator's note for the audit event; only administrators give one
    (the reset command may run without an account), so it makes the event a ``RESET``.
    ``spend`` runs first inside the switching transaction (a step-up proof used up there);
    the audit event, the signal and the provider are told after the commit.
    """
    profile = TwoFactorProfile.objects.filter(user=user).first()
    if profile is None:
        totp.remove(user)
        return
    recipient = profile.as_recipient()
    with transaction.atomic():
        if spend is not None:
            spend()
        TwoFactorProfile.objects.filter(pk=profile.pk).update(
            phone_number="",
            authy_id=None,
            enabled_at=None,
            phone_confirmed_at=None,
            default_method="",
            failure_count=0,
            locked_until=None,
            hard_locked_at=None,
            version=next_version(),
        )
        recovery.RecoveryCode.objects.filter(user=user).delete()
        totp.remove(user)
        now = timezone.now()
        TrustedBrowser.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)
        # The version bump already voids them; marking them says so in the admin and status.
        APIToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)
        state.publish_user_state(user.pk)
    by_admin = bool(reason) or (actor is not None and actor != user)
    event = EventType.RESET if by_admin else EventType.DISABLED
    record(event, user=user, client=client, actor=actor, **_reason(reason))
    signals.second_factor_disabled.send(sender=__name__, user=user, request=None, actor=actor)
    if recipient.provider_user_id:
        _forget_at_provider(recipient)


def unlock(user: Any, client: ClientInfo, *, actor: Any, reason: str = "") -> None:
    profile = TwoFactorProfile.objects.filter(user=user).first()
    if profile is None:
        return
    throttling.reset_account_failures(profile.pk)
    record(EventType.UNLOCKED, user=user, client=client, actor=actor, **_reason(reason))


def _reason(reason: str) -> dict[str, str]:
    """Audit details for an administrator's note; none when there is no note."""
    return {"reason": reason} if reason else {}


def refresh_session_mark(request: HttpRequest, user: Any = None) -> None:
    """After the user changed their own 2FA, keep this session verified at the new version.

    ``user`` is the user this request just signed in with ``login()``, when
    there is one: reading ``request.user`` before the mark would decide that
    login without it.
    """
    user = request.user if user is None else user
    user_state = state.load_user_state(user.pk)
    state.mark_session(request.session, user, version=user_state.version, verified=True)
