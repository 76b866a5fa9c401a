"""authy2fa_reset and authy2fa_unlock: same flows, audit and signals as the admin actions."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from django_authy2fa import signals, state, tokens, totp
from django_authy2fa.models import (
    AuditEvent,
    EventType,
    RecoveryCode,
    TOTPDevice,
    TrustedBrowser,
    TwoFactorProfile,
)
from django_authy2fa.recovery import replace_codes

from ..helpers import make_user

pytestmark = pytest.mark.django_db
PHONE = "+14155552671"


def run(name: str, *args: str, **options):
    out, err = StringIO(), StringIO()
    call_command(name, *args, stdout=out, stderr=err, **options)
    return out.getvalue() + err.getvalue()


def fully_enrolled(username: str = "alice"):
    """A user with every kind of second-factor state a reset removes."""
    user = make_user(username, phone=PHONE)
    TwoFactorProfile.objects.filter(user=user).update(authy_id=None, failure_count=3)
    totp.start_enrollment(user)
    replace_codes(user)
    TrustedBrowser.objects.create(
        user=user,
        token_digest=f"{username}-browser".ljust(64, "0"),
        profile_version=1,
        expires_at=timezone.now() + dt.timedelta(days=30),
    )
    _token, key = tokens.issue(user, second_step_passed=True)
    return user, key


@pytest.fixture
def disabled_signals():
    received = []

    def receiver(**kwargs):
        received.append(kwargs)

    signals.second_factor_disabled.connect(receiver)
    yield received
    signals.second_factor_disabled.disconnect(receiver)


# -- reset -----------------------------------------------------------------------------------


def test_reset_removes_everything_bumps_the_version_and_is_audited(disabled_signals):
    user, key = fully_enrolled()
    before = TwoFactorProfile.objects.get(user=user).version
    assert tokens.authenticate_key(key) is not None

    output = run("authy2fa_reset", "alice", reason="lost phone, ticket 42", interactive=False)

    profile = TwoFactorProfile.objects.get(user=user)
    assert (profile.phone_number, profile.enabled_at, profile.failure_count) == ("", None, 0)
    assert profile.version > before
    assert state.load_user_state(user.pk) == state.UserState(profile.version, False)
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not RecoveryCode.objects.filter(user=user).exists()
    assert not TrustedBrowser.objects.filter(user=user, revoked_at__isnull=True).exists()
    assert tokens.authenticate_key(key) is None  # voided by the version bump
    event = AuditEvent.objects.get(event=EventType.RESET)
    assert (event.user, event.actor) == (user, None)
    assert event.details == {"reason": "lost phone, ticket 42"}
    assert event.user_agent == "manage.py authy2fa_reset"
    assert [s["user"] for s in disabled_signals] == [user]
    assert "was reset" in output
    assert PHONE not in output
    assert "+1 ••••••••71" in output


def test_reset_records_the_operator_account_given_as_actor():
    fully_enrolled()
    admin = get_user_model().objects.create_user("root", "root@example.com", "x", is_staff=True)
    run("authy2fa_reset", "alice", reason="ticket 7", actor="root", interactive=False)
    assert AuditEvent.objects.get(event=EventType.RESET).actor == admin


def test_actor_must_be_an_existing_staff_account():
    fully_enrolled()
    make_user("bob", enabled=False)
    with pytest.raises(CommandError, match="not a staff account"):
        run("authy2fa_reset", "alice", reason="x", actor="bob", interactive=False)
    with pytest.raises(CommandError, match="No user"):
        run("authy2fa_reset", "alice", reason="x", actor="nobody", interactive=False)
    assert TwoFactorProfile.objects.get(user__username="alice").is_enabled


def test_command_and_admin_action_leave_the_same_trail(admin_client, admin_user, disabled_signals):
    by_admin, _ = fully_enrolled("alice")
    by_command, _ = fully_enrolled("bob")
    admin_client.post(
        reverse("admin:django_authy2fa_twofactorprofile_changelist"),
        {"action": "reset_profiles", "_selected_action": [by_admin.authy2fa_profile.pk]},
    )
    run("authy2fa_reset", "bob", reason="ticket 9", actor=admin_user.username, interactive=False)

    def trail(user):
        profile = TwoFactorProfile.objects.get(user=user)
        events = list(AuditEvent.objects.filter(user=user).values_list("event", "actor"))
        return (
            profile.is_enabled,
            profile.phone_number,
            TOTPDevice.objects.filter(user=user).count(),
            RecoveryCode.objects.filter(user=user).count(),
            TrustedBrowser.objects.filter(user=user, revoked_at__isnull=True).count(),
            events,
        )

    assert trail(by_admin) == (False, "", 0, 0, 0, [(EventType.RESET, admin_user.pk)])
    assert trail(by_command) == (False, "", 0, 0, 0, [(EventType.RESET, admin_user.pk)])
    assert [sorted(s) for s in disabled_signals] == [sorted(disabled_signals[0])] * 2
    assert [s["actor"] for s in disabled_signals] == [admin_user, admin_user]


def test_reset_by_id():
    user, _ = fully_enrolled()
    run("authy2fa_reset", id=str(user.pk), reason="x", interactive=False)
    assert not TwoFactorProfile.objects.get(user=user).is_enabled


@pytest.mark.parametrize(
    ("args", "options", "message"),
    [
        (["nobody"], {}, "No user with username 'nobody'"),
        ([], {"id": "99999"}, "No user with id '99999'"),
        ([], {"id": "not-a-number"}, "No user with id 'not-a-number'"),
        ([], {}, "Give a username or an id"),
        (["alice"], {"id": "1"}, "Give a username or an id"),
    ],
)
def test_unknown_user_is_an_error_and_changes_nothing(args, options, message):
    fully_enrolled()
    with pytest.raises(CommandError, match=message) as caught:
        run("authy2fa_reset", *args, reason="x", interactive=False, **options)
    assert caught.value.returncode == 1
    assert TwoFactorProfile.objects.get(user__username="alice").is_enabled
    assert not AuditEvent.objects.exists()


def test_reason_is_required_and_not_blank():
    fully_enrolled()
    with pytest.raises(CommandError, match="--reason"):
        run("authy2fa_reset", "alice", interactive=False)
    with pytest.raises(CommandError, match="Give a reason"):
        run("authy2fa_reset", "alice", reason="   ", interactive=False)
    with pytest.raises(CommandError, match="longer than 500"):
        run("authy2fa_reset", "alice", reason="x" * 501, interactive=False)
    assert TwoFactorProfile.objects.get(user__username="alice").is_enabled


def test_a_phone_number_in_the_reason_is_masked():
    fully_enrolled()
    run("authy2fa_reset", "alice", reason=f"moved from {PHONE}", interactive=False)
    reason = AuditEvent.objects.get(event=EventType.RESET).details["reason"]
    assert PHONE not in reason
    assert reason == "moved from +1 ••••••••71"


@pytest.mark.parametrize("answer", ["no", "", "y"])
def test_anything_but_yes_at_the_prompt_cancels(answer):
    fully_enrolled()
    with (
        mock.patch("builtins.input", return_value=answer),
        pytest.raises(CommandError, match="Cancelled"),
    ):
        run("authy2fa_reset", "alice", reason="x")
    assert TwoFactorProfile.objects.get(user__username="alice").is_enabled
    assert not AuditEvent.objects.exists()


def test_yes_at_the_prompt_resets():
    fully_enrolled()
    with mock.patch("builtins.input", return_value="yes") as prompt:
        run("authy2fa_reset", "alice", reason="x")
    assert "alice" in prompt.call_args.args[0]
    assert not TwoFactorProfile.objects.get(user__username="alice").is_enabled


def test_dry_run_lists_what_would_go_and_changes_nothing():
    fully_enrolled()
    output = run("authy2fa_reset", "alice", reason="x", dry_run=True)
    assert "authenticator app: yes" in output
    assert "unused recovery codes: 10" in output
    assert "active trusted browsers: 1" in output
    assert "active API tokens (voided): 1" in output
    assert "Dry run: nothing changed." in output
    assert TwoFactorProfile.objects.get(user__username="alice").is_enabled
    assert RecoveryCode.objects.count() == 10
    assert not AuditEvent.objects.exists()


def test_reset_is_refused_when_the_shared_cache_cannot_be_updated():
    user, key = fully_enrolled()
    with (
        mock.patch.object(cache, "delete", side_effect=ConnectionError("cache down")),
        pytest.raises(CommandError, match="shared cache"),
    ):
        run("authy2fa_reset", "alice", reason="x", interactive=False)
    profile = TwoFactorProfile.objects.get(user=user)
    assert profile.is_enabled and profile.phone_number == PHONE
    assert RecoveryCode.objects.filter(user=user).count() == 10
    assert tokens.authenticate_key(key) is not None
    assert not AuditEvent.objects.exists()


# -- unlock ----------------------------------------------------------------------------------


def lock(user, *, hard: bool):
    now = timezone.now()
    TwoFactorProfile.objects.filter(user=user).update(
        failure_count=20 if hard else 10,
        last_failure_at=now,
        locked_until=now + dt.timedelta(minutes=15),
        hard_locked_at=now if hard else None,
    )


@pytest.mark.parametrize("hard", [False, True])
def test_unlock_clears_counters_and_locks_and_is_audited(hard):
    user = make_user()
    lock(user, hard=hard)
    output = run("authy2fa_unlock", "alice", reason="called the help desk")
    profile = TwoFactorProfile.objects.get(user=user)
    assert (profile.failure_count, profile.locked_until, profile.hard_locked_at) == (0, None, None)
    assert not profile.is_locked()
    event = AuditEvent.objects.get()
    assert (event.event, event.user, event.actor) == (EventType.UNLOCKED, user, None)
    assert event.details == {"reason": "called the help desk"}
    assert event.user_agent == "manage.py authy2fa_unlock"
    assert "Unlocked alice" in output
    assert ("hard lock" in output) is hard


def test_unlock_with_actor_and_by_id():
    user = make_user()
    admin = get_user_model().objects.create_user("root", "r@example.com", "x", is_staff=True)
    lock(user, hard=True)
    run("authy2fa_unlock", id=str(user.pk), actor="root")
    event = AuditEvent.objects.get()
    assert (event.actor, event.details) == (admin, {})


def test_unlocking_a_user_who_is_not_locked_changes_and_records_nothing():
    user = make_user()
    output = run("authy2fa_unlock", "alice")
    assert "nothing changed" in output
    assert not AuditEvent.objects.exists()
    make_user("bob", enabled=False)
    assert "no two-factor profile" in run("authy2fa_unlock", "bob")
    assert not AuditEvent.objects.exists()
    assert TwoFactorProfile.objects.get(user=user).failure_count == 0


def test_unlock_unknown_user_is_an_error():
    with pytest.raises(CommandError, match="No user with username 'ghost'") as caught:
        run("authy2fa_unlock", "ghost")
    assert caught.value.returncode == 1
