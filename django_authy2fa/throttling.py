"""Throttles that hold under concurrency: stored in the database, counted atomically.

Two mechanisms:

* :func:`reserve` counts one event under several fixed-window rules at once
  (sends per user, per phone, per IP; wrong codes per IP). The rules' rows
  are locked before they are counted: on PostgreSQL by one locking read,
  elsewhere by one conditional ``UPDATE ... WHERE count < limit`` per row.
  Either way N concurrent requests can never pass a limit of N-1, and rows
  are locked in one fixed order, so reservations do not deadlock. If any
  rule is full, the whole reservation rolls back.
* :func:`charge_account_attempt` charges a user's consecutive-failure counter
  *before* a code is checked: a compare-and-set ``UPDATE`` on the counters the
  request read, or a row lock when they changed. Charging first is what makes
  "lock after 10" exact when 50 guesses arrive at once: the 11th finds the lock.
  A correct code or a provider outage gives the charge back.

Keys are keyed digests, so the table never holds a raw IP or phone number.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, transaction
from django.db.models import Case, DateTimeField, F, Q, QuerySet, Value, When
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_noop

from . import statements
from .conf import app_settings
from .exceptions import Throttled
from .models import ThrottleWindow, TwoFactorProfile

logger = logging.getLogger(__name__)

_KEY_SALT = "django_authy2fa.throttling.key"


@dataclass(frozen=True)
class Rule:
    """At most ``limit`` events per ``window`` seconds; optionally block ``block`` seconds."""

    scope: str
    limit: int
    window: int
    block: int = 0


@dataclass(frozen=True)
class _Slot:
    rule: Rule
    key: str
    window_start: dt.datetime


@dataclass
class Reservation:
    """Counts taken by :func:`reserve`; :meth:`release` gives them back."""

    slots: list[_Slot] = field(default_factory=list)
    #: The rows' primary keys, when the reservation locked them in one read (PostgreSQL).
    row_ids: list[int] = field(default_factory=list)

    def release(self) -> None:
        """Give every count back (once; a second call does nothing)."""
        slots, row_ids = list(self.slots), list(self.row_ids)
        if row_ids:
            # One statement: a deadlock or a serialization failure rolls it all back.
            _retrying_deadlocks(lambda: _postgres_give_back(slots, row_ids))
        elif slots:
            _give_back(slots)
        self.slots.clear()
        self.row_ids.clear()


class AccountLocked(Throttled):
    """The user's second step is locked after too many wrong codes."""

    default_message = gettext_noop(
        "Too many wrong codes. This account's second step is locked for now."
    )

    def __init__(self, message: str | None = None, retry_after: int | None = None, *, hard: bool):
        self.hard = hard
        if hard and message is None:
            message = gettext_noop(
                "Too many wrong codes. Use a recovery code, or ask an administrator to unlock "
                "your account."
            )
        super().__init__(message, retry_after)


def hashed_key(*parts: object) -> str:
    """A keyed digest of the identifying parts (IP, phone, user id)."""
    return salted_hmac(_KEY_SALT, "|".join(str(p) for p in parts), algorithm="sha256").hexdigest()


def _window_start(now: dt.datetime, seconds: int) -> dt.datetime:
    epoch = int(now.timestamp())
    return dt.datetime.fromtimestamp(epoch - epoch % seconds, tz=dt.timezone.utc)


def _seconds_until(moment: dt.datetime, now: dt.datetime) -> int:
    return max(int((moment - now).total_seconds()) + 1, 1)


def reserve(entries: list[tuple[Rule, str]], now: dt.datetime | None = None) -> Reservation:
    """Count one event under every (rule, key) pair, or under none.

    Raises :class:`Throttled` (with ``retry_after``) when a rule is full or
    its key is blocked.
    """
    now = now or timezone.now()
    slots = _sorted_slots(entries, now)
    reservation = Reservation(slots)
    if not slots:
        return reservation
    _retrying_deadlocks(lambda: _take_all(reservation, now))
    return reservation


def _sorted_slots(entries: list[tuple[Rule, str]], now: dt.datetime) -> list[_Slot]:
    """One slot per distinct row, in the one order every reservation locks rows in."""
    rules: dict[str, Rule] = {}
    unique: dict[tuple[str, str, dt.datetime], _Slot] = {}
    for rule, key in entries:
        if rules.setdefault(rule.scope, rule) != rule:
            # Their windows and blocks would mix in the same rows.
            raise ValueError(f"Two different throttle rules share the scope {rule.scope!r}.")
        slot = _Slot(rule, hashed_key(rule.scope, key), _window_start(now, rule.window))
        unique[_row_id(slot)] = slot
    return [unique[row] for row in sorted(unique)]


_DEADLOCK_RETRIES = 3


def _retrying_deadlocks(work: Callable[[], None]) -> None:
    """Run ``work`` again after a deadlock, with jitter, when no caller's transaction is open.

    Rows are always locked in the same order, so deadlocks between two
    reservations should not happen; other writers of the table (a purge, a
    site's own code) are not bound by that order.
    """
    for attempt in range(_DEADLOCK_RETRIES + 1):
        try:
            work()
            return
        except _RowsVanished:
            # Our own statements rolled back cleanly, so even inside a caller's
            # transaction it is safe to count again.
            if attempt == _DEADLOCK_RETRIES:
                raise Throttled(retry_after=1) from None
        except DatabaseError as err:
            if attempt == _DEADLOCK_RETRIES or not _retryable(err):
                raise
            time.sleep(random.uniform(0.005, 0.05) * (attempt + 1))  # noqa: S311 - jitter only


def _retryable(err: DatabaseError) -> bool:
    """A deadlock or serialization failure, outside any caller's transaction."""
    if transaction.get_connection().in_atomic_block:
        return False  # the caller's transaction is aborted; only the caller can retry
    cause = err.__cause__
    sqlstate = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if sqlstate in ("40P01", "40001"):
        return True
    args = getattr(cause, "args", ()) or err.args
    return bool(args) and args[0] in (1213, 1205)  # MySQL/MariaDB deadlock, lock wait timeout


class _Refused(Exception):
    """Raised inside the counting transaction to roll it back."""

    def __init__(self, retry_after: int):
        self.retry_after = retry_after


def _take_all(reservation: Reservation, now: dt.datetime) -> None:
    """Count every slot, or none; raise :class:`Throttled` otherwise.

    Two ways, one guarantee: every reservation locks the rows it shares with
    another in the same order (sorted by scope, key and window), so two
    reservations never wait on each other in opposite orders. A single
    ``UPDATE`` over all the rows would not: it locks them in whatever order
    the database scans them (on PostgreSQL, their place in the table), and
    concurrent reservations deadlock.
    """
    connection = transaction.get_connection()
    try:
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            try:
                reservation.row_ids = _postgres_take_all(reservation.slots, now)
            except _FunctionMissing:
                _take_row_by_row(reservation.slots, now)
        else:
            _take_row_by_row(reservation.slots, now)
    except _Refused as refused:
        raise Throttled(retry_after=refused.retry_after) from None


def _take_row_by_row(slots: list[_Slot], now: dt.datetime) -> None:
    """Any database: one conditional UPDATE per row, in the sorted order.

    One read first finds the rows that exist, their counts and any block; a
    key blocked or a rule already full is refused there, before anything is
    written. (On MariaDB, rolling back a row's INSERT that other requests
    wait on turns their waits into gap locks that deadlock.) Each UPDATE
    finds its row through the unique index, so it locks that row and no
    other; at READ COMMITTED, and at MariaDB's REPEATABLE READ, it counts
    against the latest committed row, so a rule whose UPDATE matched no row
    is full now, not only in the transaction's snapshot.
    """
    stored = _stored_rows(slots, now)
    _refuse_if_blocked_or_full(slots, stored, now)
    missing = [slot for slot in slots if _row_id(slot) not in stored.counts]
    if missing and not transaction.get_connection().in_atomic_block:
        # One INSERT for the new rows, committed at once, so it holds no lock
        # into the count. In a caller's transaction nothing commits early:
        # each row is then created at its turn in the locking order.
        _create_rows(missing)
        missing = []
    try:
        with transaction.atomic():
            full = [slot for slot in slots if not _take(slot, now, create=slot in missing)]
            if full:
                raise _RollBack
    except _RollBack:
        # Filled meanwhile, or gone: a second read tells which, and any block set since.
        again = _stored_rows(slots, now)
        if any(_row_id(slot) not in again.counts for slot in full if slot not in missing):
            raise _RowsVanished from None
        raise _Refused(_seconds_until_room(full, again.blocked_until, now)) from None


def _refuse_if_blocked_or_full(slots: list[_Slot], stored: _StoredRows, now: dt.datetime) -> None:
    full = [slot for slot in slots if stored.counts.get(_row_id(slot), 0) >= slot.rule.limit]
    if stored.blocked_until or full:
        raise _Refused(_seconds_until_room(full, stored.blocked_until, now))


class _RollBack(Exception):
    """Leaves a counting transaction without its counts; the caller works out why."""


class _RowsVanished(Exception):
    """A counter row was deleted while a reservation counted (an operator, a purge)."""


class _FunctionMissing(Exception):
    """PostgreSQL has no ``authy2fa_throttle_take``: migration 0007 has not run."""


_missing_function_logged = False


def _function_missing(err: DatabaseError) -> bool:
    """True, and said once in the log, when ``err`` is PostgreSQL's "no such function"."""
    global _missing_function_logged
    cause = err.__cause__
    if (getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)) != "42883":
        return False
    if not _missing_function_logged:
        _missing_function_logged = True
        logger.warning(
            "The database has no function authy2fa_throttle_take: run `manage.py migrate` "
            "(migration django_authy2fa 0007). Throttles count row by row until then."
        )
    return True


@dataclass
class _StoredRows:
    counts: dict[tuple[str, str, dt.datetime], int]
    pks: dict[tuple[str, str, dt.datetime], int]
    blocked_until: dt.datetime | None


def _row_id(slot: _Slot) -> tuple[str, str, dt.datetime]:
    return (slot.rule.scope, slot.key, slot.window_start)


def _stored_rows(slots: list[_Slot], now: dt.datetime) -> _StoredRows:
    """One read that locks nothing: the slots' rows, and the latest block on a blocking key.

    A block may outlast the window that set it, so blocks are looked up
    across windows.
    """
    wanted = Q()
    blocking = set()
    for slot in slots:
        wanted |= _row_q(slot)
        if slot.rule.block:
            wanted |= Q(scope=slot.rule.scope, key=slot.key, blocked_until__gt=now)
            blocking.add((slot.rule.scope, slot.key))
    rows = ThrottleWindow.objects.filter(wanted).values_list(
        "pk", "scope", "key", "window_start", "count", "blocked_until"
    )
    return _stored_from(rows, slots, blocking, now)


def _stored_from(
    rows: Any, slots: list[_Slot], blocking: set[tuple[str, str]], now: dt.datetime
) -> _StoredRows:
    """Fold (pk, scope, key, window_start, count, blocked_until) rows into counts and a block."""
    wanted_rows = {_row_id(slot) for slot in slots}
    stored = _StoredRows(counts={}, pks={}, blocked_until=None)
    for pk, scope, key, start, count, blocked_until in rows:
        if (scope, key, start) in wanted_rows:
            stored.counts[(scope, key, start)] = count
            stored.pks[(scope, key, start)] = pk
        if blocked_until and blocked_until > now and (scope, key) in blocking:
            stored.blocked_until = max(blocked_until, stored.blocked_until or blocked_until)
    return stored


def _create_rows(slots: list[_Slot]) -> None:
    """Create counter rows at 0; a row another request created meanwhile is kept as it is.

    MySQL and MariaDB: an INSERT IGNORE that meets an existing row takes a
    shared lock on it, which a count's UPDATE in the same transaction must
    then upgrade, and two requests doing the same deadlock; ON DUPLICATE KEY
    UPDATE takes the exclusive lock at once. PostgreSQL's ON CONFLICT DO
    NOTHING takes none.
    """
    rows = [
        ThrottleWindow(scope=s.rule.scope, key=s.key, window_start=s.window_start) for s in slots
    ]
    if transaction.get_connection().vendor == "mysql":
        ThrottleWindow.objects.bulk_create(rows, update_conflicts=True, update_fields=["scope"])
    else:
        ThrottleWindow.objects.bulk_create(rows, ignore_conflicts=True)


def _take(slot: _Slot, now: dt.datetime, *, create: bool) -> bool:
    """Count one event in the slot's row if its rule has room; False if it is full."""
    if create:
        _create_rows([slot])
    rule = slot.rule
    changes: dict[str, Any] = {"count": F("count") + 1}
    if rule.block:
        # The event that reaches the limit also starts the block, in the same
        # statement. blocked_until comes first and tests the old count:
        # PostgreSQL evaluates every SET expression on the old row, MySQL and
        # MariaDB from left to right.
        starts = When(count__gte=rule.limit - 1, then=Value(_block_end(slot, now)))
        changes = {"blocked_until": _blocked_until(starts), **changes}
    return bool(_row(slot).filter(count__lt=rule.limit).update(**changes))


def _seconds_until_room(
    full: list[_Slot], blocked_until: dt.datetime | None, now: dt.datetime
) -> int:
    """After a refused reservation: until the block ends and every full window has ended."""
    ends = [slot.window_start + dt.timedelta(seconds=slot.rule.window) for slot in full]
    if blocked_until:
        ends.append(blocked_until)
    return _seconds_until(max(ends), now)


def _give_back(slots: list[_Slot]) -> None:
    """Undo one count per slot, a row at a time in the sorted order.

    Each UPDATE is its own statement and holds one row lock, so a release
    cannot deadlock with a reservation; a block set by the count goes with it.
    """
    for slot in slots:
        changes: dict[str, Any] = {"count": F("count") - 1}
        if slot.rule.block:
            # Once back under the limit, the key is free (see _take for the order).
            lifted = When(count__lte=slot.rule.limit, then=Value(None))
            changes = {"blocked_until": _blocked_until(lifted), **changes}
        _row(slot).filter(count__gt=0).update(**changes)


def _row_q(slot: _Slot) -> Q:
    return Q(scope=slot.rule.scope, key=slot.key, window_start=slot.window_start)


def _row(slot: _Slot) -> QuerySet[ThrottleWindow]:
    return ThrottleWindow.objects.filter(_row_q(slot))


def _blocked_until(*whens: When) -> Case:
    return Case(*whens, default=F("blocked_until"), output_field=DateTimeField())


def _block_end(slot: _Slot, now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(seconds=slot.rule.block)


# -- PostgreSQL: two statements per reservation, one per release -----------------------------
#
# Every login counts several reservations, so on PostgreSQL they are written
# in SQL directly: building these statements through the ORM on every request
# took longer than running them. Names come from the model, values
# are always parameters.


class _Names:
    """The throttle table's quoted names, for the statements below."""

    def __init__(self) -> None:
        from django.db import connection

        quote = connection.ops.quote_name
        meta = ThrottleWindow._meta

        def column(name: str) -> str:
            return quote(meta.get_field(name).column)

        self.table = quote(meta.db_table)
        self.id = quote(meta.pk.column)
        self.scope, self.key, self.start = column("scope"), column("key"), column("window_start")
        self.count, self.blocked = column("count"), column("blocked_until")


@functools.cache
def _names() -> _Names:
    return _Names()


def _postgres_take_all(slots: list[_Slot], now: dt.datetime) -> list[int]:
    """Make sure of the rows, then lock, check and count them in one statement: their ids.

    The INSERT runs first, on its own and committed at once: the rows it
    creates stay locked until it commits, and the counting statement must
    hold nothing before its locking read. That statement
    (:func:`_postgres_count_if_room`) locks the rows in the sorted order,
    counts them only if every rule has room and no key is blocked, and
    returns what it locked, from which a refusal is explained.
    """
    n = _names()
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {n.table} ({n.scope}, {n.key}, {n.start}, {n.count}) "  # noqa: S608
            f"VALUES {', '.join(['(%s, %s, %s, 0)'] * len(slots))} ON CONFLICT DO NOTHING",
            [value for slot in slots for value in _row_id(slot)],
        )
        stored, counted = _postgres_count_if_room(cursor, slots, now)
    missing = len(stored.pks) < len(slots)
    if counted and missing:
        # Counted, but the rows read back do not match the slots (naive datetimes
        # with USE_TZ off do that; check E007 refuses it): never count again.
        raise RuntimeError("Throttle rows were counted but could not be matched to their rules.")
    if missing:
        raise _RowsVanished  # deleted between the INSERT and the read: count again
    if not counted:
        _refuse_if_blocked_or_full(slots, stored, now)
        raise _RowsVanished  # not refused by what it read either: count again
    return [stored.pks[_row_id(slot)] for slot in slots]


def _postgres_count_if_room(
    cursor: Any, slots: list[_Slot], now: dt.datetime
) -> tuple[_StoredRows, bool]:
    """Lock the slots' rows (and their keys' blocks) in the sorted order; count them if room.

    One statement, so no transaction is held open across round trips: the
    function ``authy2fa_throttle_take`` (migration 0007), whose plan the
    database keeps; the statement it runs was parsed and planned anew on
    every call when sent as text. It

    * reads and locks the rows, sorting before it locks, bytewise
      (``COLLATE "C"``) as Python sorts the slots for the row-by-row way.
      Locked, the counts read are the latest committed ones;
    * adds one to every slot's row only when all are there, none is full and
      no key is blocked; the event that reaches a blocking rule's limit also
      starts its block.

    Returns the locked rows, as :func:`_stored_from` folds them, and whether
    the count was made.
    """
    blocking = {(slot.rule.scope, slot.key) for slot in slots if slot.rule.block}
    try:
        _call_take_function(cursor, slots, blocking, now)
    except DatabaseError as err:
        # Code deployed before its migration, or tables made without migrations
        # (a test run with --nomigrations): the row-by-row way still counts right.
        if _function_missing(err):
            raise _FunctionMissing from err
        raise
    fetched = cursor.fetchall()
    stored = _stored_from([row[:6] for row in fetched], slots, blocking, now)
    return stored, bool(fetched) and fetched[0][6] == len(slots)


def _call_take_function(
    cursor: Any, slots: list[_Slot], blocking: set[tuple[str, str]], now: dt.datetime
) -> None:
    cursor.execute(
        "SELECT * FROM authy2fa_throttle_take(%s::varchar[], %s::varchar[], "
        "%s::timestamptz[], %s::integer[], %s::timestamptz[], %s::varchar[], %s::varchar[], "
        "%s::timestamptz)",
        [
            [slot.rule.scope for slot in slots],
            [slot.key for slot in slots],
            [slot.window_start for slot in slots],
            [slot.rule.limit for slot in slots],
            [_block_end(slot, now) if slot.rule.block else None for slot in slots],
            [scope for scope, _key in sorted(blocking)],
            [key for _scope, key in sorted(blocking)],
            now,
        ],
    )


def _postgres_give_back(slots: list[_Slot], ids: list[int]) -> None:
    """Undo one count per row by id: one statement, locking the rows in the sorted order.

    The rows are locked by a read that sorts before it locks, as the
    reservation's read does; an ``UPDATE ... WHERE id = ANY(...)`` alone would
    lock them in index order and could deadlock with a reservation.
    """
    n = _names()
    pairs = zip(slots, ids, strict=True)
    lifted = [(row_id, slot.rule.limit) for slot, row_id in pairs if slot.rule.block]
    sets, params = f"{n.count} = t.{n.count} - 1", []
    if lifted:
        # Once back under the limit, the key is free: the CASE tests the old count.
        whens = " ".join([f"WHEN t.{n.id} = %s AND t.{n.count} <= %s THEN NULL"] * len(lifted))
        sets += f", {n.blocked} = CASE {whens} ELSE t.{n.blocked} END"
        params = [value for pair in lifted for value in pair]
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(
            f"WITH locked AS MATERIALIZED (SELECT {n.id} FROM {n.table} "  # noqa: S608
            f"WHERE {n.id} = ANY(%s) "
            f'ORDER BY {n.scope} COLLATE "C", {n.key} COLLATE "C", {n.start} FOR UPDATE) '
            f"UPDATE {n.table} t SET {sets} FROM locked "
            f"WHERE t.{n.id} = locked.{n.id} AND t.{n.count} > 0",
            [ids, *params],
        )


def purge_expired(
    now: dt.datetime | None = None, keep_seconds: int = 2 * 86400, batch_size: int = 1000
) -> int:
    """Delete windows older than the longest rule; returns how many rows went.

    The expired rows are found by a read that locks nothing, then deleted by
    primary key in batches: a DELETE that scanned for them would, on MariaDB,
    lock the current windows too and deadlock with reservations.
    """
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=keep_seconds)
    expired = ThrottleWindow.objects.filter(window_start__lt=cutoff).exclude(blocked_until__gt=now)
    ids = list(expired.order_by("pk").values_list("pk", flat=True))
    deleted = 0
    for first in range(0, len(ids), batch_size):
        batch = ids[first : first + batch_size]
        gone, _ = expired.filter(pk__in=batch).delete()
        deleted += gone
    return deleted


# -- the app's rules -----------------------------------------------------------------------


def _limits() -> dict[str, int]:
    return app_settings.THROTTLE


def send_rules(
    user_id: object, phone: str, ip: str | None, channel: str, *, unconfirmed: bool = False
) -> list[tuple[Rule, str]]:
    """Quotas on SMS and voice sends (security model S2-S4).

    Sends to a number someone is *enrolling* count under their own per-number
    scope: anyone may type anyone's number, and that must not use up the
    owner's quota for signing in.
    """
    limits = _limits()
    hour, day = 3600, 86400
    phone_scope = "send_unconfirmed_phone" if unconfirmed else "send_phone"
    entries = [
        (Rule("send_user_hour", limits["SENDS_PER_HOUR"], hour), str(user_id)),
        (Rule("send_user_day", limits["SENDS_PER_DAY"], day), str(user_id)),
        (Rule(f"{phone_scope}_hour", limits["PHONE_SENDS_PER_HOUR"], hour), phone),
        (Rule(f"{phone_scope}_day", limits["PHONE_SENDS_PER_DAY"], day), phone),
    ]
    if channel == "call":
        entries.append((Rule("call_user_day", limits["CALLS_PER_DAY"], day), str(user_id)))
    if ip:
        entries += [
            (Rule("send_ip_hour", limits["IP_SENDS_PER_HOUR"], hour), ip),
            (Rule("send_ip_day", limits["IP_SENDS_PER_DAY"], day), ip),
        ]
    return entries


def push_rules(user_id: object) -> list[tuple[Rule, str]]:
    limits = _limits()
    return [
        (Rule("push_user_10min", limits["PUSHES_PER_TEN_MINUTES"], 600), str(user_id)),
        (Rule("push_user_day", limits["PUSHES_PER_DAY"], 86400), str(user_id)),
    ]


def ip_failure_rules(ip: str) -> list[tuple[Rule, str]]:
    """Wrong codes from one client IP, across all accounts (L5): short and daily tiers."""
    limits = _limits()
    short = Rule(
        "fail_ip",
        limits["IP_MAX_FAILURES"],
        limits["IP_WINDOW_SECONDS"],
        limits["IP_BLOCK_SECONDS"],
    )
    daily = Rule("fail_ip_day", limits["IP_MAX_FAILURES_PER_DAY"], 86400, 86400)
    return [(short, ip), (daily, ip)]


def password_rules(username: str, ip: str | None) -> list[tuple[Rule, str]]:
    """Wrong passwords per submitted username (existing or not) and IP (L7).

    The blocking rule is keyed on the username *and* the client IP, so someone
    guessing from elsewhere cannot keep the owner out; a higher cap per
    username alone bounds guessing spread over many IPs.
    """
    limits = _limits()
    window = limits["PASSWORD_WINDOW_SECONDS"]
    name = username.strip().casefold()[:150]
    entries = [
        (
            Rule("password_username", limits["PASSWORD_FAILURES_PER_USERNAME_ALL_IPS"], window),
            name,
        )
    ]
    if ip:
        per_pair = limits["PASSWORD_FAILURES_PER_USERNAME"]
        entries += [
            (Rule("password_username_ip", per_pair, window, window), f"{name}|{ip}"),
            (Rule("password_ip", limits["PASSWORD_FAILURES_PER_IP"], window, window), ip),
        ]
    return entries


def enrollment_confirm_rule() -> Rule:
    """Attempts to confirm a new authenticator app per user (10 per 10 minutes)."""
    return Rule("confirm_app_user", 10, 600)


def recovery_failure_rule() -> Rule:
    """Wrong recovery codes per account per day (L6)."""
    return Rule("fail_recovery_day", 5, 86400)


# -- cooldown --------------------------------------------------------------------------------


_NOT_READ = object()


def start_cooldown(
    profile_id: int, now: dt.datetime | None = None, *, last_sent: Any = _NOT_READ
) -> dt.datetime | None:
    """Claim the send slot for a user; raise :class:`Throttled` during the cooldown.

    Returns the previous send time so that :func:`cancel_cooldown` can restore it.
    ``last_sent`` is the send time the caller read with the profile, if it did:
    then the claim is one compare-and-set ``UPDATE`` (and a refusal costs no
    query); if another send changed it since, the row is read under lock.
    """
    now = now or timezone.now()
    if last_sent is not _NOT_READ:
        _raise_if_cooling_down(last_sent, now)
        claim = {"last_code_sent_at": now}
        if statements.update(
            TwoFactorProfile, {"pk": profile_id, "last_code_sent_at": last_sent}, claim
        ):
            return last_sent
    with transaction.atomic():
        profile = (
            TwoFactorProfile.objects.select_for_update()
            .only("last_code_sent_at")
            .get(pk=profile_id)
        )
        previous = profile.last_code_sent_at
        _raise_if_cooling_down(previous, now)
        TwoFactorProfile.objects.filter(pk=profile_id).update(last_code_sent_at=now)
    return previous


def _raise_if_cooling_down(last_sent: dt.datetime | None, now: dt.datetime) -> None:
    seconds = _limits()["SEND_COOLDOWN_SECONDS"]
    if last_sent and last_sent > now - dt.timedelta(seconds=seconds):
        ready = last_sent + dt.timedelta(seconds=seconds)
        raise Throttled("Please wait before asking for another code.", _seconds_until(ready, now))


def cancel_cooldown(profile_id: int, claimed_at: dt.datetime, previous: dt.datetime | None) -> None:
    """Give the send slot back after a failed delivery (only if still ours)."""
    TwoFactorProfile.objects.filter(pk=profile_id, last_code_sent_at=claimed_at).update(
        last_code_sent_at=previous
    )


# -- consecutive failures per account (L2-L4) ------------------------------------------------


@dataclass(frozen=True)
class AccountCharge:
    """One attempt charged to an account; see :func:`charge_account_attempt`."""

    profile_id: int
    count: int
    locked: bool
    hard_locked: bool


def charge_account_attempt(
    profile_id: int,
    *,
    allow_when_locked: bool = False,
    now: dt.datetime | None = None,
    loaded: TwoFactorProfile | None = None,
) -> AccountCharge:
    """Count an attempt as a failure before checking it; raise if the account is locked.

    ``allow_when_locked`` is for recovery codes, which still work (with their
    own daily limit) when codes are locked, so a user can always get back in.
    ``loaded`` is the profile as the caller read it, if it did: the charge is
    then one compare-and-set ``UPDATE`` on the counters read, and the row is
    read under lock only when another attempt changed them since.
    """
    now = now or timezone.now()
    if loaded is not None:
        if not allow_when_locked:
            raise_if_locked(loaded, now)
        charge, changes = _next_failure(loaded, now)
        unchanged = {
            "pk": profile_id,
            "failure_count": loaded.failure_count,
            "locked_until": loaded.locked_until,
            "hard_locked_at": loaded.hard_locked_at,
        }
        if statements.update(TwoFactorProfile, unchanged, changes):
            return charge
    with transaction.atomic():
        profile = TwoFactorProfile.objects.select_for_update().get(pk=profile_id)
        if not allow_when_locked:
            raise_if_locked(profile, now)
        charge, changes = _next_failure(profile, now)
        TwoFactorProfile.objects.filter(pk=profile_id).update(**changes)
    return charge


def _next_failure(profile: TwoFactorProfile, now: dt.datetime) -> tuple[AccountCharge, dict]:
    """One more failure on ``profile``: the charge, and the fields it changes."""
    limits = _limits()
    count = profile.failure_count + 1
    locked = count == limits["ACCOUNT_LOCK_AFTER"]
    hard = count == limits["ACCOUNT_HARD_LOCK_AFTER"]
    changes: dict[str, Any] = {"failure_count": count, "last_failure_at": now}
    if locked:
        changes["locked_until"] = now + dt.timedelta(seconds=limits["ACCOUNT_LOCK_SECONDS"])
    if hard:
        changes["hard_locked_at"] = now
    return AccountCharge(profile.pk, count, locked, hard), changes


def raise_if_locked(profile: TwoFactorProfile, now: dt.datetime) -> None:
    if profile.hard_locked_at is not None:
        raise AccountLocked(hard=True)
    if profile.locked_until is not None and profile.locked_until > now:
        raise AccountLocked(retry_after=_seconds_until(profile.locked_until, now), hard=False)


def refund_account_attempt(charge: AccountCharge) -> None:
    """Undo a charge: the provider failed, so the attempt was not the user's failure."""
    with transaction.atomic():
        profile = TwoFactorProfile.objects.select_for_update().get(pk=charge.profile_id)
        if profile.failure_count == 0:
            return
        profile.failure_count -= 1
        if charge.locked:
            profile.locked_until = None
        if charge.hard_locked:
            profile.hard_locked_at = None
        profile.save(update_fields=["failure_count", "locked_until", "hard_locked_at"])


def reset_account_failures(profile_id: int) -> None:
    """After a complete login: forget failures and locks (the only reset, L4)."""
    statements.update(
        TwoFactorProfile,
        {"pk": profile_id},
        {"failure_count": 0, "last_failure_at": None, "locked_until": None, "hard_locked_at": None},
    )


# -- client IP ---------------------------------------------------------------------------------


def client_ip(request: HttpRequest) -> str | None:
    """The client's IP: ``REMOTE_ADDR``, or the entry our trusted proxies appended.

    With ``TRUSTED_PROXY_COUNT = n``, the n-th address from the right of
    ``X-Forwarded-For`` is the one the outermost trusted proxy saw; anything
    to its left was written by the client and is ignored.
    """
    proxies = app_settings.TRUSTED_PROXY_COUNT
    candidate = request.META.get("REMOTE_ADDR", "")
    if proxies:
        forwarded = [
            part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        ]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= proxies:
            candidate = forwarded[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None
