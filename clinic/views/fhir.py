"""FHIR R4 on the screens: a patient's record as a download, and a new assessment's labs
pre-filled from a FHIR file once the clinician has confirmed them."""

import json
from uuid import UUID

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from clinic import sessions
from clinic.access import get_patient_for_user
from clinic.forms.fhir import FhirLabsConfirmForm, FhirLabsUploadForm
from clinic.requests import AuthenticatedRequest
from interop.fhir.export import patient_bundle

# The export is for clinicians (issue 13). No permission of its own (one would need a
# migration of patients): changing assessments is the clinicians' alone among the roles
# (clinic/roles.py), and the export is the whole clinical record.
EXPORT_PERMISSION = "patients.change_assessment"
FHIR_JSON = "application/fhir+json; charset=utf-8"


@require_http_methods(["GET"])
def patient_fhir_export(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    """The patient's record as a FHIR R4 Bundle, as a file named by the patient's UUID
    only (no name or MRN in a file name that lands in a downloads folder). The access
    log records who took it."""
    patient = get_patient_for_user(request, uuid, perm=EXPORT_PERMISSION)
    bundle = patient_bundle(patient, now=timezone.now())
    response = HttpResponse(json.dumps(bundle, ensure_ascii=False), content_type=FHIR_JSON)
    response["Content-Disposition"] = f'attachment; filename="patient-{patient.uuid}.fhir.json"'
    return response


@require_http_methods(["GET", "POST"])
def assessment_labs_upload(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    """Upload a FHIR Bundle; the labs read from it are shown for confirmation. Nothing is
    kept: the labs travel in the confirmation form's signed token."""
    patient = get_patient_for_user(request, uuid, perm="patients.add_assessment", change=True)
    data = request.POST if request.method == "POST" else None
    form = FhirLabsUploadForm(data, request.FILES if data is not None else None, patient=patient)
    if data is not None and form.is_valid():
        return render(
            request,
            "patients/fhir_labs_confirm.html",
            {
                "patient": patient,
                "found": form.found,
                "confirm": form.confirmation() if form.found.labs else None,
            },
        )
    return render(request, "patients/fhir_labs_upload.html", {"patient": patient, "form": form})


@require_POST
def assessment_labs_confirm(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    """The clinician confirmed the labs: the new-assessment form opens with them filled
    in. Still nothing is saved: that is the assessment form's own Save."""
    patient = get_patient_for_user(request, uuid, perm="patients.add_assessment", change=True)
    form = FhirLabsConfirmForm(request.POST, patient=patient)
    if not form.is_valid():
        upload = FhirLabsUploadForm(patient=patient)
        return render(
            request,
            "patients/fhir_labs_upload.html",
            {"patient": patient, "form": upload, "confirm_errors": form.errors.get("token")},
        )
    request.session[sessions.fhir_labs_prefill(patient.uuid)] = form.cleaned_data["token"]
    return redirect("patients:assessment_create", patient.uuid)
