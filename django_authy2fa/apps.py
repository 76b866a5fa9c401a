from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class Authy2FAConfig(AppConfig):
    name = "django_authy2fa"
    label = "django_authy2fa"
    verbose_name = _("Two-factor authentication")
    # Pinned so that a project's DEFAULT_AUTO_FIELD never creates migrations here.
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, receivers  # noqa: F401 - registers checks and receivers
