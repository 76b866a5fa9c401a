"""Races on a real database: N threads released together, exact counts afterwards.

Run with ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/test`` (or a
``mysql://`` URL). Each test commits for real (``transaction=True``), so every
thread sees the others' work exactly as concurrent requests would.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import time

import pytest
from django.db import connection, transaction
from django.utils import timezone

from django_authy2fa import flows, recovery, throttling
from django_authy2fa.audit import ClientInfo
from django_authy2fa.conf import app_settings
from django_authy2fa.exceptions import Throttled
from django_authy2fa.models import (
    AuditEvent,
    ChallengeStatus,
    EventType,
    LoginChallenge,
    RecoveryCode,
    TwoFactorProfile,
)
from django_authy2fa.providers import locmem
from django_authy2fa.providers.locmem import LocmemProvider

from .support import (
    ip,
    kinds,
    locked_users,
    make_user,
    new_pending,
    record_race,
    reload_pending,
    run_parallel,
    send_sms,
    share_code_reference,
    window,
    windows_total,
    wrong,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor not in ("postgresql", "mysql"),
        reason="needs PostgreSQL (set DATABASE_URL)",
    ),
    pytest.mark.django_db(transaction=True),
]

RAISED = {
    "PROVIDER": "django_authy2fa.providers.locmem.LocmemProvider",
    "THROTTLE": {
        "ACCOUNT_LOCK_AFTER": 100,
        "ACCOUNT_HARD_LOCK_AFTER": 200,
        "PENDING_LOGIN_MAX_FAILURES": 100,
        "IP_MAX_FAILURES": 1000,
    },
}


def events(event: EventType, **filters) -> int:
    return AuditEvent.objects.filter(event=event, **filters).count()


def failure_counts_logged(user) -> list[int]:
    """The account counter each counted wrong code saw (one per ``code_failed`` event)."""
    return sorted(
        e.details["failures"]
        for e in AuditEvent.objects.filter(user=user, event=EventType.CODE_FAILED)
    )


def pending_attempts(user, count: int) -> list[flows.PendingLogin]:
    """``count`` open attempts of ``user`` that all hold one sent SMS code; returns them."""
    attempts = [new_pending(user) for _ in range(count)]
    send_sms(attempts[0])
    share_code_reference(attempts[0].challenge, [a.challenge for a in attempts[1:]])
    return attempts


# -- 1. one valid SMS code, many submissions ----------------------------------------------


@pytest.fixture
def provider_latency(request, monkeypatch):
    """Make the in-memory provider's ``check_code`` take as long as a real provider's."""
    seconds = request.param
    if seconds:
        check_code = LocmemProvider.check_code

        def slow_check_code(self, *args, **kwargs):
            time.sleep(seconds)
            return check_code(self, *args, **kwargs)

        monkeypatch.setattr(LocmemProvider, "check_code", slow_check_code)
    return seconds


@pytest.mark.parametrize(
    ("submissions", "provider_latency"),
    [(20, 0), (20, 0.2), (6, 0.2)],
    ids=["20-instant-provider", "20-provider-takes-200ms", "6-provider-takes-200ms"],
    indirect=["provider_latency"],
)
def test_one_sms_code_parallel_verifies_complete_one_login(
    submissions, provider_latency, reliability
):
    """The same correct code submitted many times at once (double submits, client retries).

    With a provider that answers in 200 ms (a Twilio round trip), more than
    PENDING_LOGIN_MAX_FAILURES submissions are in flight before the first one
    finishes the attempt.
    """
    user = make_user("alice")
    pending = new_pending(user)
    assert "sms" in pending.methods
    code = send_sms(pending)
    challenge_id = pending.challenge.pk

    outcomes = run_parallel(
        submissions,
        lambda i, mine: flows.verify_code(mine, "sms", code, ClientInfo(ip=ip(i + 1))),
        prepare=lambda i: reload_pending(challenge_id),
    )

    seen = kinds(outcomes)
    assert seen["ok"] == 1, seen
    assert seen["InvalidCode"] == 0, seen  # a correct code is never reported as wrong
    assert set(seen) <= {"ok", "LoginRestart", "AccountLocked", "Throttled"}, seen

    challenge = LoginChallenge.objects.get(pk=challenge_id)
    assert challenge.status == ChallengeStatus.VERIFIED
    assert challenge.method == "sms"
    profile = TwoFactorProfile.objects.get(user=user)
    assert profile.failure_count == 0
    assert profile.locked_until is None
    assert profile.hard_locked_at is None
    assert events(EventType.LOGIN_VERIFIED, user=user) == 1
    assert events(EventType.CODE_FAILED, user=user) == 0
    assert events(EventType.LOCKED, user=user) == 0
    assert windows_total("fail_ip") == 0  # every charge was given back
    record_race(
        reliability,
        f"one SMS code, {submissions} parallel submissions, provider answers in "
        f"{provider_latency * 1000:.0f} ms",
        outcomes,
        wrong_logins=seen["ok"] - 1,
        wrong_locks=locked_users(),
        outcome="exactly 1 login, no failure counted",
    )


# -- 2. one recovery code, many attempts ------------------------------------------------------


def test_one_recovery_code_twenty_parallel_uses_complete_one_login(reliability):
    user = make_user("bob")
    codes = recovery.replace_codes(user)
    attempts = [new_pending(user) for _ in range(20)]
    ids = [a.challenge.pk for a in attempts]

    outcomes = run_parallel(
        20,
        lambda i, mine: flows.verify_code(mine, "recovery", codes[0], ClientInfo(ip=ip(i + 1))),
        prepare=lambda i: reload_pending(ids[i]),
    )

    seen = kinds(outcomes)
    assert seen["ok"] == 1, seen
    assert set(seen) <= {"ok", "InvalidCode", "Throttled", "LoginRestart"}, seen

    used = RecoveryCode.objects.filter(user=user, used_at__isnull=False)
    assert used.count() == 1
    assert used.get().digest == recovery._digests(recovery.normalize(codes[0]))[0]
    assert recovery.remaining(user) == 9
    statuses = list(LoginChallenge.objects.filter(pk__in=ids).values_list("status", flat=True))
    assert statuses.count(ChallengeStatus.VERIFIED) == 1
    assert events(EventType.LOGIN_VERIFIED, user=user) == 1
    assert events(EventType.RECOVERY_USED, user=user) == 1
    # Attempts that lost the race with the used code are wrong codes, and only those count.
    assert events(EventType.CODE_FAILED, user=user) == seen["InvalidCode"]

    # No lock left behind: the account is not locked, and the daily recovery-code
    # failure counter holds the wrong codes only, never the successful use.
    profile = TwoFactorProfile.objects.get(user=user)
    assert profile.failure_count <= seen["InvalidCode"]  # a success resets the counter (L4)
    assert profile.locked_until is None
    assert profile.hard_locked_at is None
    recovery_window = window("fail_recovery_day", str(user.pk))
    assert recovery_window.count == seen["InvalidCode"], (
        "the daily recovery-code failure counter also holds the successful use "
        f"({recovery_window.count} counted, {seen['InvalidCode']} wrong codes)"
    )
    # Up to 5 racers can lose with the used code (the winner gives its slot back, L6).
    follow_up = new_pending(user)
    if seen["InvalidCode"] < throttling.recovery_failure_rule().limit:
        flows.verify_code(follow_up, "recovery", codes[1], ClientInfo(ip=ip(99)))
    else:
        with pytest.raises(Throttled):
            flows.verify_code(follow_up, "recovery", codes[1], ClientInfo(ip=ip(99)))
    record_race(
        reliability,
        "one recovery code, 20 parallel uses",
        outcomes,
        wrong_logins=seen["ok"] - 1,
        wrong_locks=locked_users(),
        outcome="exactly 1 login, the code used once, 9 left",
    )


def test_successful_recovery_codes_do_not_use_up_the_daily_failure_limit():
    """Root cause of the lock left behind above, without threads (rule L6 counts failures)."""
    user = make_user("bert")
    codes = recovery.replace_codes(user)
    for n in range(6):
        flows.verify_code(new_pending(user), "recovery", codes[n], ClientInfo(ip=ip(n + 1)))
    assert recovery.remaining(user) == 4
    assert events(EventType.LOGIN_VERIFIED, user=user) == 6


# -- 3. and 4. many wrong codes at once -------------------------------------------------------


def test_fifty_parallel_wrong_codes_are_all_counted(settings, reliability):
    settings.AUTHY2FA = RAISED
    user = make_user("carol")
    attempts = pending_attempts(user, 10)
    bad = wrong(locmem.outbox[-1].code)
    ids = [a.challenge.pk for a in attempts]

    outcomes = run_parallel(
        50,
        lambda i, mine: flows.verify_code(mine, "sms", bad, ClientInfo(ip=ip(i + 1))),
        prepare=lambda i: reload_pending(ids[i % 10]),
    )

    assert kinds(outcomes) == {"InvalidCode": 50}
    profile = TwoFactorProfile.objects.get(user=user)
    assert profile.failure_count == 50  # no lost update
    assert profile.locked_until is None
    assert events(EventType.CODE_FAILED, user=user) == 50
    assert failure_counts_logged(user) == list(range(1, 51))  # each charge saw its own count
    failures = dict(LoginChallenge.objects.filter(pk__in=ids).values_list("pk", "failures"))
    assert sorted(failures.values()) == [5] * 10
    assert windows_total("fail_ip") == 50
    record_race(
        reliability,
        "50 parallel wrong codes (limits raised)",
        outcomes,
        wrong_logins=kinds(outcomes)["ok"],
        wrong_locks=locked_users(),
        outcome="account counter moved by exactly 50",
    )


def test_fifty_parallel_wrong_codes_lock_the_account_after_exactly_ten(reliability):
    limits = app_settings.THROTTLE
    assert (limits["ACCOUNT_LOCK_AFTER"], limits["ACCOUNT_HARD_LOCK_AFTER"]) == (10, 20)
    assert limits["PENDING_LOGIN_MAX_FAILURES"] == 5
    user = make_user("dave")
    attempts = pending_attempts(user, 10)
    bad = wrong(locmem.outbox[-1].code)
    ids = [a.challenge.pk for a in attempts]
    started = timezone.now()

    outcomes = run_parallel(
        50,
        lambda i, mine: flows.verify_code(mine, "sms", bad, ClientInfo(ip=ip(i + 1))),
        prepare=lambda i: reload_pending(ids[i % 10]),
    )

    seen = kinds(outcomes)
    assert seen["AccountLocked"] == 40, seen
    assert seen["InvalidCode"] + seen["LoginRestart"] == 10, seen
    assert set(seen) <= {"InvalidCode", "LoginRestart", "AccountLocked"}, seen
    assert all(
        o.error.retry_after and o.error.retry_after > 0
        for o in outcomes
        if o.kind == "AccountLocked"
    )

    profile = TwoFactorProfile.objects.get(user=user)
    assert profile.failure_count == 10
    assert profile.locked_until is not None
    assert profile.locked_until > started + dt.timedelta(minutes=14)
    assert profile.hard_locked_at is None
    assert events(EventType.CODE_FAILED, user=user) == 10
    assert failure_counts_logged(user) == list(range(1, 11))
    assert events(EventType.LOCKED, user=user) == 1
    failures = list(LoginChallenge.objects.filter(pk__in=ids).values_list("failures", flat=True))
    assert sum(failures) == 10
    assert max(failures) <= 5
    assert windows_total("fail_ip") == 10  # refused attempts gave their IP charge back
    record_race(
        reliability,
        "50 parallel wrong codes (default limits)",
        outcomes,
        wrong_logins=seen["ok"],
        wrong_locks=locked_users(exclude=user),
        outcome="exactly 10 counted, then the attacked account locks once (as specified)",
    )


# -- 5. sends ---------------------------------------------------------------------------------


def test_parallel_sends_to_one_phone_stop_at_the_phone_quota(reliability):
    phone = "+14155550123"
    limit = app_settings.THROTTLE["PHONE_SENDS_PER_HOUR"]
    assert limit == 5
    users = [make_user(f"user{i:02d}", phone=phone) for i in range(20)]
    ids = [new_pending(u).challenge.pk for u in users]

    outcomes = run_parallel(
        20,
        lambda i, mine: flows.send_code(mine, "sms", ClientInfo(ip=ip(i + 1))),
        prepare=lambda i: reload_pending(ids[i]),
    )

    assert kinds(outcomes) == {"ok": limit, "Throttled": 20 - limit}
    assert all(o.error.retry_after > 0 for o in outcomes if o.kind == "Throttled")
    assert len(locmem.outbox) == limit
    assert {m.to for m in locmem.outbox} == {phone}
    assert window("send_phone_hour", phone).count == limit
    assert window("send_phone_day", phone).count == limit
    assert windows_total("send_user_hour") == limit  # refused sends counted nowhere
    assert windows_total("send_ip_hour") == limit
    assert events(EventType.CODE_SENT) == limit
    sent = LoginChallenge.objects.filter(pk__in=ids).exclude(code_reference="")
    assert sent.count() == limit
    # A refused send gives the cooldown back: those users can ask again at once.
    profiles = TwoFactorProfile.objects.filter(user__in=users)
    assert profiles.filter(last_code_sent_at__isnull=False).count() == limit
    record_race(
        reliability,
        "20 parallel sends to one phone",
        outcomes,
        wrong_logins=0,
        wrong_locks=locked_users(),
        outcome=f"exactly {limit} SMS sent (the phone quota)",
    )


def test_parallel_sends_for_one_user_pass_the_cooldown_once(reliability):
    user = make_user("erin")
    ids = [new_pending(user).challenge.pk for _ in range(10)]

    outcomes = run_parallel(
        10,
        lambda i, mine: flows.send_code(mine, "sms", ClientInfo(ip=ip(i + 1))),
        prepare=lambda i: reload_pending(ids[i]),
    )

    assert kinds(outcomes) == {"ok": 1, "Throttled": 9}
    cooldown = app_settings.THROTTLE["SEND_COOLDOWN_SECONDS"]
    assert all(0 < o.error.retry_after <= cooldown + 1 for o in outcomes if o.kind == "Throttled")
    assert len(locmem.outbox) == 1
    assert window("send_user_hour", str(user.pk)).count == 1
    assert events(EventType.CODE_SENT, user=user) == 1
    assert TwoFactorProfile.objects.get(user=user).last_code_sent_at is not None
    record_race(
        reliability,
        "10 parallel sends for one user",
        outcomes,
        wrong_logins=0,
        wrong_locks=locked_users(),
        outcome="exactly 1 SMS sent (the cooldown)",
    )


# -- 6. one IP, many accounts ----------------------------------------------------------------


def test_parallel_wrong_codes_from_one_ip_stop_at_the_ip_limit(reliability):
    limits = app_settings.THROTTLE
    assert limits["IP_MAX_FAILURES"] == 20
    attacker = "192.0.2.66"
    users, ids, bad = [], [], []
    for i in range(30):
        user = make_user(f"victim{i:02d}", phone=f"+1415555{i:04d}")
        pending = new_pending(user)
        code = send_sms(pending, client_ip=ip(i + 1, net="203.0.113"))
        users.append(user)
        ids.append(pending.challenge.pk)
        bad.append(wrong(code))
    started = timezone.now()

    outcomes = run_parallel(
        30,
        lambda i, mine: flows.verify_code(mine, "sms", bad[i], ClientInfo(ip=attacker)),
        prepare=lambda i: reload_pending(ids[i]),
    )

    assert kinds(outcomes) == {"InvalidCode": 20, "Throttled": 10}
    assert all(o.error.retry_after > 0 for o in outcomes if o.kind == "Throttled")
    counted = TwoFactorProfile.objects.filter(user__in=users).values_list(
        "failure_count", flat=True
    )
    assert sum(counted) == 20
    assert max(counted) == 1
    assert events(EventType.CODE_FAILED) == 20
    ip_window = window("fail_ip", attacker)
    assert ip_window.count == 20
    block = dt.timedelta(seconds=limits["IP_BLOCK_SECONDS"])
    assert ip_window.blocked_until >= started + block
    record_race(
        reliability,
        "30 parallel wrong codes from one IP against 30 accounts",
        outcomes,
        wrong_logins=0,
        wrong_locks=locked_users(),
        outcome="exactly 20 counted (the per-IP limit), then the IP is blocked",
    )

    # The block holds for any account from that IP, and says for how long.
    with pytest.raises(Throttled) as blocked:
        flows.verify_code(reload_pending(ids[0]), "sms", bad[0], ClientInfo(ip=attacker))
    assert blocked.value.retry_after > limits["IP_BLOCK_SECONDS"] - 60


# -- 7. reservations sharing rows ------------------------------------------------------------

SHARED_RULES = [throttling.Rule(f"race_rule_{n}", 1000, 3600) for n in range(4)]
SHARED_KEYS = ["alice", "bob", "192.0.2.7", "+14155550123"]


def shared_entries(seed: int) -> list[tuple[throttling.Rule, str]]:
    """Every rule over every shared key, in an order of its own for each thread."""
    entries = [(rule, key) for rule in SHARED_RULES for key in SHARED_KEYS]
    random.Random(seed).shuffle(entries)
    return entries


@pytest.fixture
def shared_rows():
    """The rows exist already, created in an order unrelated to the locking order.

    On PostgreSQL an UPDATE over several rows visits them in their order in
    the table; creating them shuffled is what made a one-statement count of
    all rules deadlock.
    """
    for rule, key in shared_entries(seed=-1):
        throttling.reserve([(rule, key)]).release()
    return [(rule, key) for rule in SHARED_RULES for key in SHARED_KEYS]


@pytest.mark.parametrize("in_callers_transaction", [False, True], ids=["own", "callers-atomic"])
def test_parallel_reservations_over_shared_rows_never_deadlock(
    shared_rows, monkeypatch, reliability, in_callers_transaction
):
    # No second chances: a deadlock would reach the caller as an error.
    monkeypatch.setattr(throttling, "_DEADLOCK_RETRIES", 0)

    def reserve_then_release(i: int, _prepared) -> None:
        with transaction.atomic() if in_callers_transaction else contextlib.nullcontext():
            reservation = throttling.reserve(shared_entries(seed=i))
        if i % 2:
            reservation.release()

    outcomes = run_parallel(32, reserve_then_release)

    assert kinds(outcomes) == {"ok": 32}
    for rule, key in shared_rows:
        assert window(rule.scope, key).count == 16  # 32 counted, 16 given back
    record_race(
        reliability,
        "32 parallel reservations of 16 shared counters in random orders"
        + (", each in a caller's transaction" if in_callers_transaction else ""),
        outcomes,
        wrong_logins=0,
        wrong_locks=0,
        outcome="no deadlock (retries disabled), every count exact",
    )


def test_parallel_reservations_stop_at_the_smallest_limit_and_count_nothing_else(shared_rows):
    tight = throttling.Rule("race_tight", 10, 3600)
    entries = [*shared_rows, (tight, "alice")]

    outcomes = run_parallel(
        32, lambda i, _prepared: throttling.reserve(entries[::-1] if i % 2 else entries)
    )

    assert kinds(outcomes) == {"ok": 10, "Throttled": 22}
    assert window(tight.scope, "alice").count == 10
    for rule, key in shared_rows:
        assert window(rule.scope, key).count == 10  # refused reservations counted nowhere


@pytest.mark.parametrize("in_callers_transaction", [False, True], ids=["own", "callers-atomic"])
def test_parallel_reservations_creating_the_same_new_rows_never_deadlock(
    monkeypatch, in_callers_transaction
):
    monkeypatch.setattr(throttling, "_DEADLOCK_RETRIES", 0)

    def reserve(i: int, _prepared) -> None:
        with transaction.atomic() if in_callers_transaction else contextlib.nullcontext():
            throttling.reserve(shared_entries(seed=i))

    outcomes = run_parallel(32, reserve)

    assert kinds(outcomes) == {"ok": 32}
    for rule in SHARED_RULES:
        for key in SHARED_KEYS:
            assert window(rule.scope, key).count == 32


@pytest.mark.parametrize("in_callers_transaction", [False, True], ids=["own", "callers-atomic"])
def test_refused_reservations_with_new_rows_never_deadlock(monkeypatch, in_callers_transaction):
    """A full rule refuses before any row is created: no INSERT is rolled back.

    On MariaDB, rolling back an INSERT that other requests wait on turns their
    waits into gap locks, and they deadlock.
    """
    monkeypatch.setattr(throttling, "_DEADLOCK_RETRIES", 0)
    full = throttling.Rule("race_z_full", 1, 3600)  # sorts after the new rows
    throttling.reserve([(full, "alice")])
    rounds = 10

    def reserve(i: int, _prepared) -> None:
        refused = 0
        for round_ in range(rounds):
            fresh = throttling.Rule(f"race_a_new_{round_}", 1000, 3600)
            try:
                with transaction.atomic() if in_callers_transaction else contextlib.nullcontext():
                    throttling.reserve([(fresh, "alice"), (full, "alice")])
            except Throttled:
                refused += 1
        return refused

    outcomes = run_parallel(8, reserve)

    assert kinds(outcomes) == {"ok": 8}
    assert [o.value for o in outcomes] == [rounds] * 8
    assert window(full.scope, "alice").count == 1
    assert windows_total("race_a_new_0") == 0
