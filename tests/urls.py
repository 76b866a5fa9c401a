from django.contrib import admin
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
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


@login_required
def protected(request):
    return HttpResponse(f"secret page of {request.user.get_username()}")


async def protected_async(request):
    user = await request.auser()
    if not user.is_authenticated:
        return HttpResponse("anonymous", status=401)
    return HttpResponse(f"async secret page of {user.get_username()}")


def third_party_login(request):
    """A view that calls login() itself, as a password-reset or SSO view would."""
    user = User.objects.get(username=request.GET["username"])
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return HttpResponse("logged in by a third-party view")


def one_shot_login(request):
    """A script-style login: both factors in one authenticate() call."""
    from django.contrib.auth import authenticate

    user = authenticate(
        request,
        username=request.POST["username"],
        password=request.POST["password"],
        token=request.POST.get("token"),
    )
    if user is None:
        return HttpResponse("refused", status=403)
    login(request, user)
    return HttpResponse("ok")


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


urlpatterns = [
    path("admin/", admin.site.urls),
    path("account/2fa/", include("django_authy2fa.urls")),
    path("api/2fa/", include("django_authy2fa.api.urls")),
    path("api/whoami/", whoami),
    path("api/drf-token/", obtain_auth_token),
    path("api/basic-whoami/", basic_whoami),
    path("api/wrapped-basic-whoami/", wrapped_basic_whoami),
    path("api-auth/", include("rest_framework.urls")),
    path("protected/", protected),
    path("protected-async/", protected_async),
    path("third-party-login/", third_party_login),
    path("one-shot-login/", csrf_exempt(one_shot_login)),
]
