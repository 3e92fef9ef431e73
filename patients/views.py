from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.http import HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from clinic.requests import AuthenticatedRequest
from patients.forms import ArchiveForm, PatientForm, PatientSearchForm
from patients.models import EditConflict, Patient, PatientAccess

PAGE_SIZE = 25
SEARCH_SESSION_KEY = "patient_search"
HISTORY_SHOWN = 20


def get_patient_for_user(
    request: AuthenticatedRequest, uuid: UUID, *, perm: str = "view_patient"
) -> Patient:
    """The one way views fetch a patient: role check, then lookup, then the access log.

    403 when the user's role may not do `perm` to patients, 404 when no such record.
    """
    if not request.user.has_perm(f"patients.{perm}"):
        raise PermissionDenied
    patient = get_object_or_404(Patient.objects.select_related("archived_by"), uuid=uuid)
    view_name = request.resolver_match.view_name if request.resolver_match else ""
    PatientAccess.objects.create(user=request.user, patient=patient, view=view_name)
    return patient


@permission_required("patients.view_patient", raise_exception=True)
@require_http_methods(["GET", "POST"])
def patient_list(request: AuthenticatedRequest) -> HttpResponse:
    """Find patients by name or MRN.

    The search is posted and kept in the session, so that names and MRNs never appear in
    URLs (and so in proxy or server logs); the page number is the only query parameter.
    """
    if request.method == "POST":
        form = PatientSearchForm(request.POST)
        if form.is_valid():
            request.session[SEARCH_SESSION_KEY] = form.cleaned_data
            return redirect("patients:list")
    else:
        form = PatientSearchForm(initial=request.session.get(SEARCH_SESSION_KEY, {}))

    search = request.session.get(SEARCH_SESSION_KEY, {})
    patients = Patient.objects.all() if search.get("archived") else Patient.objects.active()
    patients = patients.search(search.get("q", ""))
    page = Paginator(patients, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "patients/patient_list.html",
        {"form": form, "page": page, "searching": bool(search.get("q"))},
    )


@permission_required("patients.view_patient", raise_exception=True)
@require_POST
def patient_search_clear(request: AuthenticatedRequest) -> HttpResponse:
    request.session.pop(SEARCH_SESSION_KEY, None)
    return redirect("patients:list")


@permission_required("patients.add_patient", raise_exception=True)
@require_http_methods(["GET", "POST"])
def patient_create(request: AuthenticatedRequest) -> HttpResponse:
    form = PatientForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            patient = form.save()
        except IntegrityError:
            # Another registration took the same MRN between validation and save.
            form.add_error("mrn", "A patient with this MRN already exists.")
        else:
            messages.success(request, "Patient registered.")
            return redirect(patient)
    return render(request, "patients/patient_form.html", {"form": form})


@require_http_methods(["GET"])
def patient_detail(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    patient = get_patient_for_user(request, uuid)
    records = list(
        patient.history.select_related("history_user").order_by("-history_id")[: HISTORY_SHOWN + 1]
    )
    return render(
        request,
        "patients/patient_detail.html",
        {"patient": patient, "changes": describe_changes(records)[:HISTORY_SHOWN]},
    )


@require_http_methods(["GET", "POST"])
def patient_edit(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    patient = get_patient_for_user(request, uuid, perm="change_patient")
    if patient.is_archived:
        messages.error(request, "This record is archived. Restore it before editing.")
        return redirect(patient)
    conflict = None
    form = PatientForm(request.POST if request.method == "POST" else None, instance=patient)
    if request.method == "POST" and form.is_valid():
        try:
            patient.save_edit(expected_version=form.cleaned_data["expected_version"] or 0)
        except EditConflict as error:
            conflict = edit_conflict(form, request.POST, error.current)
            form = conflict["form"]
        except IntegrityError:
            form.add_error("mrn", "A patient with this MRN already exists.")
        else:
            messages.success(request, "Patient record saved.")
            return redirect(patient)
    return render(
        request,
        "patients/patient_form.html",
        {"form": form, "patient": patient, "conflict": conflict},
    )


def edit_conflict(form: PatientForm, submitted: QueryDict, current: Patient) -> dict:
    """Rebuild the form on the newer record, keeping every value the editor typed.

    The hidden version moves to the current one, so saving again is a deliberate choice
    to overwrite, made after seeing what the other person changed.
    """
    data = submitted.copy()
    data["expected_version"] = str(current.version)
    fresh = PatientForm(data, instance=current)
    fresh.is_valid()
    fresh.add_error(
        None,
        "Someone else saved this record after you opened it. Your changes have not been "
        "saved: compare them with the saved values below, then save again to keep yours.",
    )
    last = current.history.select_related("history_user").first()
    differences = [
        {
            "label": form.fields[name].label,
            "saved": display_value(current, name),
            "yours": display_value(form.instance, name),  # the form has set the typed values
        }
        for name in form.Meta.fields
        if getattr(current, name) != getattr(form.instance, name)
    ]
    return {
        "form": fresh,
        "by": last.history_user if last else None,
        "at": last.history_date if last else None,
        "differences": differences,
    }


def display_value(patient: Patient, name: str) -> object:
    get_display = getattr(patient, f"get_{name}_display", None)
    return get_display() if get_display else getattr(patient, name)


@require_http_methods(["GET", "POST"])
def patient_archive(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    patient = get_patient_for_user(request, uuid, perm="archive_patient")
    if patient.is_archived:
        return redirect(patient)
    form = ArchiveForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        patient.archive(by=request.user, reason=form.cleaned_data["reason"])
        messages.success(request, "Patient record archived. It stays readable and can be restored.")
        return redirect(patient)
    return render(request, "patients/patient_archive.html", {"patient": patient, "form": form})


@require_POST
def patient_restore(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    patient = get_patient_for_user(request, uuid, perm="archive_patient")
    if patient.is_archived:
        patient.restore()
        messages.success(request, "Patient record restored.")
    return redirect(patient)


TRACKED_FIELDS = [*PatientForm.Meta.fields, "archive_reason"]


def describe_changes(records: list) -> list[dict]:
    """Turn history records (newest first) into rows: who, when, what changed.

    Diffs are taken between neighbouring records already in memory, so the page needs
    one history query however many changes it shows; the oldest record fetched only
    serves as the base of the one before it.
    """
    rows = []
    for newer, older in zip(records, [*records[1:], None], strict=True):
        if older is None:
            if newer.history_type != "+":
                break  # the base record of a truncated list, not its creation
            summary = "Registered"
        elif newer.archive_reason and not older.archive_reason:
            summary = f"Archived: {newer.archive_reason}"
        elif older.archive_reason and not newer.archive_reason:
            summary = "Restored"
        else:
            delta = newer.diff_against(older, included_fields=PatientForm.Meta.fields)
            labels = [str(PatientForm.base_fields[c.field].label) for c in delta.changes]
            summary = "Changed: " + ", ".join(labels) if labels else "Saved with no changes"
        rows.append({"user": newer.history_user, "at": newer.history_date, "summary": summary})
    return rows
