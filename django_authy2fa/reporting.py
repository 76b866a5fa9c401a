"""Error reports that hide the ``Authorization`` header on every supported Django.

Django 5.0 added ``AUTH`` to the names its :class:`SafeExceptionReporterFilter`
hides, so ``HTTP_AUTHORIZATION`` (this app's API tokens, DRF tokens, Basic
credentials) is masked in error pages, error e-mails and the reports error
trackers build from them. Django 4.2 still shows it. On Django 4.2 set::

    DEFAULT_EXCEPTION_REPORTER_FILTER = "django_authy2fa.reporting.ExceptionReporterFilter"

System check ``authy2fa.W005`` asks for it. On Django 5.0 and later the filter
changes nothing and is not needed.
"""

from __future__ import annotations

import re

from django.views.debug import SafeExceptionReporterFilter

#: Django 5's list, which Django 4.2 lacks ``AUTH`` from.
HIDDEN_NAMES = re.compile("API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE", flags=re.I)


class ExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's safe filter, also hiding settings and request headers named ``*AUTH*``."""

    hidden_settings = HIDDEN_NAMES
