"""Shared machinery of the hostile-input suites: strategies, a world of signed-in states,
per-example isolation and the snapshot that must not move on rejected input.

Every example runs inside a database savepoint that is rolled back afterwards (and the
clients' cookies, the cache and the test provider's outbox are restored), so the
examples of one hypothesis test are independent although they share one world.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
import re
import time
import unicodedata
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_from_bytes

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from django_authy2fa import recovery, totp
from django_authy2fa.exceptions import InvalidPhoneNumber
from django_authy2fa.models import (
    APIToken,
    AuditEvent,
    LoginChallenge,
    RecoveryCode,
    ThrottleWindow,
    TOTPDevice,
    TrustedBrowser,
    TwoFactorProfile,
)
from django_authy2fa.phone import parse_phone
from django_authy2fa.providers import locmem

from ..helpers import PASSWORD, Browser, make_user
from ..test_totp_flow import code_at

PAGES = "/account/2fa/"
API = "/api/2fa/"
METHODS = ("totp", "sms", "call", "push", "recovery")
CHANNELS = ("sms", "call")
ALICE_PHONE = "+14155552671"
BOB_PHONE = "+447400123456"
DAVE_PHONE = "+33612345678"


def hypothesis_settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,  # no example database written into the work tree
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


# -- strategies ---------------------------------------------------------------------------

DIGIT_SETS = {
    "arabic-indic": "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669",
    "extended-arabic-indic": "\u06f0\u06f1\u06f2\u06f3\u06f4\u06f5\u06f6\u06f7\u06f8\u06f9",
    "devanagari": "\u0966\u0967\u0968\u0969\u096a\u096b\u096c\u096d\u096e\u096f",
    "full-width": "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19",
    "bengali": "\u09e6\u09e7\u09e8\u09e9\u09ea\u09eb\u09ec\u09ed\u09ee\u09ef",
    "mathematical-bold": "".join(chr(0x1D7CE + i) for i in range(10)),
    "superscript": "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079",
}
WHITESPACE = (
    " \t\n\r\x0b\x0c\x85\xa0\u1680\u2000\u2003\u2007\u2009\u200b\u2028\u2029\u202f\u205f"
    "\u3000\ufeff"
)
CONTROLS = "".join(chr(c) for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)])
ASCII_DIGITS = "0123456789"

ascii_digits = st.text(alphabet=ASCII_DIGITS, min_size=0, max_size=12)


@st.composite
def unicode_digit_strings(draw) -> str:
    """Digits from another script, possibly mixed with ASCII ones; never all ASCII."""
    alphabet = draw(st.sampled_from(sorted(DIGIT_SETS.values())))
    foreign = draw(st.text(alphabet=alphabet, min_size=1, max_size=10))
    before = draw(st.text(alphabet=ASCII_DIGITS, max_size=5))
    after = draw(st.text(alphabet=ASCII_DIGITS, max_size=5))
    return before + foreign + after


@st.composite
def decorated_digits(draw) -> str:
    """ASCII digits with whitespace or control characters around and inside."""
    digits = draw(st.text(alphabet=ASCII_DIGITS, min_size=1, max_size=12))
    noise = st.text(alphabet=WHITESPACE + CONTROLS, min_size=1, max_size=3)
    chars = list(digits)
    for _ in range(draw(st.integers(1, 3))):
        chars.insert(draw(st.integers(0, len(chars))), draw(noise))
    return "".join(chars)


huge_strings = st.builds(
    lambda ch, n: ch * n,
    st.sampled_from(["7", "a", "\x00", " ", "\u0661", "\U0001f600", "-", "."]),
    st.sampled_from([10_000, 100_000, 1_000_000]),
)
control_strings = st.text(alphabet=CONTROLS, min_size=1, max_size=20)
nul_strings = st.builds(lambda a, b: f"{a}\x00{b}", ascii_digits, st.text(max_size=8))
TRICKY = [
    "",
    " ",
    "null",
    "None",
    "true",
    "0",
    "-1",
    "1e309",
    "NaN",
    "Infinity",
    "[]",
    "{}",
    "%00",
    "\\u0000",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "../../etc/passwd",
    "${jndi:ldap://x}",
    "{{7*7}}",
    "\u202e123456",
    "\U0001f600",
    "\ufffd",
    "sms",
    "call",
    "push",
    "recovery",
    "totp",
    "SMS",
    " sms",
    "sms\x00",
    "\uff53\uff4d\uff53",
    "+14155552671",
]


lone_surrogates = st.text(
    alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3
).flatmap(lambda s: st.sampled_from([s, f"12{s}3456", f"{s}+1415"]))


def text_values(*, surrogates: bool) -> st.SearchStrategy[str]:
    """Hostile strings; lone surrogates only where the transport can carry them.

    Huge strings (10k to 1M characters) come about once in twenty draws: they are
    cheap to refuse but expensive to send, and the suite has a time budget.
    """
    parts = [
        st.text(max_size=40),
        st.sampled_from(TRICKY),
        unicode_digit_strings(),
        decorated_digits(),
        control_strings,
        nul_strings,
        st.text(alphabet=WHITESPACE, min_size=1, max_size=6),
    ]
    if surrogates:
        parts.append(lone_surrogates)
    common = st.one_of(*parts)
    return st.integers(0, 19).flatmap(lambda i: huge_strings if i == 0 else common)


def has_lone_surrogate(value: Any) -> bool:
    return isinstance(value, str) and not _encodable(value)


def json_values(*, leaves: st.SearchStrategy | None = None) -> st.SearchStrategy[Any]:
    """Any JSON: null, booleans, numbers, strings, lists and nested objects."""
    scalar = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**40), max_value=10**40),
        st.floats(allow_nan=False, allow_infinity=False),
        leaves if leaves is not None else text_values(surrogates=True),
    )
    return st.recursive(
        scalar,
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(st.text(max_size=6), children, max_size=3)
        ),
        max_leaves=6,
    )


def field_values(*, api: bool) -> st.SearchStrategy[Any]:
    """What a hostile client puts in one field: strings everywhere, any JSON on the API."""
    if api:
        return st.one_of(text_values(surrogates=True), json_values())
    return st.one_of(
        text_values(surrogates=True),
        st.lists(text_values(surrogates=False), min_size=2, max_size=3),  # repeated keys
        st.binary(max_size=12),  # invalid UTF-8 in a form body
    )


MISSING = object()  # a field left out of the request


# -- what the server sees -----------------------------------------------------------------


def _form_items(value: Any) -> list[str | bytes]:
    if value is MISSING or value is None:
        return []
    if isinstance(value, (str, bytes)):
        return [value]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, (int, float)):
        return [str(value)]
    if isinstance(value, list):
        return [item for v in value for item in (_form_items(v) if v is not None else [""])]
    return [json.dumps(value)]


def _to_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


def form_body(fields: dict[str, Any]) -> bytes:
    """application/x-www-form-urlencoded, byte for byte (lone surrogates as CESU bytes)."""
    pairs = [
        f"{quote_from_bytes(_to_bytes(k))}={quote_from_bytes(_to_bytes(item))}"
        for k, v in fields.items()
        for item in _form_items(v)
    ]
    return "&".join(pairs).encode("ascii")


def server_value(fields: dict[str, Any], name: str, *, encoding: str) -> Any:
    """The value a view reads for ``name``: the last form item decoded, or the JSON value."""
    value = fields.get(name, MISSING)
    if encoding == "json":
        return value
    items = _form_items(value)
    if not items:
        return MISSING
    return _to_bytes(items[-1]).decode("utf-8", "replace")


def as_text(value: Any) -> str | None:
    """What a CharField makes of a value (DRF turns numbers into strings)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


_CODE = re.compile(r"[0-9]{6,10}", re.ASCII)


def code_like(value: Any) -> bool:
    """Over-approximation of "a code the flows would check": such input may move counters."""
    text = as_text(value)
    if text is None:
        return False
    text = text.strip()
    return bool(_CODE.fullmatch(text.replace(" ", ""))) or recovery.normalize(text) is not None


def choice_ok(value: Any, choices) -> bool:
    text = as_text(value)
    return text is not None and text in choices


def phone_ok(value: Any) -> bool:
    text = as_text(value)
    if text is None:
        return False
    try:
        parse_phone(text.strip())
    except InvalidPhoneNumber:
        return False
    return True


def token_ok(value: Any, real: str) -> bool:
    """True when ``value`` names the same attempt with the same secret as ``real``."""
    text = as_text(value)
    if text is None:
        return False
    text = text.strip()
    if text.count(".") != 1:
        return False
    real_id, real_secret = real.split(".")
    candidate_id, candidate_secret = text.split(".")
    try:
        same_id = uuid.UUID(hex=candidate_id) == uuid.UUID(real_id)
    except (ValueError, TypeError):
        return False
    return same_id and candidate_secret == real_secret


def nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", value)


# -- the world: every state a hostile request can arrive in --------------------------------


def fresh_send_budget() -> None:
    """Lift cooldowns and quotas between setup sends (setup is not what is under test)."""
    ThrottleWindow.objects.all().delete()
    TwoFactorProfile.objects.update(last_code_sent_at=None)


@dataclass
class World:
    alice: Any
    bob: Any  # no 2FA; enrolls through the pages
    dave: Any  # no 2FA; enrolls through the API
    recovery_codes: list[str]
    pages: dict[str, Browser] = field(default_factory=dict)
    apis: dict[str, APIClient] = field(default_factory=dict)
    page_code: str = ""  # the code sent to the pending page session
    api_code: str = ""  # the code sent for the pending API challenge
    session_code: str = ""  # the code sent to the pending API session
    challenge: str = ""  # alice's pending API challenge
    enrollment: str = ""  # dave's API phone enrollment token
    step_up: str = ""  # alice's API step-up token
    bob_browser_id: int = 0  # a trusted browser of bob's (alice must not revoke it)
    api_token: str = ""
    dave_code: str = ""  # the code sent to dave's new phone
    extra_codes: set[str] = field(default_factory=set)

    def real_codes(self) -> set[str]:
        return {
            self.page_code,
            self.api_code,
            self.session_code,
            self.dave_code,
            *self.extra_codes,
            *self.bob_codes(),
            *self._totp_codes(),
        }

    def bob_codes(self) -> set[str]:
        return {m.code for m in locmem.outbox if m.to == BOB_PHONE and m.code}

    def _totp_codes(self) -> set[str]:
        codes = set()
        for device in TOTPDevice.objects.all():
            secret = totp._unseal(device)
            now = time.time()
            codes.update(code_at(secret, now + k * 30) for k in range(-3, 4))
        return codes


def build_world() -> World:
    alice = make_user("alice", phone=ALICE_PHONE)
    bob = make_user("bob", enabled=False)
    dave = make_user("dave", enabled=False)
    world = World(alice, bob, dave, recovery.replace_codes(alice))

    anonymous = Browser()
    anonymous.csrf()
    world.pages["anonymous"] = anonymous

    pending = Browser()
    pending.password_step()
    pending.send_code()
    world.page_code = locmem.outbox[-1].code
    world.pages["pending"] = pending
    fresh_send_budget()

    verified = Browser()
    verified.full_login()
    fresh_send_budget()
    verified.submit(f"{PAGES}manage/confirm/", {"send": "sms"})
    verified.submit(
        f"{PAGES}manage/confirm/",
        {"password": PASSWORD, "method": "sms", "code": locmem.outbox[-1].code},
    )
    assert verified.get(f"{PAGES}manage/disable/").status_code == 200  # fresh step-up
    fresh_send_budget()
    # A second step-up attempt held by the session, with a code sent, for hostile input.
    verified.submit(f"{PAGES}manage/confirm/", {"send": "sms"})
    world.extra_codes.add(locmem.outbox[-1].code)
    world.pages["verified"] = verified
    fresh_send_budget()

    enrolling = Browser()
    enrolling.password_step("bob")
    assert enrolling.get(f"{PAGES}enroll/app/").status_code == 200
    started = enrolling.submit(f"{PAGES}enroll/", {"phone": BOB_PHONE, "channel": "sms"})
    assert started.status_code == 302, started.content
    world.pages["enrolling"] = enrolling
    fresh_send_budget()
    TrustedBrowser.objects.create(
        user=bob,
        token_digest="0" * 64,
        profile_version=0,
        auth_fingerprint="x",
        expires_at=timezone.now() + dt.timedelta(days=1),
    )
    world.bob_browser_id = TrustedBrowser.objects.get(user=bob).pk

    world.apis["anonymous"] = APIClient()

    api_pending = APIClient()
    started = api_pending.post(
        f"{API}login/", {"username": "alice", "password": PASSWORD}, format="json"
    )
    world.challenge = started.json()["challenge"]
    sent = api_pending.post(
        f"{API}send/", {"challenge": world.challenge, "channel": "sms"}, format="json"
    )
    assert sent.status_code == 202, sent.content
    world.api_code = locmem.outbox[-1].code
    world.apis["pending"] = api_pending
    fresh_send_budget()

    api_session = APIClient()
    started = api_session.post(
        f"{API}login/", {"username": "alice", "password": PASSWORD, "session": True}, format="json"
    )
    assert started.status_code == 202, started.content
    assert api_session.post(f"{API}send/", {"channel": "sms"}, format="json").status_code == 202
    world.session_code = locmem.outbox[-1].code
    world.apis["pending-session"] = api_session
    fresh_send_budget()

    api_verified = APIClient()
    challenge = api_verified.post(
        f"{API}login/", {"username": "alice", "password": PASSWORD}, format="json"
    ).json()["challenge"]
    done = api_verified.post(
        f"{API}verify/",
        {"challenge": challenge, "method": "recovery", "code": world.recovery_codes[0]},
        format="json",
    )
    world.api_token = done.json()["token"]
    api_verified.credentials(HTTP_AUTHORIZATION=f"Bearer {world.api_token}")
    world.step_up = api_verified.post(f"{API}step-up/", {}, format="json").json()["step_up"]
    world.apis["verified"] = api_verified

    api_enrolling = APIClient()
    token = api_enrolling.post(
        f"{API}login/", {"username": "dave", "password": PASSWORD}, format="json"
    ).json()["token"]
    api_enrolling.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api_enrolling.post(f"{API}enroll/app/", {}, format="json").status_code == 201
    started = api_enrolling.post(f"{API}enroll/", {"phone": DAVE_PHONE}, format="json")
    assert started.status_code == 202, started.content
    world.enrollment = started.json()["enrollment"]
    world.dave_code = locmem.outbox[-1].code
    world.apis["enrolling"] = api_enrolling
    fresh_send_budget()
    cache.clear()
    return world


# -- isolation and the snapshot -----------------------------------------------------------

PROFILE_FIELDS = (
    "user_id",
    "phone_number",
    "authy_id",
    "default_method",
    "enabled_at",
    "phone_confirmed_at",
    "failure_count",
    "last_failure_at",
    "locked_until",
    "hard_locked_at",
    "last_code_sent_at",
    "version",
)


def snapshot() -> dict[str, Any]:
    """Everything a rejected input must leave alone."""
    user_model = get_user_model()
    return {
        "profiles": sorted(
            TwoFactorProfile.objects.values_list(*PROFILE_FIELDS), key=lambda row: row[0]
        ),
        "recovery_unused": dict(
            Counter(
                RecoveryCode.objects.filter(used_at__isnull=True).values_list("user_id", flat=True)
            )
        ),
        "api_tokens": APIToken.objects.filter(revoked_at__isnull=True).count(),
        "apps_confirmed": TOTPDevice.objects.filter(confirmed_at__isnull=False).count(),
        "trusted_browsers": TrustedBrowser.objects.filter(revoked_at__isnull=True).count(),
        "challenges": sorted(
            (str(pk), *rest)
            for pk, *rest in LoginChallenge.objects.values_list(
                "pk", "status", "failures", "new_phone_number", "code_reference", "push_reference"
            )
        ),
        "events": AuditEvent.objects.count(),
        "last_logins": sorted(user_model.objects.values_list("pk", "last_login")),
        "outbox": len(locmem.outbox),
    }


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {k: (before[k], after[k]) for k in before if before[k] != after[k]}


@contextlib.contextmanager
def isolated(world: World):
    """Run one example and put the database, cookies, cache and outbox back afterwards."""
    clients = [*world.pages.values(), *world.apis.values()]
    cookies = [copy.deepcopy(c.cookies) for c in clients]
    credentials = [dict(getattr(c, "_credentials", {})) for c in clients]
    outbox = list(locmem.outbox)
    pushes = dict(locmem.pushes)
    with transaction.atomic():
        try:
            yield
        finally:
            transaction.set_rollback(True)
            for client, saved, creds in zip(clients, cookies, credentials, strict=True):
                client.cookies = saved
                if isinstance(client, APIClient):
                    client.credentials(**creds)
            locmem.outbox[:] = outbox
            locmem.pushes.clear()
            locmem.pushes.update(pushes)
            cache.clear()


def post_page(browser: Browser, path: str, fields: dict[str, Any], *, multipart: bool):
    """A form post with the session's CSRF token, so the input reaches the view."""
    data = {k: v for k, v in fields.items() if v is not MISSING}
    data["csrfmiddlewaretoken"] = browser.csrf()
    plain = all(
        isinstance(v, str) and _encodable(v) for v in data.values()
    )  # the test client's multipart encoder takes text only
    if multipart and plain:
        return browser.post(path, data)
    return browser.post(path, form_body(data), content_type="application/x-www-form-urlencoded")


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def post_api(client: APIClient, path: str, fields: Any, *, encoding: str):
    """JSON (``format="json"``, or raw JSON when it holds lone surrogates) or a form body."""
    if encoding == "json":
        body = (
            {k: v for k, v in fields.items() if v is not MISSING}
            if isinstance(fields, dict)
            else fields
        )
        try:
            json.dumps(body, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return client.post(path, json.dumps(body), content_type="application/json")
        return client.post(path, body, format="json")
    return client.post(path, form_body(fields), content_type="application/x-www-form-urlencoded")


@dataclass
class Tally:
    """Requests and server errors of one family, for the reliability table."""

    requests: int = 0
    server_errors: int = 0
    examples: int = 0
    rejected: int = 0

    def saw(self, response) -> None:
        self.requests += 1
        if response.status_code >= 500:
            self.server_errors += 1
