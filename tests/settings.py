"""Settings for the test suite.

SQLite in memory and the local-memory cache by default; ``DATABASE_URL`` and
``CACHE_URL`` switch to real servers (``.ci/run`` uses PostgreSQL and Redis).
"""

from importlib.util import find_spec

import django
import environ

env = environ.Env()

# The library works without Django REST framework (the ``drf`` extra); so does
# the suite, leaving out the API tests (see conftest.py). CI runs both ways.
DRF_INSTALLED = find_spec("rest_framework") is not None and find_spec("drf_spectacular") is not None

SECRET_KEY = "tests-only-secret-key-not-for-production-0123456789"
if django.VERSION < (5, 0):
    # What authy2fa.W005 asks of a Django 4.2 site: hide the Authorization header
    # (API tokens) in error reports, as Django 5 does by itself.
    DEFAULT_EXCEPTION_REPORTER_FILTER = "django_authy2fa.reporting.ExceptionReporterFilter"
if django.VERSION >= (6, 1):
    # Django 6.1 replaces EMAIL_BACKEND with MAILERS and warns without it (the
    # error e-mails of tests/hostile are sent through it); the test runner swaps
    # every mailer for the in-memory one anyway.
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    *(["rest_framework", "rest_framework.authtoken", "drf_spectacular"] if DRF_INSTALLED else []),
    "django_authy2fa",
    "example_project",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_authy2fa.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

AUTHENTICATION_BACKENDS = ["django_authy2fa.backends.TwoFactorBackend"]
LOGIN_URL = "authy2fa:login"
LOGIN_REDIRECT_URL = "/protected/"
STATIC_URL = "/static/"

ROOT_URLCONF = "tests.urls"

DATABASES = {"default": env.db("DATABASE_URL", default="sqlite://:memory:")}

if DATABASES["default"]["ENGINE"] == "django.db.backends.mysql":
    # MariaDB runs the race suite; PyMySQL (pure Python, in the dev extra)
    # stands in for mysqlclient, which needs a compiler and client headers.
    try:
        import MySQLdb  # noqa: F401
    except ImportError:
        import pymysql

        pymysql.install_as_MySQLdb()
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# Fast hashing keeps the suite quick; the example project uses Argon2.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [__import__("pathlib").Path(__file__).parent / "templates"],
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

AUTHY2FA = {
    "PROVIDER": "django_authy2fa.providers.locmem.LocmemProvider",
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "django_authy2fa.api.authentication.TwoFactorTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["django_authy2fa.api.permissions.IsTwoFactorVerified"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "django_authy2fa.api.errors.api_exception_handler",
}
SPECTACULAR_SETTINGS = {"TITLE": "django-authy2fa API", "VERSION": "0.1.0"}
