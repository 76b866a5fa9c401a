"""A site whose user model extends another concrete model signs in through every step.

Such a user model (``tests.mti_user``: ``Member`` extends ``Person``) keeps its
parent's fields, ``is_active`` and ``password`` among them, in the parent's
table. The attempt's user must still be read whole on the attempt's own
database, never from where the site's routers send user reads. It runs in a
process of its own (``tests/settings_mti_user.py``): ``AUTH_USER_MODEL`` is
fixed when Django starts.
"""

from .helpers import run_with_settings

SIGN_IN = """
import django

django.setup()
from django.core.management import call_command

call_command("migrate", verbosity=0)
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from django_authy2fa import flows
from tests.helpers import Browser, make_user


class UsersReadFromAReplica:
    def db_for_read(self, model, **hints):
        return "replica" if model._meta.app_label == "mti_user" else None


alice = make_user("alice")
challenge, secret = flows.create_challenge(alice)
with override_settings(DATABASE_ROUTERS=["__main__.UsersReadFromAReplica"]):
    with CaptureQueriesContext(connection) as captured:
        pending = flows.find_pending(str(challenge.pk), secret, "login")
        user = pending.user
        assert user == alice and user.is_active and user.nickname == "NICK", vars(user)
        assert user.get_deferred_fields() == set(), user.get_deferred_fields()
        assert pending.profile is not None and pending.methods, pending
    # The attempt with the user's own columns and the profile, then the parent's columns.
    assert len(captured.captured_queries) == 2, captured.captured_queries

browser = Browser()
response = browser.full_login()
assert response.status_code == 302 and response["Location"] == "/protected/", response
page = browser.get("/protected/")
assert page.status_code == 200 and page.content == b"secret page of alice", page.content
print("signed in")
"""


def test_a_user_model_that_extends_another_signs_in_and_is_read_where_the_attempt_is():
    assert run_with_settings("tests.settings_mti_user", SIGN_IN) == "signed in"
