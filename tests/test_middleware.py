"""The fail-closed middleware: what a verified, pending or plain session sees, and its cost."""

import pytest
from django.contrib.auth import SESSION_KEY, get_user_model
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils.functional import LazyObject

from django_authy2fa import state
from django_authy2fa.models import TwoFactorProfile

from .helpers import VERIFY_URL, Browser, make_user

pytestmark = pytest.mark.django_db

WITHOUT_APP = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]


def _queries_for(client, path="/protected/"):
    client.get(path)  # warm: first request after login may write the session
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200
    return len(queries)


def test_verified_request_costs_no_extra_query():
    make_user("alice")
    browser = Browser()
    browser.full_login()
    with_app = _queries_for(browser)

    make_user("plain", enabled=False)
    plain = Client()
    plain.force_login(get_user_model().objects.get(username="plain"))
    with override_settings(MIDDLEWARE=WITHOUT_APP):
        without_app = _queries_for(plain)
    assert with_app == without_app


def test_user_without_2fa_costs_no_extra_query_either():
    bob = make_user("bob", enabled=False)
    client = Client()
    client.force_login(bob)
    with_app = _queries_for(client)
    # A new client: a client builds its middleware once, on its first request.
    plain = Client()
    plain.force_login(bob)
    with override_settings(MIDDLEWARE=WITHOUT_APP):
        without_app = _queries_for(plain)
    assert with_app == without_app


def test_views_read_the_user_through_one_lazy_object_not_two():
    """Every attribute a view reads passes through the lazy proxies: one, as without the app."""
    make_user("alice")
    browser = Browser()
    browser.full_login()
    response = browser.get("/protected/")
    assert response.status_code == 200
    seen = response.wsgi_request.user
    assert isinstance(seen, LazyObject)
    assert type(seen._wrapped) is get_user_model()
    assert seen._wrapped.username == "alice"


WITH_EARLY_REFERENCE = [
    *WITHOUT_APP[:-1],  # up to AuthenticationMiddleware
    "tests.site_middleware.KeepsEarlyUser",
    "django_authy2fa.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]


@override_settings(MIDDLEWARE=WITH_EARLY_REFERENCE)
def test_a_verified_session_keeps_django_s_own_lazy_user():
    make_user("alice")
    browser = Browser()
    browser.full_login()
    response = browser.get("/protected/")
    assert response.status_code == 200
    request = response.wsgi_request
    assert request.user is request.early_user
    assert request.early_user.get_username() == "alice"


@override_settings(MIDDLEWARE=WITH_EARLY_REFERENCE)
def test_a_reference_kept_before_the_middleware_sees_the_demoted_session_as_anonymous():
    """Decided eagerly: a 2FA user signed in without the second step."""
    alice = make_user("alice")
    client = Client()
    client.force_login(alice)
    response = client.get("/protected/")
    assert response.status_code == 302
    assert not response.wsgi_request.early_user.is_authenticated


@pytest.mark.parametrize("early", ["KeepsEarlyUser", "LoadsEarlyUser"])
@override_settings(
    AUTHY2FA={
        "PROVIDER": "django_authy2fa.providers.locmem.LocmemProvider",
        "REQUIRED_FOR": "staff",
    },
)
def test_a_reference_kept_before_the_middleware_sees_a_policy_demotion_as_anonymous(early):
    """Decided lazily: staff without 2FA, whom the policy obliges to enrol."""
    root = make_user("root", enabled=False, staff=True)
    client = Client()
    client.force_login(root)
    middleware = [m.replace("KeepsEarlyUser", early) for m in WITH_EARLY_REFERENCE]
    with override_settings(MIDDLEWARE=middleware):
        response = client.get("/protected/")
    assert response.status_code == 302
    assert not response.wsgi_request.early_user.is_authenticated


@override_settings(
    MIDDLEWARE=[
        *WITH_EARLY_REFERENCE[:-2],
        "tests.site_middleware.SignedOutView",
        *WITH_EARLY_REFERENCE[-2:],
    ]
)
def test_a_lazy_user_of_another_middleware_keeps_what_it_says_of_itself():
    make_user("alice")
    browser = Browser()
    browser.full_login()
    response = browser.get("/protected/")
    assert response.status_code == 302  # login_required: the site's middleware said "signed out"
    assert not response.wsgi_request.user.is_authenticated


def test_cold_cache_reads_the_database_once_then_not_again():
    make_user("alice")
    browser = Browser()
    browser.full_login()
    from django.core.cache import cache

    cache.clear()
    browser.get("/protected/")
    warm = _queries_for(browser)
    cache.clear()
    with CaptureQueriesContext(connection) as cold:
        browser.get("/protected/")
    assert len(cold) == warm + 1


@pytest.mark.parametrize("enabled", [True, False], ids=["2fa-on", "2fa-off"])
def test_a_signed_in_request_reads_the_2fa_state_from_the_cache_once(enabled, monkeypatch):
    """With a shared cache every read is a network round trip: one per request, not two."""
    make_user("alice", enabled=enabled)
    browser = Browser()
    if enabled:
        browser.full_login()
    else:
        browser.password_step("alice")
    browser.get("/protected/")
    reads = []
    load = state.load_user_state
    monkeypatch.setattr(state, "load_user_state", lambda pk: reads.append(pk) or load(pk))
    assert browser.get("/protected/").status_code == 200
    assert len(reads) == 1


def test_force_login_of_a_2fa_user_is_demoted():
    alice = make_user("alice")
    client = Client()
    client.force_login(alice)  # a session made without the second step
    response = client.get("/protected/")
    assert response.status_code == 302
    assert client.get(VERIFY_URL).status_code == 200


def test_2fa_change_in_another_session_demotes_this_one():
    alice = make_user("alice")
    browser = Browser()
    browser.full_login()
    assert browser.get("/protected/").status_code == 200
    TwoFactorProfile.objects.get(user=alice).bump_version()
    state.publish_user_state(alice.pk)
    assert browser.get("/protected/").status_code == 302


@override_settings(
    AUTHY2FA={
        "PROVIDER": "django_authy2fa.providers.locmem.LocmemProvider",
        "REQUIRED_FOR": "staff",
    }
)
def test_staff_without_2fa_must_enroll_and_reach_nothing_else():
    make_user("root", enabled=False, staff=True)
    browser = Browser()
    response = browser.password_step("root", next_url="/admin/")
    assert response["Location"] == "/account/2fa/enroll/"
    for path in ("/admin/", "/protected/", "/account/2fa/manage/"):
        assert browser.get(path).status_code == 302
    assert browser.get("/account/2fa/enroll/").status_code == 200


@override_settings(
    AUTHY2FA={
        "PROVIDER": "django_authy2fa.providers.locmem.LocmemProvider",
        "REQUIRED_FOR": "staff",
    }
)
def test_staff_admin_login_without_2fa_goes_to_enrollment_without_loop():
    make_user("root", enabled=False, staff=True)
    browser = Browser()
    browser.get("/admin/login/")
    browser.submit(
        "/admin/login/",
        {"username": "root", "password": "correct horse battery staple", "next": "/admin/"},
    )
    admin = browser.get("/admin/")
    assert admin.status_code == 302
    to_second_step = browser.get(admin["Location"])
    assert to_second_step["Location"].startswith(VERIFY_URL)
    assert browser.get(to_second_step["Location"])["Location"] == "/account/2fa/enroll/"


@override_settings(
    AUTHY2FA={
        "PROVIDER": "django_authy2fa.providers.locmem.LocmemProvider",
        "REQUIRED_FOR": "tests.policies.everyone_but_bob",
    }
)
def test_required_for_callable_policy():
    make_user("bob", enabled=False)
    make_user("carol", enabled=False)
    assert Browser().password_step("bob")["Location"] == "/protected/"
    assert Browser().password_step("carol")["Location"] == "/account/2fa/enroll/"


async def _async_get(client, path):
    return await client.get(path)


@pytest.mark.django_db(transaction=True)
def test_async_view_sees_anonymous_for_pending_and_user_when_verified():
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    alice = make_user("alice")
    client = AsyncClient()
    client.force_login(alice)
    pending = async_to_sync(_async_get)(client, "/protected-async/")
    assert pending.status_code == 401

    browser = Browser()
    browser.full_login()
    verified = AsyncClient()
    verified.cookies = browser.cookies
    response = async_to_sync(_async_get)(verified, "/protected-async/")
    assert response.status_code == 200
    assert response.content == b"async secret page of alice"


@pytest.mark.parametrize("early", ["KeepsEarlyUser", "LoadsEarlyUser"])
def test_a_view_that_empties_the_session_no_longer_sees_the_verified_user(early):
    """Even when the user was loaded before the session was emptied."""
    make_user("alice")
    middleware = [m.replace("KeepsEarlyUser", early) for m in WITH_EARLY_REFERENCE]
    with override_settings(MIDDLEWARE=middleware):
        browser = Browser()  # the test client builds its middleware on its first request
        browser.full_login()
        assert browser.get("/protected/").status_code == 200
        response = browser.get("/flushed-session/")
    assert response.content == b"anonymous"


REMOTE_USER_AFTER_THE_APP = [
    *WITHOUT_APP[:-1],  # up to AuthenticationMiddleware
    "django_authy2fa.middleware.TwoFactorMiddleware",
    "django.contrib.auth.middleware.RemoteUserMiddleware",  # calls login() itself
    "django.contrib.messages.middleware.MessageMiddleware",
]
REMOTE_USER_BACKENDS = [
    "django.contrib.auth.backends.RemoteUserBackend",
    "django_authy2fa.backends.TwoFactorBackend",
]


@override_settings(
    MIDDLEWARE=REMOTE_USER_AFTER_THE_APP, AUTHENTICATION_BACKENDS=REMOTE_USER_BACKENDS
)
def test_a_login_by_a_middleware_placed_after_this_one_reaches_the_view_decided():
    make_user("alice")
    client = Client()
    response = client.get("/protected/", REMOTE_USER="alice")
    assert response.status_code == 302  # login_required saw AnonymousUser
    assert SESSION_KEY not in client.session
    assert state.PENDING_SESSION_KEY in client.session


@override_settings(
    MIDDLEWARE=REMOTE_USER_AFTER_THE_APP, AUTHENTICATION_BACKENDS=REMOTE_USER_BACKENDS
)
def test_a_login_by_a_middleware_placed_after_this_one_stands_without_2fa_or_once_verified():
    make_user("bob", enabled=False)
    response = Client().get("/protected/", REMOTE_USER="bob")
    assert response.content == b"secret page of bob"

    make_user("alice")
    browser = Browser()
    browser.full_login()
    response = browser.get("/protected/", REMOTE_USER="alice")
    assert response.content == b"secret page of alice"


@override_settings(
    MIDDLEWARE=[
        *WITHOUT_APP[:-1],
        "django.contrib.auth.middleware.RemoteUserMiddleware",  # before this app's
        "django_authy2fa.middleware.TwoFactorMiddleware",
        WITHOUT_APP[-1],
    ],
    AUTHENTICATION_BACKENDS=REMOTE_USER_BACKENDS,
)
def test_a_login_by_a_middleware_placed_before_this_one_is_demoted_once():
    from django_authy2fa.models import AuditEvent, LoginChallenge

    make_user("alice")
    client = Client()
    response = client.get("/protected/", REMOTE_USER="alice")
    assert response.status_code == 302
    assert SESSION_KEY not in client.session
    # One pending attempt, one audit event: not a second demotion in the response phase.
    assert LoginChallenge.objects.count() == 1
    assert list(AuditEvent.objects.values_list("event", flat=True)) == ["login_password"]
