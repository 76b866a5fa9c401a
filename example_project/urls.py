from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import views

urlpatterns = [
    path("", views.demo, name="demo"),
    path("register/", views.register, name="demo-register"),
    path("register/confirm/", views.confirm_phone, name="demo-confirm"),
    path("register/resend/", views.resend_code, name="demo-resend"),
    path("register/cancel/", views.cancel_registration, name="demo-cancel"),
    path("demo-phone/messages/", views.demo_phone, name="demo-phone"),
    path("protected/", views.protected, name="protected"),
    # Sign-in, the second step and the 2FA settings: the library's pages.
    path("account/2fa/", include("django_authy2fa.urls")),
    path("logout/", auth_views.LogoutView.as_view(next_page="demo"), name="logout"),
    # The REST API, its OpenAPI schema and Swagger UI.
    path("api/2fa/", include("django_authy2fa.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    # The admin keeps its own login; the middleware sends it through the second step.
    path("admin/", admin.site.urls),
]
