"""Helpers for the race tests: real threads released together, one DB connection each."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection

from django_authy2fa import flows
from django_authy2fa.audit import ClientInfo
from django_authy2fa.exceptions import Throttled
from django_authy2fa.models import LoginChallenge, ThrottleWindow
from django_authy2fa.providers import locmem
from django_authy2fa.throttling import AccountLocked, hashed_key
from tests import helpers

BACKEND = "django_authy2fa.backends.TwoFactorBackend"
PASSWORD = "correct horse battery staple"
BARRIER_TIMEOUT = 60
JOIN_TIMEOUT = 120


@dataclass
class Outcome:
    """What one thread saw: the return value, or the exception it raised."""

    index: int
    value: Any = None
    error: BaseException | None = None
    seconds: float = 0.0

    @property
    def kind(self) -> str:
        if self.error is None:
            return "ok"
        if isinstance(self.error, AccountLocked):
            return "AccountLocked(hard)" if self.error.hard else "AccountLocked"
        for cls in (flows.InvalidCode, flows.LoginRestart, Throttled):
            if isinstance(self.error, cls):
                return cls.__name__
        return f"UNEXPECTED {type(self.error).__name__}: {self.error}"


def kinds(outcomes: list[Outcome]) -> Counter:
    return Counter(outcome.kind for outcome in outcomes)


def run_parallel(
    count: int,
    work: Callable[[int, Any], Any],
    prepare: Callable[[int], Any] | None = None,
) -> list[Outcome]:
    """Run ``work(i, prepared)`` in ``count`` threads released together by a barrier.

    ``prepare(i)`` runs in the thread before the barrier (like a request that
    loads its state), so the barrier releases threads that only have the
    contended part left. Every thread closes its own database connection.
    """
    barrier = threading.Barrier(count, timeout=BARRIER_TIMEOUT)
    outcomes = [Outcome(i) for i in range(count)]

    def run(i: int) -> None:
        outcome = outcomes[i]
        try:
            try:
                prepared = prepare(i) if prepare else None
            except BaseException:
                barrier.abort()  # the others must not wait for a thread that failed here
                raise
            barrier.wait()
            started = time.monotonic()
            try:
                outcome.value = work(i, prepared)
            finally:
                outcome.seconds = time.monotonic() - started
        except BaseException as err:
            outcome.error = err
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,), name=f"race-{i}") for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a race thread did not finish"
    unexpected = [o for o in outcomes if o.kind.startswith("UNEXPECTED")]
    assert not unexpected, f"threads raised unexpected errors: {dict(kinds(unexpected))}"
    return outcomes


def ip(n: int, net: str = "198.51.100") -> str:
    """Distinct documentation addresses (RFC 5737); nothing is ever sent to them."""
    return f"{net}.{n}"


def make_user(username: str, phone: str = "+14155550100"):
    """A user whose second step is on, with a confirmed phone (SMS offered)."""
    return helpers.make_user(username, phone=phone)


def new_pending(user, client_ip: str = "192.0.2.1") -> flows.PendingLogin:
    """A fresh login attempt for ``user``, as after the password step."""
    challenge, _secret = flows.create_challenge(
        user, backend=BACKEND, client=ClientInfo(ip=client_ip)
    )
    return flows.pending_for(challenge)


def reload_pending(challenge_id) -> flows.PendingLogin:
    """What a request holding this attempt would load (a fresh row and profile)."""
    challenge = LoginChallenge.objects.select_related("user").get(pk=challenge_id)
    return flows.pending_for(challenge)


def send_sms(pending: flows.PendingLogin, client_ip: str = "192.0.2.1") -> str:
    """Send a code through the flow and return it from the in-memory outbox."""
    before = len(locmem.outbox)
    flows.send_code(pending, "sms", ClientInfo(ip=client_ip))
    assert len(locmem.outbox) == before + 1
    return locmem.outbox[-1].code


def share_code_reference(source: LoginChallenge, targets: list[LoginChallenge]) -> None:
    """Give other attempts of the same user the code sent for ``source``.

    The 30 s cooldown allows one send per user, so the attempts share one
    code (the local provider binds a code to the phone, not to the attempt).
    """
    source.refresh_from_db()
    LoginChallenge.objects.filter(pk__in=[t.pk for t in targets]).update(
        code_channel=source.code_channel,
        code_reference=source.code_reference,
        code_sent_at=source.code_sent_at,
    )


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def window(scope: str, key: str) -> ThrottleWindow | None:
    """The counter of one rule for one raw key (IP, phone, user id)."""
    return ThrottleWindow.objects.filter(scope=scope, key=hashed_key(scope, key)).first()


def windows_total(scope: str) -> int:
    return sum(ThrottleWindow.objects.filter(scope=scope).values_list("count", flat=True))


def locked_users(exclude: Any = None) -> int:
    """Accounts locked or hard-locked now, leaving out ``exclude`` (the one under attack)."""
    from django.db.models import Q
    from django.utils import timezone

    from django_authy2fa.models import TwoFactorProfile

    locked = TwoFactorProfile.objects.filter(
        Q(locked_until__gt=timezone.now()) | Q(hard_locked_at__isnull=False)
    )
    if exclude is not None:
        locked = locked.exclude(user=exclude)
    return locked.count()


def record_race(
    reliability: Any,
    case: str,
    outcomes: list[Outcome],
    *,
    wrong_logins: int,
    wrong_locks: int,
    outcome: str,
) -> None:
    """One row for docs/reliability.md, with what the racing threads got.

    Each thread stands for one request; an unexpected exception would be a 500.
    """
    seen = kinds(outcomes)
    unexpected = sum(count for kind, count in seen.items() if kind.startswith("UNEXPECTED"))
    server = "MariaDB/MySQL" if connection.vendor == "mysql" else "PostgreSQL"
    reliability.record(
        family="race",
        case=f"{case} [{server}]",
        requests=len(outcomes),
        server_errors=unexpected,
        wrong_logins=wrong_logins,
        wrong_locks=wrong_locks,
        outcome=f"{outcome} ({', '.join(f'{k}: {v}' for k, v in sorted(seen.items()))})",
    )
