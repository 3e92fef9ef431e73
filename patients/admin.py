"""The admin shows the records and their history to superusers; it never changes them.

Clinical records are written only by the app, which versions, re-evaluates and audits
every change (and refuses changes to archived patients).
"""

from http import HTTPStatus
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from simple_history.admin import SimpleHistoryAdmin

from patients.models import Assessment, FollowUp, Patient, PatientAccess, PatientListAccess


class LogsPatientAccess[M: Model](admin.ModelAdmin[M]):
    """The admin's pages write the access log as the app's do (product.md section 7): a
    record's page, its history and a past version of it log a row for its patient; a list
    page, searched or not, logs one row naming every patient on it.

    `patient_lookup`: the lookup from the model to its patient(s) ("pk" for a patient,
    "assessment__patient" for a card…); None for a model that shows no patient data."""

    patient_lookup: str | None = None

    def patient_ids(self, pks: list[Any]) -> list[int]:
        if self.patient_lookup is None or not pks:
            return []
        ids = self.model._default_manager.filter(pk__in=pks).values_list(
            self.patient_lookup, flat=True
        )
        return sorted({patient_id for patient_id in ids if patient_id is not None})

    def log_record(self, request: HttpRequest, object_id: str, response: HttpResponse) -> None:
        if response.status_code != HTTPStatus.OK or self.patient_lookup is None:
            return
        try:
            pk = self.model._meta.pk.to_python(unquote(object_id))
        except ValidationError:
            return
        ids = self.patient_ids([pk])
        view = request.resolver_match.view_name if request.resolver_match else "admin"
        if len(ids) == 1:
            PatientAccess.record(request.user, Patient(pk=ids[0]), view)  # type: ignore[arg-type]
        else:
            PatientListAccess.record(request.user, ids, view)  # type: ignore[arg-type]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response: HttpResponse = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", None) or {}
        shown = changelist.get("cl")
        if shown is not None and self.patient_lookup is not None:
            view = request.resolver_match.view_name if request.resolver_match else "admin"
            PatientListAccess.record(
                request.user,  # type: ignore[arg-type]
                self.patient_ids([obj.pk for obj in shown.result_list]),
                view,
                searched=bool(shown.query),
            )
        return response

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        response: HttpResponse = super().change_view(request, object_id, form_url, extra_context)
        self.log_record(request, object_id, response)
        return response

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response: HttpResponse = super().history_view(request, object_id, extra_context)
        self.log_record(request, object_id, response)
        return response


class ReadOnlyAdmin[M: Model](LogsPatientAccess[M]):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyHistoryAdmin(LogsPatientAccess[Any], SimpleHistoryAdmin):
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
        self.log_record(request, object_id, response)
        return response


def _check_id(field: Any, value: str) -> None:
    try:
        field.to_python(unquote(value))
    except ValidationError:
        raise Http404 from None


@admin.register(Patient)
class PatientAdmin(ReadOnlyHistoryAdmin):
    patient_lookup = "pk"
    list_display = ["mrn", "family_name", "given_name", "date_of_birth", "archived_at"]
    search_fields = ["mrn", "family_name", "given_name"]


@admin.register(Assessment)
class AssessmentAdmin(ReadOnlyHistoryAdmin):
    patient_lookup = "patient"
    list_display = ["uuid", "patient", "assessed_at", "irls_total", "cows_total", "gad7_total"]
    list_select_related = ["patient"]


@admin.register(FollowUp)
class FollowUpAdmin(ReadOnlyHistoryAdmin):
    patient_lookup = "patient"
    list_display = ["uuid", "patient", "due_date", "kind", "status", "recorded_at"]
    list_filter = ["status", "kind"]
    list_select_related = ["patient"]


@admin.register(PatientAccess)
class PatientAccessAdmin(ReadOnlyAdmin[PatientAccess]):
    """The access log, for superusers only."""

    patient_lookup = "patient"

    list_display = ["at", "user", "ehr_user", "patient", "view"]
    list_select_related = ["user", "patient"]
    list_filter = ["view"]
    search_fields = ["user__username", "patient__mrn"]
    date_hierarchy = "at"

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)


@admin.register(PatientListAccess)
class PatientListAccessAdmin(ReadOnlyAdmin[PatientListAccess]):
    """The access log's rows for list pages, for superusers only; a row's page names the
    patients the list showed."""

    patient_lookup = "patients"
    list_display = ["at", "user", "view", "searched", "listed"]
    list_select_related = ["user"]
    list_filter = ["view", "searched"]
    search_fields = ["user__username", "patients__mrn"]
    date_hierarchy = "at"
    fields = ["at", "user", "view", "searched", "listed_patients"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[PatientListAccess]:
        # How many patients each row listed, in the list's own query (no query a row).
        return super().get_queryset(request).annotate(listed_count=Count("patients"))

    @admin.display(description="Patients listed", ordering="listed_count")
    def listed(self, obj: PatientListAccess) -> int:
        return int(obj.listed_count)  # type: ignore[attr-defined]

    @admin.display(description="Patients")
    def listed_patients(self, obj: PatientListAccess) -> str:
        return "; ".join(str(patient) for patient in obj.patients.all())

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)
