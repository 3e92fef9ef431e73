"""The pages a patient opens through a questionnaire link (issue 24): no account, no
patient data in any address, the clinic named and the patient never.

The link's token is read once, then kept in the session as its hash, and the patient is
sent on to an address without it (as Django's password reset does), so that it does not
stay in the address bar or reach another site in a Referer. An unknown, expired, revoked,
locked or already sent link gets the same neutral page; only an unknown one, or a wrong
date of birth, counts against the address (clinic.models.LinkAttempt).
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from clinic import sessions
from clinic.forms.selfreport import DateOfBirthForm, shown, step_form, stored
from clinic.licensed_irls import licensed_irls
from clinic.models import LinkAttempt
from clinic.throttling import throttled_address
from patients.invitations import (
    DATE_OF_BIRTH_TRIES,
    Invitation,
    InvitationClosed,
    Questionnaire,
)
from patients.scales import SCALES

ATTEMPTS_PER_ADDRESS = 20  # failed tries from one address …
ATTEMPT_WINDOW = timedelta(minutes=15)  # … within this long, before it must wait
STEPS = (
    Questionnaire.IRLS,  # asked only in the clinic's licensed wording (clinic.licensed_irls)
    Questionnaire.GAD7,
    Questionnaire.SLEEP_LIFESTYLE,
    Questionnaire.LAST_DOSE,
)
DONE = "_done"  # the steps answered or skipped, kept with the answers


def address_of(request: HttpRequest) -> str:
    return throttled_address(request) or "unknown"


def throttled(request: HttpRequest) -> bool:
    address = address_of(request)
    since = timezone.now() - ATTEMPT_WINDOW
    return LinkAttempt.objects.filter(address=address, at__gte=since).count() >= (
        ATTEMPTS_PER_ADDRESS
    )


def count_failure(request: HttpRequest) -> None:
    """Count a failed try; those older than the window count for nothing and go."""
    LinkAttempt.objects.filter(at__lt=timezone.now() - ATTEMPT_WINDOW).delete()
    LinkAttempt.objects.create(address=address_of(request))


def page(request: HttpRequest, template: str, status: int = 200, **context: Any) -> HttpResponse:
    context["clinic_name"] = settings.CLINIC_NAME
    return render(request, f"selfreport/{template}.html", context, status=status)


def neutral(request: HttpRequest, *, too_many: bool = False, status: int = 200) -> HttpResponse:
    return page(request, "closed", status=status, too_many=too_many)


def session_ended(request: HttpRequest) -> HttpResponse:
    """No link in this session (it timed out, or the page was opened directly)."""
    return page(request, "closed", session_ended=True)


@login_not_required
@require_GET
def open_link(request: HttpRequest, token: str) -> HttpResponse:
    if throttled(request):
        # Said with a 200: Django logs a 429's address, and this one holds the token.
        return neutral(request, too_many=True)
    invitation = Invitation.objects.by_token(token)
    if invitation is None:
        count_failure(request)
        return neutral(request)
    if not invitation.open:
        return neutral(request)  # writes nothing
    invitation.mark_opened()
    request.session[sessions.SELF_REPORT] = {
        "invitation": invitation.pk,
        "hash": invitation.token_hash,
        "confirmed": False,
    }
    return redirect("selfreport:answer")


def current(request: HttpRequest) -> Invitation | None:
    """The session's invitation, if it is still open under the token it was opened with."""
    state = request.session.get(sessions.SELF_REPORT) or {}
    pk = state.get("invitation")
    invitation = (
        Invitation.objects.select_related("patient").filter(pk=pk).first()
        if isinstance(pk, int)
        else None
    )
    if invitation is None or invitation.token_hash != state.get("hash") or not invitation.open:
        return None
    return invitation


@login_not_required
@require_http_methods(["GET", "POST"])
def answer(request: HttpRequest) -> HttpResponse:
    if sessions.SELF_REPORT not in request.session:
        return session_ended(request)
    invitation = current(request)
    if invitation is None:
        return neutral(request)
    # Anonymous sessions are not pushed on by use (clinic.middleware): answering keeps
    # this one alive, so a patient who takes their time loses nothing.
    request.session.modified = True
    try:
        return answering(request, invitation)
    except InvitationClosed:  # closed since this request read it: nothing was written
        return neutral(request)


def answering(request: HttpRequest, invitation: Invitation) -> HttpResponse:
    if not request.session[sessions.SELF_REPORT]["confirmed"]:
        return confirm(request, invitation)
    wording = licensed_irls()
    steps = [
        code
        for code in invitation.questionnaires
        if code in STEPS and (code != Questionnaire.IRLS or wording is not None)
    ]
    done = invitation.answers.get(DONE, [])
    asked = request.GET.get("step")
    step = asked if asked in steps else next((c for c in steps if c not in done), None)
    if step is None:
        return review(request, invitation, steps)
    data = request.POST if request.method == "POST" else None
    form = step_form(step, data, initial=shown(invitation.answers))
    if data is not None and "skip" in data:
        keep(invitation, step, {}, skipped=True)
        return redirect("selfreport:answer")
    if data is not None and form.is_valid():
        keep(invitation, step, stored(form.cleaned_data))
        return redirect("selfreport:answer")
    irls = step == Questionnaire.IRLS and wording is not None
    return page(
        request,
        "step",
        form=form,
        step=step,
        title=wording.title if irls and wording else Questionnaire(step).label,
        instructions=wording.instructions if irls and wording else "",
        scale=SCALES["gad7"] if step == Questionnaire.GAD7 else None,
        number=steps.index(step) + 1,
        of=len(steps),
        refused=data is not None,
    )


def keep(invitation: Invitation, step: str, answers: dict[str, Any], skipped: bool = False) -> None:
    """Keep a step's answers in place of what it had: a field emptied, or a step skipped,
    leaves nothing of it behind."""
    fields = step_form(step).fields
    kept = {name: value for name, value in invitation.answers.items() if name not in fields}
    kept.update(answers)
    kept[DONE] = [*dict.fromkeys([*kept.get(DONE, []), step])]
    invitation.keep_answers(kept)


def confirm(request: HttpRequest, invitation: Invitation) -> HttpResponse:
    form = DateOfBirthForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        if throttled(request):
            return neutral(request, too_many=True, status=429)
        if invitation.check_date_of_birth(form.cleaned_data["date_of_birth"]):
            state = request.session[sessions.SELF_REPORT]
            request.session.cycle_key()  # a new session key once the patient is known
            request.session[sessions.SELF_REPORT] = {**state, "confirmed": True}
            return redirect("selfreport:answer")
        count_failure(request)
        if invitation.locked_at:
            return neutral(request)
        left = DATE_OF_BIRTH_TRIES - invitation.date_of_birth_failures
        form.add_error(
            "date_of_birth",
            f"This is not the date of birth the clinic has. Check it and try again "
            f"({left} {'try' if left == 1 else 'tries'} left).",
        )
    return page(request, "confirm", form=form)


def review(request: HttpRequest, invitation: Invitation, steps: list[str]) -> HttpResponse:
    if request.method == "POST" and "send" in request.POST:
        invitation.submit()
        request.session.pop(sessions.SELF_REPORT, None)
        return page(request, "sent")
    return page(
        request,
        "review",
        steps=[(code, Questionnaire(code).label) for code in steps],
        answered=sorted(name for name in invitation.answers if not name.startswith("_")),
    )
