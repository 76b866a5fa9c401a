import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """Django's user with a UUID primary key: stored as 32 hex characters on SQLite."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
