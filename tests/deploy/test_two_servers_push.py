"""Push approvals across two app server processes, one PostgreSQL database, one Redis cache.

Both servers run the real ``AuthyProvider``, pointed (``AUTHY_API_URL``) at
one fake Authy on 127.0.0.1 in this process (:mod:`.fake_authy`). A push is
started on one server; the user's answer reaches the site either as a signed
OneTouch callback that the load balancer hands to any server, or through a
poll of Authy by any server. Whatever the mix, one approval completes one
login, a denial or an approval of another attempt completes none, and the
push quota counts the pushes of both servers.

Run like ``test_two_servers.py`` (PostgreSQL and Redis; on SQLite the module
skips itself). Each test has its own client IP and its own users, so the
quotas of one test never reach another.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from ..faults.server import FaultServer
from .fake_authy import Callback, FakeAuthy, signed_callback
from .support import (
    Answer,
    AppServer,
    Client,
    Database,
    app_servers,
    csrf_form_token,
    dedicated_database,
    deploy_env,
    flush_redis,
    manage,
    postgres_url,
    shared_redis_url,
)

POSTGRES = postgres_url()

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        POSTGRES is None,
        reason="two app servers need a shared PostgreSQL database: "
        "set DATABASE_URL=postgres://... (and CACHE_URL=redis://...), as .ci/run does",
    ),
]

PASSWORD = "deploy-push-test-password-2fa"
API_KEY = "deploy-push-test-authy-key-0123456789"
PUSH_LIMIT = 3  # THROTTLE["PUSHES_PER_TEN_MINUTES"] (default)
PUSH_WINDOW = 600  # its fixed window, in seconds

#: username -> Authy ID. Every user has a confirmed phone, 2FA on and push first.
USERS = {
    "web_callback": "4101",
    "web_polled": "4102",
    "api_race": "4103",
    "denied1": "4104",
    "denied2": "4114",
    "denied3": "4124",
    "two_attempts": "4105",
    "push_limit": "4106",
    "push_burst": "4107",
}

USERS_SCRIPT = f"""
from django.contrib.auth import get_user_model
from django.utils import timezone
from django_authy2fa.models import Method, TwoFactorProfile

for index, (name, authy_id) in enumerate({USERS!r}.items()):
    user = get_user_model().objects.create_user(name, name + "@example.com", {PASSWORD!r})
    now = timezone.now()
    TwoFactorProfile.objects.create(
        user=user, phone_number=f"+1415555{{index:04d}}", authy_id=authy_id,
        phone_confirmed_at=now, enabled_at=now, default_method=Method.PUSH,
    )
"""

DENIED_USERS = ("denied1", "denied2", "denied3")

WEB_LOGIN = "/account/2fa/login/"
WEB_VERIFY = "/account/2fa/verify/"
WEB_PUSH = "/account/2fa/verify/push/"
WEB_PUSH_STATUS = "/account/2fa/verify/push/status/"


@dataclass
class Cluster:
    a: AppServer
    b: AppServer
    db: Database
    authy: FakeAuthy
    authy_server: FaultServer

    def other(self, server: AppServer) -> AppServer:
        return self.b if server is self.a else self.a

    # -- what the fake Authy saw ---------------------------------------------------------------

    def pushes_sent(self, username: str) -> int:
        """Approval requests the servers created for this user at Authy."""
        return self.authy_server.count(
            rf"^/onetouch/json/users/{USERS[username]}/approval_requests$"
        )

    def polls_of(self, uuid: str) -> int:
        """How often the servers asked Authy for this approval's status."""
        return self.authy_server.count(rf"^/onetouch/json/approval_requests/{uuid}$")

    def callback(self, username: str, uuid: str, status: str) -> Callback:
        return signed_callback(API_KEY, uuid, status, authy_id=USERS[username])

    # -- what the shared database holds -----------------------------------------------------------

    def tokens(self, username: str) -> int:
        return self.db.one(
            "SELECT count(*) FROM django_authy2fa_apitoken t JOIN auth_user u ON u.id = t.user_id "
            "WHERE u.username = %s",
            username,
        )[0]

    def logins(self, username: str) -> int:
        """Second steps passed (one per completed login, web or API)."""
        return self.db.one(
            "SELECT count(*) FROM django_authy2fa_auditevent e "
            "JOIN auth_user u ON u.id = e.user_id "
            "WHERE u.username = %s AND e.event = 'login_verified'",
            username,
        )[0]

    def attempts(self, username: str) -> list[tuple[str, str, str, str]]:
        """(status, method, push_reference, push_status) of the user's attempts, oldest first."""
        return self.db.rows(
            "SELECT c.status, c.method, c.push_reference, c.push_status "
            "FROM django_authy2fa_loginchallenge c JOIN auth_user u ON u.id = c.user_id "
            "WHERE u.username = %s ORDER BY c.created_at",
            username,
        )

    def attempt(self, challenge: str) -> tuple[str, str, str, str]:
        return self.db.one(
            "SELECT status, method, push_reference, push_status "
            "FROM django_authy2fa_loginchallenge WHERE id = %s",
            challenge.split(".")[0],
        )

    def profile(self, username: str) -> tuple[int, Any]:
        return self.db.one(
            "SELECT p.failure_count, p.locked_until "
            "FROM django_authy2fa_twofactorprofile p JOIN auth_user u ON u.id = p.user_id "
            "WHERE u.username = %s",
            username,
        )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    tmp: Path = tmp_path_factory.mktemp("two_servers_push")
    redis_url = shared_redis_url(offset=2)  # test_two_servers.py flushes offset 1
    try:
        flush_redis(redis_url)
    except Exception as err:
        pytest.skip(f"the shared cache needs Redis at {redis_url}: {err}")
    authy = FakeAuthy(API_KEY)
    with (
        FaultServer(authy.answer) as authy_server,
        dedicated_database(POSTGRES, "authy2fa_two_servers_push") as db,
    ):
        env = deploy_env(
            tmp,
            DATABASE_URL=db.url,
            CACHE_URL=redis_url,
            DEBUG="True",
            AUTHY2FA_PROVIDER="authy",
            AUTHY_API_KEY=API_KEY,
            AUTHY_API_URL=authy_server.url,
            AUTHY2FA_TRUSTED_PROXY_COUNT="1",
        )
        manage(env, "migrate", "--noinput", "-v0")
        manage(env, "shell", "-c", USERS_SCRIPT)
        try:
            with app_servers({"A": env, "B": env}, tmp) as servers:
                yield Cluster(
                    a=servers["A"], b=servers["B"], db=db, authy=authy, authy_server=authy_server
                )
        finally:
            flush_redis(redis_url)


# -- steps ---------------------------------------------------------------------------------------


def web_password_step(browser: Client, server: AppServer, username: str) -> None:
    page = browser.get(server, WEB_LOGIN)
    assert page.status == 200, page.text[:500]
    answer = browser.post_form(
        server,
        WEB_LOGIN,
        {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": csrf_form_token(page)},
    )
    assert answer.status == 302, answer.text[:500]
    assert answer.headers["Location"] == WEB_VERIFY


def web_start_push(browser: Client, server: AppServer) -> None:
    page = browser.get(server, f"{WEB_VERIFY}?method=push")
    assert page.status == 200, page.text[:500]
    started = browser.post_form(server, WEB_PUSH, {"csrfmiddlewaretoken": csrf_form_token(page)})
    assert started.status == 302, started.text[:500]
    assert "X-Authy2FA-Status" not in started.headers, started.headers["X-Authy2FA-Status"]


def web_poll(browser: Client, server: AppServer) -> Answer:
    return browser.get(server, WEB_PUSH_STATUS)


def api_login(client: Client, server: AppServer, username: str) -> str:
    answer = client.post_json(
        server, "/api/2fa/login/", {"username": username, "password": PASSWORD}
    )
    assert answer.status == 202, answer.text[:500]
    assert "push" in answer.json()["methods"], answer.text[:500]
    return answer.json()["challenge"]


def api_push(client: Client, server: AppServer, challenge: str) -> Answer:
    return client.post_json(server, "/api/2fa/push/", {"challenge": challenge})


def api_poll(client: Client, server: AppServer, challenge: str) -> Answer:
    return client.post_json(server, "/api/2fa/push/status/", {"challenge": challenge})


def outcome(answer: Answer) -> tuple[int, str]:
    body = answer.json() if answer.body.startswith(b"{") else {}
    return answer.status, body.get("code") or body.get("status") or ""


def at_once(*calls: Callable[[], Answer]) -> list[Answer]:
    """Run the calls in threads released together; their answers in the same order."""
    barrier = threading.Barrier(len(calls), timeout=30)
    answers: list[Answer | None] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        answers[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(answer is not None for answer in answers), "a request did not return"
    return answers  # type: ignore[return-value]


def clear_of_window_edge(margin: float = 15.0) -> None:
    """Wait, if needed, until the push quota's fixed window has ``margin`` seconds left.

    The quota counts per fixed 10-minute window (docs/security.md), so pushes
    that straddle a window's end are counted in two windows. Waiting for the
    next window when the current one is about to close (at most ``margin``
    seconds, in 2.5 % of runs) keeps the count exact.
    """
    left = PUSH_WINDOW - time.time() % PUSH_WINDOW
    if left < margin:
        time.sleep(left + 0.5)


# -- approvals ---------------------------------------------------------------------------------


def test_push_from_a_approved_by_a_callback_to_b_completes_one_web_login(cluster, reliability):
    a, b = cluster.a, cluster.b
    browser = Client("203.0.113.31")
    authy = Client("198.51.100.31")  # Authy's callbacks, through the load balancer

    web_password_step(browser, a, "web_callback")
    web_start_push(browser, a)
    uuid = cluster.authy.only_approval_for(USERS["web_callback"])
    assert web_poll(browser, a).json() == {"status": "pending"}  # A asked Authy: pending
    assert browser.get(b, WEB_PUSH_STATUS).json() == {"status": "pending"}  # B too
    waiting = Client(browser.ip, cookies=dict(browser.cookies))  # the session before the login

    callback = cluster.callback("web_callback", uuid, "approved")
    accepted = callback.post(authy, b)
    assert (accepted.status, accepted.json()) == (200, {"ok": True}), accepted.text[:500]
    polls_before = cluster.polls_of(uuid)

    done = web_poll(browser, a)
    assert done.json() == {"status": "approved", "redirect": "/protected/"}, done.text[:500]
    assert cluster.polls_of(uuid) == polls_before  # A used B's callback, not a new poll
    # The login lives in the database: the new session works on both servers...
    for server in (a, b):
        assert browser.get(server, "/protected/").status == 200
    # ...and the waiting page polling B afterwards logs nobody in again nor out.
    late = web_poll(browser, b)
    assert late.status == 302 and late.headers["Location"] == WEB_LOGIN, late.text[:500]
    assert browser.get(b, "/protected/").status == 200
    # The session of the attempt (before the key changed) is dead on both servers.
    for server in (b, a):
        stale = web_poll(waiting, server)
        assert stale.status == 302 and stale.headers["Location"] == WEB_LOGIN, stale.text[:500]
        assert waiting.get(server, "/protected/").status == 302
    # Authy calling again (a retry, or a replay) changes nothing, on either server.
    replays = [callback.post(authy, server).json() for server in (a, b)]
    assert replays == [{"ok": False}, {"ok": False}]

    assert cluster.attempts("web_callback") == [("verified", "push", uuid, "approved")]
    assert cluster.logins("web_callback") == 1
    requests = browser.requests + waiting.requests + authy.requests
    errors = browser.server_errors + waiting.server_errors + authy.server_errors
    assert errors == 0
    reliability.record(
        family="race",
        case="Push started on app server A, approved by a signed callback to B, polled on A",
        requests=requests,
        server_errors=errors,
        wrong_logins=cluster.logins("web_callback") - 1,
        outcome="one web login, valid on both; late polls, the old session and the replayed "
        "callback on either server log nobody in",
    )


def test_approval_polled_from_authy_on_both_servers_at_once_completes_one_web_login(
    cluster, reliability
):
    a, b = cluster.a, cluster.b
    browser = Client("203.0.113.32")

    web_password_step(browser, a, "web_polled")
    web_start_push(browser, a)
    uuid = cluster.authy.only_approval_for(USERS["web_polled"])
    assert web_poll(browser, b).json() == {"status": "pending"}
    cluster.authy.set_status(uuid, "approved")  # no callback: only a poll can learn it

    # The waiting page is open twice (two tabs), one polling A, the other B.
    tabs = [Client(browser.ip, cookies=dict(browser.cookies)) for _ in range(2)]
    answers = at_once(partial(web_poll, tabs[0], a), partial(web_poll, tabs[1], b))
    approved = [
        i for i, x in enumerate(answers) if x.status == 200 and x.json()["status"] == "approved"
    ]
    assert len(approved) == 1, [(x.status, x.text[:200]) for x in answers]
    winner, loser = tabs[approved[0]], tabs[1 - approved[0]]
    other = answers[1 - approved[0]]
    # The other poll finds the attempt finished: "restart", the sign-in page, or a 400
    # when its session was replaced by the login while it ran (never a second login).
    assert outcome(other) in ((200, "restart"), (302, ""), (400, "")), other.text[:500]
    for server in (a, b):
        assert winner.get(server, "/protected/").status == 200
        assert loser.get(server, "/protected/").status == 302

    assert cluster.attempts("web_polled") == [("verified", "push", uuid, "approved")]
    assert cluster.logins("web_polled") == 1
    assert cluster.polls_of(uuid) >= 2  # B's first poll, then at least one of the racing ones
    requests = browser.requests + sum(tab.requests for tab in tabs)
    errors = browser.server_errors + sum(tab.server_errors for tab in tabs)
    assert errors == 0
    reliability.record(
        family="race",
        case="Push started on app server A, approval polled from Authy by A and B at once",
        requests=requests,
        server_errors=errors,
        wrong_logins=cluster.logins("web_polled") - 1,
        outcome="one tab signed in on both servers, the other answered "
        f"{outcome(other)[0]} {outcome(other)[1] or ''}".rstrip(),
    )


def test_one_approval_issues_one_api_token_whichever_server_is_polled(cluster, reliability):
    a, b = cluster.a, cluster.b
    client = Client("203.0.113.33")
    authy = Client("198.51.100.33")

    challenge = api_login(client, a, "api_race")
    started = api_push(client, a, challenge)
    assert (started.status, started.json()) == (202, {"status": "pending"}), started.text[:500]
    uuid = cluster.authy.only_approval_for(USERS["api_race"])
    assert outcome(api_poll(client, b, challenge)) == (200, "pending")

    callback = cluster.callback("api_race", uuid, "approved")
    assert callback.post(authy, b).json() == {"ok": True}
    polls_before = cluster.polls_of(uuid)
    answers = at_once(
        partial(api_poll, client, a, challenge), partial(api_poll, client, b, challenge)
    )
    results = sorted(outcome(x) for x in answers)
    assert results == [(200, "approved"), (401, "expired")], results
    token = next(x for x in answers if x.status == 200).json()["token"]
    assert token.startswith("a2fa_")
    assert cluster.polls_of(uuid) == polls_before  # the callback's answer, read from the database

    # Replays: the callback again on both servers, and more polls, get nothing.
    assert [callback.post(authy, server).json() for server in (a, b)] == [{"ok": False}] * 2
    assert [outcome(api_poll(client, s, challenge)) for s in (a, b)] == [(401, "expired")] * 2
    assert cluster.tokens("api_race") == 1
    assert cluster.logins("api_race") == 1
    assert cluster.attempt(challenge) == ("verified", "push", uuid, "approved")
    for server in (a, b):
        assert client.get(server, "/api/2fa/status/", token=token).status == 200
    errors = client.server_errors + authy.server_errors
    assert errors == 0
    reliability.record(
        family="race",
        case="One approved push polled through the API on app servers A and B at once",
        requests=client.requests + authy.requests,
        server_errors=errors,
        wrong_logins=cluster.tokens("api_race") - 1,
        outcome="one token, the other server 401 expired; callback replayed on both: ok false",
    )


# -- denials and other attempts --------------------------------------------------------------------


def test_a_denied_push_fails_on_both_servers_and_counts_once(cluster, reliability):
    """Three rounds (one user each): both servers poll at once, which races the one charge."""
    client = Client("203.0.113.34")
    authy = Client("198.51.100.34")
    no_push = (400, "method_not_enrolled")  # the attempt has no push any more
    both_denied = 0
    for index, username in enumerate(DENIED_USERS):
        starter = (cluster.a, cluster.b)[index % 2]
        other = cluster.other(starter)
        challenge = api_login(client, starter, username)
        assert api_push(client, starter, challenge).status == 202
        uuid = cluster.authy.only_approval_for(USERS[username])
        assert callback_ok(cluster.callback(username, uuid, "denied").post(authy, other))
        cluster.authy.set_status(uuid, "denied")  # what a poll of Authy would say too
        # The first answer stands: a signed "approved" for the same push moves nothing.
        assert not callback_ok(cluster.callback(username, uuid, "approved").post(authy, starter))
        assert cluster.attempt(challenge)[3] == "denied"

        answers = at_once(
            partial(api_poll, client, starter, challenge),
            partial(api_poll, client, other, challenge),
        )
        results = sorted(outcome(x) for x in answers)
        # Both may read "denied" before either clears the push; a later one finds no push.
        assert results in ([(200, "denied")] * 2, [(200, "denied"), no_push]), results
        both_denied += results == [(200, "denied")] * 2
        for server in (starter, other):
            assert outcome(api_poll(client, server, challenge)) == no_push
        # A later approval, signed or learned from Authy, finds nothing to move.
        assert not callback_ok(cluster.callback(username, uuid, "approved").post(authy, other))
        cluster.authy.set_status(uuid, "approved")
        assert outcome(api_poll(client, starter, challenge)) == no_push

        failures, locked_until = cluster.profile(username)
        assert (failures, locked_until) == (1, None)  # one denial, however many servers read it
        status, method, reference, _push_status = cluster.attempt(challenge)
        assert (status, method, reference) == ("pending", "", "")  # open for a code, not a push
        assert cluster.tokens(username) == 0 and cluster.logins(username) == 0

    errors = client.server_errors + authy.server_errors
    assert errors == 0
    reliability.record(
        family="race",
        case="Push denied by a callback to one app server, polled on A and B at once (3 rounds)",
        requests=client.requests + authy.requests,
        server_errors=errors,
        wrong_logins=sum(cluster.tokens(u) + cluster.logins(u) for u in DENIED_USERS),
        wrong_locks=sum(cluster.profile(u)[1] is not None for u in DENIED_USERS),
        outcome=f"denied on both servers, one failure counted per round ({both_denied} of "
        f"{len(DENIED_USERS)} rounds had both polls read the denial); later approvals move nothing",
    )


def test_an_approval_for_one_attempt_does_not_complete_another(cluster, reliability):
    a, b = cluster.a, cluster.b
    client = Client("203.0.113.35")
    authy = Client("198.51.100.35")

    first = api_login(client, a, "two_attempts")
    assert api_push(client, a, first).status == 202
    second = api_login(client, b, "two_attempts")
    assert api_push(client, b, second).status == 202
    first_uuid, second_uuid = cluster.authy.approvals_for(USERS["two_attempts"])

    # An unsigned or altered approval of the second push is refused on either server.
    forged = cluster.callback("two_attempts", first_uuid, "approved")
    forged.body["uuid"] = second_uuid  # signed for the first push, sent for the second
    for server in (a, b):
        refused = forged.post(authy, server)
        assert (refused.status, refused.json()) == (403, {"ok": False}), refused.text[:500]

    assert callback_ok(cluster.callback("two_attempts", first_uuid, "approved").post(authy, b))
    # The second attempt is still waiting, on both servers and at Authy.
    for server in (a, b):
        assert outcome(api_poll(client, server, second)) == (200, "pending")
    completed = api_poll(client, a, first)
    assert outcome(completed) == (200, "approved"), completed.text[:500]
    # The first push's approval, sent again, does not spill onto the second attempt.
    assert not callback_ok(cluster.callback("two_attempts", first_uuid, "approved").post(authy, a))
    assert outcome(api_poll(client, b, second)) == (200, "pending")
    assert cluster.attempt(second) == ("pending", "", second_uuid, "pending")
    assert cluster.tokens("two_attempts") == 1

    # Its own approval, on the other server, completes it.
    assert callback_ok(cluster.callback("two_attempts", second_uuid, "approved").post(authy, a))
    assert outcome(api_poll(client, b, second)) == (200, "approved")
    assert cluster.tokens("two_attempts") == 2
    assert cluster.logins("two_attempts") == 2
    errors = client.server_errors + authy.server_errors
    assert errors == 0
    reliability.record(
        family="race",
        case="Two attempts of one user with a push each (on A and B); one approved",
        requests=client.requests + authy.requests,
        server_errors=errors,
        wrong_logins=0,
        outcome="the other attempt stays pending on both servers until its own approval; "
        "forged callbacks 403 on both",
    )


def callback_ok(answer: Answer) -> bool:
    assert answer.status == 200, answer.text[:500]
    return answer.json() == {"ok": True}


# -- the push quota --------------------------------------------------------------------------------


def test_push_quota_counts_pushes_of_both_servers(cluster, reliability):
    a, b = cluster.a, cluster.b
    client = Client("203.0.113.36")
    clear_of_window_edge()

    challenge = api_login(client, a, "push_limit")
    servers = (a, b, a, b, a)
    answers = [api_push(client, server, challenge) for server in servers]
    assert [outcome(x) for x in answers] == [(202, "pending")] * PUSH_LIMIT + [
        (429, "throttled")
    ] * (len(servers) - PUSH_LIMIT)
    for refused in answers[PUSH_LIMIT:]:
        assert 1 <= int(refused.headers["Retry-After"]) <= PUSH_WINDOW
    # The quota is the user's: a new attempt on B gets no push either.
    again = api_push(client, b, api_login(client, b, "push_limit"))
    assert outcome(again) == (429, "throttled"), again.text[:500]
    assert cluster.pushes_sent("push_limit") == PUSH_LIMIT
    assert client.server_errors == 0
    reliability.record(
        family="race",
        case="Pushes for one user alternating between app servers A and B",
        requests=client.requests,
        server_errors=client.server_errors,
        outcome=f"{cluster.pushes_sent('push_limit')} of {len(servers) + 1} reached Authy "
        f"(limit {PUSH_LIMIT}); the rest 429 with Retry-After on both",
    )


def test_push_quota_holds_for_pushes_on_both_servers_at_once(cluster, reliability):
    a, b = cluster.a, cluster.b
    client = Client("203.0.113.37")
    clear_of_window_edge()

    challenges = [api_login(client, server, "push_burst") for server in (a, b) * 3]
    calls = [
        partial(api_push, client, server, challenge)
        for server, challenge in zip((a, b) * 3, challenges, strict=True)
    ]
    results = sorted(outcome(x) for x in at_once(*calls))
    assert results == [(202, "pending")] * PUSH_LIMIT + [(429, "throttled")] * (6 - PUSH_LIMIT)
    assert cluster.pushes_sent("push_burst") == PUSH_LIMIT
    assert client.server_errors == 0
    reliability.record(
        family="race",
        case="6 pushes for one user at the same instant, 3 on app server A and 3 on B",
        requests=client.requests,
        server_errors=client.server_errors,
        outcome=f"{cluster.pushes_sent('push_burst')} reached Authy (limit {PUSH_LIMIT}); "
        f"{results.count((429, 'throttled'))} got 429",
    )
