"""Errors as DRF-style JSON with stable codes: ``{"code": "...", "detail": "..."}``."""

from __future__ import annotations

from rest_framework.response import Response

from .. import flows
from ..exceptions import (
    Authy2FAError,
    CodeExpired,
    InvalidInput,
    InvalidPhoneNumber,
    InvalidTokenFormat,
    ProviderError,
    ProviderPhoneRejected,
    ProviderUnavailable,
    Throttled,
    UnsupportedChannel,
    http_status,
)

#: (exception class, stable code); the first match wins, so subclasses come first.
ERROR_CODES: list[tuple[type[Authy2FAError], str]] = [
    (flows.InvalidCode, "invalid_code"),
    (flows.LoginRestart, "expired"),
    (CodeExpired, "expired"),
    (flows.MethodNotAvailable, "method_not_enrolled"),
    (UnsupportedChannel, "method_not_enrolled"),
    (flows.PasswordRequired, "invalid_credentials"),
    (flows.StepUpRequired, "step_up_required"),
    (flows.RequiredByPolicy, "required_by_policy"),
    (InvalidTokenFormat, "invalid_format"),
    (InvalidPhoneNumber, "invalid_phone"),
    (ProviderPhoneRejected, "invalid_phone"),
    (InvalidInput, "invalid"),
    (Throttled, "throttled"),
    (ProviderUnavailable, "provider_unavailable"),
    (ProviderError, "provider_unavailable"),
]

STATUS_OVERRIDES = {
    "expired": 401,
    "invalid_phone": 400,
    "step_up_required": 403,
    "required_by_policy": 403,
}


def error_code(error: Authy2FAError) -> str:
    for cls, code in ERROR_CODES:
        if isinstance(error, cls):
            return code
    return "error"


def error_response(error: Authy2FAError) -> Response:
    code = error_code(error)
    body: dict = {"code": code, "detail": error.message}
    attempts_left = getattr(error, "attempts_left", None)
    if attempts_left is not None:
        body["attempts_left"] = attempts_left
    response = Response(body, status=STATUS_OVERRIDES.get(code, http_status(error)))
    retry_after = getattr(error, "retry_after", None)
    if code == "throttled" or retry_after:
        response["Retry-After"] = str(retry_after or 60)
    return response


def simple_error(code: str, detail: str, status: int) -> Response:
    return Response({"code": code, "detail": detail}, status=status)


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """Every error of the API as ``{"code": ..., "detail": ...}`` (DRF's own ones too)."""
    from rest_framework import exceptions as drf
    from rest_framework.views import exception_handler

    if isinstance(exc, Authy2FAError):
        return error_response(exc)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, drf.ValidationError):
        response.data = {
            "code": "invalid",
            "detail": str(drf.ValidationError.default_detail),  # DRF's, in its translations
            "fields": exc.detail,
        }
    elif isinstance(exc, drf.PermissionDenied) and "CSRF" in str(exc.detail):
        response.data = {"code": "csrf_failed", "detail": str(exc.detail)}
    elif isinstance(exc, drf.APIException):
        response.data = {
            "code": exc.get_codes() if isinstance(exc.get_codes(), str) else "error",
            "detail": str(exc.detail),
        }
    return response
