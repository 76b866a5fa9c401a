import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from django_authy2fa.models import TwoFactorProfile

pytestmark = pytest.mark.django_db


def test_profile_extends_the_user_one_to_one(user):
    profile = TwoFactorProfile.objects.create(user=user, phone_number="+14155552671")
    assert user.authy2fa_profile == profile
    with pytest.raises(IntegrityError), transaction.atomic():
        TwoFactorProfile.objects.create(user=user)


def test_authy_id_is_unique_when_set_and_empty_means_null(django_user_model, user):
    bob = django_user_model.objects.create_user("bob", "bob@example.com", "pw")
    first = TwoFactorProfile.objects.create(user=user, authy_id="")
    second = TwoFactorProfile.objects.create(user=bob, authy_id="")
    assert first.authy_id is None and second.authy_id is None
    first.authy_id = "1635"
    first.save()
    second.authy_id = "1635"
    with pytest.raises(IntegrityError), transaction.atomic():
        second.save()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("phone_number", "4155552671"),
        ("phone_number", "+0155552671"),
        ("phone_number", "+1 415 555 2671"),
        ("authy_id", "abc"),
        ("authy_id", "-1"),
        ("authy_id", "0123"),
    ],
)
def test_field_validators(user, field, value):
    profile = TwoFactorProfile(user=user, **{field: value})
    with pytest.raises(ValidationError) as err:
        profile.full_clean()
    assert field in err.value.message_dict


def test_recipient_carries_what_providers_need(user):
    profile = TwoFactorProfile.objects.create(
        user=user, phone_number="+14155552671", authy_id="1635"
    )
    recipient = profile.as_recipient()
    assert (recipient.phone, recipient.provider_user_id, recipient.email) == (
        "+14155552671",
        "1635",
        "alice@example.com",
    )
    assert "+14155552671" not in repr(recipient)


def test_phone_forms(user):
    profile = TwoFactorProfile.objects.create(user=user, phone_number="+447400123456")
    assert profile.phone.display == "+44 7400 123456"
    assert profile.masked_phone == "+44 ••••••••56"
    assert TwoFactorProfile(user=user).phone is None


def test_versions_only_grow_even_from_stale_objects(user):
    profile = TwoFactorProfile.objects.create(user=user)
    initial = profile.version
    stale = TwoFactorProfile.objects.get(pk=profile.pk)
    profile.bump_version()
    stale.bump_version()
    assert initial < profile.version < stale.version


def test_a_new_profile_never_reuses_an_old_version(user):
    first = TwoFactorProfile.objects.create(user=user)
    first.bump_version()
    old_version = first.version
    first.delete()
    assert TwoFactorProfile.objects.create(user=user).version > old_version


def test_lock_states(user):
    profile = TwoFactorProfile.objects.create(user=user)
    now = timezone.now()
    assert not profile.is_locked(now)
    profile.locked_until = now + timezone.timedelta(minutes=15)
    assert profile.is_locked(now)
    assert not profile.is_locked(now + timezone.timedelta(minutes=16))
    profile.locked_until = None
    profile.hard_locked_at = now
    assert profile.is_locked(now + timezone.timedelta(days=365))
    profile.save()
    assert list(TwoFactorProfile.objects.locked()) == [profile]
