"""The test site's API routes: the library's API and a few plain DRF views."""

from django.contrib.auth import get_user_model, login
from django.urls import include, path
from rest_framework.authentication import (
    BasicAuthentication,
    SessionAuthentication,
    TokenAuthentication,
)
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from django_authy2fa.api.authentication import TwoFactorBasicAuthentication
from django_authy2fa.api.permissions import IsTwoFactorVerified


@api_view(["GET"])
def whoami(request):
    """A protected API endpoint under the default (2FA-aware) authentication."""
    return Response({"username": request.user.get_username()})


@api_view(["GET"])
@authentication_classes([BasicAuthentication, TokenAuthentication, SessionAuthentication])
@permission_classes([IsTwoFactorVerified])
def basic_whoami(request):
    """Password-only authentication classes, guarded by the permission."""
    return Response({"username": request.user.get_username()})


@api_view(["GET"])
@authentication_classes([TwoFactorBasicAuthentication])
@permission_classes([IsAuthenticated])
def wrapped_basic_whoami(request):
    """Basic authentication through the app's wrapper (password-only for users without 2FA)."""
    return Response({"username": request.user.get_username()})


@api_view(["POST"])
@authentication_classes([])
@permission_classes([])
def session_login(request):
    """An API view that signs users in with login(), passing DRF's Request."""
    user = get_user_model().objects.get(username=request.data["username"])
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return Response({"signed_in_as": request.user.get_username() or None})


urlpatterns = [
    path("api/2fa/", include("django_authy2fa.api.urls")),
    path("api/whoami/", whoami),
    path("api/drf-token/", obtain_auth_token),
    path("api/basic-whoami/", basic_whoami),
    path("api/wrapped-basic-whoami/", wrapped_basic_whoami),
    path("api/session-login/", session_login),
    path("api-auth/", include("rest_framework.urls")),
]
