"""System checks. Ids are stable and never reused; docs/checks.md lists them."""

from __future__ import annotations

from typing import Any

import django
from django.conf import settings
from django.core import checks

from .conf import app_settings, setting_path
from .exceptions import Authy2FAConfigurationError

REMOTE_METHODS = frozenset({"sms", "call", "push"})


@checks.register(checks.Tags.security)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E001: the AUTHY2FA dict is readable and names an importable provider."""
    try:
        app_settings.validate()
    except Authy2FAConfigurationError as err:
        return [checks.Error(str(err), id="authy2fa.E001")]
    if app_settings.PROVIDER is None:
        if REMOTE_METHODS & set(app_settings.METHODS):
            return [
                checks.Error(
                    f"{setting_path('PROVIDER')} is not set, but {setting_path('METHODS')} "
                    "includes SMS, voice or push.",
                    hint="Set it to e.g. 'django_authy2fa.providers.console.ConsoleProvider' "
                    "for development.",
                    id="authy2fa.E001",
                )
            ]
        return []
    return _check_provider()


def _check_provider() -> list[checks.CheckMessage]:
    from .providers.base import BaseProvider

    try:
        provider_class = app_settings.provider_class
    except Authy2FAConfigurationError as err:
        return [checks.Error(str(err), id="authy2fa.E001")]
    if not (isinstance(provider_class, type) and issubclass(provider_class, BaseProvider)):
        return [
            checks.Error(
                f"{setting_path('PROVIDER')} must name a subclass of "
                "django_authy2fa.providers.base.BaseProvider.",
                id="authy2fa.E001",
            )
        ]
    messages = list(provider_class.check(app_settings.PROVIDER_OPTIONS))
    messages += _check_provider_environment(provider_class)
    return messages


def _check_provider_environment(provider_class: type) -> list[checks.CheckMessage]:
    if settings.DEBUG:
        return []
    if getattr(provider_class, "is_development_only", False):
        return [
            checks.Error(
                f"{provider_class.__name__} prints codes to the console and must not run "
                "with DEBUG=False.",
                hint=f"Configure a real provider in {setting_path('PROVIDER')}.",
                id="authy2fa.E002",
            )
        ]
    if getattr(provider_class, "is_test_only", False):
        return [
            checks.Warning(
                f"{provider_class.__name__} keeps codes in memory and is meant for tests only.",
                hint=f"Configure a real provider in {setting_path('PROVIDER')}.",
                id="authy2fa.W002",
            )
        ]
    return []


MIDDLEWARE_PATH = "django_authy2fa.middleware.TwoFactorMiddleware"
AUTH_MIDDLEWARE_PATH = "django.contrib.auth.middleware.AuthenticationMiddleware"


@checks.register(checks.Tags.security)
def check_middleware(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E004: the middleware is installed; E005: it comes after AuthenticationMiddleware."""
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    if MIDDLEWARE_PATH not in middleware:
        return [
            checks.Error(
                f"'{MIDDLEWARE_PATH}' is not in MIDDLEWARE: logins made outside the app's "
                "pages (the admin, password reset) would skip the second step.",
                hint=f"Add it right after '{AUTH_MIDDLEWARE_PATH}'.",
                id="authy2fa.E004",
            )
        ]
    if AUTH_MIDDLEWARE_PATH not in middleware or middleware.index(
        AUTH_MIDDLEWARE_PATH
    ) > middleware.index(MIDDLEWARE_PATH):
        return [
            checks.Error(
                f"'{MIDDLEWARE_PATH}' must come after '{AUTH_MIDDLEWARE_PATH}' in MIDDLEWARE.",
                id="authy2fa.E005",
            )
        ]
    return []


@checks.register(checks.Tags.security)
def check_cache(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """W003: a per-process cache delays 2FA changes across app servers."""
    from django.core.cache import caches

    backend = type(caches["default"]).__module__
    if settings.DEBUG or ("locmem" not in backend and "dummy" not in backend):
        return []
    return [
        checks.Warning(
            "The default cache is per-process; with several app servers a 2FA change "
            "(enabled, disabled, phone changed) reaches the others only when their entry "
            "expires.",
            hint="Use a shared cache (Redis, Memcached or the database cache) in production.",
            id="authy2fa.W003",
        )
    ]


@checks.register(checks.Tags.security)
def check_database_routing(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E006: the app's models routed away from the default database.

    The throttles, single-use codes and failure counters hold their guarantees
    through transactions and row locks taken on the default database; rows
    read and written elsewhere would escape them.
    """
    from django.apps import apps
    from django.db import DEFAULT_DB_ALIAS, router

    try:
        routed = sorted(
            {
                f"{model._meta.label} → {alias!r}"
                for model in apps.get_app_config("django_authy2fa").get_models()
                for alias in (router.db_for_read(model), router.db_for_write(model))
                if alias != DEFAULT_DB_ALIAS
            }
        )
    except Exception as err:  # a router that needs hints (an instance) it is not given here
        return [
            checks.Warning(
                "Could not ask DATABASE_ROUTERS where django_authy2fa's models go: "
                f"{type(err).__name__}: {err}",
                hint="Make sure the router sends the django_authy2fa app to the default "
                "database; its locks are taken there (see authy2fa.E006).",
                id="authy2fa.W006",
            )
        ]
    if not routed:
        return []
    return [
        checks.Error(
            "DATABASE_ROUTERS send django_authy2fa's models away from the default database "
            f"({', '.join(routed)}); its throttles, single-use codes and failure counters "
            "take their transactions and row locks on the default database, so they would "
            "not hold.",
            hint="Route the django_authy2fa app to the default database (return None or "
            "'default' for its models in db_for_read and db_for_write).",
            id="authy2fa.E006",
        )
    ]


@checks.register(checks.Tags.security)
def check_time_zone_support(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E007: ``USE_TZ`` is off.

    Throttle windows, lockouts and attempt expiry are instants in UTC. With
    ``USE_TZ = False`` the database cannot take them (SQLite and MySQL refuse
    aware datetimes; PostgreSQL hands back naive ones), so every login would
    fail; better refused at start-up than on the first sign-in.
    """
    if settings.USE_TZ:
        return []
    return [
        checks.Error(
            "django_authy2fa needs USE_TZ = True: its throttle windows, lockouts and "
            "attempt expiry are instants in UTC, which the database cannot store or "
            "compare with USE_TZ = False.",
            hint="Set USE_TZ = True (Django's default since 5.0). See "
            "https://docs.djangoproject.com/en/stable/topics/i18n/timezones/ for "
            "moving an existing database.",
            id="authy2fa.E007",
        )
    ]


PASSWORD_ONLY_DRF_CLASSES = {
    "rest_framework.authentication.BasicAuthentication",
    "rest_framework.authentication.TokenAuthentication",
}


@checks.register(checks.Tags.security)
def check_drf_authentication(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """W004: DRF authentication classes that accept a password (or a password-made token) alone."""
    configured = (getattr(settings, "REST_FRAMEWORK", None) or {}).get(
        "DEFAULT_AUTHENTICATION_CLASSES", []
    )
    found = sorted(PASSWORD_ONLY_DRF_CLASSES & set(configured))
    if not found:
        return []
    return [
        checks.Warning(
            f"REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES'] includes {', '.join(found)}, "
            "which authenticate users who have two-step verification with a password alone.",
            hint="Use django_authy2fa.api.authentication.TwoFactorTokenAuthentication, or the "
            "TwoFactorBasicAuthentication / TwoFactorDRFTokenAuthentication wrappers, and "
            "IsTwoFactorVerified as the default permission.",
            id="authy2fa.W004",
        )
    ]


#: Django's default filter, which hides ``HTTP_AUTHORIZATION`` only from Django 5.0.
DJANGO_DEFAULT_REPORTER_FILTER = "django.views.debug.SafeExceptionReporterFilter"


@checks.register(checks.Tags.security)
def check_exception_reporter_filter(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """W005: on Django 4.2, API tokens in the Authorization header reach error reports."""
    if django.VERSION >= (5, 0) or "rest_framework" not in settings.INSTALLED_APPS:
        return []
    if settings.DEFAULT_EXCEPTION_REPORTER_FILTER != DJANGO_DEFAULT_REPORTER_FILTER:
        return []  # the site chose its own filter: its business
    return [
        checks.Warning(
            "Django 4.2's error reports and error e-mails show the Authorization header, "
            "and with it the API tokens of this app (and any DRF token or Basic password).",
            hint="Set DEFAULT_EXCEPTION_REPORTER_FILTER = "
            "'django_authy2fa.reporting.ExceptionReporterFilter', which hides it as "
            "Django 5.0 and later do.",
            id="authy2fa.W005",
        )
    ]
