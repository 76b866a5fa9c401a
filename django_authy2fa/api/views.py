"""API views: parse with a serializer, call one flow, answer JSON. No rule lives here."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate, logout
from django.utils.cache import add_never_cache_headers
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import flows, recovery, tokens, totp
from ..audit import ClientInfo, record
from ..models import (
    APIToken,
    AuditEvent,
    ChallengePurpose,
    EventType,
    TrustedBrowser,
    TwoFactorProfile,
)
from ..providers import PushStatus
from . import serializers as s
from .authentication import TwoFactorTokenAuthentication
from .errors import api_exception_handler, simple_error
from .parsers import SafeJSONParser
from .permissions import IsTwoFactorVerified

try:
    from drf_spectacular.utils import OpenApiResponse, extend_schema
except ImportError:  # pragma: no cover - drf-spectacular is optional

    def extend_schema(*args: Any, **kwargs: Any):
        return lambda view: view

    def OpenApiResponse(*args: Any, **kwargs: Any) -> None:
        return None


ERRORS = {
    400: OpenApiResponse(s.ErrorSerializer, description="invalid_code, invalid_format, ..."),
    401: OpenApiResponse(s.ErrorSerializer, description="expired: start the login again"),
    429: OpenApiResponse(s.ErrorSerializer, description="throttled (see Retry-After)"),
    503: OpenApiResponse(s.ErrorSerializer, description="provider_unavailable"),
}
# Error reports show neither these fields nor any local of the views' frames
# and of what they call (validated data, codes, phone numbers, tokens).
secret_fields = method_decorator(
    [
        sensitive_post_parameters(
            "password", "code", "phone", "challenge", "enrollment", "step_up"
        ),
        sensitive_variables(),
    ],
    name="dispatch",
)


class _CsrfSession(SessionAuthentication):
    """Runs DRF's CSRF check for session-mode calls, even while the user is anonymous."""

    def check(self, request: Request) -> None:
        self.enforce_csrf(request)


class _NoStore:
    """Answers carry challenges, tokens and recovery codes: never cache them."""

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any):
        response = super().finalize_response(request, response, *args, **kwargs)
        add_never_cache_headers(response)
        return response


class _SafeParsing:
    parser_classes = [SafeJSONParser, FormParser, MultiPartParser]


@secret_fields
class PreAuthView(_SafeParsing, _NoStore, APIView):
    """Base of the endpoints used before a login completes.

    A token-mode client names its attempt with ``challenge``. In session mode
    the attempt lives in the session instead, and then the CSRF check runs
    although the user is still anonymous (DRF skips it for anonymous users).
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    purpose = ChallengePurpose.LOGIN

    def pending(self, request: Request, token: str | None) -> flows.PendingLogin:
        if token:
            pending = flows.find_api_pending(token, self.purpose)
        else:
            _CsrfSession().check(request)
            pending = flows.get_pending(request._request)
        if pending is None:
            raise flows.LoginRestart()
        return pending

    def get_exception_handler(self):
        return api_exception_handler


def _client(request: Request) -> ClientInfo:
    return ClientInfo.from_request(request._request)


def _token_body(token: APIToken, key: str) -> dict[str, Any]:
    return {"status": "ok", "token": key, "expires_at": token.expires_at}


def _second_step_body(pending: flows.PendingLogin, challenge: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "enrollment_required" if pending.needs_enrollment else "2fa_required",
        "methods": pending.methods,
        "phone": pending.masked_phone,
    }
    if challenge:
        body["challenge"] = challenge
    return body


class LoginView(PreAuthView):
    """Password step. Identical answers for unknown users, wrong passwords and inactive users."""

    @extend_schema(
        request=s.LoginSerializer,
        responses={
            200: s.TokenSerializer,
            202: s.SecondStepRequiredSerializer,
            400: ERRORS[400],
            429: ERRORS[429],
        },
    )
    def post(self, request: Request) -> Response:
        data = _valid(s.LoginSerializer, request)
        client = _client(request)
        if data["session"]:
            _CsrfSession().check(request)
        user = authenticate(request._request, username=data["username"], password=data["password"])
        throttled = getattr(request._request, "authy2fa_password_throttled", None)
        if throttled is not None:  # the backend counts every password attempt
            raise throttled
        if user is None:
            return simple_error(
                "invalid_credentials", "Wrong username or password.", status.HTTP_400_BAD_REQUEST
            )
        if data["session"]:
            return self._session_login(request, user)
        started = flows.begin_api_login(user, client, backend=user.backend)
        if started is None:
            token = flows.issue_api_token(user, client, second_step_passed=False)
            return Response(_token_body(*token))
        pending, challenge = started
        return Response(_second_step_body(pending, challenge), status=status.HTTP_202_ACCEPTED)

    @staticmethod
    def _session_login(request: Request, user: Any) -> Response:
        result = flows.begin_login(request._request, user, backend=user.backend)
        if result.logged_in:
            return Response({"status": "ok"})
        return Response(_second_step_body(result.pending, None), status=status.HTTP_202_ACCEPTED)


class SendView(PreAuthView):
    @extend_schema(request=s.SendSerializer, responses={202: s.SentSerializer, **ERRORS})
    def post(self, request: Request) -> Response:
        data = _valid(s.SendSerializer, request)
        pending = self.pending(request, data.get("challenge"))
        result = flows.send_code(pending, data["channel"], _client(request))
        body = {
            "sent": result.sent,
            "channel": result.channel.value,
            "destination": result.destination,
        }
        return Response(body, status=status.HTTP_202_ACCEPTED)


class PushView(PreAuthView):
    @extend_schema(request=s.ChallengeSerializer, responses={202: s.PushSerializer, **ERRORS})
    def post(self, request: Request) -> Response:
        data = _valid(s.ChallengeSerializer, request)
        pending = self.pending(request, data.get("challenge"))
        flows.start_push(pending, _client(request))
        return Response({"status": PushStatus.PENDING.value}, status=status.HTTP_202_ACCEPTED)


class PushStatusView(PreAuthView):
    """Poll a push (POST, so the challenge stays out of URLs and logs)."""

    @extend_schema(request=s.ChallengeSerializer, responses={200: s.PushSerializer, **ERRORS})
    def post(self, request: Request) -> Response:
        data = _valid(s.ChallengeSerializer, request)
        token = data.get("challenge")
        pending = self.pending(request, token)
        push = flows.push_outcome(pending, _client(request))
        if push is not PushStatus.APPROVED:
            return Response({"status": push.value})
        return Response({**_complete(request, pending, token), "status": push.value})


class VerifyView(PreAuthView):
    @extend_schema(request=s.VerifySerializer, responses={200: s.TokenSerializer, **ERRORS})
    def post(self, request: Request) -> Response:
        data = _valid(s.VerifySerializer, request)
        token = data.get("challenge")
        pending = self.pending(request, token)
        flows.verify_code(pending, data["method"], data["code"], _client(request))
        return Response(_complete(request, pending, token))


def _complete(request: Request, pending: flows.PendingLogin, token: str | None) -> dict[str, Any]:
    """After the second step: a token for token-mode clients, a session otherwise."""
    if token:
        token = flows.issue_api_token(pending.user, _client(request), second_step_passed=True)
        return _token_body(*token)
    flows.complete_web_login(request._request, pending)
    return {"status": "ok"}


def _valid(serializer_class: type, request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# -- signed-in endpoints ------------------------------------------------------------------


@secret_fields
class VerifiedView(_SafeParsing, _NoStore, APIView):
    authentication_classes = [TwoFactorTokenAuthentication, SessionAuthentication]
    permission_classes = [IsTwoFactorVerified]

    def get_exception_handler(self):
        return api_exception_handler


class EnrollView(PreAuthView):
    """Register a phone: a signed-in user, or a login attempt that must enroll first."""

    @extend_schema(
        request=s.EnrollSerializer, responses={202: s.EnrollmentStartedSerializer, **ERRORS}
    )
    def post(self, request: Request) -> Response:
        data = _valid(s.EnrollSerializer, request)
        user, pending = _enrolling_user(request, data.get("challenge"))
        challenge, secret, result = flows.start_phone_enrollment(
            user,
            data["phone"],
            data["channel"],
            _client(request),
            purpose_challenge=pending.challenge if pending else None,
        )
        body = {"destination": result.destination}
        if secret is not None:
            body["enrollment"] = flows.challenge_token(challenge, secret)
        return Response(body, status=status.HTTP_202_ACCEPTED)


class EnrollConfirmView(PreAuthView):
    @extend_schema(
        request=s.ConfirmSerializer, responses={200: s.RecoveryCodesSerializer, **ERRORS}
    )
    def post(self, request: Request) -> Response:
        data = _valid(s.ConfirmSerializer, request)
        client = _client(request)
        user, pending = _enrolling_user(request, data.get("challenge"))
        if pending is not None:
            challenge = pending.challenge
        else:
            enrolling = flows.find_api_pending(data.get("enrollment"), ChallengePurpose.ENROLL)
            if enrolling is None or enrolling.user.pk != user.pk:
                raise flows.LoginRestart()
            challenge = enrolling.challenge
        codes = flows.confirm_phone(user, challenge, data["code"], client)
        body: dict[str, Any] = {"recovery_codes": codes} if codes else {}
        if pending is not None:  # forced enrollment completes the login
            body.update(_token_body(*flows.issue_api_token(user, client, second_step_passed=True)))
        return Response(body)


class EnrollAppView(PreAuthView):
    """Start an authenticator app: the provisioning URI, the key and an SVG QR code."""

    @extend_schema(
        request=s.ChallengeSerializer, responses={201: s.AppEnrollmentSerializer, **ERRORS}
    )
    def post(self, request: Request) -> Response:
        data = _valid(s.ChallengeSerializer, request)
        user, _pending = _enrolling_user(request, data.get("challenge"))
        try:
            enrollment = flows.start_app_enrollment(user)
        except totp.AlreadyConfirmed as err:
            raise PermissionDenied(_("An authenticator app is already set up.")) from err
        body = {
            "provisioning_uri": enrollment.provisioning_uri,
            "manual_key": enrollment.manual_key,
            "qr_svg": enrollment.qr_svg,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class EnrollAppConfirmView(PreAuthView):
    @extend_schema(
        request=s.AppConfirmSerializer, responses={200: s.RecoveryCodesSerializer, **ERRORS}
    )
    def post(self, request: Request) -> Response:
        data = _valid(s.AppConfirmSerializer, request)
        client = _client(request)
        user, pending = _enrolling_user(request, data.get("challenge"))
        codes = flows.confirm_app(user, data["code"], client)
        body: dict[str, Any] = {"recovery_codes": codes} if codes else {}
        if pending is not None:  # forced enrollment completes the login
            finished = flows.finish_enrollment_login(pending)
            body.update(
                _token_body(*flows.issue_api_token(finished, client, second_step_passed=True))
            )
        return Response(body)


def _enrolling_user(request: Request, token: str | None):
    """(user, pending): a verified API user, or an attempt that must enroll (with ``challenge``)."""
    if token:
        pending = flows.find_api_pending(token)
        if pending is None or not pending.needs_enrollment:
            raise flows.LoginRestart()
        return pending.user, pending
    user, _auth = _authenticated(request)
    # flows refuse a user who has 2FA on already (no step-up proof is sent here).
    return user, None


def _authenticated(request: Request) -> tuple[Any, Any]:
    for authenticator in (TwoFactorTokenAuthentication(), SessionAuthentication()):
        result = authenticator.authenticate(request)
        if result is not None:
            request.user, request.auth = result
            if IsTwoFactorVerified().has_permission(request, None):
                return result
    raise PermissionDenied(_("Sign in first."))


def _prove_step_up(request: Request, data: dict[str, Any]) -> tuple[ClientInfo, Any]:
    """Password and a current second factor, against a step-up this user started.

    Returns the passed step-up: the proof the sensitive flow then uses up.
    """
    pending = flows.find_api_pending(data["step_up"], ChallengePurpose.STEP_UP)
    if pending is None or pending.user.pk != request.user.pk:
        raise flows.LoginRestart()
    client = _client(request)
    flows.step_up(
        request.user, data["password"], data["method"], data["code"], client, pending.challenge
    )
    return client, pending.challenge


class RecoveryCodesView(VerifiedView):
    """New recovery codes void the old set, so they need a step-up too."""

    @extend_schema(
        request=s.StepUpProofSerializer, responses={200: s.RecoveryCodesSerializer, **ERRORS}
    )
    def post(self, request: Request) -> Response:
        data = _valid(s.StepUpProofSerializer, request)
        flows.ensure_can_regenerate(request.user)  # before the proof spends a code
        client, proof = _prove_step_up(request, data)
        codes = flows.regenerate_recovery_codes(request.user, client, step_up=proof)
        return Response({"recovery_codes": codes})


class StepUpView(VerifiedView):
    """Start a step-up (password + current factor) for a sensitive change; may send a code."""

    @extend_schema(request=s.StepUpSerializer, responses={201: s.StepUpStartedSerializer, **ERRORS})
    def post(self, request: Request) -> Response:
        data = _valid(s.StepUpSerializer, request)
        client = _client(request)
        challenge, secret = flows.create_challenge(
            request.user, purpose=ChallengePurpose.STEP_UP, client=client
        )
        pending = flows.pending_for(challenge)
        if data.get("channel"):
            flows.send_code(pending, data["channel"], client)
        body = {"step_up": flows.challenge_token(challenge, secret), "methods": pending.methods}
        return Response(body, status=status.HTTP_201_CREATED)


class DisableView(VerifiedView):
    @extend_schema(request=s.StepUpProofSerializer, responses={204: None, **ERRORS})
    def post(self, request: Request) -> Response:
        data = _valid(s.StepUpProofSerializer, request)
        flows.ensure_can_turn_off(request.user)  # before the proof spends a code
        client, proof = _prove_step_up(request, data)
        flows.turn_off(request.user, client, step_up=proof)
        return Response(status=status.HTTP_204_NO_CONTENT)


class StatusView(VerifiedView):
    @extend_schema(responses={200: s.StatusSerializer})
    def get(self, request: Request) -> Response:
        user = request.user
        profile = TwoFactorProfile.objects.filter(user=user).first()
        browsers = [
            b
            for b in TrustedBrowser.objects.filter(user=user).order_by("-created_at")[:20]
            if b.is_active()
        ]
        body = {
            "enabled": bool(profile and profile.is_enabled),
            "required": flows.policy_requires(user),
            "phone": profile.masked_phone if profile else "",
            "methods": flows.available_methods(user, profile),
            "recovery_codes_left": recovery.remaining(user),
            "trusted_browsers": browsers,
            "events": AuditEvent.objects.filter(user=user)[:20],
        }
        return Response(s.StatusSerializer(body).data)


class LogoutView(VerifiedView):
    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        if isinstance(request.auth, APIToken):
            tokens.revoke(request.auth)
            record(EventType.API_TOKEN_REVOKED, user=request.user, client=_client(request))
        else:
            logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)
