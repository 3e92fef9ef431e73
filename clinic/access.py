"""The one way a screen reaches a patient's records.

Every view that shows or changes a patient, an assessment, a card or a follow-up fetches
it here, and each helper does the same four things in the same order: the role check
(403, before anything is looked up), the lookup by UUID (404), the access log entry, and,
for a change, the archived guard. A page that lists patients by name or MRN logs them
with `log_listed`, one row a page.
"""

from collections.abc import Callable, Iterable
from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from clinic.requests import AuthenticatedRequest
from guidance.models import Recommendation
from patients.models import Assessment, FollowUp, Patient, PatientAccess, PatientListAccess


class ArchivedPatient(Exception):
    """A change was asked of an archived patient's record. Nothing is changed:
    clinic.middleware.ArchivedPatientMiddleware answers with a message on the patient's
    page."""

    def __init__(self, patient: Patient) -> None:
        super().__init__("The patient's record is archived.")
        self.patient = patient


def view_name(request: HttpRequest) -> str:
    return request.resolver_match.view_name if request.resolver_match else ""


def log_listed(
    request: AuthenticatedRequest, patient_ids: Iterable[int], *, searched: bool = False
) -> None:
    """The access log's row for a page that lists patients by name or MRN: who saw whom."""
    PatientListAccess.record(request.user, patient_ids, view_name(request), searched=searched)


def _get_for_user[M: Model](
    request: AuthenticatedRequest,
    records: QuerySet[M],
    uuid: UUID,
    *,
    perm: str,
    change: bool,
    patient_of: Callable[[M], Patient],
) -> M:
    if not request.user.has_perm(perm):
        raise PermissionDenied
    record = get_object_or_404(records, uuid=uuid)
    patient = patient_of(record)
    PatientAccess.record(request.user, patient, view_name(request))
    if change and patient.is_archived:
        raise ArchivedPatient(patient)
    return record


def get_patient_for_user(
    request: AuthenticatedRequest,
    uuid: UUID,
    *,
    perm: str = "patients.view_patient",
    change: bool = False,
) -> Patient:
    """The patient, for a user whose role has `perm`; `change` refuses an archived one."""
    return _get_for_user(
        request,
        Patient.objects.select_related("archived_by"),
        uuid,
        perm=perm,
        change=change,
        patient_of=lambda patient: patient,
    )


def get_assessment_for_user(
    request: AuthenticatedRequest, uuid: UUID, *, perm: str, change: bool = False
) -> Assessment:
    return _get_for_user(
        request,
        Assessment.objects.select_related("patient", "assessed_by", "evaluation"),
        uuid,
        perm=perm,
        change=change,
        patient_of=lambda assessment: assessment.patient,
    )


def get_card_for_user(
    request: AuthenticatedRequest, uuid: UUID, *, perm: str, change: bool = False
) -> Recommendation:
    return _get_for_user(
        request,
        Recommendation.objects.select_related(
            "rule", "assessment__patient", "assessment__assessed_by", "assessment__evaluation"
        ),
        uuid,
        perm=perm,
        change=change,
        patient_of=lambda card: card.assessment.patient,
    )


def get_followup_for_user(
    request: AuthenticatedRequest, uuid: UUID, *, perm: str, change: bool = False
) -> FollowUp:
    return _get_for_user(
        request,
        FollowUp.objects.select_related("patient", "assigned_to", "recorded_by"),
        uuid,
        perm=perm,
        change=change,
        patient_of=lambda followup: followup.patient,
    )
