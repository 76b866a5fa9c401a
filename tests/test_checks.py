import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from django_authy2fa.checks import (
    check_cache,
    check_middleware,
    check_settings,
    check_time_zone_support,
)


def ids(messages):
    return [m.id for m in messages]


def test_test_settings_only_warn_about_the_test_provider():
    assert ids(check_settings()) == ["authy2fa.W002"]
    assert check_middleware() == []


def test_missing_middleware_is_e004(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "authy2fa" not in m]
    assert ids(check_middleware()) == ["authy2fa.E004"]


def test_middleware_before_authentication_is_e005(settings):
    ours = "django_authy2fa.middleware.TwoFactorMiddleware"
    settings.MIDDLEWARE = [ours, *[m for m in settings.MIDDLEWARE if m != ours]]
    assert ids(check_middleware()) == ["authy2fa.E005"]


def test_per_process_cache_warns_outside_debug(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert ids(check_cache()) == ["authy2fa.W003"]
    settings.DEBUG = True
    assert check_cache() == []


@override_settings(DEBUG=True)
def test_locmem_is_fine_in_debug():
    assert check_settings() == []


@override_settings(AUTHY2FA={"PROVIDER": "django_authy2fa.providers.console.ConsoleProvider"})
def test_console_provider_refused_without_debug():
    messages = check_settings()
    assert ids(messages) == ["authy2fa.E002"]
    assert messages[0].level == checks.ERROR


@override_settings(
    DEBUG=True, AUTHY2FA={"PROVIDER": "django_authy2fa.providers.console.ConsoleProvider"}
)
def test_console_provider_allowed_in_debug():
    assert check_settings() == []


@pytest.mark.parametrize(
    "conf",
    [
        {"PROVIDER": "no.such.Provider"},
        {"PROVIDER": "django_authy2fa.conf.AppSettings"},
        {"PROVIDR": "x"},
        {"PENDING_TIMEOUT": 3600},
        {},
    ],
)
def test_broken_settings_are_error_e001(conf):
    with override_settings(AUTHY2FA=conf):
        messages = check_settings()
    assert ids(messages) == ["authy2fa.E001"]
    assert "AUTHY2FA[" in messages[0].msg


@override_settings(AUTHY2FA={"METHODS": ["totp", "recovery"]})
def test_no_provider_needed_without_remote_methods():
    assert check_settings() == []


@override_settings(
    DEBUG=True,
    AUTHY2FA={
        "PROVIDER": "django_authy2fa.providers.console.ConsoleProvider",
        "PROVIDER_OPTIONS": {"API_KEY": "x"},
    },
)
def test_bad_provider_options_are_e003():
    messages = check_settings()
    assert ids(messages) == ["authy2fa.E003"]
    assert "AUTHY2FA['PROVIDER_OPTIONS']['API_KEY']" in messages[0].msg


def test_checks_are_registered_with_django():
    registered = checks.run_checks(tags=[checks.Tags.security])
    assert "authy2fa.W002" in ids(registered)


def test_password_only_drf_classes_warn_w004(settings):
    from django_authy2fa.checks import check_drf_authentication

    assert check_drf_authentication() == []
    settings.REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": [
            "rest_framework.authentication.BasicAuthentication",
            "rest_framework.authentication.SessionAuthentication",
        ]
    }
    messages = check_drf_authentication()
    assert ids(messages) == ["authy2fa.W004"]
    assert "BasicAuthentication" in messages[0].msg


def test_w005_asks_django_42_sites_with_the_api_to_hide_the_authorization_header(
    settings, monkeypatch
):
    import django

    from django_authy2fa.checks import check_exception_reporter_filter

    if "rest_framework" not in settings.INSTALLED_APPS:
        pytest.skip("without DRF there is no API token to hide")
    settings.DEFAULT_EXCEPTION_REPORTER_FILTER = "django.views.debug.SafeExceptionReporterFilter"
    monkeypatch.setattr(django, "VERSION", (5, 0, 0, "final", 0))
    assert check_exception_reporter_filter() == []  # Django 5 hides the header itself
    monkeypatch.setattr(django, "VERSION", (4, 2, 20, "final", 0))
    assert ids(check_exception_reporter_filter()) == ["authy2fa.W005"]
    settings.DEFAULT_EXCEPTION_REPORTER_FILTER = "django_authy2fa.reporting.ExceptionReporterFilter"
    assert check_exception_reporter_filter() == []


def test_the_reporter_filter_hides_the_authorization_header(rf):
    from django_authy2fa.reporting import ExceptionReporterFilter

    request = rf.get("/api/2fa/status/", HTTP_AUTHORIZATION="Bearer a2fa_secret-token")
    meta = ExceptionReporterFilter().get_safe_request_meta(request)
    assert meta["HTTP_AUTHORIZATION"] == ExceptionReporterFilter.cleansed_substitute
    assert "a2fa_secret-token" not in repr(meta)


class ReadsFromAReplica:
    """A common router: every read of every app goes to a replica."""

    def db_for_read(self, model, **hints):
        return "replica"


class OtherAppsElsewhere:
    """Routes only another app away; this app's models are left to the default."""

    def db_for_read(self, model, **hints):
        return "archive" if model._meta.app_label == "sessions" else None

    db_for_write = db_for_read


class AuditEventsElsewhere:
    def db_for_write(self, model, **hints):
        return "audit" if model._meta.model_name == "auditevent" else None


class NeedsAnInstance:
    """Decides from the instance a query is about: asked without one, it raises."""

    def db_for_write(self, model, **hints):
        return hints["instance"]._state.db


def test_default_routing_passes_e006():
    from django_authy2fa.checks import check_database_routing

    assert check_database_routing() == []


def test_other_apps_routed_elsewhere_pass_e006(settings):
    from django_authy2fa.checks import check_database_routing

    settings.DATABASE_ROUTERS = [f"{__name__}.OtherAppsElsewhere"]
    assert check_database_routing() == []


@pytest.mark.parametrize(
    ("router", "named"),
    [
        ("ReadsFromAReplica", "django_authy2fa.TwoFactorProfile → 'replica'"),
        ("AuditEventsElsewhere", "django_authy2fa.AuditEvent → 'audit'"),
    ],
)
def test_routing_the_apps_models_away_is_e006(settings, router, named):
    from django_authy2fa.checks import check_database_routing

    settings.DATABASE_ROUTERS = [f"{__name__}.{router}"]
    (message,) = check_database_routing()
    assert message.id == "authy2fa.E006"
    assert message.level == checks.ERROR
    assert named in message.msg
    assert "authy2fa.E006" in ids(checks.run_checks(tags=[checks.Tags.security]))


def test_a_router_that_cannot_answer_without_hints_is_a_warning_not_a_crash(settings):
    from django_authy2fa.checks import check_database_routing

    settings.DATABASE_ROUTERS = [f"{__name__}.NeedsAnInstance"]
    (message,) = check_database_routing()
    assert message.id == "authy2fa.W006"
    assert message.level == checks.WARNING
    assert "KeyError" in message.msg
    assert "authy2fa.W006" in ids(checks.run_checks(tags=[checks.Tags.security]))


def test_use_tz_off_is_e007_and_stops_the_checks(settings):
    assert check_time_zone_support() == []
    settings.USE_TZ = False
    assert ids(check_time_zone_support()) == ["authy2fa.E007"]
    with pytest.raises(SystemCheckError, match=r"authy2fa\.E007"):
        call_command("check")
