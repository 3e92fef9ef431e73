"""Background jobs (guidance.models.Job): asked for in a request, run by a task of
Django's tasks framework in a worker (`manage.py db_worker`), followed by the page that
asked through htmx polling.

A job's state lives in its row, not in the worker: a server restart loses nothing, and a
job whose task runs twice (a worker stopped mid-run and its task claimed again) is not
done twice.
"""

import logging
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User
from django.tasks import Task
from django.utils import timezone

from guidance.models import Job, JobKind, Rule

logger = logging.getLogger(__name__)

Work = Callable[[Job], dict[str, Any]]


def start(
    task: Task[[int], None],
    kind: JobKind,
    by: User,
    rule: Rule | None = None,
    parameters: dict[str, Any] | None = None,
) -> Job:
    """Record the job and queue its task."""
    job = Job.objects.create(kind=kind, rule=rule, parameters=parameters or {}, requested_by=by)
    job.task_id = str(task.enqueue(job.pk).id)
    job.save(update_fields=["task_id"])
    return job


def run(job_pk: int, work: Work) -> None:
    """Run a job's work once, recording when it started and its result, or its error."""
    job = Job.objects.select_related("rule").get(pk=job_pk)
    if job.finished:
        return
    job.started_at = timezone.now()
    job.save(update_fields=["started_at"])
    try:
        result = work(job)
    except Exception as error:
        # The log names the job, never what it counted; the page says it failed.
        logger.exception("Job %s failed", job.uuid)
        job.error = f"It stopped with an error ({type(error).__name__})."
        job.finished_at = timezone.now()
        job.save(update_fields=["error", "finished_at"])
        raise
    job.result = result
    job.finished_at = timezone.now()
    job.save(update_fields=["result", "finished_at", "done"])
