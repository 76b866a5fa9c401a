from django.core.exceptions import ImproperlyConfigured

from django_authy2fa import exceptions as exc


def test_runtime_errors_share_one_root_and_config_errors_stay_outside():
    for cls in (
        exc.ProviderUnavailable,
        exc.ProviderRejected,
        exc.InvalidPhoneNumber,
        exc.InvalidTokenFormat,
        exc.Throttled,
        exc.ProviderThrottled,
    ):
        assert issubclass(cls, exc.Authy2FAError)
    assert not issubclass(exc.Authy2FAConfigurationError, exc.Authy2FAError)
    assert issubclass(exc.Authy2FAConfigurationError, ImproperlyConfigured)
    assert issubclass(exc.InvalidPhoneNumber, ValueError)


def test_provider_throttled_keeps_retry_after_and_details():
    error = exc.ProviderThrottled(retry_after=7, provider="Twilio Authy", status_code=429)
    assert error.retry_after == 7
    assert isinstance(error, exc.Throttled)
    assert str(error).endswith("(Twilio Authy, HTTP 429)")


def test_provider_error_str_names_code_without_provider_text():
    error = exc.ProviderRejected(
        "Invalid API key",
        provider="Twilio Authy",
        status_code=401,
        error_code="60001",
        provider_message="Invalid API key",
    )
    assert str(error) == "Invalid API key (Twilio Authy, HTTP 401, error 60001)"


def test_improperly_installed_names_the_extra():
    error = exc.Authy2FAImproperlyInstalled("pyotp", "totp")
    assert 'pip install "django-authy2fa[totp]"' in str(error)
    assert isinstance(error, ImportError)
