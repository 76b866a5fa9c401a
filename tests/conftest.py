import pytest
from django.core.cache import cache

from django_authy2fa.providers import locmem, reset_provider

from .settings import DRF_INSTALLED

pytest_plugins = ["tests.reliability"]

# Without Django REST framework (no ``drf`` extra) these import DRF, or run the
# example project, which serves the API: they are not collected, and the header
# and the summary of the run say so.
NEEDS_DRF = ["api", "test_example_project.py", "e2e", "deploy", "faults", "hostile"]
collect_ignore = [] if DRF_INSTALLED else NEEDS_DRF
WITHOUT_DRF = (
    "djangorestframework/drf-spectacular are not installed: not collected (they need DRF): "
    + ", ".join(f"tests/{name}" for name in NEEDS_DRF)
)


def pytest_report_header(config):
    return None if DRF_INSTALLED else WITHOUT_DRF


def pytest_terminal_summary(terminalreporter):
    if not DRF_INSTALLED:
        terminalreporter.write_line(WITHOUT_DRF, yellow=True)


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
