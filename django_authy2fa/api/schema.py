"""OpenAPI description of the app's authentication (for drf-spectacular)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class TwoFactorTokenScheme(OpenApiAuthenticationExtension):
    target_class = "django_authy2fa.api.authentication.TwoFactorTokenAuthentication"
    name = "TwoFactorToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A token from /verify/ (issued only after the second step).",
        }
