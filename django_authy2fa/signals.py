"""Signals sent by the flows. Every signal carries ``sender`` (the flow's
module), ``user`` and ``request`` (``None`` outside a request), plus:

* ``second_factor_enrolled``: ``method`` ("sms", "call"...).
* ``second_factor_verified``: ``method``.
* ``second_factor_failed``: ``method``, ``failure_count`` (consecutive failures).
* ``account_locked``: ``hard`` (True when only an administrator or a recovery code unlocks).
* ``code_sent``: ``channel``.
* ``recovery_code_used``: ``remaining`` (unused codes left).
* ``second_factor_disabled``: ``actor`` (who disabled it; the user or an administrator).

Wrong codes are also sent through Django's ``user_login_failed``, so lockout
tools listening there see them.
"""

from django.dispatch import Signal

second_factor_enrolled = Signal()
second_factor_verified = Signal()
second_factor_failed = Signal()
account_locked = Signal()
code_sent = Signal()
recovery_code_used = Signal()
second_factor_disabled = Signal()
