import pytest
from django.core.cache import cache

from django_authy2fa.providers import locmem, reset_provider

pytest_plugins = ["tests.reliability"]


@pytest.fixture(autouse=True)
def _fresh_provider():
    """Every test starts with an empty outbox, a newly built provider and an empty cache."""
    cache.clear()
    locmem.reset()
    reset_provider()
    yield
    locmem.reset()
    reset_provider()


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(
        "alice", "alice@example.com", "correct horse battery"
    )
