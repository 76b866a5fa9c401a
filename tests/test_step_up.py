"""Step-up proofs: the rule lives in flows, and the pages and the API both go through it."""

import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone

from django_authy2fa import flows, recovery
from django_authy2fa.audit import ClientInfo
from django_authy2fa.models import ChallengePurpose, LoginChallenge, RecoveryCode, TwoFactorProfile

from .helpers import PASSWORD, Browser, make_user

pytestmark = pytest.mark.django_db
CLIENT = ClientInfo(ip="192.0.2.10")


def passed_step_up(user, codes):
    """A step-up ``user`` passed with a recovery code (the proof sensitive flows ask for)."""
    challenge, _secret = flows.create_challenge(user, purpose=ChallengePurpose.STEP_UP)
    flows.step_up(user, PASSWORD, "recovery", codes.pop(), CLIENT, challenge)
    return challenge


def test_a_proof_is_used_up_by_the_first_sensitive_change():
    alice = make_user("alice")
    codes = recovery.replace_codes(alice)
    proof = passed_step_up(alice, codes)
    assert flows.has_step_up(alice, proof)
    new_codes = flows.regenerate_recovery_codes(alice, CLIENT, step_up=proof)
    assert len(new_codes) == 10
    assert not flows.has_step_up(alice, proof)
    with pytest.raises(flows.StepUpRequired):
        flows.regenerate_recovery_codes(alice, CLIENT, step_up=proof)
    with pytest.raises(flows.StepUpRequired):
        flows.turn_off(alice, CLIENT, step_up=proof)
    assert TwoFactorProfile.objects.get(user=alice).is_enabled
    # The codes shown once are still the valid ones: the refused call voided nothing.
    assert RecoveryCode.objects.filter(user=alice, used_at__isnull=True).count() == 10


def test_a_proof_is_good_for_its_user_only_and_for_five_minutes():
    alice, bob = make_user("alice"), make_user("bob", phone="+14155552672")
    proof = passed_step_up(alice, recovery.replace_codes(alice))
    assert not flows.has_step_up(bob, proof)
    with pytest.raises(flows.StepUpRequired):
        flows.turn_off(bob, CLIENT, step_up=proof)
    assert TwoFactorProfile.objects.get(user=bob).is_enabled
    LoginChallenge.objects.filter(pk=proof.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    with pytest.raises(flows.StepUpRequired):
        flows.turn_off(alice, CLIENT, step_up=proof)
    assert TwoFactorProfile.objects.get(user=alice).is_enabled


def test_an_unanswered_step_up_is_no_proof():
    alice = make_user("alice")
    unanswered, _secret = flows.create_challenge(alice, purpose=ChallengePurpose.STEP_UP)
    with pytest.raises(flows.StepUpRequired):
        flows.turn_off(alice, CLIENT, step_up=unanswered)
    with pytest.raises(flows.StepUpRequired):
        flows.start_phone_enrollment(alice, "+447400123456", "sms", CLIENT, step_up=unanswered)
    with pytest.raises(flows.StepUpRequired):
        flows.start_app_enrollment(alice, step_up=None)


def test_an_account_without_2fa_enrolls_without_a_step_up():
    bob = make_user("bob", enabled=False)
    challenge, secret, _sent = flows.start_phone_enrollment(bob, "+447400123456", "sms", CLIENT)
    assert secret and challenge.new_phone_number == "+447400123456"


@override_settings(
    AUTHY2FA={"PROVIDER": "django_authy2fa.providers.locmem.LocmemProvider", "REQUIRED_FOR": "all"}
)
def test_the_policy_refuses_turning_off_even_with_a_proof():
    alice = make_user("alice")
    proof = passed_step_up(alice, recovery.replace_codes(alice))
    with pytest.raises(flows.RequiredByPolicy):
        flows.turn_off(alice, CLIENT, step_up=proof)
    assert TwoFactorProfile.objects.get(user=alice).is_enabled
    assert flows.has_step_up(alice, proof)  # not spent by a refused change


def test_page_step_up_is_used_up_by_regenerating_codes():
    alice = make_user("alice")
    codes = recovery.replace_codes(alice)
    browser = Browser()
    browser.password_step("alice")
    browser.enter_code(codes[0], method="recovery")
    step_up = "/account/2fa/manage/confirm/"
    browser.get(step_up)
    answered = browser.submit(
        step_up,
        {"password": PASSWORD, "method": "recovery", "code": codes[1], "next": "/account/2fa/"},
    )
    assert answered.status_code == 302
    regenerate = "/account/2fa/manage/recovery-codes/"
    assert browser.submit(regenerate).status_code == 200  # the new codes, shown once
    again = browser.submit(regenerate)
    assert again["Location"].startswith(step_up)


def test_a_refused_turn_off_keeps_the_proof():
    """The proof is spent with the change, in one transaction: a refused change keeps it."""
    from unittest import mock

    from django_authy2fa.exceptions import CacheUnavailable

    alice = make_user("alice")
    proof = passed_step_up(alice, recovery.replace_codes(alice))
    with (
        mock.patch("django_authy2fa.state._forget", side_effect=CacheUnavailable()),
        pytest.raises(CacheUnavailable),
    ):
        flows.turn_off(alice, CLIENT, step_up=proof)
    assert TwoFactorProfile.objects.get(user=alice).is_enabled
    assert flows.has_step_up(alice, proof)
    flows.turn_off(alice, CLIENT, step_up=proof)
    assert not TwoFactorProfile.objects.get(user=alice).is_enabled
    assert not flows.has_step_up(alice, proof)  # used up by the change it allowed
