"""`make bench` measures every key on a handful of seeded patients, and leaves the seeded
records as they were."""

import random
from numbers import Number

from bench import measure
from bench.saves import measure_assessment_save
from bench.seed import Seeder
from guidance.models import Recommendation
from patients.models import Assessment, Patient

PAGES = {
    "patient_list",
    "patient_search",
    "patient_detail",
    "assessment_detail",
    "worklist",
    "awaiting_review",
    "assessment_cards",
}


def seed(patients: int) -> None:
    Seeder(patients, progress=lambda message: None).run()


def test_every_key_is_measured_on_a_few_seeded_patients(db):
    seed(6)
    result = measure.report(6, 2)
    assert set(result["pages"]) == PAGES
    for figures in [
        *result["pages"].values(),
        result["cds_patient_view"],
        result["assessment_save"],
        result["assessment_correction"],
    ]:
        assert isinstance(figures["p50_ms"], Number) and figures["p50_ms"] > 0
        assert figures["p95_ms"] >= figures["p50_ms"]
        assert isinstance(figures["queries"], int) and figures["queries"] > 0
    assert result["assessment_save"]["saves"] == result["assessment_correction"]["saves"] == 2
    assert result["rule_preview"]["assessments"] == Assessment.objects.count()
    assert result["engine_us_per_assessment"]["median"] > 0


def test_the_saves_measured_leave_no_assessment_card_or_history_behind(db):
    seed(4)
    latest = dict(Patient.objects.values_list("pk", "latest_irls_total"))
    records = (
        Assessment.objects.count(),
        Assessment.history.count(),
        Recommendation.objects.count(),
        Recommendation.history.count(),
    )
    figures = measure_assessment_save(4, random.Random(1))
    assert figures["assessment_save"]["saves"] == 4
    assert (
        Assessment.objects.count(),
        Assessment.history.count(),
        Recommendation.objects.count(),
        Recommendation.history.count(),
    ) == records
    assert dict(Patient.objects.values_list("pk", "latest_irls_total")) == latest
