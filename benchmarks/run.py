"""Run every benchmark and write the report: ``python -m benchmarks.run``.

The runner starts one worker process per configuration (``benchmarks.worker``)
and interleaves them round by round, rotating the order each round, so that
the noise of a shared two-core machine falls on every configuration alike.
Ratios are computed within each round and their median reported with the
spread (min-max) over rounds. No number here is checked against a goal by an
assertion: the report says whether each goal was met.

``--quick`` runs every benchmark with tiny counts (a smoke run of the harness).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_DATABASE = os.environ.get("BENCH_PG_DATABASE", "authy2fa_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")

#: Configurations of the middleware benchmark, in report order.
HOT_CONFIGS = ["plain", "authy2fa", "otp", "authy2fa_redis"]
LABELS = {
    "plain": "no 2FA (baseline)",
    "authy2fa": "django-authy2fa",
    "otp": "django-otp OTPMiddleware + TOTP device",
    "authy2fa_redis": "django-authy2fa, Redis cache",
    "official": "official `authy` package",
}


@dataclass(frozen=True)
class Plan:
    """How much of everything to run.

    Many short rounds rather than a few long ones: on a shared machine a burst
    of someone else's work then spoils one round's ratio, not the median.
    """

    small_users: int = 1_000
    large_users: int = 1_000_000
    hot_rounds: int = 25
    hot_requests: int = 200
    query_samples: int = 20
    server_rounds: int = 8
    server_seconds: int = 2
    # A login round takes about a second and its ratio moves the most from
    # round to round: many rounds narrow the median where it is read against a goal.
    login_rounds: int = 61
    fast_login_rounds: int = 61
    check_iterations: int = 300
    authy_rounds: int = 15
    authy_calls: int = 1_000
    large_hot_rounds: int = 15
    large_login_rounds: int = 61
    instruction_requests: int = 200
    instruction_logins: int = 30


QUICK = Plan(
    small_users=200,
    large_users=400,
    hot_rounds=1,
    hot_requests=20,
    query_samples=2,
    server_rounds=1,
    server_seconds=1,
    login_rounds=1,
    fast_login_rounds=1,
    check_iterations=3,
    authy_rounds=1,
    authy_calls=20,
    large_hot_rounds=1,
    large_login_rounds=1,
    instruction_requests=5,
    instruction_logins=3,
)


# -- processes ---------------------------------------------------------------------------


class Worker:
    """One configuration's process; :meth:`call` sends a command and waits for the answer."""

    def __init__(
        self, name: str, config: str, env: dict[str, str], wrapper: list[str] | None = None
    ) -> None:
        self.name = name
        self.process = subprocess.Popen(  # noqa: S603 - our own worker, under valgrind or not
            [*(wrapper or []), sys.executable, "-m", "benchmarks.worker"],
            cwd=ROOT,
            env={
                **env,
                "BENCH_CONFIG": config,
                "DJANGO_SETTINGS_MODULE": f"benchmarks.settings_{config}",
            },
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._read()

    def _read(self) -> Any:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.name} exited (code {self.process.poll()})")
        return json.loads(line)

    def call(self, cmd: str, **args: Any) -> Any:
        self.process.stdin.write(json.dumps({"cmd": cmd, "args": args}) + "\n")
        self.process.stdin.flush()
        answer = self._read()
        if "error" in answer:
            raise RuntimeError(f"worker {self.name}, {cmd}:\n{answer['error']}")
        return answer["ok"]

    def stop(self, timeout: float = 10) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.process.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
            self.process.stdin.close()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Server:
    """gunicorn serving one configuration on a free loopback port."""

    def __init__(self, config: str, env: dict[str, str], workers: int = 1) -> None:
        self.config = config
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/protected/"
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments, the venv's gunicorn
            [
                str(gunicorn),
                "benchmarks.wsgi:application",
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env={
                **env,
                "BENCH_CONFIG": config,
                "DJANGO_SETTINGS_MODULE": f"benchmarks.settings_{config}",
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def status(self, cookie: str) -> int:
        # A loopback http URL built above, never user input.
        request = urllib.request.Request(self.url, headers={"Cookie": f"sessionid={cookie}"})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                return response.status
        except urllib.error.HTTPError as err:
            return err.code

    def wait_ready(self, cookie: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if self.status(cookie) == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn ({self.config}) did not serve the protected page")

    def cpu_seconds(self) -> float:
        """CPU time used so far by gunicorn's master and workers (Linux /proc)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                # Fields after the command name, which may contain spaces.
                fields = stat.read_text().rsplit(")", 1)[1].split()
                pid, ppid = int(stat.parent.name), int(fields[1])
                if self.process.pid in (pid, ppid):
                    total += int(fields[11]) + int(fields[12])  # utime + stime
        return total / ticks

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- statistics ----------------------------------------------------------------------------


def summary(values: list[float]) -> dict[str, float]:
    """Median and spread of a series."""
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def rotated(items: list[str], by: int) -> list[str]:
    """The round's order: A B C, then B C A, then C A B ..."""
    by %= len(items)
    return items[by:] + items[:by]


# -- benchmarks ----------------------------------------------------------------------------


def users_at(base: int, offset: int) -> str:
    from benchmarks.identities import username

    return username(base + offset)


def middleware_in_process(
    workers: dict[str, Worker],
    configs: list[str],
    base: int,
    rounds: int,
    requests: int,
    samples: int,
) -> dict[str, Any]:
    """Requests per second of the protected page, interleaved; queries per request."""
    hot_users = {c: users_at(base, HOT_OFFSET + i) for i, c in enumerate(HOT_CONFIGS)}
    cookies = {c: workers[c].call("session", username=hot_users[c])["cookie"] for c in configs}
    for c in configs:  # warm-up: imports, caches, the database's buffers
        workers[c].call("hot", username=hot_users[c], requests=max(requests // 5, 10))
    rps: dict[str, list[float]] = {c: [] for c in configs}
    ratios: dict[str, list[float]] = {c: [] for c in configs}
    cpu: dict[str, list[float]] = {c: [] for c in configs}
    cpu_ratios: dict[str, list[float]] = {c: [] for c in configs}
    for r in range(rounds):
        this_round, this_cpu = {}, {}
        for c in rotated(configs, r):
            result = workers[c].call("hot", username=hot_users[c], requests=requests)
            if result["failures"]:
                raise RuntimeError(f"{c}: {result['failures']} requests were not answered 200")
            this_round[c] = result["requests"] / result["seconds"]
            this_cpu[c] = result["cpu"] / result["requests"]
        for c in configs:
            rps[c].append(this_round[c])
            ratios[c].append(this_round[c] / this_round["plain"])
            cpu[c].append(this_cpu[c])
            cpu_ratios[c].append(this_cpu[c] / this_cpu["plain"])
    queries = {
        c: workers[c].call("hot_queries", username=hot_users[c], requests=samples) for c in configs
    }
    return {
        "users": hot_users,
        "cookies": cookies,
        "rps": {c: summary(v) for c, v in rps.items()},
        "ratio": {c: summary(v) for c, v in ratios.items()},
        "cpu": {c: summary(v) for c, v in cpu.items()},
        "cpu_ratio": {c: summary(v) for c, v in cpu_ratios.items()},
        "queries": {
            c: {
                "counts": sorted(set(q["counts"])),
                "sql": q["sql"],
                "calls": statistics.median(q["calls"]),
                "cache_reads": sorted(set(q["cache_reads"])),
            }
            for c, q in queries.items()
        },
        "state_read": {
            c: workers[c].call("state_read", username=hot_users[c], reads=2_000)["seconds"]
            for c in configs
            if c.startswith("authy2fa")
        },
    }


def callgrind_library(directory: Path) -> tuple[Path | None, str]:
    """Build ``callgrind_control.c``: the library's path, or None and why not."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if not shutil.which("valgrind"):
        return None, "valgrind is not installed"
    if not compiler:
        return None, "no C compiler to build the counting switch"
    library = directory / "libbench_callgrind.so"
    source = ROOT / "benchmarks" / "callgrind_control.c"
    built = subprocess.run(  # noqa: S603 - a fixed command on our own source file
        [compiler, "-O2", "-shared", "-fPIC", "-o", str(library), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    if built.returncode:
        return None, f"the counting switch did not build ({built.stderr.strip().splitlines()[-1]})"
    return library, ""


def middleware_instructions(
    configs: list[str],
    env: dict[str, str],
    library: Path,
    users: dict[str, str],
    requests: int,
    directory: Path,
) -> dict[str, Any]:
    """Instructions per request of the protected page, counted by callgrind.

    One worker per configuration under valgrind; counting covers only the
    timed loop. The count is repeatable whatever else the machine is doing,
    which the throughput rows are not. It covers this process only: the
    database server's work is not in it (the same queries in every
    configuration but django-otp's), nor a Redis server's.
    """
    per_request: dict[str, float] = {}
    for c in configs:
        output = directory / f"callgrind.{c}.out"
        worker = _callgrind_worker(f"{c}-callgrind", c, env, library, output)
        try:
            worker.call("session", username=users[c])
            result = worker.call("instructions", username=users[c], requests=requests)
        finally:
            worker.stop(timeout=120)
        if result["failures"]:
            raise RuntimeError(f"{c}: {result['failures']} requests were not answered 200")
        per_request[c] = _callgrind_total(output) / requests
    return {
        "requests": requests,
        "per_request": per_request,
        "ratio": {c: per_request[c] / per_request["plain"] for c in configs},
    }


def login_instructions(
    env: dict[str, str], library: Path, usernames: list[str], directory: Path
) -> dict[str, Any]:
    """Instructions per sign-in (MD5 hasher), counted by callgrind, this app and plain Django.

    The same users in both configurations, each worker under valgrind with
    counting only around each login's requests. The count is this process's
    (Django, this app, the database driver); the database server's work is
    not in it.
    """
    per_login: dict[str, float] = {}
    for c in ("plain", "authy2fa"):
        output = directory / f"callgrind.login.{c}.out"
        worker = _callgrind_worker(f"{c}-login-callgrind", c, env, library, output)
        try:
            result = worker.call("login_instructions", usernames=usernames)
        finally:
            worker.stop(timeout=120)
        if result["failures"]:
            raise RuntimeError(f"{c}: {result['failures']} logins did not reach the page")
        per_login[c] = _callgrind_total(output) / result["logins"]
    return {
        "logins": len(usernames) - 1,
        "per_login": per_login,
        "ratio": per_login["authy2fa"] / per_login["plain"],
    }


def _callgrind_worker(
    name: str, config: str, env: dict[str, str], library: Path, output: Path
) -> Worker:
    """A worker under callgrind, counting nothing until it switches counting on."""
    wrapper = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        "--collect-atstart=no",
        f"--callgrind-out-file={output}",
        f"--log-file={output.with_suffix('.log')}",
    ]
    return Worker(
        name,
        config,
        {**env, "BENCH_CALLGRIND_LIBRARY": str(library), "PYTHONHASHSEED": "0"},
        wrapper=wrapper,
    )


def _callgrind_total(output: Path) -> int:
    match = re.search(r"^totals: (\d+)", output.read_text(), re.MULTILINE)
    if not match:
        raise RuntimeError(f"no instruction total in {output}")
    return int(match.group(1))


def middleware_server(
    servers: dict[str, Server], cookies: dict[str, str], rounds: int, seconds: int
) -> dict[str, Any]:
    """wrk against gunicorn, one configuration at a time, rotating the order each round."""
    configs = list(servers)
    for c in configs:
        servers[c].wait_ready(cookies[c])
        _wrk(servers[c].url, cookies[c], 1)  # warm-up
    rps: dict[str, list[float]] = {c: [] for c in configs}
    ratios: dict[str, list[float]] = {c: [] for c in configs}
    cpu: dict[str, list[float]] = {c: [] for c in configs}
    cpu_ratios: dict[str, list[float]] = {c: [] for c in configs}
    for r in range(rounds):
        this_round, this_cpu = {}, {}
        for c in rotated(configs, r):
            before = servers[c].cpu_seconds()
            result = _wrk(servers[c].url, cookies[c], seconds)
            used = servers[c].cpu_seconds() - before
            if result["errors"]:
                raise RuntimeError(f"{c}: wrk saw {result['errors']} failed requests")
            this_round[c] = result["rps"]
            this_cpu[c] = used / result["requests"]
        for c in configs:
            rps[c].append(this_round[c])
            ratios[c].append(this_round[c] / this_round["plain"])
            cpu[c].append(this_cpu[c])
            cpu_ratios[c].append(this_cpu[c] / this_cpu["plain"])
    return {
        "rps": {c: summary(v) for c, v in rps.items()},
        "ratio": {c: summary(v) for c, v in ratios.items()},
        "cpu": {c: summary(v) for c, v in cpu.items()},
        "cpu_ratio": {c: summary(v) for c, v in cpu_ratios.items()},
    }


WRK_ARGS = ["-t1", "-c4"]


def _wrk(url: str, cookie: str, seconds: int) -> dict[str, float]:
    command = ["wrk", *WRK_ARGS, f"-d{seconds}s", "-H", f"Cookie: sessionid={cookie}", url]
    # wrk from the PATH, as `make bench` installs it; fixed arguments, a loopback URL.
    output = subprocess.run(  # noqa: S603
        command,
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    ).stdout
    match = re.search(r"Requests/sec:\s+([0-9.]+)", output)
    requests = re.search(r"([0-9]+) requests in", output)
    if match is None or requests is None or not int(requests[1]):
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    errors = 0
    for pattern in (
        r"Non-2xx or 3xx responses: (\d+)",
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
    ):
        found = re.search(pattern, output)
        if found:
            errors += sum(int(g) for g in found.groups())
    return {
        "rps": float(match[1]),
        "requests": int(requests[1]),
        "errors": errors,
    }


#: Offsets from a scale's base user: each benchmark signs in its own users.
HOT_OFFSET, LOGIN_OFFSET, CALLGRIND_OFFSET, CALLGRIND_LOGIN_OFFSET = 1, 10, -10, -20


def login_users(rounds: int) -> int:
    """Users one login benchmark needs: one per login, for each of the two configurations."""
    return 2 * (rounds + 1)


def login_path(
    workers: dict[str, Worker], pair: tuple[str, str], first: int, rounds: int
) -> dict[str, Any]:
    """A complete sign-in per configuration per round, each by a user not signed in before.

    ``first`` is the first user's index. A new user every time means no
    send cooldown or quota of an earlier round can refuse a later one.
    """
    plain, ours = pair
    pool = rounds + 1
    users = {
        plain: [users_at(first, k) for k in range(pool)],
        ours: [users_at(first, pool + k) for k in range(pool)],
    }
    queries, statements = {}, {}
    for c in pair:  # one untimed login with query counts (also a warm-up)
        answer = workers[c].call("login", username=users[c][0], count_queries=True)
        queries[c] = dict(zip(answer["steps"], answer["queries"], strict=True))
        statements[c] = dict(zip(answer["steps"], answer["statements"], strict=True))
    totals: dict[str, list[float]] = {c: [] for c in pair}
    steps: dict[str, dict[str, list[float]]] = {c: {} for c in pair}
    ratios: list[float] = []
    for r in range(rounds):
        this_round = {}
        for c in rotated(list(pair), r):
            answer = workers[c].call("login", username=users[c][r + 1])
            this_round[c] = sum(answer["seconds"])
            for name, seconds in zip(answer["steps"], answer["seconds"], strict=True):
                steps[c].setdefault(name, []).append(seconds)
        for c in pair:
            totals[c].append(this_round[c])
        ratios.append(this_round[ours] / this_round[plain])
    return {
        "total": {c: summary(v) for c, v in totals.items()},
        "steps": {c: {s: summary(v) for s, v in per.items()} for c, per in steps.items()},
        "queries": queries,
        "statements": statements,
        "ratio": summary(ratios),
    }


def checks(worker: Worker, base: int, iterations: int, explain: bool) -> dict[str, Any]:
    answer = worker.call(
        "checks", username=users_at(base, 0), iterations=iterations, explain=explain
    )
    for kind in ("recovery", "totp"):
        answer[kind]["seconds"] = summary(answer[kind]["seconds"])
        answer[kind]["queries"] = sorted(set(answer[kind]["queries"]))
    return answer


def authy_client(worker: Worker, rounds: int, calls: int) -> dict[str, Any]:
    """This app's pooled client against the official package, interleaved, on one local server.

    Twice: over plain HTTP (a new connection costs almost nothing on loopback)
    and over HTTPS, as Authy's API is served (a new connection is a TLS handshake).
    """
    return {
        "calls": calls,
        "http": _authy_transport(worker, rounds, calls, tls=False),
        "https": _authy_transport(worker, rounds, calls, tls=True),
    }


def _authy_transport(worker: Worker, rounds: int, calls: int, *, tls: bool) -> dict[str, Any]:
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "benchmarks.authy_server", *(["--tls"] if tls else [])],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(server.stdout.readline())
        ca_bundle = server.stdout.readline().strip() if tls else None
        url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        clients = ["authy2fa", "official"]
        for c in clients:
            worker.call("authy", api_url=url, calls=20, client=c, ca_bundle=ca_bundle)  # warm-up
        per_second: dict[str, list[float]] = {c: [] for c in clients}
        cpu: dict[str, list[float]] = {c: [] for c in clients}
        ratios, cpu_ratios = [], []
        for r in range(rounds):
            this_round, this_cpu = {}, {}
            for c in rotated(clients, r):
                answer = worker.call(
                    "authy", api_url=url, calls=calls, client=c, ca_bundle=ca_bundle
                )
                if answer["accepted"] != calls:
                    raise RuntimeError(
                        f"{c}: {calls - answer['accepted']} valid tokens were refused"
                    )
                this_round[c] = calls / answer["seconds"]
                this_cpu[c] = answer["cpu"] / calls
                per_second[c].append(this_round[c])
                cpu[c].append(this_cpu[c])
            ratios.append(this_round["authy2fa"] / this_round["official"])
            cpu_ratios.append(this_cpu["official"] / this_cpu["authy2fa"])
        return {
            "per_second": {c: summary(v) for c, v in per_second.items()},
            "ratio": summary(ratios),
            "cpu": {c: summary(v) for c, v in cpu.items()},
            "cpu_ratio": summary(cpu_ratios),
        }
    finally:
        server.stdin.close()
        server.wait(timeout=10)


# -- the environment -----------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        memory = f"{kib / 1024 / 1024:.0f} GiB"
    wrk = ""
    if shutil.which("wrk"):
        wrk = (
            subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)  # noqa: S607
            .stdout.split("[")[0]
            .strip()
        )
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "wrk": wrk,
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def postgres_url() -> tuple[str | None, str]:
    """A new, empty benchmark database (an earlier one is dropped), or None and why not.

    Always new: the first figures are taken at 1,000 users, which a database
    kept from an earlier run (with 1,000,000) could not give.
    """
    try:
        import psycopg
    except ImportError:
        return None, "psycopg is not installed"
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{PG_DATABASE}"')
    except psycopg.Error as err:
        first_line = str(err).strip().splitlines()[0]
        return None, f"PostgreSQL is not reachable ({type(err).__name__}: {first_line})"
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + PG_DATABASE, ""


def drop_postgres() -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')


def redis_available() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except Exception:
        return False


# -- main ----------------------------------------------------------------------------------


@dataclass
class Run:
    plan: Plan
    results: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny counts: check the harness only")
    parser.add_argument("--report", type=Path, help="write the Markdown report here")
    parser.add_argument("--json", type=Path, help="write the raw results here")
    parser.add_argument(
        "--sqlite", action="store_true", help="do not use PostgreSQL (no scale rows)"
    )
    parser.add_argument(
        "--keep-db",
        action="store_true",
        help="leave the PostgreSQL database in place at the end (each run builds a new one)",
    )
    args = parser.parse_args(argv)

    run = Run(QUICK if args.quick else Plan())
    plan = run.plan
    began = time.perf_counter()
    started_at = dt.datetime.now(dt.timezone.utc)
    results = run.results
    results["machine"] = machine()
    results["plan"] = plan.__dict__

    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env["BENCH_RUN_ID"] = f"{int(time.time())}-{os.getpid()}"
    database_url, why_not = (None, "--sqlite was given") if args.sqlite else postgres_url()
    tmp = tempfile.TemporaryDirectory(prefix="authy2fa-bench-")
    env["BENCH_DATABASE_URL"] = database_url or f"sqlite:///{Path(tmp.name) / 'bench.sqlite3'}"
    if not database_url:
        run.notes.append(f"Scale rows skipped: {why_not}. The other rows ran on SQLite.")
    configs = ["plain", "authy2fa", "otp"]
    if redis_available():
        env["BENCH_REDIS_URL"] = REDIS_URL
        configs.append("authy2fa_redis")
    else:
        run.notes.append("Redis is not reachable: the Redis-cache row was skipped.")
    fast_env = {**env, "BENCH_FAST_HASHER": "1"}

    workers: dict[str, Worker] = {}
    servers: dict[str, Server] = {}
    try:
        _log("starting workers")
        for c in configs:
            workers[c] = Worker(c, c, env)
        # Building users, the checks and the Authy client run in a worker of their
        # own: a measured worker that had run them would carry their objects in
        # its heap (each garbage collection longer) and the baseline would not.
        workers["tasks"] = Worker("tasks", "authy2fa", env)
        workers["plain-md5"] = Worker("plain-md5", "plain", fast_env)
        workers["authy2fa-md5"] = Worker("authy2fa-md5", "authy2fa", fast_env)
        setup = workers["tasks"].call("setup", users=plan.small_users)
        results["setup"] = setup
        results["versions"] = workers["tasks"].call("versions")
        results["fast_hasher"] = workers["authy2fa-md5"].call("versions")["hasher"]
        callgrind, why_no_callgrind = callgrind_library(Path(tmp.name))
        if not callgrind:
            run.notes.append(f"Instruction counts skipped: {why_no_callgrind}.")
        use_server = bool(shutil.which("wrk"))
        if not use_server:
            run.notes.append("wrk is not installed: the real-server rows were skipped.")
        else:
            servers = {c: Server(c, env) for c in configs}

        scales = [
            ("small", plan.small_users, plan.small_users // 2, plan.hot_rounds, plan.login_rounds)
        ]
        if database_url:
            scales.append(
                (
                    "large",
                    plan.large_users,
                    plan.large_users // 2,
                    plan.large_hot_rounds,
                    plan.large_login_rounds,
                )
            )
        for key, size, base, hot_rounds, login_rounds in scales:
            if key == "large":
                _log(f"building {size:,} users")
                results["large_build"] = workers["tasks"].call("grow", users=size)
            scale: dict[str, Any] = {"users": size, "base": base}
            results[key] = scale
            _log(f"{size:,} users: middleware, in process")
            scale["hot"] = middleware_in_process(
                workers, configs, base, hot_rounds, plan.hot_requests, plan.query_samples
            )
            if servers:
                _log(f"{size:,} users: middleware, gunicorn + wrk")
                scale["server"] = middleware_server(
                    servers, scale["hot"]["cookies"], plan.server_rounds, plan.server_seconds
                )
            if key == "small" and callgrind:
                _log(f"{size:,} users: middleware, instructions counted by callgrind")
                scale["instructions"] = middleware_instructions(
                    configs,
                    env,
                    callgrind,
                    {c: users_at(base, CALLGRIND_OFFSET + i) for i, c in enumerate(configs)},
                    plan.instruction_requests,
                    Path(tmp.name),
                )
            if key == "small" and callgrind:
                _log(f"{size:,} users: login path (MD5), instructions counted by callgrind")
                scale["login_instructions"] = login_instructions(
                    fast_env,
                    callgrind,
                    [
                        users_at(base, CALLGRIND_LOGIN_OFFSET - k)
                        for k in range(plan.instruction_logins + 1)
                    ],
                    Path(tmp.name),
                )
            _log(f"{size:,} users: login path")
            scale["login"] = login_path(
                workers, ("plain", "authy2fa"), base + LOGIN_OFFSET, login_rounds
            )
            fast_first = base + LOGIN_OFFSET + login_users(login_rounds)
            fast_users = [
                users_at(fast_first, k) for k in range(login_users(plan.fast_login_rounds))
            ]
            workers["authy2fa-md5"].call("rehash", usernames=fast_users)
            scale["login_md5"] = login_path(
                workers_fast(workers), ("plain", "authy2fa"), fast_first, plan.fast_login_rounds
            )
            _log(f"{size:,} users: recovery code and TOTP checks")
            scale["checks"] = checks(workers["tasks"], base, plan.check_iterations, explain=True)
            if key == "small":
                _log("Authy client")
                results["authy"] = authy_client(
                    workers["tasks"], plan.authy_rounds, plan.authy_calls
                )
    finally:
        for server in servers.values():
            server.stop()
        for worker in workers.values():
            worker.stop()
        if database_url and not args.keep_db:
            drop_postgres()
        tmp.cleanup()

    results["seconds"] = time.perf_counter() - began
    results["started_at"] = started_at.strftime("%Y-%m-%d %H:%M UTC")
    results["notes"] = run.notes
    results["quick"] = args.quick
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    if args.report:
        from benchmarks.report import render

        args.report.write_text(render(results, quick=args.quick))
    _log(f"done in {results['seconds']:.0f} s")
    return 0


def workers_fast(workers: dict[str, Worker]) -> dict[str, Worker]:
    """The MD5-hasher workers under the names login_path expects."""
    return {"plain": workers["plain-md5"], "authy2fa": workers["authy2fa-md5"]}


_STARTED = time.monotonic()


def _log(message: str) -> None:
    print(f"[bench {time.monotonic() - _STARTED:5.0f} s] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
