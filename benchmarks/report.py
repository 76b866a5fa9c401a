# ruff: noqa: RUF001 - the report is typeset (multiplication signs, en dashes).
"""Turn the results of :mod:`benchmarks.run` into ``docs/benchmarks.md``.

Every figure and every "met / not met" comes from the results of the run;
the only fixed text is the method, the goals, and where in the code a
measured cost comes from.

``python -m benchmarks.report build/benchmarks.json docs/benchmarks.md``
writes the report again from the raw results ``make bench`` keeps, without
measuring anything.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

GOALS = {
    "hot_ratio": 0.97,
    "login_ratio": 1.10,
    "authy_ratio": 2.0,
    # "Flat": a 1,000,000-user ratio within this fraction of the 1,000-user one.
    "flat": 0.15,
}

NAMES = {
    "plain": "no 2FA (baseline)",
    "authy2fa": "django-authy2fa",
    "otp": "django-otp (OTPMiddleware + TOTP device)",
    "authy2fa_redis": "django-authy2fa, Redis cache",
}
WHERE = {"hot": "in process", "server": "gunicorn + wrk"}


def render(results: dict[str, Any], *, quick: bool = False) -> str:
    out: list[str] = []
    w = out.append
    w("# Benchmarks\n")
    w(
        "Written by `make bench` (`python -m benchmarks.run --report docs/benchmarks.md`); "
        "do not edit by hand. The goals come from the issue that asked for these benchmarks; "
        "no test asserts on a timing.\n"
    )
    if quick:
        w("> **Quick run (tiny counts) to check the harness: these numbers mean nothing.**\n")
    w(
        f"Run on {results['started_at']}, {results['seconds'] / 60:.1f} minutes in all, on a "
        f"machine shared with other work (load average {results['machine']['load']} at the "
        f"start): read the spreads, not only the medians.\n"
    )
    _summary(w, results)
    _machine(w, results)
    _method(w, results)
    _middleware(w, results)
    _login(w, results)
    _checks(w, results)
    _authy(w, results)
    _scale(w, results)
    if results["notes"]:
        w("## Skipped\n")
        for note in results["notes"]:
            w(f"- {note}")
        w("")
    return "\n".join(out).rstrip() + "\n"


# -- formatting ------------------------------------------------------------------------------


def _n(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _x(value: float) -> str:
    return f"{value:.2f}×"


def _spread(s: dict[str, float], fmt=_n) -> str:
    return f"{fmt(s['min'])}–{fmt(s['max'])}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f}"


def _fig(value: float) -> str:
    return _n(value) if abs(value) >= 100 else f"{value:.3g}"


def _mi(instructions: float) -> str:
    return f"{instructions / 1e6:.3f}"


def _yes(met: bool) -> str:
    return "**yes**" if met else "**no**"


def _table(w, header: list[str], rows: list[list[str]]) -> None:
    w("| " + " | ".join(header) + " |")
    w("|" + "|".join(" --- " for _ in header) + "|")
    for row in rows:
        w("| " + " | ".join(row) + " |")
    w("")


def _scales(results: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    scales = [(f"{results['small']['users']:,} users", results["small"])]
    if results.get("large"):
        scales.append((f"{results['large']['users']:,} users", results["large"]))
    return scales


def _statements(listed: list[str]) -> str:
    return ", ".join(f"{n}× {s}" for s, n in Counter(listed).most_common())


# -- verdicts --------------------------------------------------------------------------------


def _verdicts(results: dict[str, Any]) -> list[list[str]]:
    rows = []
    hasher = results["versions"]["hasher"].split(" ")[0]
    for label, scale in _scales(results):
        for where in ("hot", "server"):
            if where not in scale:
                continue
            ratio = scale[where]["ratio"]["authy2fa"]
            cpu = scale[where]["cpu_ratio"]["authy2fa"]
            rows.append(
                [
                    f"Middleware, {WHERE[where]}, {label}",
                    f"≥ {GOALS['hot_ratio']:.2f}× the no-2FA throughput",
                    f"{_x(ratio['median'])} (rounds {_spread(ratio, _x)}); "
                    f"CPU per request {_x(cpu['median'])} of the baseline's",
                    _yes(ratio["median"] >= GOALS["hot_ratio"]),
                ]
            )
        if "instructions" in scale:
            counted = scale["instructions"]
            ratio = counted["ratio"]["authy2fa"]
            rows.append(
                [
                    f"Middleware, instructions per request (callgrind), {label}",
                    f"≥ {GOALS['hot_ratio']:.2f}× the no-2FA throughput: the app's own work "
                    f"at most {1 / GOALS['hot_ratio']:.3f}× the baseline's instructions",
                    f"{ratio:.3f}× ({_mi(counted['per_request']['authy2fa'])} against "
                    f"{_mi(counted['per_request']['plain'])} million), so at least "
                    f"{1 / ratio:.3f}× the throughput; django-otp {counted['ratio']['otp']:.3f}×",
                    _yes(ratio <= 1 / GOALS["hot_ratio"]),
                ]
            )
        for where in ("hot", "server"):
            if where not in scale:
                continue
            ours, peer = scale[where]["ratio"]["authy2fa"], scale[where]["ratio"]["otp"]
            rows.append(
                [
                    f"Ahead of django-otp, {WHERE[where]}, {label}",
                    "more requests/s than the peer",
                    f"{_x(ours['median'])} against {_x(peer['median'])} of the baseline",
                    _yes(ours["median"] > peer["median"]),
                ]
            )
        q = scale["hot"]["queries"]
        ours, peer = _added(q, "authy2fa"), _added(q, "otp")
        rows.append(
            [
                f"Queries added per request, {label}",
                "this app 0, the peer 1",
                f"this app {ours}, the peer {peer}",
                _yes(ours == "0" and peer == "1"),
            ]
        )
        for key, name in (("login", hasher), ("login_md5", "MD5")):
            login = scale[key]["ratio"]
            rows.append(
                [
                    f"Login path ({name}), {label}",
                    f"≤ {GOALS['login_ratio']:.2f}× a plain Django login"
                    + ("" if key == "login" else " (shown; the goal is for the real hasher)"),
                    f"{_x(login['median'])} (rounds {_spread(login, _x)})",
                    _yes(login["median"] <= GOALS["login_ratio"]),
                ]
            )
        for kind, title in (("recovery", "Recovery-code check"), ("totp", "TOTP check")):
            check = scale["checks"][kind]
            indexed = _index_only(check.get("plans", []))
            queries = "/".join(map(str, check["queries"]))
            rows.append(
                [
                    f"{title}, {label}",
                    "one indexed lookup",
                    f"{queries} quer{'y' if check['queries'] == [1] else 'ies'}, "
                    f"{'all through an index' if indexed else 'not all through an index'}; "
                    f"{_us(check['seconds']['median'])} µs",
                    _yes(check["queries"] == [1] and indexed),
                ]
            )
    if "authy" in results:
        for transport, label in (("http", "plain HTTP"), ("https", "HTTPS, as Authy serves it")):
            ratio = results["authy"][transport]["ratio"]
            rows.append(
                [
                    f"Authy client, {results['authy']['calls']:,} sequential verify calls, {label}",
                    f"≥ {GOALS['authy_ratio']:.0f}× the official package",
                    f"{_x(ratio['median'])} (rounds {_spread(ratio, _x)})",
                    _yes(ratio["median"] >= GOALS["authy_ratio"]),
                ]
            )
    flat = _flatness(results)
    if flat:
        work = [row for row in flat if row[5]]
        timings = [row for row in flat if not row[5] and row[4] is not None]
        worst = max(timings, key=lambda row: abs(row[3] - 1)) if timings else None
        slow = [row for row in timings if not row[4]]
        rows.append(
            [
                f"Scale: {results['small']['users']:,} → {results['large']['users']:,} users",
                "flat: the same work (queries, function calls) through indexes only; "
                f"timing ratios to the baseline within ±{GOALS['flat']:.0%}",
                f"work {'identical' if all(r[4] for r in work) else 'changed'}, "
                f"{'index lookups only' if _same_queries(results) else 'not only index lookups'}"
                + (f"; timings: largest change {_x(worst[3])} ({worst[0]})" if worst else ""),
                (
                    f"work: {_yes(all(r[4] for r in work) and _same_queries(results))}; "
                    f"timings: **no** ({len(slow)} of {len(timings)} outside ±15%)"
                )
                if slow
                else _yes(all(r[4] for r in work) and _same_queries(results)),
            ]
        )
    return rows


def _added(queries: dict[str, Any], config: str) -> str:
    base, counts = queries["plain"]["counts"], queries[config]["counts"]
    if len(base) != 1 or len(counts) != 1:
        return f"{counts} against {base}"
    return str(counts[0] - base[0])


def _index_only(plans: list[list[str]]) -> bool:
    """True when every plan reaches its rows through an index (no sequential scan)."""
    if not plans:
        return False
    for plan in plans:
        text = " ".join(plan)
        if "Seq Scan" in text or ("SCAN " in text and "USING" not in text):
            return False
        if not any(
            "Index" in line or "USING INDEX" in line or "PRIMARY KEY" in line for line in plan
        ):
            return False
    return True


def _same_queries(results: dict[str, Any]) -> bool:
    small, large = results["small"], results.get("large")
    if not large:
        return True
    return (
        small["hot"]["queries"]["authy2fa"]["counts"]
        == large["hot"]["queries"]["authy2fa"]["counts"]
        and small["login"]["queries"]["authy2fa"] == large["login"]["queries"]["authy2fa"]
        and all(
            small["checks"][k]["queries"] == large["checks"][k]["queries"]
            and _index_only(large["checks"][k].get("plans", []))
            for k in ("recovery", "totp")
        )
    )


def _flatness(
    results: dict[str, Any],
) -> list[tuple[str, float, float, float, bool | None, bool]]:
    """(figure, at 1k, at 1M, 1M/1k, flat?, counted work?) for this app's figures.

    Counted work (queries, function calls) must not change at all; timings
    are ratios to a baseline measured in the same rounds, within ±15%, and
    the checks' own timings, which have no baseline, are shown unjudged.
    """
    small, large = results["small"], results.get("large")
    if not large:
        return []
    rows = []

    def add(name: str, a: float, b: float, judged: bool = True) -> None:
        ratio = b / a
        rows.append((name, a, b, ratio, abs(ratio - 1) <= GOALS["flat"] if judged else None, False))

    def same(name: str, a: float, b: float, tolerance: float = 0.0) -> None:
        rows.append((name, a, b, b / a, abs(b / a - 1) <= tolerance, True))

    hot_small, hot_large = small["hot"]["queries"]["authy2fa"], large["hot"]["queries"]["authy2fa"]
    same("middleware: queries per request", hot_small["counts"][0], hot_large["counts"][0])
    # The call count moves by a call or two with the cache's state; 1% is far below any cost.
    same("middleware: Python calls per request", hot_small["calls"], hot_large["calls"], 0.01)
    same(
        "login: queries",
        sum(small["login"]["queries"]["authy2fa"].values()),
        sum(large["login"]["queries"]["authy2fa"].values()),
    )
    for kind in ("recovery", "totp"):
        same(
            f"{kind} check: queries",
            small["checks"][kind]["queries"][0],
            large["checks"][kind]["queries"][0],
        )

    for where in ("hot", "server"):
        if where in small and where in large:
            for key, what in (("ratio", "throughput"), ("cpu_ratio", "CPU per request")):
                add(
                    f"django-authy2fa middleware {WHERE[where]}: {what} ÷ baseline's",
                    small[where][key]["authy2fa"]["median"],
                    large[where][key]["authy2fa"]["median"],
                )
    for key, hasher in (("login", "default hasher"), ("login_md5", "MD5")):
        add(
            f"django-authy2fa login ({hasher}): time ÷ plain login's",
            small[key]["ratio"]["median"],
            large[key]["ratio"]["median"],
        )
    for kind in ("recovery", "totp"):
        add(
            f"{kind} check: µs (no baseline; judged by its plan)",
            small["checks"][kind]["seconds"]["median"] * 1e6,
            large["checks"][kind]["seconds"]["median"] * 1e6,
            judged=False,
        )
    return rows


# -- sections ----------------------------------------------------------------------------------


def _summary(w, results: dict[str, Any]) -> None:
    w("## Goals\n")
    _table(w, ["Benchmark", "Goal", "Measured (median)", "Met"], _verdicts(results))


def _machine(w, results: dict[str, Any]) -> None:
    m, v = results["machine"], results["versions"]
    w("## Machine and versions\n")
    rows = [
        ["CPU", f"{m['cpu']}, {m['cores']} cores"],
        ["Memory", m["memory"]],
        ["OS", m["os"]],
        ["Load average at the start", m["load"]],
        ["Python", m["python"]],
        ["Django", v["django"]],
        ["Database", v["database_version"]],
        ["Password hasher", v["hasher"]],
        ["django-otp (the peer)", v["django-otp"]],
        ["authy (the official client)", v["authy"]],
        ["requests", v["requests"]],
        ["gunicorn", v["gunicorn"]],
        ["wrk", m["wrk"] or "not installed"],
    ]
    _table(w, ["", ""], rows)


def _method(w, results: dict[str, Any]) -> None:
    p = results["plan"]
    w("## Method\n")
    w(
        "- **Configurations.** Three settings modules (`benchmarks/settings_plain.py`, "
        "`settings_authy2fa.py`, `settings_otp.py`) with the same installed apps, database "
        "sessions, password hasher, local-memory cache and protected view; only the middleware "
        "right after `AuthenticationMiddleware` and the authentication backend differ. "
        "`settings_authy2fa_redis.py` is this app with a Redis cache, as docs/deployment.md "
        "recommends for several app servers; it is shown without a goal. Database connections "
        "are persistent (`CONN_MAX_AGE`) everywhere."
    )
    w(
        "- **Verified users.** Each configuration signs its own user in through its real pages "
        "before measuring: this app with the password page, a code from the console provider "
        "and the code page; django-otp with Django's `LoginView`, then a TOTP token checked by "
        "the device and `django_otp.login()`; the baseline with `LoginView`. The protected view "
        "answers 403 unless the user is signed in (and, under django-otp, `is_verified()`), so a "
        "lost session cannot pass for a fast one; every timed request must answer 200."
    )
    w(
        "- **Interleaving.** Each configuration runs in its own process. A round runs every "
        "configuration once, in an order that rotates from round to round; ratios are taken "
        "within a round, and tables give the median over the rounds with the spread (min–max). "
        "CPU per request (the worker's own CPU time in process, gunicorn's from /proc for the "
        "server) is shown beside the throughput: it hardly moves when other work shares the "
        "cores, but it does not include the time the database spends."
    )
    w(
        f"- **Middleware, in process:** {p['hot_requests']:,} GETs of `/protected/` per "
        f"configuration per round through Django's test client (the whole middleware stack, no "
        f"sockets): {p['hot_rounds']} rounds at 1,000 users, {p['large_hot_rounds']} at "
        f"1,000,000. Queries are counted with `CaptureQueriesContext` on {p['query_samples']} "
        f"more requests, apart from the timed ones."
    )
    if "instruction_requests" in p:
        w(
            f"- **Middleware, instructions counted:** each configuration's worker again, started "
            f"under `valgrind --tool=callgrind` with counting off; it signs its user in, makes 20 "
            f"requests to warm up, then counts the instructions of {p['instruction_requests']} "
            f"more (counting switched on and off around the loop by "
            f"`benchmarks/callgrind_control.c`). The count repeats to a fraction of a percent "
            f"whatever else the machine runs, where the throughput rows move by tens of "
            f"percent between rounds. It covers the Django process only: the database's work "
            f"(the same queries in each configuration but django-otp's) and a Redis server's "
            f"are not in it, so the ratio of the whole request is closer to 1."
        )
    if "instruction_logins" in p:
        w(
            f"- **Login path, instructions counted:** plain Django and this app in a worker of "
            f"their own under callgrind, with the MD5 hasher; each signs in "
            f"{p['instruction_logins'] + 1} users not signed in before, the same users in both, "
            f"one browser each, and counts the instructions of every login's requests but the "
            f"first (a warm-up)."
        )
    w(
        f"- **Middleware, real server:** gunicorn with one sync worker per configuration (a core "
        f"for the server, one for the load generator), all started beforehand; "
        f"`wrk -t1 -c4 -d{p['server_seconds']}s` with the session cookie, one configuration at a "
        f"time, {p['server_rounds']} rounds. A non-2xx answer or a socket error stops the run."
    )
    w(
        f"- **Login path:** a new test client (a new browser) per login, {p['login_rounds']} "
        f"rounds at 1,000 users and {p['large_login_rounds']} at 1,000,000, each login by a user "
        f"not signed in before. This app: POST the password page, POST *send code* (console "
        f"provider), POST the code page. Plain Django: POST `django.contrib.auth.views.LoginView`. "
        f"Both must then reach the protected page. The same again with the MD5 hasher "
        f"({p['fast_login_rounds']} rounds) shows what the machinery costs once the password "
        f"hash no longer dominates. Query counts leave out BEGIN/COMMIT."
    )
    w(
        f"- **Checks:** `recovery.consume()` and `totp.verify()` called directly, "
        f"{p['check_iterations']} times each (a fresh code each time; TOTP at successive time "
        f"steps), timed one by one, with their queries and the database's plan for each."
    )
    w(
        f"- **Authy client:** {p['authy_calls']:,} sequential verify calls per client per round, "
        f"{p['authy_rounds']} rounds, against `benchmarks/authy_server.py` on 127.0.0.1 "
        f"(HTTP/1.1 keep-alive, Authy's success body), once over plain HTTP and once over HTTPS "
        f"with a self-signed certificate (`--tls`). This app's `AuthyClient` keeps one pooled "
        f"connection; the official `AuthyApiClient(key, api_uri=...)` calls `requests.request`, "
        f"a new connection each time. Every answer must be accepted by the client."
    )
    w(
        "- **Scale:** users are built with one `INSERT … SELECT generate_series` per table and "
        "one precomputed password hash: each has an enabled profile with a phone, one "
        "recovery-code row, an authenticator app of this app and a django-otp TOTP device. "
        "Everything is measured at 1,000 users, then the tables grow to 1,000,000 and it is "
        "measured again with users from the middle of the table. Sessions stay few: the session "
        "lookup is the same in every configuration.\n"
    )


def _middleware(w, results: dict[str, Any]) -> None:
    scales = _scales(results)
    configs = [c for c in NAMES if c in results["small"]["hot"]["rps"]]
    for where in ("hot", "server"):
        if where not in results["small"]:
            continue
        w(f"## Middleware hot path, {WHERE[where]}\n")
        header = ["Configuration"]
        for label, _scale in scales:
            header += [f"req/s, {label}", "÷ baseline", "CPU µs per request", "÷ baseline"]
        rows = []
        for c in configs:
            row = [NAMES[c]]
            for _label, scale in scales:
                m = scale[where]
                row += [
                    f"{_n(m['rps'][c]['median'])} ({_spread(m['rps'][c])})",
                    f"{_x(m['ratio'][c]['median'])} ({_spread(m['ratio'][c], _x)})",
                    f"{_us(m['cpu'][c]['median'])} ({_spread(m['cpu'][c], _us)})",
                    _x(m["cpu_ratio"][c]["median"]),
                ]
            rows.append(row)
        _table(w, header, rows)
        _middleware_findings(w, results, where)
    _instructions(w, results, configs)
    _request_work(w, results, configs)


def _instructions(w, results: dict[str, Any], configs: list[str]) -> None:
    counted = results["small"].get("instructions")
    if not counted:
        return
    w("## Middleware hot path, instructions counted by callgrind\n")
    rows = [
        [
            NAMES[c],
            _mi(counted["per_request"][c]),
            f"{counted['ratio'][c]:.3f}×",
            f"{1 / counted['ratio'][c]:.3f}×",
        ]
        for c in configs
        if c in counted["per_request"]
    ]
    _table(
        w,
        [
            "Configuration",
            f"million instructions per request ({counted['requests']} requests)",
            "÷ baseline",
            "throughput this allows, ÷ baseline",
        ],
        rows,
    )
    ours = counted["ratio"]["authy2fa"]
    added = counted["per_request"]["authy2fa"] - counted["per_request"]["plain"]
    w(
        f"This app's middleware adds {added / 1e3:,.0f} thousand instructions to a request of "
        f"{_mi(counted['per_request']['plain'])} million ({ours - 1:+.1%}): one cache read of "
        f"the user's 2FA state (`django_authy2fa/state.py`, `load_user_state`; Django's cache "
        f"layer validates the key character by character), the session-mark comparison "
        f"(`django_authy2fa/middleware.py`, `_verified_session_user`) and the id check when a "
        f"view first reads `request.user` (`_resolve_loaded`). A verified session keeps "
        f"Django's own lazy user, so views read it through one proxy, as without the app. "
        f"With a Redis cache the count leaves out the round trip to the server, which the "
        f"throughput rows include.\n"
    )


def _request_work(w, results: dict[str, Any], configs: list[str]) -> None:
    """What one request does: counts that other work on the machine cannot change."""
    w("### What one request of the protected page does\n")
    scales = _scales(results)
    base = results["small"]["hot"]["queries"]["plain"]["calls"]
    rows = []
    for c in configs:
        q = results["small"]["hot"]["queries"][c]
        rows.append(
            [
                NAMES[c],
                " / ".join(str(s["hot"]["queries"][c]["counts"][0]) for _, s in scales),
                "/".join(map(str, q["cache_reads"])),
                f"{q['calls']:,.0f}",
                f"{q['calls'] - base:+,.0f} ({q['calls'] / base - 1:+.1%})",
            ]
        )
    _table(
        w,
        [
            "Configuration",
            "database queries (" + " / ".join(label for label, _ in scales) + ")",
            "cache reads",
            "Python function calls",
            "calls added",
        ],
        rows,
    )
    reads = results["small"]["hot"].get("state_read", {})
    if reads:
        ours = results["small"]["hot"]["queries"]["authy2fa"]["cache_reads"]
        costs = ", ".join(
            f"{_us(v)} µs with {'a Redis' if c.endswith('redis') else 'the local-memory'} cache"
            for c, v in reads.items()
        )
        w(
            f"One read of a user's 2FA state (`state.load_user_state`, warm entry) costs "
            f"{costs}; a verified request makes {'/'.join(map(str, ours))} of them "
            f"(`_user_state` in `django_authy2fa/middleware.py` keeps the answer for the rest "
            f"of the request). With a shared cache each read is a network round trip.\n"
        )
    queries = results["small"]["hot"]["queries"]
    w("The queries:\n")
    for c in configs:
        w(f"- {NAMES[c]}: {len(queries[c]['sql'])}")
        for sql in queries[c]["sql"]:
            w(f"  - `{sql}`")
    w("")


def _middleware_findings(w, results: dict[str, Any], where: str) -> None:
    for label, scale in _scales(results):
        m = scale[where]
        ratio = m["ratio"]["authy2fa"]["median"]
        added = m["cpu"]["authy2fa"]["median"] - m["cpu"]["plain"]["median"]
        if ratio < GOALS["hot_ratio"]:
            w(
                f"**Goal not met {WHERE[where]} at {label}** ({_x(ratio)} of the baseline's "
                f"throughput). This app adds no query; its own work is "
                f"{_us(added)} µs of CPU per request in the medians "
                f"({_x(m['cpu_ratio']['authy2fa']['median'])} of the baseline's CPU; the "
                f"instruction count below is the steadier measure): one cache read of the "
                f"user's 2FA state (`django_authy2fa/state.py`, `load_user_state`), the "
                f"session-mark comparison (`django_authy2fa/middleware.py`, "
                f"`_verified_session_user`) and the id check when a view first reads "
                f"`request.user` (`_resolve_loaded`). The rest of the gap is the spread between "
                f"rounds.\n"
            )
    if "authy2fa_redis" in results["small"][where]["rps"]:
        m = results["small"][where]
        w(
            f"With a Redis cache the state read is a network round trip on every request: "
            f"{_x(m['ratio']['authy2fa_redis']['median'])} of the baseline's throughput here, "
            f"against {_x(m['ratio']['authy2fa']['median'])} with the local-memory cache. It is "
            f"still no database query.\n"
        )


_THROTTLE_STATEMENTS = (
    "(`django_authy2fa/throttling.py`). On PostgreSQL each `reserve()` is two statements, "
    "whatever the number of rules: an `INSERT … ON CONFLICT DO NOTHING` that makes sure the "
    "rows exist, then one `WITH` statement that locks them in a fixed order (`SELECT … "
    "ORDER BY … FOR UPDATE`), checks every rule and block, and counts them only if all have "
    "room (`_postgres_count_if_room()`); the fixed order is what keeps concurrent "
    "reservations from deadlocking, and no transaction stays open between round trips. A "
    "correct password or code gives the counts back in one statement that locks in the same "
    "order (`Reservation.release()`). The password "
    "step charges the password rules "
    "(`password_rules()`); the code step charges the IP, the login attempt and the "
    "account (`flows._charge`), the account under a row lock. Counting before checking "
    "is what keeps the limits exact under concurrency; the price is paid on every "
    "successful login too.\n"
)


def _login(w, results: dict[str, Any]) -> None:
    scales = _scales(results)
    for key, hasher in (
        ("login", results["versions"]["hasher"]),
        ("login_md5", results["fast_hasher"]),
    ):
        w(f"## Login path, {hasher}\n")
        header = ["Configuration", "step", "queries"] + [
            f"median ms, {label}" for label, _ in scales
        ]
        rows = []
        for c, name in (("plain", "plain Django `LoginView`"), ("authy2fa", "django-authy2fa")):
            first = scales[0][1][key]
            for step, queries in first["queries"][c].items():
                rows.append(
                    [name, step, str(queries)]
                    + [_ms(s[key]["steps"][c][step]["median"]) for _, s in scales]
                )
            rows.append(
                [f"**{name}**", "**total**", f"**{sum(first['queries'][c].values())}**"]
                + [
                    f"**{_ms(s[key]['total'][c]['median'])}** ({_spread(s[key]['total'][c], _ms)})"
                    for _, s in scales
                ]
            )
        rows.append(
            ["**ratio**", "this app ÷ plain", ""]
            + [
                f"**{_x(s[key]['ratio']['median'])}** ({_spread(s[key]['ratio'], _x)})"
                for _, s in scales
            ]
        )
        _table(w, header, rows)
    _login_instructions(w, results)
    login = results["small"]["login"]
    w("### Where this app's login queries go\n")
    w("Statements of one login (kind and first table named):\n")
    rows = [[step, _statements(listed)] for step, listed in login["statements"]["authy2fa"].items()]
    rows.append(["plain Django, password", _statements(login["statements"]["plain"]["password"])])
    _table(w, ["Step", "Statements"], rows)
    ours = [s for listed in login["statements"]["authy2fa"].values() for s in listed]
    counted = [s for s in ours if s not in ("BEGIN", "COMMIT")]
    throttle = sum(1 for s in counted if s.endswith("django_authy2fa_throttlewindow"))
    transactions = ours.count("BEGIN")
    for key, hasher in (("login", "the default hasher"), ("login_md5", "the MD5 hasher")):
        ratio = results["small"][key]["ratio"]["median"]
        if ratio <= GOALS["login_ratio"]:
            continue
        total = results["small"][key]["total"]
        extra = total["authy2fa"]["median"] - total["plain"]["median"]
        w(
            f"**Goal not met with {hasher}** ({_x(ratio)} at {results['small']['users']:,} "
            f"users): this app's login takes {_ms(extra)} ms more than the plain one. Both hash "
            f"the password once. The difference is two more requests and "
            f"{len(counted) - _plain_queries(login)} more statements ({len(counted)} against "
            f"{_plain_queries(login)}) in {transactions} transactions.\n"
        )
    if throttle:
        counters = f"{throttle} of this app's {len(counted)} statements are throttle counters "
        w("\n" + counters + _THROTTLE_STATEMENTS)
    ratio = results["small"]["login"]["ratio"]["median"]
    if ratio > GOALS["login_ratio"]:
        plain = results["small"]["login"]["total"]["plain"]["median"]
        w(
            f"With the default hasher, the goal leaves this app "
            f"{_ms(plain * (GOALS['login_ratio'] - 1))} ms beyond the plain login for its two "
            f"further requests and {len(counted) - _plain_queries(login)} further statements. "
            f"The two requests are the design's: the user picks a method on the second-step "
            f"page, and nothing is sent before they do.\n"
        )


def _login_instructions(w, results: dict[str, Any]) -> None:
    counted = results["small"].get("login_instructions")
    if not counted:
        return
    per_login = counted["per_login"]
    w("### Login path (MD5), instructions counted by callgrind\n")
    _table(
        w,
        ["Configuration", f"million instructions per login ({counted['logins']} logins)"],
        [
            ["plain Django `LoginView`", _mi(per_login["plain"])],
            ["django-authy2fa", _mi(per_login["authy2fa"])],
            ["**ratio**", f"**{counted['ratio']:.2f}×**"],
        ],
    )
    w(
        f"The Django process's own work for one sign-in, counted as the middleware's is: "
        f"repeatable where the times above move from round to round. It leaves out the "
        f"database server's work (the statements below) and the time spent waiting for it. "
        f"This app's login costs {_mi(per_login['authy2fa'] - per_login['plain'])} million "
        f"instructions more than the plain one: its two further requests through Django, "
        f"and building and sending its further statements.\n"
    )


def _plain_queries(login: dict[str, Any]) -> int:
    return sum(login["queries"]["plain"].values())


def _checks(w, results: dict[str, Any]) -> None:
    scales = _scales(results)
    w("## Recovery-code and TOTP checks\n")
    header = ["Check", "queries"] + [f"median µs (min–max), {label}" for label, _ in scales]
    rows = []
    for kind, title in (("recovery", "`recovery.consume()`"), ("totp", "`totp.verify()`")):
        first = scales[0][1]["checks"][kind]
        rows.append(
            [title, "/".join(map(str, first["queries"]))]
            + [
                f"{_us(s['checks'][kind]['seconds']['median'])} "
                f"({_spread(s['checks'][kind]['seconds'], _us)})"
                for _, s in scales
            ]
        )
    _table(w, header, rows)
    label, scale = scales[-1]
    w(f"Plans at {label} (`EXPLAIN`):\n")
    for kind, title in (("recovery", "recovery.consume()"), ("totp", "totp.verify()")):
        check = scale["checks"][kind]
        for sql, plan in zip(check["sql"], check.get("plans", []), strict=False):
            w(f"- {title}: `{sql}`")
            w("")
            w("  ```")
            for line in plan:
                w(f"  {line}")
            w("  ```")
    w("")
    totp = scale["checks"]["totp"]
    if totp["queries"] != [1]:
        w(
            f"**`totp.verify()` makes {'/'.join(map(str, totp['queries']))} queries, not one.** "
            "It reads the device by `user_id` (a unique index; `.first()` adds an `ORDER BY id` "
            "that sorts that one row), then moves the replay guard forward with a conditional "
            "`UPDATE` by primary key (`django_authy2fa/totp.py`, `verify` and `_accept`). Both "
            "go through an index; the `UPDATE` is what makes each code work once, even when two "
            "requests race.\n"
        )


def _authy(w, results: dict[str, Any]) -> None:
    if "authy" not in results:
        return
    w("## Authy client\n")
    rows = []
    for transport, label in (("http", "plain HTTP"), ("https", "HTTPS")):
        a = results["authy"][transport]
        for c, name in (
            ("authy2fa", "django-authy2fa `AuthyClient` (pooled, keep-alive)"),
            ("official", "official `authy` package (a connection per call)"),
        ):
            s, cpu = a["per_second"][c], a["cpu"][c]
            rows.append(
                [
                    label,
                    name,
                    f"{_n(s['median'])} ({_spread(s)})",
                    _ms(1 / s["median"]),
                    f"{_us(cpu['median'])} ({_spread(cpu, _us)})",
                ]
            )
        rows.append(
            [
                label,
                "**ratio**",
                f"**{_x(a['ratio']['median'])}** ({_spread(a['ratio'], _x)})",
                "",
                f"official ÷ this app: {_x(a['cpu_ratio']['median'])}",
            ]
        )
    _table(
        w,
        ["Transport", "Client", "verify calls/s", "ms per call", "client CPU µs per call"],
        rows,
    )
    w(
        "Over plain HTTP on loopback a new connection costs almost nothing, so most of a call "
        "is client CPU on both sides: HTTP parsing in urllib3 and http.client, which both "
        "clients share (this app's client hands its prepared request straight to its pool's "
        "adapter, skipping `Session.request`'s per-call merging of session settings). "
        "Authy's API is HTTPS only: there the official package pays a TLS handshake "
        "on every call, which the pooled client pays once. Both clients trust the stand-in's "
        "self-signed certificate through `REQUESTS_CA_BUNDLE`.\n"
    )
    w(
        "The official package 2.2.6 installs and runs on this Python; it has no timeouts and "
        'decides success by looking for the substring `"token":"is valid"` in the raw body.\n'
    )


def _scale(w, results: dict[str, Any]) -> None:
    w("## Scale\n")
    if not results.get("large"):
        w("Not measured in this run (see *Skipped*).\n")
        return
    build = results["large_build"]
    w(
        f"Growing the tables to {build['users']:,} users (profiles, recovery-code rows, "
        f"authenticator apps and django-otp devices included) took "
        f"**{build['build_seconds']:.0f} s** (one transaction), then "
        f"{build['settle_seconds']:.0f} s for `VACUUM (ANALYZE)` and a `CHECKPOINT` before "
        f"measuring; the database then held "
        f"{build.get('database', 'an unknown size')}. Query counts were the same at both "
        f"sizes: {'yes' if _same_queries(results) else '**no**'}.\n"
    )
    rows = [
        [
            name,
            _fig(a),
            _fig(b),
            _x(ratio),
            "-" if flat is None else ("yes" if flat else "**no**"),
        ]
        for name, a, b, ratio, flat, _work in _flatness(results)
    ]
    _table(w, ["Figure", "1,000 users", "1,000,000 users", "1M ÷ 1k", "flat"], rows)
    w(
        "The counted work (queries, Python function calls) and the plans decide whether the "
        "cost stays flat: they do not depend on what else the machine is doing. Timings are "
        "compared as ratios to the baseline measured in the same rounds, since absolute times "
        "taken minutes apart on a shared machine move for reasons unrelated to the table size; "
        "the checks have no baseline, so their times are shown unjudged.\n"
    )


def main(argv: list[str] | None = None) -> int:
    """Render the report again from the raw results of an earlier run."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("results", type=Path, help="the JSON that make bench keeps in build/")
    parser.add_argument("report", type=Path, help="the Markdown report to write")
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text())
    args.report.write_text(render(results, quick=results.get("quick", False)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
