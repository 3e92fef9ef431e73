"""The fast matcher (guidance.engine.matcher) against rule-engine itself: the same result,
or the same refusal to evaluate, for every default rule and some harder conditions, on
random facts."""

import random
from datetime import UTC, datetime

from guidance.default_rules import DEFAULT_RULES
from guidance.engine import compile_condition, compile_matcher
from patients.facts import BOOL, FACTS


def random_facts(rng):
    facts = {}
    for fact in FACTS:
        if fact.type == BOOL:
            facts[fact.name] = rng.random() < 0.5
        elif fact.name == "age_years":
            facts[fact.name] = rng.randint(12, 90)
        elif rng.random() < 0.3:
            facts[fact.name] = None
        elif fact.choices:
            facts[fact.name] = rng.choice(fact.choices)
        elif fact.type == "int":
            facts[fact.name] = rng.randint(-10, 60)
        elif fact.type == "float":
            facts[fact.name] = rng.choice(
                [
                    0.1,
                    0.3,
                    0.30000000000000004,
                    5.0,
                    20.0,
                    24.0,
                    75.0,
                    75.00000000000001,
                    rng.uniform(0, 400),
                ]
            )
        else:
            facts[fact.name] = datetime(2026, 11, 1, tzinfo=UTC)
    return facts


EXTRA_CONDITIONS = [
    "kratom_product in ['extract', 'seven_oh']",
    "kratom_grams_per_day in [0.1, 3]",
    "irls_total in [1, 2, 24]",
    "kratom_grams_per_day == 0.1 or kratom_grams_per_day != 0.3",
    "kratom_grams_per_day != null and kratom_grams_per_day <= 0.3",
    "kratom_grams_per_day != null and kratom_grams_per_day > 0.30000000000000004",
    "tsat_percent != null and tsat_percent >= 20",
    "kratom_grams_per_day == sleep_hours_per_night",
    "kratom_grams_per_day != null and sleep_hours_per_night != null"
    " and kratom_grams_per_day <= sleep_hours_per_night",
    "irls_change != null and irls_change <= -5",
    "sex != 'male' and not (pregnant or nicotine_use) and last_dose_at != null",
    "pregnant == true or age_years < 17.5",
    "withdrawal_window == 'peak' or irls_band in ['severe', 'very_severe']",
    "true",
    "not false and rls_criteria_met",
]


def test_compiled_conditions_match_rule_engine_on_random_facts():
    rng = random.Random(2026)
    conditions = [rule["condition"] for rule in DEFAULT_RULES] + EXTRA_CONDITIONS
    for _ in range(1500):
        facts = random_facts(rng)
        for condition in conditions:
            try:
                expected = compile_condition(condition).matches(facts)
            except Exception:
                expected = "raises"
            try:
                got = compile_matcher(condition)(facts)
            except Exception:
                got = "raises"
            assert got == expected, (condition, facts)
