"""The German translation: the pages of the second step speak German, and the
compiled catalog (``django.mo``) is complete and matches its source (``django.po``)."""

from __future__ import annotations

import ast
import gettext
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import translation

import django_authy2fa
from django_authy2fa.exceptions import InvalidPhoneNumber
from django_authy2fa.providers import locmem

from .helpers import VERIFY_URL, Browser, make_user, wrong

pytestmark = pytest.mark.django_db

LOCALE = Path(django_authy2fa.__file__).parent / "locale"


@pytest.fixture
def german(settings):
    settings.LANGUAGE_CODE = "de"
    yield
    translation.activate("en-us")


def test_the_code_step_is_in_german(german):
    make_user("alice")
    browser = Browser()
    assert browser.password_step()["Location"] == VERIFY_URL
    page = browser.get(VERIFY_URL).content.decode()
    assert '<html lang="de">' in page
    assert "Bestätigung in zwei Schritten" in page
    assert "Wir senden einen Code an" in page
    assert "Code per SMS senden" in page
    assert "Abbrechen und neu anmelden" in page
    assert "Two-step verification" not in page and "Text me a code" not in page


def test_errors_of_the_second_step_are_in_german(german):
    make_user("alice")
    browser = Browser()
    browser.password_step()
    browser.send_code()
    page = browser.get(VERIFY_URL).content.decode()
    assert "Geben Sie den Code ein, den wir an" in page
    # The countdown text the script shows comes translated from the page.
    assert 'data-text="Sie können in {seconds} s erneut anfragen."' in page

    response = browser.enter_code(wrong(locmem.outbox[-1].code))
    assert response.status_code == 400
    assert "Dieser Code stimmt nicht." in response.content.decode()


def test_the_language_follows_the_browser_with_locale_middleware(settings):
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE[:2],
        "django.middleware.locale.LocaleMiddleware",
        *settings.MIDDLEWARE[2:],
    ]
    make_user("alice")
    browser = Browser(HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9,en;q=0.5")
    browser.password_step()
    assert "Code per SMS senden" in browser.get(VERIFY_URL).content.decode()
    english = Browser(HTTP_ACCEPT_LANGUAGE="en")
    english.password_step()
    assert "Text me a code" in english.get(VERIFY_URL).content.decode()


def test_error_messages_are_translated_when_raised():
    with translation.override("de"):
        german = InvalidPhoneNumber().message
        provider_wording = InvalidPhoneNumber("Twilio Verify rejected the phone number.").message
    assert german == "Geben Sie eine gültige Mobilnummer mit Ländervorwahl ein."
    assert provider_wording == "Twilio Verify rejected the phone number."
    assert InvalidPhoneNumber().message.startswith("Enter a valid mobile phone number")


def test_errors_need_no_django_settings():
    """The HTTP clients work without Django settings; so must their errors."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    script = (
        "from django_authy2fa.exceptions import InvalidPhoneNumber, ProviderUnavailable\n"
        "print(InvalidPhoneNumber().message)\n"
        "print(ProviderUnavailable(provider='authy', status_code=503))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Enter a valid mobile phone number, including the country code.",
        "The verification service is unavailable. Please try again shortly. (authy, HTTP 503)",
    ]


# -- the catalog --------------------------------------------------------------------------


def _po_entries(path: Path) -> list[dict]:
    """The entries of a .po file (header excluded): enough of the format for this check."""
    entries: list[dict] = []
    entry: dict = {}
    key = None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if entry.get("msgid"):
                entries.append(entry)
            entry, key = {}, None
        elif line.startswith("#,"):
            entry["flags"] = {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            entry[key] += ast.literal_eval(line)
        else:
            key, _, value = line.partition(" ")
            entry[key] = ast.literal_eval(value)
    return entries


def test_every_german_message_is_translated_and_compiled():
    po = LOCALE / "de" / "LC_MESSAGES" / "django.po"
    with (LOCALE / "de" / "LC_MESSAGES" / "django.mo").open("rb") as mo:
        catalog = gettext.GNUTranslations(mo)
    entries = _po_entries(po)
    assert len(entries) > 200
    for entry in entries:
        assert "fuzzy" not in entry.get("flags", set()), entry["msgid"]
        if "msgid_plural" in entry:
            forms = [entry["msgstr[0]"], entry["msgstr[1]"]]
            assert all(forms), f"untranslated: {entry['msgid']!r}"
            compiled = [catalog.ngettext(entry["msgid"], entry["msgid_plural"], n) for n in (1, 2)]
            assert compiled == forms, f"stale django.mo (run compilemessages): {entry['msgid']!r}"
        else:
            assert entry["msgstr"], f"untranslated: {entry['msgid']!r}"
            assert entry["msgstr"] != entry["msgid"] or len(entry["msgid"]) < 12, entry["msgid"]
            assert catalog.gettext(entry["msgid"]) == entry["msgstr"], (
                f"stale django.mo (run compilemessages): {entry['msgid']!r}"
            )
