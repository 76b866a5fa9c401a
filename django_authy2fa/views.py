"""Pages of the second step. Thin: parse input, call a flow, show the outcome."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from . import flows, recovery, totp
from .audit import ClientInfo
from .conf import app_settings
from .exceptions import (
    Authy2FAError,
    CodeExpired,
    InvalidInput,
    InvalidPhoneNumber,
    http_status,
)
from .forms import CodeForm, ConfirmForm, PhoneForm, SendForm, StepUpForm
from .models import (
    AuditEvent,
    ChallengePurpose,
    LoginChallenge,
    Method,
    TrustedBrowser,
    TwoFactorProfile,
)
from .providers import PushStatus, get_provider

ENROLL_SESSION_KEY = "_authy2fa_enroll"
STEP_UP_SESSION_KEY = "_authy2fa_step_up"  # the step-up being answered
STEP_UP_PROOF_KEY = "_authy2fa_step_up_proof"  # the step-up passed (see flows.step_up)

# sensitive_variables(): error reports show no local of these views' frames or
# of anything they call (codes, passwords, phone numbers, challenge secrets).
protected = [
    never_cache,
    sensitive_post_parameters("password", "code", "phone"),
    sensitive_variables(),
]
CALLBACK_MAX_BYTES = 64 * 1024  # Authy's callbacks are a few kilobytes


def _error_response(request: HttpRequest, template: str, context: dict, error: Authy2FAError):
    response = render(
        request, template, {**context, "error": error.message}, status=http_status(error)
    )
    retry_after = getattr(error, "retry_after", None)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


def _restart(request: HttpRequest, message: str | None = None) -> HttpResponse:
    flows.cancel_login(request)
    messages.error(request, message or _("Your sign-in expired. Please enter your password again."))
    return redirect("authy2fa:login")


# -- password step --------------------------------------------------------------------------


@method_decorator([*protected, csrf_protect], name="dispatch")
class LoginView(View):
    template_name = "django_authy2fa/login.html"
    form_class = AuthenticationForm

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request, self.form_class(request))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = self.form_class(request, data=request.POST)
        if not form.is_valid():
            throttled = getattr(request, "authy2fa_password_throttled", None)
            if throttled is not None:  # set by the backend, which counts every attempt
                response = self._render(request, form, status=429, error=throttled.message)
                response["Retry-After"] = str(throttled.retry_after or 60)
                return response
            return self._render(request, form, status=400)
        user = form.get_user()
        next_url = request.POST.get("next") or request.GET.get("next") or ""
        result = flows.begin_login(request, user, backend=user.backend, next_url=next_url)
        if result.logged_in:
            return HttpResponseRedirect(result.redirect_url)
        if result.pending.needs_enrollment:
            return redirect("authy2fa:enroll")
        return redirect("authy2fa:verify")

    def _render(
        self, request: HttpRequest, form: Any, status: int = 200, error: str = ""
    ) -> HttpResponse:
        next_url = request.POST.get("next") or request.GET.get("next") or ""
        context = {
            "form": form,
            "next": flows.safe_next_url(request, next_url) if next_url else "",
            "error": error,
        }
        return render(request, self.template_name, context, status=status)


# -- second step ----------------------------------------------------------------------------


class PendingView(View):
    """Base for pages that serve a login attempt waiting for its second step."""

    pending: flows.PendingLogin

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        pending = flows.get_pending(request)
        if pending is None:
            return _restart(request)
        self.pending = pending
        self.client = ClientInfo.from_request(request)
        return super().dispatch(request, *args, **kwargs)


@method_decorator(protected, name="dispatch")
class VerifyView(PendingView):
    template_name = "django_authy2fa/verify.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        if self.pending.needs_enrollment:
            return redirect("authy2fa:enroll")
        method = request.GET.get("method") or flows.default_method(self.pending)
        return render(request, self.template_name, self._context(method))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = CodeForm(request.POST)
        if not form.is_valid():
            error = InvalidInput(_("Enter the code."))
            return _error_response(request, self.template_name, self._context(""), error)
        method = form.cleaned_data["method"]
        try:
            flows.verify_code(self.pending, method, form.cleaned_data["code"], self.client)
        except flows.LoginRestart as err:
            return _restart(request, err.message)
        except CodeExpired as err:
            return _error_response(request, self.template_name, self._context(method), err)
        except Authy2FAError as err:
            return _error_response(request, self.template_name, self._context(method), err)
        completion = flows.complete_web_login(
            request, self.pending, trust_browser=form.cleaned_data["trust_browser"]
        )
        return _completed(request, completion)

    def _context(self, method: str) -> dict[str, Any]:
        pending = self.pending
        method = method if method in pending.methods else flows.default_method(pending)
        return {
            "pending": pending,
            "method": method,
            "methods": pending.methods,
            "method_labels": dict(Method.choices),
            "masked_phone": pending.masked_phone,
            "code_sent": bool(pending.challenge.code_sent_at),
            "cooldown": _cooldown_left(pending.profile),
            "push_started": bool(pending.challenge.push_reference),
            "trust_days": app_settings.TRUSTED_BROWSER_DAYS,
            "form": CodeForm(initial={"method": method}),
        }


def _cooldown_left(profile: TwoFactorProfile | None) -> int:
    if profile is None or profile.last_code_sent_at is None:
        return 0
    seconds = app_settings.THROTTLE["SEND_COOLDOWN_SECONDS"]
    ready = profile.last_code_sent_at + dt.timedelta(seconds=seconds)
    # Round up: a countdown that ends early re-enables the button too soon.
    return max(math.ceil((ready - timezone.now()).total_seconds()), 0)


def _completed(request: HttpRequest, completion: flows.Completion) -> HttpResponse:
    response = HttpResponseRedirect(completion.redirect_url)
    if completion.trust_token:
        response.set_cookie(
            flows.TRUST_COOKIE_NAME,
            completion.trust_token,
            max_age=app_settings.TRUSTED_BROWSER_DAYS * 86400,
            secure=request.is_secure(),
            httponly=True,
            samesite="Lax",
        )
    return response


@method_decorator(protected, name="dispatch")
class SendCodeView(PendingView):
    """POST only: sending costs money and reaches a phone, so never on a GET."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        form = SendForm(request.POST)
        channel = form.cleaned_data["channel"] if form.is_valid() else ""
        try:
            result = flows.send_code(self.pending, channel, self.client)
        except Authy2FAError as err:
            messages.error(request, err.message)
            return _verify_redirect(channel, status=http_status(err))
        if result.ignored:
            messages.info(request, _("Open the Authy app on your phone to find your code."))
        else:
            messages.success(
                request, _("We sent a code to %(phone)s.") % {"phone": result.destination}
            )
        return _verify_redirect(channel)


def _verify_redirect(method: str, status: int = 302) -> HttpResponse:
    url = reverse("authy2fa:verify")
    if method:
        url += f"?method={method}"
    response = HttpResponseRedirect(url)
    if status != 302:
        # Keep the redirect (the page shows the message) but let scripts see the cause.
        response["X-Authy2FA-Status"] = str(status)
    return response


@method_decorator(protected, name="dispatch")
class PushStartView(PendingView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            flows.start_push(self.pending, self.client)
        except Authy2FAError as err:
            messages.error(request, err.message)
        return _verify_redirect(Method.PUSH)


@method_decorator(protected, name="dispatch")
class PushStatusView(PendingView):
    """Polled by the waiting page; completes the login when the push was approved."""

    http_method_names = ["get"]

    def get(self, request: HttpRequest) -> HttpResponse:
        try:
            status = flows.push_outcome(self.pending, self.client)
        except flows.LoginRestart:
            return JsonResponse({"status": "restart", "redirect": reverse("authy2fa:login")})
        except Authy2FAError as err:
            return JsonResponse(
                {"status": "error", "message": err.message}, status=http_status(err)
            )
        body: dict[str, Any] = {"status": status.value}
        if status is PushStatus.APPROVED:
            completion = flows.complete_web_login(request, self.pending)
            body["redirect"] = completion.redirect_url
        return JsonResponse(body)


@method_decorator([never_cache, csrf_protect], name="dispatch")
class CancelView(View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        flows.cancel_login(request)
        return redirect("authy2fa:login")


@method_decorator([csrf_exempt, never_cache], name="dispatch")
class AuthyCallbackView(View):
    """OneTouch callback. Authy signs it; unsigned or altered calls change nothing."""

    http_method_names = ["get", "post"]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        client = getattr(get_provider(), "client", None)
        if client is None or not hasattr(client, "validate_callback_signature"):
            raise Http404
        params = self._params(request)
        valid = params is not None and client.validate_callback_signature(
            url=request.build_absolute_uri(request.path),
            method=request.method,
            params=params,
            nonce=request.headers.get("X-Authy-Signature-Nonce", ""),
            signature=request.headers.get("X-Authy-Signature", ""),
            max_age=300,
        )
        if not valid:
            return JsonResponse({"ok": False}, status=403)
        return JsonResponse({"ok": flows.apply_push_callback(*self._answer(params))})

    @staticmethod
    def _params(request: HttpRequest) -> Any:
        if request.method == "GET":
            return request.GET
        if len(request.body) > CALLBACK_MAX_BYTES:
            return None
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, RecursionError):
            return None
        return body if isinstance(body, dict) else None

    @staticmethod
    def _answer(params: Any) -> tuple[str, PushStatus]:
        uuid = params.get("uuid", "")
        try:
            status = PushStatus(params.get("status", ""))
        except ValueError:
            status = PushStatus.PENDING
        return (uuid if isinstance(uuid, str) else ""), status


@method_decorator([csrf_exempt, never_cache], name="dispatch")
class VerifyCallbackView(View):
    """Twilio Verify status callbacks: accepted only with a valid ``X-Twilio-Signature``.

    Nothing in a login depends on them (the check answers are authoritative);
    a valid one is acknowledged, anything else is refused without effect.
    """

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        validate = getattr(get_provider(), "validate_webhook", None)
        if validate is None:
            raise Http404
        if len(request.body) > CALLBACK_MAX_BYTES:
            return JsonResponse({"ok": False}, status=403)
        is_json = request.content_type == "application/json"
        params = request.body.decode("utf-8", "replace") if is_json else request.POST
        signature = request.headers.get("X-Twilio-Signature", "")
        if not validate(request.build_absolute_uri(), params, signature):
            return JsonResponse({"ok": False}, status=403)
        return JsonResponse({"ok": True})


# -- enrollment and management ------------------------------------------------------------


def _enrolling(request: HttpRequest) -> tuple[Any, flows.PendingLogin | None] | None:
    """Who is enrolling: a signed-in user, or a login attempt that must enroll first."""
    if request.user.is_authenticated:
        return request.user, None
    pending = flows.get_pending(request)
    if pending is not None and pending.needs_enrollment:
        return pending.user, pending
    return None


def _step_up_proof(request: HttpRequest) -> LoginChallenge | None:
    """The step-up this session passed, if it is still good; flows decide what it allows."""
    held = request.session.get(STEP_UP_PROOF_KEY)
    if not isinstance(held, dict) or not request.user.is_authenticated:
        return None
    challenge = flows.find_challenge(
        held.get("id"), held.get("secret"), ChallengePurpose.STEP_UP, passed=True
    )
    return challenge if challenge is not None and challenge.user_id == request.user.pk else None


def _to_step_up(next_url: str) -> HttpResponse:
    return redirect(f"{reverse('authy2fa:step_up')}?next={next_url}")


class _EnrollingView(View):
    """Base for enrollment pages: a signed-in user, or an attempt that must enroll first.

    Adding or changing a factor on an account that has one already binds a new
    authenticator, so it needs a fresh step-up.
    """

    requires_step_up = True

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        who = _enrolling(request)
        if who is None:
            if flows.get_pending(request) is not None:
                # An attempt that needs no enrollment: back to its second step, untouched.
                return redirect("authy2fa:verify")
            return _restart(request)
        self.user, self.pending = who
        self.step_up = _step_up_proof(request)
        if self.requires_step_up:
            try:
                flows.require_step_up(self.user, self.step_up)
            except flows.StepUpRequired:
                return _to_step_up(request.path)
        return super().dispatch(request, *args, **kwargs)

    def _finish(self, request: HttpRequest, codes: list[str] | None, message: str) -> HttpResponse:
        request.session.pop(STEP_UP_PROOF_KEY, None)
        if self.pending is not None:
            next_url = flows.complete_web_login(request, self.pending).redirect_url
        else:
            flows.refresh_session_mark(request)
            next_url = reverse("authy2fa:manage")
        if codes:
            return _show_recovery_codes(request, codes, next_url)
        messages.success(request, message)
        return HttpResponseRedirect(next_url)


@method_decorator(protected, name="dispatch")
class EnrollView(_EnrollingView):
    """Register a phone: a code to it proves possession before it counts."""

    template_name = "django_authy2fa/enroll.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, self.template_name, {"form": PhoneForm(), "pending": self.pending})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = PhoneForm(request.POST)
        if not form.is_valid():
            return render(request, self.template_name, {"form": form}, status=400)
        try:
            challenge, secret, result = flows.start_phone_enrollment(
                self.user,
                form.cleaned_data["phone"],
                form.cleaned_data["channel"],
                ClientInfo.from_request(request),
                purpose_challenge=self.pending.challenge if self.pending else None,
                step_up=self.step_up,
            )
        except flows.StepUpRequired:
            return _to_step_up(request.path)
        except InvalidPhoneNumber as err:
            form.add_error("phone", err.message)
            return render(request, self.template_name, {"form": form}, status=400)
        except Authy2FAError as err:
            return _error_response(request, self.template_name, {"form": form}, err)
        if secret is not None:
            request.session[ENROLL_SESSION_KEY] = {"id": str(challenge.pk), "secret": secret}
        messages.success(request, _("We sent a code to %(phone)s.") % {"phone": result.destination})
        return redirect("authy2fa:enroll_confirm")


@method_decorator(protected, name="dispatch")
class EnrollAppView(_EnrollingView):
    """Set up an authenticator app: a QR code rendered here, then one code to confirm it."""

    template_name = "django_authy2fa/enroll_app.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        try:
            enrollment = flows.start_app_enrollment(self.user, step_up=self.step_up)
        except flows.StepUpRequired:
            return _to_step_up(request.path)
        except totp.AlreadyConfirmed:
            messages.info(request, _("Your authenticator app is already set up."))
            return redirect("authy2fa:manage")
        return self._render(request, enrollment)

    def post(self, request: HttpRequest) -> HttpResponse:
        client = ClientInfo.from_request(request)
        try:
            codes = flows.confirm_app(
                self.user, request.POST.get("code"), client, step_up=self.step_up
            )
        except (totp.NoEnrollment, totp.AlreadyConfirmed):
            return redirect("authy2fa:enroll_app")
        except flows.StepUpRequired:
            return _to_step_up(request.path)
        except Authy2FAError as err:
            enrollment = totp.pending_enrollment(self.user)
            if enrollment is None:
                return redirect("authy2fa:enroll_app")
            return self._render(request, enrollment, error=err)
        if self.pending is not None:
            flows.finish_enrollment_login(self.pending)
        return self._finish(request, codes, _("Your authenticator app is set up."))

    def _render(self, request: HttpRequest, enrollment, error: Authy2FAError | None = None):
        context = {
            # segno's SVG, made here from our own provisioning URI: safe markup.
            "qr_svg": mark_safe(enrollment.qr_svg),  # noqa: S308
            "manual_key": enrollment.manual_key,
            "pending": self.pending,
            "error": "",
        }
        if error is None:
            return render(request, self.template_name, context)
        return _error_response(request, self.template_name, context, error)


@method_decorator([*protected, login_required], name="dispatch")
class DefaultMethodView(View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            flows.set_default_method(request.user, request.POST.get("method", ""))
            messages.success(request, _("Your default method was changed."))
        except Authy2FAError as err:
            messages.error(request, err.message)
        return redirect("authy2fa:manage")


@method_decorator(protected, name="dispatch")
class EnrollConfirmView(_EnrollingView):
    template_name = "django_authy2fa/enroll_confirm.html"
    # Checked by flows.confirm_phone, so that a step-up that ran out meanwhile
    # sends the user to renew it instead of back to the phone form.
    requires_step_up = False

    def get(self, request: HttpRequest) -> HttpResponse:
        if self._challenge(request) is None:
            messages.error(request, _("Enter your phone number again."))
            return redirect("authy2fa:enroll")
        return render(request, self.template_name, {"form": ConfirmForm()})

    def _challenge(self, request: HttpRequest):
        if self.pending is not None:
            return self.pending.challenge if self.pending.challenge.new_phone_number else None
        held = request.session.get(ENROLL_SESSION_KEY) or {}
        challenge = flows.find_challenge(
            held.get("id"), held.get("secret"), ChallengePurpose.ENROLL
        )
        return challenge if challenge and challenge.user_id == self.user.pk else None

    def post(self, request: HttpRequest) -> HttpResponse:
        challenge = self._challenge(request)
        if challenge is None:
            messages.error(request, _("Enter your phone number again."))
            return redirect("authy2fa:enroll")
        client = ClientInfo.from_request(request)
        try:
            codes = flows.confirm_phone(
                self.user, challenge, request.POST.get("code"), client, step_up=self.step_up
            )
        except flows.StepUpRequired:
            return _to_step_up(reverse("authy2fa:enroll"))
        except flows.LoginRestart as err:
            return _restart(request, err.message)
        except Authy2FAError as err:
            return _error_response(request, self.template_name, {"form": ConfirmForm()}, err)
        request.session.pop(ENROLL_SESSION_KEY, None)
        return self._finish(request, codes, _("Your phone number was changed."))


def _show_recovery_codes(request: HttpRequest, codes: list[str], next_url: str) -> HttpResponse:
    # Shown in this response only; never stored anywhere in clear.
    response = render(
        request, "django_authy2fa/recovery_codes.html", {"codes": codes, "next_url": next_url}
    )
    return response


@method_decorator([*protected, login_required], name="dispatch")
class ManageView(View):
    template_name = "django_authy2fa/manage.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        profile = TwoFactorProfile.objects.filter(user=user).first()
        context = {
            "profile": profile,
            "methods": flows.available_methods(user, profile),
            "method_labels": dict(Method.choices),
            "app_enabled": totp.has_confirmed_device(user),
            "enabled": bool(profile and profile.is_enabled),
            "required": flows.policy_requires(user),
            "recovery_left": recovery.remaining(user),
            "browsers": [
                b
                for b in TrustedBrowser.objects.filter(user=user).order_by("-created_at")[:20]
                if b.is_active()
            ],
            "events": AuditEvent.objects.filter(user=user)[:20],
        }
        return render(request, self.template_name, context)


@method_decorator([*protected, login_required], name="dispatch")
class RegenerateRecoveryCodesView(View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        client = ClientInfo.from_request(request)
        try:
            codes = flows.regenerate_recovery_codes(
                request.user, client, step_up=_step_up_proof(request)
            )
        except flows.MethodNotAvailable:
            return redirect("authy2fa:manage")
        except flows.StepUpRequired:
            # New codes void the old ones: prove the password and a factor first.
            return _to_step_up(reverse("authy2fa:manage"))
        request.session.pop(STEP_UP_PROOF_KEY, None)
        return _show_recovery_codes(request, codes, reverse("authy2fa:manage"))


@method_decorator([*protected, login_required], name="dispatch")
class RevokeBrowserView(View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, browser_id: int) -> HttpResponse:
        if flows.revoke_trusted_browser(request.user, browser_id, ClientInfo.from_request(request)):
            messages.success(request, _("That browser is no longer trusted."))
        return redirect("authy2fa:manage")


@method_decorator([*protected, login_required], name="dispatch")
class StepUpView(View):
    """Password and a current second factor, before changing the phone or disabling 2FA."""

    template_name = "django_authy2fa/step_up.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.client = ClientInfo.from_request(request)
        self.pending = self._pending(request)
        if self.pending is None or not self.pending.methods:
            return redirect("authy2fa:manage")
        return super().dispatch(request, *args, **kwargs)

    def _pending(self, request: HttpRequest) -> flows.PendingLogin | None:
        held = request.session.get(STEP_UP_SESSION_KEY) or {}
        challenge = flows.find_challenge(
            held.get("id"), held.get("secret"), ChallengePurpose.STEP_UP
        )
        if challenge is None:
            challenge, secret = flows.create_challenge(
                request.user, purpose=ChallengePurpose.STEP_UP, client=self.client
            )
            request.session[STEP_UP_SESSION_KEY] = {"id": str(challenge.pk), "secret": secret}
        return flows.pending_for(challenge)

    def _context(self, form: Any) -> dict[str, Any]:
        return {
            "form": form,
            "pending": self.pending,
            "methods": self.pending.methods,
            "method_labels": dict(Method.choices),
            "next": self._next(),
        }

    def _next(self) -> str:
        allowed = {
            reverse("authy2fa:enroll"),
            reverse("authy2fa:enroll_app"),
            reverse("authy2fa:disable"),
            reverse("authy2fa:manage"),
        }
        candidate = self.request.GET.get("next") or self.request.POST.get("next")
        return candidate if candidate in allowed else reverse("authy2fa:manage")

    def get(self, request: HttpRequest) -> HttpResponse:
        form = StepUpForm(initial={"method": flows.default_method(self.pending)})
        return render(request, self.template_name, self._context(form))

    def post(self, request: HttpRequest) -> HttpResponse:
        if "send" in request.POST:
            return self._send(request)
        form = StepUpForm(request.POST)
        if not form.is_valid():
            return render(request, self.template_name, self._context(form), status=400)
        data = form.cleaned_data
        try:
            flows.step_up(
                request.user,
                data["password"],
                data["method"],
                data["code"],
                self.client,
                self.pending.challenge,
            )
        except flows.LoginRestart as err:
            request.session.pop(STEP_UP_SESSION_KEY, None)
            messages.error(request, err.message)
            return redirect("authy2fa:manage")
        except Authy2FAError as err:
            return _error_response(request, self.template_name, self._context(form), err)
        # The answered step-up is now the proof the sensitive pages ask flows about.
        request.session[STEP_UP_PROOF_KEY] = request.session.pop(STEP_UP_SESSION_KEY)
        return HttpResponseRedirect(self._next())

    def _send(self, request: HttpRequest) -> HttpResponse:
        channel = request.POST.get("send", "")
        try:
            result = flows.send_code(self.pending, channel, self.client)
            messages.success(
                request, _("We sent a code to %(phone)s.") % {"phone": result.destination}
            )
        except Authy2FAError as err:
            messages.error(request, err.message)
        return HttpResponseRedirect(f"{reverse('authy2fa:step_up')}?next={self._next()}")


@method_decorator([*protected, login_required], name="dispatch")
class DisableView(View):
    template_name = "django_authy2fa/disable.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            flows.ensure_can_turn_off(request.user)
        except flows.RequiredByPolicy as err:
            messages.error(request, err.message)
            return redirect("authy2fa:manage")
        if not flows.has_step_up(request.user, _step_up_proof(request)):
            return _to_step_up(reverse("authy2fa:disable"))
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, self.template_name)

    def post(self, request: HttpRequest) -> HttpResponse:
        client = ClientInfo.from_request(request)
        try:
            flows.turn_off(request.user, client, step_up=_step_up_proof(request))
        except flows.StepUpRequired:
            return _to_step_up(reverse("authy2fa:disable"))
        request.session.pop(STEP_UP_PROOF_KEY, None)
        flows.refresh_session_mark(request)
        messages.success(request, _("Two-factor authentication is off."))
        return redirect("authy2fa:manage")
