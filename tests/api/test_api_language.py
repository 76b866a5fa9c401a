"""The API answers in the request's language, as the pages do."""

import pytest
from django.utils import translation
from rest_framework.test import APIClient

from ..helpers import make_user

pytestmark = pytest.mark.django_db
API = "/api/2fa/"


@pytest.fixture
def german(settings):
    settings.LANGUAGE_CODE = "de"
    yield APIClient()
    translation.activate("en-us")


def test_a_request_without_a_sign_in_is_refused_in_german(german):
    response = german.post(f"{API}enroll/app/", {}, format="json")
    assert response.status_code == 403
    assert response.json()["detail"] == "Melden Sie sich zuerst an."


def test_a_session_without_the_second_step_is_refused_in_german(german):
    alice = make_user("alice")
    german.force_authenticate(user=alice)  # signed in by something other than this app's token
    response = german.get(f"{API}status/")
    assert response.status_code == 403
    assert response.json()["detail"] == "Die Bestätigung in zwei Schritten ist erforderlich."


def test_malformed_json_is_refused_in_german(german):
    deep = "[" * 100_000 + "]" * 100_000
    response = german.post(f"{API}login/", deep, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"] == "Das JSON ist zu tief verschachtelt."


def test_invalid_fields_are_named_in_german(german):
    response = german.post(f"{API}login/", {"username": ""}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == "Ungültige Eingabe."
