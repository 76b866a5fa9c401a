"""WSGI entry point for gunicorn; DJANGO_SETTINGS_MODULE picks the configuration."""

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
