"""The engine and the condition checker: pure functions, no database."""

import itertools
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guidance.default_rules import DEFAULT_RULES
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
        # rule-engine's own refusal says neither where nor which fact: the fact, the
        # operator and the position are found and named.
        (
            "age_years > 5 and sex > 5",
            "Type mismatch at character 19 (“sex > 5…”): sex is text (one of female, male, "
            "other, unknown), and > compares numbers only.",
        ),
        ("pregnant > 1", "Type mismatch at character 1 (“pregnant > 1…”): pregnant is true/false"),
        (
            'ferritin_ng_ml != null and ferritin_ng_ml < "a"',
            'at character 28 (“ferritin_ng_ml < "a"…”): ferritin_ng_ml is a number, and it is '
            'compared with "a", which is text.',
        ),
        ("rls_criteria_met and (", "Syntax error at the end of the condition"),
        ("rls_criteria_met or or pregnant", "Syntax error at character 21"),
        ("irls_total", "irls_total gives a number, not true or false"),
        ("pregnant and irls_band", "irls_band gives text, not true or false"),
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
    # Checked conditions cannot raise on real facts; facts of the wrong type still make one.
    broken = rule("BROKEN", "ferritin_ng_ml != null and ferritin_ng_ml <= 75")
    fine = rule("FINE", "pregnant", indicator="critical")
    facts = case_facts({"pregnant": True}) | {"ferritin_ng_ml": "high"}
    result = evaluate(facts, [broken, fine])
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
        "ferritin_ng_ml != null and ferritin_ng_ml <= 75",
        [
            {"name": "low", "facts": {"ferritin_ng_ml": 20}, "fires": True},
            {"name": "wrong", "facts": {"ferritin_ng_ml": 80}, "fires": True},
            {"name": "null", "facts": {}, "fires": False},
            # Stored before test case facts were checked as they are now.
            {"name": "impossible", "facts": {"ferritin_ng_ml": "low"}, "fires": False},
        ],
    )
    assert [(r.name, r.passed) for r in results] == [
        ("low", True),
        ("wrong", False),
        ("null", True),
        ("impossible", False),
    ]
    assert results[3].outcome is None
    assert "must be a number" in results[3].problem


@pytest.mark.parametrize(
    ("facts", "message"),
    [
        ({"ferritn": 1}, "unknown fact"),
        ({"pregnant": "yes"}, "pregnant: must be true, false or null"),
        ({"pregnant": None}, "pregnant: is never empty"),
        ({"age_years": None}, "age_years: is never empty"),
        ({"sex": None}, "sex: is never empty"),
        ({"sex": "f"}, "sex: 'f' is not allowed; allowed: female, male, other, unknown"),
        ({"kratom_product": "extract\x00"}, r"kratom_product: 'extract\\x00' is not allowed"),
        ({"tsat_percent": float("nan")}, "tsat_percent: must be a finite number"),
        ({"tsat_percent": float("inf")}, "tsat_percent: must be a finite number"),
        ({"tsat_percent": float("-inf")}, "tsat_percent: must be a finite number"),
        ({"tsat_percent": 100.5}, "tsat_percent: 100.5 is out of range; allowed: 0 to 100 %"),
        ({"age_years": 11}, "age_years: 11 is out of range"),
        ({"irls_total": 10**5000}, "irls_total: a number that large is out of range"),
        ({"irls_total": 11.5}, "irls_total: must be a whole number"),
        ({"irls_total": True}, "irls_total: must be a number"),
        ({"last_dose_at": "2026-11-20\x00"}, "last_dose_at: .* is not an ISO 8601 date"),
        ({"crcl_ml_min": float("nan")}, "crcl_ml_min: must be a finite number"),
    ],
)
def test_test_case_facts_are_checked(facts, message):
    with pytest.raises(ValueError, match=message):
        case_facts(facts)


def test_test_case_facts_take_the_values_an_assessment_can_give():
    facts = case_facts({"irls_total": 11.0, "tsat_percent": 20, "crcl_ml_min": 250.5})
    assert (facts["irls_total"], facts["tsat_percent"], facts["crcl_ml_min"]) == (11, 20.0, 250.5)
    assert isinstance(facts["irls_total"], int)
    assert isinstance(facts["tsat_percent"], float)
    assert (facts["age_years"], facts["sex"], facts["pregnant"]) == (40, "unknown", False)


# The language: only what the fact table needs (issue #10, section 3).


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("kratom_product =~ 'ext.*'", "Regular-expression matching (=~) is not allowed"),
        ("kratom_product =~~ 'ext'", "Regular-expression matching (=~~) is not allowed"),
        ("kratom_product !~ 'ext'", "Regular-expression matching (!~) is not allowed"),
        ("kratom_product !~~ 'ext'", "Regular-expression matching (!~~) is not allowed"),
        ("kratom_product =~ 'ext'", "compare with == or in. Found at character 16"),
        ("sex.length == 4", "Attribute access (.) is not allowed"),
        ("sex&.length == 4", "Attribute access (&.) is not allowed"),
        ("irls_total + 1 > 12", "Arithmetic (+) is not allowed"),
        ("irls_total - 1 > 12", "Arithmetic (-) is not allowed"),
        ("irls_total * 2 > 12", "Arithmetic (*) is not allowed"),
        ("irls_total / 2 > 12", "Arithmetic (/) is not allowed"),
        ("irls_total // 2 > 12", "Arithmetic (//) is not allowed"),
        ("irls_total % 2 == 0", "Arithmetic (%) is not allowed"),
        ("irls_total ** 2 > 12", "Arithmetic (**) is not allowed"),
        ("irls_total > - -5", "Arithmetic (-) is not allowed"),
        ("irls_total & 1 == 1", "Bitwise operators (&) are not allowed"),
        ("irls_total << 1 == 2", "Bitwise operators (<<) are not allowed"),
        ("(irls_total ?? 0) > 10", "The ?? operator is not allowed"),
        ("pregnant ? true : false", "The ? : operator is not allowed"),
        ("irls_total in [x for x in [1]]", "Comprehensions (for … in …) are not allowed"),
        ("sex in {'male'}", "Sets and mappings ({…}) are not allowed"),
        ("$abs(irls_total) > 1", "Built-in symbols ($abs) are not allowed"),
        ("pregnant(1)", "Function calls are not allowed"),
        ("sex[0] == 'm'", "Indexing and slicing ([…]) are not allowed"),
        ("sex[0:1] == 'm'", "Indexing and slicing ([…]) are not allowed"),
        ("sex&[0] == 'm'", "Indexing and slicing ([…]) are not allowed"),
        ("[1, 2] == [1, 2]", "square brackets only make a list after in"),
        ("irls_total in [[1]]", "square brackets only make a list after in"),
        ("last_dose_at < d'2026-01-01'", "Date literals (2026-01-01) are not allowed"),
        ("hours_since_last_dose < t'P1D'", "Time-span literals (P1D) are not allowed"),
        ("sex == b'male'", "Bytes literals"),
        ("irls_total < nan", "nan is not allowed"),
        ("irls_total < inf", "inf is not allowed"),
        ("pregnant # a note", "Comments (#) are not allowed"),
        ("sex < 'male'", "< compares numbers only; sex is text"),
        ("pregnant >= false", ">= compares numbers only; pregnant is true/false"),
        ("irls_total != null and irls_total > null", "Type mismatch"),
        ("(pregnant == true) == true", "== compares a fact with a value or with another fact"),
        ("'male' in sex", "in needs a fact on its left and a list on its right"),
        ("sex in ['male', 'woman']", "'woman' is never a value of sex"),
        ("irls_total in [1, 'two']", "The list after irls_total in must hold numbers only"),
        ("irls_total in [1, irls_total]", "must hold numbers only, not irls_total"),
        ("sex in []", "The list after sex in is empty"),
        ("pregnant in [true]", "compare pregnant with == instead"),
    ],
)
def test_the_condition_language_refuses_what_the_fact_table_does_not_need(condition, message):
    with pytest.raises(ConditionError) as error:
        compile_condition(condition)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("condition", "facts", "fires"),
    [
        ("kratom_product in ['extract', 'seven_oh']", {"kratom_product": "seven_oh"}, True),
        ("kratom_product in ['extract', 'seven_oh']", {}, False),
        ("kratom_product not in ['extract', 'seven_oh']", {"kratom_product": "capsules"}, True),
        ("irls_total in [11, 12]", {"irls_total": 12}, True),
        ("irls_band != null and irls_band != 'none'", {"irls_band": "mild"}, True),
        ("irls_total != null and irls_total >= -5", {"irls_total": 0}, True),
        (
            "irls_total != null and (irls_total > -5) and not irls_total == 3",
            {"irls_total": 4},
            True,
        ),
        ("(pregnant or nicotine_use) and not (sex == 'male')", {"nicotine_use": True}, True),
        ("true", {}, True),
    ],
)
def test_the_condition_language_keeps_what_the_fact_table_needs(condition, facts, fires):
    assert compile_condition(condition).matches(case_facts(facts)) is fires


def test_a_regular_expression_on_two_literals_is_refused_before_rule_engine_runs_it():
    # rule-engine evaluates an operator on two literals while parsing: this one backtracks
    # for minutes, so it must never reach the parser.
    with pytest.raises(ConditionError, match="Regular-expression matching"):
        compile_condition("'" + "a" * 40 + "!' =~ '(a+)+$'")


def test_a_condition_of_801_terms_is_refused_before_parsing():
    with pytest.raises(ConditionError, match="at most 2,000 are allowed"):
        compile_condition(" or ".join(["pregnant"] * 801))


def test_a_condition_longer_than_2000_characters_is_refused():
    with pytest.raises(ConditionError, match="2,001 characters long; at most 2,000"):
        compile_condition("sex == '" + "x" * 1992 + "'")


def test_32_levels_of_parentheses_are_allowed_and_33_are_refused():
    assert compile_condition("(" * 32 + "pregnant" + ")" * 32)
    with pytest.raises(ConditionError, match="nested 33 levels deep; at most 32"):
        compile_condition("(" * 33 + "pregnant" + ")" * 33)


def test_parentheses_inside_text_do_not_count_as_nesting():
    with pytest.raises(ConditionError, match="is never a value of sex"):
        compile_condition("sex == '" + "(" * 40 + "'")


def test_more_than_100_operators_are_refused_even_within_2000_characters():
    # Each operator is a level of rule-engine's recursive parser: 400 `not`s fit in 2,000
    # characters and overflowed Python's stack.
    assert compile_condition("not " * 100 + "pregnant")
    with pytest.raises(ConditionError, match="has 400 operators"):
        compile_condition("not " * 400 + "pregnant")


# Null safety (product.md section 5): a comparison that would raise on an empty fact is
# refused unless the condition guards it.

NULL_SAFE = [
    "tsat_percent != null and tsat_percent < 10",
    "null != tsat_percent and 10 > tsat_percent",
    "tsat_percent == null or tsat_percent < 10",
    "hours_since_last_dose == null or hours_since_last_dose < 24",
    "not (tsat_percent == null) and tsat_percent < 10",
    "not (tsat_percent != null) or tsat_percent < 10",
    "not (tsat_percent == null or tsat_percent < 10)",
    "not (tsat_percent != null and pregnant) or tsat_percent < 10",
    "not (tsat_percent == null or pregnant) and tsat_percent < 10",
    "not (tsat_percent == null or tsat_percent < 5) and tsat_percent < 10",
    "tsat_percent != null and (pregnant or tsat_percent < 10)",
    "tsat_percent != null and (pregnant or (nicotine_use and (tsat_percent < 10)))",
    "(tsat_percent != null and pregnant) and tsat_percent < 10",
    "(pregnant and tsat_percent != null) and (tsat_percent < 10 or tsat_percent > 90)",
    "(tsat_percent == null or pregnant) or tsat_percent < 10",
    "pregnant and tsat_percent != null and tsat_percent >= 20 and tsat_percent <= 50",
    "(ferritin_ng_ml != null and ferritin_ng_ml <= 75) or (tsat_percent != null and tsat_percent < 20)",  # noqa: E501
    "ferritin_ng_ml != null and tsat_percent != null and ferritin_ng_ml < tsat_percent",
    "tsat_percent == 5 or (tsat_percent != null and tsat_percent < 10)",
    "tsat_percent == 5 and tsat_percent < 10",
    "tsat_percent in [5, 6] and tsat_percent < 10",
    "not (tsat_percent != 5) and tsat_percent < 10",
    "tsat_percent != null and tsat_percent < 10 and tsat_percent > 5",
    "(tsat_percent != null and tsat_percent < 10) and tsat_percent > 5",
    "tsat_percent == null or not (tsat_percent < 10)",
    # Never null (product.md section 4): no guard needed.
    "age_years >= 65",
    "age_years < 18 and sex != 'male'",
    "rls_criteria_met and pregnant",
    # == and != never raise on null (null == 10 is false, null != 10 is true), nor does in.
    "tsat_percent == 10",
    "tsat_percent != 10",
    "withdrawal_window == 'peak'",
    "kratom_product in ['extract']",
    "last_dose_at == null",
]

NOT_NULL_SAFE = [
    "tsat_percent < 10",
    "10 > tsat_percent",
    "tsat_percent < 10 and tsat_percent != null",  # the guard on the wrong side
    "pregnant and tsat_percent < 10",
    "tsat_percent != null or tsat_percent < 10",  # runs exactly when tsat_percent is null
    "tsat_percent == null and tsat_percent < 10",
    "(tsat_percent != null or pregnant) and tsat_percent < 10",  # the guard inside an or
    "(pregnant or tsat_percent != null) and tsat_percent < 10",
    "pregnant or (tsat_percent != null and pregnant) or tsat_percent < 10",
    "not (tsat_percent != null) and tsat_percent < 10",
    "not (tsat_percent == null) or tsat_percent < 10",
    "not (tsat_percent == null and pregnant) and tsat_percent < 10",
    "not (pregnant and tsat_percent == null) and tsat_percent < 10",
    "tsat_percent != 5 and tsat_percent < 10",
    "tsat_percent not in [5] and tsat_percent < 10",
    "ferritin_ng_ml != null and ferritin_ng_ml < 30 and tsat_percent < 10",  # another fact
    "ferritin_ng_ml != null and ferritin_ng_ml < tsat_percent",
    "(tsat_percent != null and pregnant) or tsat_percent < 10",
    "(((tsat_percent != null))) or (((tsat_percent < 10)))",
    "tsat_percent != null and (pregnant and (nicotine_use or (ferritin_ng_ml < 10)))",
    "irls_total >= 11",
    "crcl_ml_min < 60",
    "hours_since_last_dose < 24",
]


@pytest.mark.parametrize("condition", NULL_SAFE)
def test_a_guarded_comparison_is_accepted(condition):
    assert compile_condition(condition)


@pytest.mark.parametrize("condition", NOT_NULL_SAFE)
def test_an_unguarded_comparison_on_a_fact_that_can_be_null_is_refused(condition):
    with pytest.raises(ConditionError, match=r"can be empty \(null\): guard the comparison"):
        compile_condition(condition)


def test_the_null_safety_message_names_the_fact_and_shows_the_guard():
    with pytest.raises(ConditionError) as error:
        compile_condition("rls_criteria_met and tsat_percent < 10")
    assert str(error.value) == (
        "tsat_percent can be empty (null): guard the comparison, "
        "e.g. tsat_percent != null and tsat_percent < 10"
    )


@pytest.mark.parametrize("condition", NULL_SAFE)
def test_an_accepted_condition_runs_whichever_facts_are_empty(condition):
    names = ["tsat_percent", "ferritin_ng_ml", "hours_since_last_dose"]
    compiled = compile_condition(condition)
    for values in itertools.product([None, 5, 50], repeat=len(names)):
        for pregnant in (True, False):
            facts = dict(zip(names, values, strict=True)) | {"pregnant": pregnant}
            compiled.matches(case_facts(facts))


# Conditions built at random from guards, comparisons and and/or/not: whatever the checker
# accepts must run, with every fact empty or not (the checker's soundness).

_ATOMS = st.sampled_from(
    [
        "tsat_percent != null",
        "tsat_percent == null",
        "tsat_percent < 10",
        "tsat_percent >= 10",
        "tsat_percent == 5",
        "tsat_percent != 5",
        "tsat_percent in [5]",
        "ferritin_ng_ml != null",
        "ferritin_ng_ml == null",
        "ferritin_ng_ml <= 75",
        "ferritin_ng_ml < tsat_percent",
        "pregnant",
    ]
)
_CONDITIONS = st.recursive(
    _ATOMS,
    lambda inner: st.one_of(
        st.builds("({}) and ({})".format, inner, inner),
        st.builds("({}) or ({})".format, inner, inner),
        st.builds("not ({})".format, inner),
    ),
    max_leaves=6,
)


@settings(max_examples=400, deadline=None)
@given(_CONDITIONS)
def test_every_condition_the_null_check_accepts_runs_on_empty_facts(condition):
    try:
        compiled = compile_condition(condition)
    except ConditionError:
        return
    for tsat, ferritin, pregnant in itertools.product([None, 5, 50], [None, 5, 50], [True, False]):
        facts = {"tsat_percent": tsat, "ferritin_ng_ml": ferritin, "pregnant": pregnant}
        compiled.matches(case_facts(facts))  # raises on an unguarded comparison with null


def test_every_default_rule_passes_the_checks():
    for default in DEFAULT_RULES:
        compile_condition(default["condition"])
