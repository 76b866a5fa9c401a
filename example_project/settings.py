"""Settings of the example site.

Everything comes from the environment (or a ``.env`` file next to
``manage.py``; see ``.env.example``). With nothing set, the site runs on
SQLite with the console provider: no account anywhere is needed.
"""

from pathlib import Path

import django
import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)

if DEBUG:
    SECRET_KEY = env.str(
        "SECRET_KEY", default="demo-only-insecure-key-change-me-0123456789abcdefghijklmnop"
    )
else:
    SECRET_KEY = env.str("SECRET_KEY")  # required outside development

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_authy2fa",
    "example_project",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Right after AuthenticationMiddleware: a session that passed only the
    # password step (whatever view logged it in) is treated as signed out.
    "django_authy2fa.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Project-level templates come before every app's, so this folder can
        # restyle the library's pages (django_authy2fa/base.html) for the demo.
        "DIRS": [BASE_DIR / "example_project" / "templates_override"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# The tutorial's ComputePasswordHash/VerifyPassword are Django's hashers;
# Argon2id first, the default PBKDF2 kept so older hashes still verify.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The password step and the second step are the library's pages; the
# backend also accepts an authenticator-app or recovery code for scripts.
AUTHENTICATION_BACKENDS = ["django_authy2fa.backends.TwoFactorBackend"]
LOGIN_URL = "authy2fa:login"
LOGIN_REDIRECT_URL = "protected"

# --- Security settings that matter outside development ---------------------------------
# docs/deployment.md lists every variable; tests/deploy/test_check_deploy.py runs
# ``manage.py check --deploy --fail-level WARNING`` against this production branch.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
# Django's defaults, spelled out because the second-step pages rely on them:
# no framing (clickjacking of the code form), no MIME sniffing, no cross-site
# referrer (the second step's URLs carry ``next``), an isolated browsing context.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Other origins allowed to POST forms, e.g. "https://login.example.com" (rarely needed).
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Old keys while rotating SECRET_KEY: sessions, recovery codes and TOTP secrets keep
# working; API tokens, trusted browsers and pending logins are keyed with SECRET_KEY alone.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # "preload" consents to the domain being built into browsers as HTTPS-only; that
    # happens only once the registrable domain is submitted to hstspreload.org. Set
    # False if it must not be (``check --deploy`` then reports security.W021).
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    if env.bool("BEHIND_TLS_PROXY", default=False):
        # Only behind a proxy that sets (and overwrites) X-Forwarded-Proto itself.
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Two-factor authentication ---------------------------------------------------------
PROVIDER_ALIASES = {
    "console": "django_authy2fa.providers.console.ConsoleProvider",
    "verify": "django_authy2fa.providers.verify.VerifyProvider",
    "authy": "django_authy2fa.providers.authy.AuthyProvider",
}
_provider = env.str("AUTHY2FA_PROVIDER", default="console")
_provider_options = {}
if _provider == "authy":
    _provider_options = {"API_KEY": env.str("AUTHY_API_KEY", default="")}
    if "AUTHY_API_URL" in env:
        # Another Authy endpoint: tests/deploy points both app servers at one fake
        # Authy on 127.0.0.1 (plain http is accepted only for a loopback host).
        _provider_options["API_URL"] = env.str("AUTHY_API_URL")
elif _provider == "verify":
    _provider_options = {
        "ACCOUNT_SID": env.str("TWILIO_ACCOUNT_SID", default=""),
        "AUTH_TOKEN": env.str("TWILIO_AUTH_TOKEN", default=""),
        "SERVICE_SID": env.str("TWILIO_VERIFY_SERVICE_SID", default=""),
    }

_throttle = {}
if "AUTHY2FA_SEND_COOLDOWN_SECONDS" in env:
    _throttle["SEND_COOLDOWN_SECONDS"] = env.int("AUTHY2FA_SEND_COOLDOWN_SECONDS")

AUTHY2FA = {
    "PROVIDER": PROVIDER_ALIASES.get(_provider, _provider),
    "PROVIDER_OPTIONS": _provider_options,
    # Staff (and so the admin) always need the second step; others once enrolled.
    "REQUIRED_FOR": "staff",
    "PHONE_DEFAULT_REGION": env.str("AUTHY2FA_PHONE_DEFAULT_REGION", default="US"),
    "ISSUER_NAME": "django-authy2fa demo",
    "THROTTLE": _throttle,
    # Reverse proxies (load balancer, TLS terminator) that append to X-Forwarded-For;
    # the client IP the throttles count is the address the outermost of them saw.
    "TRUSTED_PROXY_COUNT": env.int("AUTHY2FA_TRUSTED_PROXY_COUNT", default=0),
}
if "AUTHY2FA_ENCRYPTION_KEYS" in env:
    # Fernet keys for TOTP secrets, newest first; without them a key derived from SECRET_KEY.
    AUTHY2FA["ENCRYPTION_KEYS"] = env.list("AUTHY2FA_ENCRYPTION_KEYS")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_authy2fa": {"handlers": ["console"], "level": "INFO"}},
}

# --- REST API (the "drf" extra) -----------------------------------------------------------
REST_FRAMEWORK = {
    # Tokens the app issues after the second step, and sessions (the middleware
    # makes a session that skipped the second step anonymous).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "django_authy2fa.api.authentication.TwoFactorTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["django_authy2fa.api.permissions.IsTwoFactorVerified"],
    "EXCEPTION_HANDLER": "django_authy2fa.api.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
if django.VERSION < (5, 0):
    # Django 4.2's error reports show the Authorization header, so the API's
    # tokens (authy2fa.W005); this filter hides it as Django 5 does.
    DEFAULT_EXCEPTION_REPORTER_FILTER = "django_authy2fa.reporting.ExceptionReporterFilter"
SPECTACULAR_SETTINGS = {
    "TITLE": "django-authy2fa API",
    "DESCRIPTION": "The second authentication step for API clients.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI served from this site, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
