"""`manage.py evaluate`, as product.md section 6 describes it."""

import io
import json

import pytest
from django.core.management import call_command

from tests.base import COMPLETE_COWS, COMPLETE_IRLS

CRITERIA_MET = {
    "rls_urge_to_move": True,
    "rls_worse_at_rest": True,
    "rls_relief_with_movement": True,
    "rls_worse_evening": True,
    "rls_not_explained_by_mimic": True,
}


def evaluate(payload, tmp_path, raw=None):
    path = tmp_path / "facts.json"
    path.write_text(raw if raw is not None else json.dumps(payload))
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("evaluate", str(path), stdout=out, stderr=err)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    return code, out.getvalue(), err.getvalue().splitlines()


@pytest.fixture(autouse=True)
def database(db):
    """evaluate reads the active rules from the database."""


def test_valid_input_prints_scores_every_fact_and_recommendations(tmp_path):
    payload = {
        "age_years": 34,
        "sex": "male",
        **CRITERIA_MET,
        **COMPLETE_IRLS,
        **COMPLETE_COWS,
        "weight_kg": 80,
        "serum_creatinine_mg_dl": 1.0,
        "last_dose_at": "2026-11-24T20:00:00+00:00",
        "assessed_at": "2026-11-26T08:00:00+00:00",
    }
    code, out, err = evaluate(payload, tmp_path)
    assert (code, err) == (0, [])
    result = json.loads(out)
    assert set(result) == {"scores", "facts", "recommendations", "not_evaluated"}
    assert result["scores"] == {
        "irls": {"total": 24, "band": "severe"},
        "cows": {"total": 14, "band": "moderate"},
        "gad7": None,
    }
    facts = result["facts"]
    assert len(facts) == 46
    assert facts["rls_criteria_met"] is True
    assert facts["hours_since_last_dose"] == 36.0
    assert facts["withdrawal_window"] == "onset"
    assert facts["crcl_ml_min"] == pytest.approx((140 - 34) * 80 / 72)
    assert facts["pregnant"] is False
    assert facts["gad7_total"] is None
    assert isinstance(result["recommendations"], list)
    assert result["not_evaluated"] == []
    fired = {card["rule"]: card for card in result["recommendations"]}
    # COWS 14 at 36 h with RLS criteria met: stabilise the withdrawal first (version 3).
    assert fired["WD-FIRST"]["qualifies"] == ["MED-GABAPENTINOID", "MED-DOPAMINE-AGONIST"]
    assert (fired["WD-FIRST"]["kind"], fired["WD-FIRST"]["strength"]) == ("caution", None)
    assert fired["MED-GABAPENTINOID"]["strength"] == "strong"
    assert fired["MED-DOPAMINE-AGONIST"]["strength"] == "against_standard_use"
    assert fired["LIFE-SLEEP"]["strength"] == "not_graded"


def test_hours_since_last_dose_can_be_given_directly(tmp_path):
    code, out, _ = evaluate(
        {"age_years": 50, "sex": "other", "hours_since_last_dose": 60}, tmp_path
    )
    assert code == 0
    assert json.loads(out)["facts"]["withdrawal_window"] == "peak"


def test_standard_input_is_read_with_a_dash(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO('{"age_years": 30, "sex": "female"}'))
    out = io.StringIO()
    call_command("evaluate", "-", stdout=out)
    assert json.loads(out.getvalue())["facts"]["age_years"] == 30


@pytest.mark.parametrize(
    ("payload", "field", "says"),
    [
        ({"sex": "female"}, "age_years", "required"),
        ({"age_years": 11, "sex": "female"}, "age_years", "12 to 120"),
        ({"age_years": 30, "sex": "woman"}, "sex", "female, male, other, unknown"),
        ({"age_years": 30, "sex": "male", "cows_pulse": 3}, "cows_pulse", "0, 1, 2, 4"),
        ({"age_years": 30, "sex": "male", "irls_1": 2}, "irls_2", "not answered"),
        ({"age_years": 30, "sex": "male", "pregnant": "no"}, "pregnant", "true, false or null"),
        ({"age_years": 30, "sex": "male", "ferritin_ng_ml": -1}, "ferritin_ng_ml", "0 to 5000"),
        ({"age_years": 30, "sex": "male", "tsat_percent": "20"}, "tsat_percent", "number"),
        (
            {"age_years": 30, "sex": "male", "kratom_doses_per_day": 2.5},
            "kratom_doses_per_day",
            "whole",
        ),
        (
            {"age_years": 30, "sex": "male", "kratom_product": "tea"},
            "kratom_product",
            "leaf_powder",
        ),
        ({"age_years": 30, "sex": "male", "shoe_size": 9}, "shoe_size", "unknown field"),
        ({"age_years": 30, "sex": "male", "irls_total": 20}, "irls_total", "derived"),
        (
            {
                "age_years": 30,
                "sex": "male",
                "last_dose_at": "2026-11-26T10:00:00Z",
                "assessed_at": "2026-11-26T09:00:00Z",
            },
            "last_dose_at",
            "after the assessment",
        ),
        ({"age_years": 30, "sex": "male", "last_dose_at": "yesterday"}, "last_dose_at", "ISO 8601"),
        (
            {
                "age_years": 30,
                "sex": "male",
                "hours_since_last_dose": 5,
                "last_dose_at": "2026-11-26T09:00:00Z",
            },
            "hours_since_last_dose",
            "not both",
        ),
        (
            {"age_years": 30, "sex": "male", "hours_since_last_dose": 9000},
            "hours_since_last_dose",
            "0 to 8760",
        ),
    ],
)
def test_invalid_input_exits_2_with_a_line_naming_the_field_and_nothing_on_stdout(
    tmp_path, payload, field, says
):
    code, out, err = evaluate(payload, tmp_path)
    assert code == 2
    assert out == ""
    lines = [line for line in err if line.startswith(f"{field}:")]
    assert lines, err
    assert says in lines[0]


def test_every_problem_gets_its_own_line(tmp_path):
    code, _, err = evaluate({"age_years": 5, "sex": "x", "pregnant": 1}, tmp_path)
    assert code == 2
    assert [line.split(":")[0] for line in err] == ["age_years", "sex", "pregnant"]


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", "", '{"age_years": NaN, "sex": "male"}'])
def test_malformed_input_exits_2(tmp_path, raw):
    code, out, err = evaluate(None, tmp_path, raw=raw)
    assert code == 2
    assert out == ""
    assert err


def test_nan_is_refused_not_propagated(tmp_path):
    code, _, err = evaluate(
        None, tmp_path, raw='{"age_years": 40, "sex": "male", "weight_kg": NaN}'
    )
    assert code == 2
    assert err[0].startswith("weight_kg:")


def test_a_missing_file_exits_2_with_a_message(tmp_path):
    err = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("evaluate", str(tmp_path / "nope.json"), stderr=err)
    assert exit_.value.code == 2
    assert err.getvalue().startswith("input: cannot read")


def given(field, json_value):
    """Raw JSON: a valid input with `field` set to `json_value` (the last key wins)."""
    return f'{{"age_years": 40, "sex": "male", "{field}": {json_value}}}'


@pytest.mark.parametrize(
    ("field", "json_value"),
    [
        ("age_years", "4" * 5000),
        ("age_years", "-" + "4" * 5000),
        ("irls_1", "1" * 5000),
        ("weight_kg", "7" * 5000),
        ("weight_kg", "7" * 5000 + ".5"),
        ("age_years", "9" * 400),  # converts to int, but too big for a float
        ("kratom_doses_per_day", "1e400"),
    ],
    ids=["5000 digits", "minus", "item", "float fact", "decimal", "400 digits", "1e400"],
)
def test_a_number_with_thousands_of_digits_is_a_problem_naming_the_field_not_a_traceback(
    tmp_path, field, json_value
):
    code, out, err = evaluate(None, tmp_path, raw=given(field, json_value))
    assert (code, out) == (2, "")
    assert len(err) == 1
    assert err[0].startswith(f"{field}: ")


@pytest.mark.parametrize(
    "raw",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"age_years": 40, "sex": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"a": ' * 100_000 + "1" + "}" * 100_000,
    ],
    ids=["array", "value", "object"],
)
def test_deeply_nested_json_exits_2_with_one_line_not_a_traceback(tmp_path, raw):
    code, out, err = evaluate(None, tmp_path, raw=raw)
    assert (code, out) == (2, "")
    assert len(err) == 1
    assert err[0].startswith("input: nested too deeply")


@pytest.mark.parametrize("field", ["sex", "irls_1", "weight_kg", "pregnant", "last_dose_at"])
def test_a_nested_value_just_under_the_parser_limit_is_a_problem_naming_the_field(tmp_path, field):
    """Nested lists the JSON parser accepts can still be too deep to print in a message."""
    code, out, err = evaluate(None, tmp_path, raw=given(field, "[" * 900 + "]" * 900))
    assert (code, out) == (2, "")
    assert [line.split(":")[0] for line in err] == [field]


def test_an_unknown_field_name_with_a_line_break_stays_on_one_line(tmp_path):
    code, _, err = evaluate({"age_years": 40, "sex": "male", "shoe\nsize": 9}, tmp_path)
    assert code == 2
    assert len(err) == 1
    assert "unknown field" in err[0]
