from collections.abc import Iterable, Mapping
from datetime import datetime, time, timedelta
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.forms import ModelForm
from django.http import HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from clinic.requests import AuthenticatedRequest
from guidance.models import CardStatus, Decision, Indicator, Recommendation
from guidance.pages import guidance_for_page
from guidance.services import evaluate_assessment
from patients.charts import trend_chart
from patients.facts import WINDOW_LABELS
from patients.forms import (
    ASSESSMENT_FIELDS,
    ASSESSMENT_SECTIONS,
    ArchiveForm,
    AssessmentForm,
    FollowUpCancelForm,
    FollowUpRecordForm,
    FollowUpScheduleForm,
    PatientForm,
    PatientSearchForm,
    WorklistFilterForm,
)
from patients.history import change_rows
from patients.mimics import MIMIC_NAMES
from patients.models import (
    Assessment,
    EditConflict,
    FollowUp,
    FollowUpStatus,
    Patient,
    PatientAccess,
    Versioned,
)
from patients.scales import ITEMS, SCALES, Progress, progress
from patients.services import record_followup, refresh_latest_scores

PAGE_SIZE = 25
# What the patient list shows: loading only these keeps a page of rows cheap.
LIST_COLUMNS = ["uuid", "mrn", "given_name", "family_name", "date_of_birth", "sex", "archived_at"]
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
    log_access(request, patient)
    return patient


class CappedPage:
    """A page of rows, with a count that stops at COUNT_CAP. Counting 100,000 patients or
    60,000 due follow-ups exactly costs more than the page itself (20 ms on PostgreSQL),
    and "more than 1,000" says enough: people search rather than page that far."""

    COUNT_CAP = 1000

    def __init__(self, rows, number: str | None, size: int) -> None:
        try:
            self.number = max(1, int(number or 1))
        except ValueError:
            self.number = 1
        start = (self.number - 1) * size
        fetched = list(rows[start : start + size + 1])
        self.rows = fetched[:size]
        self.has_next = len(fetched) > size
        self.has_previous = self.number > 1
        self.count = rows[: self.COUNT_CAP + 1].count()
        self.capped = self.count > self.COUNT_CAP
        self.start_index = start + 1 if self.rows else 0
        self.end_index = start + len(self.rows)


def log_access(request: AuthenticatedRequest, patient: Patient) -> None:
    """The access log: who opened which patient's record, on which page, when."""
    view_name = request.resolver_match.view_name if request.resolver_match else ""
    PatientAccess.objects.create(user=request.user, patient=patient, view=view_name)


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
    patients = patients.search(search.get("q", "")).only(*LIST_COLUMNS)
    page = CappedPage(patients, request.GET.get("page"), PAGE_SIZE)
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
    assessments = list(patient.assessments.for_patient_page())
    followups = list(
        patient.followups.select_related("assigned_to", "recorded_by").order_by("-due_date", "-pk")
    )
    decisions = list(
        Decision.objects.filter(recommendation__assessment__patient=patient)
        .select_related("by", "recommendation__rule", "recommendation__assessment")
        .order_by("-at")[:TIMELINE_DECISIONS]
    )
    return render(
        request,
        "patients/patient_detail.html",
        {
            "patient": patient,
            "assessments": assessments,
            "upcoming": sorted((f for f in followups if f.is_open), key=lambda f: f.due_date),
            "timeline": timeline(assessments, decisions, followups),
            "charts": trend_charts(assessments, followups),
            "changes": patient_changes(records)[:HISTORY_SHOWN],
        },
    )


TIMELINE_DECISIONS = 50


def timeline(assessments: list, decisions: list, followups: list) -> list[dict]:
    """Assessments, card decisions and follow-ups that happened, newest first."""
    events = [
        {"at": a.assessed_at, "kind": "assessment", "item": a, "url": a.get_absolute_url()}
        for a in assessments
    ]
    events += [
        {
            "at": d.at,
            "kind": "decision",
            "item": d,
            "url": d.recommendation.assessment.get_absolute_url()
            + f"#card-{d.recommendation.uuid}",
        }
        for d in decisions
    ]
    events += [
        {"at": f.recorded_at, "kind": "followup", "item": f, "url": f.get_absolute_url()}
        for f in followups
        if not f.is_open and f.recorded_at
    ]
    return sorted(events, key=lambda event: event["at"], reverse=True)


def trend_charts(assessments: list, followups: list) -> list:
    """IRLS and COWS over time, from assessments and follow-up re-scores."""
    charts = []
    last_dose_at = next((a.last_dose_at for a in assessments if a.last_dose_at), None)
    for code in ("irls", "cows"):
        measurements = [
            (a.assessed_at, getattr(a, f"{code}_total"), "assessment")
            for a in assessments
            if getattr(a, f"{code}_total") is not None
        ] + [
            (
                timezone.make_aware(datetime.combine(f.happened_on, time(12))),
                getattr(f, f"{code}_total"),
                "follow-up",
            )
            for f in followups
            if f.status == FollowUpStatus.COMPLETED
            and f.happened_on
            and getattr(f, f"{code}_total") is not None
        ]
        chart = trend_chart(SCALES[code], measurements, last_dose_at)
        if chart:
            charts.append(chart)
    return charts


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


def edit_conflict(form: ModelForm, submitted: QueryDict, current: Versioned, **form_kwargs) -> dict:
    """Rebuild the form on the newer record, keeping every value the editor typed.

    The hidden version moves to the current one, so saving again is a deliberate choice
    to overwrite, made after seeing what the other person changed.
    """
    data = submitted.copy()
    data["expected_version"] = str(current.version)
    fresh = type(form)(data, instance=current, **form_kwargs)
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
        for name in form._meta.fields or []
        if getattr(current, name) != getattr(form.instance, name)
    ]
    return {
        "form": fresh,
        "by": last.history_user if last else None,
        "at": last.history_date if last else None,
        "differences": differences,
    }


def display_value(record: Versioned, name: str) -> object:
    get_display = getattr(record, f"get_{name}_display", None)
    return get_display() if get_display else getattr(record, name)


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


def patient_changes(records: list) -> list[dict]:
    def archiving(newer, older) -> str | None:
        if newer.archive_reason and not older.archive_reason:
            return f"Archived: {newer.archive_reason}"
        if older.archive_reason and not newer.archive_reason:
            return "Restored"
        return None

    fields = PatientForm.Meta.fields
    labels = {name: str(PatientForm.base_fields[name].label) for name in fields}
    return change_rows(
        records, fields=fields, labels=labels, created="Registered", summarise=archiving
    )


# Assessments


def get_assessment_for_user(request: AuthenticatedRequest, uuid: UUID, *, perm: str) -> Assessment:
    """Like get_patient_for_user: role check, lookup, and an entry in the access log."""
    if not request.user.has_perm(f"patients.{perm}"):
        raise PermissionDenied
    assessment = get_object_or_404(
        Assessment.objects.select_related("patient", "assessed_by", "evaluation"), uuid=uuid
    )
    log_access(request, assessment.patient)
    return assessment


def live_scores(values: Mapping[str, object], codes: Iterable[str] = SCALES) -> list[Progress]:
    return [progress(SCALES[code], values) for code in codes if code in SCALES]


def posted_items(data: QueryDict) -> dict[str, int]:
    """Scale answers from a posted form, as numbers; anything else is left out."""
    answers = {}
    for key in ITEMS:
        raw = data.get(key, "")
        if raw.isdigit():
            answers[key] = int(raw)
    return answers


@require_http_methods(["GET", "POST"])
def assessment_create(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    patient = get_patient_for_user(request, uuid, perm="add_assessment")
    if patient.is_archived:
        messages.error(request, "This record is archived. Restore it before recording assessments.")
        return redirect(patient)
    data = request.POST if request.method == "POST" else None
    form = AssessmentForm(
        data, patient=patient, instance=Assessment(patient=patient, assessed_by=request.user)
    )
    if data and "preview" not in data and form.is_valid():
        with transaction.atomic():
            assessment = form.save()
            evaluate_assessment(assessment=assessment)
            refresh_latest_scores(patient)
        messages.success(request, "Assessment saved. Review the suggestions below.")
        return redirect(assessment)
    values = posted_items(data) if data else {}
    return render(
        request,
        "patients/assessment_form.html",
        {"form": form, "patient": patient, "scores": live_scores(values)},
    )


@require_http_methods(["GET", "POST"])
def assessment_edit(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    assessment = get_assessment_for_user(request, uuid, perm="change_assessment")
    patient = assessment.patient
    data = request.POST if request.method == "POST" else None
    form = AssessmentForm(data, patient=patient, instance=assessment)
    conflict = None
    if data and "preview" not in data and form.is_valid():
        try:
            with transaction.atomic():
                assessment.save_edit(expected_version=form.cleaned_data["expected_version"])
                evaluate_assessment(assessment=assessment)
                refresh_latest_scores(patient)
        except EditConflict as error:
            conflict = edit_conflict(form, data, error.current, patient=patient)
            form = conflict["form"]
        else:
            messages.success(
                request,
                "Assessment corrected; the earlier version is kept. Suggestions were "
                "re-evaluated: decided ones stay as they were.",
            )
            return redirect(assessment)
    values = posted_items(data) if data else assessment.entered_values()
    return render(
        request,
        "patients/assessment_form.html",
        {
            "form": form,
            "patient": patient,
            "assessment": assessment,
            "scores": live_scores(values),
            "conflict": conflict,
        },
    )


@require_POST
def assessment_scores(request: AuthenticatedRequest) -> HttpResponse:
    """The live totals panel, re-rendered from the answers so far by the scale registry."""
    allowed = ["patients.add_assessment", "patients.change_assessment", "patients.change_followup"]
    if not any(request.user.has_perm(perm) for perm in allowed):
        raise PermissionDenied
    codes = request.GET["scales"].split(",") if request.GET.get("scales") else list(SCALES)
    return render(
        request,
        "patients/assessment_form.html#scores",
        {"scores": live_scores(posted_items(request.POST), codes)},
    )


@require_http_methods(["GET"])
def assessment_detail(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    assessment = get_assessment_for_user(request, uuid, perm="view_assessment")
    return render_assessment(request, assessment)


def render_assessment(
    request: AuthenticatedRequest,
    assessment: Assessment,
    *,
    failed_decision: tuple[int, Any] | None = None,
) -> HttpResponse:
    """The assessment page. `failed_decision` is a card id and its bound DecisionForm
    with errors, shown in place so that nothing typed is lost."""
    records = list(
        assessment.history.select_related("history_user").order_by("-history_id")[
            : HISTORY_SHOWN + 1
        ]
    )
    labels = {name: field_label(name) for name in ASSESSMENT_FIELDS}
    facts = assessment.facts()
    return render(
        request,
        "patients/assessment_detail.html",
        {
            "assessment": assessment,
            "patient": assessment.patient,
            "facts": facts,
            "window": WINDOW_LABELS.get(facts["withdrawal_window"] or ""),
            "windows": WINDOW_LABELS,
            "scores": assessment.scores(),
            "sections": entered_sections(assessment),
            "guidance": guidance_for_page(assessment, failed_decision),
            "changes": change_rows(
                records, fields=ASSESSMENT_FIELDS, labels=labels, created="Recorded"
            )[:HISTORY_SHOWN],
        },
    )


def field_label(name: str) -> str:
    return str(getattr(Assessment._meta.get_field(name), "verbose_name", name))


def entered_sections(assessment: Assessment) -> list[dict]:
    """What was entered, section by section, in the order of the form."""
    sections = []
    for code, title, names in ASSESSMENT_SECTIONS:
        if code in SCALES:
            continue  # scales are shown with their totals
        rows = []
        for name in names:
            value = display_value(assessment, name)
            if name == "mimics":
                value = ", ".join(MIMIC_NAMES[code] for code in assessment.mimics) or None
            elif isinstance(value, datetime):
                value = date_format(timezone.localtime(value), "j M Y H:i")
            rows.append({"label": field_label(name), "value": value})
        sections.append({"title": title, "rows": rows})
    return sections


# Follow-ups and the worklist


def get_followup_for_user(request: AuthenticatedRequest, uuid: UUID, *, perm: str) -> FollowUp:
    if not request.user.has_perm(f"patients.{perm}"):
        raise PermissionDenied
    followup = get_object_or_404(
        FollowUp.objects.select_related("patient", "assigned_to", "recorded_by"), uuid=uuid
    )
    log_access(request, followup.patient)
    return followup


@require_http_methods(["GET", "POST"])
def followup_schedule(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    patient = get_patient_for_user(request, uuid, perm="add_followup")
    if patient.is_archived:
        messages.error(request, "This record is archived. Restore it before scheduling.")
        return redirect(patient)
    form = FollowUpScheduleForm(
        request.POST if request.method == "POST" else None,
        instance=FollowUp(patient=patient, scheduled_by=request.user),
    )
    if request.method == "POST" and form.is_valid():
        followup = form.save()
        messages.success(
            request, f"{followup.get_kind_display()} scheduled for {followup.due_date:%d %b %Y}."
        )
        return redirect(patient)
    return render(request, "patients/followup_schedule.html", {"form": form, "patient": patient})


@require_http_methods(["GET", "POST"])
def followup_record(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    """Record a due follow-up; once recorded, the same address shows what was recorded."""
    followup = get_followup_for_user(request, uuid, perm="view_followup")
    patient = followup.patient
    if not followup.is_open:
        if request.method == "POST":
            messages.error(
                request,
                f"This follow-up was already {followup.get_status_display().lower()} by "
                f"{followup.recorded_by}; what you entered was not saved.",
            )
        adherence = followup.adherence.select_related("recommendation__rule")
        return render(
            request,
            "patients/followup_detail.html",
            {"followup": followup, "patient": patient, "adherence": adherence},
        )
    if not request.user.has_perm("patients.change_followup"):
        raise PermissionDenied
    accepted = Recommendation.objects.filter(
        assessment__patient=patient, status=CardStatus.ACCEPTED
    ).select_related("rule")
    form = FollowUpRecordForm(
        request.POST if request.method == "POST" else None,
        instance=followup,
        accepted_cards=accepted,
    )
    if request.method == "POST" and form.is_valid():
        try:
            following = record_followup(followup=followup, form=form, by=request.user)
        except EditConflict:
            messages.error(
                request, "Someone else recorded or cancelled this follow-up meanwhile: see below."
            )
            return redirect("patients:followup_record", uuid=followup.uuid)
        note = f" Next one due {following.due_date:%d %b %Y}." if following else ""
        messages.success(
            request, f"Follow-up recorded as {followup.get_status_display().lower()}.{note}"
        )
        back = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
            back = patient.get_absolute_url()  # only local addresses: no open redirect
        return redirect(back)
    values = posted_items(request.POST) if request.method == "POST" else {}
    return render(
        request,
        "patients/followup_record.html",
        {
            "form": form,
            "followup": followup,
            "patient": patient,
            "scores": live_scores(values, form.RESCORE),
        },
    )


@require_http_methods(["GET", "POST"])
def followup_cancel(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    followup = get_followup_for_user(request, uuid, perm="change_followup")
    if not followup.is_open:
        return redirect(followup)
    form = FollowUpCancelForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        followup.cancel(by=request.user, reason=form.cleaned_data["reason"])
        messages.success(request, "Follow-up cancelled; the record and its reason are kept.")
        return redirect(followup.patient)
    return render(
        request,
        "patients/followup_cancel.html",
        {"form": form, "followup": followup, "patient": followup.patient},
    )


WORKLIST_DAYS_AHEAD = 7
WORKLIST_PAGE_SIZE = 50  # a morning of calls; more pages follow, most overdue first


@permission_required("patients.view_followup", raise_exception=True)
@require_http_methods(["GET"])
def worklist(request: AuthenticatedRequest) -> HttpResponse:
    """Scheduled follow-ups overdue, due today and due in the next week.

    A fixed number of queries whatever the number of rows: count, one page of rows with
    their patients and assignees, and the "undecided critical card" flags of that page.
    """
    today = timezone.localdate()
    form = WorklistFilterForm(request.GET or None, user=request.user)
    # Archiving a patient cancels their open follow-ups, so no join is needed here.
    rows = FollowUp.objects.scheduled().filter(
        due_date__lte=today + timedelta(days=WORKLIST_DAYS_AHEAD)
    )
    if form.is_valid():
        rows = form.apply(rows)
    # Due date, then first scheduled: the order of the (status, due_date) index, so that a
    # page is read straight off it however long the list.
    rows = rows.select_related("patient", "assigned_to").order_by("due_date", "pk")
    page = CappedPage(rows, request.GET.get("page"), WORKLIST_PAGE_SIZE)
    shown = page.rows
    # One query for the flags of the page's patients, rather than a subquery per row.
    critical = set(
        Recommendation.objects.filter(
            assessment__patient__in={f.patient_id for f in shown},
            status=CardStatus.PENDING,
            rule__indicator=Indicator.CRITICAL,
        ).values_list("assessment__patient_id", flat=True)
    )
    buckets = [
        ("overdue", "Overdue", [f for f in shown if f.due_date < today]),
        ("today", "Due today", [f for f in shown if f.due_date == today]),
        (
            "soon",
            f"Due in the next {WORKLIST_DAYS_AHEAD} days",
            [f for f in shown if f.due_date > today],
        ),
    ]
    filters = request.GET.copy()
    filters.pop("page", None)
    return render(
        request,
        "patients/worklist.html",
        {
            "form": form,
            "buckets": buckets,
            "critical": critical,
            "today": today,
            "page": page,
            "filters": filters.urlencode(),
        },
    )


@require_http_methods(["GET"])
def patient_summary(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    """A print-friendly summary for the paper chart."""
    patient = get_patient_for_user(request, uuid)
    latest = patient.assessments.order_by("-assessed_at").first()
    cards = (
        Recommendation.objects.filter(assessment__patient=patient)
        .exclude(status=CardStatus.PENDING)
        .select_related("rule", "assessment")
        .prefetch_related(Prefetch("decisions", queryset=Decision.objects.select_related("by")))
        .order_by("-assessment__assessed_at", "rule__code")
    )
    return render(
        request,
        "patients/patient_summary.html",
        {
            "patient": patient,
            "latest": latest,
            "latest_scores": patient.latest_scores(),
            "accepted": [c for c in cards if c.status == CardStatus.ACCEPTED],
            "declined": [c for c in cards if c.status == CardStatus.DECLINED],
            "deferred": [c for c in cards if c.status == CardStatus.DEFERRED],
            "upcoming": patient.followups.scheduled().order_by("due_date").first(),
            "printed_at": timezone.now(),
        },
    )
