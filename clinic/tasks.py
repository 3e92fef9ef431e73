"""The clinic's background work: the governance page's figures over a period, and the
one reminder of a questionnaire link sent by email."""

from datetime import date
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.tasks import task
from django.template.loader import render_to_string

from clinic.governance import Period
from clinic.pages.governance import governance_figures
from guidance import jobs
from guidance.models import Job
from patients.invitations import Invitation


@task()
def governance(job_pk: int) -> None:
    jobs.run(job_pk, _figures)


def _figures(job: Job) -> dict[str, Any]:
    since = date.fromisoformat(job.parameters["since"])
    until = date.fromisoformat(job.parameters["until"])
    job.total = 1
    job.save(update_fields=["total"])
    return governance_figures(Period.of_days(since, until), since, until)


@task()
def remind(invitation_pk: int) -> None:
    """Two days after a link was emailed, if it is still unfinished: one reminder, without
    the link (the clinic does not keep it) and, like the first, without a name or
    anything clinical."""
    invitation = Invitation.objects.filter(pk=invitation_pk).first()
    if invitation is None or not invitation.remind():
        return
    send_mail(
        f"A reminder from {settings.CLINIC_NAME}",
        render_to_string(
            "patients/invitation_reminder.txt",
            {"clinic_name": settings.CLINIC_NAME, "invitation": invitation},
        ),
        None,
        [invitation.emailed_to],
    )
