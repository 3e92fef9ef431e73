"""The assessment save benchmark: a clinician's save through the view, as the browser posts
it (Django's test client, signed in): the form validated, the assessment and its history
row written, every active rule evaluated, the cards and their history, the evaluation and
the patient's latest scores. Then a correction of each saved assessment, with a reason and
other values, so that cards come, go and move to the values of now.

What the saves create is the benchmark's, not the database's: it is deleted afterwards
and the patients' latest scores put back."""

import random
import statistics
import time
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.urls import resolve, reverse
from django.utils import timezone

from bench.measure import QueryCounter, percentile
from bench.seed import make_profiles
from guidance.models import Evaluation, Recommendation
from patients.models import Assessment, Patient, PatientAccess

FORM_TIME = "%Y-%m-%dT%H:%M"


def form_data(values: dict[str, Any], assessed_at: datetime) -> dict[str, str]:
    """An assessment profile (bench.seed) as the assessment form posts it: a ticked box
    is "on", an unticked one or an empty value is not sent."""
    data = {
        name: "on" if value is True else str(value)
        for name, value in values.items()
        if value is not None and value is not False
    }
    local = timezone.localtime(assessed_at)
    data["assessed_at"] = local.strftime(FORM_TIME)
    data["last_dose_at"] = (local - timedelta(hours=30)).strftime(FORM_TIME)
    return data


def _timed(client: Client, url: str, data: dict[str, str]) -> tuple[float, int, str]:
    """One save: its time in ms, its queries, and the address it redirects to."""
    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        started = time.perf_counter()
        response = client.post(url, data)
        elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 302:
        errors = response.context["form"].errors.as_json() if response.context else ""
        raise RuntimeError(f"assessment save: status {response.status_code} {errors}")
    return elapsed, counter.count, response["Location"]


def _figures(timings: list[float], queries: list[int]) -> dict[str, Any]:
    """p50/p95 ms; the queries of the most and of the fewest a save ran (a correction
    writes one history row for each card it withdraws)."""
    return {
        "p50_ms": round(statistics.median(timings), 1),
        "p95_ms": round(percentile(timings, 0.95), 1),
        "queries": max(queries),
        "queries_fewest": min(queries),
        "saves": len(timings),
    }


def measure_assessment_save(saves: int, rng: random.Random) -> dict[str, dict[str, Any]]:
    """`saves` new assessments for patients drawn from the seeded set, then a correction of
    each: p50/p95 ms and the most and fewest queries of a save of each kind."""
    clinician = User.objects.get(username="bench_clinician")
    client = Client()
    client.force_login(clinician)
    profiles = make_profiles()
    patients = list(Patient.objects.active().order_by("?").values_list("uuid", flat=True)[:saves])
    warm_up = min(5, saves)
    started_at = timezone.now()
    # A minute ago: the form refuses a time in the future, and takes minutes only.
    assessed_at = started_at - timedelta(minutes=1)
    saved: list[str] = []  # the new assessments' addresses
    timings: dict[str, list[float]] = {"new": [], "correction": []}
    queries: dict[str, list[int]] = {"new": [], "correction": []}
    try:
        for n in range(len(patients) + warm_up):
            url = reverse("patients:assessment_create", args=[patients[n % len(patients)]])
            data = form_data(rng.choice(profiles), assessed_at)
            elapsed, count, location = _timed(client, url, data)
            saved.append(location)
            if n >= warm_up:
                timings["new"].append(elapsed)
                queries["new"].append(count)

        # Each saved assessment corrected to another profile's values, with a reason.
        versions = dict(
            Assessment.objects.filter(uuid__in=[_uuid(url) for url in saved]).values_list(
                "uuid", "version"
            )
        )
        for n, location in enumerate(saved):
            uuid = _uuid(location)
            data = {
                **form_data(rng.choice(profiles), assessed_at),
                "expected_version": str(versions[uuid]),
                "change_reason": "Benchmark: values corrected",
            }
            url = reverse("patients:assessment_edit", args=[uuid])
            elapsed, count, _ = _timed(client, url, data)
            if n >= warm_up:
                timings["correction"].append(elapsed)
                queries["correction"].append(count)
    finally:
        remove_saved([_uuid(url) for url in saved], clinician, started_at)
    return {
        "assessment_save": _figures(timings["new"], queries["new"]),
        "assessment_correction": _figures(timings["correction"], queries["correction"]),
    }


def _uuid(location: str) -> Any:
    """The assessment's UUID from the address a save redirects to."""
    return resolve(location).kwargs["uuid"]


def remove_saved(uuids: list[Any], clinician: User, since: datetime) -> None:
    """Delete what the benchmark's saves created, history included, and put back the
    patients' latest scores."""
    assessments = list(Assessment.objects.filter(uuid__in=uuids).select_related("patient"))
    ids = [assessment.pk for assessment in assessments]
    Recommendation.objects.filter(assessment_id__in=ids).delete()
    Recommendation.history.filter(assessment_id__in=ids).delete()
    Evaluation.objects.filter(assessment_id__in=ids).delete()
    Assessment.objects.filter(pk__in=ids).delete()
    Assessment.history.filter(id__in=ids).delete()
    PatientAccess.objects.filter(
        user=clinician,
        at__gte=since,
        view__in=["patients:assessment_create", "patients:assessment_edit"],
    ).delete()
    for patient in {assessment.patient for assessment in assessments}:
        patient.refresh_latest_scores()
