"""The second step through the pages, as a browser (and an attacker) sees it."""

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from django_authy2fa import state
from django_authy2fa.models import AuditEvent, ChallengeStatus, LoginChallenge, TwoFactorProfile
from django_authy2fa.providers import locmem

from .helpers import PASSWORD, VERIFY_URL, Browser, make_user, wrong

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice():
    return make_user("alice")


@pytest.fixture
def browser():
    return Browser()


def test_password_step_leads_to_the_code_step_without_logging_in(alice, browser):
    response = browser.password_step()
    assert response.status_code == 302
    assert response["Location"] == VERIFY_URL
    assert SESSION_KEY not in browser.session
    assert browser.get("/protected/").status_code == 302


def test_full_login_reaches_the_protected_page(alice, browser):
    response = browser.full_login()
    assert response.status_code == 302
    assert response["Location"] == "/protected/"
    page = browser.get("/protected/")
    assert page.status_code == 200
    assert page.content == b"secret page of alice"
    assert browser.session[SESSION_KEY] == str(alice.pk)


def test_the_steps_after_the_password_read_the_user_once_for_the_attempt(alice, browser):
    browser.password_step()
    steps = {}
    for name, step in [
        ("send", browser.send_code),
        ("code", lambda: browser.enter_code(locmem.outbox[-1].code)),
    ]:
        with CaptureQueriesContext(connection) as captured:
            step()
        # Read now: the next request empties the connection's query log.
        steps[name] = [q["sql"] for q in captured.captured_queries]
    assert browser.get("/protected/").status_code == 200
    for name, statements in steps.items():
        assert statements, f"the {name} step ran no query: nothing was checked"
        users_read = [s for s in statements if s.startswith("SELECT") and quote("auth_user") in s]
        # The attempt's user, loaded with it; the session's user is not read again.
        assert len(users_read) == 1, name
        attempts = quote(LoginChallenge._meta.db_table)
        assert f"FROM {attempts} c INNER JOIN {quote('auth_user')} u" in users_read[0], name


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _profile_reads(captured) -> int:
    table = quote(TwoFactorProfile._meta.db_table)
    return sum(
        1
        for q in captured.captured_queries
        if q["sql"].startswith("SELECT") and f"FROM {table}" in q["sql"]
    )


@pytest.mark.parametrize("state_cached", [False, True], ids=["state-not-cached", "state-cached"])
def test_the_password_step_reads_the_profile_once(alice, browser, state_cached):
    if state_cached:
        state.load_user_state(alice.pk)
    else:
        cache.delete(state._cache_key(alice.pk))
    with CaptureQueriesContext(connection) as captured:
        response = browser.password_step()
    assert response["Location"] == VERIFY_URL
    assert _profile_reads(captured) == 1
    profile = TwoFactorProfile.objects.get(user=alice)
    # The state the step decided on is the one the rest of the site reads.
    assert cache.get(state._cache_key(alice.pk)) == (profile.version, True)
    page = browser.get(VERIFY_URL)
    assert page.status_code == 200
    assert b"+1 \xe2\x80\xa2" in page.content  # the masked phone of the profile read


def test_a_user_without_a_profile_is_cached_as_without_2fa_by_the_password_step(browser):
    bob = make_user("bob", enabled=False)
    cache.delete(state._cache_key(bob.pk))
    with CaptureQueriesContext(connection) as captured:
        response = browser.password_step("bob")
    assert response["Location"] == "/protected/"
    assert _profile_reads(captured) == 1
    assert cache.get(state._cache_key(bob.pk)) == (0, False)


@override_settings(AUTHY2FA={"REQUIRED_FOR": "all"})
def test_a_user_the_policy_obliges_is_sent_to_enrol_after_one_profile_read(browser):
    make_user("bob", enabled=False)
    with CaptureQueriesContext(connection) as captured:
        response = browser.password_step("bob")
    assert response.status_code == 302
    assert response["Location"] != "/protected/"
    assert SESSION_KEY not in browser.session
    assert _profile_reads(captured) == 1


def test_wrong_password_shows_the_form_again_and_starts_nothing(alice, browser):
    response = browser.password_step(password="nope")
    assert response.status_code == 400
    assert LoginChallenge.objects.count() == 0
    assert locmem.outbox == []


def test_user_without_2fa_logs_in_with_the_password(browser):
    make_user("bob", enabled=False)
    response = browser.password_step("bob")
    assert response["Location"] == "/protected/"
    assert browser.get("/protected/").content == b"secret page of bob"


def test_session_key_changes_at_each_step(alice, browser):
    browser.get("/account/2fa/login/")
    before = browser.session.session_key
    browser.password_step()
    after_password = browser.session.session_key
    browser.send_code()
    browser.enter_code(locmem.outbox[-1].code)
    after_second_step = browser.session.session_key
    assert len({before, after_password, after_second_step}) == 3


def _session_writes(captured) -> list[str]:
    return [
        q["sql"].split(None, 1)[0]
        for q in captured.captured_queries
        if "django_session" in q["sql"] and not q["sql"].startswith("SELECT")
    ]


def test_a_new_visitor_s_session_is_stored_once_by_the_password_step(alice, browser):
    browser.csrf()  # the login page, read first as a browser does: it stores no session
    assert settings.SESSION_COOKIE_NAME not in browser.cookies
    with CaptureQueriesContext(connection) as captured:
        response = browser.password_step()
    assert response["Location"].startswith(VERIFY_URL)
    assert _session_writes(captured) == ["INSERT"]


def test_a_session_key_that_matches_no_stored_session_is_not_kept(alice, browser):
    planted = "fixatedsessionkey0123456789abcdef"
    browser.cookies[settings.SESSION_COOKIE_NAME] = planted
    response = browser.password_step()
    assert response["Location"].startswith(VERIFY_URL)
    issued = browser.cookies[settings.SESSION_COOKIE_NAME].value
    assert issued != planted
    assert browser.get(VERIFY_URL).status_code == 200  # the attempt lives in the new session


def test_session_never_holds_the_password(alice, browser):
    browser.password_step()
    stored = str(dict(browser.session.items()))
    assert PASSWORD not in stored
    assert "password" not in stored.lower()
    browser.send_code()
    browser.enter_code(locmem.outbox[-1].code)
    assert PASSWORD not in str(dict(browser.session.items()))


@pytest.mark.parametrize(
    "next_url",
    [
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "http://testserver.evil.example/",
        "\\\\evil.example",
    ],
)
def test_unsafe_next_lands_on_the_default_page(alice, browser, next_url):
    browser.password_step(next_url=next_url)
    browser.send_code()
    response = browser.enter_code(locmem.outbox[-1].code)
    assert response["Location"] == "/protected/"


def test_safe_next_is_honoured(alice, browser):
    browser.password_step(next_url="/account/2fa/manage/")
    browser.send_code()
    assert browser.enter_code(locmem.outbox[-1].code)["Location"] == "/account/2fa/manage/"


@pytest.mark.parametrize(
    "path", ["/protected/", "/admin/", "/account/2fa/manage/", "/protected-async/"]
)
def test_pending_session_gets_nothing(alice, browser, path):
    browser.password_step()
    response = browser.get(path)
    assert response.status_code in (302, 401)
    assert b"secret" not in response.content


def test_admin_login_does_not_bypass_the_second_step():
    staff = make_user("root", staff=True)
    browser = Browser()
    browser.get("/admin/login/")
    response = browser.submit(
        "/admin/login/?next=/admin/", {"username": "root", "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 302
    assert SESSION_KEY not in browser.session
    admin = browser.get("/admin/")
    assert admin.status_code == 302
    assert admin["Location"].startswith("/admin/login/")
    # The admin's login page sends the pending attempt to the second step (no loop).
    to_verify = browser.get(admin["Location"])
    assert to_verify.status_code == 302
    assert to_verify["Location"].startswith(VERIFY_URL)
    browser.send_code()
    done = browser.enter_code(locmem.outbox[-1].code)
    assert done["Location"] == "/admin/"
    assert browser.get("/admin/").status_code == 200
    assert AuditEvent.objects.filter(user=staff, event="login_verified").exists()


def test_login_by_a_third_party_view_is_demoted(alice, browser):
    response = browser.get("/third-party-login/?username=alice")
    assert response.status_code == 200
    assert response.content.endswith(b"the view sees anonymous")
    assert SESSION_KEY not in browser.session
    assert browser.get("/protected/").status_code == 302
    assert browser.get(VERIFY_URL).status_code == 200


# The view logs in through ModelBackend: Django keeps such a login only while it is listed.
@override_settings(
    AUTHENTICATION_BACKENDS=[
        "django_authy2fa.backends.TwoFactorBackend",
        "django.contrib.auth.backends.ModelBackend",
    ]
)
def test_login_by_a_third_party_view_of_a_user_without_2fa_stands(browser):
    make_user("bob", enabled=False)
    response = browser.get("/third-party-login/?username=bob")
    assert response.content.endswith(b"the view sees bob")
    assert browser.get("/protected/").content == b"secret page of bob"


def test_password_reset_auto_login_does_not_bypass(alice, browser, client):
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    uid = urlsafe_base64_encode(force_bytes(alice.pk))
    token = default_token_generator.make_token(alice)
    with override_settings(ROOT_URLCONF="tests.urls_reset"):
        url = f"/reset/{uid}/{token}/"
        form_page = browser.get(url, follow=True)
        assert form_page.status_code == 200
        response = browser.submit(
            form_page.redirect_chain[-1][0],
            {
                "new_password1": "a brand new passphrase 42",
                "new_password2": "a brand new passphrase 42",
            },
        )
        assert response.status_code == 302
        assert SESSION_KEY not in browser.session
        assert browser.get("/protected/").status_code == 302


def test_session_from_before_2fa_was_enabled_is_demoted(browser):
    bob = make_user("bob", enabled=False)
    browser.password_step("bob")
    assert browser.get("/protected/").status_code == 200
    TwoFactorProfile.objects.create(
        user=bob,
        phone_number="+14155552671",
        enabled_at="2026-01-01T00:00Z",
        phone_confirmed_at="2026-01-01T00:00Z",
    )
    from django_authy2fa import state

    state.publish_user_state(bob.pk)
    assert browser.get("/protected/").status_code == 302
    assert browser.get(VERIFY_URL).status_code == 200


def test_a_used_code_is_refused(alice, browser):
    browser.password_step()
    browser.send_code()
    code = locmem.outbox[-1].code
    browser.enter_code(code)
    browser.logout()
    other = Browser()
    other.password_step()
    response = other.enter_code(code)
    assert response.status_code == 400
    assert other.get("/protected/").status_code == 302


def test_code_sent_for_another_login_is_refused(alice):
    first, second = Browser(), Browser()
    first.password_step()
    first.send_code()
    first_code = locmem.outbox[-1].code
    second.password_step()
    response = second.enter_code(first_code)
    assert response.status_code == 400
    assert b"Ask for a code first" in response.content
    assert second.get("/protected/").status_code == 302


def test_another_users_code_is_refused(alice):
    make_user("bob", phone="+447400123456")
    bob_browser, alice_browser = Browser(), Browser()
    bob_browser.password_step("bob")
    bob_browser.send_code()
    bob_code = locmem.outbox[-1].code
    alice_browser.password_step("alice")
    alice_browser.send_code()
    alice_code = locmem.outbox[-1].code
    if bob_code == alice_code:
        pytest.skip("the two random codes collided")
    response = alice_browser.enter_code(bob_code)
    assert response.status_code == 400
    assert alice_browser.get("/protected/").status_code == 302


def test_wrong_code_says_how_many_tries_are_left(alice, browser):
    browser.password_step()
    browser.send_code()
    response = browser.enter_code(wrong(locmem.outbox[-1].code))
    assert response.status_code == 400
    assert b"That code is not right" in response.content
    profile = TwoFactorProfile.objects.get(user=alice)
    assert profile.failure_count == 1
    assert AuditEvent.objects.filter(user=alice, event="code_failed").count() == 1


def test_malformed_code_changes_nothing(alice, browser):
    browser.password_step()
    browser.send_code()
    for junk in ["abc", "12 34", "１２３４５６", "1" * 40, "", "../sms"]:
        response = browser.enter_code(junk)
        assert response.status_code == 400
    assert TwoFactorProfile.objects.get(user=alice).failure_count == 0
    assert LoginChallenge.objects.get().failures == 0


def test_five_wrong_codes_ask_for_the_password_again(alice, browser):
    browser.password_step()
    browser.send_code()
    code = locmem.outbox[-1].code
    for _ in range(4):
        assert browser.enter_code(wrong(code)).status_code == 400
    response = browser.enter_code(wrong(code))
    assert response.status_code == 302
    assert response["Location"] == "/account/2fa/login/"
    assert LoginChallenge.objects.get().status == ChallengeStatus.FAILED
    # Even the right code cannot revive the attempt.
    assert browser.enter_code(code)["Location"] == "/account/2fa/login/"
    assert browser.get("/protected/").status_code == 302


def test_resend_never_resets_the_failure_count(alice, browser):
    browser.password_step()
    browser.send_code()
    browser.enter_code(wrong(locmem.outbox[-1].code))
    with override_settings(
        AUTHY2FA={
            "PROVIDER": "django_authy2fa.providers.locmem.LocmemProvider",
            "THROTTLE": {"SEND_COOLDOWN_SECONDS": 1},
        }
    ):
        import time

        time.sleep(1.1)
        browser.send_code()
    assert len(locmem.outbox) == 2
    browser.enter_code(wrong(locmem.outbox[-1].code))
    assert TwoFactorProfile.objects.get(user=alice).failure_count == 2
    assert LoginChallenge.objects.get().failures == 2


def test_account_locks_after_ten_failures_across_sessions(alice):
    for _ in range(2):
        TwoFactorProfile.objects.filter(user=alice).update(last_code_sent_at=None)  # skip cooldown
        attacker = Browser()
        attacker.password_step()
        attacker.send_code()
        for _ in range(5):
            attacker.enter_code(wrong(locmem.outbox[-1].code))
    profile = TwoFactorProfile.objects.get(user=alice)
    assert profile.failure_count == 10
    assert profile.locked_until is not None
    assert AuditEvent.objects.filter(user=alice, event="locked").count() == 1
    # Now even the owner with the right code is refused, with a clear 429.
    TwoFactorProfile.objects.filter(user=alice).update(last_code_sent_at=None)
    victim = Browser()
    victim.password_step()
    assert victim.send_code()["X-Authy2FA-Status"] == "429"
    assert victim.get("/protected/").status_code == 302


def test_hard_lock_after_twenty_failures_only_recovery_gets_in(alice):
    from django_authy2fa import recovery

    codes = recovery.replace_codes(alice)
    TwoFactorProfile.objects.filter(user=alice).update(failure_count=19)
    attacker = Browser()
    attacker.password_step()
    attacker.send_code()
    attacker.enter_code(wrong(locmem.outbox[-1].code))
    profile = TwoFactorProfile.objects.get(user=alice)
    assert profile.hard_locked_at is not None
    owner = Browser()
    owner.password_step()
    response = owner.send_code()
    assert response["X-Authy2FA-Status"] == "429"
    assert owner.enter_code(codes[0], method="recovery")["Location"] == "/protected/"
    profile.refresh_from_db()
    assert (profile.failure_count, profile.hard_locked_at) == (0, None)


def test_ip_limit_returns_429_with_retry_after():
    with override_settings(
        AUTHY2FA={
            "PROVIDER": "django_authy2fa.providers.locmem.LocmemProvider",
            "THROTTLE": {"IP_MAX_FAILURES": 3},
        }
    ):
        for name in ("u1", "u2"):
            make_user(name)
        responses = []
        for name in ("u1", "u2"):
            browser = Browser(REMOTE_ADDR="203.0.113.9")
            browser.password_step(name)
            browser.send_code()
            responses.append(browser.enter_code(wrong(locmem.outbox[-1].code)))
            responses.append(browser.enter_code(wrong(locmem.outbox[-1].code)))
    assert [r.status_code for r in responses] == [400, 400, 400, 429]
    assert int(responses[-1]["Retry-After"]) > 0
    assert TwoFactorProfile.objects.get(user__username="u2").failure_count == 1


def test_completed_login_resets_the_counter(alice, browser):
    browser.password_step()
    browser.send_code()
    code = locmem.outbox[-1].code
    browser.enter_code(wrong(code))
    browser.enter_code(code)
    assert TwoFactorProfile.objects.get(user=alice).failure_count == 0


def test_send_cooldown_and_hourly_quota(alice, browser):
    browser.password_step()
    browser.send_code()
    second = browser.send_code()
    assert second["X-Authy2FA-Status"] == "429"
    assert len(locmem.outbox) == 1


@pytest.mark.parametrize("method", ["get", "put"])
def test_sending_needs_post(alice, browser, method):
    browser.password_step()
    response = getattr(browser, method)("/account/2fa/verify/send/")
    assert response.status_code in (403, 405)  # PUT meets the CSRF check first
    assert locmem.outbox == []


def test_send_without_csrf_token_is_refused(alice, browser):
    browser.password_step()
    response = browser.post("/account/2fa/verify/send/", {"channel": "sms"})
    assert response.status_code == 403
    assert locmem.outbox == []


def test_recovery_codes_work_once_each(alice, browser):
    from django_authy2fa import recovery

    codes = recovery.replace_codes(alice)
    browser.password_step()
    assert browser.enter_code(codes[0], method="recovery")["Location"] == "/protected/"
    browser.logout()
    again = Browser()
    again.password_step()
    response = again.enter_code(codes[0], method="recovery")
    assert response.status_code == 400
    assert again.enter_code(codes[1].lower(), method="recovery")["Location"] == "/protected/"
    assert recovery.remaining(alice) == 8


class _Outage(Exception):
    pass


@pytest.mark.parametrize("stage", ["send", "verify"])
def test_provider_outage_is_a_clear_message_not_a_failure(alice, browser, stage):
    from django_authy2fa.exceptions import ProviderUnavailable

    browser.password_step()
    if stage == "verify":
        browser.send_code()
    locmem.fail_next(ProviderUnavailable(provider="test"))
    if stage == "send":
        response = browser.send_code()
        assert response["X-Authy2FA-Status"] == "503"
        page = browser.get(response["Location"])
        assert b"unavailable" in page.content
        # The failed send used no cooldown or quota: a retry goes out at once.
        browser.send_code()
        assert len(locmem.outbox) == 1
    else:
        response = browser.enter_code(locmem.outbox[-1].code)
        assert response.status_code == 503
        assert b"unavailable" in response.content
    profile = TwoFactorProfile.objects.get(user=alice)
    assert profile.failure_count == 0
    assert LoginChallenge.objects.get().failures == 0
    assert browser.get("/protected/").status_code == 302


def test_pending_attempt_expires(alice, browser):
    browser.password_step()
    LoginChallenge.objects.update(expires_at="2000-01-01T00:00Z")
    response = browser.get(VERIFY_URL)
    assert response["Location"] == "/account/2fa/login/"


def test_password_change_voids_the_pending_attempt(alice, browser):
    browser.password_step()
    browser.send_code()
    code = locmem.outbox[-1].code
    alice.set_password("another passphrase entirely")
    alice.save()
    response = browser.enter_code(code)
    assert response["Location"] == "/account/2fa/login/"
    assert browser.get("/protected/").status_code == 302


def test_deactivation_voids_the_pending_attempt(alice, browser):
    browser.password_step()
    browser.send_code()
    code = locmem.outbox[-1].code
    User.objects.filter(pk=alice.pk).update(is_active=False)
    assert browser.enter_code(code)["Location"] == "/account/2fa/login/"


def test_cache_control_no_store_on_2fa_pages(alice, browser):
    assert "no-store" in browser.get("/account/2fa/login/")["Cache-Control"]
    browser.password_step()
    assert "no-store" in browser.get(VERIFY_URL)["Cache-Control"]


def test_trusted_browser_skips_the_second_step_until_revoked(alice, browser):
    browser.password_step()
    browser.send_code()
    response = browser.enter_code(locmem.outbox[-1].code, trust_browser="on")
    cookie = response.cookies["authy2fa_trust"]
    assert cookie["httponly"]
    browser.logout()
    browser.cookies["authy2fa_trust"] = cookie.value
    assert browser.password_step()["Location"] == "/protected/"
    browser.logout()
    browser.cookies["authy2fa_trust"] = cookie.value
    # Another user's password with this cookie still needs their own second step.
    make_user("bob", phone="+447400123456")
    assert browser.password_step("bob")["Location"] == VERIFY_URL
    # Revoking (any 2FA change bumps the version) voids the cookie.
    TwoFactorProfile.objects.get(user=alice).bump_version()
    from django_authy2fa import state

    state.publish_user_state(alice.pk)
    fresh = Browser()
    fresh.cookies["authy2fa_trust"] = cookie.value
    assert fresh.password_step()["Location"] == VERIFY_URL


def test_password_step_is_throttled_alike_for_known_and_unknown_users(alice):
    with override_settings(
        AUTHY2FA={
            "PROVIDER": "django_authy2fa.providers.locmem.LocmemProvider",
            "THROTTLE": {"PASSWORD_FAILURES_PER_USERNAME": 3},
        }
    ):
        statuses = {}
        for username in ("alice", "nobody"):
            browser = Browser()
            statuses[username] = [
                browser.password_step(username, password="wrong").status_code for _ in range(4)
            ]
        assert statuses["alice"] == statuses["nobody"] == [400, 400, 400, 429]
        # Even the right password waits out the block (the attacker may hold it).
        assert Browser().password_step("alice").status_code == 429


def test_right_password_does_not_use_up_the_password_quota(alice):
    with override_settings(
        AUTHY2FA={
            "PROVIDER": "django_authy2fa.providers.locmem.LocmemProvider",
            "THROTTLE": {"PASSWORD_FAILURES_PER_USERNAME": 2},
        }
    ):
        for _ in range(4):
            assert Browser().password_step().status_code == 302


def test_recovery_successes_do_not_use_up_the_daily_recovery_limit(alice):
    from django_authy2fa import recovery

    codes = recovery.replace_codes(alice)
    for code in codes[:7]:
        browser = Browser()
        browser.password_step()
        assert browser.enter_code(code, method="recovery")["Location"] == "/protected/"


THROTTLE_3 = {
    "PROVIDER": "django_authy2fa.providers.locmem.LocmemProvider",
    "THROTTLE": {"PASSWORD_FAILURES_PER_USERNAME": 3},
}


@override_settings(AUTHY2FA=THROTTLE_3)
def test_admin_login_counts_password_guesses_too():
    make_user("root", enabled=False, staff=True)
    browser = Browser()
    browser.get("/admin/login/")
    for _ in range(3):
        browser.submit(
            "/admin/login/", {"username": "root", "password": "guess", "next": "/admin/"}
        )
    right = browser.submit(
        "/admin/login/", {"username": "root", "password": PASSWORD, "next": "/admin/"}
    )
    assert right.status_code == 200  # the form again: no login while blocked
    assert SESSION_KEY not in browser.session
    # The app's own page shares the counter.
    assert browser.password_step("root").status_code == 429


@override_settings(AUTHY2FA=THROTTLE_3)
def test_one_shot_backend_counts_password_guesses(client):
    make_user("alice")
    for _ in range(3):
        client.post("/one-shot-login/", {"username": "alice", "password": "guess"})
    response = client.post("/one-shot-login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 403


@override_settings(AUTHY2FA=THROTTLE_3)
def test_guessing_from_one_ip_does_not_lock_the_owner_out_elsewhere(alice):
    attacker = Browser(REMOTE_ADDR="203.0.113.66")
    for _ in range(4):
        attacker.password_step(password="guess")
    assert attacker.password_step().status_code == 429
    owner = Browser(REMOTE_ADDR="198.51.100.7")
    assert owner.password_step()["Location"] == VERIFY_URL
