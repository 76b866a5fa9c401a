from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views

urlpatterns = [
    path("protected/", views.protected),
    path("account/2fa/", include("django_authy2fa.urls")),
    # The plain Django login the login path is compared with.
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("otp/verify/", views.otp_verify),
]
