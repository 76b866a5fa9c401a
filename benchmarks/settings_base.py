"""What the benchmark configurations share: apps, database, cache, sessions, hasher, view.

Every configuration installs the same apps (this app and django-otp alike),
keeps sessions in the database (Django's default engine), hashes passwords
with the same hasher and serves the same protected view; only the
middleware and the authentication backend differ (``settings_*.py``).

``BENCH_DATABASE_URL`` and ``BENCH_CACHE_URL`` are set by ``benchmarks.run``.
"""

import tempfile
from pathlib import Path

import environ

env = environ.Env()
HERE = Path(__file__).resolve().parent

SECRET_KEY = "benchmarks-only-secret-key-not-for-production-0123456789abcdef"  # noqa: S105
# DEBUG=False: with DEBUG on, Django records every query, which slows every configuration.
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django_authy2fa",
    "django_otp",
    "django_otp.plugins.otp_totp",
]

#: The stack every configuration starts from; ``settings_*`` insert their 2FA middleware.
BASE_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]


def middleware_with(extra: str | None) -> list[str]:
    """The base stack with ``extra`` right after AuthenticationMiddleware."""
    stack = list(BASE_MIDDLEWARE)
    if extra:
        stack.insert(
            stack.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1, extra
        )
    return stack


MIDDLEWARE = middleware_with(None)
ROOT_URLCONF = "benchmarks.urls"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/protected/"

_SQLITE = Path(tempfile.gettempdir()) / "authy2fa-bench.sqlite3"
DATABASES = {"default": env.db("BENCH_DATABASE_URL", default=f"sqlite:///{_SQLITE}")}
# Persistent connections, as any production site has (or a pool): without them
# every request would open a database connection and hide what the middleware costs.
DATABASES["default"]["CONN_MAX_AGE"] = 600
CACHES = {"default": env.cache("BENCH_CACHE_URL", default="locmemcache://")}
SESSION_ENGINE = "django.contrib.sessions.backends.db"

# Django's default hasher (PBKDF2-SHA256 at Django's default iteration count);
# BENCH_FAST_HASHER=1 switches every configuration to MD5 to show what the
# login machinery costs once the hasher no longer dominates.
PASSWORD_HASHERS = (
    ["django.contrib.auth.hashers.MD5PasswordHasher"]
    if env.bool("BENCH_FAST_HASHER", default=False)
    else ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
)

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [HERE / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
STATIC_URL = "/static/"

AUTHY2FA = {
    # Codes are printed (the worker discards standard output) and readable
    # from the provider's in-memory list, so the code step runs for real.
    "PROVIDER": "django_authy2fa.providers.console.ConsoleProvider",
    "METHODS": ["sms", "totp", "recovery"],
    # The benchmark logs the same few users in again and again from one
    # address: raise the quotas so none is refused. The throttle queries
    # still run on every step, as they do in production.
    "THROTTLE": {
        "SEND_COOLDOWN_SECONDS": 1,
        "SENDS_PER_HOUR": 1_000_000,
        "SENDS_PER_DAY": 1_000_000,
        "PHONE_SENDS_PER_HOUR": 1_000_000,
        "PHONE_SENDS_PER_DAY": 1_000_000,
        "IP_SENDS_PER_HOUR": 1_000_000,
        "IP_SENDS_PER_DAY": 1_000_000,
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": "WARNING"},
}
