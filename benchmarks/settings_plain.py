"""Configuration A: no second factor at all (the baseline)."""

from .settings_base import *  # noqa: F403
from .settings_base import middleware_with

MIDDLEWARE = middleware_with(None)
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
