"""Twilio Verify v2 response bodies and webhook-signature vectors used as test facts.

Success bodies are the twilio-python integration-test fixtures that Twilio's
Verify documentation quotes (twilio/twilio-python
``tests/integration/verify/v2/service/test_verification.py`` and
``test_verification_check.py``). The reference elides the ``url`` with "…";
it is filled in here. No source shows a wrong-code body (reference §U.7): the
one below is the approved fixture with ``status: "pending"`` and ``valid: false``,
as the reference describes it (§B4).

Error bodies use the legacy shape of §B1 (integer ``code``, ``message``,
``more_info``, ``status``) with the code and HTTP status of §B8; the message
wording is the one on Twilio's error pages and is never relied upon except
where the reference says the message names the parameter (60200).

Signature vectors are the published ones of twilio-python's
``tests/unit/test_request_validator.py`` (token ``12345``).
"""

from __future__ import annotations

ACCOUNT_SID = "AC" + "a" * 32
SERVICE_SID = "VA" + "a" * 32
VERIFICATION_SID = "VE" + "a" * 32
PHONE = "+15017122661"
EMAIL = "recipient@foo.com"
VERIFICATION_URL = (
    f"https://verify.twilio.com/v2/Services/{SERVICE_SID}/Verifications/{VERIFICATION_SID}"
)

# --- Verifications (§B3) -----------------------------------------------------------------

VERIFICATION_CREATED = {
    "sid": VERIFICATION_SID,
    "service_sid": SERVICE_SID,
    "account_sid": ACCOUNT_SID,
    "to": PHONE,
    "channel": "sms",
    "status": "pending",
    "valid": False,
    "date_created": "2015-07-30T20:00:00Z",
    "date_updated": "2015-07-30T20:00:00Z",
    "lookup": {},
    "amount": None,
    "payee": None,
    "send_code_attempts": [
        {
            "time": "2015-07-30T20:00:00Z",
            "channel": "SMS",
            "attempt_sid": "VL" + "a" * 32,
        }
    ],
    "sna": None,
    "url": VERIFICATION_URL,
}

# twilio-python's e-mail fixture (test_create_verification_email_response).
EMAIL_VERIFICATION_CREATED = {
    **VERIFICATION_CREATED,
    "to": "mail@email.com",
    "channel": "email",
    "lookup": {
        "carrier": {
            "error_code": None,
            "name": None,
            "mobile_country_code": None,
            "mobile_network_code": None,
            "type": None,
        }
    },
    "send_code_attempts": [
        {"time": "2015-07-30T20:00:00Z", "channel": "EMAIL", "channel_id": None}
    ],
}

# twilio-python's update fixture (test_update_verification_response), HTTP 200.
VERIFICATION_CANCELED = {**VERIFICATION_CREATED, "status": "canceled", "valid": False}

# twilio-python's fetch fixture (test_fetch_verification_response), HTTP 200.
VERIFICATION_FETCHED = dict(VERIFICATION_CREATED)

# --- VerificationCheck (§B4) -------------------------------------------------------------

CHECK_APPROVED = {
    "sid": VERIFICATION_SID,
    "service_sid": SERVICE_SID,
    "account_sid": ACCOUNT_SID,
    "to": PHONE,
    "channel": "sms",
    "status": "approved",
    "valid": True,
    "amount": None,
    "payee": None,
    "sna_attempts_error_codes": [],
    "date_created": "2015-07-30T20:00:00Z",
    "date_updated": "2015-07-30T20:00:00Z",
}

# Constructed (see the module docstring): a wrong code leaves the verification pending.
CHECK_PENDING = {**CHECK_APPROVED, "status": "pending", "valid": False}

# twilio-python's e-mail check fixture (test_email_verification_checks_response).
EMAIL_CHECK_APPROVED = {
    **CHECK_APPROVED,
    "to": EMAIL,
    "channel": "email",
    "date_created": "2020-01-30T20:00:00Z",
    "date_updated": "2020-01-30T20:00:00Z",
}

# --- Errors (§B1, §B8) -----------------------------------------------------------------


def error(code: int, status: int, message: str) -> dict:
    """The legacy Twilio error body: integer ``code``, ``message``, ``more_info``, ``status``."""
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


NOT_FOUND = error(
    20404, 404, f"The requested resource /Services/{SERVICE_SID}/VerificationCheck was not found"
)
AUTHENTICATE = error(20003, 401, "Authenticate")
TOO_MANY_REQUESTS = error(20429, 429, "Too Many Requests")
INVALID_TO = error(60200, 400, "Invalid parameter: To")
INVALID_CODE = error(60200, 400, "Invalid parameter: Code")
INVALID_CHANNEL = error(60200, 400, "Invalid parameter: Channel")
INVALID_LOCALE = error(60200, 400, "Invalid parameter: Locale")
MAX_CHECK_ATTEMPTS = error(60202, 429, "Max check attempts reached")
MAX_SEND_ATTEMPTS = error(60203, 429, "Max send attempts reached")
LANDLINE = error(60205, 400, "SMS is not supported by landline phone number")
CONCURRENT_SAME_NUMBER = error(60212, 429, "Too many concurrent requests for phone number")

# The RFC 9457 problem shape twilio-python also understands (§B1).
NOT_FOUND_RFC9457 = {
    "type": "https://www.twilio.com/docs/errors/20404",
    "title": "Not Found",
    "status": 404,
    "code": 20404,
    "detail": "The requested resource was not found",
    "instance": f"/v2/Services/{SERVICE_SID}/VerificationCheck",
}
MAX_CHECK_ATTEMPTS_RFC9457 = {
    "type": "https://www.twilio.com/docs/errors/60202",
    "title": "Max check attempts reached",
    "status": 429,
    "code": 60202,
    "detail": "Max check attempts reached",
    "instance": f"/v2/Services/{SERVICE_SID}/VerificationCheck",
    "errors": [],
}

# --- X-Twilio-Signature vectors (twilio-python tests/unit/test_request_validator.py) ----

SIGNATURE_TOKEN = "12345"
SIGNATURE_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
SIGNATURE_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
    "Caller": "+14158675309",
}
SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
# The same request signed on URLs that name a port.
SIGNATURE_HTTPS_PORT_443 = "kvajT1Ptam85bY51eRf/AJRuM3w="
SIGNATURE_HTTP_PORT_1234 = "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="
SIGNATURE_HTTP_PORT_80 = "0ZXoZLH/DfblKGATFgpif+LLRf4="
# A JSON body: Twilio adds bodySHA256 to the URL and signs the URL only.
SIGNATURE_BODY = '{"property": "value", "boolean": true}'
SIGNATURE_BODY_SHA256 = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
SIGNATURE_WITH_BODY = "a9nBmqA0ju/hNViExpshrM61xv4="
