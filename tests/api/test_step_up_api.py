"""Step-up proofs through the API: the same rules as the pages, from flows."""

import time

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from django_authy2fa import recovery
from django_authy2fa.models import TOTPDevice, TwoFactorProfile
from django_authy2fa.providers import locmem

from ..helpers import PASSWORD, make_user
from ..test_totp_flow import code_at

pytestmark = pytest.mark.django_db
API = "/api/2fa/"


def _api_token(api, username, code):
    challenge = api.post(
        f"{API}login/", {"username": username, "password": PASSWORD}, format="json"
    ).json()["challenge"]
    return api.post(
        f"{API}verify/",
        {"challenge": challenge, "method": "recovery", "code": code},
        format="json",
    ).json()["token"]


def test_api_enrollment_on_an_account_with_2fa_needs_a_step_up():
    alice = make_user("alice")
    codes = recovery.replace_codes(alice)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {_api_token(api, 'alice', codes[0])}")
    for route, body in (("enroll/", {"phone": "+447400123456"}), ("enroll/app/", {})):
        response = api.post(f"{API}{route}", body, format="json")
        assert response.status_code == 403, route
        assert response.json()["code"] == "step_up_required"
    assert TwoFactorProfile.objects.get(user=alice).phone_number == "+14155552671"


@override_settings(
    AUTHY2FA={"PROVIDER": "django_authy2fa.providers.locmem.LocmemProvider", "REQUIRED_FOR": "all"}
)
def test_api_disable_under_the_policy_is_refused_before_any_code_is_spent():
    alice = make_user("alice")
    codes = recovery.replace_codes(alice)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {_api_token(api, 'alice', codes[0])}")
    step_up = api.post(f"{API}step-up/", {}, format="json").json()["step_up"]
    response = api.post(
        f"{API}disable/",
        {"step_up": step_up, "password": PASSWORD, "method": "recovery", "code": codes[1]},
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["code"] == "required_by_policy"
    assert TwoFactorProfile.objects.get(user=alice).is_enabled
    assert recovery.remaining(alice) == 9  # codes[1] still unused


def test_an_app_set_up_before_2fa_was_on_needs_a_step_up_to_become_a_factor():
    """An enrollment started without 2FA cannot be finished without a step-up once 2FA is on."""
    make_user("bob", enabled=False)
    api = APIClient()
    token = api.post(
        f"{API}login/", {"username": "bob", "password": PASSWORD}, format="json"
    ).json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    key = api.post(f"{API}enroll/app/", {}, format="json").json()["manual_key"]
    # Bob turns 2FA on with a phone; the app setup is still waiting.
    enrollment = api.post(f"{API}enroll/", {"phone": "+447400123456"}, format="json").json()
    done = api.post(
        f"{API}enroll/confirm/",
        {"enrollment": enrollment["enrollment"], "code": locmem.outbox[-1].code},
        format="json",
    )
    assert done.status_code == 200
    codes = done.json()["recovery_codes"]
    verified = APIClient()
    verified.credentials(HTTP_AUTHORIZATION=f"Bearer {_api_token(verified, 'bob', codes[0])}")
    response = verified.post(
        f"{API}enroll/app/confirm/", {"code": code_at(key, time.time())}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "step_up_required"
    assert not TOTPDevice.objects.filter(user__username="bob", confirmed_at__isnull=False).exists()
