from django.contrib import admin
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt


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


urlpatterns = [
    path("admin/", admin.site.urls),
    path("account/2fa/", include("django_authy2fa.urls")),
    path("protected/", protected),
    path("protected-async/", protected_async),
    path("third-party-login/", third_party_login),
    path("one-shot-login/", csrf_exempt(one_shot_login)),
]
