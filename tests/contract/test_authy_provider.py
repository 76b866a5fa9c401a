"""AuthyProvider adapts AuthyClient to the provider interface; HTTP mocked at one seam."""

import json

import pytest
import responses
from django.core import checks

from django_authy2fa.exceptions import (
    Authy2FAConfigurationError,
    ProviderUnavailable,
    ProviderUserNotFound,
    UnsupportedChannel,
)
from django_authy2fa.providers import Channel, PushStatus, Recipient
from django_authy2fa.providers.authy import AuthyProvider

from . import authy_fixtures as fx

API = "https://api.authy.com"
KEY = "test-authy-api-key-0123456789abcdef"
ENROLLED = Recipient(phone="+447400123456", provider_user_id="1635", email="bob@example.com")


@pytest.fixture
def provider():
    instance = AuthyProvider(API_KEY=KEY)
    yield instance
    instance.close()


@responses.activate
def test_enroll_registers_the_national_number_with_country_code(provider):
    responses.post(f"{API}/protected/json/users/new", json=fx.USER_CREATED)
    assert provider.enroll(Recipient(phone="+447400123456", email="bob@example.com")) == "1635"
    request = responses.calls[0].request
    assert request.headers["X-Authy-API-Key"] == KEY
    assert json.loads(request.body) == {
        "user": {"email": "bob@example.com", "cellphone": "7400123456", "country_code": 44},
        "send_install_link_via_sms": False,
    }


@responses.activate
@pytest.mark.parametrize(("channel", "path"), [(Channel.SMS, "sms"), (Channel.CALL, "call")])
def test_send_code_forces_delivery_by_default(provider, channel, path):
    responses.get(f"{API}/protected/json/{path}/1635", json=fx.SMS_SENT)
    result = provider.send_code(ENROLLED, channel)
    params = responses.calls[0].request.params
    assert params["force"] == "true"
    assert set(params) == {"force", "action"}
    assert result.sent
    assert result.destination == "+351-XXX-XXX-XX67"
    # The code is bound to this send: verification repeats the same action.
    assert result.reference == params["action"]


@responses.activate
def test_each_send_gets_its_own_action_and_verify_repeats_it(provider):
    responses.get(f"{API}/protected/json/sms/1635", json=fx.SMS_SENT)
    first = provider.send_code(ENROLLED, Channel.SMS)
    second = provider.send_code(ENROLLED, Channel.SMS)
    assert first.reference != second.reference
    responses.get(f"{API}/protected/json/verify/123456/1635", json=fx.TOKEN_VALID)
    assert provider.check_code(ENROLLED, "123456", reference=first.reference) is True
    assert responses.calls[-1].request.params == {"force": "true", "action": first.reference}


@responses.activate
def test_ignored_sms_is_reported_when_delivery_not_forced():
    provider = AuthyProvider(API_KEY=KEY, FORCE_DELIVERY=False)
    responses.get(f"{API}/protected/json/sms/1635", json=fx.SMS_IGNORED)
    result = provider.send_code(ENROLLED, Channel.SMS)
    assert "force" not in responses.calls[0].request.params
    assert result.ignored and not result.sent


@responses.activate
def test_app_code_check_sends_no_action(provider):
    responses.get(f"{API}/protected/json/verify/1234567/1635", json=fx.TOKEN_VALID)
    assert provider.check_code(ENROLLED, "1234567") is True
    assert responses.calls[0].request.params == {"force": "true"}


@responses.activate
def test_check_code_true_only_for_explicit_valid(provider):
    responses.get(f"{API}/protected/json/verify/123456/1635", json=fx.TOKEN_VALID)
    responses.get(f"{API}/protected/json/verify/654321/1635", json=fx.TOKEN_INVALID, status=401)
    assert provider.check_code(ENROLLED, "123456") is True
    assert provider.check_code(ENROLLED, "654321") is False
    assert all(call.request.params == {"force": "true"} for call in responses.calls)


@responses.activate
def test_outage_raises_provider_unavailable_not_false(provider):
    responses.get(
        f"{API}/protected/json/verify/123456/1635", body="<html>Bad gateway</html>", status=502
    )
    with pytest.raises(ProviderUnavailable):
        provider.check_code(ENROLLED, "123456")


def test_unenrolled_recipient_never_reaches_the_network(provider):
    with responses.RequestsMock() as mocked:
        with pytest.raises(ProviderUserNotFound):
            provider.send_code(Recipient(phone="+447400123456"), Channel.SMS)
        assert len(mocked.calls) == 0


@responses.activate
def test_push_round_trip(provider):
    responses.post(f"{API}/onetouch/json/users/1635/approval_requests", json=fx.APPROVAL_CREATED)
    push = provider.start_push(ENROLLED, message="Log in to Example?", details={"From": "Firefox"})
    assert push.reference == fx.APPROVAL_UUID
    body = json.loads(responses.calls[0].request.body)
    assert body["message"] == "Log in to Example?"
    assert body["details"] == {"From": "Firefox"}
    assert body["seconds_to_expire"] == 120
    status_url = f"{API}/onetouch/json/approval_requests/{fx.APPROVAL_UUID}"
    for authy_status, expected in [
        ("pending", PushStatus.PENDING),
        ("approved", PushStatus.APPROVED),
        ("denied", PushStatus.DENIED),
        ("expired", PushStatus.EXPIRED),
    ]:
        responses.get(status_url, json=fx.approval_status_body(authy_status))
        assert provider.push_status(push.reference) is expected


@responses.activate
def test_remove_posts_to_the_configured_delete_path():
    provider = AuthyProvider(API_KEY=KEY, DELETE_PATH="/protected/json/users/delete/{authy_id}")
    responses.post(f"{API}/protected/json/users/delete/1635", json=fx.USER_REMOVED)
    provider.remove(ENROLLED)
    assert len(responses.calls) == 1


def test_missing_api_key_names_the_setting():
    with pytest.raises(
        Authy2FAConfigurationError, match=r"AUTHY2FA\['PROVIDER_OPTIONS'\]\['API_KEY'\]"
    ):
        AuthyProvider()


def test_checks_warn_that_authy_is_legacy_and_flag_missing_key():
    assert [m.id for m in AuthyProvider.check({"API_KEY": KEY})] == ["authy2fa.W001"]
    messages = AuthyProvider.check({})
    assert [m.id for m in messages] == ["authy2fa.E003", "authy2fa.W001"]
    assert messages[0].level == checks.ERROR


def test_channels(provider):
    assert provider.supports(Channel.PUSH)
    with pytest.raises(UnsupportedChannel):
        provider.ensure_channel("fax")
    assert PushStatus.APPROVED.is_final and not PushStatus.PENDING.is_final
