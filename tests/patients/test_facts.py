"""Derived facts, pure functions, at their boundaries."""

from datetime import UTC, date, datetime, timedelta

import pytest

from patients.fact_words import describe
from patients.facts import (
    CRITERIA,
    FACTS,
    age_in_years,
    creatinine_clearance,
    derive_facts,
    withdrawal_window,
)
from tests.base import COMPLETE_COWS, COMPLETE_IRLS

PRODUCT_MD_FACTS = [
    "age_years",
    "sex",
    "pregnant",
    "kratom_grams_per_day",
    "kratom_doses_per_day",
    "kratom_use_months",
    "kratom_product",
    "last_dose_at",
    "hours_since_last_dose",
    "withdrawal_window",
    "uses_other_opioids",
    "on_opioid_agonist_treatment",
    "on_cns_depressant",
    "on_serotonergic_antidepressant",
    "on_sedating_antihistamine",
    "on_dopamine_antagonist",
    "on_dopamine_agonist",
    "on_gabapentinoid",
    "respiratory_disease",
    "iron_overload",
    "akathisia_suspected",
    "rls_urge_to_move",
    "rls_worse_at_rest",
    "rls_relief_with_movement",
    "rls_worse_evening",
    "rls_not_explained_by_mimic",
    "rls_before_kratom",
    "rls_criteria_met",
    "irls_total",
    "irls_band",
    "cows_total",
    "cows_band",
    "gad7_total",
    "gad7_band",
    "sleep_hours_per_night",
    "caffeine_mg_per_day",
    "nicotine_use",
    "alcohol_drinks_per_week",
    "exercise_minutes_per_week",
    "ferritin_ng_ml",
    "tsat_percent",
    "serum_creatinine_mg_dl",
    "weight_kg",
    "crcl_ml_min",
    "irls_previous_total",
    "irls_change",
]


def derive(entered=None, age=40, sex="female", hours=None):
    return derive_facts(entered or {}, age_years=age, sex=sex, hours_since_last_dose=hours)


def test_the_fact_table_has_exactly_the_names_of_product_md():
    assert [fact.name for fact in FACTS] == PRODUCT_MD_FACTS
    assert list(derive()) == PRODUCT_MD_FACTS


@pytest.mark.parametrize(
    ("born", "on", "age"),
    [
        (date(2000, 6, 15), date(2026, 6, 14), 25),
        (date(2000, 6, 15), date(2026, 6, 15), 26),
        (date(2004, 2, 29), date(2026, 2, 28), 21),
        (date(2004, 2, 29), date(2026, 3, 1), 22),
    ],
)
def test_age_counts_whole_years_and_birthdays_from_the_day(born, on, age):
    assert age_in_years(born, on) == age


@pytest.mark.parametrize(
    ("hours", "window"),
    [
        (None, None),
        (0, "before_onset"),
        (23.99, "before_onset"),
        (24, "onset"),
        (47.99, "onset"),
        (48, "peak"),
        (72, "peak"),
        (72.01, "subsiding"),
        (14 * 24, "subsiding"),
        (14 * 24 + 0.01, "protracted"),
        (8760, "protracted"),
    ],
)
def test_the_withdrawal_window_at_its_boundaries(hours, window):
    assert withdrawal_window(hours) == window


def test_criteria_are_met_only_when_all_five_are_true():
    assert derive(dict.fromkeys(CRITERIA, True))["rls_criteria_met"] is True
    for missing in CRITERIA:
        entered = dict.fromkeys(CRITERIA, True) | {missing: False}
        assert derive(entered)["rls_criteria_met"] is False, missing
    assert derive(dict.fromkeys(CRITERIA, None))["rls_criteria_met"] is False


def test_rls_before_kratom_is_not_one_of_the_criteria():
    assert derive({"rls_before_kratom": True})["rls_criteria_met"] is False


@pytest.mark.parametrize(
    ("sex", "expected"),
    [
        ("male", (140 - 40) * 70 / (72 * 1.0)),
        ("female", (140 - 40) * 70 / (72 * 1.0) * 0.85),
        ("other", (140 - 40) * 70 / (72 * 1.0) * 0.85),
        ("unknown", (140 - 40) * 70 / (72 * 1.0) * 0.85),
    ],
)
def test_cockcroft_gault_for_each_sex(sex, expected):
    facts = derive({"weight_kg": 70, "serum_creatinine_mg_dl": 1.0}, sex=sex)
    assert facts["crcl_ml_min"] == pytest.approx(expected)


def test_cockcroft_gault_worked_example():
    # 80-year-old woman, 60 kg, creatinine 1.2: (60 x 60) / 86.4 x 0.85 = 35.4 mL/min
    clearance = creatinine_clearance(age_years=80, weight_kg=60, creatinine_mg_dl=1.2, sex="female")
    assert clearance == pytest.approx(35.4166, rel=1e-4)


@pytest.mark.parametrize("missing", ["weight_kg", "serum_creatinine_mg_dl"])
def test_cockcroft_gault_is_null_when_an_input_is_missing(missing):
    entered = {"weight_kg": 70, "serum_creatinine_mg_dl": 1.0} | {missing: None}
    assert derive(entered)["crcl_ml_min"] is None


def test_unanswered_booleans_are_false_and_empty_numbers_stay_null():
    facts = derive({"pregnant": None, "kratom_product": ""})
    assert facts["pregnant"] is False
    assert facts["nicotine_use"] is False
    assert facts["ferritin_ng_ml"] is None
    assert facts["kratom_product"] is None


def test_scores_and_bands_become_facts_and_absent_scales_are_null():
    facts = derive(COMPLETE_IRLS | COMPLETE_COWS)
    assert (facts["irls_total"], facts["irls_band"]) == (24, "severe")
    assert (facts["cows_total"], facts["cows_band"]) == (14, "moderate")
    assert (facts["gad7_total"], facts["gad7_band"]) == (None, None)


def test_a_partial_scale_cannot_become_facts():
    with pytest.raises(ValueError, match="incomplete"):
        derive({"irls_1": 2})


def test_hours_and_window_come_through():
    last = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
    hours = (last + timedelta(hours=50) - last).total_seconds() / 3600
    facts = derive(hours=hours)
    assert (facts["hours_since_last_dose"], facts["withdrawal_window"]) == (50, "peak")


@pytest.mark.parametrize(
    ("irls_items", "previous", "change"),
    [
        ({f"irls_{n}": 2 for n in range(1, 11)}, 15, 5),  # 20 now, 15 before
        ({f"irls_{n}": 2 for n in range(1, 11)}, None, None),  # no earlier score
        ({}, 15, None),  # no IRLS now
    ],
)
def test_irls_change_is_the_total_minus_the_previous_total(irls_items, previous, change):
    facts = derive_facts(
        irls_items,
        age_years=40,
        sex="female",
        hours_since_last_dose=None,
        irls_previous_total=previous,
    )
    assert (facts["irls_previous_total"], facts["irls_change"]) == (previous, change)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (6, "IRLS 6 points worse than last time"),
        (1, "IRLS 1 point worse than last time"),
        (-3, "IRLS 3 points better than last time"),
        (0, "IRLS unchanged since last time"),
    ],
)
def test_the_irls_change_in_words(change, words):
    assert describe("irls_change", change) == words
