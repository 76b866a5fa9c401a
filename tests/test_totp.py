"""Authenticator apps: RFC vectors, replay guard, encryption at rest, key rotation, QR code.

The PostgreSQL race test runs with
``DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/pytest tests/test_totp.py``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import struct
import threading
import time
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.forms import modelform_factory
from django.test import override_settings

from django_authy2fa import crypto, totp
from django_authy2fa.conf import app_settings
from django_authy2fa.exceptions import Authy2FAConfigurationError, InvalidTokenFormat
from django_authy2fa.models import TOTPDevice

pytestmark = pytest.mark.django_db

PROVIDER = settings.AUTHY2FA["PROVIDER"]
T0 = 1_700_000_010  # a fixed "now" (unix seconds), 10 s into its 30 s step
KEY_OLD = Fernet.generate_key().decode()
KEY_NEW = Fernet.generate_key().decode()


def keys(*fernet_keys: str, **extra):
    return override_settings(
        AUTHY2FA={"PROVIDER": PROVIDER, "ENCRYPTION_KEYS": list(fernet_keys), **extra}
    )


# -- an independent implementation (no pyotp): RFC 4226 section 5.3 ---------------------


def hotp(key: bytes, counter: int, digits: int = 6, digest=hashlib.sha1) -> str:
    mac = hmac.new(key, struct.pack(">Q", counter), digest).digest()
    offset = mac[-1] & 0x0F
    value = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def key_from_uri(uri: str) -> bytes:
    secret = parse_qs(urlsplit(uri).query)["secret"][0]
    return base64.b32decode(secret + "=" * (-len(secret) % 8))


def code_for(enrollment: totp.Enrollment, unix_time: int, offset: int = 0) -> str:
    return hotp(key_from_uri(enrollment.provisioning_uri), unix_time // 30 + offset)


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user("bob", "bob@example.com", "pw-bob-123456")


@pytest.fixture
def enrolled(user):
    """``user`` with a confirmed app; returns the enrollment (confirmed 5 minutes before T0)."""
    enrollment = totp.start_enrollment(user)
    assert totp.confirm(user, code_for(enrollment, T0 - 300), now=T0 - 300)
    return enrollment


# -- RFC test vectors, through the code path the app uses -------------------------------

RFC4226_SECRET = b"12345678901234567890"
RFC4226_HOTP = [
    "755224",
    "287082",
    "359152",
    "969429",
    "338314",
    "254676",
    "287922",
    "162583",
    "399871",
    "520489",
]

SEEDS = {
    "SHA1": b"12345678901234567890",
    "SHA256": b"12345678901234567890123456789012",  # RFC 6238 erratum: 32-byte seed
    "SHA512": b"1234567890" * 6 + b"1234",  # 64-byte seed
}
RFC6238 = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]
RFC6238_CASES = [
    (alg, unix_time, row[1 + i])
    for row in RFC6238
    for i, alg in enumerate(("SHA1", "SHA256", "SHA512"))
    for unix_time in (row[0],)
]


def b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode()


def test_seeds_match_the_reference_table():
    assert b32(SEEDS["SHA1"]) == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    assert len(SEEDS["SHA256"]) == 32 and len(SEEDS["SHA512"]) == 64
    assert b32(SEEDS["SHA512"]).startswith("GEZDGNBVGY3TQOJQ") and b32(SEEDS["SHA512"]).endswith(
        "GEZDGNA="
    )


@pytest.mark.parametrize("counter", range(10))
def test_rfc4226_hotp_vectors(counter):
    generator = totp._generator(b32(RFC4226_SECRET), digits=6, algorithm="SHA1", step=30)
    assert generator.generate_otp(counter) == RFC4226_HOTP[counter]
    assert hotp(RFC4226_SECRET, counter) == RFC4226_HOTP[counter]  # the test's own HMAC


@pytest.mark.parametrize(("algorithm", "unix_time", "expected"), RFC6238_CASES)
def test_rfc6238_totp_vectors(algorithm, unix_time, expected):
    generator = totp._generator(b32(SEEDS[algorithm]), digits=8, algorithm=algorithm, step=30)
    counter = unix_time // 30  # 64-bit arithmetic; packed as 8 bytes by the library
    assert generator.generate_otp(counter) == expected
    assert generator.at(unix_time) == expected
    assert hotp(SEEDS[algorithm], counter, 8, getattr(hashlib, algorithm.lower())) == expected


@pytest.mark.parametrize("algorithm", ["SHA1", "SHA256", "SHA512"])
def test_rfc6238_vectors_through_verify(user, algorithm):
    """The whole path: stored (encrypted) seed, server-side step, replay guard."""
    TOTPDevice.objects.create(
        user=user,
        encrypted_secret=totp._seal(user.pk, b32(SEEDS[algorithm])),
        digits=8,
        algorithm=algorithm,
        confirmed_at="2020-01-01T00:00:00Z",
    )
    column = ("SHA1", "SHA256", "SHA512").index(algorithm) + 1
    for row in RFC6238:  # ascending times: each code is for a later step
        assert totp.verify(user, row[column], now=row[0]) is True
        assert totp.verify(user, row[column], now=row[0]) is False  # once only


# -- secrets and enrollment ---------------------------------------------------------------


def test_new_secret_is_160_random_bits():
    secrets = {totp.new_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert len(secret) == 32
        assert len(base64.b32decode(secret)) == 20


def test_provisioning_uri(user):
    with keys(ISSUER_NAME="Example Corp"):
        enrollment = totp.start_enrollment(user)
    parts = urlsplit(enrollment.provisioning_uri)
    query = parse_qs(parts.query)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert unquote(parts.path) == "/Example Corp:alice"
    assert query["issuer"] == ["Example Corp"]
    assert query["digits"] == ["6"]
    assert query["period"] == ["30"]
    assert query["algorithm"] == ["SHA1"]
    assert len(key_from_uri(enrollment.provisioning_uri)) == 20
    assert enrollment.manual_key.replace(" ", "") == query["secret"][0]
    assert all(len(group) == 4 for group in enrollment.manual_key.split(" "))


def test_issuer_falls_back_to_django_without_sites(user):
    assert app_settings.ISSUER_NAME is None
    enrollment = totp.start_enrollment(user)
    assert unquote(urlsplit(enrollment.provisioning_uri).path) == "/Django:alice"
    assert parse_qs(urlsplit(enrollment.provisioning_uri).query)["issuer"] == ["Django"]


def test_label_parts_are_percent_encoded(django_user_model):
    odd = django_user_model.objects.create_user("a:b c/d@x", "x@example.com", "pw-123456789")
    with keys(ISSUER_NAME="A:B"):
        uri = totp.start_enrollment(odd).provisioning_uri
    label = urlsplit(uri).path[1:]
    assert label.count(":") == 1
    issuer, account = label.split(":")
    assert (unquote(issuer), unquote(account)) == ("A:B", "a:b c/d@x")


def test_qr_svg_is_inline_scalable_svg_of_the_exact_uri(user, monkeypatch):
    given = []
    real_make = totp.segno.make
    monkeypatch.setattr(
        totp.segno, "make", lambda content, **kw: given.append(content) or real_make(content, **kw)
    )
    enrollment = totp.start_enrollment(user)
    assert given == [enrollment.provisioning_uri]

    svg = enrollment.qr_svg
    assert svg.startswith("<svg") and "<?xml" not in svg
    root = ET.fromstring(svg)  # noqa: S314 - our own server-rendered SVG
    assert root.tag.rsplit("}", 1)[-1] == "svg"
    assert "viewBox" in root.attrib
    assert "width" not in root.attrib and "height" not in root.attrib  # CSS sizes it
    paths = [el for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "path"]
    dark = [p for p in paths if p.get("stroke") == "#000"]
    assert dark and dark[0].get("d")
    assert any(p.get("fill") == "#fff" for p in paths)  # light background, quiet zone included
    # Same QR code as an independent render of the URI (deterministic mask choice).
    assert svg == totp.qr_svg(enrollment.provisioning_uri)
    assert "secret" not in svg.lower()


def test_restarting_replaces_an_unconfirmed_secret(user):
    first = totp.start_enrollment(user)
    second = totp.start_enrollment(user)
    assert TOTPDevice.objects.filter(user=user).count() == 1
    assert first.provisioning_uri != second.provisioning_uri
    assert totp.confirm(user, code_for(first, T0), now=T0) is False
    assert totp.confirm(user, code_for(second, T0), now=T0) is True
    assert TOTPDevice.objects.get(user=user).confirmed_at is not None


def test_a_confirmed_app_is_not_replaced(user, enrolled):
    before = TOTPDevice.objects.get(user=user).encrypted_secret
    with pytest.raises(totp.AlreadyConfirmed):
        totp.start_enrollment(user)
    with pytest.raises(totp.AlreadyConfirmed):
        totp.confirm(user, code_for(enrolled, T0), now=T0)
    assert TOTPDevice.objects.get(user=user).encrypted_secret == before


def test_verify_needs_a_confirmed_app(user):
    assert totp.verify(user, "123456", now=T0) is False  # no app at all
    enrollment = totp.start_enrollment(user)
    assert totp.verify(user, code_for(enrollment, T0), now=T0) is False  # not confirmed
    with pytest.raises(totp.NoEnrollment):
        totp.confirm(user.__class__(pk=user.pk + 1000), "123456", now=T0)


def test_the_confirmation_code_cannot_be_used_to_log_in(user):
    enrollment = totp.start_enrollment(user)
    code = code_for(enrollment, T0)
    assert totp.confirm(user, code, now=T0) is True
    assert totp.verify(user, code, now=T0) is False
    assert totp.verify(user, code_for(enrollment, T0 + 30), now=T0 + 30) is True


def test_remove(user, enrolled):
    assert totp.remove(user) is True
    assert totp.remove(user) is False
    assert totp.verify(user, code_for(enrolled, T0), now=T0) is False


# -- verify: drift, replay, other users ----------------------------------------------------


def test_code_from_an_independent_implementation_is_accepted(user, enrolled):
    assert totp.verify(user, code_for(enrolled, T0), now=T0) is True


def test_server_clock_is_used_by_default(user, enrolled):
    assert totp.verify(user, code_for(enrolled, int(time.time()))) is True


@pytest.mark.parametrize("offset", [-1, 1])
def test_one_step_of_drift_either_way_is_accepted(user, enrolled, offset):
    assert totp.verify(user, code_for(enrolled, T0, offset), now=T0) is True


@pytest.mark.parametrize("offset", [-2, 2, -10, 10])
def test_codes_beyond_one_step_are_refused(user, enrolled, offset):
    assert totp.verify(user, code_for(enrolled, T0, offset), now=T0) is False


def test_a_code_is_accepted_once(user, enrolled):
    code = code_for(enrolled, T0)
    assert totp.verify(user, code, now=T0) is True
    assert totp.verify(user, code, now=T0) is False
    assert totp.verify(user, code, now=T0 + 25) is False  # still inside the window
    assert TOTPDevice.objects.get(user=user).last_used_step == T0 // 30


def test_after_step_s_older_steps_are_refused(user, enrolled):
    assert totp.verify(user, code_for(enrolled, T0), now=T0) is True
    assert totp.verify(user, code_for(enrolled, T0, -1), now=T0) is False  # S-1, in the window
    assert totp.verify(user, code_for(enrolled, T0, +1), now=T0) is True  # S+1 is fresh


def test_accepting_a_future_step_burns_the_current_one(user, enrolled):
    assert totp.verify(user, code_for(enrolled, T0, +1), now=T0) is True
    assert totp.verify(user, code_for(enrolled, T0), now=T0) is False


def test_another_users_code_is_refused(user, other_user, enrolled):
    bob = totp.start_enrollment(other_user)
    assert totp.confirm(other_user, code_for(bob, T0 - 300), now=T0 - 300)
    assert code_for(bob, T0) != code_for(enrolled, T0)
    assert totp.verify(user, code_for(bob, T0), now=T0) is False
    assert totp.verify(other_user, code_for(bob, T0), now=T0) is True


def test_wrong_code_is_refused_and_not_burnt(user, enrolled):
    right = code_for(enrolled, T0)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    assert totp.verify(user, wrong, now=T0) is False
    assert TOTPDevice.objects.get(user=user).last_used_step == (T0 - 300) // 30
    assert totp.verify(user, right, now=T0) is True


@pytest.mark.parametrize(
    "code",
    [
        "",
        "12345",
        "1234567",
        "12345a",
        " 123456",
        "123456\n",
        "１２３４５６",
        "١٢٣٤٥٦",
        None,
        123456,
        b"123456",
    ],
)
def test_malformed_codes_raise(user, enrolled, code):
    with pytest.raises(InvalidTokenFormat):
        totp.verify(user, code, now=T0)


def test_malformed_code_raises_even_without_an_app(user):
    with pytest.raises(InvalidTokenFormat):
        totp.verify(user, "12 34 56", now=T0)


def test_replay_is_logged_without_the_code(user, enrolled, caplog):
    code = code_for(enrolled, T0)
    totp.verify(user, code, now=T0)
    with caplog.at_level("WARNING", logger="django_authy2fa.totp"):
        assert totp.verify(user, code, now=T0) is False
    assert "already used" in caplog.text and code not in caplog.text


# -- encryption at rest ----------------------------------------------------------------


def test_secret_is_stored_encrypted(user, enrolled):
    device = TOTPDevice.objects.get(user=user)
    secret = parse_qs(urlsplit(enrolled.provisioning_uri).query)["secret"][0]
    stored = device.encrypted_secret
    assert stored != secret
    assert secret not in stored and secret.lower() not in stored
    assert base64.b32encode(key_from_uri(enrolled.provisioning_uri)).decode() not in stored
    assert crypto.decrypt(stored).decode().endswith(f":{user.pk}:{secret}")
    assert totp._unseal(device) == secret


def test_secret_never_shown_by_str_repr_or_forms(user, enrolled):
    device = TOTPDevice.objects.get(user=user)
    secret = parse_qs(urlsplit(enrolled.provisioning_uri).query)["secret"][0]
    for text in (str(device), repr(device), repr(enrolled)):
        assert secret not in text and device.encrypted_secret not in text
    assert "encrypted_secret" not in modelform_factory(TOTPDevice, fields="__all__").base_fields


def test_ciphertext_copied_to_another_user_does_not_work(user, other_user, enrolled):
    stolen = TOTPDevice.objects.get(user=user).encrypted_secret
    TOTPDevice.objects.create(
        user=other_user, encrypted_secret=stolen, confirmed_at="2020-01-01T00:00Z"
    )
    with pytest.raises(crypto.DecryptionFailed):
        totp.verify(other_user, code_for(enrolled, T0), now=T0)


def test_decrypt_never_returns_garbage():
    token = crypto.encrypt(b"payload")
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    for bad in (tampered, "", "not-a-token", "é" * 10, None):
        with pytest.raises(crypto.DecryptionFailed):
            crypto.decrypt(bad)
    assert crypto.decrypt(token) == b"payload"


def test_each_encryption_is_unique():
    assert crypto.encrypt(b"same") != crypto.encrypt(b"same")


def test_key_rotation_with_explicit_keys(user):
    with keys(KEY_OLD):
        enrollment = totp.start_enrollment(user)
        assert totp.confirm(user, code_for(enrollment, T0), now=T0)
        old_token = TOTPDevice.objects.get(user=user).encrypted_secret

    # The old key is required until the command has run.
    with keys(KEY_NEW), pytest.raises(crypto.DecryptionFailed):
        totp.verify(user, code_for(enrollment, T0 + 30), now=T0 + 30)

    with keys(KEY_NEW, KEY_OLD):
        assert not crypto.is_current(old_token)
        assert totp.verify(user, code_for(enrollment, T0 + 30), now=T0 + 30)  # old data decrypts
        out = io.StringIO()
        call_command("authy2fa_rotate_totp_key", "--dry-run", stdout=out)
        assert "Would re-encrypt: 1" in out.getvalue()
        assert TOTPDevice.objects.get(user=user).encrypted_secret == old_token

        out = io.StringIO()
        call_command("authy2fa_rotate_totp_key", stdout=out)
        assert "Re-encrypted: 1" in out.getvalue() and "Failed to decrypt: 0" in out.getvalue()
        new_token = TOTPDevice.objects.get(user=user).encrypted_secret
        assert new_token != old_token and crypto.is_current(new_token)

        out = io.StringIO()
        call_command("authy2fa_rotate_totp_key", stdout=out)  # idempotent
        assert "Re-encrypted: 0" in out.getvalue() and "Already current: 1" in out.getvalue()
        assert TOTPDevice.objects.get(user=user).encrypted_secret == new_token

    with keys(KEY_NEW):  # old key dropped
        assert totp.verify(user, code_for(enrollment, T0 + 60), now=T0 + 60)
        assert Fernet(KEY_NEW).decrypt(new_token.encode())


def test_rotation_reports_failures_by_id_and_continues(user, other_user):
    with keys(KEY_OLD):
        totp.start_enrollment(user)
    with keys(Fernet.generate_key().decode()):
        totp.start_enrollment(other_user)
    with keys(KEY_NEW, KEY_OLD):
        out, err = io.StringIO(), io.StringIO()
        with pytest.raises(CommandError):
            call_command("authy2fa_rotate_totp_key", "--batch-size", "1", stdout=out, stderr=err)
        lost = TOTPDevice.objects.get(user=other_user)
        assert "Re-encrypted: 1" in out.getvalue() and "Failed to decrypt: 1" in out.getvalue()
        assert str(lost.pk) in err.getvalue()
        assert crypto.is_current(TOTPDevice.objects.get(user=user).encrypted_secret)
        for device in TOTPDevice.objects.all():
            assert device.encrypted_secret not in out.getvalue() + err.getvalue()


def test_secret_key_rotation_uses_the_fallbacks(user):
    old_secret_key = settings.SECRET_KEY
    enrollment = totp.start_enrollment(user)
    assert totp.confirm(user, code_for(enrollment, T0), now=T0)

    new_key = override_settings(SECRET_KEY="a-brand-new-secret-key-" + "x" * 40)
    with new_key, pytest.raises(crypto.DecryptionFailed):
        totp.verify(user, code_for(enrollment, T0 + 30), now=T0 + 30)

    rotated = override_settings(
        SECRET_KEY="a-brand-new-secret-key-" + "x" * 40, SECRET_KEY_FALLBACKS=[old_secret_key]
    )
    with rotated:
        assert totp.verify(user, code_for(enrollment, T0 + 30), now=T0 + 30)
        call_command("authy2fa_rotate_totp_key", stdout=io.StringIO())
    with override_settings(SECRET_KEY="a-brand-new-secret-key-" + "x" * 40):  # fallback dropped
        assert totp.verify(user, code_for(enrollment, T0 + 60), now=T0 + 60)


def test_moving_from_the_derived_key_to_explicit_keys(user):
    enrollment = totp.start_enrollment(user)  # default: derived from SECRET_KEY
    with keys(KEY_NEW):
        with pytest.raises(CommandError):
            call_command("authy2fa_rotate_totp_key", stdout=io.StringIO(), stderr=io.StringIO())
        call_command("authy2fa_rotate_totp_key", "--accept-secret-key", stdout=io.StringIO())
        assert totp.confirm(user, code_for(enrollment, T0), now=T0)


def test_derived_key_is_app_specific():
    derived = crypto.derive_key(settings.SECRET_KEY)
    assert len(base64.urlsafe_b64decode(derived)) == 32
    assert derived == crypto.derive_key(settings.SECRET_KEY)
    assert derived != crypto.derive_key(settings.SECRET_KEY + "x")
    assert derived != base64.urlsafe_b64encode(
        hashlib.sha256(settings.SECRET_KEY.encode()).digest()
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("single-string", "AUTHY2FA['ENCRYPTION_KEYS'] must be a list"),
        (["too-short"], "AUTHY2FA['ENCRYPTION_KEYS'][0] is not a valid Fernet key"),
        ([KEY_NEW, "x" * 44], "AUTHY2FA['ENCRYPTION_KEYS'][1] is not a valid Fernet key"),
        ([KEY_NEW, 42], "AUTHY2FA['ENCRYPTION_KEYS'][1] is not a valid Fernet key"),
        ([KEY_NEW, KEY_NEW], "AUTHY2FA['ENCRYPTION_KEYS'] lists the same key twice"),
    ],
)
def test_bad_keys_name_the_setting(value, expected):
    with override_settings(AUTHY2FA={"PROVIDER": PROVIDER, "ENCRYPTION_KEYS": value}):
        with pytest.raises(Authy2FAConfigurationError, match=expected.replace("[", r"\[")) as err:
            crypto.encrypt(b"x")
        assert KEY_NEW not in str(err.value)


def test_bad_keys_fail_the_system_check():
    from django_authy2fa.checks import check_settings

    with keys("not-a-fernet-key"):
        (error,) = check_settings()
    assert error.id == "authy2fa.E001"
    assert "AUTHY2FA['ENCRYPTION_KEYS'][0]" in error.msg and "not-a-fernet-key" not in error.msg


def test_keys_may_be_bytes():
    with keys():
        default_token = crypto.encrypt(b"x")
    with override_settings(AUTHY2FA={"PROVIDER": PROVIDER, "ENCRYPTION_KEYS": [KEY_NEW.encode()]}):
        assert Fernet(KEY_NEW).decrypt(crypto.encrypt(b"x").encode()) == b"x"
        with pytest.raises(crypto.DecryptionFailed):
            crypto.decrypt(default_token)


# -- concurrency (real threads on PostgreSQL) ------------------------------------------------


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (set DATABASE_URL)")
@pytest.mark.django_db(transaction=True)
def test_same_code_in_ten_threads_is_accepted_once(user):
    enrollment = totp.start_enrollment(user)
    assert totp.confirm(user, code_for(enrollment, T0 - 300), now=T0 - 300)
    code = code_for(enrollment, T0)
    barrier = threading.Barrier(10, timeout=30)
    results: list[object] = [None] * 10

    def attempt(index: int) -> None:
        try:
            barrier.wait()
            results[index] = totp.verify(user, code, now=T0)
        except BaseException as err:  # reported by the assertion below
            results[index] = err
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results.count(True) == 1, results
    assert results.count(False) == 9, results
    assert TOTPDevice.objects.get(user=user).last_used_step == T0 // 30
