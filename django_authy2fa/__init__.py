"""django-authy2fa: a second authentication step for Django sites."""

__version__ = "0.1.0.dev0"
