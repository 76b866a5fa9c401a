import pytest
from django.test import override_settings

from django_authy2fa.conf import THROTTLE_DEFAULTS, AppSettings, app_settings
from django_authy2fa.exceptions import Authy2FAConfigurationError
from django_authy2fa.providers.console import ConsoleProvider
from django_authy2fa.providers.locmem import LocmemProvider


def test_defaults_are_documented_values():
    conf = AppSettings({})
    assert conf.PENDING_TIMEOUT == 300
    assert conf.METHODS == ("totp", "sms", "call", "push", "recovery")
    assert conf.REQUIRED_FOR is None
    assert conf.THROTTLE == THROTTLE_DEFAULTS
    assert conf.THROTTLE["PENDING_LOGIN_MAX_FAILURES"] == 5
    assert conf.THROTTLE["ACCOUNT_LOCK_AFTER"] == 10
    assert conf.THROTTLE["SEND_COOLDOWN_SECONDS"] == 30


def test_unknown_key_names_the_setting_and_suggests_the_right_one():
    conf = AppSettings({"PENDING_TIMEOT": 100})
    with pytest.raises(Authy2FAConfigurationError) as err:
        _ = conf.PENDING_TIMEOUT
    assert "AUTHY2FA['PENDING_TIMEOT']" in str(err.value)
    assert "Did you mean AUTHY2FA['PENDING_TIMEOUT']?" in str(err.value)


def test_unknown_throttle_key_names_the_nested_setting():
    conf = AppSettings({"THROTTLE": {"SENDS_PER_HOURS": 3}})
    with pytest.raises(
        Authy2FAConfigurationError, match=r"AUTHY2FA\['THROTTLE'\]\['SENDS_PER_HOURS'\]"
    ):
        _ = conf.THROTTLE


def test_throttle_overrides_merge_with_defaults():
    conf = AppSettings({"THROTTLE": {"SENDS_PER_HOUR": 3}})
    assert conf.THROTTLE["SENDS_PER_HOUR"] == 3
    assert conf.THROTTLE["SENDS_PER_DAY"] == THROTTLE_DEFAULTS["SENDS_PER_DAY"]


@pytest.mark.parametrize("value", [0, 601, "300", True, None])
def test_pending_timeout_is_bounded_to_ten_minutes(value):
    with pytest.raises(Authy2FAConfigurationError, match=r"AUTHY2FA\['PENDING_TIMEOUT'\]"):
        _ = AppSettings({"PENDING_TIMEOUT": value}).PENDING_TIMEOUT


def test_missing_provider_says_what_to_add():
    with pytest.raises(Authy2FAConfigurationError) as err:
        _ = AppSettings({}).provider_class
    assert "AUTHY2FA['PROVIDER'] is not set" in str(err.value)
    assert "ConsoleProvider" in str(err.value)


def test_unimportable_provider_names_the_setting_and_value():
    conf = AppSettings({"PROVIDER": "django_authy2fa.providers.nope.Provider"})
    with pytest.raises(
        Authy2FAConfigurationError, match=r"AUTHY2FA\['PROVIDER'\] = 'django_authy2fa"
    ):
        _ = conf.provider_class


def test_import_string_is_resolved_once(monkeypatch):
    conf = AppSettings({"PROVIDER": "django_authy2fa.providers.console.ConsoleProvider"})
    assert conf.provider_class is ConsoleProvider
    calls = []
    monkeypatch.setattr("django_authy2fa.conf.import_string", lambda path: calls.append(path))
    assert conf.provider_class is ConsoleProvider
    assert calls == []


def test_settings_reload_when_tests_change_them():
    assert app_settings.provider_class is LocmemProvider
    with override_settings(
        AUTHY2FA={
            "PROVIDER": "django_authy2fa.providers.console.ConsoleProvider",
            "PENDING_TIMEOUT": 120,
        }
    ):
        assert app_settings.provider_class is ConsoleProvider
        assert app_settings.PENDING_TIMEOUT == 120
    assert app_settings.provider_class is LocmemProvider
    assert app_settings.PENDING_TIMEOUT == 300


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("REQUIRED_FOR", "everyone"),
        ("METHODS", "sms"),
        ("METHODS", ["sms", "carrier-pigeon"]),
        ("PHONE_DEFAULT_REGION", "USA"),
        ("PHONE_ALLOWED_REGIONS", "US"),
        ("PROVIDER_OPTIONS", ["API_KEY"]),
    ],
)
def test_wrong_types_name_the_setting(key, value):
    conf = AppSettings({key: value})
    with pytest.raises(Authy2FAConfigurationError, match=rf"AUTHY2FA\['{key}'\]"):
        conf.validate()


def test_settings_must_be_a_dict():
    with pytest.raises(Authy2FAConfigurationError, match="must be a dict"):
        _ = AppSettings(["PROVIDER"]).METHODS  # type: ignore[arg-type]


def test_required_for_callable_is_imported():
    conf = AppSettings({"REQUIRED_FOR": "tests.policies.everyone_but_bob"})
    policy = conf.required_for_callable
    assert policy is not None
    assert policy(type("U", (), {"username": "alice"})()) is True
