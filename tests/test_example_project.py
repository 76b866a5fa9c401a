"""The example site: the demo page works, and its settings run on embedded defaults."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings

from django_authy2fa.models import TwoFactorProfile
from django_authy2fa.providers import locmem

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.django_db, pytest.mark.urls("example_project.urls")]

REGISTRATION = {
    "username": "carol",
    "email": "carol@example.com",
    "password": "a long enough passphrase",
    "phone": "+44 7400 123456",
}


def test_demo_page_renders_both_panels(client):
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="register"' in body and 'id="login"' in body


def test_register_creates_user_profile_and_sends_a_code(client, django_user_model):
    response = client.post("/register/", REGISTRATION)
    assert response.status_code == 302
    user = django_user_model.objects.get(username="carol")
    assert user.check_password(REGISTRATION["password"])
    assert user.password.startswith("md5$")  # the test hasher; never the raw password
    profile = user.authy2fa_profile
    assert profile.phone_number == "+447400123456"
    assert profile.enabled_at is None
    assert locmem.outbox[-1].to == "+447400123456"
    assert REGISTRATION["password"] not in str(dict(client.session))


def test_confirming_with_the_right_code_enables_2fa(client):
    client.post("/register/", REGISTRATION)
    wrong = f"{(int(locmem.outbox[-1].code) + 1) % 10**6:06d}"
    client.post("/register/confirm/", {"code": wrong})
    assert TwoFactorProfile.objects.get().enabled_at is None
    client.post("/register/confirm/", {"code": locmem.outbox[-1].code})
    profile = TwoFactorProfile.objects.get()
    assert profile.enabled_at is not None and profile.phone_confirmed_at is not None


@pytest.mark.parametrize(
    ("field", "value"),
    [("phone", "12345"), ("phone", "+44 20 7183 8750"), ("password", "123"), ("email", "nope")],
)
def test_bad_registration_input_is_a_400_and_saves_nothing(client, django_user_model, field, value):
    response = client.post("/register/", {**REGISTRATION, field: value})
    assert response.status_code == 400
    assert b"errorlist" in response.content
    assert not django_user_model.objects.filter(username="carol").exists()
    assert locmem.outbox == []


def test_provider_outage_at_registration_keeps_nothing_half_saved(client, django_user_model):
    from django_authy2fa.exceptions import ProviderUnavailable

    locmem.fail_next(ProviderUnavailable(provider="test"))
    response = client.post("/register/", REGISTRATION, follow=True)
    assert response.status_code == 200
    assert b"unavailable" in response.content
    assert not django_user_model.objects.filter(username="carol").exists()


def test_demo_data_is_idempotent(django_user_model):
    call_command("demo_data")
    call_command("demo_data")
    demo = django_user_model.objects.get(username="demo")
    assert demo.check_password("demo-password-2fa")
    assert demo.authy2fa_profile.is_enabled


@override_settings(ROOT_URLCONF="example_project.urls")
def test_csrf_is_enforced_on_register(django_user_model):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post("/register/", REGISTRATION)
    assert response.status_code == 403
    assert not django_user_model.objects.filter(username="carol").exists()


def _clean_env(tmp_path: Path) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "CACHE_URL", "DJANGO_", "AUTHY"))
    }
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    env["DJANGO_SETTINGS_MODULE"] = "example_project.settings"
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db(transaction=False)
def test_example_settings_use_embedded_defaults(tmp_path):
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE']); print(s.AUTHY2FA['PROVIDER']); "
        "print(s.PASSWORD_HASHERS[0]); print(s.DEBUG)"
    )
    env = _clean_env(tmp_path)
    env.pop("DATABASE_URL")
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == [
        "django.db.backends.sqlite3",
        "django_authy2fa.providers.console.ConsoleProvider",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "True",
    ]


def test_demo_server_serves_the_page(tmp_path):
    """What `make demo` runs, on a spare port: migrate, demo data, a real server."""
    env = _clean_env(tmp_path)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, check=True, cwd=ROOT)
    subprocess.run([*manage, "demo_data"], env=env, check=True, cwd=ROOT, capture_output=True)
    port = _free_port()
    server = subprocess.Popen(
        [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        body = _fetch_when_up(f"http://127.0.0.1:{port}/")
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert "Console (development only)" in body
    assert 'id="register"' in body


def _fetch_when_up(url: str, attempts: int = 100) -> str:
    for _ in range(attempts):
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback URL
                return response.read().decode()
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer")
