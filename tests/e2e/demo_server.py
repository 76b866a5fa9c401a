"""Run the example project as a real server, as ``make demo`` does, on a spare port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MANAGE = [sys.executable, str(ROOT / "manage.py")]


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a fresh checkout: no database, cache or provider settings.

    Whatever a developer exported (or put in ``.env``) for the test suite is
    left out or overridden, so the example site runs on its embedded defaults
    with its own SQLite file in ``tmp_path``.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "CACHE_URL", "DJANGO_", "AUTHY", "DEBUG"))
    }
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    env["DJANGO_SETTINGS_MODULE"] = "example_project.settings"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch_when_up(url: str, timeout: float = 20.0, process: subprocess.Popen | None = None) -> str:
    """The page's body, once the server answers (fails early if the server died)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback URL
                return response.read().decode()
        except OSError:
            if process is not None and process.poll() is not None:
                raise AssertionError(f"the server exited with {process.returncode}") from None
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not answer within {timeout:.0f} s") from None
            time.sleep(0.1)


@dataclass(frozen=True)
class DemoServer:
    url: str
    log: Path

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@contextmanager
def demo_server(tmp_path: Path, **env_extra: str) -> Iterator[DemoServer]:
    """Migrate, create the demo data, and serve the example site until the block ends."""
    env = clean_env(tmp_path, **env_extra)
    subprocess.run([*MANAGE, "migrate", "--noinput", "-v0"], env=env, check=True, cwd=ROOT)
    subprocess.run([*MANAGE, "demo_data"], env=env, check=True, cwd=ROOT, capture_output=True)
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*MANAGE, "runserver", "--noreload", f"127.0.0.1:{port}"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        running = DemoServer(url=f"http://127.0.0.1:{port}", log=log)
        try:
            fetch_when_up(f"{running.url}/", process=server)
        except AssertionError as err:
            raise AssertionError(f"{err}\n--- server log ---\n{running.log_tail()}") from None
        yield running
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
