"""The protected page every configuration serves, and the peer's verification step."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.http import require_POST


def protected(request: HttpRequest) -> HttpResponse:
    """A page for signed-in users; 403 (not a redirect) so load generators count refusals.

    Where the stack has a verification flag (django-otp's ``is_verified()``),
    the page requires it, as ``otp_required`` would; this app needs no check
    here because its middleware already turns an unverified session anonymous.
    """
    user = request.user
    is_verified = getattr(user, "is_verified", None)
    if not user.is_authenticated or (is_verified is not None and not is_verified()):
        return HttpResponseForbidden("sign in first")
    return HttpResponse(f"secret page of {user.get_username()}")


@require_POST
def otp_verify(request: HttpRequest) -> HttpResponse:
    """django-otp's second step: check the TOTP token, then ``django_otp.login``."""
    import django_otp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if not request.user.is_authenticated:
        return HttpResponseForbidden("sign in first")
    device = TOTPDevice.objects.filter(user=request.user, confirmed=True).first()
    if device is None or not device.verify_token(request.POST.get("token", "")):
        return HttpResponseForbidden("wrong token")
    django_otp.login(request, device)
    return HttpResponse("verified")
