"""The throttle primitive: one reservation counts every rule, or none, locking rows in order."""

import datetime as dt

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from django_authy2fa import throttling
from django_authy2fa.exceptions import Throttled
from django_authy2fa.models import ThrottleWindow
from django_authy2fa.throttling import Rule


@pytest.fixture(
    params=[
        pytest.param(False, id="callers-transaction", marks=pytest.mark.django_db),
        pytest.param(True, id="autocommit", marks=pytest.mark.django_db(transaction=True)),
    ]
)
def database(request):
    """Both ways a reservation counts: inside a caller's transaction, and on its own.

    On PostgreSQL they differ (row by row, or after one locking read). The
    mark, not the fixture asked for, decides pytest-django's mode: asking for
    ``transactional_db`` from here still ran every test inside a transaction.
    """
    autocommit = request.param
    assert connection.in_atomic_block is not autocommit
    return autocommit


# 10:00:30 UTC: 30 s into the 10:00 window of a 60-second rule and of an hour rule.
NOW = dt.datetime(2026, 3, 2, 10, 0, 30, tzinfo=dt.timezone.utc)
MINUTE = Rule("test_minute", limit=3, window=60)
HOUR = Rule("test_hour", limit=5, window=3600)
BLOCKING = Rule("test_blocking", limit=2, window=60, block=600)


def count(rule: Rule, key: str) -> int:
    """The stored count of ``rule`` for ``key`` (0 when no row exists yet)."""
    rows = ThrottleWindow.objects.filter(
        scope=rule.scope, key=throttling.hashed_key(rule.scope, key)
    )
    return sum(rows.values_list("count", flat=True))


def statements(captured) -> list[str]:
    """What the database was asked to do, without transaction control."""
    return [
        q["sql"].split(None, 1)[0].upper()
        for q in captured.captured_queries
        if not q["sql"].upper().startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK"))
    ]


def updated_rows(captured) -> list[tuple[str, str]]:
    """The (scope, key) of each counter row the UPDATEs named, in statement order."""
    return [
        (q["sql"].split("scope")[1].split("'")[1], q["sql"].split("key")[1].split("'")[1])
        for q in captured.captured_queries
        if q["sql"].startswith("UPDATE")
    ]


ROW_BY_ROW = pytest.mark.skipif(
    connection.vendor == "postgresql", reason="PostgreSQL counts after one locking read"
)


@ROW_BY_ROW
@pytest.mark.django_db(transaction=True)
def test_every_rule_is_counted_by_one_update_of_its_own_row_in_a_fixed_order():
    rules = [(MINUTE, "alice"), (HOUR, "alice"), (MINUTE, "10.0.0.1"), (HOUR, "10.0.0.1")]
    with CaptureQueriesContext(connection) as captured:
        throttling.reserve(rules, NOW)
    # One read; the new windows' rows in one INSERT, committed before the count; one
    # UPDATE per row.
    assert statements(captured) == ["SELECT", "INSERT", *["UPDATE"] * 4]
    assert [count(rule, key) for rule, key in rules] == [1, 1, 1, 1]
    # Whatever order the rules come in, rows are locked sorted by scope, key, window:
    # two reservations sharing rows never wait on each other in opposite orders.
    with CaptureQueriesContext(connection) as again:
        throttling.reserve(list(reversed(rules)), NOW)
    assert statements(again) == ["SELECT", *["UPDATE"] * 4]
    locked = updated_rows(captured)
    assert updated_rows(again) == locked == sorted(locked)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL way")
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_every_rule_is_counted_after_one_read_that_locks_in_order():
    rules = [(MINUTE, "alice"), (HOUR, "alice"), (BLOCKING, "10.0.0.1"), (HOUR, "10.0.0.1")]
    for _ in range(2):
        with CaptureQueriesContext(connection) as captured:
            throttling.reserve(rules, NOW)
        # The rows made sure of; then read, locked and counted in one statement (a
        # function, migration 0007), with no transaction held open across round
        # trips: two for any number of rules.
        assert [q["sql"].split(None, 1)[0] for q in captured.captured_queries] == [
            "INSERT",
            "SELECT",
        ]
    assert "authy2fa_throttle_take(" in captured.captured_queries[-1]["sql"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = 'authy2fa_throttle_take'")
        (counting,) = cursor.fetchone()
    assert 'ORDER BY t."scope" COLLATE "C", t."key" COLLATE "C", t."window_start"' in counting
    assert "FOR UPDATE OF t" in counting
    assert [count(rule, key) for rule, key in rules] == [2, 2, 2, 2]
    # The second of two events reached the blocking rule's limit and started its block.
    blocked = ThrottleWindow.objects.exclude(blocked_until=None).get()
    assert blocked.blocked_until == NOW + dt.timedelta(seconds=BLOCKING.block)
    assert blocked.scope == BLOCKING.scope


@pytest.mark.django_db
def test_in_a_callers_transaction_each_new_row_is_created_at_its_turn_in_the_order():
    # Nothing commits early inside the caller's transaction, so creating all rows
    # first would lock them out of order.
    rules = [(MINUTE, "alice"), (HOUR, "alice"), (MINUTE, "10.0.0.1")]
    throttling.reserve(rules[:1], NOW)  # this row exists already
    with CaptureQueriesContext(connection) as captured:
        throttling.reserve(rules, NOW)
    existing = (MINUTE.scope, throttling.hashed_key(MINUTE.scope, "alice"))
    order = sorted((rule.scope, throttling.hashed_key(rule.scope, key)) for rule, key in rules)
    expected = [["UPDATE"] if row == existing else ["INSERT", "UPDATE"] for row in order]
    assert statements(captured) == ["SELECT", *[step for steps in expected for step in steps]]
    assert [count(rule, key) for rule, key in rules] == [2, 1, 1]


@pytest.mark.django_db
def test_blocks_are_found_by_the_same_read_and_refused_without_a_write():
    rules = [(BLOCKING, "alice"), (BLOCKING, "10.0.0.1"), (HOUR, "alice")]
    for _ in range(BLOCKING.limit):
        throttling.reserve(rules[:1], NOW)
    later = NOW + dt.timedelta(seconds=120)  # a new window of the blocking rule

    with CaptureQueriesContext(connection) as captured, pytest.raises(Throttled):
        throttling.reserve(rules, later)

    assert statements(captured) == ["SELECT"]


def test_two_rules_sharing_a_scope_are_a_programming_error(database):
    other = Rule(MINUTE.scope, limit=99, window=60)
    with pytest.raises(ValueError, match="test_minute"):
        throttling.reserve([(MINUTE, "alice"), (other, "alice")], NOW)
    assert not ThrottleWindow.objects.exists()


def test_a_full_rule_refuses_the_event_and_no_other_rule_counts_it(database):
    for _ in range(MINUTE.limit):
        throttling.reserve([(MINUTE, "alice")], NOW)

    with pytest.raises(Throttled) as refused:
        throttling.reserve([(HOUR, "alice"), (MINUTE, "alice"), (HOUR, "bob")], NOW)

    # The minute window opened at 10:00:00 and ends at 10:01:00, 30 s from now.
    assert refused.value.retry_after == 31
    assert count(MINUTE, "alice") == MINUTE.limit
    assert count(HOUR, "alice") == 0
    assert count(HOUR, "bob") == 0


def test_with_two_full_rules_the_wait_is_until_the_later_one_has_room(database):
    for _ in range(MINUTE.limit):
        throttling.reserve([(MINUTE, "alice")], NOW)
    for _ in range(HOUR.limit):
        throttling.reserve([(HOUR, "alice")], NOW)

    with pytest.raises(Throttled) as refused:
        throttling.reserve([(MINUTE, "alice"), (HOUR, "alice")], NOW)

    # The hour window ends at 11:00:00.
    assert refused.value.retry_after == 3600 - 30 + 1


def test_the_same_rule_and_key_twice_counts_once(database):
    throttling.reserve([(MINUTE, "alice"), (MINUTE, "alice")], NOW)
    assert count(MINUTE, "alice") == 1


def test_reaching_a_blocking_limit_blocks_the_key_past_its_window(database):
    throttling.reserve([(BLOCKING, "alice")], NOW)
    assert not ThrottleWindow.objects.exclude(blocked_until=None).exists()
    throttling.reserve([(BLOCKING, "alice")], NOW)  # the second of two: the block starts

    later = NOW + dt.timedelta(seconds=120)  # a new window, with room in it
    with pytest.raises(Throttled) as refused:
        throttling.reserve([(BLOCKING, "alice"), (HOUR, "alice")], later)
    assert refused.value.retry_after == BLOCKING.block - 120 + 1
    assert count(HOUR, "alice") == 0
    assert count(BLOCKING, "alice") == 2  # the refused event counted nowhere
    # Someone else is not blocked.
    throttling.reserve([(BLOCKING, "bob")], later)


def test_a_block_and_a_longer_full_window_wait_for_the_later_of_the_two(database):
    for _ in range(BLOCKING.limit):
        throttling.reserve([(BLOCKING, "alice")], NOW)  # blocked for 600 s
    for _ in range(HOUR.limit):
        throttling.reserve([(HOUR, "alice")], NOW)  # full until 11:00:00

    with pytest.raises(Throttled) as refused:
        throttling.reserve([(BLOCKING, "alice"), (HOUR, "alice")], NOW)
    assert refused.value.retry_after == 3600 - 30 + 1


def test_release_gives_every_count_back_and_lifts_the_block_it_set(database):
    throttling.reserve([(BLOCKING, "alice")], NOW)
    last = throttling.reserve([(BLOCKING, "alice"), (HOUR, "alice"), (MINUTE, "bob")], NOW)
    assert ThrottleWindow.objects.exclude(blocked_until=None).count() == 1

    with CaptureQueriesContext(connection) as captured:
        last.release()

    if database and connection.vendor == "postgresql":
        # One statement; its read sorts the rows before it locks them, as a reservation's does.
        assert statements(captured) == ["WITH"]
        assert 'ORDER BY "scope" COLLATE "C"' in captured.captured_queries[0]["sql"]
        assert "FOR UPDATE" in captured.captured_queries[0]["sql"]
    else:
        assert statements(captured) == ["UPDATE", "UPDATE", "UPDATE"]
        assert updated_rows(captured) == sorted(updated_rows(captured))
    assert [count(BLOCKING, "alice"), count(HOUR, "alice"), count(MINUTE, "bob")] == [1, 0, 0]
    assert not ThrottleWindow.objects.exclude(blocked_until=None).exists()
    last.release()  # a second release changes nothing
    assert count(BLOCKING, "alice") == 1


def test_two_rules_sharing_a_scope_are_refused_whatever_the_time(database):
    # Different windows only meet at the top of the hour; the check must not wait for it.
    hour = Rule(MINUTE.scope, limit=99, window=3600)
    five_past = NOW + dt.timedelta(minutes=5)
    with pytest.raises(ValueError, match="test_minute"):
        throttling.reserve([(MINUTE, "alice"), (hour, "bob")], five_past)


@pytest.mark.django_db
def test_a_row_deleted_while_counting_is_created_again_and_counted(monkeypatch):
    # Row by row (inside a transaction): the read saw the row, an operator deletes it
    # before the UPDATE. That is not a full rule: the reservation counts again.
    throttling.reserve([(MINUTE, "alice")], NOW)
    read = throttling._stored_rows
    calls = []

    def read_then_delete(*args, **kwargs):
        stored = read(*args, **kwargs)
        if not calls:
            ThrottleWindow.objects.filter(scope=MINUTE.scope).delete()
        calls.append(1)
        return stored

    monkeypatch.setattr(throttling, "_stored_rows", read_then_delete)
    throttling.reserve([(MINUTE, "alice"), (HOUR, "alice")], NOW)
    assert [count(MINUTE, "alice"), count(HOUR, "alice")] == [1, 1]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL way")
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_rows_counted_but_not_matched_fail_without_a_second_count():
    # With USE_TZ off, PostgreSQL hands back naive datetimes that match none of the
    # slots (system check authy2fa.E007 refuses that setting): the statement has
    # counted, so trying again would count the same event twice.
    rules = [(MINUTE, "alice"), (HOUR, "alice")]
    with override_settings(USE_TZ=False), pytest.raises(RuntimeError, match="counted"):
        throttling.reserve(rules, NOW)
    assert [count(rule, key) for rule, key in rules] == [1, 1]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL way")
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_a_row_deleted_before_the_locking_read_is_made_again(monkeypatch):
    read = throttling._postgres_count_if_room
    calls = []

    def delete_then_read(cursor, slots, now):
        if not calls:  # as if an operator deleted the row just after the INSERT
            ThrottleWindow.objects.filter(scope=MINUTE.scope).delete()
        calls.append(1)
        return read(cursor, slots, now)

    monkeypatch.setattr(throttling, "_postgres_count_if_room", delete_then_read)
    throttling.reserve([(MINUTE, "alice"), (HOUR, "alice")], NOW)
    assert len(calls) == 2
    assert [count(MINUTE, "alice"), count(HOUR, "alice")] == [1, 1]


def test_purge_deletes_old_windows_in_batches_and_keeps_current_and_blocked_ones(database):
    old = NOW - dt.timedelta(days=3)
    for n in range(5):
        throttling.reserve([(MINUTE, f"old{n}")], old)
    for _ in range(BLOCKING.limit):
        throttling.reserve([(BLOCKING, "mallory")], old)
    # A block still running on an old window stays, as does every current window.
    ThrottleWindow.objects.filter(scope=BLOCKING.scope).update(
        blocked_until=NOW + dt.timedelta(hours=1)
    )
    throttling.reserve([(MINUTE, "alice")], NOW)

    assert throttling.purge_expired(NOW, batch_size=2) == 5

    assert sorted(ThrottleWindow.objects.values_list("scope", flat=True)) == [
        BLOCKING.scope,
        MINUTE.scope,
    ]


def test_nothing_to_count_is_an_empty_reservation(database):
    with CaptureQueriesContext(connection) as captured:
        reservation = throttling.reserve([], NOW)
    reservation.release()
    assert captured.captured_queries == []
    assert not ThrottleWindow.objects.exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL way")
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_a_release_that_meets_a_deadlock_is_done_again(monkeypatch):
    reservation = throttling.reserve([(MINUTE, "alice"), (HOUR, "alice")], NOW)
    give_back = throttling._postgres_give_back
    calls = []

    def deadlock_once(slots, ids):
        calls.append(1)
        if len(calls) == 1:
            with connection.cursor() as cursor:  # a real deadlock error from the server
                cursor.execute("DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '40P01'; END $$")
        give_back(slots, ids)

    monkeypatch.setattr(throttling, "_postgres_give_back", deadlock_once)
    monkeypatch.setattr(throttling.time, "sleep", lambda seconds: None)
    reservation.release()
    assert len(calls) == 2
    assert [count(MINUTE, "alice"), count(HOUR, "alice")] == [0, 0]


# -- the send cooldown --------------------------------------------------------------------------


def _profile():
    from django_authy2fa.models import TwoFactorProfile
    from tests.helpers import make_user

    return TwoFactorProfile.objects.get(user=make_user("carol"))


def test_a_cooldown_claim_with_the_send_time_read_is_one_update(database):
    profile = _profile()
    with CaptureQueriesContext(connection) as captured:
        previous = throttling.start_cooldown(profile.pk, NOW, last_sent=None)
    assert previous is None
    assert statements(captured) == ["UPDATE"]
    profile.refresh_from_db()
    assert profile.last_code_sent_at == NOW


def test_during_the_cooldown_a_send_is_refused_without_a_query(database):
    profile = _profile()
    throttling.start_cooldown(profile.pk, NOW, last_sent=None)
    cooldown = throttling.app_settings.THROTTLE["SEND_COOLDOWN_SECONDS"]
    with CaptureQueriesContext(connection) as captured, pytest.raises(Throttled) as refused:
        throttling.start_cooldown(profile.pk, NOW + dt.timedelta(seconds=5), last_sent=NOW)
    assert captured.captured_queries == []
    assert refused.value.retry_after == cooldown - 5 + 1


def test_a_send_time_read_before_another_send_does_not_pass_the_cooldown(database):
    profile = _profile()
    stale = profile.last_code_sent_at  # read before the other request's send
    throttling.start_cooldown(profile.pk, NOW, last_sent=stale)  # the other request

    with pytest.raises(Throttled):
        throttling.start_cooldown(profile.pk, NOW + dt.timedelta(seconds=1), last_sent=stale)
    profile.refresh_from_db()
    assert profile.last_code_sent_at == NOW


# -- consecutive failures per account -----------------------------------------------------------


def test_a_charge_on_the_counters_read_is_one_update(database):
    profile = _profile()
    with CaptureQueriesContext(connection) as captured:
        charge = throttling.charge_account_attempt(profile.pk, now=NOW, loaded=profile)
    assert statements(captured) == ["UPDATE"]
    assert (charge.count, charge.locked) == (1, False)
    profile.refresh_from_db()
    assert (profile.failure_count, profile.last_failure_at) == (1, NOW)


def test_a_charge_on_counters_read_before_another_attempt_counts_both(database):
    stale = _profile()
    throttling.charge_account_attempt(stale.pk, now=NOW, loaded=stale)  # the other request
    charge = throttling.charge_account_attempt(stale.pk, now=NOW, loaded=stale)
    assert charge.count == 2
    stale.refresh_from_db()
    assert stale.failure_count == 2


def test_the_charge_that_reaches_the_limit_locks_and_the_next_is_refused_unqueried(database):
    limit = throttling.app_settings.THROTTLE["ACCOUNT_LOCK_AFTER"]
    profile = _profile()
    for _ in range(limit):
        charge = throttling.charge_account_attempt(profile.pk, now=NOW, loaded=None)
    assert charge.locked
    profile.refresh_from_db()
    assert profile.locked_until > NOW

    with CaptureQueriesContext(connection) as captured, pytest.raises(throttling.AccountLocked):
        throttling.charge_account_attempt(profile.pk, now=NOW, loaded=profile)
    assert captured.captured_queries == []
