"""Configuration C: the peer, django-otp's OTPMiddleware with a TOTP device."""

from .settings_base import *  # noqa: F403
from .settings_base import middleware_with

MIDDLEWARE = middleware_with("django_otp.middleware.OTPMiddleware")
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
