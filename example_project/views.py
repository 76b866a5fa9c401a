"""The demo page: register on the left, sign in on the right (as in the tutorial)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from django_authy2fa.exceptions import Authy2FAError
from django_authy2fa.models import TwoFactorProfile
from django_authy2fa.providers import Channel, get_provider

from .forms import CodeForm, RegisterForm

CONFIRM_SESSION_KEY = "demo_phone_confirmation"


@require_GET
def demo(request: HttpRequest) -> HttpResponse:
    context = {
        "register_form": RegisterForm(),
        "code_form": CodeForm(),
        "confirming": CONFIRM_SESSION_KEY in request.session,
        "provider_name": get_provider().name,
    }
    return render(request, "example_project/demo.html", context)


@require_POST
def register(request: HttpRequest) -> HttpResponse:
    form = RegisterForm(request.POST)
    if not form.is_valid():
        context = {
            "register_form": form,
            "code_form": CodeForm(),
            "provider_name": get_provider().name,
        }
        return render(request, "example_project/demo.html", context, status=400)
    provider = get_provider()
    data = form.cleaned_data
    try:
        with transaction.atomic():
            user = get_user_model().objects.create_user(
                data["username"], data["email"], data["password"]
            )
            profile = TwoFactorProfile.objects.create(user=user, phone_number=data["phone"].e164)
            profile.authy_id = provider.enroll(profile.as_recipient())
            profile.save(update_fields=["authy_id"])
        sent = provider.send_code(profile.as_recipient(), Channel.SMS)
    except Authy2FAError as err:
        messages.error(request, err.message)
        return redirect("demo")
    request.session[CONFIRM_SESSION_KEY] = {"profile": profile.pk, "reference": sent.reference}
    messages.info(request, f"We sent a code to {sent.destination}. Enter it to confirm your phone.")
    return redirect("demo")


@require_POST
def confirm_phone(request: HttpRequest) -> HttpResponse:
    pending = request.session.get(CONFIRM_SESSION_KEY)
    form = CodeForm(request.POST)
    if not pending or not form.is_valid():
        messages.error(request, "Enter the 6-digit code.")
        return redirect("demo")
    profile = TwoFactorProfile.objects.select_related("user").get(pk=pending["profile"])
    try:
        ok = get_provider().check_code(
            profile.as_recipient(), form.cleaned_data["code"], reference=pending["reference"]
        )
    except Authy2FAError as err:
        messages.error(request, err.message)
        return redirect("demo")
    if not ok:
        messages.error(request, "That code is not right. Try again.")
        return redirect("demo")
    now = timezone.now()
    TwoFactorProfile.objects.filter(pk=profile.pk).update(
        phone_confirmed_at=now, enabled_at=now, default_method="sms"
    )
    del request.session[CONFIRM_SESSION_KEY]
    messages.success(request, "Phone confirmed. Two-factor authentication is on for this account.")
    return redirect("demo")
