"""authy2fa_status and authy2fa_events: counts, filters, JSON, and no secrets in the output."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from django_authy2fa import flows, tokens, totp
from django_authy2fa.audit import ClientInfo, record
from django_authy2fa.exceptions import ProviderUnavailable
from django_authy2fa.models import (
    AuditEvent,
    ChallengePurpose,
    EventType,
    LoginChallenge,
    TwoFactorProfile,
)
from django_authy2fa.operations import parse_since, safe_details
from django_authy2fa.providers import get_provider, locmem
from django_authy2fa.providers.base import Recipient
from django_authy2fa.recovery import replace_codes

from ..helpers import make_user

pytestmark = pytest.mark.django_db
PHONE = "+14155552671"


def run(name: str, *args: str, **options) -> str:
    out = StringIO()
    call_command(name, *args, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


def status_json() -> dict:
    return json.loads(run("authy2fa_status", json=True))


def confirmed_app(user) -> None:
    totp.start_enrollment(user)
    user.authy2fa_totp.confirmed_at = timezone.now()
    user.authy2fa_totp.save()


@pytest.fixture
def population():
    now = timezone.now()
    sms = make_user("sms", phone=PHONE)
    make_user("call", phone="+447400123456")
    TwoFactorProfile.objects.filter(user__username="call").update(default_method="call")
    app = make_user("app", phone=PHONE.replace("71", "72"))
    TwoFactorProfile.objects.filter(user=app).update(default_method="totp", authy_id="1635")
    confirmed_app(app)
    replace_codes(app)
    hard = make_user("hard", phone=PHONE.replace("71", "73"))
    TwoFactorProfile.objects.filter(user=hard).update(failure_count=20, hard_locked_at=now)
    soft = make_user("soft", phone=PHONE.replace("71", "74"))
    TwoFactorProfile.objects.filter(user=soft).update(
        failure_count=10, locked_until=now + dt.timedelta(minutes=10), last_failure_at=now
    )
    expired = make_user("expired", phone=PHONE.replace("71", "75"))
    TwoFactorProfile.objects.filter(user=expired).update(
        failure_count=10, locked_until=now - dt.timedelta(minutes=1)
    )
    make_user("staff", enabled=False, staff=True)
    make_user("plain", enabled=False)
    flows.create_challenge(sms, purpose=ChallengePurpose.LOGIN, client=ClientInfo())
    tokens.issue(sms, second_step_passed=True)
    return now


def test_status_counts(population):
    report = status_json()
    assert report["users"] == {
        "total": 8,
        "two_factor_on": 6,
        "two_factor_off": 2,
        "required_without_two_factor": 0,
    }
    assert report["methods"] == {
        "default_method": {"call": 1, "sms": 4, "totp": 1},
        "phone_confirmed": 6,
        "authy_id": 1,
        "authenticator_app": 1,
        "with_recovery_codes": 1,
    }
    locks = report["locks"]
    assert (locks["locked"], locks["hard"], locks["temporary"]) == (2, 1, 1)
    assert {entry["user"]: entry["hard"] for entry in locks["users"]} == {
        "hard": True,
        "soft": False,
    }
    assert report["pending_challenges"] == {"login": 1}
    assert report["api_tokens"] == 1
    assert report["provider"]["configured"] is True
    assert report["provider"]["name"] == "In-memory test provider"
    assert report["provider"]["circuit"]["state"] == "closed"


def test_status_text_lists_locked_users_and_never_a_phone(population):
    output = run("authy2fa_status")
    assert "Users: 8 (two-factor on: 6, off: 2)" in output
    assert "Default method: call 1, sms 4, totp 1" in output
    assert "Locked: 2 (hard: 1, temporary: 1)" in output
    assert "hard: until unlocked, 20 failures" in output
    assert "Open challenges: 1 (login 1)" in output
    assert "circuit breaker: closed, 0/5 consecutive failures" in output
    assert "+1415" not in output and "+44" not in output


@override_settings(
    AUTHY2FA={
        "PROVIDER": "django_authy2fa.providers.locmem.LocmemProvider",
        "REQUIRED_FOR": "staff",
    }
)
def test_status_counts_staff_the_policy_requires_without_2fa(population):
    assert status_json()["users"]["required_without_two_factor"] == 1
    assert "required by REQUIRED_FOR but not set up: 1" in run("authy2fa_status")


def test_status_shows_an_open_circuit_without_calling_the_provider():
    provider = get_provider()
    for _ in range(5):
        locmem.fail_next(ProviderUnavailable())
        with pytest.raises(ProviderUnavailable):
            provider.check_code(Recipient(phone=PHONE), "123456", reference="")
    before = len(locmem.outbox)
    circuit = status_json()["provider"]["circuit"]
    assert (circuit["state"], circuit["failures"]) == ("open", 5)
    assert 0 < circuit["retry_after"] <= 60
    assert "circuit breaker: open, 5/5 consecutive failures, next trial in" in run(
        "authy2fa_status"
    )
    assert len(locmem.outbox) == before


@override_settings(AUTHY2FA={"PROVIDER": "no.such.Provider"})
def test_status_reports_a_broken_provider_setting_instead_of_failing():
    report = status_json()
    assert report["provider"]["configured"] is False
    assert "no.such.Provider" in report["provider"]["error"]
    assert "Provider: not usable" in run("authy2fa_status")


# -- events --------------------------------------------------------------------------------


@pytest.fixture
def events():
    alice = make_user("alice", phone=PHONE)
    bob = make_user("bob", phone="+447400123456")
    client = ClientInfo(ip="203.0.113.9", user_agent="Firefox")
    old = record(EventType.CODE_FAILED, user=alice, client=client, method="sms", failures=1)
    AuditEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=3))
    record(EventType.LOCKED, user=alice, client=client, hard=False)
    record(EventType.CODE_SENT, user=bob, client=client, method="sms")
    flows.unlock(alice, ClientInfo(), actor=bob, reason="ticket 5")
    return alice, bob


def events_json(**options) -> list[dict]:
    return json.loads(run("authy2fa_events", json=True, **options))


def test_events_newest_first_with_filters(events):
    assert [e["event"] for e in events_json()] == ["unlocked", "code_sent", "locked", "code_failed"]
    assert [e["event"] for e in events_json(user="bob")] == ["code_sent"]
    assert [e["event"] for e in events_json(kinds=["locked,unlocked"])] == ["unlocked", "locked"]
    assert [e["event"] for e in events_json(kinds=["locked", "code_sent"])] == [
        "code_sent",
        "locked",
    ]
    assert [e["event"] for e in events_json(since="1d")] == ["unlocked", "code_sent", "locked"]
    assert len(events_json(since="7d")) == 4
    assert [e["event"] for e in events_json(limit=1)] == ["unlocked"]
    unlocked = events_json(limit=1)[0]
    assert (unlocked["user"], unlocked["actor"], unlocked["details"]) == (
        "alice",
        "bob",
        {"reason": "ticket 5"},
    )


def test_events_since_an_iso_date(events):
    two_days_ago = (timezone.now() - dt.timedelta(days=2)).date().isoformat()
    assert len(events_json(since=two_days_ago)) == 3


def test_events_text_output(events):
    output = run("authy2fa_events", user="alice")
    lines = output.splitlines()
    assert len(lines) == 3
    assert "unlocked" in lines[0] and "by=bob" in lines[0] and 'reason="ticket 5"' in lines[0]
    assert "ip=203.0.113.9" in lines[1] and "hard=false" in lines[1]
    assert run("authy2fa_events", kinds=["reset"]) == "No events.\n"


def test_events_never_show_secrets_or_full_phone_numbers():
    user = make_user("alice", phone=PHONE)
    # Events are written without secrets; these are what a careless caller might store.
    record(
        EventType.PROVIDER_ERROR,
        user=user,
        client=ClientInfo(user_agent=f"dialer {PHONE}"),
        phone=PHONE,
        api_key="sk-live-123456",
        nested={"recovery_code": "ABCD-EFGH-IJKL", "note": f"call {PHONE} back"},
        error_code="60200",
    )
    for output in (run("authy2fa_events"), run("authy2fa_events", json=True)):
        assert PHONE not in output
        assert "4155552671" not in output
        assert "sk-live-123456" not in output
        assert "ABCD-EFGH-IJKL" not in output
        assert "+1 ••••••••71" in output
        assert "60200" in output


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"kinds": ["nope"]}, "Unknown event type nope"),
        ({"since": "yesterday"}, "Cannot read --since 'yesterday'"),
        ({"since": "2024-13-40"}, "Cannot read --since"),
        ({"limit": 0}, "at least 1"),
        ({"user": "ghost"}, "No user with username 'ghost'"),
        ({"user_id": "12345"}, "No user with id '12345'"),
    ],
)
def test_events_bad_arguments_are_clear_errors(options, message):
    with pytest.raises(CommandError, match=message) as caught:
        run("authy2fa_events", **options)
    assert caught.value.returncode == 1


def test_parse_since_forms():
    now = timezone.now()
    assert parse_since("30m", now) == now - dt.timedelta(minutes=30)
    assert parse_since("24h", now) == now - dt.timedelta(hours=24)
    assert parse_since("2w", now) == now - dt.timedelta(days=14)
    aware = parse_since("2024-05-01T12:00:00+02:00", now)
    assert aware == dt.datetime(2024, 5, 1, 10, tzinfo=dt.timezone.utc)
    assert parse_since("2024-05-01", now) == dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)


def test_safe_details_keeps_what_operators_need():
    assert safe_details({"failures": 3, "hard": True, "via": "api", "remaining": 2}) == {
        "failures": 3,
        "hard": True,
        "via": "api",
        "remaining": 2,
    }
    assert safe_details({"token": "x", "auth-token": "y", "status_code": 503}) == {
        "token": "[hidden]",
        "auth-token": "[hidden]",
        "status_code": 503,
    }


def test_reports_change_nothing(events):
    # Reports read; they never change what they report on.
    before = (AuditEvent.objects.count(), LoginChallenge.objects.count())
    run("authy2fa_status")
    run("authy2fa_events")
    assert (AuditEvent.objects.count(), LoginChallenge.objects.count()) == before
