"""The benchmark's timings, server-side: the guidance engine on stored assessments, and the
main pages through Django's test client, signed in as a clinician."""

import gc
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.db.models import Count
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from bench.seed import FAMILY_HEADS, GIVEN
from clinic.paging import count_up_to
from guidance import engine, jobs, tasks
from guidance.models import Job, JobKind, Recommendation, Rule
from patients.models import Assessment, Patient


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def measure_engine(samples: int = 2000) -> dict[str, float]:
    rules = list(Rule.objects.active())
    assessments = Assessment.objects.select_related("patient").order_by("?")[:samples]
    facts = [assessment.facts() for assessment in assessments]
    for item in facts[:50]:  # compile and warm the cache
        engine.evaluate(item, rules)
    gc.collect()  # start from a clean heap after loading the samples
    timings = []
    for item in facts:
        started = time.perf_counter()
        engine.evaluate(item, rules)
        timings.append((time.perf_counter() - started) * 1e6)
    return {
        "median": round(statistics.median(timings), 1),
        "p95": round(percentile(timings, 0.95), 1),
    }


# The draft the preview benchmark runs: the longest default condition with one threshold
# changed, against its active version, so that both are evaluated on every assessment.
PREVIEW_RULE = "SAFE-GABA-RESPIRATORY"


def measure_rule_preview(runs: int = 3) -> dict[str, Any]:
    """The rule preview over every assessment as a guidance admin runs it (issue 23): a
    job queued (guidance.tasks.preview), then run by the database worker, as `manage.py
    db_worker` runs it; the wall time from queueing to the stored result, median of `runs`.
    The draft and its jobs are deleted afterwards."""
    active = Rule.objects.active().get(code=PREVIEW_RULE)
    admin = User.objects.order_by("pk").first()
    assert admin is not None
    timings = []
    counter = QueryCounter()
    draft = Rule.objects.get(pk=active.pk)
    draft.pk, draft.condition = None, active.condition.replace(">= 65", ">= 60")
    draft.save_as_new_version(by=admin)
    try:
        for run in range(runs):
            gc.collect()
            started = time.perf_counter()
            with connection.execute_wrapper(counter) if run == 0 else nullcontext():
                job = jobs.start(tasks.preview, JobKind.PREVIEW, admin, rule=draft)
                call_command(
                    "db_worker",
                    batch=True,
                    interval=0,
                    startup_delay=False,
                    reload=False,
                    verbosity=0,
                )
            timings.append(time.perf_counter() - started)
            job.refresh_from_db()
            assert job.result is not None, job.error
        assessments = Assessment.objects.count()
    finally:
        ran = Job.objects.filter(rule=draft)
        DBTaskResult.objects.filter(id__in=[job.task_id for job in ran]).delete()
        ran.delete()
        draft.delete()
    seconds = statistics.median(timings)
    return {
        "rule": PREVIEW_RULE,
        "assessments": assessments,
        "seconds_as_task": round(seconds, 2),
        "us_per_assessment": round(seconds * 1e6 / max(assessments, 1), 1),
        "queries": counter.count,
    }


class QueryCounter:
    """Counts the SQL statements a request runs (whatever DEBUG says)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


def _cycle(values: list[Any]) -> Iterator[Any]:
    while True:
        yield from values


def measure_pages(requests: int, rng: random.Random) -> dict[str, dict[str, float]]:
    clinician = User.objects.get(username="bench_clinician")
    client = Client()
    client.force_login(clinician)
    patient_uuids = list(
        Patient.objects.order_by("?").values_list("uuid", flat=True)[: min(requests, 1000)]
    )
    assessment_uuids = list(
        Assessment.objects.order_by("?").values_list("uuid", flat=True)[: min(requests, 1000)]
    )
    # The card page at its heaviest: the assessments with the most cards.
    carded_uuids = list(
        Assessment.objects.filter(pk__in=most_carded(min(requests, 1000))).values_list(
            "uuid", flat=True
        )
    )
    prefixes = [head.lower() for head in FAMILY_HEADS] + ["bn00", "bn01"] + GIVEN[:10]
    pages = max(1, min(10, Patient.objects.active().count() // 25))
    review_pages = max(1, min(10, count_up_to(Recommendation.objects.awaiting_review()) // 50))

    def patient_list() -> str:
        return f"{reverse('patients:list')}?page={rng.randint(1, pages)}"

    searches = _cycle(prefixes)

    def patient_search() -> str:
        client.post(reverse("patients:list"), {"q": next(searches)})
        return reverse("patients:list")

    def awaiting_review() -> str:
        return f"{reverse('guidance:review')}?page={rng.randint(1, review_pages)}"

    patients = _cycle(patient_uuids)
    assessments = _cycle(assessment_uuids)
    carded = _cycle(carded_uuids)
    plans: dict[str, Callable[[], str]] = {
        "patient_list": patient_list,
        "patient_search": patient_search,
        "patient_detail": lambda: reverse("patients:detail", args=[next(patients)]),
        "assessment_detail": lambda: reverse("patients:assessment", args=[next(assessments)]),
        "worklist": lambda: reverse("patients:worklist"),
        "awaiting_review": awaiting_review,
        "assessment_cards": lambda: reverse("patients:assessment", args=[next(carded)]),
    }
    results = {}
    for name, next_url in plans.items():
        client.post(reverse("patients:search_clear"))
        for _ in range(min(10, requests)):  # warm up
            client.get(next_url())
        counter = QueryCounter()
        with connection.execute_wrapper(counter):
            response = client.get(next_url())
        if response.status_code != 200:
            raise RuntimeError(f"{name}: status {response.status_code}")
        timings = []
        for _ in range(requests):
            url = next_url()
            started = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"{name}: status {response.status_code} for {url}")
        results[name] = {
            "p50_ms": round(statistics.median(timings), 1),
            "p95_ms": round(percentile(timings, 0.95), 1),
            "queries": counter.count,
        }
    return results


def most_carded(count: int) -> list[int]:
    """The ids of the `count` assessments with the most cards."""
    return list(
        Recommendation.objects.values_list("assessment_id", flat=True)
        .annotate(cards=Count("id"))
        .order_by("-cards", "assessment_id")[:count]
    )


def report(patients: int, requests: int, progress: Callable[[str], None] = print) -> dict[str, Any]:
    rng = random.Random(11)
    return {
        "patients": patients,
        "database": connection.vendor,
        "requests_per_page": requests,
        "python": sys.version.split()[0],
        "measured_at": datetime.now(tz=timezone.get_current_timezone()).isoformat(
            timespec="seconds"
        ),
        "engine_us_per_assessment": measure_engine(),
        "pages": measure_pages(requests, rng),
        "rule_preview": measure_rule_preview(),
        "cds_patient_view": measure_cds(requests, rng),
        "rule_stats": measure_rule_stats(),
        **measure_saves(requests, rng),
    }


def measure_rule_stats(runs: int = 20) -> dict[str, Any]:
    """The governance figures of every rule version over the last 90 days (issue 23):
    clinic.governance.rule_figures, as manage.py rule_stats computes them."""
    from datetime import timedelta

    from clinic.governance import Period, rule_figures

    now = timezone.now()
    period = Period(now - timedelta(days=90), now)
    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        rows = rule_figures(period)
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        rule_figures(period)
        timings.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": round(statistics.median(timings), 1),
        "p95_ms": round(percentile(timings, 0.95), 1),
        "queries": counter.count,
        "versions": len(rows),
    }


def measure_cds(requests: int, rng: random.Random) -> dict[str, Any]:
    from bench import cds  # it uses this module's helpers

    return cds.measure_patient_view(requests, rng)


def measure_saves(saves: int, rng: random.Random) -> dict[str, Any]:
    from bench import saves as module  # it uses this module's helpers

    return module.measure_assessment_save(saves, rng)
