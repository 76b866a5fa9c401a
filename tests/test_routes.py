"""Every route the app adds is listed with the state it requires, and behaves so."""

import pytest
from django.urls import URLPattern, reverse

from django_authy2fa import urls as app_urls

from .helpers import Browser, make_user

pytestmark = pytest.mark.django_db

SAMPLE_KWARGS = {"revoke_browser": {"browser_id": 1}}


def test_every_route_has_a_state_entry():
    names = {p.name for p in app_urls.urlpatterns if isinstance(p, URLPattern)}
    assert names == set(app_urls.ROUTE_STATES), "add new routes to ROUTE_STATES"


@pytest.mark.parametrize(
    "name", [n for n, s in app_urls.ROUTE_STATES.items() if s in ("pending", "verified")]
)
def test_routes_refuse_an_anonymous_visitor(client, name):
    url = reverse(f"authy2fa:{name}", kwargs=SAMPLE_KWARGS.get(name))
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        assert response.status_code in (302, 403, 405)
        assert b"secret" not in response.content


@pytest.mark.parametrize("name", [n for n, s in app_urls.ROUTE_STATES.items() if s == "verified"])
def test_verified_routes_refuse_a_pending_session(name):
    make_user("alice")
    browser = Browser()
    browser.password_step()
    url = reverse(f"authy2fa:{name}", kwargs=SAMPLE_KWARGS.get(name))
    assert browser.get(url).status_code in (302, 405)
    response = browser.submit(url)
    assert response.status_code == 302
    assert "/login/" in response["Location"]
