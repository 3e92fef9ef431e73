"""Why a card fired (product.md 5.2): the facts that made the condition true."""

import io
import json

import pytest
from django.core.management import call_command

from guidance.engine import because, case_facts
from guidance.models import Recommendation
from patients.models import Assessment
from tests.base import COMPLETE_IRLS, CRITERIA_MET, make_patient, record

IRLS11 = "rls_criteria_met and irls_total != null and irls_total >= 11"


@pytest.mark.parametrize(
    ("condition", "facts", "expected"),
    [
        # and: the facts of both sides
        (
            "rls_criteria_met and nicotine_use",
            {"rls_criteria_met": True, "nicotine_use": True},
            {"rls_criteria_met": True, "nicotine_use": True},
        ),
        # or with one true branch: only that branch
        (
            "on_cns_depressant or age_years >= 65",
            {"age_years": 70},
            {"age_years": 70},
        ),
        # or with both true: both
        (
            "on_cns_depressant or age_years >= 65",
            {"age_years": 70, "on_cns_depressant": True},
            {"on_cns_depressant": True, "age_years": 70},
        ),
        # not: every fact inside, with its value
        ("not pregnant", {}, {"pregnant": False}),
        (
            "not (pregnant or on_gabapentinoid)",
            {},
            {"pregnant": False, "on_gabapentinoid": False},
        ),
        # a null guard that fired on the null side names the empty fact
        (
            "ferritin_ng_ml == null or ferritin_ng_ml < 30",
            {},
            {"ferritin_ng_ml": None},
        ),
        # ... and on the comparison side, the value
        (
            "ferritin_ng_ml == null or ferritin_ng_ml < 30",
            {"ferritin_ng_ml": 12},
            {"ferritin_ng_ml": 12},
        ),
        # the branch a guard keeps from running is no reason
        (
            "tsat_percent == null or tsat_percent >= 20",
            {},
            {"tsat_percent": None},
        ),
        # product.md section 6's example
        (
            f"{IRLS11} and (on_opioid_agonist_treatment or age_years >= 65 or "
            "hours_since_last_dose == null or hours_since_last_dose < 24)",
            {"rls_criteria_met": True, "irls_total": 24, "hours_since_last_dose": 20.0},
            {"rls_criteria_met": True, "irls_total": 24, "hours_since_last_dose": 20.0},
        ),
    ],
)
def test_because_names_the_facts_that_made_the_condition_true(condition, facts, expected):
    assert because(condition, case_facts(facts)) == expected


def test_evaluate_prints_kind_qualifies_and_because(tmp_path, db):
    path = tmp_path / "facts.json"
    path.write_text(
        json.dumps(
            {
                "age_years": 40,
                "sex": "female",
                **CRITERIA_MET,
                **COMPLETE_IRLS,
                "on_serotonergic_antidepressant": True,
            }
        )
    )
    out = io.StringIO()
    call_command("evaluate", str(path), stdout=out)
    cards = {card["rule"]: card for card in json.loads(out.getvalue())["recommendations"]}
    respiratory = cards["SAFE-GABA-RESPIRATORY"]
    assert (respiratory["kind"], respiratory["qualifies"]) == ("caution", ["MED-GABAPENTINOID"])
    assert respiratory["because"] == {
        "rls_criteria_met": True,
        "irls_total": 24,
        "on_serotonergic_antidepressant": True,
        "hours_since_last_dose": None,
    }
    option = cards["MED-GABAPENTINOID"]
    assert (option["kind"], option["qualifies"]) == ("option", [])
    assert option["because"] == {
        "rls_criteria_met": True,
        "irls_total": 24,
        "on_gabapentinoid": False,
        "pregnant": False,
    }


def test_evaluate_takes_the_previous_irls_and_derives_the_change(tmp_path, db):
    path = tmp_path / "facts.json"
    path.write_text(
        json.dumps({"age_years": 40, "sex": "male", **COMPLETE_IRLS, "irls_previous_total": 30})
    )
    out = io.StringIO()
    call_command("evaluate", str(path), stdout=out)
    result = json.loads(out.getvalue())
    assert (result["facts"]["irls_previous_total"], result["facts"]["irls_change"]) == (30, -6)
    better = next(c for c in result["recommendations"] if c["rule"] == "TREND-IRLS-BETTER")
    assert better["because"] == {"irls_change": -6}


def test_a_card_stores_why_it_fired_and_the_next_assessment_sees_the_change(as_user, clinician):
    patient = make_patient(date_of_birth="1980-01-01")
    client = as_user(clinician)
    low = {f"irls_{n}": "1" for n in range(1, 11)}  # IRLS 10
    first = record(
        client, patient, assessed_at="2026-11-01T10:00", last_dose_at="2026-10-31T20:00", **low
    )
    second = record(  # VALID's IRLS: 24
        client, patient, assessed_at="2026-11-20T10:00", last_dose_at="2026-11-19T20:00"
    )
    assert (first.status_code, second.status_code) == (302, 302)
    later = Assessment.objects.get(assessed_at__day=20)
    assert (later.irls_previous_total, later.facts()["irls_change"]) == (10, 14)
    card = Recommendation.objects.get(assessment=later, rule_code="TREND-IRLS-WORSE")
    assert card.because == {"irls_change": 14}
    first = Assessment.objects.get(assessed_at__day=1)
    assert first.irls_previous_total is None
    assert not Recommendation.objects.filter(assessment=first, rule_code__startswith="TREND")


def test_a_follow_up_re_score_counts_as_the_previous_irls(as_user, clinician):
    from datetime import date

    from patients.models import FollowUp

    patient = make_patient(date_of_birth="1980-01-01")
    client = as_user(clinician)
    record(client, patient, assessed_at="2026-11-01T10:00", last_dose_at="2026-10-31T20:00")
    FollowUp.objects.create(
        patient=patient,
        due_date=date(2026, 11, 10),
        scheduled_by=clinician,
        status="completed",
        happened_on=date(2026, 11, 10),
        **{f"irls_{n}": 3 for n in range(1, 11)},  # IRLS 30
    )
    record(client, patient, assessed_at="2026-11-20T10:00", last_dose_at="2026-11-19T20:00")
    later = Assessment.objects.get(assessed_at__day=20)
    assert (later.irls_previous_total, later.facts()["irls_change"]) == (30, -6)
    assert Recommendation.objects.filter(assessment=later, rule_code="TREND-IRLS-BETTER").exists()
