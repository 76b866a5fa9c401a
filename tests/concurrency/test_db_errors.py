"""A database error in the middle of a charge gives every earlier charge back.

On MariaDB/MySQL, concurrent reservations are regularly chosen as deadlock
victims (``OperationalError`` 1213, see test_races.py); any server can also
time out on a lock. Such an error is nobody's wrong code and no sent message,
so it must not leave a count or a cooldown behind. The error is simulated
here, so these tests run on every database.
"""

from __future__ import annotations

import pytest
from django.db import OperationalError

from django_authy2fa import flows, throttling
from django_authy2fa.audit import ClientInfo
from django_authy2fa.models import TwoFactorProfile

from .support import make_user, new_pending, send_sms, window

pytestmark = pytest.mark.django_db

DEADLOCK = OperationalError(
    1213, "Deadlock found when trying to get lock; try restarting transaction"
)


def deadlock(*args, **kwargs):
    raise DEADLOCK


def test_a_database_error_after_the_ip_charge_gives_it_back(monkeypatch):
    user = make_user("yara")
    pending = new_pending(user)
    send_sms(pending)
    monkeypatch.setattr(throttling, "charge_account_attempt", deadlock)

    with pytest.raises(OperationalError):
        flows.verify_code(pending, "sms", "000000", ClientInfo(ip="192.0.2.7"))

    assert window("fail_ip", "192.0.2.7").count == 0  # no code was checked


def test_a_database_error_while_reserving_a_send_gives_the_cooldown_back(monkeypatch):
    user = make_user("zeno")
    pending = new_pending(user)
    monkeypatch.setattr(throttling, "reserve", deadlock)

    with pytest.raises(OperationalError):
        flows.send_code(pending, "sms", ClientInfo(ip="192.0.2.8"))
    monkeypatch.undo()

    assert TwoFactorProfile.objects.get(user=user).last_code_sent_at is None
    send_sms(pending)  # nothing was sent, so the user may ask again at once
