"""One benchmark configuration in its own process, driven over stdin/stdout.

``python -m benchmarks.worker`` with ``DJANGO_SETTINGS_MODULE`` set to one of
``benchmarks.settings_*``. Each line on stdin is a JSON command
``{"cmd": name, "args": {...}}``; each answer is one JSON line on the
original stdout. Anything else the process prints (the console provider
prints its codes) goes to /dev/null.

Separate processes let each configuration keep its own settings module while
the runner interleaves them round by round.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

#: Where a signed-in user lands; 200 only for a fully verified session.
PROTECTED = "/protected/"


def _client():
    from django.test import Client

    # No CSRF enforcement in any configuration: the benchmark measures the
    # pages, not a browser's token round trip (the middleware still runs).
    return Client()


class Worker:
    def __init__(self, config: str) -> None:
        self.config = config
        self.sessions: dict[str, Any] = {}

    # -- set-up ---------------------------------------------------------------------

    def setup(self, users: int) -> dict[str, Any]:
        """Create the schema and the first ``users`` users."""
        from django.core.management import call_command

        from . import population

        began = time.perf_counter()
        # skip_checks: the console provider is refused by a system check
        # outside DEBUG, and DEBUG would record every query of the benchmark.
        call_command("migrate", verbosity=0, interactive=False, skip_checks=True)
        migrated = time.perf_counter() - began
        built = population.grow(users)
        settled = population.settle()
        return {
            "migrate_seconds": migrated,
            "build_seconds": built,
            "settle_seconds": settled,
            "users": population.count(),
        }

    def grow(self, users: int) -> dict[str, Any]:
        from django.db import connection

        from . import population

        built = population.grow(users)
        settled = population.settle()
        sizes = {}
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
                sizes["database"] = cursor.fetchone()[0]
        return {
            "build_seconds": built,
            "settle_seconds": settled,
            "users": population.count(),
            **sizes,
        }

    def rehash(self, usernames: list[str]) -> dict[str, Any]:
        """Store these users' password with this configuration's hasher."""
        from django.contrib.auth import get_user_model

        from .identities import PASSWORD

        for user in get_user_model().objects.filter(username__in=usernames):
            user.set_password(PASSWORD)
            user.save(update_fields=["password"])
        return {"users": len(usernames)}

    # -- a verified session -------------------------------------------------------------

    def session(self, username: str) -> dict[str, Any]:
        """Sign ``username`` in through this configuration's real pages; return the cookie."""
        from django.conf import settings

        client = _client()
        {
            "plain": self._sign_in_plain,
            "authy2fa": self._sign_in_authy2fa,
            "authy2fa_redis": self._sign_in_authy2fa,
            "otp": self._sign_in_otp,
        }[self.config](client, username)
        _drop_deleted_cookies(client)
        response = client.get(PROTECTED)
        if response.status_code != 200:
            raise RuntimeError(
                f"{self.config}: {username} is not signed in ({response.status_code})"
            )
        self.sessions[username] = client
        return {"cookie": client.cookies[settings.SESSION_COOKIE_NAME].value}

    def _sign_in_plain(self, client, username: str) -> None:
        from .identities import PASSWORD

        response = client.post("/accounts/login/", {"username": username, "password": PASSWORD})
        _expect(response, 302, "plain password step")

    def _sign_in_authy2fa(self, client, username: str) -> None:
        list(self._authy2fa_login(client, username, count_queries=False, browse=True))

    def _sign_in_otp(self, client, username: str) -> None:
        from django.contrib.auth import get_user_model
        from django_otp.oath import totp
        from django_otp.plugins.otp_totp.models import TOTPDevice

        self._sign_in_plain(client, username)
        user = get_user_model().objects.get(username=username)
        device = TOTPDevice.objects.filter(user=user).first()
        if device is None or device.name == "filler":
            TOTPDevice.objects.filter(user=user).delete()
            device = TOTPDevice.objects.create(user=user, name="bench", confirmed=True)
        token = f"{totp(device.bin_key, step=device.step, digits=device.digits):0{device.digits}d}"
        _expect(client.post("/otp/verify/", {"token": token}), 200, "django-otp token step")

    # -- middleware hot path --------------------------------------------------------------

    def hot(self, username: str, requests: int) -> dict[str, Any]:
        """``requests`` GETs of the protected page in a verified session; the wall time."""
        client = self.sessions[username]
        get = client.get
        failures = 0
        cpu = time.process_time()
        began = time.perf_counter()
        for _ in range(requests):
            if get(PROTECTED).status_code != 200:
                failures += 1
        seconds = time.perf_counter() - began
        # CPU time of this process only: steadier than the wall time when other
        # processes share the cores, but blind to time spent in the database.
        cpu = time.process_time() - cpu
        return {"seconds": seconds, "cpu": cpu, "requests": requests, "failures": failures}

    def instructions(self, username: str, requests: int) -> dict[str, Any]:
        """``requests`` GETs with callgrind counting instructions (the worker runs under it).

        Counting is switched on around the loop only, after a warm-up, through
        the small library ``benchmarks.run`` builds (``BENCH_CALLGRIND_LIBRARY``);
        the runner reads the total from callgrind's output once the worker ends.
        """
        import ctypes

        counter = ctypes.CDLL(os.environ["BENCH_CALLGRIND_LIBRARY"])
        get = self.sessions[username].get
        for _ in range(20):
            _expect(get(PROTECTED), 200, "protected page (warm-up)")
        failures = 0
        counter.bench_count_start()
        for _ in range(requests):
            if get(PROTECTED).status_code != 200:
                failures += 1
        counter.bench_count_stop()
        return {"requests": requests, "failures": failures}

    def login_instructions(self, usernames: list[str]) -> dict[str, Any]:
        """One sign-in per user with callgrind counting (the worker runs under it).

        The first user warms up uncounted; for each of the others, counting
        covers the login's own requests (the steps the login benchmark times)
        and not the check that the protected page then answers 200.
        """
        import ctypes

        from .identities import PASSWORD

        counter = ctypes.CDLL(os.environ["BENCH_CALLGRIND_LIBRARY"])
        self.rehash(usernames)
        failures = 0
        for i, username in enumerate(usernames):
            client = _client()
            if i:
                counter.bench_count_start()
            if self.config == "plain":
                data = {"username": username, "password": PASSWORD, "next": PROTECTED}
                _expect(client.post("/accounts/login/", data), 302, "plain password step")
            else:
                list(self._authy2fa_login(client, username, count_queries=False))
            if i:
                counter.bench_count_stop()
            if client.get(PROTECTED).status_code != 200:
                failures += 1
        return {"logins": len(usernames) - 1, "failures": failures}

    def hot_queries(self, username: str, requests: int) -> dict[str, Any]:
        """What one request does, counted apart from the timed loop.

        Database queries, cache reads, and Python function calls: the calls
        are a measure of the work done that other processes cannot disturb.
        """
        from django.core.cache import caches
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        client = self.sessions[username]
        counts, calls, reads = [], [], []
        sql: list[str] = []
        backend = caches["default"]
        cache_get = backend.get
        read = [0]

        def counting_get(*args: Any, **kwargs: Any) -> Any:
            read[0] += 1
            return cache_get(*args, **kwargs)

        called = [0]

        def count_calls(frame: Any, event: str, arg: Any) -> None:
            if event == "call":
                called[0] += 1

        backend.get = counting_get
        try:
            for _ in range(requests):
                read[0] = called[0] = 0
                with CaptureQueriesContext(connection) as captured:
                    sys.setprofile(count_calls)
                    try:
                        response = client.get(PROTECTED)
                    finally:
                        sys.setprofile(None)
                if response.status_code != 200:
                    raise RuntimeError(
                        f"{self.config}: protected page answered {response.status_code}"
                    )
                counts.append(_queries(captured))
                calls.append(called[0])
                reads.append(read[0])
                sql = [_short(q["sql"]) for q in captured.captured_queries]
        finally:
            del backend.get
        return {"counts": counts, "sql": sql, "calls": calls, "cache_reads": reads}

    def state_read(self, username: str, reads: int) -> dict[str, Any]:
        """Seconds per read of a user's 2FA state from the cache (a warm entry)."""
        from django.contrib.auth import get_user_model

        from django_authy2fa import state

        user_id = get_user_model().objects.get(username=username).pk
        state.load_user_state(user_id)
        began = time.perf_counter()
        for _ in range(reads):
            state.load_user_state(user_id)
        return {"seconds": (time.perf_counter() - began) / reads}

    # -- login path -------------------------------------------------------------------------

    def login(self, username: str, count_queries: bool = False) -> dict[str, Any]:
        """One complete sign-in by a new browser: seconds (and queries) per step."""
        client = _client()
        if self.config == "plain":
            steps = [
                self._timed_step(
                    "password",
                    count_queries,
                    lambda: _expect(
                        client.post(
                            "/accounts/login/",
                            {"username": username, "password": _password(), "next": PROTECTED},
                        ),
                        302,
                        "plain password step",
                    ),
                )
            ]
        else:
            steps = list(self._authy2fa_login(client, username, count_queries=count_queries))
        if client.get(PROTECTED).status_code != 200:
            raise RuntimeError(f"{self.config}: the login of {username} did not complete")
        return {
            "steps": [s[0] for s in steps],
            "seconds": [s[1] for s in steps],
            "queries": [s[2] for s in steps],
            "statements": [s[3] for s in steps],
        }

    def _authy2fa_login(self, client, username: str, *, count_queries: bool, browse=False):
        """The three steps of this app's sign-in; each yields (name, seconds, queries, sql).

        ``browse`` also loads the code page after sending, untimed, as a browser
        following the redirect would: that page shows (and so clears) the
        "We sent a code" message. Without it the session would keep sending an
        unread message cookie with every request of the middleware benchmark.
        """
        from django_authy2fa.providers import console

        yield self._timed_step(
            "password",
            count_queries,
            lambda: _expect(
                client.post(
                    "/account/2fa/login/",
                    {"username": username, "password": _password(), "next": PROTECTED},
                ),
                302,
                "password step",
            ),
        )
        console.clear_recent_messages()
        yield self._timed_step(
            "send code",
            count_queries,
            lambda: _expect(
                client.post("/account/2fa/verify/send/", {"channel": "sms"}), 302, "send step"
            ),
        )
        sent = console.recent_messages(1)
        if not sent:
            raise RuntimeError("the console provider sent no code")
        if browse:
            _expect(client.get("/account/2fa/verify/?method=sms"), 200, "code page")
        code = sent[0].code
        yield self._timed_step(
            "code",
            count_queries,
            lambda: _expect(
                client.post("/account/2fa/verify/", {"method": "sms", "code": code}),
                302,
                "code step",
            ),
        )

    @staticmethod
    def _timed_step(name: str, count_queries: bool, action: Callable[[], Any]):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        if not count_queries:
            began = time.perf_counter()
            action()
            return name, time.perf_counter() - began, None, None
        with CaptureQueriesContext(connection) as captured:
            began = time.perf_counter()
            action()
            seconds = time.perf_counter() - began
        statements = [_statement(q["sql"]) for q in captured.captured_queries]
        return name, seconds, _queries(captured), statements

    # -- recovery-code and TOTP checks -------------------------------------------------------

    def checks(self, username: str, iterations: int, explain: bool) -> dict[str, Any]:
        """Time and queries of ``recovery.consume`` and ``totp.verify`` (one check each)."""
        import pyotp
        from django.contrib.auth import get_user_model
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from django_authy2fa import recovery, totp

        user = get_user_model().objects.get(username=username)
        results: dict[str, Any] = {}

        # Recovery codes: a fresh set every ten checks (outside the timed part).
        times, counts, sql = [], [], []
        codes: list[str] = []
        for i in range(iterations):
            if not codes:
                codes = recovery.replace_codes(user)
            code = codes.pop()
            with CaptureQueriesContext(connection) as captured:
                began = time.perf_counter()
                ok = recovery.consume(user, code)
                times.append(time.perf_counter() - began)
            if not ok:
                raise RuntimeError("a fresh recovery code was refused")
            counts.append(_queries(captured))
            if i == 0:
                sql = [q["sql"] for q in captured.captured_queries]
        results["recovery"] = {"seconds": times, "queries": counts, "sql": sql}

        # TOTP: each check at a later time step, since a code works only once.
        secret = totp.new_secret()
        totp.import_confirmed_device(user, secret)
        generator = pyotp.TOTP(secret)
        start = int(time.time()) // 30 * 30
        times, counts, sql = [], [], []
        for i in range(iterations):
            at = start + 30 * i
            code = generator.at(at)
            with CaptureQueriesContext(connection) as captured:
                began = time.perf_counter()
                ok = totp.verify(user, code, now=at)
                times.append(time.perf_counter() - began)
            if not ok:
                raise RuntimeError("a valid TOTP code was refused")
            counts.append(_queries(captured))
            if i == 0:
                sql = [q["sql"] for q in captured.captured_queries]
        results["totp"] = {"seconds": times, "queries": counts, "sql": sql}

        if explain:
            for kind in ("recovery", "totp"):
                results[kind]["plans"] = [_explain(q) for q in results[kind]["sql"]]
        for kind in ("recovery", "totp"):
            results[kind]["sql"] = [_short(q, 400) for q in results[kind]["sql"]]
        return results

    # -- the Authy client --------------------------------------------------------------------

    def authy(
        self, api_url: str, calls: int, client: str, ca_bundle: str | None = None
    ) -> dict[str, Any]:
        """``calls`` sequential token checks through one client; the wall time.

        ``ca_bundle`` is the certificate of an HTTPS stand-in: both clients
        trust it the way a deployment trusts a private CA (``REQUESTS_CA_BUNDLE``).
        """
        if ca_bundle:
            os.environ["REQUESTS_CA_BUNDLE"] = ca_bundle
        else:
            os.environ.pop("REQUESTS_CA_BUNDLE", None)
        verify = self._authy_verifier(api_url, client)
        accepted = 0
        cpu = time.process_time()
        began = time.perf_counter()
        for i in range(calls):
            accepted += bool(verify(str(1000 + i % 7), "0123456"))
        seconds = time.perf_counter() - began
        cpu = time.process_time() - cpu
        return {"seconds": seconds, "cpu": cpu, "calls": calls, "accepted": accepted}

    def _authy_verifier(self, api_url: str, client: str):
        cache = self.sessions.setdefault("_authy", {})
        if (api_url, client) not in cache:
            if client == "authy2fa":
                from django_authy2fa.clients.authy import AuthyClient

                ours = AuthyClient("bench-api-key", api_url=api_url)
                cache[api_url, client] = ours.verify_token
            else:
                from authy.api import AuthyApiClient

                official = AuthyApiClient("bench-api-key", api_uri=api_url)
                cache[api_url, client] = lambda authy_id, token: official.tokens.verify(
                    authy_id, token
                ).ok()
        return cache[api_url, client]

    def versions(self) -> dict[str, Any]:
        from importlib.metadata import version

        from django.db import connection

        info = {
            name: version(name)
            for name in ("django", "django-otp", "authy", "requests", "gunicorn", "psycopg")
        }
        info["database"] = connection.vendor
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SHOW server_version")
                info["database_version"] = "PostgreSQL " + cursor.fetchone()[0]
            else:
                info["database_version"] = f"SQLite {connection.Database.sqlite_version}"
        from django.contrib.auth.hashers import get_hasher

        hasher = get_hasher()
        iterations = getattr(hasher, "iterations", None)
        info["hasher"] = (
            f"{hasher.algorithm} ({iterations} iterations)" if iterations else hasher.algorithm
        )
        return info


def _drop_deleted_cookies(client) -> None:
    """Forget the cookies a response deleted, as a browser does.

    Django's test client keeps a deleted cookie (an empty value, already
    expired) and sends it with every later request, which a browser would not.
    """
    for name in [name for name, morsel in client.cookies.items() if not morsel.value]:
        del client.cookies[name]


def _password() -> str:
    from .identities import PASSWORD

    return PASSWORD


def _expect(response, status: int, what: str):
    # The send page redirects even when it refuses (cooldown, quota) and says
    # why in this header.
    refused = response.get("X-Authy2FA-Status")
    if response.status_code != status or refused:
        raise RuntimeError(
            f"{what}: expected HTTP {status}, got {response.status_code} {refused or ''}"
        )
    return response


_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def _queries(captured) -> int:
    """Statements sent, not counting the transaction control Django logs as well."""
    return sum(
        1 for q in captured.captured_queries if not q["sql"].lstrip().upper().startswith(_CONTROL)
    )


_TABLE = re.compile(r'(?:FROM|INTO|UPDATE)\s+"?([A-Za-z0-9_]+)"?', re.IGNORECASE)


def _statement(sql: str) -> str:
    """``SELECT auth_user``: the kind of statement and the first table it names."""
    verb = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "?"
    if verb in _CONTROL:
        return verb
    table = _TABLE.search(sql)
    return f"{verb} {table[1] if table else '?'}"


def _short(sql: str, limit: int = 160) -> str:
    return sql if len(sql) <= limit else sql[: limit - 1] + "…"


def _explain(sql: str) -> list[str]:
    from django.db import connection, transaction

    prefix = "EXPLAIN " if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN "
    # EXPLAIN without ANALYZE plans the statement without running it; the
    # transaction is rolled back anyway.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(prefix + sql)
        rows = [" ".join(str(c) for c in row) for row in cursor.fetchall()]
        transaction.set_rollback(True)
    return rows


def main() -> None:
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 - lives as long as the process

    import django

    django.setup()
    worker = Worker(os.environ["BENCH_CONFIG"])
    protocol.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        message = json.loads(line)
        if message["cmd"] == "quit":
            break
        try:
            answer = {"ok": getattr(worker, message["cmd"])(**message.get("args", {}))}
        except Exception:
            answer = {"error": traceback.format_exc()}
        protocol.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()
