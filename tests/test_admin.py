import pytest
from django.urls import reverse
from django.utils import timezone

from django_authy2fa.models import TwoFactorProfile

pytestmark = pytest.mark.django_db


@pytest.fixture
def profile(user):
    return TwoFactorProfile.objects.create(
        user=user,
        phone_number="+14155552671",
        authy_id="1635",
        enabled_at=timezone.now(),
        failure_count=20,
        hard_locked_at=timezone.now(),
    )


def test_changelist_and_change_page_never_show_the_full_phone(admin_client, profile):
    changelist = admin_client.get(reverse("admin:django_authy2fa_twofactorprofile_changelist"))
    change = admin_client.get(
        reverse("admin:django_authy2fa_twofactorprofile_change", args=[profile.pk])
    )
    search = admin_client.get(
        reverse("admin:django_authy2fa_twofactorprofile_changelist"), {"q": "alice"}
    )
    for response in (changelist, change, search):
        assert response.status_code == 200
        body = response.content.decode()
        assert "4155552671" not in body
        assert "555 2671" not in body
        assert "555-2671" not in body
        assert "+1 ••••••••71" in body


def test_profiles_cannot_be_added_or_phone_edited_in_admin(admin_client, profile):
    add = admin_client.get(reverse("admin:django_authy2fa_twofactorprofile_add"))
    assert add.status_code == 403
    url = reverse("admin:django_authy2fa_twofactorprofile_change", args=[profile.pk])
    admin_client.post(url, {"phone_number": "+447400123456", "default_method": "sms"})
    profile.refresh_from_db()
    assert profile.phone_number == "+14155552671"


def test_unlock_action_resets_counters(admin_client, profile):
    url = reverse("admin:django_authy2fa_twofactorprofile_changelist")
    response = admin_client.post(
        url, {"action": "unlock_profiles", "_selected_action": [profile.pk]}, follow=True
    )
    assert response.status_code == 200
    profile.refresh_from_db()
    assert (profile.failure_count, profile.hard_locked_at, profile.locked_until) == (0, None, None)


def test_unlock_is_audited_with_the_admin_as_actor(admin_client, admin_user, profile):
    from django_authy2fa.models import AuditEvent

    admin_client.post(
        reverse("admin:django_authy2fa_twofactorprofile_changelist"),
        {"action": "unlock_profiles", "_selected_action": [profile.pk]},
    )
    event = AuditEvent.objects.get(event="unlocked")
    assert (event.user, event.actor) == (profile.user, admin_user)


def test_reset_action_turns_2fa_off_and_is_audited(admin_client, admin_user, profile):
    from django_authy2fa.models import AuditEvent

    admin_client.post(
        reverse("admin:django_authy2fa_twofactorprofile_changelist"),
        {"action": "reset_profiles", "_selected_action": [profile.pk]},
    )
    profile.refresh_from_db()
    assert not profile.is_enabled
    assert profile.phone_number == ""
    event = AuditEvent.objects.get(event="reset")
    assert (event.user, event.actor) == (profile.user, admin_user)


def test_security_events_are_read_only_in_admin(admin_client, profile):
    from django_authy2fa.models import AuditEvent

    event = AuditEvent.objects.create(
        user=profile.user, event="code_failed", details={"failures": 1}
    )
    changelist = admin_client.get(reverse("admin:django_authy2fa_auditevent_changelist"))
    assert changelist.status_code == 200
    assert admin_client.get(reverse("admin:django_authy2fa_auditevent_add")).status_code == 403
    delete = admin_client.post(
        reverse("admin:django_authy2fa_auditevent_delete", args=[event.pk]), {"post": "yes"}
    )
    assert delete.status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_totp_devices_in_admin_never_show_the_secret(admin_client, profile):
    from django_authy2fa import totp

    enrollment = totp.start_enrollment(profile.user)
    page = admin_client.get(
        reverse("admin:django_authy2fa_totpdevice_change", args=[enrollment.device.pk])
    )
    assert page.status_code == 200
    body = page.content.decode()
    assert enrollment.manual_key.replace(" ", "") not in body
    assert enrollment.device.encrypted_secret not in body
