"""``path("api/2fa/", include("django_authy2fa.api.urls"))``."""

from django.urls import path

from . import views

app_name = "authy2fa_api"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("send/", views.SendView.as_view(), name="send"),
    path("push/", views.PushView.as_view(), name="push"),
    path("push/status/", views.PushStatusView.as_view(), name="push_status"),
    path("verify/", views.VerifyView.as_view(), name="verify"),
    path("enroll/", views.EnrollView.as_view(), name="enroll"),
    path("enroll/confirm/", views.EnrollConfirmView.as_view(), name="enroll_confirm"),
    path("enroll/app/", views.EnrollAppView.as_view(), name="enroll_app"),
    path("enroll/app/confirm/", views.EnrollAppConfirmView.as_view(), name="enroll_app_confirm"),
    path("recovery-codes/", views.RecoveryCodesView.as_view(), name="recovery_codes"),
    path("step-up/", views.StepUpView.as_view(), name="step_up"),
    path("disable/", views.DisableView.as_view(), name="disable"),
    path("status/", views.StatusView.as_view(), name="status"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
]

#: The state each route needs (see ``django_authy2fa.urls.ROUTE_STATES``).
ROUTE_STATES = {
    "login": "anonymous",
    "send": "pending",
    "push": "pending",
    "push_status": "pending",
    "verify": "pending",
    "enroll": "enrolling",
    "enroll_confirm": "enrolling",
    "enroll_app": "enrolling",
    "enroll_app_confirm": "enrolling",
    "recovery_codes": "verified",
    "step_up": "verified",
    "disable": "verified",
    "status": "verified",
    "logout": "verified",
}
