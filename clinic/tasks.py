"""The clinic's background work: the governance page's figures over a period."""

from datetime import date
from typing import Any

from django.tasks import task

from clinic.governance import Period
from clinic.pages.governance import governance_figures
from guidance import jobs
from guidance.models import Job


@task()
def governance(job_pk: int) -> None:
    jobs.run(job_pk, _figures)


def _figures(job: Job) -> dict[str, Any]:
    since = date.fromisoformat(job.parameters["since"])
    until = date.fromisoformat(job.parameters["until"])
    job.total = 1
    job.save(update_fields=["total"])
    return governance_figures(Period.of_days(since, until), since, until)
