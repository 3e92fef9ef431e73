"""A rule's preview runs as a background task (issue 23): asked for on the rule's page,
followed by its progress, then its counts, protected; stored in the database, so that a
restart loses nothing."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from guidance import tasks
from guidance.models import Job, JobKind, Rule
from tests.base import make_patient, run_tasks
from tests.guidance.test_rule_preview import DRAFT, assessments, gad7


@pytest.fixture
def cbt(db):
    return Rule.objects.get(code="CBT-ANXIETY", version=1)


@pytest.fixture
def draft(cbt, guidance_admin):
    draft = Rule.objects.get(pk=cbt.pk)
    draft.pk, draft.condition = None, DRAFT
    draft.save_as_new_version(by=guidance_admin)
    return draft


@pytest.fixture
def mixed(clinician):
    patient = make_patient(family_name="Distinctive", mrn="MRN-PREVIEW-9")
    assessments(patient, clinician, 6, **gad7(14))  # both versions fire
    assessments(patient, clinician, 7, sleep_hours_per_night=4.0)  # the draft only
    assessments(patient, clinician, 5, **gad7(10))  # the active version only


def ask(client, rule):
    return client.post(reverse("guidance:rule_preview", args=[rule.code, rule.version]))


def test_asking_for_a_preview_queues_a_task_and_the_page_shows_its_progress(
    as_user, guidance_admin, draft, mixed
):
    client = as_user(guidance_admin)
    response = ask(client, draft)
    job = Job.objects.get()
    assert (job.kind, job.rule, job.requested_by) == (JobKind.PREVIEW, draft, guidance_admin)
    assert response.status_code == 302
    assert response.url == f"{draft.get_absolute_url()}?preview={job.uuid}#preview-heading"
    assert DBTaskResult.objects.get(id=job.task_id).status == "READY"

    page = client.get(response.url).content.decode()
    assert 'data-job="queued"' in page
    assert "<progress" in page
    assert f'hx-get="{reverse("guidance:job", args=[job.uuid])}"' in page
    assert job.result is None


def test_the_worker_runs_it_and_the_polled_page_shows_the_counts(
    as_user, guidance_admin, draft, mixed
):
    client = as_user(guidance_admin)
    ask(client, draft)
    job = Job.objects.get()
    run_tasks()
    job.refresh_from_db()
    assert (job.state, job.percent, job.error) == ("done", 100, "")
    assert DBTaskResult.objects.get(id=job.task_id).status == "SUCCESSFUL"

    polled = client.get(reverse("guidance:job", args=[job.uuid]), headers={"HX-Request": "true"})
    fragment = polled.content.decode()
    assert 'data-job="done"' in fragment
    assert "hx-get" not in fragment  # it stops polling
    assert "<html" not in fragment
    shown = job.result["preview"]
    draft_fires = shown["draft_fires"][0]
    assert draft_fires in (10, 15)  # 13, moved by at most 2, rounded to a multiple of 5
    assert f'<strong data-count="draft">{draft_fires}</strong>' in fragment
    assert re.search(r'<strong data-count="gain">(fewer than 5|\d+)</strong>', fragment)
    assert "Distinctive" not in fragment
    assert "MRN-PREVIEW-9" not in fragment


def test_a_queued_preview_survives_a_restart(as_user, guidance_admin, draft, mixed):
    """Nothing of a job lives in the server's memory: after a restart (a new client, a
    new worker), the queued task is still there and runs."""
    ask(as_user(guidance_admin), draft)
    job = Job.objects.get()
    assert DBTaskResult.objects.ready().filter(id=job.task_id).exists()
    run_tasks()  # a worker started after the restart
    page = as_user(guidance_admin).get(reverse("guidance:job", args=[job.uuid]))
    assert 'data-job="done"' in page.content.decode()


def test_a_job_is_not_run_twice(guidance_admin, draft, mixed):
    job = Job.objects.create(kind=JobKind.PREVIEW, rule=draft, requested_by=guidance_admin)
    tasks.preview.call(job.pk)
    job.refresh_from_db()
    finished, result = job.finished_at, job.result
    tasks.preview.call(job.pk)  # the same task claimed again, say after a worker stopped
    job.refresh_from_db()
    assert (job.finished_at, job.result) == (finished, result)


def test_a_preview_that_fails_says_so_and_changes_nothing(
    monkeypatch, as_user, guidance_admin, draft, mixed
):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(tasks, "preview_counts", broken)
    client = as_user(guidance_admin)
    ask(client, draft)
    job = Job.objects.get()
    run_tasks()
    job.refresh_from_db()
    assert job.state == "failed"
    assert job.result is None
    assert "RuntimeError" in job.error
    assert "disk full" not in job.error  # an error's message could hold anything
    assert DBTaskResult.objects.get(id=job.task_id).status == "FAILED"
    page = client.get(reverse("guidance:job", args=[job.uuid])).content.decode()
    assert "Rule preview did not finish" in page
    draft.refresh_from_db()
    assert (draft.status, draft.condition) == ("draft", DRAFT)


@pytest.mark.parametrize("role", ["clinician", "staff", "outsider"])
def test_other_roles_can_neither_ask_for_a_preview_nor_read_one(
    request, as_user, guidance_admin, role, draft, mixed
):
    client = as_user(request.getfixturevalue(role))
    assert ask(client, draft).status_code == 403
    assert not Job.objects.exists()
    job = Job.objects.create(kind=JobKind.PREVIEW, rule=draft, requested_by=guidance_admin)
    tasks.preview.call(job.pk)
    assert client.get(reverse("guidance:job", args=[job.uuid])).status_code == 403


def test_a_preview_of_another_version_is_not_shown_on_this_one(
    as_user, guidance_admin, cbt, draft, mixed
):
    client = as_user(guidance_admin)
    ask(client, draft)
    job = Job.objects.get()
    page = client.get(cbt.get_absolute_url(), {"preview": str(job.uuid)})
    assert page.context["job"] is None
    assert client.get(cbt.get_absolute_url(), {"preview": "not-a-uuid"}).status_code == 200


def test_asking_needs_a_post(as_user, guidance_admin, draft):
    url = reverse("guidance:rule_preview", args=[draft.code, draft.version])
    assert as_user(guidance_admin).get(url).status_code == 405
    assert not Job.objects.exists()


def test_a_job_whose_worker_stopped_mid_run_says_so_and_stops_polling(
    frozen_clock, as_user, guidance_admin, draft
):
    job = Job.objects.create(kind=JobKind.PREVIEW, rule=draft, requested_by=guidance_admin)
    Job.objects.filter(pk=job.pk).update(started_at=timezone.now())
    client = as_user(guidance_admin)
    url = reverse("guidance:job", args=[job.uuid])
    running = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'data-job="running"' in running
    assert "hx-get" in running
    frozen_clock.shift(31 * 60)
    client = as_user(guidance_admin)  # signed in again: the session has idled out meanwhile
    stalled = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "data-job-stalled" in stalled
    assert "hx-get" not in stalled
    job.refresh_from_db()
    assert (job.result, job.finished_at) == (None, None)  # nothing made up


def test_progress_is_saved_every_5_percent_at_most(
    guidance_admin, draft, django_assert_num_queries
):
    job = Job.objects.create(
        kind=JobKind.PREVIEW, rule=draft, requested_by=guidance_admin, total=1000
    )
    with django_assert_num_queries(19):  # at 5%, 10% … 95%
        for done in range(10, 1001, 10):  # told 100 times
            job.report(done)
    job.refresh_from_db()
    assert job.done == 950  # the last saved; the rest shows when the result is saved
