from django.contrib.auth import views as auth_views
from django.urls import path

from .urls import urlpatterns as base_patterns

urlpatterns = [
    *base_patterns,
    path(
        "reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            post_reset_login=True,
            post_reset_login_backend="django_authy2fa.backends.TwoFactorBackend",
            success_url="/protected/",
            template_name="tests/password_reset_confirm.html",
        ),
    ),
]
