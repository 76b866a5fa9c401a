"""The example project as separate app server processes, for the deployment tests.

Everything here talks to real processes over real sockets: ``manage.py
runserver --noreload`` (one process each, as a gunicorn worker would be), a
PostgreSQL database created for the test, and a Redis database number flushed
for it. Nothing of the test suite's own Django settings reaches the servers.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

import environ

from ..e2e.demo_server import MANAGE, ROOT, clean_env, free_port

#: Variables the example settings read besides the ones clean_env() already drops.
_SETTINGS_VARIABLES = (
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "SECURE_",
    "BEHIND_TLS_PROXY",
    "TWILIO_",
)


def deploy_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """clean_env() without any setting of the example project the developer exported."""
    env = {k: v for k, v in clean_env(tmp_path).items() if not k.startswith(_SETTINGS_VARIABLES)}
    env.update(extra)
    return env


def manage(env: Mapping[str, str], *args: str, timeout: float = 120) -> str:
    """Run a management command of the example project; its output, or a readable failure."""
    result = subprocess.run(
        [*MANAGE, *args],
        env=dict(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"manage.py {' '.join(args)} exited with {result.returncode}\n"
            f"--- stdout ---\n{result.stdout[-3000:]}\n--- stderr ---\n{result.stderr[-3000:]}"
        )
    return result.stdout + result.stderr


# -- HTTP, without following redirects and without any proxy from the environment ----------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


@dataclass
class Answer:
    status: int
    headers: Message
    body: bytes

    def json(self) -> dict[str, Any]:
        return json.loads(self.body or b"{}")

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


def http(
    url: str,
    *,
    method: str | None = None,
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30,
) -> Answer:
    """One request; 3xx, 4xx and 5xx answers are returned, not raised."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"only the local test servers are called, not {url!r}")
    request = urllib.request.Request(  # noqa: S310 - loopback http:// only (checked above)
        url, data=data, headers=dict(headers or {}), method=method
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as err:
        with err:
            return Answer(err.code, err.headers, err.read())


# -- app servers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppServer:
    name: str
    url: str
    log: Path

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _wait_until_up(
    server: AppServer,
    process: subprocess.Popen,
    headers: Mapping[str, str],
    timeout: float = 30,
) -> None:
    """Any HTTP answer (a redirect to HTTPS too) means the server is up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            http(f"{server.url}/account/2fa/login/", headers=headers, timeout=5)
            return
        except OSError:
            if process.poll() is not None:
                raise AssertionError(
                    f"server {server.name} exited with {process.returncode}\n"
                    f"--- server log ---\n{server.log_tail()}"
                ) from None
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"server {server.name} did not answer within {timeout:.0f} s\n"
                    f"--- server log ---\n{server.log_tail()}"
                ) from None
            time.sleep(0.1)


@contextmanager
def _one_server(
    name: str, env: Mapping[str, str], log_dir: Path
) -> Iterator[tuple[AppServer, subprocess.Popen]]:
    port = free_port()
    log = log_dir / f"server-{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*MANAGE, "runserver", "--noreload", f"127.0.0.1:{port}"],
            env=dict(env),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield AppServer(name=name, url=f"http://127.0.0.1:{port}", log=log), process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def app_servers(
    envs: Mapping[str, Mapping[str, str]],
    log_dir: Path,
    *,
    ready_headers: Mapping[str, str] | None = None,
) -> Iterator[dict[str, AppServer]]:
    """Start one server process per entry (all at once), yield them by name, stop them."""
    with ExitStack() as stack:
        started = {
            name: stack.enter_context(_one_server(name, env, log_dir)) for name, env in envs.items()
        }
        for server, process in started.values():
            _wait_until_up(server, process, ready_headers or {})
        yield {name: server for name, (server, _process) in started.items()}


# -- the shared database and cache --------------------------------------------------------------


def postgres_url() -> str | None:
    """DATABASE_URL when it names a PostgreSQL server, else None."""
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        return None
    try:
        engine = environ.Env.db_url_config(url)["ENGINE"]
    except Exception:  # an unknown scheme: not PostgreSQL anyway
        return None
    return url if "postgresql" in engine or "postgis" in engine else None


def _pg_connect(url: str, dbname: str):
    import psycopg

    config = environ.Env.db_url_config(url)
    return psycopg.connect(
        dbname=dbname,
        host=config.get("HOST") or None,
        port=config.get("PORT") or None,
        user=config.get("USER") or None,
        password=config.get("PASSWORD") or None,
        autocommit=True,
        connect_timeout=10,
    )


@dataclass
class Database:
    """A database of its own on the server DATABASE_URL names."""

    url: str
    name: str

    def rows(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with _pg_connect(self.url, self.name) as conn:
            return conn.execute(query, params).fetchall()

    def one(self, query: str, *params: Any) -> tuple[Any, ...]:
        rows = self.rows(query, *params)
        assert len(rows) == 1, rows
        return rows[0]


@contextmanager
def dedicated_database(server_url: str, prefix: str) -> Iterator[Database]:
    """CREATE DATABASE <prefix>_<random> on DATABASE_URL's server; DROP it afterwards."""
    from psycopg import sql

    name = f"{prefix}_{secrets.token_hex(4)}"
    with _pg_connect(server_url, "postgres") as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    parts = urllib.parse.urlsplit(server_url)
    url = urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))
    try:
        yield Database(url=url, name=name)
    finally:
        with _pg_connect(server_url, "postgres") as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def shared_redis_url(offset: int = 1) -> str:
    """A Redis database for the servers: CACHE_URL's server, ``offset`` db numbers on.

    The test suite's own cache (CACHE_URL, db 1 in .ci/run) is cleared before
    every test by tests/conftest.py, so the servers get a following number.
    Each module that starts servers uses an offset of its own: it flushes its
    database, which must not reset another module's counters mid-test.
    """
    cache_url = os.environ.get("CACHE_URL", "")
    if not cache_url.startswith("redis://"):
        return f"redis://127.0.0.1:6379/{1 + offset}"
    parts = urllib.parse.urlsplit(cache_url)
    db = re.fullmatch(r"/?(\d*)", parts.path)
    current = int(db.group(1)) if db and db.group(1) else 0
    return urllib.parse.urlunsplit(
        parts._replace(path=f"/{(current + offset) % 16}", query="", fragment="")
    )


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.flushdb()
    finally:
        client.close()


def dead_redis_url() -> str:
    """A Redis URL on a loopback port where nothing listens: a cache that is down."""
    return f"redis://127.0.0.1:{free_port()}/0"


# -- clients -----------------------------------------------------------------------------------


@dataclass
class Client:
    """One client behind the load balancer (its IP in X-Forwarded-For), talking to any server.

    Keeps cookies like a browser would, and counts requests and 500s.
    """

    ip: str
    cookies: dict[str, str] = field(default_factory=dict)
    requests: int = 0
    server_errors: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _headers(self, token: str | None, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = {"X-Forwarded-For": self.ip}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if token:
            headers["Authorization"] = f"Bearer {token}"
        headers.update(extra or {})
        return headers

    def _record(self, answer: Answer) -> Answer:
        with self._lock:
            self.requests += 1
            # A crash, not a deliberate 503 ("provider or cache unavailable, try again").
            if answer.status >= 500 and answer.status != 503:
                self.server_errors += 1
            for header in answer.headers.get_all("Set-Cookie") or []:
                name, _, rest = header.partition("=")
                value = rest.split(";", 1)[0]
                if value in ("", '""') or re.search(r"max-age=0(;|$)", header, re.IGNORECASE):
                    self.cookies.pop(name.strip(), None)
                else:
                    self.cookies[name.strip()] = value
        return answer

    def get(
        self,
        server: AppServer,
        path: str,
        *,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        return self._record(http(server.url + path, headers=self._headers(token, headers)))

    def post_json(
        self,
        server: AppServer,
        path: str,
        body: Mapping[str, Any],
        *,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        merged = {"Content-Type": "application/json", **(headers or {})}
        return self._record(
            http(
                server.url + path,
                data=json.dumps(body).encode(),
                headers=self._headers(token, merged),
            )
        )

    def post_form(
        self,
        server: AppServer,
        path: str,
        form: Mapping[str, str],
        *,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        merged = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return self._record(
            http(
                server.url + path,
                data=urllib.parse.urlencode(form).encode(),
                headers=self._headers(None, merged),
            )
        )


_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def csrf_form_token(page: Answer) -> str:
    found = _CSRF_INPUT.search(page.text)
    assert found, "no CSRF token in the page"
    return found.group(1)
