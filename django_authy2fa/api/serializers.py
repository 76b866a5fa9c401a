"""Input and output shapes of the API. Parsing only: the rules live in ``flows``."""

from __future__ import annotations

from rest_framework import serializers

from ..models import Method

CHALLENGE_HELP = "The opaque challenge from the login answer. Omit it in session mode."
CHANNELS = [(Method.SMS, "Text message"), (Method.CALL, "Voice call")]


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=254, trim_whitespace=False)
    password = serializers.CharField(
        max_length=4096, trim_whitespace=False, style={"input_type": "password"}
    )
    session = serializers.BooleanField(
        default=False,
        help_text="Log this browser in with a session cookie instead of issuing a token "
        "(same-site frontends; CSRF is enforced).",
    )


class ChallengeSerializer(serializers.Serializer):
    challenge = serializers.CharField(max_length=200, required=False, help_text=CHALLENGE_HELP)


class SendSerializer(ChallengeSerializer):
    channel = serializers.ChoiceField(choices=CHANNELS)


class VerifySerializer(ChallengeSerializer):
    method = serializers.ChoiceField(choices=Method.choices)
    code = serializers.CharField(max_length=64, trim_whitespace=True)


class EnrollSerializer(ChallengeSerializer):
    phone = serializers.CharField(max_length=32)
    channel = serializers.ChoiceField(choices=CHANNELS, default=Method.SMS)


class ConfirmSerializer(serializers.Serializer):
    enrollment = serializers.CharField(
        max_length=200, required=False, help_text="The enrollment token from the enroll answer."
    )
    challenge = serializers.CharField(max_length=200, required=False, help_text=CHALLENGE_HELP)
    code = serializers.CharField(max_length=64)


class AppConfirmSerializer(ChallengeSerializer):
    code = serializers.CharField(max_length=64)


class StepUpSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(
        choices=CHANNELS, required=False, help_text="Also send a code to the current phone."
    )


class StepUpProofSerializer(serializers.Serializer):
    step_up = serializers.CharField(max_length=200, help_text="The token from the step-up answer.")
    password = serializers.CharField(max_length=4096, trim_whitespace=False)
    method = serializers.ChoiceField(choices=Method.choices)
    code = serializers.CharField(max_length=64)


# -- answers ----------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable error code, e.g. invalid_code, throttled.")
    detail = serializers.CharField()
    attempts_left = serializers.IntegerField(required=False)


class SecondStepRequiredSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["2fa_required", "enrollment_required"])
    challenge = serializers.CharField(required=False)
    methods = serializers.ListField(child=serializers.CharField())
    phone = serializers.CharField(help_text="Masked phone number, e.g. +1 ••••••••71.")


class TokenSerializer(serializers.Serializer):
    status = serializers.CharField(default="ok")
    token = serializers.CharField(required=False, help_text="Shown once. Send as 'Bearer <token>'.")
    expires_at = serializers.DateTimeField(required=False)


class SentSerializer(serializers.Serializer):
    sent = serializers.BooleanField()
    channel = serializers.CharField()
    destination = serializers.CharField()


class PushSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["pending", "approved", "denied", "expired"])
    token = serializers.CharField(required=False)
    expires_at = serializers.DateTimeField(required=False)


class EnrollmentStartedSerializer(serializers.Serializer):
    enrollment = serializers.CharField(required=False)
    destination = serializers.CharField()


class AppEnrollmentSerializer(serializers.Serializer):
    provisioning_uri = serializers.CharField(help_text="otpauth:// URI; show it as a QR code.")
    manual_key = serializers.CharField(help_text="The secret for manual entry, in groups of 4.")
    qr_svg = serializers.CharField(help_text="The QR code as inline SVG, rendered by the server.")


class RecoveryCodesSerializer(serializers.Serializer):
    recovery_codes = serializers.ListField(child=serializers.CharField(), required=False)
    token = serializers.CharField(required=False)
    expires_at = serializers.DateTimeField(required=False)


class StepUpStartedSerializer(serializers.Serializer):
    step_up = serializers.CharField()
    methods = serializers.ListField(child=serializers.CharField())


class TrustedBrowserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)


class EventSerializer(serializers.Serializer):
    event = serializers.CharField()
    method = serializers.CharField()
    ip_address = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()


class StatusSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    required = serializers.BooleanField()
    phone = serializers.CharField()
    methods = serializers.ListField(child=serializers.CharField())
    recovery_codes_left = serializers.IntegerField()
    trusted_browsers = TrustedBrowserSerializer(many=True)
    events = EventSerializer(many=True)
