"""Background work in the browser (issue 23): a guidance admin asks for a rule's preview,
sees it waiting with its progress bar, a worker runs it, and the page, polling, shows the
counts without a reload; then the governance figures the same way."""

import re

from playwright.sync_api import expect

from guidance.models import Job, Rule
from patients.models import Assessment
from tests.base import CRITERIA_MET, PASSWORD, make_patient, run_tasks
from tests.e2e.test_accessibility import serious


def some_assessments(clinician, count=12):
    patient = make_patient()
    for _ in range(count):
        Assessment.objects.create(patient=patient, assessed_by=clinician, **CRITERIA_MET)


def test_a_preview_runs_as_a_task_with_its_progress_then_its_counts(
    page, sign_in, guidance_admin, clinician
):
    some_assessments(clinician)
    rule = Rule.objects.active().get(code="LIFE-SLEEP")
    sign_in(guidance_admin, PASSWORD)
    page.goto(rule.get_absolute_url())
    page.get_by_role("button", name="Count over every past assessment").click()

    job_box = page.locator("[data-job]")
    expect(job_box).to_have_attribute("data-job", "queued")
    expect(page.locator("progress[data-job-progress]")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Waiting to start")
    assert Job.objects.get().result is None

    run_tasks()  # the worker, beside the server

    expect(job_box).to_have_attribute("data-job", "done", timeout=10_000)  # polled, no reload
    expect(page.locator("progress[data-job-progress]")).to_have_count(0)
    expect(page.locator("[data-preview]")).to_contain_text("Checked every recorded assessment")
    # The rule (RLS criteria met) fires on all 12: moved by up to 2, rounded to a multiple of 5.
    expect(page.locator("[data-count=draft]")).to_have_text(re.compile(r"^(10|15)$"))
    expect(page.locator("[data-protection]")).to_contain_text("fewer than 5")
    assert serious(page) == []


def test_the_governance_figures_arrive_the_same_way(page, sign_in, guidance_admin):
    sign_in(guidance_admin, PASSWORD)
    page.goto("/guidance/rules/")
    page.get_by_role("link", name="What the rules do in practice").click()
    page.get_by_label("Last 30 days").check()
    page.get_by_role("button", name="Work out the figures").click()
    expect(page.locator("[data-job]")).to_have_attribute("data-job", "queued")
    expect(page.locator("progress[data-job-progress]")).to_be_visible()

    run_tasks()

    expect(page.locator("[data-figures]")).to_be_visible(timeout=10_000)
    expect(page.locator("[data-csv]")).to_be_visible()
    expect(page.locator("[data-list=never_fired]")).to_contain_text("LIFE-SLEEP")
    assert serious(page) == []
