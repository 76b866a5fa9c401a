from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models


class Shouting(models.CharField):
    """A field with its own converter: read back in capitals."""

    def from_db_value(self, value, expression, connection):
        return None if value is None else value.upper()


class Person(AbstractUser):
    """A concrete user model that another one extends (multi-table inheritance)."""


class Member(Person):
    """The site's user model: its own table holds only what it adds to ``Person``."""

    nickname = Shouting(max_length=20, default="nick")
    is_vip = models.BooleanField(default=False)
    objects = UserManager()
