"""Property-based hostile input: every field the pages and the API accept, in every state.

For every generated input, on every surface (pages with their CSRF token, the API in
JSON and form-encoded):

* the answer is never a server error;
* input the flows reject changes nothing: profiles (phone, enabled_at, failure_count,
  locked_until, version...), unused recovery codes, API tokens, confirmed apps, trusted
  browsers, login attempts, audit events, last_login, codes sent;
* nobody is logged in without the right second factor.

Only a syntactically valid but wrong code may move the failure counters; the strategies
say when an input may be "accepted" (an over-approximation), and a separate property
checks that such wrong codes move ``failure_count`` by exactly one each.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.utils.encoding import iri_to_uri
from django.utils.http import url_has_allowed_host_and_scheme
from hypothesis import assume, given
from hypothesis import strategies as st
from rest_framework import serializers

from django_authy2fa import recovery
from django_authy2fa.models import APIToken, LoginChallenge, TrustedBrowser, TwoFactorProfile
from django_authy2fa.providers import locmem

from ..helpers import PASSWORD, Browser, make_user
from .support import (
    ALICE_PHONE,
    API,
    ASCII_DIGITS,
    BOB_PHONE,
    CHANNELS,
    DAVE_PHONE,
    DIGIT_SETS,
    METHODS,
    MISSING,
    PAGES,
    WHITESPACE,
    Tally,
    World,
    as_text,
    ascii_digits,
    build_world,
    choice_ok,
    code_like,
    diff,
    field_values,
    form_body,
    has_lone_surrogate,
    hypothesis_settings,
    isolated,
    json_values,
    phone_ok,
    post_api,
    post_page,
    server_value,
    snapshot,
    text_values,
    token_ok,
)

pytestmark = pytest.mark.django_db

ALICE_METHODS = ("sms", "call", "push", "recovery")
STATES = ("anonymous", "pending", "verified")


@pytest.fixture
def world() -> World:
    return build_world()


# -- one request, checked ------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A field's way into the app: surface, state, route and the companion fields."""

    name: str
    kind: str  # "page" or "api"
    state: str
    path: str
    fields: Callable[[World, Any], dict[str, Any]]


def _logins() -> tuple[set, set]:
    """Active API tokens and completed attempts: a login adds to one of them."""
    return (
        set(APIToken.objects.filter(revoked_at__isnull=True).values_list("pk", flat=True)),
        set(LoginChallenge.objects.filter(status="verified").values_list("pk", flat=True)),
    )


def _check_login_state(
    world: World, kind: str, state: str, *, rejected: bool, may_login: bool
) -> None:
    if kind == "page":
        status = world.pages[state].get("/protected/").status_code
        if state in ("anonymous", "pending") and not may_login:
            assert status == 302, f"a {state} session reached /protected/"
        elif rejected:
            assert status == 200, "rejected input signed a verified session out"
    elif state == "pending-session" and not may_login:
        assert world.apis[state].get("/protected/").status_code == 302
    elif state in ("verified", "enrolling") and rejected:
        assert world.apis[state].get(f"{API}status/").status_code == 200


def check(
    world: World,
    tally: Tally,
    *,
    kind: str,
    state: str,
    send: Callable[[], Any],
    accepted: bool,
    may_login: bool = False,
    then: Callable[[Any, dict], None] | None = None,
) -> None:
    """Send one hostile request in isolation and assert the properties."""
    before = snapshot()
    logins = _logins()
    with isolated(world):
        response = send()
        tally.saw(response)
        assert response.status_code < 500, response.content[:300]
        changed = diff(before, snapshot())
        if not accepted:
            tally.rejected += 1
            assert not changed, f"rejected input changed state: {changed}"
        if not may_login:
            tokens, completed = _logins()
            assert tokens <= logins[0], "an API token was issued without the second factor"
            assert completed <= logins[1], "an attempt completed without the right factor"
        _check_login_state(world, kind, state, rejected=not accepted, may_login=may_login)
        if then is not None:
            then(response, changed)
    tally.examples += 1


def send_target(world: World, target: Target, fields: dict[str, Any], encoding: str):
    if target.kind == "page":
        return post_page(
            world.pages[target.state], target.path, fields, multipart=encoding == "multipart"
        )
    return post_api(world.apis[target.state], target.path, fields, encoding=encoding)


def encodings(target: Target) -> st.SearchStrategy[str]:
    if target.kind == "page":
        return st.sampled_from(["form", "multipart"])
    return st.sampled_from(["json", "form"])


def sv(fields: dict[str, Any], name: str, encoding: str) -> Any:
    return server_value(fields, name, encoding="json" if encoding == "json" else "form")


def is_real_code(world: World, value: Any) -> bool:
    text = as_text(value)
    if text is None:
        return False
    text = text.strip().replace(" ", "")
    real_recovery = {recovery.normalize(c) for c in world.recovery_codes}
    return text in world.real_codes() or recovery.normalize(text) in real_recovery


def record(reliability, case: str, tally: Tally, outcome: str) -> None:
    reliability.record(
        family="hostile",
        case=case,
        requests=tally.requests,
        server_errors=tally.server_errors,
        wrong_logins=0,
        wrong_locks=0,
        outcome=f"{outcome} ({tally.examples} examples, {tally.rejected} rejected unchanged)",
    )


# -- codes -------------------------------------------------------------------------------


def _proof(world: World, value: Any, method: str = "recovery") -> dict[str, Any]:
    return {"step_up": world.step_up, "password": PASSWORD, "method": method, "code": value}


CODE_TARGETS = [
    *(
        Target(
            f"page verify ({s})",
            "page",
            s,
            f"{PAGES}verify/",
            lambda w, v: {"method": "sms", "code": v, "trust_browser": "on"},
        )
        for s in STATES
    ),
    Target(
        "page verify recovery (pending)",
        "page",
        "pending",
        f"{PAGES}verify/",
        lambda w, v: {"method": "recovery", "code": v},
    ),
    Target(
        "page verify push (pending)",
        "page",
        "pending",
        f"{PAGES}verify/",
        lambda w, v: {"method": "push", "code": v},
    ),
    Target("page enroll confirm", "page", "enrolling", f"{PAGES}enroll/confirm/", None),
    Target("page enroll app", "page", "enrolling", f"{PAGES}enroll/app/", None),
    Target(
        "page step-up",
        "page",
        "verified",
        f"{PAGES}manage/confirm/",
        lambda w, v: {"password": PASSWORD, "method": "sms", "code": v},
    ),
    Target(
        "api verify (pending)",
        "api",
        "pending",
        f"{API}verify/",
        lambda w, v: {"challenge": w.challenge, "method": "sms", "code": v},
    ),
    Target(
        "api verify recovery (pending)",
        "api",
        "pending",
        f"{API}verify/",
        lambda w, v: {"challenge": w.challenge, "method": "recovery", "code": v},
    ),
    Target(
        "api verify (session)",
        "api",
        "pending-session",
        f"{API}verify/",
        lambda w, v: {"method": "call", "code": v},
    ),
    Target(
        "api verify (anonymous)",
        "api",
        "anonymous",
        f"{API}verify/",
        lambda w, v: {"method": "sms", "code": v},
    ),
    Target(
        "api enroll confirm",
        "api",
        "enrolling",
        f"{API}enroll/confirm/",
        lambda w, v: {"enrollment": w.enrollment, "code": v},
    ),
    Target("api enroll app confirm", "api", "enrolling", f"{API}enroll/app/confirm/", None),
    Target("api recovery codes", "api", "verified", f"{API}recovery-codes/", _proof),
    Target("api disable", "api", "verified", f"{API}disable/", _proof),
]


def _fields(target: Target, world: World, value: Any) -> dict[str, Any]:
    if target.fields is None:
        return {"code": value}
    return target.fields(world, value)


def test_codes(world, reliability):
    """Codes: unicode digits, whitespace, controls, NUL, surrogates, huge, any JSON type."""
    tally = Tally()

    @hypothesis_settings(220)
    @given(data=st.data())
    def run(data):
        target = data.draw(st.sampled_from(CODE_TARGETS), label="target")
        encoding = data.draw(encodings(target), label="encoding")
        value = data.draw(
            st.one_of(field_values(api=target.kind == "api"), ascii_digits), label="code"
        )
        fields = _fields(target, world, value)
        code = sv(fields, "code", encoding)
        assume(not is_real_code(world, code))
        before = TwoFactorProfile.objects.get(user=world.alice).failure_count

        def then(response, changed):
            # A well-formed wrong code costs at most one failure (exactly one: see the
            # accounted property at the end of this file).
            after = TwoFactorProfile.objects.get(user=world.alice).failure_count
            assert after - before in (0, 1)

        check(
            world,
            tally,
            kind=target.kind,
            state=target.state,
            send=lambda: send_target(world, target, fields, encoding),
            accepted=code_like(code),
            then=then,
        )

    run()
    record(reliability, "codes", tally, "no 500; non-codes change nothing; no login")


# -- recovery codes ------------------------------------------------------------------------

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CONFUSABLES = {
    "A": ["\u0410", "\uff21", "\u0391"],  # Cyrillic, full-width, Greek
    "O": ["\u041e", "\u039f", "0"],
    "E": ["\u0415", "\u0395"],
    "S": ["\u017f"],  # long s: upper() is S
    "I": ["\u0131", "l", "i"],  # dotless i: upper() is I
    "K": ["\u212a", "\u039a"],  # Kelvin sign
}


@st.composite
def recovery_values(draw, world: World) -> str:
    real = draw(st.sampled_from(world.recovery_codes[3:]))
    choice = draw(st.integers(0, 6))
    if choice == 0:  # one character changed: valid format, wrong code
        raw = real.replace("-", "")
        i = draw(st.integers(0, len(raw) - 1))
        other = draw(st.sampled_from([c for c in CROCKFORD if c != raw[i]]))
        return raw[:i] + other + raw[i + 1 :]
    if choice == 1:  # a confusable from another script in a real code
        raw = list(real)
        positions = [i for i, c in enumerate(raw) if c in CONFUSABLES]
        if positions:
            i = draw(st.sampled_from(positions))
            raw[i] = draw(st.sampled_from(CONFUSABLES[raw[i]]))
        return "".join(raw)
    if choice == 2:  # wrong length
        return draw(st.sampled_from([real[:-1], real + "A", real + "-", real * 2, real[5:]]))
    if choice == 3:  # forgiving forms of random codes
        body = draw(st.text(alphabet=CROCKFORD + "ILOilo", min_size=16, max_size=16))
        sep = draw(st.sampled_from(["", "-", " ", "--", "\t", "\u2010", "\u00a0"]))
        return sep.join(body[i : i + 4] for i in range(0, 16, 4))
    if choice == 4:  # unicode digits and full-width letters
        table = str.maketrans(ASCII_DIGITS, draw(st.sampled_from(sorted(DIGIT_SETS.values()))))
        return real.translate(table)
    if choice == 5:
        return draw(text_values(surrogates=True))
    return real.lower().replace("-", draw(st.sampled_from(["", " ", "_", "."])))


RECOVERY_TARGETS = [
    Target(
        "page verify",
        "page",
        "pending",
        f"{PAGES}verify/",
        lambda w, v: {"method": "recovery", "code": v},
    ),
    Target(
        "page step-up",
        "page",
        "verified",
        f"{PAGES}manage/confirm/",
        lambda w, v: {"password": PASSWORD, "method": "recovery", "code": v},
    ),
    Target(
        "api verify",
        "api",
        "pending",
        f"{API}verify/",
        lambda w, v: {"challenge": w.challenge, "method": "recovery", "code": v},
    ),
    Target("api disable", "api", "verified", f"{API}disable/", _proof),
]


def test_recovery_codes(world, reliability):
    """Look-alike recovery codes: a wrong one in the right format costs exactly one failure."""
    tally = Tally()

    @hypothesis_settings(90)
    @given(data=st.data())
    def run(data):
        target = data.draw(st.sampled_from(RECOVERY_TARGETS), label="target")
        encoding = data.draw(encodings(target), label="encoding")
        fields = target.fields(world, data.draw(recovery_values(world), label="code"))
        code = sv(fields, "code", encoding)
        assume(not is_real_code(world, code))
        text = as_text(code)
        counted = text is not None and recovery.normalize(text.strip()) is not None

        def then(response, changed):
            failures = TwoFactorProfile.objects.get(user=world.alice).failure_count
            assert failures == (1 if counted else 0), (code, changed)
            assert response.status_code in (200, 302, 400), response.status_code

        check(
            world,
            tally,
            kind=target.kind,
            state=target.state,
            send=lambda: send_target(world, target, fields, encoding),
            accepted=counted,
            then=then,
        )

    run()
    record(reliability, "recovery codes", tally, "look-alikes refused; wrong valid ones +1")


# -- phone numbers and country codes -------------------------------------------------------


@st.composite
def phone_values(draw) -> str:
    kind = draw(st.integers(0, 4))
    if kind == 0:
        country = draw(
            st.sampled_from(["", "+", "+0", "+1", "+44", "+999", "+800", "+882", "00", "0044"])
        )
        digits = draw(
            st.one_of(
                st.text(alphabet=ASCII_DIGITS + " -().", max_size=20),
                st.text(alphabet=ASCII_DIGITS, min_size=30, max_size=60),
            )
        )
        return country + digits
    if kind == 1:  # a valid number written with digits of another script
        alphabet = draw(st.sampled_from(sorted(DIGIT_SETS.values())))
        number = draw(st.sampled_from([ALICE_PHONE, BOB_PHONE, "+447911123456"]))
        return number.translate(str.maketrans(ASCII_DIGITS, alphabet))
    if kind == 2:
        return draw(
            st.sampled_from(
                [
                    "+1 415 555 2671",
                    "+1 (415) 555-2671",
                    "tel:+1-415-555-2671",
                    "+44 7911 123456",
                    "0044 7911 123456",
                    "+44 (0) 7911 123456",
                    "+1 415 555 2671 ext. 1234",
                    "+14155552671;ext=1",
                    "+1-800-555-0199",  # toll free
                    "+44 20 7946 0958",  # fixed line
                    "+881 6 12345678",  # satellite
                    "+1 415 555 2671\x00",
                    "\u202d+14155552671",
                    "+1 415 555 2671" + "\u200b",
                    "+1\t415\n555\r2671",
                    "+" + "1" * 16,
                    "+15",
                ]
            )
        )
    if kind == 3:  # whitespace and controls around a valid number
        pad = st.text(alphabet=WHITESPACE, max_size=3)
        return draw(pad) + "+447911123456" + draw(pad)
    return draw(text_values(surrogates=True))


PHONE_TARGETS = [
    Target(
        f"page enroll ({s})",
        "page",
        s,
        f"{PAGES}enroll/",
        lambda w, v: {"phone": v, "channel": "sms"},
    )
    # (A pending attempt that needs no enrollment is sent back to its second step
    # before the form is read: that is the route sweep's business.)
    for s in ("verified", "enrolling", "anonymous")
] + [
    Target(f"api enroll ({s})", "api", s, f"{API}enroll/", lambda w, v: {"phone": v})
    for s in ("enrolling", "verified", "anonymous")
]


def test_phone_numbers_and_country_codes(world, reliability):
    """Phone numbers: other scripts, landlines, odd country codes, separators, controls."""
    tally = Tally()

    @hypothesis_settings(120)
    @given(data=st.data())
    def run(data):
        target = data.draw(st.sampled_from(PHONE_TARGETS), label="target")
        encoding = data.draw(encodings(target), label="encoding")
        value = data.draw(
            st.one_of(phone_values(), field_values(api=target.kind == "api")), label="phone"
        )
        fields = target.fields(world, value)
        check(
            world,
            tally,
            kind=target.kind,
            state=target.state,
            send=lambda: send_target(world, target, fields, encoding),
            accepted=phone_ok(sv(fields, "phone", encoding)),
        )

    run()
    record(reliability, "phone numbers and country codes", tally, "invalid numbers change nothing")


# -- next ----------------------------------------------------------------------------------

NEXT_SAMPLES = [
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https://evil.example",
    "http://testserver@evil.example",
    "//evil.example@testserver",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/%2F%2Fevil.example",
    "///evil.example",
    "\x01//evil.example",
    " //evil.example",
    "\t//evil.example",
    "/\t/evil.example",
    "https:evil.example",
    "https:/evil.example",
    "\uff48\uff54\uff54\uff50\uff53://evil.example",
    "/" + "a" * 3000,
    "http://testserver/ok",
    "https://testserver/ok",
    "/protected/?a=1#frag",
    "/\u2028//evil.example",
    "/a\nLocation: https://evil.example",
    "/ok",
    "",
]


def _safe(next_url: str) -> bool:
    """On this site, as a browser reads the redirect the app will send.

    The stored value must pass Django's own check; then the Location header it becomes
    (``iri_to_uri``, as ``HttpResponseRedirect`` does) is parsed the way browsers do:
    leading and trailing C0 controls and spaces trimmed, tabs and newlines dropped,
    backslashes read as slashes.
    """
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={"testserver"}):
        return False
    seen = iri_to_uri(next_url).strip("".join(chr(c) for c in range(0x21)))
    seen = re.sub(r"[\t\n\r]", "", seen).replace("\\", "/")
    parts = urlsplit(seen)
    if parts.scheme and not parts.netloc:  # "https:evil.example" is absolute for browsers
        return False
    return parts.scheme.lower() in ("", "http", "https") and parts.netloc.lower() in (
        "",
        "testserver",
    )


def test_next(world, reliability):
    """``next`` never sends a user off the site, whatever its form; bad credentials stay bad."""
    tally = Tally()

    @hypothesis_settings(90)
    @given(data=st.data())
    def run(data):
        state = data.draw(st.sampled_from(STATES), label="state")
        encoding = data.draw(st.sampled_from(["form", "multipart"]), label="encoding")
        value = data.draw(
            st.one_of(st.sampled_from(NEXT_SAMPLES), field_values(api=False)), label="next"
        )
        # Known bug: a NUL byte in next is stored as is and breaks PostgreSQL (500): see
        # test_next_with_a_nul_byte_is_refused_or_dropped below.
        password = data.draw(st.sampled_from([PASSWORD, PASSWORD, "wrong password"]))
        fields = {"username": "alice", "password": password, "next": value}
        assume("\x00" not in str(sv(fields, "next", encoding)))
        known = set(LoginChallenge.objects.values_list("pk", flat=True))

        def then(response, changed):
            for challenge in LoginChallenge.objects.exclude(pk__in=known):
                assert _safe(challenge.next_url), challenge.next_url
            location = response.get("Location", "")
            assert location in ("", "/account/2fa/verify/"), location

        check(
            world,
            tally,
            kind="page",
            state=state,
            send=lambda: post_page(
                world.pages[state], f"{PAGES}login/", fields, multipart=encoding == "multipart"
            ),
            accepted=sv(fields, "password", encoding) == PASSWORD,
            then=then,
        )

    run()
    record(reliability, "next", tally, "stored next always on this site")


# -- challenge, enrollment and step-up tokens -----------------------------------------------


@st.composite
def token_values(draw, real: str, others: list[str]) -> Any:
    """Mutations of a real token (some equivalent, most not), and other purposes' tokens."""
    real_id, secret = real.split(".")
    hostile = text_values(surrogates=True)
    kind = draw(st.integers(0, 12))
    if kind == 0:
        return real + draw(hostile)
    if kind == 1:
        return draw(hostile) + real
    if kind == 2:
        return f"{real_id}.{draw(hostile)}"
    if kind == 3:
        return f"{draw(hostile)}.{secret}"
    if kind == 4:  # the same id written otherwise (equivalent) with the real secret
        form = draw(
            st.sampled_from(
                [
                    real_id.upper(),
                    "{" + real_id + "}",
                    "urn:uuid:" + real_id,
                    real_id.replace("-", ""),
                    real_id.translate(str.maketrans(ASCII_DIGITS, DIGIT_SETS["full-width"])),
                ]
            )
        )
        return f"{form}.{secret}"
    if kind == 5:  # the secret altered
        altered = draw(
            st.sampled_from(
                [secret.upper(), secret[:-1], secret + "=", secret[::-1], secret[1:] + secret[0]]
            )
        )
        return f"{real_id}.{altered}"
    if kind == 6:
        return draw(st.sampled_from([f"{real_id}..{secret}", f"{real}.", f"{secret}.{real_id}"]))
    if kind == 7:  # whitespace around the whole token (trimmed: equivalent)
        pad = st.text(alphabet=" \t\n", max_size=2)
        return draw(pad) + real + draw(pad)
    if kind == 8:
        return draw(st.sampled_from(others))
    if kind == 9:
        return draw(st.sampled_from([[real], {"challenge": real}, None, True, 0, 1.5]))
    if kind == 10:
        return draw(json_values())
    if kind == 11:
        return real
    return draw(hostile)


def _token_targets(world: World) -> list[tuple[str, str, str, str, Callable[[Any], dict]]]:
    """(name, state, path, the real token, fields) for each token-bearing field."""
    proof = {"password": PASSWORD, "method": "recovery", "code": world.recovery_codes[1]}
    return [
        (
            "api send",
            "anonymous",
            f"{API}send/",
            world.challenge,
            lambda v: {"challenge": v, "channel": "sms"},
        ),
        (
            "api verify with the right code",
            "anonymous",
            f"{API}verify/",
            world.challenge,
            lambda v: {"challenge": v, "method": "sms", "code": world.api_code},
        ),
        ("api push", "anonymous", f"{API}push/", world.challenge, lambda v: {"challenge": v}),
        (
            "api push status",
            "anonymous",
            f"{API}push/status/",
            world.challenge,
            lambda v: {"challenge": v},
        ),
        (
            "api enroll confirm with the right code",
            "enrolling",
            f"{API}enroll/confirm/",
            world.enrollment,
            lambda v: {"enrollment": v, "code": world.dave_code},
        ),
        (
            "api recovery codes with the right password and code",
            "verified",
            f"{API}recovery-codes/",
            world.step_up,
            lambda v: {"step_up": v, **proof},
        ),
        (
            "api disable with the right password and code",
            "verified",
            f"{API}disable/",
            world.step_up,
            lambda v: {"step_up": v, **proof},
        ),
    ]


def test_challenge_enrollment_and_step_up_tokens(world, reliability):
    """Tokens: a token that is not the real one never acts, even with the right code."""
    tally = Tally()
    targets = _token_targets(world)
    every_token = [world.challenge, world.enrollment, world.step_up]

    @hypothesis_settings(160)
    @given(data=st.data())
    def run(data):
        name, state, path, real, fields_for = data.draw(st.sampled_from(targets), label="target")
        encoding = data.draw(st.sampled_from(["json", "form"]), label="encoding")
        others = [t for t in every_token if t != real]
        value = data.draw(token_values(real, others), label="token")
        fields = fields_for(value)
        key = (
            "enrollment" if "enroll" in name else "step_up" if "step_up" in fields else "challenge"
        )
        accepted = token_ok(sv(fields, key, encoding), real)
        check(
            world,
            tally,
            kind="api",
            state=state,
            send=lambda: post_api(world.apis[state], path, fields, encoding=encoding),
            accepted=accepted,
            may_login=accepted,
        )

    run()
    record(reliability, "challenge, enrollment and step-up tokens", tally, "only the real one acts")


# -- method and channel ----------------------------------------------------------------------


def method_values(api: bool) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from([*METHODS, "SMS", "Sms", " sms", "sms ", "sms\x00", "\uff53\uff4d\uff53"]),
        st.sampled_from(["email", "voice", "whatsapp", "u2f", "backup", "0", "1"]),
        field_values(api=api),
    )


def _method_targets(world: World) -> list[tuple[str, str, str, str, Callable, Callable]]:
    """(kind, state, path, name, fields, accepted)."""

    def any_method(v):
        return choice_ok(v, METHODS)

    def alice_method(v):
        return choice_ok(v, ALICE_METHODS)

    def channel(v):
        return choice_ok(v, CHANNELS)

    def channel_or_default(v):
        # Optional with a default; an empty form value counts as left out (DRF's HTML rule).
        return v is MISSING or v == "" or choice_ok(v, CHANNELS)

    rc = world.recovery_codes[1]
    return [
        (
            "page",
            "pending",
            f"{PAGES}verify/",
            "method",
            lambda v: {"method": v, "code": world.page_code},
            any_method,
        ),
        ("page", "pending", f"{PAGES}verify/send/", "channel", lambda v: {"channel": v}, channel),
        (
            "page",
            "verified",
            f"{PAGES}manage/default-method/",
            "method",
            lambda v: {"method": v},
            alice_method,
        ),
        ("page", "verified", f"{PAGES}manage/confirm/", "send", lambda v: {"send": v}, channel),
        (
            "page",
            "verified",
            f"{PAGES}manage/confirm/",
            "method",
            lambda v: {"password": PASSWORD, "method": v, "code": rc},
            any_method,
        ),
        (
            "page",
            "enrolling",
            f"{PAGES}enroll/",
            "channel",
            lambda v: {"phone": BOB_PHONE, "channel": v},
            channel,
        ),
        (
            "api",
            "pending",
            f"{API}send/",
            "channel",
            lambda v: {"challenge": world.challenge, "channel": v},
            channel,
        ),
        (
            "api",
            "pending",
            f"{API}verify/",
            "method",
            lambda v: {"challenge": world.challenge, "method": v, "code": world.api_code},
            any_method,
        ),
        (
            "api",
            "pending-session",
            f"{API}verify/",
            "method",
            lambda v: {"method": v, "code": world.session_code},
            any_method,
        ),
        ("api", "pending-session", f"{API}send/", "channel", lambda v: {"channel": v}, channel),
        (
            "api",
            "enrolling",
            f"{API}enroll/",
            "channel",
            lambda v: {"phone": DAVE_PHONE, "channel": v},
            channel_or_default,
        ),
        (
            "api",
            "verified",
            f"{API}step-up/",
            "channel",
            lambda v: {"channel": v},
            channel_or_default,
        ),
        (
            "api",
            "verified",
            f"{API}recovery-codes/",
            "method",
            lambda v: _proof(world, rc, v),
            any_method,
        ),
    ]


def test_method_and_channel(world, reliability):
    """``method`` and ``channel``: anything but a known value changes nothing, even with the
    right code."""
    tally = Tally()
    targets = _method_targets(world)

    @hypothesis_settings(160)
    @given(data=st.data())
    def run(data):
        kind, state, path, name, fields_for, accepts = data.draw(
            st.sampled_from(targets), label="target"
        )
        encoding = data.draw(
            st.sampled_from(["form", "multipart"] if kind == "page" else ["json", "form"])
        )
        value = data.draw(st.one_of(method_values(kind == "api"), st.just(MISSING)), label=name)
        fields = fields_for(value)
        # Known bug: a lone surrogate in a ChoiceField is echoed into the JSON error and
        # breaks its encoding (500): test_lone_surrogate_in_a_choice_field_is_a_400.
        assume(not (kind == "api" and encoding == "json" and has_lone_surrogate(value)))
        accepted = accepts(sv(fields, name, encoding))
        target = Target(name, kind, state, path, None)
        check(
            world,
            tally,
            kind=kind,
            state=state,
            send=lambda: send_target(world, target, fields, encoding),
            accepted=accepted,
            may_login=accepted,
        )

    run()
    record(reliability, "method and channel", tally, "unknown values change nothing")


# -- username and password ---------------------------------------------------------------------

USERNAMES = [
    "alice",
    " alice ",
    "ALICE",
    "Alice",
    "\uff41\uff4c\uff49\uff43\uff45",  # full-width: NFKC makes it alice
    "alice\x00",
    "al\u0131ce",
    "a\u0301lice",
    "alice\u200b",
    "nobody",
    "",
]
PASSWORDS = [
    PASSWORD,
    " " + PASSWORD,
    PASSWORD + " ",
    PASSWORD.upper(),
    PASSWORD[:-1],
    PASSWORD + "\x00",
    PASSWORD.replace(" ", "\u00a0"),
    "\uff43orrect horse battery staple",  # a full-width first letter
]


def test_username_and_password(world, reliability):
    """Credentials: only the exact password moves anything, on every path that takes it."""
    tally = Tally()
    proof_code = world.recovery_codes[2]

    @hypothesis_settings(140)
    @given(data=st.data())
    def run(data):
        surface = data.draw(
            st.sampled_from(["page login", "api login", "page step-up", "api step-up"])
        )
        api = surface.startswith("api")
        encoding = data.draw(st.sampled_from(["json", "form"] if api else ["form", "multipart"]))
        username = data.draw(st.one_of(st.sampled_from(USERNAMES), field_values(api=api)))
        password = data.draw(st.one_of(st.sampled_from(PASSWORDS), field_values(api=api)))
        assume(as_text(username) not in ("bob", "dave"))  # users without 2FA get a token
        if surface.endswith("login"):
            state = data.draw(st.sampled_from(STATES if not api else ["anonymous"]))
            fields = {"username": username, "password": password}
            path = f"{API}login/" if api else f"{PAGES}login/"
        else:
            state = "verified"
            fields = {"password": password, "method": "recovery", "code": proof_code}
            path = f"{PAGES}manage/confirm/"
            if api:
                fields["step_up"] = world.step_up
                path = f"{API}recovery-codes/"
        accepted = sv(fields, "password", encoding) == PASSWORD
        may_login = accepted and not surface.endswith("login")
        target = Target(surface, "api" if api else "page", state, path, None)
        check(
            world,
            tally,
            kind=target.kind,
            state=state,
            send=lambda: send_target(world, target, fields, encoding),
            accepted=accepted,
            may_login=may_login,
        )

    run()
    record(reliability, "username and password", tally, "a wrong password changes nothing")


# -- the session flag ----------------------------------------------------------------------------


def _boolean(value: Any, encoding: str) -> bool:
    if value is MISSING or (encoding == "form" and value == ""):  # DRF's HTML-form rule
        return True
    try:
        serializers.BooleanField().run_validation(value)
    except serializers.ValidationError:
        return False
    return True


def test_session_flag(world, reliability):
    """``session``: any JSON type; only a boolean DRF accepts starts an attempt."""
    tally = Tally()

    @hypothesis_settings(70)
    @given(data=st.data())
    def run(data):
        encoding = data.draw(st.sampled_from(["json", "form"]))
        flag = data.draw(
            st.one_of(
                st.sampled_from([True, False, "true", "1", 1, 0, "on", "off", "yes", MISSING]),
                field_values(api=True),
            )
        )
        password = data.draw(st.sampled_from([PASSWORD, "wrong"]))
        fields = {"username": "alice", "password": password, "session": flag}
        valid = _boolean(sv(fields, "session", encoding), encoding)
        accepted = valid and password == PASSWORD

        def then(response, changed):
            if accepted:
                assert response.status_code == 202, response.content
                assert "challenges" in changed
            else:
                assert response.status_code in (400, 403), response.content

        check(
            world,
            tally,
            kind="api",
            state="anonymous",
            send=lambda: post_api(
                world.apis["anonymous"], f"{API}login/", fields, encoding=encoding
            ),
            accepted=accepted,
            then=then,
        )

    run()
    record(reliability, "session flag", tally, "non-booleans refused, no token without 2FA")


# -- JSON types and body shapes ------------------------------------------------------------------

API_POSTS = [
    ("login", "anonymous"),
    ("send", "pending-session"),
    ("push", "pending-session"),
    ("push/status", "pending-session"),
    ("verify", "pending-session"),
    ("enroll", "enrolling"),
    ("enroll/confirm", "enrolling"),
    ("enroll/app/confirm", "enrolling"),
    ("recovery-codes", "verified"),
    ("disable", "verified"),
]


@st.composite
def bodies(draw) -> tuple[str, Any]:
    kind = draw(st.integers(0, 4))
    if kind == 0:  # any JSON document, top level included
        return "json", draw(json_values())
    if kind == 1:  # an object whose keys are the real field names, values of any type
        keys = ["username", "password", "session", "challenge", "channel", "method", "code"]
        keys += ["phone", "enrollment", "step_up"]
        return "json", draw(st.dictionaries(st.sampled_from(keys), json_values(), max_size=6))
    if kind == 2:  # not JSON at all
        return "raw", draw(st.binary(max_size=64))
    if kind == 3:  # moderately deep nesting (deeper: test_deeply_nested_json_is_a_400)
        depth = draw(st.integers(1, 200))
        return "raw", ("[" * depth + "]" * depth).encode()
    return "raw", draw(
        st.sampled_from(
            [b"", b"{", b'{"code": }', b"\xef\xbb\xbf{}", b'{"a":1,"a":2}', b"NaN", b"1e999"]
        )
    )


def test_json_types_and_body_shapes(world, reliability):
    """Bodies of any JSON type or none: a refused body changes nothing."""
    tally = Tally()

    @hypothesis_settings(150)
    @given(data=st.data())
    def run(data):
        route, state = data.draw(st.sampled_from(API_POSTS))
        how, body = data.draw(bodies())
        client = world.apis[state]

        def send():
            if how == "raw":
                return client.post(f"{API}{route}/", body, content_type="application/json")
            return post_api(client, f"{API}{route}/", body, encoding="json")

        code = body.get("code") if isinstance(body, dict) else None
        assume(not is_real_code(world, code))
        # Known bugs, tested on their own below: lone surrogates in a ChoiceField.
        choices = [body.get(k) for k in ("method", "channel")] if isinstance(body, dict) else []
        assume(not any(has_lone_surrogate(v) for v in choices))
        counted = code_like(code)

        def then(response, changed):
            if response.status_code >= 400 and not counted:
                tally.rejected += 1
                assert not changed, changed

        check(
            world,
            tally,
            kind="api",
            state=state,
            send=send,
            accepted=True,  # judged by the answer in then()
            then=then,
        )

    run()
    record(reliability, "JSON types and body shapes", tally, "refused bodies change nothing")


# -- the Authorization header ---------------------------------------------------------------------


def test_authorization_header(world, reliability):
    """Any Authorization header: only the real token authenticates."""
    tally = Tally()
    real = world.api_token
    latin1 = st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=60)

    @hypothesis_settings(90)
    @given(data=st.data())
    def run(data):
        header = data.draw(
            st.one_of(
                latin1,
                st.builds(lambda s: f"Bearer {s}", latin1),
                st.sampled_from(
                    [
                        f"Bearer {real}x",
                        f"Bearer {real[:-1]}",
                        f"Bearer {real.upper()}",
                        f"Bearer  {real} extra",
                        f"Token {real}",
                        f"Basic {real}",
                        f"Bearer a2fa_{'A' * 200}",
                        "Bearer a2fa_",
                        "Bearer",
                        f"bearer {real}",
                        f"Bearer {real}",
                    ]
                ),
            )
        )
        method, path = data.draw(
            st.sampled_from(
                [
                    ("get", f"{API}status/"),
                    ("post", f"{API}logout/"),
                    ("post", f"{API}step-up/"),
                    ("get", "/api/whoami/"),
                ]
            )
        )
        parts = header.encode("latin-1").split()
        accepted = len(parts) == 2 and parts[0].lower() == b"bearer" and parts[1] == real.encode()
        client = world.apis["anonymous"]

        def send():
            return getattr(client, method)(path, HTTP_AUTHORIZATION=header)

        def then(response, changed):
            if not accepted:
                assert response.status_code in (401, 403), response.status_code

        check(world, tally, kind="api", state="anonymous", send=send, accepted=accepted, then=then)

    run()
    record(reliability, "Authorization header", tally, "401/403 unless the exact token")


# -- path ids and query strings --------------------------------------------------------------------


def test_path_ids_and_query_strings(world, reliability):
    """``browser_id`` of any size (another user's too), and hostile query strings."""
    tally = Tally()

    @hypothesis_settings(90)
    @given(data=st.data())
    def run(data):
        how = data.draw(st.sampled_from(["revoke", "verify", "step-up", "login"]))
        if how == "revoke":
            browser_id = data.draw(st.one_of(st.just(world.bob_browser_id), st.integers(0, 10**40)))
            state = "verified"
            browser = world.pages[state]

            def send():
                return post_page(
                    browser, f"{PAGES}manage/browsers/{browser_id}/revoke/", {}, multipart=False
                )

        else:
            value = data.draw(field_values(api=False))
            name = {"verify": "method", "step-up": "next", "login": "next"}[how]
            path = {"verify": "verify/", "step-up": "manage/confirm/", "login": "login/"}[how]
            state = {"verify": "pending", "step-up": "verified", "login": "anonymous"}[how]
            query = form_body({name: value, "x": value}).decode()

            def send():
                return world.pages[state].get(f"{PAGES}{path}?{query}")

        check(world, tally, kind="page", state=state, send=send, accepted=False)
        assert TrustedBrowser.objects.get(pk=world.bob_browser_id).revoked_at is None

    run()
    record(reliability, "path ids and query strings", tally, "no 500; nothing revoked")


# -- wrong codes: accounted ------------------------------------------------------------


@st.composite
def wrong_codes(draw, world: World, method: str, api: bool) -> Any:
    if method == "recovery":
        body = draw(st.text(alphabet=CROCKFORD, min_size=16, max_size=16))
        code = draw(
            st.sampled_from(
                [
                    "-".join(body[i : i + 4] for i in range(0, 16, 4)),
                    body.lower(),
                    " ".join(body[i : i + 4] for i in range(0, 16, 4)),
                ]
            )
        )
    elif api and draw(st.booleans()):
        code = draw(st.integers(100_000, 9_999_999_999))  # a JSON number: still a code
    else:
        digits = draw(st.text(alphabet=ASCII_DIGITS, min_size=6, max_size=10))
        pad = st.text(alphabet=" \t\n", max_size=2)
        code = draw(pad) + draw(st.sampled_from([digits, " ".join(digits)])) + draw(pad)
    assume(not is_real_code(world, code))
    return code


def test_wrong_codes_move_failure_count_by_exactly_one(world, reliability):
    """A well-formed wrong code costs exactly one failure, and the right code still works."""
    tally = Tally()

    @hypothesis_settings(45)
    @given(data=st.data())
    def run(data):
        surface = data.draw(st.sampled_from(["page", "api-json", "api-form", "api-session"]))
        method = data.draw(st.sampled_from(["sms", "call", "recovery"]))
        api = surface.startswith("api")
        count = data.draw(st.integers(1, 4))
        codes = data.draw(
            st.lists(
                wrong_codes(world, method, api and surface != "api-form"),
                min_size=count,
                max_size=count,
            )
        )
        with isolated(world):
            profile = TwoFactorProfile.objects.get(user=world.alice)
            base = profile.failure_count
            unused = recovery.remaining(world.alice)
            tokens = APIToken.objects.count()
            for i, code in enumerate(codes, 1):
                response = _submit(world, surface, method, code)
                tally.saw(response)
                assert response.status_code < 500
                profile.refresh_from_db()
                assert profile.failure_count == base + i, (code, response.content[:200])
                assert _attempt(world, surface).failures == i
                assert recovery.remaining(world.alice) == unused
                assert APIToken.objects.count() == tokens
                assert profile.locked_until is None
            right = {"page": world.page_code, "api-session": world.session_code}.get(
                surface, world.api_code
            )
            response = _submit(world, surface, "sms", right)
            tally.saw(response)
            assert response.status_code in (200, 302), response.content[:200]
            profile.refresh_from_db()
            assert profile.failure_count == 0
            if surface == "page":
                assert world.pages["pending"].get("/protected/").status_code == 200
        tally.examples += 1

    run()
    record(reliability, "wrong codes (accounted)", tally, "each wrong code +1, then the right one")


def _submit(world: World, surface: str, method: str, code: Any):
    if surface == "page":
        return post_page(
            world.pages["pending"],
            f"{PAGES}verify/",
            {"method": method, "code": code},
            multipart=False,
        )
    if surface == "api-session":
        return post_api(
            world.apis["pending-session"],
            f"{API}verify/",
            {"method": method, "code": code},
            encoding="json",
        )
    return post_api(
        world.apis["pending"],
        f"{API}verify/",
        {"challenge": world.challenge, "method": method, "code": code},
        encoding="json" if surface == "api-json" else "form",
    )


def _attempt(world: World, surface: str) -> LoginChallenge:
    if surface == "page":
        session = world.pages["pending"].session
    elif surface == "api-session":
        session = world.apis["pending-session"].session
    else:
        return LoginChallenge.objects.get(pk=world.challenge.split(".")[0])
    return LoginChallenge.objects.get(pk=session["_authy2fa_pending"]["id"])


# -- bugs found by the properties above (regression tests) -------------------------------------

DEEP = 5000
BODY_ROUTES = [
    ("login", "anonymous"),
    ("send", "anonymous"),
    ("push", "anonymous"),
    ("push/status", "anonymous"),
    ("verify", "anonymous"),
    ("enroll", "anonymous"),
    ("enroll/confirm", "anonymous"),
    ("enroll/app", "anonymous"),
    ("enroll/app/confirm", "anonymous"),
    ("step-up", "verified"),
    ("recovery-codes", "verified"),
    ("disable", "verified"),
]


@pytest.mark.parametrize(("route", "state"), BODY_ROUTES)
@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_deeply_nested_json_is_a_400(route, state, opener):
    from rest_framework.test import APIClient

    client = APIClient(raise_request_exception=False)
    if state == "verified":
        make_user("bob", enabled=False)
        token = client.post(
            f"{API}login/", {"username": "bob", "password": PASSWORD}, format="json"
        ).json()["token"]
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    closer = "]" if opener == "[" else "}"
    body = opener * DEEP + "1" + closer * DEEP
    before = snapshot()
    response = client.post(f"{API}{route}/", body, content_type="application/json")
    assert response.status_code == 400, response.status_code
    assert response.json()["code"] == "parse_error"
    assert not diff(before, snapshot())


CHOICE_FIELDS = [
    ("send", "pending", lambda w: {"challenge": w.challenge}, "channel"),
    ("verify", "pending", lambda w: {"challenge": w.challenge, "code": "123456"}, "method"),
    ("enroll", "enrolling", lambda w: {"phone": DAVE_PHONE}, "channel"),
    ("step-up", "verified", lambda w: {}, "channel"),
    ("recovery-codes", "verified", lambda w: _proof(w, "123456"), "method"),
    ("disable", "verified", lambda w: _proof(w, "123456"), "method"),
]


@pytest.mark.parametrize(("route", "state", "fields", "name"), CHOICE_FIELDS)
def test_lone_surrogate_in_a_choice_field_is_a_400(world, route, state, fields, name):
    client = world.apis[state]
    client.raise_request_exception = False
    body = json.dumps({**fields(world), name: "\ud800"})
    before = snapshot()
    response = client.post(f"{API}{route}/", body, content_type="application/json")
    assert response.status_code == 400, response.status_code
    assert not diff(before, snapshot())


@pytest.mark.parametrize("via", ["page", "admin"])
def test_next_with_a_nul_byte_is_refused_or_dropped(via):
    make_user("alice", staff=True)
    browser = Browser()
    if via == "page":
        response = browser.password_step(next_url="/account/\x00/")
    else:
        browser.get("/admin/login/")
        response = browser.submit(
            "/admin/login/?next=/account/%00/",
            {"username": "alice", "password": PASSWORD, "next": "/account/\x00/"},
        )
    assert response.status_code == 302
    stored = LoginChallenge.objects.get().next_url
    assert "\x00" not in stored, repr(stored)


@pytest.mark.parametrize("surface", ["page", "api"])
def test_refused_enrollment_send_leaves_the_attempt_alone(surface, settings):
    settings.AUTHY2FA = {
        "PROVIDER": "django_authy2fa.providers.locmem.LocmemProvider",
        "REQUIRED_FOR": "all",
    }
    make_user("carol", enabled=False)
    first, second = "+14155552671", "+447400123456"
    if surface == "page":
        browser = Browser()
        browser.password_step("carol")
        browser.submit(f"{PAGES}enroll/", {"phone": first, "channel": "sms"})
        code = locmem.outbox[-1].code
        refused = browser.submit(f"{PAGES}enroll/", {"phone": second, "channel": "sms"})
    else:
        from rest_framework.test import APIClient

        client = APIClient()
        challenge = client.post(
            f"{API}login/", {"username": "carol", "password": PASSWORD}, format="json"
        ).json()["challenge"]
        client.post(f"{API}enroll/", {"challenge": challenge, "phone": first}, format="json")
        code = locmem.outbox[-1].code
        refused = client.post(
            f"{API}enroll/", {"challenge": challenge, "phone": second}, format="json"
        )
    assert refused.status_code == 429
    assert len(locmem.outbox) == 1
    attempt = LoginChallenge.objects.get()
    assert attempt.new_phone_number == first, "a refused request rewrote the attempt"
    if surface == "page":
        browser.submit(f"{PAGES}enroll/confirm/", {"code": code})
    else:
        client.post(f"{API}enroll/confirm/", {"challenge": challenge, "code": code}, format="json")
    profile = TwoFactorProfile.objects.get(user__username="carol")
    assert profile.failure_count == 0
    assert profile.phone_number == first
