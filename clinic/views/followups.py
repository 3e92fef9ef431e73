"""Follow-ups: scheduling, recording what happened, cancelling, and the worklist."""

from datetime import timedelta
from urllib.parse import urlsplit
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from clinic.access import get_followup_for_user, get_patient_for_user, log_listed
from clinic.forms.assessments import live_scores, posted_items
from clinic.forms.followups import (
    FollowUpCancelForm,
    FollowUpNoteForm,
    FollowUpRecordForm,
    FollowUpScheduleForm,
    WorklistFilterForm,
)
from clinic.paging import CappedPage
from clinic.requests import AuthenticatedRequest
from guidance.models import CardStatus, Indicator, Kind, Recommendation
from guidance.services import record_followup
from patients.invitations import Invitation
from patients.models import EditConflict, FollowUp

WORKLIST_DAYS_AHEAD = 7
WORKLIST_PAGE_SIZE = 50  # a morning of calls; more pages follow, most overdue first
RETURN_ADDRESS_MAX_LENGTH = 2000  # the worklist with its filters and page is under 100


def _local_page(address: str) -> bool:
    """Whether a posted return address is a page of this site: a path, no host or scheme
    (no open redirect), nothing a browser would read differently (spaces, control or
    direction characters), short, and one of our routes. Anything else would save the
    follow-up and then answer with an error or a 404 instead of the patient's page."""
    return (
        len(address) <= RETURN_ADDRESS_MAX_LENGTH
        and address.startswith("/")
        and address.isprintable()
        and " " not in address
        and url_has_allowed_host_and_scheme(address, allowed_hosts=None)
        and _resolves(address)
    )


def _resolves(address: str) -> bool:
    try:
        resolve(urlsplit(address).path)
    except Resolver404:
        return False
    return True


@require_http_methods(["GET", "POST"])
def followup_schedule(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    patient = get_patient_for_user(request, uuid, perm="patients.add_followup", change=True)
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
    followup = get_followup_for_user(
        request, uuid, perm="patients.view_followup", change=request.method == "POST"
    )
    patient = followup.patient
    if not followup.is_open:
        return recorded_followup(request, followup)
    if not request.user.has_perm("patients.change_followup"):
        raise PermissionDenied
    # Adherence is asked of accepted options only: nobody "follows" a caution.
    accepted = Recommendation.objects.filter(
        assessment__patient=patient, status=CardStatus.ACCEPTED, rule__kind=Kind.OPTION
    ).select_related("rule")
    form = FollowUpRecordForm(
        request.POST if request.method == "POST" else None,
        instance=followup,
        accepted_cards=accepted,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            following = record_followup(
                followup=followup,
                outcome=data["outcome"],
                by=request.user,
                expected_version=data["expected_version"],
                adherence=form.adherence_answers(),
                next_due_date=data.get("next_due_date"),
                next_kind=data.get("next_kind") or "",
            )
        except EditConflict as error:
            assert isinstance(error.current, FollowUp)
            return recorded_followup(request, error.current)
        note = f" Next one due {following.due_date:%d %b %Y}." if following else ""
        messages.success(
            request, f"Follow-up recorded as {followup.get_status_display().lower()}.{note}"
        )
        back = request.POST.get("next", "")
        return redirect(back if _local_page(back) else patient.get_absolute_url())
    values = posted_items(request.POST) if request.method == "POST" else {}
    return render(
        request,
        "patients/followup_record.html",
        {
            "form": form,
            "followup": followup,
            "patient": patient,
            "scores": live_scores(values, form.rescore),
        },
    )


def recorded_followup(request: AuthenticatedRequest, followup: FollowUp) -> HttpResponse:
    """What was recorded at a follow-up. When someone posts a record for a follow-up that
    another person has recorded (or cancelled) meanwhile, what they typed comes back in the
    note form, to add to the record rather than lose."""
    note_form = FollowUpNoteForm()
    if request.method == "POST":
        typed = [
            (label, request.POST.get(name, "").strip())
            for name, label in [
                ("missed_reason", "Why missed"),
                ("side_effects", "Side effects"),
                ("notes", "Notes"),
            ]
        ]
        text = "\n".join(f"{label}: {value}" for label, value in typed if value)
        note_form = FollowUpNoteForm(initial={"text": text[:5000]})
        who = followup.recorded_by or "Someone else"
        messages.error(
            request,
            f"{who} {followup.get_status_display().lower()} this follow-up while you were "
            "recording it, so your record was not saved. What you typed is below: add it as "
            "a note to theirs.",
        )
    return render_recorded(request, followup, note_form)


def render_recorded(
    request: AuthenticatedRequest, followup: FollowUp, note_form: FollowUpNoteForm
) -> HttpResponse:
    return render(
        request,
        "patients/followup_detail.html",
        {
            "followup": followup,
            "patient": followup.patient,
            "adherence": followup.adherence.select_related("recommendation__rule"),
            "note_form": note_form,
        },
    )


@require_POST
def followup_note(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    """Add a note to a recorded follow-up."""
    followup = get_followup_for_user(request, uuid, perm="patients.change_followup", change=True)
    if followup.is_open:
        return redirect(followup)  # record it instead
    form = FollowUpNoteForm(request.POST)
    if not form.is_valid():
        return render_recorded(request, followup, form)
    followup.add_note(by=request.user, text=form.cleaned_data["text"])
    messages.success(request, "Note added to the follow-up record.")
    return redirect(followup)


@require_http_methods(["GET", "POST"])
def followup_cancel(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    followup = get_followup_for_user(request, uuid, perm="patients.change_followup", change=True)
    if not followup.is_open:
        return redirect(followup)
    form = FollowUpCancelForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            followup.cancel(by=request.user, reason=form.cleaned_data["reason"])
        except EditConflict:
            messages.error(request, "Someone else recorded or cancelled this follow-up meanwhile.")
            return redirect(followup)
        messages.success(request, "Follow-up cancelled; the record and its reason are kept.")
        return redirect(followup.patient)
    return render(
        request,
        "patients/followup_cancel.html",
        {"form": form, "followup": followup, "patient": followup.patient},
    )


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
    log_listed(request, (followup.patient_id for followup in shown))
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
    # Patients' own answers waiting for a clinician (patients.invitations), oldest first.
    answers = list(
        Invitation.objects.awaiting_review()
        .select_related("patient")
        .order_by("submitted_at", "pk")[:WORKLIST_PAGE_SIZE]
    )
    log_listed(request, (invitation.patient_id for invitation in answers))
    return render(
        request,
        "patients/worklist.html",
        {
            "answers": answers,
            "form": form,
            "buckets": buckets,
            "critical": critical,
            "today": today,
            "page": page,
            "filters": filters.urlencode(),
        },
    )
