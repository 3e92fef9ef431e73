from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from clinic.models import AccountEvent

admin.site.site_header = "Kratom RLS clinic: administration"


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
