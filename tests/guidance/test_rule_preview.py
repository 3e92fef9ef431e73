"""The rule preview: a draft run on every past assessment against the active version,
counts only, as fast as it must be and with the same result as the real evaluation."""

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from guidance import tasks
from guidance.default_rules import DEFAULT_RULES
from guidance.disclosure import Shown
from guidance.engine import evaluate
from guidance.models import Job, JobKind, Rule
from guidance.preview import SOURCES, Preview, fact_rows, outcomes, preview_counts, tally
from guidance.services import save_assessment
from patients.facts import CRITERIA, FACTS, KRATOM_PRODUCTS
from patients.models import Assessment, FollowUp, FollowUpStatus
from tests.base import COMPLETE_COWS, COMPLETE_IRLS, CRITERIA_MET, make_patient

pytestmark = pytest.mark.django_db

ACTIVE = "gad7_total != null and gad7_total >= 10"  # CBT-ANXIETY v1
DRAFT = (
    "(gad7_total != null and gad7_total >= 12) "
    "or (sleep_hours_per_night != null and sleep_hours_per_night < 5)"
)


def gad7(total):
    items = dict.fromkeys([f"gad7_{n}" for n in range(1, 8)], 0)
    for n in range(total):
        items[f"gad7_{n % 7 + 1}"] += 1
    return items


def assessments(patient, clinician, count, **fields):
    for _ in range(count):
        Assessment.objects.create(patient=patient, assessed_by=clinician, **fields)


@pytest.fixture
def cbt(db):
    return Rule.objects.get(code="CBT-ANXIETY", version=1)


@pytest.fixture
def draft(cbt, guidance_admin):
    rule = Rule(
        code=cbt.code,
        title=cbt.title,
        detail=cbt.detail,
        category=cbt.category,
        indicator=cbt.indicator,
        condition=DRAFT,
        source=cbt.source,
        evidence=cbt.evidence,
    )
    rule.save_as_new_version(by=guidance_admin)
    return rule


@pytest.fixture
def mixed(clinician, draft):
    """23 assessments: 5 only the active version fires on, 6 both fire on (GAD-7 14),
    7 only the draft (short sleep, no GAD-7), 2 both (each for its own reason), 3 neither."""
    patient = make_patient()
    assessments(patient, clinician, 5, **gad7(10))
    assessments(patient, clinician, 6, **gad7(14))
    assessments(patient, clinician, 7, sleep_hours_per_night=4.0)
    assessments(patient, clinician, 2, **gad7(10), sleep_hours_per_night=4.5)
    assessments(patient, clinician, 3, sleep_hours_per_night=7.0)


def counted(result):
    """The exact counts of a tally, by name (None: not counted, nothing to compare)."""
    names = ("checked", "draft_fires", "draft_failed")
    compared = ("active_fires", "active_failed", "gain", "lose")
    return {name: getattr(result, name).count for name in names} | {
        name: getattr(result, name).count if result.compared else None for name in compared
    }


def test_the_preview_counts_who_would_gain_and_who_would_lose_the_card(cbt, draft, mixed):
    assert counted(tally(draft, cbt)) == {
        "checked": 23,
        "draft_fires": 15,
        "draft_failed": 0,
        "active_fires": 13,
        "active_failed": 0,
        "gain": 7,
        "lose": 5,
    }


def test_what_is_shown_is_each_count_protected_by_its_own_cell_key(cbt, draft, mixed):
    exact = tally(draft, cbt)
    preview = preview_counts(draft, cbt)
    assert preview.assessments == exact.checked.shown()
    assert (preview.draft_fires, preview.active_fires) == (
        exact.draft_fires.shown(),
        exact.active_fires.shown(),
    )
    assert (preview.gain, preview.lose) == (exact.gain.shown(), exact.lose.shown())
    for value in (preview.assessments, preview.draft_fires, preview.gain):
        assert value.value is not None  # 23, 15 and 7 are 5 or more, give or take 2
    assert preview.seconds > 0


@pytest.mark.parametrize(
    ("seconds", "shown"), [(0.0001, "1 ms"), (0.0042, "4 ms"), (0.9994, "999 ms"), (1.84, "1.8 s")]
)
def test_the_time_taken_reads_well_at_any_size(seconds, shown):
    count = Shown(None)
    assert Preview(count, seconds, count, None, None, None, count, None).time_text == shown


def test_a_preview_keeps_only_shown_values_in_its_result(cbt, draft, mixed):
    preview = preview_counts(draft, cbt)
    stored = preview.as_json()
    assert Preview.from_json(stored) == preview
    assert set(stored) == {
        "assessments",
        "seconds",
        "draft_fires",
        "active_fires",
        "gain",
        "lose",
        "not_evaluated",
        "active_not_evaluated",
    }


def test_the_active_version_is_compared_with_nothing(cbt, mixed):
    result = tally(cbt, cbt)
    assert (result.compared, result.draft_fires.count) == (False, 13)
    preview = preview_counts(cbt, cbt)
    assert preview.active_fires == preview.draft_fires
    assert (preview.gain, preview.lose, preview.active_not_evaluated) == (None, None, None)


def test_without_an_active_version_there_is_nothing_to_gain_or_lose(cbt, draft, mixed):
    cbt.retire(reason="test")
    assert counted(tally(draft, None))["draft_fires"] == 15
    preview = preview_counts(draft, None)
    assert (preview.active_fires, preview.gain) == (None, None)


def test_the_preview_runs_on_every_assessment_not_the_last_1000(clinician, cbt, draft):
    patients = [make_patient() for _ in range(3)]
    Assessment.objects.bulk_create(
        Assessment(
            patient=patients[n % 3],
            assessed_by=clinician,
            assessed_at=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=n),
            **gad7(14 if n % 2 else 0),
            gad7_total=14 if n % 2 else 0,  # bulk_create skips save(), which derives it
        )
        for n in range(1234)
    )
    counts = counted(tally(draft, cbt))
    assert counts["checked"] == 1234
    assert (counts["draft_fires"], counts["active_fires"]) == (617, 617)
    assert (counts["gain"], counts["lose"]) == (0, 0)


def test_the_preview_reports_its_progress_as_it_goes(monkeypatch, clinician, cbt, draft):
    monkeypatch.setattr("guidance.preview.CHUNK_SIZE", 10)
    patient = make_patient()
    assessments(patient, clinician, 25, **gad7(14))
    reported = []
    tally(draft, cbt, progress=reported.append)
    assert reported == [10, 20]


def test_a_condition_that_no_longer_compiles_is_not_evaluated_on_any(cbt, mixed):
    broken = Rule(code="CBT-ANXIETY", condition="no_such_fact >= 1")
    counts = counted(tally(broken, cbt))
    assert (counts["draft_fires"], counts["draft_failed"], counts["gain"], counts["lose"]) == (
        0,
        23,
        0,
        13,
    )


def test_the_preview_task_runs_a_pinned_number_of_queries(
    guidance_admin, draft, mixed, django_assert_num_queries
):
    job = Job.objects.create(kind=JobKind.PREVIEW, rule=draft, requested_by=guidance_admin)
    # the job, its start, the active version, the total and its saving, then one query
    # for every assessment (23, one chunk), and the result
    with django_assert_num_queries(7):
        tasks.preview.call(job.pk)
    job.refresh_from_db()
    assert job.result["preview"]["assessments"] is not None


# The same fires and not-fires as the real evaluation


def varied_assessments(clinician, rng):
    """Assessments that between them take every kind of value each fact can: empty and
    given, at the rules' thresholds, ages either side of 18 and 65 in the clinic's time
    zone, previous IRLS scores from earlier assessments and follow-up re-scores."""
    births = [date(2008, 11, 27), date(1961, 11, 26), date(1961, 11, 27), date(1980, 5, 5)]
    saved = []
    for n in range(36):
        patient = make_patient(date_of_birth=births[n % 4], sex=["female", "male", "other"][n % 3])
        if n % 5 == 0:
            followup = FollowUp.objects.create(
                patient=patient,
                due_date=date(2026, 10, 1),
                scheduled_by=clinician,
                status=FollowUpStatus.COMPLETED,
                happened_on=date(2026, 10, 1),
                recorded_by=clinician,
                recorded_at=datetime(2026, 10, 1, 12, tzinfo=UTC),
                **COMPLETE_IRLS,
            )
            assert followup.irls_total == 24
        for visit in range(1 + n % 2):
            assessed_at = datetime(2026, 11, 27, 2, tzinfo=UTC) + timedelta(days=7 * visit)
            values = {
                **{
                    name: rng.random() < 0.4
                    for name in (
                        "pregnant",
                        "uses_other_opioids",
                        "on_opioid_agonist_treatment",
                        "on_cns_depressant",
                        "on_gabapentinoid",
                        "on_serotonergic_antidepressant",
                        "on_sedating_antihistamine",
                        "on_dopamine_antagonist",
                        "on_dopamine_agonist",
                        "respiratory_disease",
                        "iron_overload",
                        "akathisia_suspected",
                        "nicotine_use",
                        "rls_before_kratom",
                    )
                },
                **(CRITERIA_MET if rng.random() < 0.7 else {CRITERIA[0]: True}),
                **(COMPLETE_IRLS if rng.random() < 0.6 else {}),
                **(COMPLETE_COWS if rng.random() < 0.5 else {}),
                **(gad7(rng.choice([4, 5, 10, 21])) if rng.random() < 0.5 else {}),
                "kratom_product": rng.choice(["", *KRATOM_PRODUCTS]),
                "kratom_grams_per_day": rng.choice([None, 0.1, 12.5]),
                "last_dose_at": rng.choice(
                    [
                        None,
                        *(assessed_at - timedelta(hours=h) for h in (3, 23.99, 24, 72, 336, 400)),
                    ]
                ),
                "ferritin_ng_ml": rng.choice([None, 29.9, 30.0, 75.0, 75.1, 100.0, 140.0]),
                "tsat_percent": rng.choice([None, 19.99, 20.0, 45.0]),
                "serum_creatinine_mg_dl": rng.choice([None, 0.9, 2.4]),
                "weight_kg": rng.choice([None, 54.5, 90.0]),
                "sleep_hours_per_night": rng.choice([None, 5.99, 6.0, 8.0]),
                "caffeine_mg_per_day": rng.choice([None, 0, 250]),
                "alcohol_drinks_per_week": rng.choice([None, 0, 9]),
            }
            if n % 7 == 3:  # IRLS 10 (mild): just under the rules' threshold of 11
                values.update({f"irls_{i}": 1 for i in range(1, 11)})
            assessment = Assessment(
                patient=patient, assessed_by=clinician, assessed_at=assessed_at, **values
            )
            save_assessment(assessment=assessment)
            saved.append(assessment)
    return saved


@pytest.mark.parametrize("zone", ["UTC", "America/New_York"])
def test_the_preview_fires_exactly_where_the_engine_fires(settings, clinician, zone):
    settings.TIME_ZONE = zone  # ages change on a birthday in the clinic's time zone
    saved = varied_assessments(clinician, random.Random(12))
    facts = {assessment.pk: assessment.facts() for assessment in saved}
    rules = [Rule(**{key: rule[key] for key in ("code", "condition")}) for rule in DEFAULT_RULES]
    expected = {
        pk: {rule.code for rule in evaluate(values, rules).fired} for pk, values in facts.items()
    }
    conditions = [rule.condition for rule in rules]
    fired = {
        pk: {rule.code for rule, result in zip(rules, results, strict=True) if result}
        for pk, results in outcomes(conditions)
    }
    assert fired == expected
    assert len({code for codes in expected.values() for code in codes}) >= 25  # varied enough


def test_the_facts_the_preview_reads_are_those_of_the_assessment(settings, clinician):
    settings.TIME_ZONE = "America/New_York"
    saved = {a.pk: a.facts() for a in varied_assessments(clinician, random.Random(3))}
    names = [fact.name for fact in FACTS]
    assert set(SOURCES) == set(names)  # the preview knows where every fact comes from
    for pk, facts in fact_rows(names):
        assert {name: facts[name] for name in names} == {name: saved[pk][name] for name in names}


def test_a_condition_reads_only_the_columns_of_its_facts():
    with CaptureQueriesContext(connection) as queries:
        list(fact_rows(["gad7_band"]))
    (query,) = queries.captured_queries
    assert "gad7_total" in query["sql"]
    assert "gad7_1" not in query["sql"]
    assert "irls_total" not in query["sql"]
    assert "patients_patient" not in query["sql"]  # no join for a fact of the assessment's own
