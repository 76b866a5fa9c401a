"""Fixtures of the fault suite: a fault server, and a real provider pointed at it."""

from __future__ import annotations

import pytest

from .server import FaultServer
from .support import Site, authy_healthy, site_settings, verify_healthy


@pytest.fixture(params=["authy", "verify"])
def site(request):
    """The real AuthyProvider or VerifyProvider, talking to a fault server on 127.0.0.1."""
    kind = request.param
    healthy = authy_healthy if kind == "authy" else verify_healthy
    with FaultServer(healthy) as server:
        site = Site(kind, server, site_settings(kind, server))
        with site.configured():
            yield site


@pytest.fixture
def other_host():
    """A second server: where a redirect points. It must never see a request."""
    with FaultServer(host="127.0.0.2") as server:
        yield server
