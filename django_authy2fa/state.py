"""Where the second-step state lives, and how it is read without a query.

* The **session** remembers that this session passed the second step (or did
  not need it) at a given profile version.
* The **cache** holds each user's current ``(version, enabled)`` pair. Every
  2FA change bumps the version in the database and publishes the new pair
  after commit, so other sessions notice on their next request. On a cache miss
  (or a cache error) the database is read once, so a cold or broken cache can
  slow a request down but never skips a check.

Use a cache shared by all app servers (Redis, Memcached, the database cache)
in production; with a per-process cache, a change is seen by other processes
only when their entry expires.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils.crypto import constant_time_compare, salted_hmac

from .exceptions import CacheUnavailable

logger = logging.getLogger(__name__)

VERIFIED_SESSION_KEY = "_authy2fa_verified"
PENDING_SESSION_KEY = "_authy2fa_pending"
# Short enough to bound any staleness the deletes cannot prevent (a cache
# restored from old data); long enough that a busy user costs one read per period.
CACHE_TIMEOUT = 10 * 60
_FINGERPRINT_SALT = "django_authy2fa.state.fingerprint"


@dataclass(frozen=True)
class UserState:
    version: int
    enabled: bool


def _cache_key(user_id: object) -> str:
    return f"authy2fa:user-state:{user_id}"


def load_user_state(user_id: object, read: Callable[[], UserState] | None = None) -> UserState:
    """The user's current 2FA version and whether 2FA is on (cache first).

    On a cache miss ``read`` gives the state from the database; by default
    one query for the two columns. A caller that needs the whole profile
    anyway passes a reader that loads it and returns :func:`state_of` it.
    """
    key = _cache_key(user_id)
    try:
        cached = cache.get(key)
    except Exception:  # a broken cache must not break logins
        logger.warning("Cache unavailable; reading two-factor state from the database.")
        cached = None
    if cached is not None:
        return UserState(*cached)
    state = read() if read is not None else _read_from_database(user_id)
    try:
        # add(), not set(): a concurrent writer's fresher value must win.
        cache.add(key, (state.version, state.enabled), CACHE_TIMEOUT)
    except Exception:
        logger.warning("Cache unavailable; two-factor state not cached.")
    return state


def _read_from_database(user_id: object) -> UserState:
    from .models import TwoFactorProfile

    row = (
        TwoFactorProfile.objects.filter(user_id=user_id)
        .values_list("version", "enabled_at")
        .first()
    )
    if row is None:
        return UserState(version=0, enabled=False)
    return UserState(version=row[0], enabled=row[1] is not None)


def state_of(profile: Any) -> UserState:
    """The state a freshly read :class:`~.models.TwoFactorProfile` (or its absence) stands for."""
    if profile is None:
        return UserState(version=0, enabled=False)
    return UserState(version=profile.version, enabled=profile.enabled_at is not None)


def publish_user_state(user_id: object) -> None:
    """Forget the cached state now, and cache the fresh one once the change commits.

    Deleting at once means this process never reads its own stale entry; the
    write after commit replaces any stale value another process re-added while
    the change was still uncommitted.
    """
    _forget(user_id)

    def publish() -> None:
        state = _read_from_database(user_id)
        try:
            cache.set(_cache_key(user_id), (state.version, state.enabled), CACHE_TIMEOUT)
        except Exception:
            logger.warning("Cache unavailable; could not publish two-factor state.")

    transaction.on_commit(publish)


def _forget(user_id: object) -> None:
    """Drop the cached state, or refuse the change (the caller's transaction rolls back).

    A change that the other app servers cannot notice must not happen: they
    would keep honouring the old state until the entry expires.
    """
    try:
        cache.delete(_cache_key(user_id))
    except Exception as err:
        logger.warning("Cache unavailable; refusing a two-factor change the others cannot see.")
        raise CacheUnavailable() from err


def auth_fingerprint(session_auth_hash: str) -> str:
    """A digest of the user's session auth hash: changes when the password changes."""
    return salted_hmac(_FINGERPRINT_SALT, session_auth_hash, algorithm="sha256").hexdigest()


def fingerprint_matches(stored: str, user: Any) -> bool:
    return constant_time_compare(stored, auth_fingerprint(user.get_session_auth_hash()))


def mark_session(session: Any, user: Any, *, version: int, verified: bool) -> None:
    """Record that this session passed (or did not need) the second step at ``version``."""
    session[VERIFIED_SESSION_KEY] = {
        "user": str(user.pk),
        "version": version,
        "verified": verified,
    }


def session_mark(session: Any) -> dict[str, Any] | None:
    mark = session.get(VERIFIED_SESSION_KEY)
    return mark if isinstance(mark, dict) else None
