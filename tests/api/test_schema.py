"""The OpenAPI schema: valid, complete, and a schema-driven fuzz run finds no 500."""

import json
import re
import subprocess
import sys
import urllib.request

import pytest

from django_authy2fa.api import urls as api_urls

from ..e2e.demo_server import MANAGE, ROOT, clean_env, demo_server


def test_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    result = subprocess.run(
        [*MANAGE, "spectacular", "--validate", "--fail-on-warn", "--file", str(out)],
        env=clean_env(tmp_path),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    schema = out.read_text()
    for pattern in api_urls.urlpatterns:
        assert f"/api/2fa/{pattern.pattern}" in schema, pattern.name
    assert "TwoFactorToken" in schema


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(  # noqa: S310 - loopback URL
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback URL
        return json.loads(response.read() or b"{}")


def _token_through_the_second_step(base: str) -> str:
    """Log the demo account in through the API, reading the code on the demo phone."""
    started = _post(f"{base}/api/2fa/login/", {"username": "demo", "password": "demo-password-2fa"})
    challenge = started["challenge"]
    _post(f"{base}/api/2fa/send/", {"challenge": challenge, "channel": "sms"})
    with urllib.request.urlopen(f"{base}/demo-phone/messages/", timeout=10) as response:  # noqa: S310
        code = json.loads(response.read())["messages"][0]["code"]
    verified = _post(
        f"{base}/api/2fa/verify/", {"challenge": challenge, "method": "sms", "code": code}
    )
    return verified["token"]


@pytest.mark.django_db(transaction=True)
def test_schema_driven_fuzzing_finds_no_server_error(tmp_path):
    """Schemathesis against the running example project (a real server), signed in too."""
    with demo_server(tmp_path, AUTHY2FA_SEND_COOLDOWN_SECONDS="1") as server:
        token = _token_through_the_second_step(server.url)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "run",
                f"{server.url}/api/schema/",
                "--url",
                server.url,
                "--checks",
                "not_a_server_error",
                "--header",
                f"Authorization: Bearer {token}",
                # Logging out would revoke the token the other operations use.
                "--exclude-path",
                "/api/2fa/logout/",
                "--max-examples",
                "15",
                "--seed",
                "20261127",
                "--no-color",
            ],
            cwd=tmp_path,  # schemathesis writes its cache in the working directory
            capture_output=True,
            text=True,
            timeout=600,
        )
        log = server.log_tail(60)
    report = result.stdout + "\n--- server log ---\n" + log
    assert result.returncode == 0, report[-6000:]
    assert "Internal Server Error" not in log
    summary = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
    assert summary, report[-3000:]
    generated, passed = map(int, summary.groups())
    assert generated == passed > 300, report[-3000:]
    assert "Authentication failed" not in result.stdout, "signed-in operations were not reached"
