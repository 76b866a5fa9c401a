"""The test settings with a user model that extends another concrete one (``tests.mti_user``)."""

from .settings import *  # noqa: F403
from .settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.mti_user"]
AUTH_USER_MODEL = "mti_user.Member"
