import pytest
from django.test import override_settings

from django_authy2fa.exceptions import InvalidPhoneNumber
from django_authy2fa.phone import PhoneNumber, mask_e164, parse_phone


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("+1 415-555-2671", None, "+14155552671"),
        ("(415) 555 2671", "US", "+14155552671"),
        ("+44 7400 123456", None, "+447400123456"),
        ("07400 123456", "GB", "+447400123456"),
        ("  +33 6 12 34 56 78 ", None, "+33612345678"),
    ],
)
def test_numbers_are_normalised_to_e164(raw, region, e164):
    assert parse_phone(raw, region).e164 == e164


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        None,
        4155552671,
        "hello",
        "+1 415",
        "+999 123456789",
        "+1 415 555 2671 ext. 1234567890123456789",
        "+4\u0667400123456",  # an Arabic-Indic digit
        "+44 7400 123456\x00",
        "+1\n4155552671",
        # full-width digits
        "\uff0b\uff14\uff14\uff17\uff14\uff10\uff10\uff11\uff12\uff13\uff14\uff15\uff16",
        "4155552671",  # no region to resolve it
    ],
)
def test_invalid_numbers_raise_a_clear_error(raw):
    with pytest.raises(InvalidPhoneNumber) as err:
        parse_phone(raw)
    assert "phone number" in err.value.message.lower() or "number" in err.value.message.lower()


@pytest.mark.parametrize("raw", ["+44 20 7183 8750", "+1 800 555 0199"])
def test_numbers_that_cannot_receive_sms_are_refused(raw):
    with pytest.raises(InvalidPhoneNumber, match="cannot receive text messages"):
        parse_phone(raw)


def test_landline_allowed_when_mobile_not_required():
    assert parse_phone("+44 20 7183 8750", mobile_only=False).e164 == "+442071838750"


@override_settings(AUTHY2FA={"PROVIDER": None, "METHODS": ["totp"], "PHONE_DEFAULT_REGION": "GB"})
def test_default_region_comes_from_settings():
    assert parse_phone("07400 123456").e164 == "+447400123456"


@override_settings(AUTHY2FA={"PHONE_ALLOWED_REGIONS": ["US", "CA"]})
def test_region_allowlist():
    assert parse_phone("+1 415 555 2671").region == "US"
    with pytest.raises(InvalidPhoneNumber, match="not accepted"):
        parse_phone("+44 7400 123456")


def test_value_object_forms():
    phone = PhoneNumber("+447400123456")
    assert phone.country_code == 44
    assert phone.national_number == "7400123456"
    assert phone.region == "GB"
    assert phone.display == "+44 7400 123456"
    assert phone.masked == "+44 ••••••••56"
    assert "123456" not in repr(phone)
    assert "123456" not in str(phone)


def test_masking_never_reveals_more_than_two_digits():
    assert mask_e164("+14155552671") == "+1 ••••••••71"
    assert mask_e164("") == ""
    assert mask_e164("garbage") == "••••"
