"""The guidance module's background work: a draft rule's preview over every assessment."""

from typing import Any

from django.tasks import task

from guidance import jobs
from guidance.models import Job, Rule
from guidance.preview import preview_counts
from patients.models import Assessment


@task()
def preview(job_pk: int) -> None:
    jobs.run(job_pk, _preview)


def _preview(job: Job) -> dict[str, Any]:
    draft = job.rule
    assert draft is not None  # a preview job is always of a rule
    active = Rule.objects.of(draft.code).filter(status="active").first()
    job.total = Assessment.objects.count()  # for the progress bar only, never shown
    job.save(update_fields=["total"])
    counts = preview_counts(draft, active, progress=job.report)
    return {
        "preview": counts.as_json(),
        "active_version": active.version if active else None,
    }
