"""The demo page, as in the tutorial: register on the left, sign in on the right.

Registration is the only thing this site does itself; it calls the library's
flows exactly as the library's own enrollment pages do. Signing in, the second
step and the 2FA settings are the library's pages (``account/2fa/``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST

from django_authy2fa import flows
from django_authy2fa.audit import ClientInfo
from django_authy2fa.conf import app_settings
from django_authy2fa.exceptions import (
    Authy2FAConfigurationError,
    Authy2FAError,
    InvalidPhoneNumber,
    http_status,
)
from django_authy2fa.models import ChallengePurpose, Method
from django_authy2fa.phone import mask_e164
from django_authy2fa.providers import get_provider
from django_authy2fa.providers.console import ConsoleProvider, recent_messages

from .accounts import ACCOUNTS
from .forms import CodeForm, RegisterForm

#: The registration's enrollment attempt: its id and the secret only its holder knows.
ENROLL_SESSION_KEY = "demo_enrollment"
DEMO_PHONE_MESSAGES = 10


def demo_phone_enabled() -> bool:
    """The demo phone shows codes in the page: only in development, with the console provider."""
    if not settings.DEBUG:
        return False
    try:
        return issubclass(app_settings.provider_class, ConsoleProvider)
    except Authy2FAConfigurationError:
        return False


def demo_phone_messages() -> list[dict[str, str]]:
    local = timezone.get_current_timezone()
    return [
        {
            "id": message.id,
            "to": message.to,
            "channel": message.channel,
            "channel_label": "Voice call" if message.channel == Method.CALL else "Text message",
            "text": message.text,
            "code": message.code,
            "sent_at": message.sent_at.isoformat(),
            "time": message.sent_at.astimezone(local).strftime("%H:%M:%S"),
        }
        for message in recent_messages(DEMO_PHONE_MESSAGES)
    ]


@require_GET
@never_cache
def demo_phone(request: HttpRequest) -> JsonResponse:
    """The demo phone's messages as JSON, for the panel's script. 404 unless enabled."""
    if not demo_phone_enabled():
        raise Http404
    return JsonResponse({"messages": demo_phone_messages()})


def _enrollment(request: HttpRequest):
    """The registration waiting for its code in this session, or None."""
    held = request.session.get(ENROLL_SESSION_KEY)
    if not isinstance(held, dict):
        return None
    challenge = flows.find_challenge(held.get("id"), held.get("secret"), ChallengePurpose.ENROLL)
    if challenge is None:  # expired, used, or the account changed
        request.session.pop(ENROLL_SESSION_KEY, None)
    return challenge


_FROM_SESSION = object()


def _render_demo(
    request: HttpRequest, status: int = 200, *, enrollment: Any = _FROM_SESSION, **context: Any
) -> HttpResponse:
    """The demo page; ``enrollment`` is the phone confirmation to show (default: the session's)."""
    if enrollment is _FROM_SESSION:
        enrollment = _enrollment(request)
    provider = get_provider()
    page = {
        "register_form": RegisterForm(auto_id="register-%s"),
        "code_form": CodeForm(auto_id="confirm-%s"),
        "enrollment": enrollment,
        "enrollment_phone": mask_e164(enrollment.new_phone_number) if enrollment else "",
        "provider_name": provider.name,
        "console_provider": isinstance(provider, ConsoleProvider),
        "demo_phone": demo_phone_enabled(),
        "demo_accounts": ACCOUNTS,
        **context,
    }
    return render(request, "example_project/demo.html", page, status=status)


def _error_page(request: HttpRequest, error: Authy2FAError, **context: Any) -> HttpResponse:
    response = _render_demo(request, http_status(error), error=error.message, **context)
    return _with_retry_after(response, error)


def _with_retry_after(response: HttpResponse, error: Authy2FAError) -> HttpResponse:
    retry_after = getattr(error, "retry_after", None)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


@require_GET
@never_cache
def demo(request: HttpRequest) -> HttpResponse:
    return _render_demo(request)


@require_POST
@never_cache
@sensitive_post_parameters("password")
def register(request: HttpRequest) -> HttpResponse:
    """Create the account and send a code to its phone; nothing is kept if sending fails."""
    form = RegisterForm(request.POST, auto_id="register-%s")
    if not form.is_valid():
        return _invalid_registration(request, form)
    data = form.cleaned_data
    client = ClientInfo.from_request(request)
    try:
        with transaction.atomic():
            user = get_user_model().objects.create_user(
                data["username"], data["email"], data["password"]
            )
            challenge, secret, sent = flows.start_phone_enrollment(
                user, data["phone"].e164, Method.SMS, client
            )
    except InvalidPhoneNumber as err:
        form.add_error("phone", err.message)
        return _invalid_registration(request, form)
    except Authy2FAError as err:
        return _error_page(request, err, register_form=form, enrollment=None)
    request.session[ENROLL_SESSION_KEY] = {"id": str(challenge.pk), "secret": secret}
    messages.info(
        request,
        f"Account {user.get_username()} created. We sent a code to {sent.destination}: "
        "enter it to turn on two-step verification.",
    )
    return redirect("demo")


def _invalid_registration(request: HttpRequest, form: RegisterForm) -> HttpResponse:
    # Keyboard and screen-reader users land on the first field to fix.
    first = next((name for name in form.fields if name in form.errors), None)
    if first is not None:
        form.fields[first].widget.attrs["autofocus"] = True
    # Django 5.0+ marks fields with errors itself; 4.2 does not.
    for name in form.errors:
        if name in form.fields:
            form.fields[name].widget.attrs["aria-invalid"] = "true"
    return _render_demo(request, 400, register_form=form, enrollment=None)


@require_POST
@never_cache
@sensitive_post_parameters("code")
def confirm_phone(request: HttpRequest) -> HttpResponse:
    """Check the code; on success 2FA is on, the user is signed in and sees recovery codes once."""
    challenge = _enrollment(request)
    if challenge is None:
        return _render_demo(
            request, 400, error="No phone is waiting for a code here. Register first."
        )
    form = CodeForm(request.POST, auto_id="confirm-%s")
    if not form.is_valid():
        return _render_demo(request, 400, code_form=form, enrollment=challenge)
    user = challenge.user
    client = ClientInfo.from_request(request)
    try:
        codes = flows.confirm_phone(user, challenge, form.cleaned_data["code"], client)
    except flows.LoginRestart:
        request.session.pop(ENROLL_SESSION_KEY, None)
        return _render_demo(
            request,
            400,
            enrollment=None,
            error=(
                f"Too many wrong codes. The account {user.get_username()} exists without "
                "two-step verification: sign in and turn it on from its settings page."
            ),
        )
    except Authy2FAError as err:
        attempts_left = getattr(err, "attempts_left", None)
        suffix = f" Attempts left: {attempts_left}." if attempts_left else ""
        form.add_error("code", err.message + suffix)
        response = _render_demo(request, http_status(err), code_form=form, enrollment=challenge)
        return _with_retry_after(response, err)
    request.session.pop(ENROLL_SESSION_KEY, None)
    # The password was just chosen and the phone just proved in this session:
    # both factors, so this session is signed in and verified.
    login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
    flows.refresh_session_mark(request, user)
    messages.success(request, "Phone confirmed: two-step verification is on for this account.")
    # Shown in this response only (never cached): the codes are stored nowhere in clear.
    return _render_demo(request, recovery_codes=codes or [], enrollment=None)


@require_POST
@never_cache
def resend_code(request: HttpRequest) -> HttpResponse:
    """Send a new code to the phone being registered (cooldown and quotas apply)."""
    challenge = _enrollment(request)
    if challenge is None:
        return _render_demo(
            request, 400, error="No phone is waiting for a code here. Register first."
        )
    try:
        # The same attempt: a new code replaces the old one, failures still count.
        _challenge, _secret, sent = flows.start_phone_enrollment(
            challenge.user,
            challenge.new_phone_number,
            Method.SMS,
            ClientInfo.from_request(request),
            purpose_challenge=challenge,
        )
    except Authy2FAError as err:
        return _error_page(request, err, enrollment=challenge)
    messages.info(request, f"We sent a new code to {sent.destination}.")
    return redirect("demo")


@require_POST
def cancel_registration(request: HttpRequest) -> HttpResponse:
    """Forget the phone confirmation in progress (the account stays, without 2FA)."""
    request.session.pop(ENROLL_SESSION_KEY, None)
    return redirect("demo")


@login_required
@never_cache
def protected(request: HttpRequest) -> HttpResponse:
    """Reached only after both steps (or by users who need no second step)."""
    return render(request, "example_project/protected.html")
