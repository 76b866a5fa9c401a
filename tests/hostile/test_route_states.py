"""Every route of the pages and of the API, every method, every state, empty and garbage bodies.

The routes come from ``urlpatterns`` (never a hard-coded list) and their required state
from ``ROUTE_STATES``; a route added without an entry fails here. For every request:

* never a server error;
* a ``verified`` route never answers 2xx to an anonymous visitor or a pending attempt,
  nor an ``enrolling`` route to one that needs no enrollment; provider callbacks refuse
  unsigned calls;
* nothing completes a login without the right code: no session reaches ``/protected/``,
  no attempt is finished, no API token appears.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.urls import URLPattern, reverse
from django.urls.converters import IntConverter, PathConverter, SlugConverter, UUIDConverter
from rest_framework.test import APIClient

from django_authy2fa import urls as page_urls
from django_authy2fa.api import urls as api_urls
from django_authy2fa.models import APIToken, LoginChallenge
from django_authy2fa.urls import RowIdConverter

from ..helpers import PASSWORD, Browser, make_user
from .support import Tally, World, build_world, diff, form_body, isolated, snapshot

pytestmark = pytest.mark.django_db

MODULES = {"pages": page_urls, "api": api_urls}
KNOWN_STATES = {"anonymous", "pending", "enrolling", "verified", "provider"}
PAGE_STATES = ("anonymous", "pending", "verified", "no2fa")
API_STATES = ("anonymous", "pending-token", "pending-session", "verified", "no2fa")
NOT_SIGNED_IN = {"anonymous", "pending", "pending-token", "pending-session"}

GARBAGE_FIELDS = {
    "username": "alice\x00",
    "password": "x" * 5000,
    "next": "//evil.example",
    "method": "\uff53\uff4d\uff53",
    "channel": "fax",
    "code": "\u0661\u0662\u0663\u0664\u0665\u0666",
    "phone": "+999 \x01",
    "send": "pigeon",
    "trust_browser": "maybe",
    "session": "perhaps",
    "challenge": "0" * 300,
    "enrollment": "x.y",
    "step_up": ".",
    "uuid": "\ud800",
    "status": ["approved", "denied"],
}


def routes(module) -> list[URLPattern]:
    return [p for p in module.urlpatterns if isinstance(p, URLPattern)]


def sample_kwargs(pattern: URLPattern) -> dict[str, Any]:
    """A value for every converter of the route, whatever converters it uses."""
    samples = {
        IntConverter: 1,
        RowIdConverter: 1,
        UUIDConverter: uuid.uuid4(),
        SlugConverter: "x",
        PathConverter: "x/y",
    }
    return {
        name: samples.get(type(converter), "x")
        for name, converter in pattern.pattern.converters.items()
    }


def url_of(module, pattern: URLPattern) -> str:
    return reverse(f"{module.app_name}:{pattern.name}", kwargs=sample_kwargs(pattern))


# -- the lists themselves ---------------------------------------------------------------------


@pytest.mark.parametrize("module", MODULES.values(), ids=MODULES.keys())
def test_every_route_has_a_state_entry(module):
    names = [p.name for p in routes(module)]
    assert all(names), "every route needs a name to be listed in ROUTE_STATES"
    assert len(names) == len(set(names)), "route names must be unique"
    assert set(names) == set(module.ROUTE_STATES), "add new routes to ROUTE_STATES"


@pytest.mark.parametrize("module", MODULES.values(), ids=MODULES.keys())
def test_route_states_use_the_known_vocabulary(module):
    assert set(module.ROUTE_STATES.values()) <= KNOWN_STATES


@pytest.mark.parametrize("module", MODULES.values(), ids=MODULES.keys())
def test_every_route_can_be_swept(module):
    """The sweep can build a URL for every route, including ones with converters."""
    for pattern in routes(module):
        assert url_of(module, pattern).startswith("/")


# -- the sweep ------------------------------------------------------------------------------


def _page_clients(world: World) -> dict[str, Browser]:
    clients = {k: world.pages[k] for k in ("anonymous", "pending", "verified")}
    no2fa = Browser()
    no2fa.password_step("bob")  # signed in: bob needs no second step
    clients["no2fa"] = no2fa
    return clients


def _api_clients(world: World) -> dict[str, APIClient]:
    no2fa = APIClient()
    token = no2fa.post(
        "/api/2fa/login/", {"username": "carl", "password": PASSWORD}, format="json"
    ).json()["token"]
    no2fa.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return {
        "anonymous": world.apis["anonymous"],
        "pending-token": APIClient(),
        "pending-session": world.apis["pending-session"],
        "verified": world.apis["verified"],
        "no2fa": no2fa,
    }


def _page_requests(browser: Browser, url: str):
    """(label, callable) for every request sent to one page route."""
    csrf = browser.csrf()
    garbage = {**GARBAGE_FIELDS, "uuid": "x", "csrfmiddlewaretoken": csrf}
    return [
        ("GET", lambda: browser.get(url)),
        ("GET garbage query", lambda: browser.get(f"{url}?{form_body(GARBAGE_FIELDS).decode()}")),
        ("POST empty", lambda: browser.post(url, {"csrfmiddlewaretoken": csrf})),
        ("POST garbage form", lambda: browser.post(url, garbage)),
        (
            "POST garbage bytes",
            lambda: browser.post(
                url, b"\xff\xfe\x00{{", content_type="application/json", HTTP_X_CSRFTOKEN=csrf
            ),
        ),
    ]


def _api_requests(client: APIClient, url: str, challenge: str | None):
    extra = {"challenge": challenge} if challenge else {}
    garbage = {**GARBAGE_FIELDS, **extra}
    return [
        ("GET", lambda: client.get(url)),
        ("GET garbage query", lambda: client.get(f"{url}?{form_body(GARBAGE_FIELDS).decode()}")),
        ("POST empty", lambda: client.post(url)),
        ("POST {}", lambda: client.post(url, {**extra}, format="json")),
        (
            "POST garbage JSON",
            lambda: client.post(url, json.dumps(garbage), content_type="application/json"),
        ),
        (
            "POST garbage form",
            lambda: client.post(
                url, form_body(garbage), content_type="application/x-www-form-urlencoded"
            ),
        ),
        (
            "POST garbage bytes",
            lambda: client.post(url, b"\xff\xfe\x00{{", content_type="application/json"),
        ),
    ]


def _signed_in_before() -> tuple[set, set]:
    return (
        set(APIToken.objects.filter(revoked_at__isnull=True).values_list("pk", flat=True)),
        set(LoginChallenge.objects.filter(status="verified").values_list("pk", flat=True)),
    )


def sweep(world: World, module, state: str, client, requests_for, tally: Tally) -> list[str]:
    """Send every request to every route; return the problems found (empty is good)."""
    problems = []
    for pattern in routes(module):
        route_state = module.ROUTE_STATES[pattern.name]  # KeyError: a route without a state
        url = url_of(module, pattern)
        for label, send in requests_for(url):
            tokens, finished = _signed_in_before()
            with isolated(world):
                response = send()
                tally.saw(response)
                where = f"{label} {url} as {state} ({route_state} route)"
                status = response.status_code
                if status >= 500:
                    problems.append(f"{where}: {status}")
                ok = 200 <= status < 300
                if ok and route_state == "verified" and state in NOT_SIGNED_IN:
                    problems.append(f"{where}: {status} to a visitor not signed in")
                if ok and route_state == "enrolling" and state in NOT_SIGNED_IN:
                    problems.append(f"{where}: {status} to an attempt that needs no enrollment")
                if route_state == "provider" and status not in (403, 404, 405):
                    problems.append(f"{where}: {status} to an unsigned callback")
                if state in NOT_SIGNED_IN:
                    now_tokens, now_finished = _signed_in_before()
                    if now_tokens - tokens or now_finished - finished:
                        problems.append(f"{where}: a login completed without a code")
                    protected = client.get("/protected/").status_code
                    if protected != 302:
                        problems.append(f"{where}: /protected/ answered {protected}")
    return problems


@pytest.mark.parametrize("state", PAGE_STATES)
def test_page_route_sweep(state, reliability):
    world = build_world()
    client = _page_clients(world)[state]
    world.pages["_sweep"] = client  # restored after every request like the others
    tally = Tally()
    problems = sweep(
        world, page_urls, state, client, lambda url: _page_requests(client, url), tally
    )
    assert not problems, "\n".join(problems)
    reliability.record(
        family="hostile",
        case=f"route sweep: pages as {state}",
        requests=tally.requests,
        server_errors=tally.server_errors,
        wrong_logins=0,
        wrong_locks=0,
        outcome=f"{len(routes(page_urls))} routes x GET/POST, empty and garbage bodies",
    )


@pytest.mark.parametrize("state", API_STATES)
def test_api_route_sweep(state, reliability):
    make_user("carl", enabled=False)
    world = build_world()
    client = _api_clients(world)[state]
    world.apis["_sweep"] = client
    challenge = world.challenge if state == "pending-token" else None
    tally = Tally()
    problems = sweep(
        world, api_urls, state, client, lambda url: _api_requests(client, url, challenge), tally
    )
    assert not problems, "\n".join(problems)
    reliability.record(
        family="hostile",
        case=f"route sweep: API as {state}",
        requests=tally.requests,
        server_errors=tally.server_errors,
        wrong_logins=0,
        wrong_locks=0,
        outcome=f"{len(routes(api_urls))} routes x GET/POST, empty and garbage bodies",
    )


def test_a_pending_attempt_survives_the_sweep_of_verified_routes():
    """Verified routes refuse a pending attempt without finishing or leaking it."""
    make_user("alice")
    browser = Browser()
    browser.password_step()
    before = snapshot()
    for pattern in routes(page_urls):
        if page_urls.ROUTE_STATES[pattern.name] != "verified":
            continue
        url = url_of(page_urls, pattern)
        for response in (browser.get(url), browser.submit(url, GARBAGE_FIELDS | {"uuid": "x"})):
            assert response.status_code in (302, 405), (url, response.status_code)
            assert b"alice" not in response.content
    changed = diff(before, snapshot())
    assert set(changed) <= {"challenges"}, changed  # the step-up page may start an attempt
    assert browser.get("/protected/").status_code == 302
