"""URLs of the second step: ``path("account/2fa/", include("django_authy2fa.urls"))``.

Every route is listed with the state it requires in ``ROUTE_STATES``; the
test suite fails when a route is added without an entry.
"""

from django.urls import path, register_converter

from . import views


class RowIdConverter:
    """A row id that fits a 64-bit integer column.

    Django 4.2 answers a lookup with a larger number with a 500 (SQLite cannot
    bind it); such a path now finds no route, a 404, on every Django.
    """

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(RowIdConverter, "authy2fa_id")

app_name = "authy2fa"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("verify/", views.VerifyView.as_view(), name="verify"),
    path("verify/send/", views.SendCodeView.as_view(), name="send"),
    path("verify/push/", views.PushStartView.as_view(), name="push"),
    path("verify/push/status/", views.PushStatusView.as_view(), name="push_status"),
    path("verify/cancel/", views.CancelView.as_view(), name="cancel"),
    path("callbacks/authy/", views.AuthyCallbackView.as_view(), name="authy_callback"),
    path("callbacks/verify/", views.VerifyCallbackView.as_view(), name="verify_callback"),
    path("enroll/", views.EnrollView.as_view(), name="enroll"),
    path("enroll/confirm/", views.EnrollConfirmView.as_view(), name="enroll_confirm"),
    path("enroll/app/", views.EnrollAppView.as_view(), name="enroll_app"),
    path("manage/", views.ManageView.as_view(), name="manage"),
    path("manage/recovery-codes/", views.RegenerateRecoveryCodesView.as_view(), name="recovery"),
    path(
        "manage/browsers/<authy2fa_id:browser_id>/revoke/",
        views.RevokeBrowserView.as_view(),
        name="revoke_browser",
    ),
    path("manage/confirm/", views.StepUpView.as_view(), name="step_up"),
    path("manage/default-method/", views.DefaultMethodView.as_view(), name="default_method"),
    path("manage/disable/", views.DisableView.as_view(), name="disable"),
]

#: The state each route needs: anonymous (anyone), pending (a login attempt
#: between the password and the second step), enrolling (signed in, or an
#: attempt that must enroll first), verified (signed in), provider (signed
#: by the provider).
ROUTE_STATES = {
    "login": "anonymous",
    "verify": "pending",
    "send": "pending",
    "push": "pending",
    "push_status": "pending",
    "cancel": "anonymous",
    "authy_callback": "provider",
    "verify_callback": "provider",
    "enroll": "enrolling",
    "enroll_confirm": "enrolling",
    "enroll_app": "enrolling",
    "manage": "verified",
    "recovery": "verified",
    "revoke_browser": "verified",
    "step_up": "verified",
    "default_method": "verified",
    "disable": "verified",
}
