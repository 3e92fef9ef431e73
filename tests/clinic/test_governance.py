"""The governance page (issue 23): each rule version's figures over a period, worked out
in the background, protected, with the candidate lists, a CSV of the same figures, and no
patient identity anywhere."""

import csv
import io
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from guidance.disclosure import FEWER_THAN_SMALLEST, definition_key, shown
from guidance.models import Decision, Evaluation, Job, JobKind, Recommendation, Rule
from tests.base import make_assessment, make_patient, run_tasks
from tests.guidance.test_rule_stats import CODE, known  # noqa: F401 (a fixture)

SINCE, UNTIL = "2026-11-06", "2026-11-26"


def ask(client, **data):
    return client.post(reverse("guidance:governance"), data)


def figures_for(client, since=SINCE, until=UNTIL):
    """Ask for the figures of a period, let the worker run, and return the job."""
    response = ask(client, period="dates", since=since, until=until)
    job = Job.objects.filter(kind=JobKind.GOVERNANCE).latest("pk")
    assert response.status_code == 302
    assert response.url == reverse("guidance:governance_job", args=[job.uuid])
    run_tasks()
    job.refresh_from_db()
    assert job.state == "done", job.error
    return job


def row(job, code, version):
    return next(r for r in job.result["rows"] if (r["rule"], r["version"]) == (code, version))


def protected(name, rule, exact):
    return shown(
        exact, definition_key(f"{name}|{rule.pk}|{SINCE}|{UNTIL}", exact), zero_shown=True
    ).value


def test_the_page_shows_the_hand_computed_figures_protected(as_user, guidance_admin, known):  # noqa: F811
    job = figures_for(as_user(guidance_admin))
    v1, v2 = (Rule.objects.get(code=CODE, version=n) for n in (1, 2))
    # Hand-computed in tests/guidance/test_rule_stats.py; every one of them 1 to 5.
    exact = {
        v1: {"evaluations": 3, "fired": 3, "patients": 3, "accepted": 1, "declined": 1},
        v2: {"evaluations": 2, "fired": 5, "patients": 1, "accepted": 1, "declined": 2},
    }
    for rule, counts in exact.items():
        shown_row = row(job, CODE, rule.version)
        for name, value in counts.items():
            assert shown_row["counts"][name] == protected(name, rule, value), name
    assert row(job, CODE, 1)["counts"]["fired"] is None  # 3: fewer than 5
    assert row(job, CODE, 2)["counts"]["fired"] in (5, 10)  # 5, moved by at most 2, rounded
    assert row(job, CODE, 2)["counts"]["pending"] == 0  # none: zero is shown here
    assert row(job, CODE, 2)["acceptance_rate"] is None  # 3 decisions: too few for a rate
    # Decided at least once: 5, shown as 5 or "fewer than 5"; times only when shown.
    timed = protected("decided_once", v2, 5) is not None
    assert row(job, CODE, 2)["time_median"] == ("under 1 min" if timed else None)  # 50 s


def test_counts_from_1_to_4_read_fewer_than_5_on_the_page_and_in_the_csv(
    as_user,
    guidance_admin,
    known,  # noqa: F811
):
    client = as_user(guidance_admin)
    job = figures_for(client)
    page = client.get(reverse("guidance:governance_job", args=[job.uuid])).content.decode()
    v1_row = page.split(f'data-row="{CODE}-v1"')[1].split("</tr>")[0]
    assert v1_row.count(FEWER_THAN_SMALLEST) >= 4  # evaluations, fired, accepted, declined
    rows = list(csv.DictReader(io.StringIO(download(client, job))))
    v1 = next(r for r in rows if (r["rule"], r["version"]) == (CODE, "1"))
    assert v1["fired"] == v1["evaluations"] == v1["accepted"] == FEWER_THAN_SMALLEST
    assert v1["pending"] == FEWER_THAN_SMALLEST
    assert v1["acceptance_rate"] == ""  # not shown: too few decisions


def download(client, job):
    response = client.get(reverse("guidance:governance_csv", args=[job.uuid]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "no-store" in response["Cache-Control"]
    return response.content.decode()


@pytest.fixture
def busy(frozen_clock, clinician):
    """Cards of one rule for 12 patients with distinctive names and MRNs: 10 declined as
    not appropriate, with comments that name them, 2 pending."""
    rule = Rule.objects.active().get(code="LIFE-SLEEP")
    now = timezone.now()
    for n in range(12):
        patient = make_patient(family_name=f"Zebediah{n}", given_name="Quill", mrn=f"MRN-Q{n:04}")
        assessment = make_assessment(patient, clinician, assessed_at=now - timedelta(days=3))
        Evaluation.objects.create(assessment=assessment, evaluated_at=now - timedelta(days=3))
        card = Recommendation.objects.create(
            assessment=assessment,
            rule=rule,
            rule_code=rule.code,
            status="declined" if n < 10 else "pending",
            created_at=now - timedelta(days=3),
        )
        if n < 10:
            Decision.objects.create(
                recommendation=card,
                status="declined",
                decline_reason="not_appropriate",
                comment=f"Quill Zebediah{n} already sleeps well",
                by=clinician,
                at=now - timedelta(days=2),
            )
    return rule


def test_no_patient_identity_appears_on_the_page_or_in_the_csv(as_user, guidance_admin, busy):
    client = as_user(guidance_admin)
    job = figures_for(client)
    page = client.get(reverse("guidance:governance_job", args=[job.uuid])).content.decode()
    text = page + download(client, job) + str(job.result)
    for patient in Recommendation.objects.values_list(
        "assessment__patient__uuid", "assessment__patient__mrn"
    ):
        assert str(patient[0]) not in text
        assert patient[1] not in text
    assert "Zebediah" not in text
    assert "Quill" not in text
    assert "already sleeps well" not in text  # comments are counted, never shown


def test_the_candidate_lists_name_the_rules_to_look_at(as_user, guidance_admin, busy):
    Rule.objects.filter(code="CBT-ANXIETY").update(
        review_by=date(2026, 1, 1), activated_at=timezone.now() - timedelta(days=60)
    )
    client = as_user(guidance_admin)
    job = figures_for(client)
    lists = job.result["candidates"]
    sleep = f"LIFE-SLEEP v{busy.version}"
    assert any(item.startswith(sleep) for item in lists["mostly_declined"])
    assert any(
        item.startswith(sleep) and "Not clinically" in item for item in lists["dominant_reason"]
    )
    assert sleep not in lists["never_fired"]
    cbt = Rule.objects.active().get(code="CBT-ANXIETY")
    assert f"CBT-ANXIETY v{cbt.version}" in lists["never_fired"]
    assert f"CBT-ANXIETY v{cbt.version}" in lists["review_overdue"]
    page = client.get(reverse("guidance:governance_job", args=[job.uuid])).content.decode()
    assert f"CBT-ANXIETY v{cbt.version}" in page.split('data-list="review_overdue"')[1][:400]
    assert "data-overdue" in page.split(f'data-row="CBT-ANXIETY-v{cbt.version}"')[1][:2000]


def test_a_version_whose_firing_rate_jumps_is_listed(
    frozen_clock, as_user, guidance_admin, clinician
):
    """v1 fired on 5 of 40 evaluations; v2, activated 10 days ago, on 30 of 40."""
    now = timezone.now()
    v1 = Rule.objects.active().get(code="LIFE-SLEEP")
    Rule.objects.filter(pk=v1.pk).update(activated_at=now - timedelta(days=60))
    v2 = Rule.objects.get(pk=v1.pk)
    v2.pk = None
    v2.save_as_new_version(by=guidance_admin)
    v2.activate(by=guidance_admin)
    Rule.objects.filter(pk=v1.pk).update(retired_at=now - timedelta(days=10))
    Rule.objects.filter(pk=v2.pk).update(activated_at=now - timedelta(days=10))
    for version, days_ago, fired in ((v1, 30, 5), (v2, 5, 30)):
        for n in range(40):
            assessment = make_assessment(make_patient(), clinician)
            Evaluation.objects.create(
                assessment=assessment, evaluated_at=now - timedelta(days=days_ago)
            )
            if n < fired:
                Recommendation.objects.create(
                    assessment=assessment,
                    rule=version,
                    rule_code=version.code,
                    created_at=now - timedelta(days=days_ago),
                )
    job = figures_for(as_user(guidance_admin), since="2026-09-01", until=UNTIL)
    [jump] = job.result["candidates"]["firing_rate_jump"]
    assert jump.startswith(f"LIFE-SLEEP v{v2.version}: firing rate")
    page = as_user(guidance_admin).get(reverse("guidance:governance_job", args=[job.uuid]))
    compare = reverse("guidance:rule_compare", args=["LIFE-SLEEP"])
    assert f"{compare}?version={v2.version}&amp;against={v1.version}" in page.content.decode()


def test_the_csv_holds_the_same_figures_as_the_page(as_user, guidance_admin, busy):
    client = as_user(guidance_admin)
    job = figures_for(client)
    rows = list(csv.DictReader(io.StringIO(download(client, job))))
    sleep = next(r for r in rows if r["rule"] == "LIFE-SLEEP")
    shown_row = row(job, "LIFE-SLEEP", busy.version)
    for name in ("evaluations", "fired", "declined", "pending"):
        value = shown_row["counts"][name]
        assert sleep[name] == (FEWER_THAN_SMALLEST if value is None else str(value))
    assert sleep["decline_rate"] == shown_row["decline_rate"]
    assert sleep["declined: Not clinically appropriate"] == str(
        shown_row["reasons"]["Not clinically appropriate"][0]
    )
    assert len(rows) == len(job.result["rows"])


def test_the_same_period_asked_twice_reads_the_same(as_user, guidance_admin, busy):
    client = as_user(guidance_admin)
    first, second = figures_for(client), figures_for(client)
    assert first.result["rows"] == second.result["rows"]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"period": "dates", "since": "2026-11-01", "until": "2026-12-01"}, "until", "future"),
        ({"period": "dates", "since": "2026-11-20", "until": "2026-11-10"}, "until", "before"),
        ({"period": "dates", "since": "", "until": "2026-11-10"}, "since", "Give a date"),
        ({"period": "dates", "since": "2020-01-01", "until": "2026-11-10"}, "since", "731 days"),
        ({"period": "dates", "since": "not a date", "until": "2026-11-10"}, "since", "valid date"),
        ({"period": "365"}, "period", "Select a valid choice"),
    ],
)
def test_a_bad_period_is_refused_on_its_field_and_starts_nothing(
    frozen_clock, as_user, guidance_admin, data, field, message
):
    response = ask(as_user(guidance_admin), **data)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert not Job.objects.exists()


def test_the_last_days_periods_end_today(frozen_clock, as_user, guidance_admin):
    ask(as_user(guidance_admin), period="30")
    job = Job.objects.get()
    assert job.parameters == {"since": "2026-10-28", "until": "2026-11-26"}
    assert (job.requested_by, job.kind) == (guidance_admin, JobKind.GOVERNANCE)


def test_while_it_runs_the_page_shows_its_progress(as_user, guidance_admin, known):  # noqa: F811
    client = as_user(guidance_admin)
    ask(client, period="dates", since=SINCE, until=UNTIL)
    job = Job.objects.get()
    page = client.get(reverse("guidance:governance_job", args=[job.uuid])).content.decode()
    assert 'data-job="queued"' in page
    assert "<progress" in page
    assert "data-figures" not in page


def test_the_page_runs_a_pinned_number_of_queries(
    as_user, guidance_admin, busy, django_assert_num_queries
):
    client = as_user(guidance_admin)
    job = figures_for(client)
    url = reverse("guidance:governance_job", args=[job.uuid])
    client.get(url)
    with django_assert_num_queries(3):  # session, user, the job
        response = client.get(url)
    assert response.status_code == 200
