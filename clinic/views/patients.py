"""Patient records: the list and search, registration, the patient page, editing,
archiving and the printable summary."""

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.db import IntegrityError
from django.db.models import Prefetch, Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from clinic import launches
from clinic.access import get_patient_for_user, log_listed
from clinic.conflicts import merge
from clinic.forms.patients import ArchiveForm, PatientForm, PatientSearchForm
from clinic.pages.history import patient_changes
from clinic.pages.patients import patient_rows, timeline, trend_charts
from clinic.paging import CappedPage
from clinic.requests import AuthenticatedRequest
from guidance.models import CardStatus, Decision, Indicator, Recommendation, Strength
from patients.models import EditConflict, FollowUpStatus, Patient

PAGE_SIZE = 25
# What the patient list shows (clinic.pages.patients.ListedPatient): read as named tuples, these
# cost half as much as a page of Patient instances.
# The id is for the access log's row of the page.
LIST_COLUMNS = [
    "id",
    "uuid",
    "mrn",
    "given_name",
    "family_name",
    "date_of_birth",
    "sex",
    "archived_at",
]
SEARCH_SESSION_KEY = "patient_search"
INVITATIONS_SHOWN = 10
HISTORY_SHOWN = 20
TIMELINE_DECISIONS = 50
DECISION_COLUMNS = [
    "at",
    "status",
    "decline_reason",
    *(f"by__{name}" for name in ["username", "first_name", "last_name"]),
    "recommendation__uuid",
    "recommendation__rule__title",
    "recommendation__assessment__uuid",
]


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
    listed = patients.search(search.get("q", "")).values_list(*LIST_COLUMNS, named=True)
    page = CappedPage(listed, request.GET.get("page"), PAGE_SIZE)
    log_listed(request, (row.id for row in page.rows), searched=bool(search.get("q")))
    return render(
        request,
        "patients/patient_list.html",
        {
            "form": form,
            "page": page,
            "rows": patient_rows(page.rows),
            "searching": bool(search.get("q")),
        },
    )


@permission_required("patients.view_patient", raise_exception=True)
@require_POST
def patient_search_clear(request: AuthenticatedRequest) -> HttpResponse:
    request.session.pop(SEARCH_SESSION_KEY, None)
    return redirect("patients:list")


@permission_required("patients.add_patient", raise_exception=True)
@require_http_methods(["GET", "POST"])
def patient_create(request: AuthenticatedRequest) -> HttpResponse:
    # Filled in from an EHR launch whose patient is not ours yet (clinic.views.smart).
    from_launch = request.method == "GET" and request.GET.get("from") == "launch"
    form = PatientForm(
        request.POST if request.method == "POST" else None,
        initial=launches.registration_initial(request) if from_launch else None,
    )
    if request.method == "POST" and form.is_valid():
        try:
            patient = form.save()
        except IntegrityError:
            # Another registration took the same MRN between validation and save.
            form.refuse_duplicate_mrn()
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
    # Only the columns the timeline and the "awaiting review" badges show: with every
    # column of a decision's card, rule and assessment (122), building the query and the
    # rows took longer than the database.
    decisions = list(
        Decision.objects.filter(recommendation__assessment__patient=patient)
        .select_related("by", "recommendation__rule", "recommendation__assessment")
        .only(*DECISION_COLUMNS)
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
            "invitations": patient.invitations.select_related("created_by", "assessment")[
                :INVITATIONS_SHOWN
            ]
            if request.user.has_perm("patients.view_invitation")
            else [],
            "changes": patient_changes(records)[:HISTORY_SHOWN],
            # What the header lists of the waiting cards, in the queue's order: the
            # critical ones, the strong options, and the warnings (Rule.rank).
            "waiting": Recommendation.objects.awaiting_review()
            .filter(assessment__patient=patient)
            .filter(
                Q(rule__indicator__in=[Indicator.CRITICAL, Indicator.WARNING])
                | Q(rule__strength=Strength.STRONG)
            )
            .select_related("rule", "assessment")
            .only("uuid", "rule__indicator", "rule__strength", "rule__title", "assessment__uuid"),
        },
    )


@require_http_methods(["GET", "POST"])
def patient_edit(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    patient = get_patient_for_user(request, uuid, perm="patients.change_patient", change=True)
    conflict = None
    form = PatientForm(request.POST if request.method == "POST" else None, instance=patient)
    if request.method == "POST" and form.is_valid():
        expected = form.cleaned_data["expected_version"]
        try:
            patient.save_edit(expected_version=expected)
        except EditConflict as error:
            conflict = merge(form, error.current, expected)
            form = conflict.form
        except IntegrityError:
            form.refuse_duplicate_mrn()
        else:
            messages.success(request, "Patient record saved.")
            return redirect(patient)
    return render(
        request,
        "patients/patient_form.html",
        {"form": form, "patient": patient, "conflict": conflict},
    )


@require_http_methods(["GET", "POST"])
def patient_archive(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    patient = get_patient_for_user(request, uuid, perm="patients.archive_patient")
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
    patient = get_patient_for_user(request, uuid, perm="patients.archive_patient")
    if patient.is_archived:
        patient.restore()
        messages.success(request, "Patient record restored.")
    return redirect(patient)


@require_http_methods(["GET"])
def patient_summary(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    """A handover for the paper chart: who, the latest scores and labs, what was decided
    (accepted options, acknowledged cautions, declined options with reasons), what is
    still undecided, the trend, and who printed it when."""
    patient = get_patient_for_user(request, uuid)
    assessments = list(patient.assessments.for_patient_page())
    latest = assessments[0] if assessments else None
    followups = list(patient.followups.select_related("assigned_to", "recorded_by"))
    later_rescores = [
        f
        for f in followups
        if f.status == FollowUpStatus.COMPLETED
        and f.happened_on
        and latest
        and f.happened_on >= timezone.localdate(latest.assessed_at)
        and (f.irls_total is not None or f.cows_total is not None)
    ]
    cards = list(
        Recommendation.objects.filter(assessment__patient=patient)
        .select_related("rule", "assessment")
        .prefetch_related(Prefetch("decisions", queryset=Decision.objects.select_related("by")))
        .order_by("-assessment__assessed_at", "rule__code")
    )

    def having(status: str) -> list[Recommendation]:
        return [card for card in cards if card.status == status]

    # Under each accepted option, the cautions acknowledged with it (product.md 5.5).
    with_option: dict[int, list[Recommendation]] = {}
    for card in having(CardStatus.ACKNOWLEDGED):
        decision = card.latest_decision
        if decision is not None and decision.with_option_id is not None:
            with_option.setdefault(decision.with_option_id, []).append(card)

    return render(
        request,
        "patients/patient_summary.html",
        {
            "patient": patient,
            "latest": latest,
            "facts": latest.facts() if latest else None,
            "later_rescores": sorted(later_rescores, key=lambda f: f.happened_on or 0),
            "accepted": [(card, with_option.get(card.pk, [])) for card in having("accepted")],
            "acknowledged": having(CardStatus.ACKNOWLEDGED),
            "declined": having(CardStatus.DECLINED),
            "deferred": having(CardStatus.DEFERRED),
            "undecided": having(CardStatus.PENDING),
            "charts": trend_charts(assessments, followups),
            "invitations": patient.invitations.select_related("created_by", "assessment")[
                :INVITATIONS_SHOWN
            ]
            if request.user.has_perm("patients.view_invitation")
            else [],
            "upcoming": next(
                (f for f in sorted(followups, key=lambda f: f.due_date) if f.is_open), None
            ),
            "printed_at": timezone.now(),
            "printed_by": request.user,
        },
    )
