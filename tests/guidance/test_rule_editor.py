"""Guidance admins edit rules: versioned, type-checked, tested before activation."""

import json

import pytest
from django.urls import reverse

from guidance.models import Rule
from guidance.services import evaluate_assessment
from tests.base import make_assessment, make_patient

pytestmark = pytest.mark.django_db


def form_data(rule, **changes):
    data = {
        "code": rule.code,
        "title": rule.title,
        "detail": rule.detail,
        "category": rule.category,
        "indicator": rule.indicator,
        "condition": rule.condition,
        "source": rule.source,
        "evidence": rule.evidence,
        "test_cases": json.dumps(rule.test_cases),
        "owner": rule.owner,
        "review_by": rule.review_by.isoformat() if rule.review_by else "",
        "change_note": "Tightened the threshold",
    }
    data.update(changes)
    return data


def edit(client, rule, **changes):
    return client.post(
        reverse("guidance:rule_edit", args=[rule.code, rule.version]), form_data(rule, **changes)
    )


@pytest.fixture
def cbt(db):
    return Rule.objects.get(code="CBT-ANXIETY", version=1)


def test_the_rule_list_shows_every_code_with_its_active_version(as_user, guidance_admin):
    response = as_user(guidance_admin).get(reverse("guidance:rules"))
    page = response.content.decode()
    assert len(response.context["codes"]) == 34
    assert "MED-GABAPENTINOID" in page
    assert "DDX-AKATHISIA" in page


def test_editing_saves_a_new_draft_version_and_leaves_the_old_one_as_it_was(
    as_user, guidance_admin, cbt
):
    response = edit(
        as_user(guidance_admin), cbt, condition="gad7_total != null and gad7_total >= 12"
    )
    v2 = Rule.objects.get(code="CBT-ANXIETY", version=2)
    assert response.status_code == 302
    assert response.url == v2.get_absolute_url()
    assert (v2.status, v2.condition, v2.created_by) == (
        "draft",
        "gad7_total != null and gad7_total >= 12",
        guidance_admin,
    )
    cbt.refresh_from_db()
    assert (cbt.status, cbt.condition) == ("active", "gad7_total != null and gad7_total >= 10")


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("gad7_totl >= 12", "Unknown fact &#x27;gad7_totl&#x27; at character 1"),
        ("gad7_totl >= 12", "Did you mean gad7_total?"),
        ("gad7_band == 12", "Type mismatch"),
        ("gad7_total >= ", "Syntax error at the end of the condition"),
    ],
)
def test_a_bad_condition_is_refused_with_its_message_and_nothing_is_saved(
    as_user, guidance_admin, cbt, condition, message
):
    response = edit(as_user(guidance_admin), cbt, condition=condition)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert "Nothing has been saved" in response.content.decode()
    assert Rule.objects.filter(code="CBT-ANXIETY").count() == 1


@pytest.mark.parametrize(
    ("cases", "message"),
    [
        ("not json", "Not valid JSON"),
        ('{"a": 1}', "Give a list of test cases"),
        ('[{"facts": {}, "fires": "yes"}]', "must be true or false"),
        ('[{"facts": {"gad7_totl": 3}, "fires": true}]', "unknown fact"),
    ],
)
def test_bad_test_cases_are_refused(as_user, guidance_admin, cbt, cases, message):
    response = edit(as_user(guidance_admin), cbt, test_cases=cases)
    assert message in response.content.decode()
    assert Rule.objects.filter(code="CBT-ANXIETY").count() == 1


def test_a_draft_with_failing_test_cases_cannot_be_activated(as_user, guidance_admin, cbt):
    client = as_user(guidance_admin)
    edit(
        client, cbt, condition="gad7_total != null and gad7_total >= 12"
    )  # case "GAD-7 10" now fails
    v2 = Rule.objects.get(code="CBT-ANXIETY", version=2)
    page = client.get(v2.get_absolute_url()).content.decode()
    assert "failing" in page
    response = client.post(reverse("guidance:rule_activate", args=["CBT-ANXIETY", 2]), follow=True)
    assert "CBT-ANXIETY v2 was not activated: test cases failing: GAD-7 10" in (
        response.content.decode()
    )
    v2.refresh_from_db()
    assert v2.status == "draft"
    assert Rule.objects.active().get(code="CBT-ANXIETY").version == 1  # the old one stays


def test_a_draft_without_test_cases_cannot_be_activated(as_user, guidance_admin, cbt):
    client = as_user(guidance_admin)
    edit(client, cbt, test_cases="[]")
    response = client.post(reverse("guidance:rule_activate", args=["CBT-ANXIETY", 2]), follow=True)
    assert "add at least one test case" in response.content.decode()
    statuses = dict(Rule.objects.filter(code="CBT-ANXIETY").values_list("version", "status"))
    assert statuses == {1: "active", 2: "draft"}


def test_activating_a_passing_draft_retires_the_previous_version(as_user, guidance_admin, cbt):
    client = as_user(guidance_admin)
    cases = [
        {"name": "GAD-7 12", "facts": {"gad7_total": 12}, "fires": True},
        {"name": "GAD-7 11", "facts": {"gad7_total": 11}, "fires": False},
    ]
    edit(
        client,
        cbt,
        condition="gad7_total != null and gad7_total >= 12",
        test_cases=json.dumps(cases),
    )
    client.post(reverse("guidance:rule_activate", args=["CBT-ANXIETY", 2]))
    v1, v2 = Rule.objects.of("CBT-ANXIETY").order_by("version")
    assert (v1.status, v2.status) == ("retired", "active")
    assert v2.activated_by == guidance_admin
    assert Rule.objects.active().filter(code="CBT-ANXIETY").count() == 1
    history = client.get(v2.get_absolute_url()).content.decode()
    assert "Changed: condition, test cases" in history


def test_a_rule_is_retired_and_no_longer_fires(as_user, guidance_admin, clinician, cbt):
    as_user(guidance_admin).post(
        reverse("guidance:rule_retire", args=["CBT-ANXIETY", 1]),
        {"reason": "No longer used here", "confirm": "on"},
    )
    cbt.refresh_from_db()
    assert cbt.status == "retired"
    assessment = make_assessment(make_patient(), clinician, **{f"gad7_{n}": 3 for n in range(1, 8)})
    evaluate_assessment(assessment=assessment)
    assert not assessment.recommendations.filter(rule_code="CBT-ANXIETY").exists()


def test_a_new_rule_is_created_as_a_draft(as_user, guidance_admin):
    client = as_user(guidance_admin)
    data = form_data(
        Rule(
            code="iron-recheck",
            title="Recheck iron studies",
            detail="Recheck during therapy.",
            category="iron",
            indicator="info",
            condition="rls_criteria_met and ferritin_ng_ml != null",
            source="clinical-reference.md 6.4",
            evidence="V2",
            test_cases=[
                {
                    "name": "known",
                    "facts": {"rls_criteria_met": True, "ferritin_ng_ml": 50},
                    "fires": True,
                }
            ],
        )
    )
    response = client.post(reverse("guidance:rule_create"), data)
    rule = Rule.objects.get(code="IRON-RECHECK")
    assert response.status_code == 302
    assert (rule.version, rule.status) == (1, "draft")
    duplicate = client.post(reverse("guidance:rule_create"), data)
    assert "A rule with this code exists" in duplicate.content.decode()


# Issue #10, section 3: a rule cannot hurt the server or miss a patient.


def refused(response, field="condition"):
    assert response.status_code == 200
    return response.context["form"].errors[field]


def test_a_regular_expression_condition_is_refused_at_save(as_user, guidance_admin, cbt):
    response = edit(as_user(guidance_admin), cbt, condition="kratom_product =~ '(a+)+$'")
    assert "Regular-expression matching (=~) is not allowed in conditions" in str(refused(response))
    assert Rule.objects.filter(code="CBT-ANXIETY").count() == 1


def test_a_backtracking_regular_expression_on_fixed_text_does_not_hang_the_save(
    as_user, guidance_admin
):
    rule = Rule(
        code="REGEX",
        title="t",
        detail="d",
        category="iron",
        indicator="info",
        condition="'" + "a" * 40 + "!' =~ '(a+)+$'",  # minutes of backtracking if parsed
        source="s",
        evidence="e",
    )
    response = as_user(guidance_admin).post(reverse("guidance:rule_create"), form_data(rule))
    assert "Regular-expression matching" in str(refused(response))
    assert not Rule.objects.filter(code="REGEX").exists()


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (" or ".join(["pregnant"] * 801), "at most 2,000 are allowed"),
        ("(" * 33 + "pregnant" + ")" * 33, "nested 33 levels deep; at most 32 are allowed"),
        ("not " * 400 + "pregnant", "has 400 operators"),
    ],
)
def test_a_condition_too_big_for_the_parser_is_refused_with_a_message(
    as_user, guidance_admin, cbt, condition, message
):
    response = edit(as_user(guidance_admin), cbt, condition=condition)
    assert message in str(refused(response))
    assert Rule.objects.filter(code="CBT-ANXIETY").count() == 1


def test_an_unguarded_comparison_on_an_empty_lab_is_refused_at_save(as_user, guidance_admin, cbt):
    response = edit(as_user(guidance_admin), cbt, condition="tsat_percent < 10")
    assert refused(response) == [
        "tsat_percent can be empty (null): guard the comparison, "
        "e.g. tsat_percent != null and tsat_percent < 10"
    ]
    assert Rule.objects.filter(code="CBT-ANXIETY").count() == 1


@pytest.mark.parametrize(
    ("condition", "cases"),
    [
        (
            "tsat_percent != null and tsat_percent < 10",
            [
                {"name": "low", "facts": {"tsat_percent": 8}, "fires": True},
                {"name": "no lab", "facts": {}, "fires": False},
            ],
        ),
        (
            "hours_since_last_dose == null or hours_since_last_dose < 24",
            [
                {"name": "recent", "facts": {"hours_since_last_dose": 20}, "fires": True},
                {"name": "unknown", "facts": {}, "fires": True},
                {"name": "long ago", "facts": {"hours_since_last_dose": 30}, "fires": False},
            ],
        ),
    ],
)
def test_a_guarded_comparison_is_saved_activated_and_evaluated_on_an_assessment_without_it(
    as_user, guidance_admin, clinician, cbt, condition, cases
):
    client = as_user(guidance_admin)
    response = edit(client, cbt, condition=condition, test_cases=json.dumps(cases))
    assert response.status_code == 302
    client.post(reverse("guidance:rule_activate", args=["CBT-ANXIETY", 2]))
    assert Rule.objects.active().get(code="CBT-ANXIETY").version == 2
    assessment = make_assessment(make_patient(), clinician)  # no labs, no last dose
    evaluation = evaluate_assessment(assessment=assessment)
    assert evaluation.not_evaluated == []


def nested(depth):
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("cases", "message"),
    [
        ('[{"facts": {"tsat_percent": NaN}, "fires": true}]', "NaN is not a value any fact takes"),
        ('[{"facts": {"tsat_percent": Infinity}, "fires": true}]', "Infinity is not a value"),
        ('[{"facts": {"tsat_percent": -Infinity}, "fires": true}]', "-Infinity is not a value"),
        ('[{"facts": {"tsat_percent": 1e999}, "fires": true}]', "1e999 is not a value"),
        (
            '[{"facts": {"irls_total": 1' + "0" * 4999 + '}, "fires": true}]',
            "a number of 5,000 digits is not a value any fact takes",
        ),
        (
            '[{"facts": {"tsat_percent": 1' + "0" * 4999 + '.5}, "fires": true}]',
            "is not a value any fact takes",
        ),
        (
            '[{"facts": {"kratom_product": "extract\\u0000"}, "fires": true}]',
            "Case 1: kratom_product: 'extract\\x00' is not allowed",
        ),
        ('[{"name": "a\\u0000", "facts": {}, "fires": true}]', "without NUL characters"),
        ('[{"name": ["a"], "facts": {}, "fires": true}]', "the name must be text"),
        (nested(9999), "nested too deeply"),
        ('[{"facts": {"irls_total": ' + nested(50) + '}, "fires": true}]', "must be a number"),
        ('[{"facts": {"tsat_percent": 150}, "fires": true}]', "150 is out of range; allowed: 0"),
        ('[{"facts": {"age_years": 5}, "fires": true}]', "age_years: 5 is out of range"),
        ('[{"facts": {"irls_total": 11.5}, "fires": true}]', "must be a whole number"),
        ('[{"facts": {"pregnant": null}, "fires": true}]', "pregnant: is never empty (null)"),
        ('[{"facts": {"sex": "f"}, "fires": true}]', "sex: 'f' is not allowed"),
        (json.dumps([{"facts": {}, "fires": True}] * 51), "51 test cases: at most 50"),
        (
            json.dumps([{"name": "x" * 190, "facts": {}, "fires": True}] * 100),
            "at most 20,000 are allowed",
        ),
    ],
)
def test_test_case_values_no_fact_takes_are_a_field_error_not_a_server_error(
    as_user, guidance_admin, cbt, cases, message
):
    response = edit(as_user(guidance_admin), cbt, test_cases=cases)
    assert any(message in error for error in refused(response, "test_cases"))
    assert Rule.objects.filter(code="CBT-ANXIETY").count() == 1


def test_50_test_cases_are_allowed(as_user, guidance_admin, cbt):
    cases = [
        {"name": f"GAD-7 {n % 22}", "facts": {"gad7_total": n % 22}, "fires": n % 22 >= 10}
        for n in range(50)
    ]
    assert edit(as_user(guidance_admin), cbt, test_cases=json.dumps(cases)).status_code == 302
