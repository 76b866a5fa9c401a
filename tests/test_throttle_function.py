"""PostgreSQL: the throttle's counting statement is a function (migration 0007) with a kept plan."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.db import connection

from django_authy2fa import throttling
from django_authy2fa.exceptions import Throttled
from django_authy2fa.models import ThrottleWindow
from django_authy2fa.throttling import Rule

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL function"),
    pytest.mark.django_db(transaction=True),
]

NOW = dt.datetime(2026, 3, 2, 10, 0, 30, tzinfo=dt.timezone.utc)
HOUR = Rule("test_hour", limit=5, window=3600)
BLOCKING = Rule("test_blocking", limit=2, window=60, block=600)


def _function_exists() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_proc WHERE proname = 'authy2fa_throttle_take'")
        return cursor.fetchone()[0] == 1


def test_the_migration_creates_the_function_and_its_reversal_drops_it():
    assert _function_exists()
    try:
        call_command("migrate", "django_authy2fa", "0006", verbosity=0)
        assert not _function_exists()
    finally:
        call_command("migrate", "django_authy2fa", verbosity=0)
    assert _function_exists()
    throttling.reserve([(HOUR, "alice")], NOW)
    assert ThrottleWindow.objects.get(scope=HOUR.scope).count == 1


def test_the_function_keeps_one_generic_plan():
    with connection.cursor() as cursor:
        cursor.execute("SELECT proconfig FROM pg_proc WHERE proname = 'authy2fa_throttle_take'")
        assert cursor.fetchone()[0] == ["plan_cache_mode=force_generic_plan"]


def test_without_the_function_throttles_still_count_row_by_row_and_say_why(caplog, monkeypatch):
    # Code deployed before `migrate`, or a site's tests run with --nomigrations.
    monkeypatch.setattr(throttling, "_missing_function_logged", False)
    try:
        call_command("migrate", "django_authy2fa", "0006", verbosity=0)
        for _ in range(BLOCKING.limit):
            throttling.reserve([(HOUR, "alice"), (BLOCKING, "10.0.0.1")], NOW)
        with pytest.raises(Throttled):
            throttling.reserve([(HOUR, "alice"), (BLOCKING, "10.0.0.1")], NOW)
    finally:
        call_command("migrate", "django_authy2fa", verbosity=0)
    assert ThrottleWindow.objects.get(scope=HOUR.scope).count == BLOCKING.limit
    warnings = [r for r in caplog.records if "authy2fa_throttle_take" in r.getMessage()]
    assert len(warnings) == 1 and "manage.py migrate" in warnings[0].getMessage()


def _many_rows(count: int) -> None:
    """Enough windows that a plan reading the whole table would show."""
    start = NOW - dt.timedelta(hours=count)
    ThrottleWindow.objects.bulk_create(
        ThrottleWindow(scope=HOUR.scope, key=f"k{i}", window_start=start, count=1)
        for i in range(count)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {ThrottleWindow._meta.db_table}")


def test_the_kept_plan_finds_rows_through_the_index_not_by_reading_the_table():
    _many_rows(20_000)
    plans: list[str] = []

    def keep(diagnostic):
        plans.append(diagnostic.message_primary)

    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if not cursor.fetchone()[0]:
            pytest.skip("auto_explain needs a superuser")
        connection.connection.add_notice_handler(keep)
        cursor.execute("LOAD 'auto_explain'")
        cursor.execute("SET auto_explain.log_min_duration = 0")
        cursor.execute("SET auto_explain.log_nested_statements = on")
        cursor.execute("SET auto_explain.log_level = notice")
        try:
            # Past the plan cache's first five calls, on the generic plan it keeps.
            for i in range(7):
                throttling.reserve([(HOUR, f"user{i}"), (BLOCKING, f"10.0.0.{i}")], NOW)
        finally:
            cursor.execute("RESET auto_explain.log_min_duration")
            cursor.execute("RESET auto_explain.log_nested_statements")
            cursor.execute("RESET auto_explain.log_level")
            connection.connection.remove_notice_handler(keep)
    inner = [plan for plan in plans if "WITH wanted" in plan]
    assert len(inner) == 7
    table = ThrottleWindow._meta.db_table
    for plan in inner:
        assert "authy2fa_throttle_unique_window" in plan
        assert f"Seq Scan on {table}" not in plan
