"""A site whose user model has a UUID primary key signs in through every step.

``AUTH_USER_MODEL`` is fixed when Django starts, so the sign-in runs in a
process of its own (``tests/settings_uuid_user.py``), on SQLite in memory,
where a UUID is stored as 32 hex characters: a value sent to the database
without the field's preparation matches nothing, or is refused.
"""

from .helpers import run_with_settings

SIGN_IN = """
import django

django.setup()
from django.core.management import call_command

call_command("migrate", verbosity=0)
from django.contrib.auth import get_user_model

from django_authy2fa import flows, statements
from django_authy2fa.models import LoginChallenge, TwoFactorProfile
from tests.helpers import Browser, make_user

alice = make_user("alice")
assert isinstance(alice.pk, __import__("uuid").UUID), alice.pk
challenge, secret = flows.create_challenge(alice)
found = flows.find_challenge(str(challenge.pk), secret, "login")
assert found is not None and found.user == alice, found
assert statements.update(TwoFactorProfile, {"user": alice.pk}, {"default_method": "sms"}) == 1

browser = Browser()
response = browser.full_login()
assert response.status_code == 302 and response["Location"] == "/protected/", response
page = browser.get("/protected/")
assert page.status_code == 200 and page.content == b"secret page of alice", page.content
print("signed in", LoginChallenge.objects.filter(user=alice).count())
"""


def test_a_user_with_a_uuid_primary_key_signs_in_through_every_step():
    assert run_with_settings("tests.settings_uuid_user", SIGN_IN) == "signed in 2"
