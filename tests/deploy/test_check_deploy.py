"""The example project in production mode: ``check --deploy`` and the headers it sends.

Everything runs in subprocesses with the environment a deployment would set
(``production_env``), never with the test suite's settings. No network is
needed: the Twilio values only have the right shape, and the Redis URL of the
``check --deploy`` runs is never connected to.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from ..e2e.demo_server import MANAGE, ROOT
from .support import AppServer, Client, app_servers, csrf_form_token, deploy_env, manage

HOST = "app.example.com"
HTTPS = {"Host": HOST, "X-Forwarded-Proto": "https"}  # what the TLS-terminating proxy adds
ONE_YEAR = 60 * 60 * 24 * 365


def production_env(tmp_path, **overrides: str | None) -> dict[str, str]:
    """DEBUG off, a long random SECRET_KEY, a real provider, a shared cache, behind TLS.

    An override of ``None`` leaves the variable out.
    """
    env = deploy_env(
        tmp_path,
        DEBUG="False",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS=HOST,
        BEHIND_TLS_PROXY="True",
        AUTHY2FA_TRUSTED_PROXY_COUNT="1",
        CACHE_URL="redis://cache.internal:6379/0",
        AUTHY2FA_PROVIDER="verify",
        TWILIO_ACCOUNT_SID="AC" + secrets.token_hex(16),
        TWILIO_AUTH_TOKEN=secrets.token_hex(16),
        TWILIO_VERIFY_SERVICE_SID="VA" + secrets.token_hex(16),
    )
    env.update({k: v for k, v in overrides.items() if v is not None})
    for key in [k for k, v in overrides.items() if v is None]:
        env.pop(key, None)
    return env


def check_deploy(env: dict[str, str]) -> tuple[int, str]:
    result = subprocess.run(
        [*MANAGE, "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.returncode, result.stdout + result.stderr


def test_check_deploy_passes_in_production_mode(tmp_path):
    returncode, output = check_deploy(production_env(tmp_path))
    assert returncode == 0, output
    assert "System check identified no issues" in output, output


@pytest.mark.parametrize(
    ("overrides", "check_id"),
    [
        pytest.param({"CACHE_URL": None}, "authy2fa.W003", id="per-process cache"),
        pytest.param({"AUTHY2FA_PROVIDER": "console"}, "authy2fa.E002", id="console provider"),
        pytest.param({"SECURE_SSL_REDIRECT": "False"}, "security.W008", id="no HTTPS redirect"),
        pytest.param({"SECURE_HSTS_SECONDS": "0"}, "security.W004", id="no HSTS"),
    ],
)
def test_check_deploy_fails_when_production_is_weakened(tmp_path, overrides, check_id):
    """The passing run above is not vacuous: each weakening fails the same command."""
    returncode, output = check_deploy(production_env(tmp_path, **overrides))
    assert returncode != 0, output
    assert check_id in output, output


def test_production_mode_needs_a_secret_key(tmp_path):
    returncode, output = check_deploy(production_env(tmp_path, SECRET_KEY=None))
    assert returncode != 0
    assert "SECRET_KEY" in output, output


# -- the headers a production server sends --------------------------------------------------------


@dataclass
class Production:
    server: AppServer


@pytest.fixture(scope="module")
def production(tmp_path_factory) -> Iterator[Production]:
    """One production-mode server behind a pretend TLS proxy (SQLite, one process)."""
    tmp = tmp_path_factory.mktemp("production")
    # A single process here, so the local-memory cache is enough (W003 is about many).
    env = production_env(tmp, CACHE_URL="locmemcache://")
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "demo_data")
    with app_servers({"prod": env}, tmp, ready_headers=HTTPS) as servers:
        yield Production(server=servers["prod"])


def assert_security_headers(answer) -> None:
    headers = answer.headers
    assert "no-store" in headers.get("Cache-Control", ""), dict(headers)
    assert headers.get("X-Frame-Options") == "DENY", dict(headers)
    assert headers.get("X-Content-Type-Options") == "nosniff", dict(headers)
    assert headers.get("Referrer-Policy") == "same-origin", dict(headers)
    assert headers.get("Cross-Origin-Opener-Policy") == "same-origin", dict(headers)
    assert headers.get("Strict-Transport-Security") == (
        f"max-age={ONE_YEAR}; includeSubDomains; preload"
    ), dict(headers)


def cookie_flags(answer, name: str) -> set[str]:
    """The attributes of the ``name`` cookie the answer sets, lower-cased ("secure", ...)."""
    for header in answer.headers.get_all("Set-Cookie") or []:
        if header.startswith(f"{name}="):
            return {part.strip().lower() for part in header.split(";")[1:]}
    raise AssertionError(f"no {name} cookie set")


def test_plain_http_is_redirected_and_unknown_hosts_refused(production):
    client = Client("198.51.100.7")
    plain = client.get(production.server, "/account/2fa/login/", headers={"Host": HOST})
    assert plain.status == 301
    assert plain.headers["Location"] == f"https://{HOST}/account/2fa/login/"
    foreign = client.get(
        production.server, "/account/2fa/login/", headers={**HTTPS, "Host": "evil.example"}
    )
    assert foreign.status == 400
    assert client.server_errors == 0


def test_second_step_pages_send_security_headers(production):
    client = Client("198.51.100.8")
    page = client.get(production.server, "/account/2fa/login/", headers=HTTPS)
    assert page.status == 200, page.text[:500]
    assert_security_headers(page)
    assert {"secure", "samesite=lax"} <= cookie_flags(page, "csrftoken")

    password = client.post_form(
        production.server,
        "/account/2fa/login/",
        {
            "username": "demo",
            "password": "demo-password-2fa",
            "csrfmiddlewaretoken": csrf_form_token(page),
        },
        headers={**HTTPS, "Origin": f"https://{HOST}"},
    )
    assert password.status == 302, password.text[:500]
    assert password.headers["Location"] == "/account/2fa/verify/"
    assert_security_headers(password)
    assert {"secure", "httponly", "samesite=lax"} <= cookie_flags(password, "sessionid")

    second_step = client.get(production.server, "/account/2fa/verify/", headers=HTTPS)
    assert second_step.status == 200, second_step.text[:500]
    assert 'id="authy2fa-verify-title"' in second_step.text
    assert_security_headers(second_step)
    assert client.server_errors == 0


def test_api_answers_are_not_cached(production):
    client = Client("198.51.100.9")
    started = client.post_json(
        production.server,
        "/api/2fa/login/",
        {"username": "demo", "password": "demo-password-2fa"},
        headers=HTTPS,
    )
    assert started.status == 202, started.text[:500]
    assert started.json()["challenge"]
    assert "no-store" in started.headers.get("Cache-Control", ""), dict(started.headers)
