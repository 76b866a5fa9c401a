"""Admin for two-factor profiles.

Safe by default: the admin never shows a full phone number or any secret, and
profiles change only through the app's flows (enrollment, unlock), so the
admin cannot put a profile into a state those flows would not produce.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import flows
from .audit import ClientInfo
from .models import AuditEvent, TOTPDevice, TwoFactorProfile


def user_search_fields(prefix: str = "user__") -> list[str]:
    """Search on the identifying fields the project's user model actually has."""
    user_model = get_user_model()
    names = {user_model.USERNAME_FIELD, "username", "email", "first_name", "last_name"}
    existing = {field.name for field in user_model._meta.get_fields()}
    return sorted(f"{prefix}{name}" for name in names & existing)


@admin.register(TwoFactorProfile)
class TwoFactorProfileAdmin(admin.ModelAdmin):
    list_display = (
        "user",
        "masked_phone",
        "default_method",
        "is_enabled",
        "failure_count",
        "lock_state",
    )
    list_filter = ("default_method", ("enabled_at", admin.EmptyFieldListFilter))
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    search_fields = user_search_fields()
    actions = ("unlock_profiles", "reset_profiles")
    fieldsets = (
        (None, {"fields": ("user", "masked_phone", "authy_id", "default_method")}),
        (_("State"), {"fields": ("enabled_at", "phone_confirmed_at", "version")}),
        (
            _("Failures and locks"),
            {"fields": ("failure_count", "last_failure_at", "locked_until", "hard_locked_at")},
        ),
        (_("History"), {"fields": ("created_at", "updated_at")}),
    )
    readonly_fields = (
        "user",
        "masked_phone",
        "authy_id",
        "enabled_at",
        "phone_confirmed_at",
        "version",
        "failure_count",
        "last_failure_at",
        "locked_until",
        "hard_locked_at",
        "created_at",
        "updated_at",
    )

    @admin.display(description=_("phone"))
    def masked_phone(self, obj: TwoFactorProfile) -> str:
        return obj.masked_phone or "—"

    @admin.display(description=_("enabled"), boolean=True)
    def is_enabled(self, obj: TwoFactorProfile) -> bool:
        return obj.is_enabled

    @admin.display(description=_("lock"))
    def lock_state(self, obj: TwoFactorProfile) -> str:
        if obj.hard_locked_at:
            return str(_("locked until unlocked"))
        if obj.is_locked():
            return str(_("locked for now"))
        return "—"

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Profiles come from enrollment, which proves possession of the phone.
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: TwoFactorProfile | None = None
    ) -> bool:
        # Use the audited "reset" action instead.
        return False

    @admin.action(description=_("Unlock selected profiles and reset their failure counts"))
    def unlock_profiles(self, request: HttpRequest, queryset: QuerySet[TwoFactorProfile]) -> None:
        count = self._for_each_user(request, queryset, flows.unlock)
        self.message_user(
            request,
            ngettext("Unlocked %d profile.", "Unlocked %d profiles.", count) % count,
            messages.SUCCESS,
        )

    @admin.action(description=_("Reset two-factor authentication of selected users"))
    def reset_profiles(self, request: HttpRequest, queryset: QuerySet[TwoFactorProfile]) -> None:
        count = self._for_each_user(request, queryset, flows.disable)
        message = ngettext(
            "Reset two-factor authentication of %d user.",
            "Reset two-factor authentication of %d users.",
            count,
        )
        self.message_user(request, message % count, messages.SUCCESS)

    @staticmethod
    def _for_each_user(request: HttpRequest, queryset: QuerySet, flow) -> int:
        """Run an audited flow for each selected user, with the administrator as actor."""
        client = ClientInfo.from_request(request)
        profiles = list(queryset.select_related("user"))
        for profile in profiles:
            flow(profile.user, client, actor=request.user)
        return len(profiles)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Security events: read-only, so the record cannot be edited after the fact."""

    list_display = ("created_at", "user", "event", "method", "ip_address", "actor")
    list_filter = ("event", "method")
    list_select_related = ("user", "actor")
    search_fields = user_search_fields()
    date_hierarchy = "created_at"
    readonly_fields = (
        "created_at",
        "user",
        "event",
        "method",
        "ip_address",
        "user_agent",
        "details",
        "actor",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False


@admin.register(TOTPDevice)
class TOTPDeviceAdmin(admin.ModelAdmin):
    """Authenticator apps: whether one is set up and when, never the secret."""

    list_display = ("user", "is_confirmed", "confirmed_at", "created_at")
    list_select_related = ("user",)
    search_fields = user_search_fields()
    fields = ("user", "confirmed_at", "created_at")
    readonly_fields = fields

    @admin.display(description=_("confirmed"), boolean=True)
    def is_confirmed(self, obj: TOTPDevice) -> bool:
        return obj.is_confirmed

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: TOTPDevice | None = None) -> bool:
        return False
