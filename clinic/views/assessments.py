"""Assessments and their cards: recording, correcting, the live totals, the assessment
page, and a clinician's decision on a card."""

from contextlib import nullcontext
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from clinic import launches, sessions
from clinic.access import (
    get_assessment_for_user,
    get_card_for_user,
    get_patient_for_user,
    log_listed,
)
from clinic.conflicts import merge
from clinic.forms.assessments import AssessmentForm, DecisionForm, live_scores, posted_items
from clinic.pages.assessments import card_page, entered_sections
from clinic.pages.history import assessment_changes
from clinic.pages.reported import AnswersTaken, patient_answers
from clinic.paging import CappedPage
from clinic.panel import panel_for
from clinic.requests import AuthenticatedRequest
from guidance.models import CardStatus, Category, Kind, Recommendation
from guidance.services import decide_together, save_assessment
from patients.facts import WINDOW_LABELS
from patients.models import Assessment, EditConflict
from patients.scales import SCALES

HISTORY_SHOWN = 20
TAKEN = (
    "Nothing was saved: the patient's answers were taken into an assessment meanwhile, "
    "or cannot be used. The patient's page shows it."
)


@require_http_methods(["GET", "POST"])
def assessment_create(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    patient = get_patient_for_user(request, uuid, perm="patients.add_assessment", change=True)
    data = request.POST if request.method == "POST" else None
    # Labs confirmed from a FHIR file (clinic.views.fhir) fill the form once, when it opens.
    prefilled = (
        request.session.pop(sessions.fhir_labs_prefill(patient.uuid), {}) if not data else {}
    )
    # A patient's own answers (patients.invitations), once a clinician starts from them.
    asked = (data or request.GET).get("from_invitation")
    reported = patient_answers(patient, asked)
    if asked and reported is None and data:
        # Started from answers that another assessment has taken since: saving would
        # record the patient's values as the clinician's.
        messages.error(request, TAKEN)
        return redirect(patient)
    # On the new record, not only as the form's initial values: the live panel (creatinine
    # clearance) reads them too.
    assessment = Assessment(
        patient=patient,
        assessed_by=request.user,
        **{name: lab["value"] for name, lab in prefilled.items()},
        **(reported.values() if reported else {}),
    )
    form = AssessmentForm(data, patient=patient, instance=assessment)
    for name in reported.names if reported else []:
        field = form.fields[name]
        field.help_text = f"Patient-reported. {field.help_text}".strip()
    if data and "preview" not in data and form.is_valid():
        assessment = form.save(commit=False)
        try:
            # With the patient's answers, the save and their linking are one transaction.
            with transaction.atomic() if reported else nullcontext():
                if reported:
                    assessment.patient_reported = reported.kept_in(assessment)
                save_assessment(assessment=assessment)
                if reported:
                    reported.taken_into(assessment)
        except AnswersTaken:
            messages.error(request, TAKEN)
            return redirect(patient)
        messages.success(request, "Assessment saved. Review the suggestions below.")
        return redirect(assessment)
    return render(
        request,
        "patients/assessment_form.html",
        {
            "form": form,
            "patient": patient,
            "panel": panel_for(form.instance, data),
            "prefilled": [{"label": form[name].label, **lab} for name, lab in prefilled.items()],
            "reported": reported,
            "ehr_launch": launches.launch_for(request, patient) if not data else None,
        },
    )


@require_http_methods(["GET", "POST"])
def assessment_edit(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    assessment = get_assessment_for_user(
        request, uuid, perm="patients.change_assessment", change=True
    )
    patient = assessment.patient
    data = request.POST if request.method == "POST" else None
    form = AssessmentForm(data, patient=patient, instance=assessment)
    conflict = None
    if data and "preview" not in data and form.is_valid():
        expected = form.cleaned_data["expected_version"]
        try:
            save_assessment(
                assessment=assessment,
                expected_version=expected,
                reason=form.cleaned_data["change_reason"],
            )
        except EditConflict as error:
            assert isinstance(error.current, Assessment)
            conflict = merge(form, error.current, expected, patient=patient)
            form = conflict.form
        else:
            messages.success(
                request,
                "Assessment corrected; the earlier version is kept. Suggestions were "
                "re-evaluated: decided ones stay as they were.",
            )
            return redirect(assessment)
    # After a conflict, the panel shows what the merged form shows.
    panel = panel_for(conflict.merged, None) if conflict else panel_for(assessment, data)
    return render(
        request,
        "patients/assessment_form.html",
        {
            "form": form,
            "patient": patient,
            "assessment": assessment,
            "panel": panel,
            "conflict": conflict,
        },
    )


@require_POST
def assessment_create_live(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    """The new assessment's live panel, from the form as filled so far (htmx)."""
    patient = get_patient_for_user(request, uuid, perm="patients.add_assessment", change=True)
    assessment = Assessment(patient=patient, assessed_by=request.user)
    return render_panel(request, assessment)


@require_POST
def assessment_edit_live(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    """The correction's live panel (htmx): "previous" is the IRLS before this one."""
    assessment = get_assessment_for_user(
        request, uuid, perm="patients.change_assessment", change=True
    )
    return render_panel(request, assessment)


def render_panel(request: AuthenticatedRequest, assessment: Assessment) -> HttpResponse:
    return render(
        request,
        "patients/assessment_form.html#panel",
        {"panel": panel_for(assessment, request.POST, live=True), "live": True},
    )


@require_POST
def assessment_scores(request: AuthenticatedRequest) -> HttpResponse:
    """The live totals of a follow-up's re-score, from the answers so far by the scale
    registry (an assessment's panel, with its derived facts, is assessment_*_live)."""
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
    assessment = get_assessment_for_user(request, uuid, perm="patients.view_assessment")
    return render_assessment(request, assessment)


def render_assessment(
    request: AuthenticatedRequest,
    assessment: Assessment,
    *,
    failed_decision: tuple[int, DecisionForm] | None = None,
) -> HttpResponse:
    """The assessment page. `failed_decision` is a card id and its bound DecisionForm
    with errors, shown in place so that nothing typed is lost."""
    records = list(
        assessment.history.select_related("history_user").order_by("-history_id")[
            : HISTORY_SHOWN + 1
        ]
    )
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
            "guidance": card_page(assessment, failed_decision),
            "changes": assessment_changes(records)[:HISTORY_SHOWN],
        },
    )


@require_POST
def card_decide(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    """Decide one card: accept, decline with a reason or defer an option; acknowledge or
    defer a caution. With htmx the guidance section comes back in place; without
    JavaScript the assessment page does."""
    card = get_card_for_user(request, uuid, perm="guidance.decide_recommendation", change=True)
    form = DecisionForm(request.POST, card=card)
    if not form.is_valid():
        # The card again, open at the field in error, with what is wrong said once at
        # the top: a long page would otherwise hide the card's message.
        problems = " ".join(str(error) for errors in form.errors.values() for error in errors)
        said = f"“{card.rule.title}” was not decided: {problems}"
        return decided(request, card, said, error=True, failed=(card.pk, form))
    try:
        decision = card.decide(
            status=form.cleaned_data["status"],
            reason=form.cleaned_data["reason"],
            comment=form.cleaned_data["comment"],
            by=request.user,
            expected_version=form.cleaned_data["expected_version"],
        )
    except EditConflict:
        said = (
            f"“{card.rule.title}” was decided by someone else while you were reading. "
            "Their decision is shown below; yours was not recorded."
        )
        return decided(request, card, said, error=True)
    return decided(request, card, f"{decision.get_status_display()}: {card.rule.title}")


def decided(
    request: AuthenticatedRequest,
    card: Recommendation,
    said: str,
    *,
    error: bool = False,
    failed: tuple[int, DecisionForm] | None = None,
) -> HttpResponse:
    """The answer to a decision on one card."""
    anchor = f"card-{card.uuid}"
    return answer(
        request, card.assessment, said, error=error, anchor=anchor, focus=card, failed=failed
    )


def answer(
    request: AuthenticatedRequest,
    assessment: Assessment,
    said: str,
    *,
    anchor: str,
    error: bool = False,
    focus: Recommendation | None = None,
    failed: tuple[int, DecisionForm] | None = None,
) -> HttpResponse:
    """The answer to a decision (one card's, or the lifestyle block's): the guidance
    section for htmx, else the page at `anchor`."""
    if request.htmx:
        context = {
            "assessment": assessment,
            "guidance": card_page(assessment, failed),
            "announcement": said,
            "announcement_is_error": error,
            "focus": focus.uuid if focus else None,
        }
        return render(request, "guidance/cards.html#guidance", context)
    (messages.error if error else messages.success)(request, said)
    if failed:
        return render_assessment(request, assessment, failed_decision=failed)
    return redirect(f"{assessment.get_absolute_url()}#{anchor}")


# What "Give this advice" and "Defer all" record on each lifestyle card still open.
TOGETHER = {"accepted": "Given", "deferred": "Deferred"}
LIFESTYLE = "section-lifestyle"  # the block's place on the page


@require_POST
def lifestyle_decide(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    """The lifestyle advice as one decision: accept (give it) or defer every lifestyle card
    not yet accepted or declined, each recorded as its own decision, all or none. The
    versions shown are posted back: a card decided elsewhere meanwhile stops the whole."""
    assessment = get_assessment_for_user(
        request, uuid, perm="guidance.decide_recommendation", change=True
    )
    status = request.POST.get("status", "")
    cards = list(
        Recommendation.objects.filter(
            assessment=assessment,
            rule__category=Category.LIFESTYLE,
            rule__kind=Kind.OPTION,
            status__in=[CardStatus.PENDING, CardStatus.DEFERRED],
        ).select_related("rule", "assessment__patient")
    )
    if status not in TOGETHER or not cards:
        said = "Nothing was recorded: choose to give the advice or to defer it."
        return answer(request, assessment, said, error=True, anchor=LIFESTYLE)
    expected = {}
    for card in cards:
        shown = request.POST.get(f"version-{card.uuid}", "")
        expected[card.pk] = int(shown) if shown.isdecimal() and len(shown) < 10 else -1
    try:
        decide_together(cards=cards, status=status, by=request.user, expected=expected)
    except EditConflict:
        said = (
            "Someone decided part of the lifestyle advice while you were reading: nothing "
            "was recorded. Their decisions are shown below."
        )
        return answer(request, assessment, said, error=True, anchor=LIFESTYLE)
    said = f"{TOGETHER[status]}: {len(cards)} lifestyle suggestion{'s' if len(cards) != 1 else ''}."
    return answer(request, assessment, said, anchor=LIFESTYLE)


REVIEW_PAGE_SIZE = 50


@permission_required("guidance.decide_recommendation", raise_exception=True)
@require_http_methods(["GET"])
def awaiting_review(request: AuthenticatedRequest) -> HttpResponse:
    """Every undecided card across patients, critical first, then the oldest: nothing a
    clinician must weigh waits unseen. A fixed number of queries: the count and the page.
    Only the columns the page shows: a whole assessment is some 80 of them."""
    cards = (
        Recommendation.objects.awaiting_review()
        .select_related("rule", "assessment__patient")
        .only(
            "uuid",
            "rule_code",
            "created_at",
            "rule__title",
            "rule__indicator",
            "rule__kind",
            "assessment__uuid",
            "assessment__patient__family_name",
            "assessment__patient__given_name",
            "assessment__patient__mrn",
        )
    )
    page = CappedPage(cards, request.GET.get("page"), REVIEW_PAGE_SIZE)
    log_listed(request, (card.assessment.patient_id for card in page.rows))
    return render(request, "guidance/awaiting_review.html", {"page": page})
