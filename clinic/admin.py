from typing import Any

from axes import admin as axes_admin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.http import HttpRequest
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic.models import AccountEvent

admin.site.site_header = "Kratom RLS clinic: administration"

# Second factors are enrolled by their owners and reset from the account review page (which
# records who did it). django-otp's own admin would show any user's secret as a QR code,
# and its configuration page fails with a server error on an unknown device.
for device in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(device):
        admin.site.unregister(device)


@admin.register(AccountEvent)
class AccountEventAdmin(admin.ModelAdmin[AccountEvent]):
    """The audit trail of account changes: read-only, as history should be."""

    list_display = ["at", "user", "action", "detail", "by"]
    list_filter = ["action"]
    search_fields = ["user__username", "by__username"]
    date_hierarchy = "at"
    list_select_related = ["user", "by"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAxesMixin:
    """django-axes' sign-in records are evidence, read like the other audit models: its
    admin may show them, never add, change or delete them (nor clean them up in bulk;
    django-axes expires them itself)."""

    actions = None

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


for model, axes_model_admin in (
    (AccessAttempt, axes_admin.AccessAttemptAdmin),
    (AccessLog, axes_admin.AccessLogAdmin),
    (AccessFailureLog, axes_admin.AccessFailureLogAdmin),
):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    read_only = type(
        f"ReadOnly{axes_model_admin.__name__}", (ReadOnlyAxesMixin, axes_model_admin), {}
    )
    admin.site.register(model, read_only)
