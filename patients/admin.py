from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from patients.models import Assessment, Patient, PatientAccess


@admin.register(Patient)
class PatientAdmin(SimpleHistoryAdmin):
    list_display = ["mrn", "family_name", "given_name", "date_of_birth", "archived_at"]
    search_fields = ["mrn", "family_name", "given_name"]
    readonly_fields = [
        "uuid",
        "version",
        "created_at",
        "archived_at",
        "archived_by",
        "archive_reason",
    ]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # clinical records are archived, never deleted


@admin.register(PatientAccess)
class PatientAccessAdmin(admin.ModelAdmin[PatientAccess]):
    """The access log: read-only, and for superusers only."""

    list_display = ["at", "user", "patient", "view"]
    list_select_related = ["user", "patient"]
    list_filter = ["view"]
    search_fields = ["user__username", "patient__mrn"]
    date_hierarchy = "at"

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Assessment)
class AssessmentAdmin(SimpleHistoryAdmin):
    """Read-only: assessments are recorded and corrected in the app, which re-evaluates
    the guidance on every save."""

    list_display = ["uuid", "patient", "assessed_at", "irls_total", "cows_total", "gad7_total"]
    list_select_related = ["patient"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
