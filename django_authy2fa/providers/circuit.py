"""A circuit breaker around the configured provider (security requirement P5).

When Twilio is down, every login that asks for an SMS would otherwise wait
for the full client timeout and fail anyway, holding a worker each time. After
``THROTTLE["CIRCUIT_FAILURES"]`` consecutive failures the breaker *opens*: for
``THROTTLE["CIRCUIT_COOLOFF_SECONDS"]`` every provider call raises
:class:`CircuitOpen` at once, without a network call, and the message tells the
user to use their authenticator app or a recovery code, which never depend on
the provider. After the cool-off the breaker is *half-open*: exactly one trial
call goes through; its success closes the breaker, its failure opens it for
another cool-off.

What counts:

* a failure is :class:`~django_authy2fa.exceptions.ProviderUnavailable`
  (timeouts, connection errors, 5xx, unreadable or unexpected answers);
* a success is a call that returns (a wrong code is an answer: ``False``) or a
  :class:`~django_authy2fa.exceptions.ProviderError` the provider answered with
  (a rejection, its own rate limit): the provider is up, the counter resets;
* anything else (input refused before the network, a bug) changes nothing.

The state lives in Django's default cache, shared by all app servers, under
keys starting with ``authy2fa:circuit:``; failures are counted with
``cache.add`` + ``cache.incr``, atomic on Redis, Memcached and the local-memory
cache. The breaker is an availability aid, never a security control: when the
cache fails, the provider is simply called.

:class:`CircuitBreaker` is transparent: :func:`~django_authy2fa.providers.get_provider`
returns it around the configured provider, it has the same methods and
attributes, and ``isinstance(get_provider(), VerifyProvider)`` still holds.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from django.core.cache import cache
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from ..conf import app_settings
from ..exceptions import ProviderError, ProviderUnavailable

__all__ = ["KEY_PREFIX", "CircuitBreaker", "CircuitOpen", "circuit_state"]

logger = logging.getLogger(__name__)

KEY_PREFIX = "authy2fa:circuit:"

#: The provider methods that reach the network and go through the breaker.
GUARDED_METHODS = frozenset(
    {"enroll", "send_code", "check_code", "start_push", "push_status", "remove"}
)

# A streak of failures, and an open circuit nobody asked about, are forgotten
# after this many cool-offs (at least 10 minutes): an incident last week does
# not add to one today.
_MEMORY_COOLOFFS = 10
_MIN_MEMORY_SECONDS = 600
# The slot of a half-open trial is freed after this long even if the request
# making it died; longer than any sane provider timeout.
_MIN_TRIAL_SECONDS = 30


def _now() -> float:
    """Wall-clock time: app servers share the state, so no per-process monotonic clock."""
    return time.time()


class CircuitOpen(ProviderUnavailable):
    """The provider is being skipped after repeated failures; nothing was sent.

    ``retry_after`` is the number of seconds until the next trial call.
    """

    default_message = gettext_noop(
        "The verification service is temporarily unavailable; "
        "use your authenticator app or a recovery code."
    )

    def __init__(self, message: str | None = None, *, retry_after: int | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class _Gate(enum.Enum):
    """How a call was let through."""

    CLOSED = "closed"  # normal operation (or the cache could not tell)
    TRIAL = "trial"  # the one half-open trial call


class CircuitBreaker:
    """Wraps a provider; see the module documentation.

    Every attribute other than the guarded methods is the wrapped provider's
    (``name``, ``channels``, ``supports``, ``client``, ``validate_webhook``,
    ``close``, ...), and ``__class__`` is the provider's class, as for Django's
    lazy objects, so ``isinstance`` checks see the provider. The wrapper's own
    public names start with ``circuit_`` or ``wrapped_`` so that they cannot
    hide a provider's.
    """

    _OWN: ClassVar[frozenset[str]] = frozenset({"_provider", "_scope", "_keys"})

    def __init__(self, provider: Any) -> None:
        object.__setattr__(self, "_provider", provider)
        scope = _scope_of(provider)
        object.__setattr__(self, "_scope", scope)
        digest = hashlib.sha256(scope.encode("utf-8")).hexdigest()[:20]
        keys = {part: f"{KEY_PREFIX}{digest}:{part}" for part in ("failures", "open", "trial")}
        object.__setattr__(self, "_keys", keys)

    # -- transparency ----------------------------------------------------------------------

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return type(self._provider)

    def __getattr__(self, name: str) -> Any:
        # Only called for names the wrapper does not have itself.
        if name in CircuitBreaker._OWN:
            raise AttributeError(name)
        attribute = getattr(self._provider, name)
        if name in GUARDED_METHODS and callable(attribute):
            return _Guarded(self, name, attribute)
        return attribute

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._provider, name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._provider, name)

    def __repr__(self) -> str:
        return f"<CircuitBreaker around {self._provider!r}>"

    @property
    def wrapped_provider(self) -> Any:
        """The provider itself, for code that must bypass the breaker."""
        return self._provider

    # -- the state machine -------------------------------------------------------------------

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``method`` of the provider through the breaker."""
        gate = self._admit()
        try:
            result = method(*args, **kwargs)
        except ProviderUnavailable:
            self._failed(gate)
            raise
        except ProviderError as err:
            if err.status_code is not None:  # refused by the provider: it is up
                self._answered(gate)
            else:  # refused before any request (no Authy ID yet, ...)
                self._neutral(gate)
            raise
        except BaseException:
            self._neutral(gate)
            raise
        self._answered(gate)
        return result

    def _admit(self) -> _Gate:
        """Let the call through, or raise :class:`CircuitOpen`."""
        keys = self._keys
        try:
            open_until = cache.get(keys["open"])
        except Exception:
            logger.warning("Cache unavailable; the provider circuit breaker is bypassed.")
            return _Gate.CLOSED
        if not _is_timestamp(open_until):
            return _Gate.CLOSED
        now = _now()
        if now < open_until:
            raise self._open_error(open_until - now)
        # Cool-off over: half-open. The first request to claim the slot makes the trial.
        try:
            claimed = cache.add(keys["trial"], now, self._trial_seconds())
        except Exception:
            logger.warning("Cache unavailable; the provider circuit breaker is bypassed.")
            return _Gate.CLOSED
        if claimed:
            logger.info("%s circuit half-open: one trial call goes through.", self._provider_name)
            return _Gate.TRIAL
        raise self._open_error(1)

    def _failed(self, gate: _Gate) -> None:
        keys = self._keys
        threshold, cooloff = _limits()
        try:
            if gate is _Gate.TRIAL:
                cache.set(keys["open"], _now() + cooloff, _memory_seconds(cooloff))
                cache.delete(keys["trial"])
                logger.warning(
                    "%s circuit opened again: the trial call failed; next trial in %s s.",
                    self._provider_name,
                    cooloff,
                )
                return
            failures = _increment(keys["failures"], _memory_seconds(cooloff))
            # add, not set: requests still in flight when it opened must not extend it.
            if failures >= threshold and cache.add(
                keys["open"], _now() + cooloff, _memory_seconds(cooloff)
            ):
                logger.warning(
                    "%s circuit opened after %s consecutive failures; next trial in %s s.",
                    self._provider_name,
                    failures,
                    cooloff,
                )
        except Exception:
            logger.warning("Cache unavailable; a provider failure was not counted.")

    def _answered(self, gate: _Gate) -> None:
        keys = self._keys
        try:
            if gate is _Gate.TRIAL:
                cache.delete_many([keys["failures"], keys["open"], keys["trial"]])
                logger.warning("%s circuit closed: the trial call succeeded.", self._provider_name)
            else:
                cache.delete(keys["failures"])
        except Exception:
            logger.warning("Cache unavailable; the provider failure count was not reset.")

    def _neutral(self, gate: _Gate) -> None:
        if gate is not _Gate.TRIAL:
            return
        try:  # the trial told nothing: let the next request make it
            cache.delete(self._keys["trial"])
        except Exception:
            logger.warning("Cache unavailable; the circuit trial slot was not freed.")

    def _open_error(self, seconds_left: float) -> CircuitOpen:
        provider = self._provider_name
        message = _(
            "%(provider)s is temporarily unavailable; "
            "use your authenticator app or a recovery code."
        ) % {"provider": provider}
        return CircuitOpen(message, provider=provider, retry_after=max(math.ceil(seconds_left), 1))

    def _trial_seconds(self) -> int:
        return max(_limits()[1], _MIN_TRIAL_SECONDS)

    @property
    def _provider_name(self) -> str:
        return getattr(self._provider, "name", "") or _("The verification service")

    # -- operations --------------------------------------------------------------------------

    def circuit_state(self) -> dict[str, Any]:
        """What the breaker knows now, for an operator (never raises)."""
        threshold, cooloff = _limits()
        keys = self._keys
        report: dict[str, Any] = {
            "provider": self._provider_name,
            "scope": self._scope,
            "key_prefix": f"{keys['open'].rsplit(':', 1)[0]}:",
            "threshold": threshold,
            "cooloff_seconds": cooloff,
        }
        try:
            values = cache.get_many(list(keys.values()))
        except Exception as err:
            return {**report, "state": "unknown", "error": type(err).__name__}
        failures = values.get(keys["failures"])
        open_until = values.get(keys["open"])
        now = _now()
        if not _is_timestamp(open_until):
            state, open_until = "closed", None
        elif now < open_until:
            state = "open"
        else:
            state = "half-open"
        return {
            **report,
            "state": state,
            "failures": failures if isinstance(failures, int) else 0,
            "open_until": open_until,
            "retry_after": max(math.ceil(open_until - now), 0) if open_until else 0,
            "trial_in_progress": keys["trial"] in values,
        }

    def circuit_reset(self) -> None:
        """Close the breaker and forget the failures (an operator knows the provider is back)."""
        cache.delete_many(list(self._keys.values()))


class _Guarded:
    """A bound provider method that goes through the breaker."""

    __slots__ = ("__wrapped__", "_breaker", "_method_name")

    def __init__(self, breaker: CircuitBreaker, name: str, method: Callable[..., Any]) -> None:
        self._breaker = breaker
        self._method_name = name
        self.__wrapped__ = method

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._breaker._call(self.__wrapped__, *args, **kwargs)

    def __repr__(self) -> str:
        return f"<{self._method_name} of {self._breaker!r}>"


def circuit_state(provider: Any = None) -> dict[str, Any]:
    """The breaker's state for ``provider`` (default: the configured one), as a dict.

    ``state`` is ``closed``, ``open``, ``half-open``, or ``unknown`` when the
    cache cannot be read; ``retry_after`` is the seconds left in the cool-off.
    """
    if provider is None:
        from . import get_provider

        provider = get_provider()
    breaker = provider if type(provider) is CircuitBreaker else CircuitBreaker(provider)
    return breaker.circuit_state()


# -- helpers ---------------------------------------------------------------------------------


def _limits() -> tuple[int, int]:
    throttle = app_settings.THROTTLE
    return throttle["CIRCUIT_FAILURES"], throttle["CIRCUIT_COOLOFF_SECONDS"]


def _memory_seconds(cooloff: int) -> int:
    return max(cooloff * _MEMORY_COOLOFFS, _MIN_MEMORY_SECONDS)


def _increment(key: str, timeout: int) -> int:
    """Add one to a counter atomically where the cache allows; the first add sets its lifetime."""
    cache.add(key, 0, timeout)
    try:
        return cache.incr(key)
    except ValueError:  # evicted or reset between add and incr
        cache.add(key, 1, timeout)
        return 1


def _is_timestamp(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _scope_of(provider: Any) -> str:
    """Which breaker a provider shares: its class and endpoint, never its credentials."""
    cls = type(provider)
    scope = f"{cls.__module__}.{cls.__qualname__}"
    config = getattr(provider, "config", None)
    if isinstance(config, Mapping) and isinstance(config.get("API_URL"), str):
        scope += f"@{config['API_URL']}"
    return scope
