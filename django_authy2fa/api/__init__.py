"""The REST API (Django REST framework). Install with ``pip install "django-authy2fa[drf]"``.

Everything DRF-specific lives in this package; the rest of the app never
imports ``rest_framework``.
"""

try:
    import rest_framework  # noqa: F401
except ImportError as err:  # pragma: no cover - exercised without the extra installed
    from ..exceptions import Authy2FAImproperlyInstalled

    raise Authy2FAImproperlyInstalled("djangorestframework", "drf") from err
