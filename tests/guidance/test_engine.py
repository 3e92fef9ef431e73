"""The engine and the condition checker: pure functions, no database."""

from types import SimpleNamespace

import pytest

from guidance.engine import ConditionError, case_facts, compile_condition, evaluate, run_cases


def rule(code, condition, indicator="info", version=1):
    return SimpleNamespace(code=code, condition=condition, indicator=indicator, version=version)


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("ferritn_ng_ml <= 75", "Unknown fact 'ferritn_ng_ml' at character 1"),
        ("ferritn_ng_ml <= 75", "Did you mean ferritin_ng_ml?"),
        ("rls_criteria_met and irls_totl >= 11", "at character 22"),
        ("irls_band == 'sever'", "'sever' is never a value of irls_band"),
        ("pregnant == 1", "Type mismatch: pregnant is true/false but is compared with 1"),
        ("irls_band >= 11", "Type mismatch"),
        ("sex == 3", "Type mismatch: sex is text"),
        ("rls_criteria_met and (", "Syntax error at the end of the condition"),
        ("rls_criteria_met or or pregnant", "Syntax error at character 21"),
        ("irls_total + 1", "gives a number, not true or false"),
        ("   ", "The condition is empty"),
    ],
)
def test_a_bad_condition_is_refused_with_where_and_why(condition, message):
    with pytest.raises(ConditionError) as error:
        compile_condition(condition)
    assert message in str(error.value)


@pytest.mark.parametrize(
    "condition",
    [
        "ferritin_ng_ml != null and ferritin_ng_ml <= 75",
        "irls_band == 'very_severe' or cows_band == 'moderately_severe'",
        "withdrawal_window == 'peak'",
        "age_years >= 65 and sex != 'male'",
        "last_dose_at == null",
    ],
)
def test_good_conditions_compile(condition):
    assert compile_condition(condition) is not None


def test_compiled_conditions_are_cached():
    assert compile_condition("pregnant") is compile_condition("pregnant")


def test_a_rule_that_raises_is_reported_not_fatal_and_the_others_still_run(caplog):
    broken = rule("BROKEN", "ferritin_ng_ml <= 75")  # no null guard: fails on null ferritin
    fine = rule("FINE", "pregnant", indicator="critical")
    result = evaluate(case_facts({"pregnant": True}), [broken, fine])
    assert [r.code for r in result.fired] == ["FINE"]
    assert [(item.rule.code, bool(item.reason)) for item in result.not_evaluated] == [
        ("BROKEN", True)
    ]
    assert "Rule BROKEN v1 not evaluated" in caplog.text


def test_a_rule_whose_condition_no_longer_compiles_is_reported_too():
    result = evaluate(case_facts({}), [rule("OLD", "a_fact_that_was_removed")])
    assert result.fired == []
    assert "Unknown fact" in result.not_evaluated[0].reason


def test_fired_rules_come_critical_then_warning_then_info():
    rules = [
        rule("A-INFO", "true", "info"),
        rule("B-CRIT", "true", "critical"),
        rule("C-WARN", "true", "warning"),
        rule("D-NOT", "false", "critical"),
    ]
    assert [r.code for r in evaluate(case_facts({}), rules).fired] == ["B-CRIT", "C-WARN", "A-INFO"]


def test_test_cases_report_pass_fail_and_cases_that_cannot_run():
    results = run_cases(
        "ferritin_ng_ml <= 75",
        [
            {"name": "low", "facts": {"ferritin_ng_ml": 20}, "fires": True},
            {"name": "wrong", "facts": {"ferritin_ng_ml": 80}, "fires": True},
            {"name": "null", "facts": {}, "fires": False},
        ],
    )
    assert [(r.name, r.passed) for r in results] == [
        ("low", True),
        ("wrong", False),
        ("null", False),
    ]
    assert results[2].outcome is None and results[2].problem


@pytest.mark.parametrize(
    ("facts", "message"),
    [({"ferritn": 1}, "unknown fact"), ({"pregnant": "yes"}, "pregnant must be true/false")],
)
def test_test_case_facts_are_checked(facts, message):
    with pytest.raises(ValueError, match=message):
        case_facts(facts)
