"""The admin shows the records and their history to superusers; it never changes them.

Clinical records are written only by the app, which versions, re-evaluates and audits
every change (and refuses changes to archived patients).
"""

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse
from simple_history.admin import SimpleHistoryAdmin

from patients.models import Assessment, FollowUp, Patient, PatientAccess


class ReadOnlyAdmin[M: Model](admin.ModelAdmin[M]):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyHistoryAdmin(SimpleHistoryAdmin):
    """Read-only, with the record's history. django-simple-history's form for a past
    version saves whatever is posted to it after checking only the view permission, so
    every post to it is refused here, whatever SIMPLE_HISTORY_REVERT_DISABLED says.

    Its history views also look ids up as given, so an id that is not a number raised
    ValueError (a 500); here it is a 404, as Django's own admin views treat it."""

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        _check_id(self.model._meta.pk, object_id)
        response: HttpResponse = super().history_view(request, object_id, extra_context)
        return response

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def history_form_view(
        self,
        request: HttpRequest,
        object_id: str,
        version_id: str,
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method != "GET":
            raise PermissionDenied
        _check_id(self.model._meta.pk, object_id)
        _check_id(self.model.history.model._meta.pk, version_id)
        response: HttpResponse = super().history_form_view(
            request, object_id, version_id, extra_context
        )
        return response


def _check_id(field: Any, value: str) -> None:
    try:
        field.to_python(unquote(value))
    except ValidationError:
        raise Http404 from None


@admin.register(Patient)
class PatientAdmin(ReadOnlyHistoryAdmin):
    list_display = ["mrn", "family_name", "given_name", "date_of_birth", "archived_at"]
    search_fields = ["mrn", "family_name", "given_name"]


@admin.register(Assessment)
class AssessmentAdmin(ReadOnlyHistoryAdmin):
    list_display = ["uuid", "patient", "assessed_at", "irls_total", "cows_total", "gad7_total"]
    list_select_related = ["patient"]


@admin.register(FollowUp)
class FollowUpAdmin(ReadOnlyHistoryAdmin):
    list_display = ["uuid", "patient", "due_date", "kind", "status", "recorded_at"]
    list_filter = ["status", "kind"]
    list_select_related = ["patient"]


@admin.register(PatientAccess)
class PatientAccessAdmin(ReadOnlyAdmin[PatientAccess]):
    """The access log, for superusers only."""

    list_display = ["at", "user", "ehr_user", "patient", "view"]
    list_select_related = ["user", "patient"]
    list_filter = ["view"]
    search_fields = ["user__username", "patient__mrn"]
    date_hierarchy = "at"

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)
