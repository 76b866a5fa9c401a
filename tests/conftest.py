import pytest

from django_authy2fa.providers import locmem, reset_provider


@pytest.fixture(autouse=True)
def _fresh_provider():
    """Every test starts with an empty outbox and a newly built provider."""
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
