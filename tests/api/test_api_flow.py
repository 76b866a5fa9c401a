"""The REST API: the second step for DRF clients, and every side door closed."""

import base64

import pytest
from django.contrib.auth import SESSION_KEY
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from django_authy2fa import recovery, state
from django_authy2fa.exceptions import ProviderUnavailable
from django_authy2fa.models import APIToken, LoginChallenge, TwoFactorProfile
from django_authy2fa.providers import PushStatus, locmem

from ..helpers import PASSWORD, Browser, make_user, wrong

pytestmark = pytest.mark.django_db
API = "/api/2fa/"


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def alice():
    return make_user("alice")


def login(api, username="alice", password=PASSWORD, **extra):
    return api.post(
        f"{API}login/", {"username": username, "password": password, **extra}, format="json"
    )


def challenge_for(api, username="alice"):
    response = login(api, username)
    assert response.status_code == 202, response.content
    return response.json()["challenge"]


def send(api, challenge, channel="sms"):
    return api.post(f"{API}send/", {"challenge": challenge, "channel": channel}, format="json")


def verify(api, challenge, code, method="sms"):
    return api.post(
        f"{API}verify/", {"challenge": challenge, "method": method, "code": code}, format="json"
    )


def bearer(api, token):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


def test_password_answers_202_with_challenge_methods_and_masked_phone(api, alice):
    response = login(api)
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "2fa_required"
    assert body["methods"] == ["sms", "call", "push"]
    assert body["phone"] == "+1 ••••••••71"
    assert "alice" not in body["challenge"]
    assert "token" not in body


def test_the_api_password_step_reads_the_profile_once(api, alice):
    cache.delete(state._cache_key(alice.pk))
    table = connection.ops.quote_name(TwoFactorProfile._meta.db_table)
    with CaptureQueriesContext(connection) as captured:
        response = login(api)
    assert response.status_code == 202
    assert response.json()["methods"] == ["sms", "call", "push"]
    reads = [q for q in captured.captured_queries if f"FROM {table}" in q["sql"]]
    assert len(reads) == 1
    assert cache.get(state._cache_key(alice.pk)) == (TwoFactorProfile.objects.get().version, True)


@pytest.mark.parametrize("channel", ["sms", "call"])
def test_full_flow_with_a_sent_code_issues_a_token(api, alice, channel):
    challenge = challenge_for(api)
    sent = send(api, challenge, channel)
    assert sent.status_code == 202
    assert sent.json() == {"sent": True, "channel": channel, "destination": "+1 ••••••••71"}
    response = verify(api, challenge, locmem.outbox[-1].code, channel)
    assert response.status_code == 200
    token = response.json()["token"]
    assert bearer(api, token).get("/api/whoami/").json() == {"username": "alice"}
    stored = APIToken.objects.get()
    assert token not in (stored.key_digest, stored.prefix)


def test_full_flow_with_a_recovery_code(api, alice):
    codes = recovery.replace_codes(alice)
    challenge = challenge_for(api)
    response = verify(api, challenge, codes[0], "recovery")
    assert response.status_code == 200
    assert bearer(api, response.json()["token"]).get("/api/whoami/").status_code == 200


def test_full_flow_with_a_push(api, alice):
    challenge = challenge_for(api)
    assert api.post(f"{API}push/", {"challenge": challenge}, format="json").status_code == 202
    reference = LoginChallenge.objects.get().push_reference
    poll = api.post(f"{API}push/status/", {"challenge": challenge}, format="json")
    assert poll.json() == {"status": "pending"}
    locmem.set_push_status(reference, PushStatus.APPROVED)
    poll = api.post(f"{API}push/status/", {"challenge": challenge}, format="json")
    assert poll.json()["status"] == "approved"
    assert bearer(api, poll.json()["token"]).get("/api/whoami/").status_code == 200


def test_user_without_2fa_gets_a_token_at_once(api):
    make_user("bob", enabled=False)
    response = login(api, "bob")
    assert response.status_code == 200
    assert bearer(api, response.json()["token"]).get("/api/whoami/").json() == {"username": "bob"}


@pytest.mark.parametrize(
    ("username", "password"), [("nobody", "whatever"), ("alice", "wrong"), ("locked", "wrong")]
)
def test_identical_answers_for_unknown_user_wrong_password_and_locked_account(
    api, alice, username, password
):
    locked = make_user("locked", phone="+447400123456")
    TwoFactorProfile.objects.filter(user=locked).update(
        failure_count=20, hard_locked_at="2026-01-01T00:00Z"
    )
    response = login(api, username, password)
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid_credentials",
        "detail": "Wrong username or password.",
    }


def test_wrong_code_invalid_code_with_attempts_left(api, alice):
    challenge = challenge_for(api)
    send(api, challenge)
    response = verify(api, challenge, wrong(locmem.outbox[-1].code))
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_code"
    assert response.json()["attempts_left"] == 4


def test_wrong_codes_through_api_and_pages_add_up(api, alice):
    challenge = challenge_for(api)
    send(api, challenge)
    verify(api, challenge, wrong(locmem.outbox[-1].code))
    TwoFactorProfile.objects.filter(user=alice).update(last_code_sent_at=None)
    browser = Browser()
    browser.password_step()
    browser.send_code()
    browser.enter_code(wrong(locmem.outbox[-1].code))
    assert TwoFactorProfile.objects.get(user=alice).failure_count == 2


def test_send_cooldown_is_throttled_with_retry_after(api, alice):
    challenge = challenge_for(api)
    send(api, challenge)
    response = send(api, challenge)
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= 31


def test_provider_outage_is_503_and_not_a_failure(api, alice):
    challenge = challenge_for(api)
    locmem.fail_next(ProviderUnavailable(provider="test"))
    response = send(api, challenge)
    assert response.status_code == 503
    assert response.json()["code"] == "provider_unavailable"
    send(api, challenge)
    locmem.fail_next(ProviderUnavailable(provider="test"))
    response = verify(api, challenge, locmem.outbox[-1].code)
    assert response.status_code == 503
    assert TwoFactorProfile.objects.get(user=alice).failure_count == 0


def test_method_not_enrolled(api, alice):
    challenge = challenge_for(api)
    response = verify(api, challenge, "123456", "totp")
    assert response.status_code == 400
    assert response.json()["code"] == "method_not_enrolled"


def test_challenge_reused_after_success_is_expired(api, alice):
    challenge = challenge_for(api)
    send(api, challenge)
    code = locmem.outbox[-1].code
    assert verify(api, challenge, code).status_code == 200
    again = verify(api, challenge, code)
    assert again.status_code == 401
    assert again.json()["code"] == "expired"


def test_challenge_of_another_user_cannot_be_used(api, alice):
    make_user("bob", phone="+447400123456")
    alice_challenge = challenge_for(api, "alice")
    bob_challenge = challenge_for(api, "bob")
    send(api, bob_challenge)
    bob_code = locmem.outbox[-1].code
    # Alice's attempt id with Bob's secret, and Bob's code on Alice's attempt: both refused.
    mixed = alice_challenge.split(".")[0] + "." + bob_challenge.split(".")[1]
    assert verify(api, mixed, bob_code).status_code == 401
    refused = verify(api, alice_challenge, bob_code)
    assert refused.status_code == 400
    assert APIToken.objects.count() == 0


@pytest.mark.parametrize("challenge", ["", "x", "a.b", "." * 3, "é.é", "0" * 300])
def test_malformed_challenges_are_expired_not_errors(api, challenge):
    response = verify(api, challenge, "123456")
    assert (response.status_code, response.json()["code"]) in ((401, "expired"), (400, "invalid"))


def test_expired_challenge(api, alice):
    challenge = challenge_for(api)
    LoginChallenge.objects.update(expires_at="2000-01-01T00:00Z")
    assert send(api, challenge).json()["code"] == "expired"


# -- side doors --------------------------------------------------------------------------


def _basic(username, password):
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def test_basic_auth_with_the_password_alone_is_refused(api, alice):
    api.credentials(HTTP_AUTHORIZATION=_basic("alice", PASSWORD))
    assert api.get("/api/basic-whoami/").status_code == 403
    assert api.get("/api/whoami/").status_code in (401, 403)


def test_basic_auth_wrapper_refuses_2fa_users_but_not_others(api, alice):
    make_user("bob", enabled=False)
    api.credentials(HTTP_AUTHORIZATION=_basic("alice", PASSWORD))
    refused = api.get("/api/wrapped-basic-whoami/")
    assert refused.status_code == 401
    assert refused.json()["code"] == "authentication_failed"
    api.credentials(HTTP_AUTHORIZATION=_basic("bob", PASSWORD))
    assert api.get("/api/wrapped-basic-whoami/").json() == {"username": "bob"}


def test_drf_obtain_auth_token_gives_nothing_usable(api, alice):
    response = api.post("/api/drf-token/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 200  # DRF's view hands out a password-only token...
    token = response.json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/basic-whoami/").status_code == 403  # ...which opens nothing
    assert api.get("/api/whoami/").status_code in (401, 403)


def test_browsable_api_login_is_demoted(alice):
    browser = Browser()
    browser.get("/api-auth/login/")
    browser.submit(
        "/api-auth/login/", {"username": "alice", "password": PASSWORD, "next": "/api/whoami/"}
    )
    response = browser.get("/api/whoami/")
    assert response.status_code == 401
    assert b"alice" not in response.content


def test_session_from_password_only_login_sees_anonymous(alice):
    browser = Browser()
    browser.password_step()
    assert browser.get("/api/whoami/").status_code == 401
    assert browser.get(f"{API}status/").status_code == 401


def test_token_issued_before_2fa_was_enabled_stops_working(api):
    bob = make_user("bob", enabled=False)
    token = login(api, "bob").json()["token"]
    assert bearer(api, token).get("/api/whoami/").status_code == 200
    now = "2026-01-01T00:00Z"
    TwoFactorProfile.objects.create(
        user=bob, phone_number="+14155552671", enabled_at=now, phone_confirmed_at=now
    )
    assert api.get("/api/whoami/").status_code == 401


def test_verified_session_works_for_session_authentication(alice):
    browser = Browser()
    browser.full_login()
    assert browser.get("/api/whoami/").json() == {"username": "alice"}


def test_logout_revokes_the_token(api, alice):
    challenge = challenge_for(api)
    send(api, challenge)
    token = verify(api, challenge, locmem.outbox[-1].code).json()["token"]
    bearer(api, token)
    assert api.post(f"{API}logout/").status_code == 204
    assert api.get("/api/whoami/").status_code == 401


# -- session mode --------------------------------------------------------------------------


def test_session_mode_enforces_csrf_even_while_pending(alice):
    client = APIClient(enforce_csrf_checks=True)
    refused = login(client, session=True)
    assert refused.status_code == 403
    assert refused.json()["code"] == "csrf_failed"
    client.get("/account/2fa/login/")
    csrf = client.cookies["csrftoken"].value
    started = client.post(
        f"{API}login/",
        {"username": "alice", "password": PASSWORD, "session": True},
        format="json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert started.status_code == 202
    assert "challenge" not in started.json()
    no_token = client.post(f"{API}send/", {"channel": "sms"}, format="json")
    assert no_token.status_code == 403
    assert locmem.outbox == []
    csrf = client.cookies["csrftoken"].value
    client.post(f"{API}send/", {"channel": "sms"}, format="json", HTTP_X_CSRFTOKEN=csrf)
    done = client.post(
        f"{API}verify/",
        {"method": "sms", "code": locmem.outbox[-1].code},
        format="json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert done.json() == {"status": "ok"}
    assert client.get("/api/whoami/").json() == {"username": "alice"}


# -- enrollment, status, disable -------------------------------------------------------------


def test_enroll_and_confirm_for_a_signed_in_user(api):
    make_user("bob", enabled=False)
    bearer(api, login(api, "bob").json()["token"])
    started = api.post(f"{API}enroll/", {"phone": "+44 7400 123456"}, format="json")
    assert started.status_code == 202
    enrollment = started.json()["enrollment"]
    confirmed = api.post(
        f"{API}enroll/confirm/",
        {"enrollment": enrollment, "code": locmem.outbox[-1].code},
        format="json",
    )
    assert confirmed.status_code == 200
    assert len(confirmed.json()["recovery_codes"]) == 10
    # Enabling 2FA voided the password-only token.
    assert api.get(f"{API}status/").status_code == 401


@override_settings(
    AUTHY2FA={"PROVIDER": "django_authy2fa.providers.locmem.LocmemProvider", "REQUIRED_FOR": "all"}
)
def test_forced_enrollment_through_the_api_ends_with_a_token(api):
    make_user("carol", enabled=False)
    response = login(api, "carol")
    assert response.status_code == 202
    assert response.json()["status"] == "enrollment_required"
    challenge = response.json()["challenge"]
    api.post(f"{API}enroll/", {"challenge": challenge, "phone": "+1 415 555 2671"}, format="json")
    done = api.post(
        f"{API}enroll/confirm/",
        {"challenge": challenge, "code": locmem.outbox[-1].code},
        format="json",
    )
    assert done.status_code == 200
    assert bearer(api, done.json()["token"]).get("/api/whoami/").status_code == 200


def test_status_lists_methods_and_events_without_secrets(api, alice):
    codes = recovery.replace_codes(alice)
    challenge = challenge_for(api)
    bearer(api, verify(api, challenge, codes[0], "recovery").json()["token"])
    body = api.get(f"{API}status/").json()
    assert body["enabled"] is True
    assert body["phone"] == "+1 ••••••••71"
    assert body["recovery_codes_left"] == 9
    assert "login_verified" in [e["event"] for e in body["events"]]
    assert codes[1] not in str(body)


def test_disable_needs_password_and_a_current_factor(api, alice):
    codes = recovery.replace_codes(alice)
    token = verify(api, challenge_for(api), codes[0], "recovery").json()["token"]
    bearer(api, token)
    step_up = api.post(f"{API}step-up/", {}, format="json").json()["step_up"]
    wrong_password = api.post(
        f"{API}disable/",
        {"step_up": step_up, "password": "nope", "method": "recovery", "code": codes[1]},
        format="json",
    )
    assert wrong_password.status_code == 400
    assert TwoFactorProfile.objects.get(user=alice).is_enabled
    done = api.post(
        f"{API}disable/",
        {"step_up": step_up, "password": PASSWORD, "method": "recovery", "code": codes[1]},
        format="json",
    )
    assert done.status_code == 204
    assert not TwoFactorProfile.objects.get(user=alice).is_enabled


def test_app_enrollment_through_the_api(api):
    from ..test_totp_flow import code_at

    make_user("bob", enabled=False)
    bearer(api, login(api, "bob").json()["token"])
    started = api.post(f"{API}enroll/app/", {}, format="json")
    assert started.status_code == 201
    body = started.json()
    assert body["provisioning_uri"].startswith("otpauth://totp/")
    assert body["qr_svg"].startswith("<svg")
    import time

    done = api.post(
        f"{API}enroll/app/confirm/",
        {"code": code_at(body["manual_key"], time.time())},
        format="json",
    )
    assert done.status_code == 200
    assert len(done.json()["recovery_codes"]) == 10


@override_settings(
    AUTHY2FA={"PROVIDER": None, "METHODS": ["totp", "recovery"], "REQUIRED_FOR": "all"}
)
def test_forced_app_enrollment_through_the_api_ends_with_a_token(api):
    import time

    from ..test_totp_flow import code_at

    make_user("carol", enabled=False)
    challenge = login(api, "carol").json()["challenge"]
    key = api.post(f"{API}enroll/app/", {"challenge": challenge}, format="json").json()[
        "manual_key"
    ]
    done = api.post(
        f"{API}enroll/app/confirm/",
        {"challenge": challenge, "code": code_at(key, time.time())},
        format="json",
    )
    assert done.status_code == 200
    assert bearer(api, done.json()["token"]).get("/api/whoami/").status_code == 200
    # The attempt is finished: its challenge cannot serve again.
    assert verify(api, challenge, "123456", "totp").json()["code"] == "expired"


def test_an_api_view_calling_login_with_drf_s_request_is_demoted_at_once():
    make_user("alice")
    client = APIClient()
    response = client.post("/api/session-login/", {"username": "alice"}, format="json")
    assert response.status_code == 200
    assert response.json() == {"signed_in_as": None}
    assert SESSION_KEY not in client.session
    assert client.get("/protected/").status_code == 302


# The view logs in through ModelBackend: Django keeps such a login only while it is listed.
@override_settings(
    AUTHENTICATION_BACKENDS=[
        "django_authy2fa.backends.TwoFactorBackend",
        "django.contrib.auth.backends.ModelBackend",
    ]
)
def test_an_api_view_calling_login_signs_in_a_user_without_2fa():
    make_user("bob", enabled=False)
    client = APIClient()
    response = client.post("/api/session-login/", {"username": "bob"}, format="json")
    assert response.json() == {"signed_in_as": "bob"}
    assert client.get("/protected/").content == b"secret page of bob"
