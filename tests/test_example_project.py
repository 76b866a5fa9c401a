"""The example site: the demo page, registration through the library's flows, the
demo phone, the demo data, and its settings on embedded defaults.

The test settings use the in-memory provider (codes in ``locmem.outbox``) and
the library's own templates; the real look, the demo phone and the console
provider are covered by the subprocess tests here and by ``tests/e2e/``.
"""

import datetime as dt
import io
import re
import subprocess
import sys
import urllib.request

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from django_authy2fa.models import (
    ChallengePurpose,
    ChallengeStatus,
    LoginChallenge,
    RecoveryCode,
    TwoFactorProfile,
)
from django_authy2fa.providers import Channel, Recipient, console, locmem
from example_project.accounts import ADMIN, DEMO
from example_project.views import ENROLL_SESSION_KEY

from .e2e.demo_server import ROOT, clean_env, demo_server, fetch_when_up

pytestmark = [pytest.mark.django_db, pytest.mark.urls("example_project.urls")]

REGISTRATION = {
    "username": "carol",
    "email": "carol@example.com",
    "password": "a long enough passphrase",
    "phone": "+44 7400 123456",
}
CONSOLE = {"PROVIDER": "django_authy2fa.providers.console.ConsoleProvider"}
PHONE_MESSAGE_FIELDS = {"id", "to", "channel", "channel_label", "text", "code", "sent_at", "time"}
RECOVERY_CODE = re.compile(r"<code>([0-9A-Z]{4}(?:-[0-9A-Z]{4}){3})</code>")


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def _register(client, **changes):
    return client.post("/register/", {**REGISTRATION, **changes})


def _register_and_confirm(client):
    _register(client)
    return client.post("/register/confirm/", {"code": locmem.outbox[-1].code})


# -- the page ----------------------------------------------------------------------------------


def test_demo_page_renders_both_panels(client):
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="register"' in body and 'id="login"' in body
    # The right side is the library's password step, then the protected page.
    assert 'action="/account/2fa/login/"' in body
    assert 'name="next" value="/protected/"' in body
    # Labelled fields, the demo credentials, and no resource from elsewhere.
    for field in ("register-username", "register-email", "register-phone", "register-password"):
        assert f'<label for="{field}">' in body
    assert '<label for="login-username">' in body and '<label for="login-password">' in body
    for account in (DEMO, ADMIN):
        assert account.username in body and account.password in body
    assert "http://" not in body and "https://" not in body
    assert response["Cache-Control"].startswith("max-age=0")


def test_demo_phone_is_hidden_outside_debug_with_the_console_provider(client):
    assert 'id="demo-phone"' not in client.get("/").content.decode()


def test_protected_page_needs_a_sign_in(client):
    response = client.get("/protected/")
    assert response.status_code == 302
    assert response["Location"] == "/account/2fa/login/?next=/protected/"


def test_old_password_only_login_route_is_gone(client):
    assert client.get("/login/").status_code == 404


# -- registration ------------------------------------------------------------------------------


def test_register_creates_the_user_and_starts_phone_enrollment(client, django_user_model):
    response = _register(client)
    assert response.status_code == 302
    assert response["Location"] == "/"
    user = django_user_model.objects.get(username="carol")
    assert user.check_password(REGISTRATION["password"])
    assert user.password.startswith("md5$")  # the test hasher; never the raw password
    # The phone is not the user's until the code comes back.
    profile = user.authy2fa_profile
    assert profile.enabled_at is None and profile.phone_number == ""
    challenge = LoginChallenge.objects.get(user=user, purpose=ChallengePurpose.ENROLL)
    assert challenge.new_phone_number == "+447400123456"
    assert locmem.outbox[-1].to == "+447400123456"
    held = client.session[ENROLL_SESSION_KEY]
    assert held["id"] == str(challenge.pk) and held["secret"] != challenge.secret_digest
    assert REGISTRATION["password"] not in str(dict(client.session))
    page = client.get("/").content.decode()
    assert 'id="confirm-form"' in page and "+44 ••••••••56" in page


def test_confirming_with_the_right_code_shows_recovery_codes_once_and_enables_2fa(client):
    _register(client)
    wrong = client.post("/register/confirm/", {"code": _wrong(locmem.outbox[-1].code)})
    assert wrong.status_code == 400
    assert "That code is not right" in wrong.content.decode()
    assert "Attempts left: 4." in wrong.content.decode()
    assert TwoFactorProfile.objects.get().enabled_at is None

    response = client.post("/register/confirm/", {"code": locmem.outbox[-1].code})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    codes = RECOVERY_CODE.findall(response.content.decode())
    assert len(codes) == RecoveryCode.objects.count() == 10
    stored = set(RecoveryCode.objects.values_list("digest", flat=True))
    assert not stored & set(codes)  # only keyed digests are stored
    profile = TwoFactorProfile.objects.get()
    assert profile.is_enabled and profile.phone_confirmed_at is not None
    assert profile.phone_number == "+447400123456" and profile.default_method == "sms"
    # Both factors were just proved in this session: it is signed in and verified.
    assert ENROLL_SESSION_KEY not in client.session
    assert client.get("/protected/").status_code == 200
    # Shown once: the page never shows them again.
    assert RECOVERY_CODE.findall(client.get("/").content.decode()) == []


def test_sign_in_from_the_demo_page_goes_through_the_second_step(client):
    _register_and_confirm(client)
    client.post("/logout/")
    assert client.get("/protected/").status_code == 302
    TwoFactorProfile.objects.update(last_code_sent_at=None)  # past the resend cooldown

    response = client.post(
        "/account/2fa/login/",
        {"username": "carol", "password": REGISTRATION["password"], "next": "/protected/"},
    )
    assert response["Location"] == "/account/2fa/verify/"
    assert client.get("/protected/").status_code == 302  # the password alone is not enough
    client.post("/account/2fa/verify/send/", {"channel": "sms"})
    response = client.post(
        "/account/2fa/verify/", {"method": "sms", "code": locmem.outbox[-1].code}
    )
    assert response["Location"] == "/protected/"
    assert "carol" in client.get("/protected/").content.decode()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("phone", "12345"),
        ("phone", "+44 20 7183 8750"),  # a fixed line cannot receive a text
        ("password", "123"),
        ("password", "1234567890123"),  # long enough, but only digits
        ("password", ""),
        ("email", "nope"),
        ("username", "no spaces allowed"),
        ("username", ""),
        ("username", "x" * 151),
    ],
)
def test_bad_registration_input_is_a_400_and_saves_nothing(client, django_user_model, field, value):
    response = _register(client, **{field: value})
    assert response.status_code == 400
    body = response.content.decode()
    assert 'class="errorlist"' in body and 'aria-invalid="true"' in body
    assert not django_user_model.objects.exists()
    assert locmem.outbox == []
    assert REGISTRATION["password"] not in body  # the password is never echoed


def test_a_taken_username_is_refused(client, django_user_model):
    django_user_model.objects.create_user("Carol", "other@example.com", "another passphrase")
    response = _register(client)
    assert response.status_code == 400
    assert "That username is taken." in response.content.decode()
    assert django_user_model.objects.count() == 1


def test_provider_outage_at_registration_keeps_nothing_half_saved(client, django_user_model):
    from django_authy2fa.exceptions import ProviderUnavailable

    locmem.fail_next(ProviderUnavailable(provider="test"))
    response = _register(client)
    assert response.status_code == 503
    body = response.content.decode()
    assert "unavailable" in body and 'value="carol"' in body  # the form keeps what was typed
    assert not django_user_model.objects.filter(username="carol").exists()
    assert not TwoFactorProfile.objects.exists() and not LoginChallenge.objects.exists()
    assert ENROLL_SESSION_KEY not in client.session


def test_send_quota_at_registration_keeps_nothing_half_saved(client, settings, django_user_model):
    settings.AUTHY2FA = {**settings.AUTHY2FA, "THROTTLE": {"IP_SENDS_PER_HOUR": 1}}
    assert _register(client).status_code == 302
    response = _register(client, username="dave", phone="+1 415 555 2671")
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert not django_user_model.objects.filter(username="dave").exists()
    assert len(locmem.outbox) == 1


def test_the_first_field_to_fix_gets_the_focus(client):
    body = _register(client, email="nope", password="123").content.decode()
    email = re.search(r"<input[^>]*id=\"register-email\"[^>]*>", body).group(0)
    assert "autofocus" in email and 'aria-invalid="true"' in email
    assert re.search(r"<input[^>]*autofocus[^>]*>", body).group(0) == email


def test_confirm_without_a_registration_is_a_400(client):
    response = client.post("/register/confirm/", {"code": "123456"})
    assert response.status_code == 400
    assert "Register first" in response.content.decode()


@pytest.mark.parametrize("code", ["", "abc", "12 34", "1" * 11, "١٢٣٤٥٦"])
def test_malformed_confirmation_codes_are_a_400(client, code):
    _register(client)
    response = client.post("/register/confirm/", {"code": code})
    assert response.status_code == 400
    assert not TwoFactorProfile.objects.get().is_enabled


def test_too_many_wrong_codes_end_the_enrollment(client):
    _register(client)
    wrong = _wrong(locmem.outbox[-1].code)
    statuses = [client.post("/register/confirm/", {"code": wrong}).status_code for _ in range(6)]
    assert set(statuses) == {400}
    assert ENROLL_SESSION_KEY not in client.session
    response = client.post("/register/confirm/", {"code": locmem.outbox[-1].code})
    assert response.status_code == 400
    assert not TwoFactorProfile.objects.get().is_enabled
    assert LoginChallenge.objects.get().status == ChallengeStatus.FAILED


def test_resend_replaces_the_code_and_respects_the_cooldown(client):
    _register(client)
    first = locmem.outbox[-1].code
    too_soon = client.post("/register/resend/")
    assert too_soon.status_code == 429 and int(too_soon["Retry-After"]) > 0
    assert len(locmem.outbox) == 1

    TwoFactorProfile.objects.update(last_code_sent_at=timezone.now() - dt.timedelta(hours=1))
    assert client.post("/register/resend/").status_code == 302
    assert len(locmem.outbox) == 2 and locmem.outbox[-1].to == "+447400123456"
    assert LoginChallenge.objects.count() == 1  # the same attempt: failures still count
    if first != locmem.outbox[-1].code:
        assert client.post("/register/confirm/", {"code": first}).status_code == 400
    assert client.post("/register/confirm/", {"code": locmem.outbox[-1].code}).status_code == 200


def test_start_over_forgets_the_enrollment(client):
    _register(client)
    assert client.post("/register/cancel/").status_code == 302
    assert ENROLL_SESSION_KEY not in client.session
    assert 'id="register-form"' in client.get("/").content.decode()


@pytest.mark.parametrize("path", ["/register/", "/register/confirm/", "/register/resend/"])
def test_registration_endpoints_refuse_get(client, path):
    assert client.get(path).status_code == 405


@pytest.mark.parametrize(
    "path", ["/register/", "/register/confirm/", "/register/cancel/", "/account/2fa/login/"]
)
def test_csrf_is_enforced_on_the_demo_forms(django_user_model, path):
    response = Client(enforce_csrf_checks=True).post(path, REGISTRATION)
    assert response.status_code == 403
    assert not django_user_model.objects.filter(username="carol").exists()
    assert locmem.outbox == []


def test_registration_works_with_the_csrf_token_like_a_browser(django_user_model):
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = browser.post("/register/", {**REGISTRATION, "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert django_user_model.objects.filter(username="carol").exists()


# -- the demo phone ----------------------------------------------------------------------------


@pytest.fixture
def console_phone(settings, capsys):
    """DEBUG on with the console provider, as ``make demo`` runs; an empty phone."""
    settings.DEBUG = True
    settings.AUTHY2FA = CONSOLE
    console.clear_recent_messages()
    yield
    console.clear_recent_messages()


@pytest.mark.usefixtures("console_phone")
def test_demo_phone_lists_the_sent_messages_newest_first(client, capsys):
    page = client.get("/").content.decode()
    assert 'id="demo-phone"' in page and 'aria-live="polite"' in page
    assert "No messages yet" in page

    _register(client)
    _register(client, username="dave", phone="+1 415 555 2671")
    printed = capsys.readouterr().out
    data = client.get("/demo-phone/messages/").json()["messages"]
    assert [m["to"] for m in data] == ["+1 ••••••••71", "+44 ••••••••56"]
    for message in data:
        assert message["channel"] == "sms" and message["code"] in message["text"]
        assert message["code"] in printed  # still printed to the console as well
        assert set(message) == {
            "id",
            "to",
            "channel",
            "channel_label",
            "text",
            "code",
            "sent_at",
            "time",
        }
    assert "+447400123456" not in str(data) and "4155552671" not in str(data)

    page = client.get("/").content.decode()
    assert f'data-code="{data[0]["code"]}"' in page
    assert page.index(data[0]["code"]) < page.index(data[1]["code"])


@pytest.mark.usefixtures("console_phone")
def test_demo_phone_keeps_only_the_last_messages(client):
    provider = console.ConsoleProvider(stream=io.StringIO())
    for n in range(console.RECENT_MAX + 5):
        provider.deliver(Recipient(phone="+14155552671"), Channel.SMS, f"message {n}", f"{n:06d}")
    data = client.get("/demo-phone/messages/").json()["messages"]
    assert len(data) == 10
    assert data[0]["text"] == f"message {console.RECENT_MAX + 4}"
    assert len(console.recent_messages(limit=100)) == console.RECENT_MAX


@pytest.mark.parametrize(
    ("debug", "provider"),
    [
        (False, CONSOLE),
        (True, {"PROVIDER": "django_authy2fa.providers.locmem.LocmemProvider"}),
        (False, {"PROVIDER": "django_authy2fa.providers.locmem.LocmemProvider"}),
    ],
)
def test_demo_phone_endpoint_is_404_unless_debug_and_console(client, settings, debug, provider):
    settings.DEBUG = debug
    settings.AUTHY2FA = provider
    assert client.get("/demo-phone/messages/").status_code == 404
    assert 'id="demo-phone"' not in client.get("/").content.decode()


# -- demo data ---------------------------------------------------------------------------------


def test_demo_data_is_idempotent(django_user_model):
    call_command("demo_data")
    versions = dict(TwoFactorProfile.objects.values_list("user__username", "version"))
    call_command("demo_data")
    assert dict(TwoFactorProfile.objects.values_list("user__username", "version")) == versions
    assert django_user_model.objects.count() == 2

    demo = django_user_model.objects.get(username=DEMO.username)
    assert demo.check_password(DEMO.password)
    assert demo.authy2fa_profile.is_enabled and not demo.is_staff

    admin = django_user_model.objects.get(username=ADMIN.username)
    assert admin.check_password(ADMIN.password)
    assert admin.is_staff and admin.is_superuser
    profile = admin.authy2fa_profile
    assert profile.is_enabled and profile.phone_confirmed_at and profile.default_method == "sms"


def test_demo_data_turns_2fa_back_on(django_user_model):
    call_command("demo_data")
    TwoFactorProfile.objects.filter(user__username=DEMO.username).update(
        enabled_at=None, phone_number=""
    )
    call_command("demo_data")
    profile = TwoFactorProfile.objects.get(user__username=DEMO.username)
    assert profile.is_enabled and profile.phone_number == DEMO.phone


def test_admin_is_reached_through_the_second_step(client):
    call_command("demo_data")
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": ADMIN.username, "password": ADMIN.password, "next": "/admin/"},
    )
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 302  # the password alone is not enough
    verify = client.get("/admin/login/?next=/admin/")
    assert verify["Location"].startswith("/account/2fa/verify/")
    client.post("/account/2fa/verify/send/", {"channel": "sms"})
    assert locmem.outbox[-1].to == ADMIN.phone
    response = client.post(
        "/account/2fa/verify/", {"method": "sms", "code": locmem.outbox[-1].code}
    )
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


# -- the settings and a real server ------------------------------------------------------------


@pytest.mark.django_db(transaction=False)
def test_example_settings_use_embedded_defaults(tmp_path):
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE']); print(s.AUTHY2FA['PROVIDER']); "
        "print(s.PASSWORD_HASHERS[0]); print(s.DEBUG); "
        "m = s.MIDDLEWARE; a = 'django.contrib.auth.middleware.AuthenticationMiddleware'; "
        "print(m[m.index(a) + 1]); print(s.AUTHENTICATION_BACKENDS); print(s.LOGIN_URL)"
    )
    env = clean_env(tmp_path)
    env.pop("DATABASE_URL")
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert out == [
        "django.db.backends.sqlite3",
        "django_authy2fa.providers.console.ConsoleProvider",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "True",
        "django_authy2fa.middleware.TwoFactorMiddleware",
        "['django_authy2fa.backends.TwoFactorBackend']",
        "authy2fa:login",
    ]


def test_example_project_passes_its_system_checks(tmp_path):
    env = clean_env(tmp_path)
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check", "--fail-level", "WARNING"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_demo_server_serves_the_page(tmp_path):
    """What `make demo` runs, on a spare port: migrate, demo data, a real server."""
    with demo_server(tmp_path) as server:
        body = fetch_when_up(f"{server.url}/")
        login_page = fetch_when_up(f"{server.url}/account/2fa/login/")
        with urllib.request.urlopen(f"{server.url}/demo-phone/messages/") as response:  # noqa: S310
            phone = response.read().decode()
    assert "Console (development only)" in body
    assert 'id="register"' in body and 'id="login"' in body
    assert 'id="demo-phone"' in body and "/static/example_project/demo_phone.js" in body
    # The library's pages wear the demo's look and show the demo phone too.
    assert 'class="site-header"' in login_page and 'id="demo-phone"' in login_page
    assert "/static/django_authy2fa/authy2fa.css" in login_page
    assert phone == '{"messages": []}'
