"""Two app server processes, one PostgreSQL database, one Redis cache.

What a load balancer does to a login: the password on one server, the code on
another, the next request on a third. Every limit and every single-use mark
must hold across processes, because none of them may live in a process.

Run with ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/test
CACHE_URL=redis://127.0.0.1:6379/1 .venv/bin/pytest tests/deploy`` (``.ci/run``'s
PostgreSQL pass does); on SQLite the module skips itself. The servers get a
database of their own (created and dropped here) and the Redis database after
CACHE_URL's. Clients sit behind a pretend load balancer: each test uses its
own client IP in ``X-Forwarded-For`` (``AUTHY2FA_TRUSTED_PROXY_COUNT=1``), so
per-IP quotas of one test never reach another.

Codes come from the demo phone (``/demo-phone/messages/``, DEBUG with the
console provider). Each process keeps its own list, so a code is read from the
server that sent it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from django_authy2fa.phone import mask_e164

from .support import (
    AppServer,
    Client,
    Database,
    app_servers,
    csrf_form_token,
    dead_redis_url,
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

PASSWORD = "deploy-test-password-2fa"
COOLDOWN = 3  # AUTHY2FA_SEND_COOLDOWN_SECONDS for these servers
LIMIT = 5  # THROTTLE["PENDING_LOGIN_MAX_FAILURES"] (default)
ACCOUNT_LOCK_AFTER = 10  # THROTTLE["ACCOUNT_LOCK_AFTER"] (default)

#: The accounts the tests use: username -> phone with 2FA on ("" = no 2FA).
#: The last two digits differ, so the masked numbers on the demo phone do too.
USERS = {
    "limits": "+14155550131",
    "cooldown": "+14155550132",
    "single1": "+14155550141",
    "single2": "+14155550142",
    "single3": "+14155550143",
    "disabler": "+14155550151",
    "enroller": "",
    "cacheless": "+14155550171",
    "partition": "+14155550181",
    "partition2": "",
}
ENROLLER_PHONE = "+14155550161"
PARTITION2_PHONE = "+14155550191"

USERS_SCRIPT = f"""
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from django_authy2fa.models import Method, TwoFactorProfile

call_command("demo_data")
for name, phone in {USERS!r}.items():
    user = get_user_model().objects.create_user(name, name + "@example.com", {PASSWORD!r})
    if phone:
        now = timezone.now()
        TwoFactorProfile.objects.create(
            user=user, phone_number=phone, phone_confirmed_at=now, enabled_at=now,
            default_method=Method.SMS,
        )
"""


@dataclass
class Cluster:
    a: AppServer
    b: AppServer
    db: Database
    env: dict[str, str]
    tmp: Path

    def code_sent_to(self, server: AppServer, phone: str) -> str:
        """The newest code ``server`` delivered to ``phone`` (its own demo phone)."""
        listing = Client("127.0.0.1").get(server, "/demo-phone/messages/")
        assert listing.status == 200, listing.text[:500]
        for message in listing.json()["messages"]:
            if message["to"] == mask_e164(phone):
                return message["code"]
        raise AssertionError(f"server {server.name} sent nothing to {mask_e164(phone)}")

    def delivered(self, server: AppServer, phone: str) -> int:
        listing = Client("127.0.0.1").get(server, "/demo-phone/messages/")
        return sum(m["to"] == mask_e164(phone) for m in listing.json()["messages"])

    def profile(self, username: str) -> tuple:
        return self.db.one(
            "SELECT p.failure_count, p.locked_until, p.enabled_at, p.version "
            "FROM django_authy2fa_twofactorprofile p JOIN auth_user u ON u.id = p.user_id "
            "WHERE u.username = %s",
            username,
        )

    def tokens(self, username: str) -> int:
        return self.db.one(
            "SELECT count(*) FROM django_authy2fa_apitoken t JOIN auth_user u ON u.id = t.user_id "
            "WHERE u.username = %s",
            username,
        )[0]

    def challenge(self, challenge: str) -> tuple:
        return self.db.one(
            "SELECT failures, status FROM django_authy2fa_loginchallenge WHERE id = %s",
            challenge.split(".")[0],
        )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("two_servers")
    redis_url = shared_redis_url()
    try:
        flush_redis(redis_url)
    except Exception as err:
        pytest.skip(f"the shared cache needs Redis at {redis_url}: {err}")
    with dedicated_database(POSTGRES, "authy2fa_two_servers") as db:
        env = deploy_env(
            tmp,
            DATABASE_URL=db.url,
            CACHE_URL=redis_url,
            DEBUG="True",
            AUTHY2FA_PROVIDER="console",
            AUTHY2FA_SEND_COOLDOWN_SECONDS=str(COOLDOWN),
            AUTHY2FA_TRUSTED_PROXY_COUNT="1",
        )
        manage(env, "migrate", "--noinput", "-v0")
        manage(env, "shell", "-c", USERS_SCRIPT)
        try:
            with app_servers({"A": env, "B": env}, tmp) as servers:
                yield Cluster(a=servers["A"], b=servers["B"], db=db, env=env, tmp=tmp)
        finally:
            flush_redis(redis_url)


# -- API steps ---------------------------------------------------------------------------------


def login(client: Client, server: AppServer, username: str) -> str:
    """The password step; the attempt's challenge token."""
    answer = client.post_json(
        server, "/api/2fa/login/", {"username": username, "password": PASSWORD}
    )
    assert answer.status == 202, answer.text[:500]
    return answer.json()["challenge"]


def send(client: Client, server: AppServer, challenge: str):
    return client.post_json(server, "/api/2fa/send/", {"challenge": challenge, "channel": "sms"})


def verify(client: Client, server: AppServer, challenge: str, code: str):
    return client.post_json(
        server, "/api/2fa/verify/", {"challenge": challenge, "method": "sms", "code": code}
    )


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def outcome(answer) -> tuple[int, str]:
    return answer.status, answer.json().get("code", "ok")


def sleep_past_cooldown(since: float) -> None:
    time.sleep(max(0.0, since + COOLDOWN + 0.2 - time.monotonic()))


def full_login(cluster: Cluster, client: Client, server: AppServer, username: str):
    """Password, SMS code and token, all through ``server``; (token, when the code was sent)."""
    challenge = login(client, server, username)
    sent = send(client, server, challenge)
    assert sent.status == 202, sent.text[:500]
    sent_at = time.monotonic()
    code = cluster.code_sent_to(server, USERS[username])
    verified = verify(client, server, challenge, code)
    assert verified.status == 200, verified.text[:500]
    return verified.json()["token"], sent_at


def step_up_and_disable(
    cluster: Cluster, client: Client, server: AppServer, username: str, token: str
):
    """Turn 2FA off through ``server``: step-up by SMS, then the password and that code."""
    started = client.post_json(server, "/api/2fa/step-up/", {"channel": "sms"}, token=token)
    assert started.status == 201, started.text[:500]
    code = cluster.code_sent_to(server, USERS[username])
    body = {
        "step_up": started.json()["step_up"],
        "password": PASSWORD,
        "method": "sms",
        "code": code,
    }
    return client.post_json(server, "/api/2fa/disable/", body, token=token)


# -- throttles ---------------------------------------------------------------------------------


def test_wrong_codes_alternating_between_servers_count_once_each(cluster, reliability):
    """5 wrong codes per attempt and 10 per account, whichever server they reach."""
    a, b = cluster.a, cluster.b
    client = Client("203.0.113.11")

    first = login(client, a, "limits")
    assert send(client, a, first).status == 202
    first_sent = time.monotonic()
    code = cluster.code_sent_to(a, USERS["limits"])
    answers = [verify(client, server, first, wrong(code)) for server in (a, b, a, b, a)]
    assert [outcome(x) for x in answers] == [(400, "invalid_code")] * 4 + [(401, "expired")]
    assert [x.json()["attempts_left"] for x in answers[:4]] == [4, 3, 2, 1]
    # The right code cannot revive the attempt on the other server.
    assert outcome(verify(client, b, first, code)) == (401, "expired")
    assert cluster.challenge(first) == (LIMIT, "failed")
    assert cluster.profile("limits")[0] == LIMIT
    reliability.record(
        family="race",
        case="Wrong codes for one attempt alternating between two app servers",
        requests=client.requests,
        server_errors=client.server_errors,
        wrong_logins=cluster.tokens("limits"),
        outcome=f"exactly {LIMIT} counted, then expired on both; the right code refused after",
    )

    # A second attempt through B: the account's count continues from A's five.
    counted_before = client.requests
    second = login(client, b, "limits")
    sleep_past_cooldown(first_sent)
    assert send(client, b, second).status == 202
    code = cluster.code_sent_to(b, USERS["limits"])
    answers = [verify(client, server, second, wrong(code)) for server in (b, a, b, a, b)]
    assert [outcome(x) for x in answers] == [(400, "invalid_code")] * 4 + [(401, "expired")]
    failures, locked_until, _enabled, _version = cluster.profile("limits")
    assert failures == ACCOUNT_LOCK_AFTER
    assert locked_until is not None
    # Locked on both servers: no server sends a code, even for a new attempt.
    for server in (a, b):
        blocked = send(client, server, login(client, server, "limits"))
        assert outcome(blocked) == (429, "throttled"), blocked.text[:500]
        assert int(blocked.headers["Retry-After"]) > 60
    assert cluster.profile("limits")[0] == ACCOUNT_LOCK_AFTER
    reliability.record(
        family="race",
        case="Account failures spread over two app servers",
        requests=client.requests - counted_before,
        server_errors=client.server_errors,
        wrong_logins=cluster.tokens("limits"),
        outcome=f"{ACCOUNT_LOCK_AFTER} wrong codes (5 on A, 5 on B) lock the account on both",
    )


def test_send_cooldown_set_on_one_server_blocks_the_other(cluster, reliability):
    a, b = cluster.a, cluster.b
    client = Client("203.0.113.12")
    phone = USERS["cooldown"]

    challenge = login(client, a, "cooldown")
    assert send(client, a, challenge).status == 202
    again = send(client, b, challenge)
    assert outcome(again) == (429, "throttled"), again.text[:500]
    assert 1 <= int(again.headers["Retry-After"]) <= COOLDOWN
    # The cooldown belongs to the account, not to the attempt or the server.
    other = send(client, b, login(client, b, "cooldown"))
    assert outcome(other) == (429, "throttled"), other.text[:500]
    assert (cluster.delivered(a, phone), cluster.delivered(b, phone)) == (1, 0)
    reliability.record(
        family="race",
        case="Send cooldown set on app server A, sends asked on B",
        requests=client.requests,
        server_errors=client.server_errors,
        outcome="B refuses both (same attempt and a new one) with Retry-After; one SMS sent",
    )


# -- single use --------------------------------------------------------------------------------


def test_the_same_code_on_both_servers_at_once_completes_one_login(cluster, reliability):
    client = Client("203.0.113.13")
    rounds = ("single1", "single2", "single3")
    outcomes = []
    for index, username in enumerate(rounds):
        sender = (cluster.a, cluster.b)[index % 2]
        challenge = login(client, sender, username)
        assert send(client, sender, challenge).status == 202
        code = cluster.code_sent_to(sender, USERS[username])
        barrier = threading.Barrier(2, timeout=30)
        answers = {}

        def submit(
            server: AppServer, challenge=challenge, code=code, answers=answers, barrier=barrier
        ):
            barrier.wait()
            answers[server.name] = verify(client, server, challenge, code)

        threads = [threading.Thread(target=submit, args=(s,)) for s in (cluster.a, cluster.b)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(answers) == 2, "a request did not return"
        results = sorted(outcome(answer) for answer in answers.values())
        outcomes.append(results)
        winners = [x for x in answers.values() if x.status == 200]
        assert len(winners) == 1, results
        assert winners[0].json()["token"].startswith("a2fa_")
        assert results[0] == (200, "ok")
        assert results[1] in ((400, "invalid_code"), (401, "expired"))
        assert cluster.tokens(username) == 1
        assert cluster.challenge(challenge)[1] == "verified"
    issued = sum(cluster.tokens(username) for username in rounds)
    reliability.record(
        family="race",
        case="One SMS code submitted to app servers A and B at the same instant",
        requests=client.requests,
        server_errors=client.server_errors,
        wrong_logins=issued - len(rounds),
        outcome=f"{len(rounds)} rounds: one token each; the other server answered "
        + ", ".join(sorted({r[1][1] for r in outcomes})),
    )


# -- 2FA changes reach every server --------------------------------------------------------------


def test_disabling_through_one_server_voids_tokens_on_the_other(cluster, reliability):
    a, b = cluster.a, cluster.b
    client = Client("203.0.113.14")

    token, sent_at = full_login(cluster, client, a, "disabler")
    status = client.get(b, "/api/2fa/status/", token=token)
    assert status.status == 200 and status.json()["enabled"] is True, status.text[:500]
    sleep_past_cooldown(sent_at)
    disabled = step_up_and_disable(cluster, client, a, "disabler", token)
    assert disabled.status == 204, disabled.text[:500]

    # B's next request sees the new version: the token verified before the change is dead.
    stale = client.get(b, "/api/2fa/status/", token=token)
    assert stale.status == 401, stale.text[:500]
    # And B sees 2FA off: a password alone now gets a token there.
    fresh = client.post_json(b, "/api/2fa/login/", {"username": "disabler", "password": PASSWORD})
    assert fresh.status == 200 and fresh.json()["token"], fresh.text[:500]
    reliability.record(
        family="race",
        case="2FA disabled through app server A, old token used on B",
        requests=client.requests,
        server_errors=client.server_errors,
        wrong_logins=0 if stale.status == 401 else 1,
        outcome="B refuses the token at its next request (shared cache, new version)",
    )


def test_enrolling_through_one_server_demotes_sessions_and_tokens_on_the_other(
    cluster, reliability
):
    a, b = cluster.a, cluster.b
    browser = Client("203.0.113.15")  # a web session (cookies)
    api = Client("203.0.113.15")  # an API client of the same person

    page = browser.get(a, "/account/2fa/login/")
    assert page.status == 200
    signed_in = browser.post_form(
        a,
        "/account/2fa/login/",
        {
            "username": "enroller",
            "password": PASSWORD,
            "csrfmiddlewaretoken": csrf_form_token(page),
        },
    )
    assert signed_in.status == 302, signed_in.text[:500]
    assert browser.get(b, "/protected/").status == 200  # sessions live in the database
    started = api.post_json(a, "/api/2fa/login/", {"username": "enroller", "password": PASSWORD})
    assert started.status == 200, started.text[:500]  # no 2FA yet: a token at once
    token = started.json()["token"]
    before = api.get(b, "/api/2fa/status/", token=token)
    assert before.status == 200 and before.json()["enabled"] is False

    enrolling = api.post_json(
        a, "/api/2fa/enroll/", {"phone": ENROLLER_PHONE, "channel": "sms"}, token=token
    )
    assert enrolling.status == 202, enrolling.text[:500]
    code = cluster.code_sent_to(a, ENROLLER_PHONE)
    confirmed = api.post_json(
        a,
        "/api/2fa/enroll/confirm/",
        {"enrollment": enrolling.json()["enrollment"], "code": code},
        token=token,
    )
    assert confirmed.status == 200 and confirmed.json()["recovery_codes"], confirmed.text[:500]

    # On B, at the next request: the password-only session and token no longer count.
    protected = browser.get(b, "/protected/")
    assert protected.status == 302, protected.text[:500]
    assert "/account/2fa/login/" in protected.headers["Location"]
    assert api.get(b, "/api/2fa/status/", token=token).status == 401
    assert login(api, b, "enroller")  # B asks for the second step now
    reliability.record(
        family="race",
        case="2FA enrolled through app server A, old session and token used on B",
        requests=browser.requests + api.requests,
        server_errors=browser.server_errors + api.server_errors,
        wrong_logins=0,
        outcome="B demotes the session and refuses the token at their next request",
    )


# -- a server that cannot reach the cache --------------------------------------------------------


@pytest.fixture(scope="module")
def cacheless(cluster) -> Iterator[AppServer]:
    """A third server on the same database whose Redis is unreachable (down or partitioned)."""
    env = {**cluster.env, "CACHE_URL": dead_redis_url()}
    with app_servers({"C": env}, cluster.tmp) as servers:
        yield servers["C"]


def test_a_server_without_its_cache_falls_back_to_the_database(cluster, cacheless, reliability):
    client = Client("203.0.113.16")
    challenge = login(client, cacheless, "cacheless")
    assert send(client, cacheless, challenge).status == 202
    code = cluster.code_sent_to(cacheless, USERS["cacheless"])
    assert outcome(verify(client, cacheless, challenge, wrong(code))) == (400, "invalid_code")
    verified = verify(client, cluster.a, challenge, code)  # a healthy server finishes it
    assert verified.status == 200, verified.text[:500]
    token = verified.json()["token"]
    for server in (cacheless, cluster.a, cluster.b):
        assert client.get(server, "/api/2fa/status/", token=token).status == 200
    assert client.server_errors == 0
    assert "Cache unavailable" in cacheless.log_tail(200)
    reliability.record(
        family="race",
        case="App server whose Redis is unreachable, next to two healthy ones",
        requests=client.requests,
        server_errors=client.server_errors,
        outcome="logins, counts and tokens work from the database; warnings logged",
    )


def test_a_change_through_a_server_without_cache_reaches_the_others(cluster, cacheless):
    """2FA turned off through C: B must stop accepting the token verified before."""
    client = Client("203.0.113.17")
    token, sent_at = full_login(cluster, client, cluster.a, "partition")
    assert client.get(cluster.b, "/api/2fa/status/", token=token).status == 200  # cached on B
    sleep_past_cooldown(sent_at)
    disabled = step_up_and_disable(cluster, client, cacheless, "partition", token)
    assert disabled.status in (204, 503), disabled.text[:500]
    if disabled.status == 204:
        # The change is committed: no server may accept the token of the old version.
        assert client.get(cacheless, "/api/2fa/status/", token=token).status == 401
        stale = client.get(cluster.b, "/api/2fa/status/", token=token)
        assert stale.status == 401, "B accepted a token of the old 2FA version"
    assert client.server_errors == 0


def test_2fa_enabled_through_a_server_without_cache_is_required_by_the_others(cluster, cacheless):
    """2FA turned on through C: B must ask for the second step, not accept a password alone."""
    client = Client("203.0.113.18")
    signed_in = client.post_json(
        cluster.a, "/api/2fa/login/", {"username": "partition2", "password": PASSWORD}
    )
    assert signed_in.status == 200, signed_in.text[:500]  # no 2FA yet
    token = signed_in.json()["token"]
    assert client.get(cluster.b, "/api/2fa/status/", token=token).status == 200  # cached on B
    enrolling = client.post_json(
        cacheless, "/api/2fa/enroll/", {"phone": PARTITION2_PHONE, "channel": "sms"}, token=token
    )
    assert enrolling.status == 202, enrolling.text[:500]
    confirmed = client.post_json(
        cacheless,
        "/api/2fa/enroll/confirm/",
        {
            "enrollment": enrolling.json()["enrollment"],
            "code": cluster.code_sent_to(cacheless, PARTITION2_PHONE),
        },
        token=token,
    )
    assert confirmed.status in (200, 503), confirmed.text[:500]
    if confirmed.status == 200:
        assert cluster.profile("partition2")[2] is not None  # committed: 2FA is on
        for server in (cacheless, cluster.b):
            again = client.post_json(
                server, "/api/2fa/login/", {"username": "partition2", "password": PASSWORD}
            )
            assert again.status == 202, f"{server.name} signed in with a password alone"
    assert client.server_errors == 0
