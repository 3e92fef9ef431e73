"""Each default rule of product.md section 5 (version 3) fires exactly where its condition
says, with the kind and qualified options of section 5.1 and the strength of 5.4.

The table is written from product.md, not from guidance/default_rules.py: for every rule,
a case where it fires and the nearest case where it does not.
"""

import pytest

from guidance.engine import case_facts, evaluate
from guidance.models import Rule

IRLS11 = "rls_criteria_met and irls_total != null and irls_total >= 11"

# code -> (category, indicator, condition), as product.md section 5 states them.
PRODUCT_MD = {
    "MED-GABAPENTINOID": ("medication", "info", f"{IRLS11} and not on_gabapentinoid and not pregnant"),
    "MED-DOPAMINE-AGONIST": ("medication", "warning", f"{IRLS11} and not on_dopamine_agonist and not pregnant"),
    "SAFE-GABA-RESPIRATORY": ("safety", "critical", f"{IRLS11} and (on_opioid_agonist_treatment or uses_other_opioids or on_cns_depressant or on_sedating_antihistamine or on_serotonergic_antidepressant or respiratory_disease or age_years >= 65 or hours_since_last_dose == null or hours_since_last_dose < 24)"),
    "SAFE-GABA-RENAL": ("safety", "warning", f"{IRLS11} and crcl_ml_min != null and crcl_ml_min < 60"),
    "SAFE-GABA-RENAL-UNKNOWN": ("safety", "info", f"{IRLS11} and crcl_ml_min == null"),
    "SAFE-GABA-MISUSE": ("safety", "warning", IRLS11),
    "SAFE-DA-RENAL": ("safety", "warning", f"{IRLS11} and crcl_ml_min != null and crcl_ml_min < 60"),
    "SAFE-AUGMENTATION": ("safety", "warning", "on_dopamine_agonist"),
    "SAFE-AGGRAVATING-MEDS": ("safety", "warning", "on_serotonergic_antidepressant or on_sedating_antihistamine or on_dopamine_antagonist"),
    "SAFE-PREGNANCY": ("safety", "critical", "pregnant"),
    "SAFE-ADOLESCENT": ("safety", "critical", "age_years < 18"),
    "IRON-STUDIES": ("iron", "info", "rls_criteria_met and (ferritin_ng_ml == null or tsat_percent == null)"),
    "IRON-SUPPLEMENT": ("iron", "warning", "rls_criteria_met and not iron_overload and ((ferritin_ng_ml != null and ferritin_ng_ml <= 75) or (tsat_percent != null and tsat_percent < 20))"),
    "IRON-IV-ONLY": ("iron", "info", "rls_criteria_met and not iron_overload and ferritin_ng_ml != null and ferritin_ng_ml > 75 and ferritin_ng_ml <= 100 and (tsat_percent == null or tsat_percent >= 20)"),
    "IRON-DEFICIENCY-WORKUP": ("iron", "warning", "ferritin_ng_ml != null and ferritin_ng_ml < 30"),
    "IRON-OVERLOAD": ("safety", "critical", "iron_overload"),
    "CBT-ANXIETY": ("behavioural", "info", "gad7_total != null and gad7_total >= 10"),
    "CBT-INSOMNIA": ("behavioural", "info", "sleep_hours_per_night != null and sleep_hours_per_night < 6"),
    "WD-FIRST": ("withdrawal", "warning", "rls_criteria_met and cows_total != null and cows_total >= 13 and (hours_since_last_dose == null or hours_since_last_dose < 72)"),
    "WD-SUPERVISION": ("withdrawal", "warning", "cows_total != null and cows_total >= 13"),
    "WD-BUPRENORPHINE": ("withdrawal", "info", "cows_total != null and cows_total >= 13 and not on_opioid_agonist_treatment"),
    "WD-PEAK-WINDOW": ("withdrawal", "info", "hours_since_last_dose != null and hours_since_last_dose >= 24 and hours_since_last_dose <= 72"),
    "LIFE-EXERCISE": ("lifestyle", "info", "rls_criteria_met"),
    "LIFE-SLEEP": ("lifestyle", "info", "rls_criteria_met"),
    "LIFE-CAFFEINE": ("lifestyle", "info", "rls_criteria_met and caffeine_mg_per_day != null and caffeine_mg_per_day > 0"),
    "LIFE-NICOTINE": ("lifestyle", "info", "rls_criteria_met and nicotine_use"),
    "LIFE-ALCOHOL": ("lifestyle", "info", "rls_criteria_met and alcohol_drinks_per_week != null and alcohol_drinks_per_week > 0"),
    "LIFE-RELAXATION": ("lifestyle", "info", "rls_criteria_met or (gad7_total != null and gad7_total >= 5)"),
    "LIFE-DIET": ("lifestyle", "info", "rls_criteria_met"),
    "DDX-CRITERIA-NOT-MET": ("diagnosis", "info", "not rls_criteria_met and irls_total != null and irls_total > 0"),
    "DDX-AKATHISIA": ("diagnosis", "warning", "akathisia_suspected"),
    "TREND-IRLS-WORSE": ("monitoring", "warning", "irls_change != null and irls_change >= 5"),
    "TREND-IRLS-BETTER": ("monitoring", "info", "irls_change != null and irls_change <= -5"),
    "WD-RLS-RECHECK": ("monitoring", "info", "rls_criteria_met and hours_since_last_dose != null and hours_since_last_dose <= 336"),
}  # fmt: skip

# product.md 5.1: the cautions and the options each qualifies; every other rule is an option.
CAUTIONS = {
    "SAFE-GABA-RESPIRATORY": ["MED-GABAPENTINOID"],
    "SAFE-GABA-RENAL": ["MED-GABAPENTINOID"],
    "SAFE-GABA-RENAL-UNKNOWN": ["MED-GABAPENTINOID"],
    "SAFE-GABA-MISUSE": ["MED-GABAPENTINOID"],
    "SAFE-DA-RENAL": ["MED-DOPAMINE-AGONIST"],
    "SAFE-AUGMENTATION": ["MED-DOPAMINE-AGONIST"],
    "SAFE-AGGRAVATING-MEDS": ["MED-GABAPENTINOID", "MED-DOPAMINE-AGONIST"],
    "WD-FIRST": ["MED-GABAPENTINOID", "MED-DOPAMINE-AGONIST"],
    "SAFE-PREGNANCY": ["MED-GABAPENTINOID", "MED-DOPAMINE-AGONIST", "IRON-SUPPLEMENT", "IRON-IV-ONLY"],
    "SAFE-ADOLESCENT": [],
    "IRON-OVERLOAD": ["IRON-SUPPLEMENT", "IRON-IV-ONLY"],
    "WD-PEAK-WINDOW": [],
    "DDX-CRITERIA-NOT-MET": [],
    "DDX-AKATHISIA": [],
    "TREND-IRLS-WORSE": [],
    "TREND-IRLS-BETTER": [],
}  # fmt: skip

# product.md 5.4: the options with a grade; every other option is not graded.
STRENGTHS = {
    "MED-GABAPENTINOID": "strong",
    "IRON-SUPPLEMENT": "strong",
    "IRON-IV-ONLY": "strong",
    "MED-DOPAMINE-AGONIST": "against_standard_use",
}

RLS = {"rls_criteria_met": True}
MOD = {"rls_criteria_met": True, "irls_total": 11}

# code -> (facts where it fires, the nearest facts where it does not)
CASES = {
    "MED-GABAPENTINOID": [(MOD, RLS | {"irls_total": 10}), (MOD, MOD | {"on_gabapentinoid": True}), (MOD, MOD | {"pregnant": True}), (MOD, {"irls_total": 11})],
    "MED-DOPAMINE-AGONIST": [(MOD, MOD | {"on_dopamine_agonist": True}), (MOD, MOD | {"pregnant": True}), (MOD, RLS | {"irls_total": 10})],
    "SAFE-GABA-RESPIRATORY": [
        (MOD | {"on_opioid_agonist_treatment": True, "hours_since_last_dose": 48}, MOD | {"hours_since_last_dose": 48}),
        (MOD | {"uses_other_opioids": True}, RLS | {"irls_total": 10, "uses_other_opioids": True}),
        (MOD | {"on_cns_depressant": True, "hours_since_last_dose": 48}, MOD | {"hours_since_last_dose": 48}),
        (MOD | {"respiratory_disease": True, "hours_since_last_dose": 48}, MOD | {"hours_since_last_dose": 48}),
        (MOD | {"on_sedating_antihistamine": True, "hours_since_last_dose": 48}, MOD | {"hours_since_last_dose": 48}),
        (MOD | {"on_serotonergic_antidepressant": True, "hours_since_last_dose": 48}, MOD | {"hours_since_last_dose": 48}),
        (MOD | {"age_years": 65, "hours_since_last_dose": 48}, MOD | {"age_years": 64, "hours_since_last_dose": 48}),
        (MOD | {"hours_since_last_dose": 23.9}, MOD | {"hours_since_last_dose": 24}),
        (MOD, MOD | {"hours_since_last_dose": 24}),  # last dose time unknown
        (MOD, RLS | {"irls_total": 10}),
    ],
    "SAFE-GABA-RENAL": [(MOD | {"crcl_ml_min": 59.9}, MOD | {"crcl_ml_min": 60}), (MOD | {"crcl_ml_min": 30}, MOD)],
    "SAFE-GABA-RENAL-UNKNOWN": [(MOD, MOD | {"crcl_ml_min": 80}), (MOD, RLS | {"irls_total": 10})],
    "SAFE-GABA-MISUSE": [(MOD, RLS | {"irls_total": 10}), (MOD, {"irls_total": 40})],
    "SAFE-DA-RENAL": [(MOD | {"crcl_ml_min": 59.9}, MOD | {"crcl_ml_min": 60}), (MOD | {"crcl_ml_min": 20}, MOD), (MOD | {"crcl_ml_min": 20}, RLS | {"irls_total": 10, "crcl_ml_min": 20})],
    "SAFE-AUGMENTATION": [({"on_dopamine_agonist": True}, {})],
    "SAFE-AGGRAVATING-MEDS": [
        ({"on_serotonergic_antidepressant": True}, {}),
        ({"on_sedating_antihistamine": True}, {"on_gabapentinoid": True}),
        ({"on_dopamine_antagonist": True}, {"on_dopamine_agonist": True}),
    ],
    "SAFE-PREGNANCY": [({"pregnant": True}, {"pregnant": False})],
    "SAFE-ADOLESCENT": [({"age_years": 17}, {"age_years": 18}), ({"age_years": 12}, {"age_years": 120})],
    "IRON-STUDIES": [
        (RLS, RLS | {"ferritin_ng_ml": 50, "tsat_percent": 25}),
        (RLS | {"ferritin_ng_ml": 50}, {"ferritin_ng_ml": 50}),
        (RLS | {"tsat_percent": 25}, RLS | {"ferritin_ng_ml": 200, "tsat_percent": 25}),
    ],
    "IRON-SUPPLEMENT": [
        (RLS | {"ferritin_ng_ml": 75}, RLS | {"ferritin_ng_ml": 75.1}),
        (RLS | {"tsat_percent": 19.9}, RLS | {"tsat_percent": 20}),
        (RLS | {"ferritin_ng_ml": 20}, RLS | {"ferritin_ng_ml": 20, "iron_overload": True}),
        (RLS | {"ferritin_ng_ml": 20}, {"ferritin_ng_ml": 20}),
        (RLS | {"ferritin_ng_ml": 200, "tsat_percent": 10}, RLS | {"ferritin_ng_ml": 200, "tsat_percent": 21}),
    ],
    "IRON-IV-ONLY": [
        (RLS | {"ferritin_ng_ml": 75.1}, RLS | {"ferritin_ng_ml": 75}),
        (RLS | {"ferritin_ng_ml": 100}, RLS | {"ferritin_ng_ml": 100.1}),
        (RLS | {"ferritin_ng_ml": 90, "tsat_percent": 20}, RLS | {"ferritin_ng_ml": 90, "tsat_percent": 19.9}),
        (RLS | {"ferritin_ng_ml": 90}, RLS | {"ferritin_ng_ml": 90, "iron_overload": True}),
        (RLS | {"ferritin_ng_ml": 90}, {"ferritin_ng_ml": 90}),
    ],
    "IRON-DEFICIENCY-WORKUP": [({"ferritin_ng_ml": 29.9}, {"ferritin_ng_ml": 30}), ({"ferritin_ng_ml": 0}, {})],
    "IRON-OVERLOAD": [({"iron_overload": True}, {})],
    "CBT-ANXIETY": [({"gad7_total": 10}, {"gad7_total": 9}), ({"gad7_total": 21}, {})],
    "CBT-INSOMNIA": [({"sleep_hours_per_night": 5.9}, {"sleep_hours_per_night": 6}), ({"sleep_hours_per_night": 0}, {})],
    "WD-FIRST": [
        (RLS | {"cows_total": 13, "hours_since_last_dose": 30}, RLS | {"cows_total": 12, "hours_since_last_dose": 30}),
        (RLS | {"cows_total": 15, "hours_since_last_dose": 71.9}, RLS | {"cows_total": 15, "hours_since_last_dose": 72}),
        (RLS | {"cows_total": 15}, {"cows_total": 15}),  # last dose unknown; criteria not met
    ],
    "WD-SUPERVISION": [({"cows_total": 13}, {"cows_total": 12}), ({"cows_total": 48}, {})],
    "WD-BUPRENORPHINE": [
        ({"cows_total": 13}, {"cows_total": 12}),
        ({"cows_total": 30}, {"cows_total": 30, "on_opioid_agonist_treatment": True}),
    ],
    "WD-PEAK-WINDOW": [
        ({"hours_since_last_dose": 24}, {"hours_since_last_dose": 23.9}),
        ({"hours_since_last_dose": 72}, {"hours_since_last_dose": 72.1}),
        ({"hours_since_last_dose": 48}, {}),
    ],
    "LIFE-EXERCISE": [(RLS, {})],
    "LIFE-SLEEP": [(RLS, {})],
    "LIFE-CAFFEINE": [
        (RLS | {"caffeine_mg_per_day": 1}, RLS | {"caffeine_mg_per_day": 0}),
        (RLS | {"caffeine_mg_per_day": 100}, {"caffeine_mg_per_day": 100}),
    ],
    "LIFE-NICOTINE": [(RLS | {"nicotine_use": True}, RLS), (RLS | {"nicotine_use": True}, {"nicotine_use": True})],
    "LIFE-ALCOHOL": [
        (RLS | {"alcohol_drinks_per_week": 1}, RLS | {"alcohol_drinks_per_week": 0}),
        (RLS | {"alcohol_drinks_per_week": 1}, RLS),
    ],
    "LIFE-RELAXATION": [(RLS, {}), ({"gad7_total": 5}, {"gad7_total": 4})],
    "LIFE-DIET": [(RLS, {})],
    "DDX-CRITERIA-NOT-MET": [
        ({"irls_total": 1}, {"irls_total": 0}),
        ({"irls_total": 30}, RLS | {"irls_total": 30}),
        ({"irls_total": 1}, {}),
    ],
    "DDX-AKATHISIA": [({"akathisia_suspected": True}, {})],
    "TREND-IRLS-WORSE": [({"irls_change": 5}, {"irls_change": 4}), ({"irls_change": 20}, {})],
    "TREND-IRLS-BETTER": [({"irls_change": -5}, {"irls_change": -4}), ({"irls_change": -20}, {})],
    "WD-RLS-RECHECK": [
        (RLS | {"hours_since_last_dose": 336}, RLS | {"hours_since_last_dose": 336.1}),
        (RLS | {"hours_since_last_dose": 0}, {"hours_since_last_dose": 0}),
        (RLS | {"hours_since_last_dose": 100}, RLS),
    ],
}  # fmt: skip


@pytest.fixture
def active_rules(db):
    return {rule.code: rule for rule in Rule.objects.active()}


def fired_codes(facts, rules):
    result = evaluate(case_facts(facts), rules)
    assert result.not_evaluated == []
    return {rule.code for rule in result.fired}


def test_migrate_leaves_exactly_the_default_rules_active(active_rules):
    assert set(active_rules) == set(PRODUCT_MD)
    assert all(rule.version == 1 for rule in active_rules.values())


@pytest.mark.parametrize("code", sorted(PRODUCT_MD))
def test_each_default_rule_has_product_mds_category_indicator_and_condition(active_rules, code):
    rule = active_rules[code]
    assert (rule.category, rule.indicator, rule.condition) == PRODUCT_MD[code]
    assert rule.title
    assert rule.detail
    assert rule.source
    assert rule.evidence


@pytest.mark.parametrize("code", sorted(PRODUCT_MD))
def test_each_default_rule_has_product_mds_kind_and_qualified_options(active_rules, code):
    rule = active_rules[code]
    expected = ("caution", CAUTIONS[code]) if code in CAUTIONS else ("option", [])
    assert (rule.kind, rule.qualifies) == expected


@pytest.mark.parametrize("code", sorted(PRODUCT_MD))
def test_each_default_option_has_product_mds_strength_and_a_caution_none(active_rules, code):
    rule = active_rules[code]
    expected = None if code in CAUTIONS else STRENGTHS.get(code, "not_graded")
    assert rule.strength == expected


@pytest.mark.parametrize(
    ("code", "fires", "does_not"),
    [(code, fires, not_) for code, pairs in CASES.items() for fires, not_ in pairs],
)
def test_each_default_rule_fires_where_its_condition_says_and_not_at_the_nearest_case(
    active_rules, code, fires, does_not
):
    rule = active_rules[code]
    assert code in fired_codes(fires, [rule])
    assert code not in fired_codes(does_not, [rule])


def test_every_default_rule_has_cases_here():
    assert set(CASES) == set(PRODUCT_MD)


def test_every_default_rules_own_test_cases_pass(active_rules):
    from guidance.engine import run_cases

    for rule in active_rules.values():
        results = run_cases(rule.condition, rule.test_cases)
        assert results, rule.code
        assert all(result.passed for result in results), rule.code


def test_a_blank_adult_fires_nothing(active_rules):
    assert fired_codes({}, active_rules.values()) == set()


def test_cards_come_critical_first_then_warning_then_info(active_rules):
    facts = MOD | {"pregnant": True, "on_dopamine_agonist": True, "ferritin_ng_ml": 20}
    result = evaluate(case_facts(facts), active_rules.values())
    order = [rule.indicator for rule in result.fired]
    assert order == sorted(order, key=["critical", "warning", "info"].index)
    assert order[0] == "critical"
    assert order[-1] == "info"


@pytest.mark.parametrize("code", ["WD-PEAK-WINDOW", "LIFE-DIET", "IRON-OVERLOAD"])
def test_rules_resting_on_unverified_facts_say_so(active_rules, code):
    """These lean on facts tagged U in clinical-reference.md (the withdrawal timeline,
    diet and hydration benefit, iron-overload thresholds)."""
    rule = active_rules[code]
    assert "unverified" in rule.detail.lower()
    assert rule.evidence.startswith("U")


# product.md 5.3: points the sources require in the wording (clinical-reference.md 6).
WORDING = {
    "MED-GABAPENTINOID": ["somnolence", "driving", "suicidal", "600 mg once daily with food at about 5 PM"],
    "SAFE-GABA-MISUSE": ["Avoid", "substance use disorder", "limited supplies", "Hägg 2020"],
    "IRON-IV-ONLY": ["phosphate", "51%", "hypersensitivity"],
    "IRON-SUPPLEMENT": ["non-pregnant adults"],
    "MED-DOPAMINE-AGONIST": ["excreted unchanged by the kidneys", "sudden sleep episodes"],
    "SAFE-AUGMENTATION": ["levodopa (about 27%)", "dopamine agonists (about 6%)"],
    "WD-SUPERVISION": ["restlessness", "tremor"],
    "SAFE-DA-RENAL": ["90%", "60% lower", "75% lower", "lowest dose", "unverified"],
    "WD-FIRST": ["1.7 days", "Re-score the IRLS once the COWS is below 13", "this application's design"],
    "SAFE-GABA-RESPIRATORY": ["antidepressants", "antihistamines", "unknown last-dose time", "this application's"],
}  # fmt: skip


@pytest.mark.parametrize("code", sorted(WORDING))
def test_the_wording_carries_the_points_the_sources_require(active_rules, code):
    text = active_rules[code].detail
    assert [point for point in WORDING[code] if point not in text] == []


def test_the_withdrawal_windows_never_say_rls_is_subsiding_after_72_hours():
    from patients.facts import WINDOW_LABELS

    after_peak = WINDOW_LABELS["subsiding"].lower()
    assert "subsiding" not in after_peak
    assert "rls can still worsen" in after_peak
    assert "this application's boundary" in WINDOW_LABELS["protracted"]
