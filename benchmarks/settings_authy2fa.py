"""Configuration B: this app's middleware and backend."""

from .settings_base import *  # noqa: F403
from .settings_base import middleware_with

MIDDLEWARE = middleware_with("django_authy2fa.middleware.TwoFactorMiddleware")
AUTHENTICATION_BACKENDS = ["django_authy2fa.backends.TwoFactorBackend"]
