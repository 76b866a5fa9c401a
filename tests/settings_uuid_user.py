"""The test settings with a user model whose primary key is a UUID (``tests.uuid_user``)."""

from .settings import *  # noqa: F403
from .settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.uuid_user"]
AUTH_USER_MODEL = "uuid_user.User"
