"""Authy API response bodies and callback-signature vectors used as test facts.

Bodies are copied as Twilio's Authy API documentation gives them; where the
documentation elides a value with "…" a plausible value is filled in and
marked. The signature vectors come from that documentation (OneTouch callback
signatures) and from authy-java's ``TestAuthyUtil.java`` / ``test.properties``
(real callback payloads signed by Authy with test API keys).
"""

from __future__ import annotations

# --- Users (§A4) -----------------------------------------------------------------------

USER_CREATED = {"message": "User created successfully.", "user": {"id": 1635}, "success": True}

USER_NOT_VALID_CELLPHONE = {
    "cellphone": "is invalid",
    "message": "User was not valid",
    "success": False,
    "errors": {"cellphone": "is invalid", "message": "User was not valid"},
    "error_code": "60027",
}

# Same shape with the email field named instead (the reference notes
# ``"email": "is invalid"`` for a bad email).
USER_NOT_VALID_EMAIL = {
    "email": "is invalid",
    "message": "User was not valid",
    "success": False,
    "errors": {"email": "is invalid", "message": "User was not valid"},
    "error_code": "60027",
}

INVALID_API_KEY = {
    "error_code": "60001",
    "message": "Invalid API key",
    "errors": {"message": "Invalid API key"},
    "success": False,
}

USER_NOT_FOUND = {
    "message": "User not found.",
    "success": False,
    "errors": {"message": "User not found."},
    "error_code": "60026",
}

USER_STATUS = {
    "status": {
        "authy_id": 290907,
        "confirmed": True,
        "registered": False,
        "country_code": 1,
        "phone_number": "XXX-XXX-1118",
        "email": "alfvawmu@authy.com",
        "devices": [],
        "has_hard_token": False,
        "account_disabled": False,
        "detailed_devices": [
            {
                "device_type": "authy",
                "os_type": "unknown",
                "registration_device_id": None,
                "registration_method": None,
                "device_id": 290908,
                "last_sync_date": 0,
                "creation_date": 1433868212,
            }
        ],
        "deleted_devices": [],
    },
    "message": "User status.",
    "success": True,
}

USER_REMOVED = {"message": "User was added to remove.", "success": True}

# --- SMS and calls (§A5) -----------------------------------------------------------------

SMS_SENT = {"success": True, "message": "SMS token was sent", "cellphone": "+351-XXX-XXX-XX67"}

SMS_IGNORED = {
    "message": (
        "Ignored: SMS is not needed for smartphones. "
        "Pass force=true if you want to actually send it anyway."
    ),
    "cellphone": "+351-XXX-XXX-XX67",
    "device": "iphone",
    "ignored": True,
    "success": True,
}

CALL_STARTED = {"success": True, "message": "Call started...", "cellphone": "+351-XXX-XXX-XX67"}

CALL_IGNORED = {
    "message": (
        "Call ignored. User is using  App Tokens and this call is not necessary. "
        "Pass force=true if you still want to call users that are using the App."
    ),
    "cellphone": "+351-XXX-XXX-XX67",
    "device": "iphone",
    "ignored": True,
    "success": True,
}

SMS_DISABLED = {
    "message": "SMS is not enabled",
    "success": False,
    "errors": {"message": "SMS is not enabled"},
    "error_code": "60007",
}

# --- Verify (§A6) ----------------------------------------------------------------------

TOKEN_VALID = {"message": "Token is valid.", "token": "is valid", "success": True}

# authy-java's fixture: ``success`` is the string "true" and a device object is added.
TOKEN_VALID_JAVA = {
    "message": "Token is valid.",
    "token": "is valid",
    "success": "true",
    "device": {
        "id": None,
        "os_type": "sms",
        "registration_date": 1500648405,
        "registration_method": None,
        "registration_country": None,
        "registration_region": None,
        "registration_city": None,
        "country": None,
        "region": None,
        "city": None,
        "ip": None,
        "last_account_recovery_at": 1494631010,
        "last_sync_date": None,
    },
}

TOKEN_INVALID = {
    "message": "Token is invalid",
    "token": "is invalid",
    "success": False,
    "errors": {"message": "Token is invalid"},
    "error_code": "60020",
}

# Message from co-authy's mock; the code 60019 is the reference's inferred pairing.
TOKEN_REUSED = {
    "message": "Token is invalid. Token was used recently.",
    "success": False,
    "errors": {"message": "Token is invalid. Token was used recently."},
    "error_code": "60019",
}

TOKEN_INVALID_SHORT = {"errors": {"token": "is invalid"}, "success": False}

RATE_LIMITED = {
    "message": "Too many requests",
    "success": False,
    "errors": {"message": "Too many requests"},
    "error_code": "60003",
}

# --- OneTouch (§A7) --------------------------------------------------------------------

APPROVAL_UUID = "550e8400-e29b-41d4-a716-446655440000"

APPROVAL_CREATED = {"approval_request": {"uuid": APPROVAL_UUID}, "success": True}


def approval_status_body(status: str, uuid: str = APPROVAL_UUID) -> dict:
    """The node mock's shape; the reference elides timestamps and the uuid (filled in)."""
    return {
        "approval_request": {
            "_app_name": "Test",
            "_app_serial_id": 29225,
            "_authy_id": "1635",
            "_id": "56ad18731170706b7f00e352",
            "_user_email": "foo@bar.com",
            "app_id": "56aaaed561709030f4003b30",
            "created_at": "2016-01-31T20:15:15.463Z",  # filled in
            "updated_at": "2016-01-31T20:15:15.463Z",  # filled in
            "processed_at": None,
            "notified": False,
            "status": status,
            "user_id": "52e71d989d29c9d3dc001951",
            "uuid": uuid,  # filled in
        },
        "success": True,
    }


APPROVAL_NOT_FOUND = {"message": "Approval request not found: 1231", "success": False}

# --- Authenticator apps (§A4.4) -----------------------------------------------------------

# Only the ``qr_code`` field is attested (reference U.5); the rest is illustrative.
QR_CODE = {
    "qr_code": "https://api.authy.com/users/1635/secret.png?label=Example",
    "success": True,
}

# The docs name two string fields, ``secret`` and ``otp``; values are invented.
TOTP_EXPORT = {"secret": "JBSWY3DPEHPK3PXP", "otp": "492039", "success": True}

# --- Callback signatures (§A7.4) ---------------------------------------------------------

DOCS_URL = "https://api.authy.com/dashboard/json/application/webhooks"
DOCS_NONCE = "1427849783.886085"
DOCS_PARAMS = {"b": "val|ue&2", "a": "value1"}

# (name, key, nonce, method, url, params, expected signature)
REFERENCE_VECTORS = [
    (
        "1-docs-post",
        "foobar123",
        DOCS_NONCE,
        "POST",
        DOCS_URL,
        DOCS_PARAMS,
        "4f9676D/+BzsEq8NzF0fXpv7qETnzJUW/4YGe7p0EPM=",
    ),
    (
        "2-docs-get",
        "foobar123",
        DOCS_NONCE,
        "GET",
        DOCS_URL,
        DOCS_PARAMS,
        "W+RlOV+lGi1EA9jaT1X5hL1aJFAuTRwnHuQhCp2tAxI=",
    ),
    (
        "5-node-nested",
        "foo",
        "1455825429",
        "POST",
        "https://foo.bar/",
        {"foo": {"bar": {"biz": "foo"}}, "qux": "net"},
        "uq/wB8AR1Acvn0wFcjm7mmBJyR11nuuMhMy6semsAO8=",
    ),
    (
        "6-node-space-as-plus",
        "foo",
        "1455825429",
        "POST",
        "https://foo.bar/",
        {"foo": {"bar": {"biz": "foo bar"}}, "qux": "net"},
        "+fyGys+d5yNJx9SpeKZdf+N77od1t1cC/fVSWDW2+kY=",
    ),
]

# authy-python's test constants: signatures over an EMPTY parameter string (its
# mocked test never serialised the params), so not parameter-encoding vectors.
PYTHON_EMPTY_PARAMS_POST = "UJRjviTdXFA0xu4duxW9BWVDRZGsmSUDd4RglmzcX4o="
PYTHON_EMPTY_PARAMS_GET = "yjA/tsM6Rkxgww9wmZLxRWaouw21ZRsi7QIOdm7cEmA="

# authy-java TestAuthyUtil.java (test API key and callback URL from that file).
JAVA_KEY = "FU10H0uCafgKnXvPfDm5iAisVuHDgXJA"
JAVA_URL = "https://requestb.in/ui9vdiui"

_JAVA_DEVICE = (
    '"device":{"city":null,"country":"Colombia","ip":"190.130.65.251","region":null,'
    '"registration_city":null,"registration_country":"Colombia",'
    '"registration_ip":"190.130.66.242","registration_method":"sms",'
    '"registration_region":null,"os_type":"android","last_account_recovery_at":null,'
    '"id":2102943,"registration_date":1505418165,"last_sync_date":1505418173}'
)

JAVA_POST_APPROVED = (
    '{"authy_id":688611,"device_uuid":2102943,"callback_action":"approval_request_status",'
    '"uuid":"4a725520-bff5-0135-eb01-0e5d90336a8c","status":"approved",'
    '"approval_request":{"transaction":{"details":null,"device_details":{},'
    '"device_geolocation":"","device_signing_time":1512923419,"encrypted":false,'
    '"flagged":false,"hidden_details":null,"message":"Authorize OneTouch Unit Test",'
    '"reason":"","requester_details":null,"status":"approved",'
    '"uuid":"4a725520-bff5-0135-eb01-0e5d90336a8c","created_at_time":1512923400,'
    '"customer_uuid":15083},"expiration_timestamp":1513009800,"logos":null,'
    '"app_id":"582380eb7e1caa03317ec08c"},'
    '"signature":"pQmypvnmoIb7qIHrKcd3nwPArh8Ecr8L87XTYqqAfagDkXhOD7CulSdDkE0ImFBzigwc+vxwZsgx'
    "BnhFmU2c9kYuvMJiPLeS8NCpRucg7eHeGPM0jQbKveqzFcZ9L6P1kRHjSYwS7dLqEINBffNckK7O9LHz13XYklxXvY"
    "Uwvemtj+yEemyCJbmlJbCSlUTyajr3WSRPMYZV7xXTNtWp2XvcRSclP8izgA1cV/cw7ctDYIPG6wUXJGSIs/kg3hTDe"
    'N1Z3YBq1fnMkfxeb5g9bRveRlCjXpQ6xFh1wQEUbbtJpf+uRgxddbQwxfda9gIb5osOEhKRv5HoJ03yOvKiBQ==",'
    + _JAVA_DEVICE
    + "}"
)

JAVA_POST_DENIED_WITH_DETAILS = (
    '{"authy_id":688611,"device_uuid":2102943,"callback_action":"approval_request_status",'
    '"uuid":"6edb8f40-c01c-0135-c648-0e00ace7f69c","status":"denied",'
    '"approval_request":{"transaction":{"details":{"username":"User",'
    '"location":"California,USA","cosa1":"cosa1","cosa2":"cosa2"},"device_details":{},'
    '"device_geolocation":"","device_signing_time":1512940232,"encrypted":false,'
    '"flagged":false,"hidden_details":{"ip_address":"10.10.3.203"},'
    '"message":"Authorize OneTouch Unit Test","reason":"","requester_details":null,'
    '"status":"denied","uuid":"6edb8f40-c01c-0135-c648-0e00ace7f69c",'
    '"created_at_time":1512940211,"customer_uuid":15083},"expiration_timestamp":1513026611,'
    '"logos":null,"app_id":"582380eb7e1caa03317ec08c"},'
    '"signature":"jTLeK9tHUAhJRexjBIq3DVowPRKE+8578YzJD5yizXqYqmeQT7t8NS1uFfbmjHKabgIvC0N/WEFf'
    "yvKWjARrNVR6FJ5EjbOZJy7ouQT+9iTaorsJDVPUPeVnQUUTi3noXcSonGN0+YW7foHf8zMnTTyQBbjurexv2dkfu0f"
    "LdiF8I6xRhMeq5sf5APdZCt7NsFIM95N0wO6MHoD5sLL8yFrB1C/RB35n6BIxgTWz0TjtbcO+V/rqjgMK47xTITPsbE"
    'o46ammhRl4vU5flcM2O6KE6Q7tKLCftAzs/3xu13w1KKkFXmCqXpeB29lSNU2wveGI7nB2eIk41medDJ81Dg==",'
    + _JAVA_DEVICE
    + "}"
)

JAVA_POST_APPROVED_WITH_LOGOS = (
    '{"authy_id":688611,"device_uuid":2102943,"callback_action":"approval_request_status",'
    '"uuid":"098c3580-c01e-0135-eb00-0e5d90336a8c","status":"approved",'
    '"approval_request":{"transaction":{"details":{"username":"User",'
    '"location":"California,USA","cosa1":"cosa1","cosa2":"cosa2"},"device_details":{},'
    '"device_geolocation":"","device_signing_time":1512940918,"encrypted":false,'
    '"flagged":false,"hidden_details":{"ip_address":"10.10.3.203"},'
    '"message":"Authorize OneTouch Unit Test","reason":"","requester_details":null,'
    '"status":"approved","uuid":"098c3580-c01e-0135-eb00-0e5d90336a8c",'
    '"created_at_time":1512940900,"customer_uuid":15083},"expiration_timestamp":1513027300,'
    '"logos":[{"res":"default","url":"https://www.itsalllost.com/wp-content/uploads/2017/04/'
    'twilio-logo-red.png"},{"res":"med","url":"https://www.itsalllost.com/wp-content/uploads/'
    '2017/04/twilio-logo-red.png"}],"app_id":"582380eb7e1caa03317ec08c"},'
    '"signature":"qOLMuHVy4KITm2nSd1PxJCv+ydjcduKwxz2Fc7pMrDm7QtU2hMAnY5AUxdwlae5WJmEWNM8OctdG'
    "hMJweTwICkkOgYm2v+u7k/wz5zuPozDDnMqJWBjiCfbKNpKqf8CQ2dBndtxi2Sl7/y57KiXYJfTlGHNBhCoTxVzVBN"
    "DEPu6OLV6KA60mcEW87tg1b4Q/p69ZkYb5B1f9Ujk/ueCbCK6JDhtUf1v3/baNgO8o/mp2EydiFughqpiHIIOR0VY9/"
    'o/hh5a7z6FG4OxZ3WmS7q2506Wy698LW3ZRNl0aXwtFIat4IyCSSuDQFW9LZEcXdQK4YixSJ8b5H8vlRErSPQ==",'
    + _JAVA_DEVICE
    + "}"
)

_JAVA_GET_DEVICE = (
    "device%5Bcity%5D=&device%5Bcountry%5D=Colombia&device%5Bid%5D=2102943"
    "&device%5Bip%5D=190.130.65.251&device%5Blast_account_recovery_at%5D="
    "&device%5Blast_sync_date%5D=1505418173&device%5Bos_type%5D=android&device%5Bregion%5D="
    "&device%5Bregistration_city%5D=&device%5Bregistration_country%5D=Colombia"
    "&device%5Bregistration_date%5D=1505418165&device%5Bregistration_ip%5D=190.130.66.242"
    "&device%5Bregistration_method%5D=sms&device%5Bregistration_region%5D=&device_uuid=2102943"
)

JAVA_GET_APPROVED = (
    "approval_request%5Bapp_id%5D=582380eb7e1caa03317ec08c"
    "&approval_request%5Bexpiration_timestamp%5D=1513023630&approval_request%5Blogos%5D="
    "&approval_request%5Btransaction%5D%5Bcreated_at_time%5D=1512937230"
    "&approval_request%5Btransaction%5D%5Bcustomer_uuid%5D=15083"
    "&approval_request%5Btransaction%5D%5Bdetails%5D="
    "&approval_request%5Btransaction%5D%5Bdevice_geolocation%5D="
    "&approval_request%5Btransaction%5D%5Bdevice_signing_time%5D=1512937257"
    "&approval_request%5Btransaction%5D%5Bencrypted%5D=false"
    "&approval_request%5Btransaction%5D%5Bflagged%5D=false"
    "&approval_request%5Btransaction%5D%5Bhidden_details%5D="
    "&approval_request%5Btransaction%5D%5Bmessage%5D=Authorize+OneTouch+Unit+Test"
    "&approval_request%5Btransaction%5D%5Breason%5D="
    "&approval_request%5Btransaction%5D%5Brequester_details%5D="
    "&approval_request%5Btransaction%5D%5Bstatus%5D=approved"
    "&approval_request%5Btransaction%5D%5Buuid%5D=7e272da0-c015-0135-eafc-0e5d90336a8c"
    "&authy_id=688611&callback_action=approval_request_status&" + _JAVA_GET_DEVICE + "&signature="
    "YnZe2qSWEAYAROAhykwbeIOV2Ym%2Fg4y9rlIQc6ePtvTt9UDDotl7p2H%2FpC3EFNG5XsDaMkJuZmXSd0UW%2Ftiu"
    "R2l%2BJ%2Fvta5yXVArq6d1uNspB1u%2BWYjumDhTLFQI0Ox6BGQMhTlWkQK96dh0bJQqyPP7I5f4xQZMmNIClCKZa"
    "%2BzUqmPA7zo1Qokz9w0u917zKt%2BsLLxLLXblhdYvFIvfVqGAtiBQzbUh9UCCuOp6jcF7HkZiGs2nFIAlwVFffhK"
    "%2BxXnEXvG9yA3KnMRX6Y31yxWd3ApRoDNbLpCOSgFlkYAasQ8hBkcSy3AyyfT4TMhyeemI3IW6GFTADrXXO%2Bzvp"
    "cA%3D%3D&status=approved&uuid=7e272da0-c015-0135-eafc-0e5d90336a8c"
)

JAVA_GET_APPROVED_WITH_DETAILS = (
    "approval_request%5Bapp_id%5D=582380eb7e1caa03317ec08c"
    "&approval_request%5Bexpiration_timestamp%5D=1513028630&approval_request%5Blogos%5D="
    "&approval_request%5Btransaction%5D%5Bcreated_at_time%5D=1512942230"
    "&approval_request%5Btransaction%5D%5Bcustomer_uuid%5D=15083"
    "&approval_request%5Btransaction%5D%5Bdetails%5D%5Bcosa1%5D=cosa1"
    "&approval_request%5Btransaction%5D%5Bdetails%5D%5Bcosa2%5D=cosa2"
    "&approval_request%5Btransaction%5D%5Bdetails%5D%5Blocation%5D=California%2CUSA"
    "&approval_request%5Btransaction%5D%5Bdetails%5D%5Busername%5D=User"
    "&approval_request%5Btransaction%5D%5Bdevice_geolocation%5D="
    "&approval_request%5Btransaction%5D%5Bdevice_signing_time%5D=1512942247"
    "&approval_request%5Btransaction%5D%5Bencrypted%5D=false"
    "&approval_request%5Btransaction%5D%5Bflagged%5D=false"
    "&approval_request%5Btransaction%5D%5Bhidden_details%5D%5Bip_address%5D=10.10.3.203"
    "&approval_request%5Btransaction%5D%5Bmessage%5D=Authorize+OneTouch+Unit+Test"
    "&approval_request%5Btransaction%5D%5Breason%5D="
    "&approval_request%5Btransaction%5D%5Brequester_details%5D="
    "&approval_request%5Btransaction%5D%5Bstatus%5D=approved"
    "&approval_request%5Btransaction%5D%5Buuid%5D=224fdf40-c021-0135-fa62-06ca50569adc"
    "&authy_id=688611&callback_action=approval_request_status&" + _JAVA_GET_DEVICE + "&signature="
    "rRf5hjOsPql%2Fumb%2FzI6azWUx2Xx8s6hhKeOYXob0tqhIA7WUtUcvXDNfn%2BX%2FnAqOiBDcGr41aNU6mFw1nCbQ"
    "I3jwtm9n%2F7RVtxrJN%2B85370dY0nOUpl19IGJ6xwyRa0U76svfePBROnrobGdyCvtHw6G4tT%2BJ3oo2T7Ji1TZ4s"
    "cFLaRfiA95VmFYgJd6tEqoBom%2FtX8itKyxa%2FFTVSc8OriSusyX8GpxqSAKl9GjVKGp7W0p%2FGTzTU9lzVAIPHsI"
    "yX9%2FH%2BKUGk5d7oglcPb%2B0HX2V1ruSIg5IId5j3yrBPd%2Bjxf3HLTcrPMGjFZJhapMOwE4fgEWG9p6pfBYOyya"
    "uw%3D%3D&status=approved&uuid=224fdf40-c021-0135-fa62-06ca50569adc"
)

JAVA_GET_APPROVED_WITH_LOGOS = (
    "approval_request%5Bapp_id%5D=582380eb7e1caa03317ec08c"
    "&approval_request%5Bexpiration_timestamp%5D=1513029464"
    "&approval_request%5Blogos%5D%5B%5D%5Bres%5D=default"
    "&approval_request%5Blogos%5D%5B%5D%5Burl%5D=https%3A%2F%2Fwww.itsalllost.com%2Fwp-content"
    "%2Fuploads%2F2017%2F04%2Ftwilio-logo-red.png"
    "&approval_request%5Btransaction%5D%5Bcreated_at_time%5D=1512943064"
    "&approval_request%5Btransaction%5D%5Bcustomer_uuid%5D=15083"
    "&approval_request%5Btransaction%5D%5Bdetails%5D%5Bcosa1%5D=cosa1"
    "&approval_request%5Btransaction%5D%5Bdetails%5D%5Bcosa2%5D=cosa2"
    "&approval_request%5Btransaction%5D%5Bdetails%5D%5Blocation%5D=California%2CUSA"
    "&approval_request%5Btransaction%5D%5Bdetails%5D%5Busername%5D=User"
    "&approval_request%5Btransaction%5D%5Bdevice_geolocation%5D="
    "&approval_request%5Btransaction%5D%5Bdevice_signing_time%5D=1512943081"
    "&approval_request%5Btransaction%5D%5Bencrypted%5D=false"
    "&approval_request%5Btransaction%5D%5Bflagged%5D=false"
    "&approval_request%5Btransaction%5D%5Bhidden_details%5D%5Bip_address%5D=10.10.3.203"
    "&approval_request%5Btransaction%5D%5Bmessage%5D=Authorize+OneTouch+Unit+Test"
    "&approval_request%5Btransaction%5D%5Breason%5D="
    "&approval_request%5Btransaction%5D%5Brequester_details%5D="
    "&approval_request%5Btransaction%5D%5Bstatus%5D=approved"
    "&approval_request%5Btransaction%5D%5Buuid%5D=133c7590-c023-0135-fa61-06ca50569adc"
    "&authy_id=688611&callback_action=approval_request_status&" + _JAVA_GET_DEVICE + "&signature="
    "Q%2FTaHEbdfmBBw%2BT%2BgVBrM8Sw%2BdqT%2FnhdO6BJNc%2F7herUg4BxAwziQhdmQhqjY2nvtVJkWEa9PdB11tN"
    "jTcbMQs8cchyPPNLUvp8L7C82snxcH%2Fgdde65Z%2B39Aug5hCcXUoQ92PsRckvexkrCQASDWbvmJZnjVM5t3j%2BKX"
    "n2QVyZkc63GBE1W9GPNM7bmlL2ZOENPoxpUq9%2B%2FawTEb8WMDebDcFEPGSgNFcvk6%2FJTSwjzmmm8Ypk82s4P1lU"
    "q74WWxaDM7XJH2Q4mo9vHkDaRIweEx%2BliMqUQYoCtApD0vsPSe4Exfp5tfcelWE9xrte%2FF3qKiPSnV8xS0SY9L2"
    "0%2F7A%3D%3D&status=approved&uuid=133c7590-c023-0135-fa61-06ca50569adc"
)

# authy-java test.properties: a fourth POST payload, signed with another test key.
JAVA_PROPERTIES_KEY = "xzfVSc8CTwU2Mpl959CcMhw3fZBfI5F0"
JAVA_PROPERTIES_URL = "http://f617c113.ngrok.io/approved"
JAVA_PROPERTIES_BODY = (
    '{ "device_uuid": "cea50e20-3aeb-0133-f92a-34363b620e52", '
    '"callback_action": "approval_request_status", '
    '"uuid": "cdbabf40-1c65-0133-d113-34363b620e52", "status": "approved", '
    '"approval_request": { "transaction": { "details": { "Email Address": "jdoe@example.com" }, '
    '"device_details": {}, "device_geolocation": "", "device_signing_time": "946641599", '
    '"encrypted": false, "flagged": false, "hidden_details": { "ip": "1.1.1.1" }, '
    '"message": "Request to Login", "reason": "", "requester_details": "", '
    '"status": "approved", "uuid": "cdbabf40-1c65-0133-d113-34363b620e52", '
    '"created_at_time": "946641599", "customer_uuid": "25e026b36343-a29f-3310-bea3-02e05aec" }, '
    '"logos": "", "expiration_timestamp": "946641599" }, '
    '"signature": "rzqf/n08coE0Vi7IjbzAbt0IYMprJGAUx18kSJWE37K0mhvCGwepkm/pSDXuSs+5kSUFK80L9RT7/'
    "BZ7YwojSt5WhPnpRSImm5qKlvsNnGOPYCKVcFJxXCNJhtaztL/2BjOMzdC5yNHH5uJIDGBhlb5fLVErsvauvxXWo/Cj2"
    "STfITdSPULFz6XcbM1BDIriW7kP0GkELfUqE1iEuONEdhKYmPGolh3/U4t8i0NYkQSPhbOGG1DZEsxhnxtelyBNOGK9s"
    'FojTsAg7dWesRYnyDkjTHZ1MvggdZwXo4qxphrY2Ve7+o04EHPZW9RPvakwl9yQ6rVsspVF/xZT14BsgA==", '
    '"authy_id": 1234 }'
)

# (name, key, nonce, method, url, raw payload, expected signature). POST payloads
# are JSON text, GET payloads query strings.
JAVA_VECTORS = [
    (
        "java-post-approved",
        JAVA_KEY,
        "1512923419",
        "POST",
        JAVA_URL,
        JAVA_POST_APPROVED,
        "6uKAaKxCkkFEyQujwdudyPNUgRi2fY5otoCOQN7VjCw=",
    ),
    (
        "java-post-denied-details",
        JAVA_KEY,
        "1512940231",
        "POST",
        JAVA_URL,
        JAVA_POST_DENIED_WITH_DETAILS,
        "HFc5mICOVRrEmpmBoIuubKWcN0YYd50TaO7YQJFrnlM=",
    ),
    (
        "java-post-approved-logos",
        JAVA_KEY,
        "1512940917",
        "POST",
        JAVA_URL,
        JAVA_POST_APPROVED_WITH_LOGOS,
        "IFD2P2f5w2Jis1uref9Blu7a0liztOsnso16Gh6y054=",
    ),
    (
        "java-properties-post",
        JAVA_PROPERTIES_KEY,
        "1483484754",
        "POST",
        JAVA_PROPERTIES_URL,
        JAVA_PROPERTIES_BODY,
        "q+Dz2RZyHEuBkr6n5tIeTUmTa6+nUeQOxKmaoYSrQWA=",
    ),
    (
        "java-get-approved",
        JAVA_KEY,
        "1512937258",
        "GET",
        JAVA_URL,
        JAVA_GET_APPROVED,
        "W0YumwSPoL+2CX1q4XoUSY5gOmWmnrkXUmlm7NE6iGY=",
    ),
    (
        "java-get-approved-details",
        JAVA_KEY,
        "1512942246",
        "GET",
        JAVA_URL,
        JAVA_GET_APPROVED_WITH_DETAILS,
        "oCSbVsRS7uwKH1bRAnyem3pz9rTBSMpcEaS6W33DqmM=",
    ),
    (
        "java-get-approved-logos",
        JAVA_KEY,
        "1512943081",
        "GET",
        JAVA_URL,
        JAVA_GET_APPROVED_WITH_LOGOS,
        "5TM5uf+8WlPMjkREHeS39XUHv8CHjhq3/u/+/lWU7cg=",
    ),
]
