from asgiref.sync import sync_to_async
from django.conf import settings
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


def _resolved_user(request):
    user = request.user
    _ = user.is_authenticated  # evaluates the lazy object (database queries) here
    return user


async def protected_async(request):
    if hasattr(request, "auser"):  # Django 5.0+
        user = await request.auser()
    else:
        # Django 4.2 has no auser(): resolve the lazy request.user off the event loop.
        user = await sync_to_async(_resolved_user)(request)
    if not user.is_authenticated:
        return HttpResponse("anonymous", status=401)
    return HttpResponse(f"async secret page of {user.get_username()}")


def third_party_login(request):
    """A view that calls login() itself, as a password-reset or SSO view would."""
    user = User.objects.get(username=request.GET["username"])
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    seen = request.user.get_username() or "anonymous"
    return HttpResponse(f"logged in by a third-party view; the view sees {seen}")


def flushed_session(request):
    """A view that empties the session without logout(), then looks at the user."""
    request.session.flush()
    return HttpResponse(request.user.get_username() or "anonymous")


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
    path("flushed-session/", flushed_session),
]

if settings.DRF_INSTALLED:
    # The API and the DRF views the API tests call; without DRF they are left out.
    urlpatterns.append(path("", include("tests.urls_drf")))
