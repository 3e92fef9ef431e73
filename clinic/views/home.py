import logging

from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from clinic.paging import CappedPage, count_up_to
from clinic.requests import AuthenticatedRequest
from guidance.models import Recommendation
from patients.invitations import Invitation
from patients.models import FollowUp

logger = logging.getLogger(__name__)


def home(request: AuthenticatedRequest) -> HttpResponse:
    """The landing page after sign-in: the way into what this user's role may do, with
    what is waiting for them (a count each, capped like the lists they lead to)."""
    counts: dict[str, int] = {}
    if request.user.has_perm("guidance.decide_recommendation"):
        counts["awaiting_review"] = count_up_to(Recommendation.objects.awaiting_review())
    if request.user.has_perm("patients.view_invitation"):
        counts["patient_answers"] = count_up_to(Invitation.objects.awaiting_review())
    if request.user.has_perm("patients.view_followup"):
        today = timezone.localdate()
        scheduled = FollowUp.objects.scheduled()
        counts["overdue"] = count_up_to(scheduled.filter(due_date__lt=today))
        counts["due_today"] = count_up_to(scheduled.filter(due_date=today))
    return render(request, "clinic/home.html", {"counts": counts, "cap": CappedPage.COUNT_CAP})


@login_not_required
def healthz(request: HttpRequest) -> HttpResponse:
    """Health probe for the load balancer: 200 when the database answers, else 503."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.exception("Health probe: database unavailable")
        return HttpResponse("database unavailable\n", status=503, content_type="text/plain")
    return HttpResponse("ok\n", content_type="text/plain")
