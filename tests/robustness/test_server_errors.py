"""Each server error the hostile replay (test_hostile_replay.py) found, pinned by a test
of its own at the place it was fixed."""

import json
from datetime import date

import pytest
from django.urls import reverse

from guidance.engine import MAX_CONDITION_LENGTH, ConditionError, compile_condition
from guidance.models import Rule
from patients.models import Assessment, FollowUp
from tests.base import VALID, make_patient

pytestmark = pytest.mark.django_db

# str.isdigit() is true for both, int() refuses both.
NOT_QUITE_NUMBERS = ["\u00b2", "9" * 5000]


@pytest.fixture(autouse=True)
def _frozen(frozen_clock):
    """Every test of this module at the shared frozen time (tests/conftest.py)."""


@pytest.mark.parametrize("answer", NOT_QUITE_NUMBERS, ids=["superscript two", "5000 digits"])
def test_a_scale_answer_that_only_looks_like_a_number_is_left_out_of_the_live_totals(
    as_user, clinician, answer
):
    response = as_user(clinician).post(
        reverse("patients:assessment_scores"), {"irls_1": answer, "irls_2": "3"}
    )
    assert response.status_code == 200
    irls = response.context["scores"][0]
    assert (irls.answered, irls.subtotal) == (1, 3)


@pytest.mark.parametrize("answer", NOT_QUITE_NUMBERS, ids=["superscript two", "5000 digits"])
def test_an_assessment_with_such_an_answer_is_refused_with_a_field_error(
    as_user, clinician, answer
):
    patient = make_patient()
    response = as_user(clinician).post(
        reverse("patients:assessment_create", args=[patient.uuid]), VALID | {"irls_1": answer}
    )
    assert response.status_code == 200
    assert "irls_1" in response.context["form"].errors
    assert not Assessment.objects.exists()


def test_a_follow_up_re_score_with_such_an_answer_is_refused_with_a_field_error(as_user, staff):
    followup = FollowUp.objects.create(
        patient=make_patient(), due_date=date(2026, 11, 26), scheduled_by=staff
    )
    response = as_user(staff).post(
        reverse("patients:followup_record", args=[followup.uuid]),
        {"outcome": "completed", "happened_on": "2026-11-26", "irls_1": "9" * 5000},
    )
    assert response.status_code == 200
    assert "irls_1" in response.context["form"].errors


def rule_form(**changes):
    return {
        "code": "NEW-RULE",
        "title": "New rule",
        "detail": "Detail",
        "category": "diagnosis",
        "indicator": "info",
        "condition": "rls_criteria_met",
        "source": "clinical-reference.md",
        "evidence": "U",
        "test_cases": json.dumps(
            [{"name": "met", "facts": {"rls_criteria_met": True}, "fires": True}]
        ),
        "change_note": "New",
    } | changes


def case_with(name):
    return f'[{{"name": {name}, "facts": {{}}, "fires": false}}]'


@pytest.mark.parametrize(
    ("test_cases", "says"),
    [
        (case_with("9" * 5000), "digits"),
        ("[" * 100_000 + "]" * 100_000, "at most 20,000 are allowed"),
        ("[" * 5_000 + "]" * 5_000, "Case 1: give"),
        (case_with("NaN"), "NaN"),
        (case_with("1e400"), "1e400 is not a value any fact takes"),
        (case_with('"\\u0000"'), "without NUL characters"),
        (case_with('"\\ud800"'), "without NUL characters"),
    ],
    ids=["5000 digits", "huge", "nested", "NaN", "1e400", "NUL", "lone surrogate"],
)
def test_test_cases_that_json_or_the_database_refuses_are_a_form_error_not_a_500(
    as_user, guidance_admin, test_cases, says
):
    response = as_user(guidance_admin).post(
        reverse("guidance:rule_create"), rule_form(test_cases=test_cases)
    )
    assert response.status_code == 200
    assert says in str(response.context["form"].errors["test_cases"])
    assert not Rule.objects.filter(code="NEW-RULE").exists()


@pytest.mark.parametrize(
    "condition",
    [" and ".join(["rls_criteria_met"] * 6000), "not " * 499 + "true"],
    ids=["a 6000-term and", "499 nots"],
)
def test_a_condition_too_long_or_too_deep_for_the_parser_is_a_form_error_not_a_500(
    as_user, guidance_admin, condition
):
    response = as_user(guidance_admin).post(
        reverse("guidance:rule_create"), rule_form(condition=condition)
    )
    assert response.status_code == 200
    assert "condition" in response.context["form"].errors


def test_a_condition_is_refused_by_its_length_before_the_parser_spends_seconds_on_it():
    with pytest.raises(ConditionError, match="at most 2,000"):
        compile_condition("x" * 100_000)  # an unknown name: 10 s of "did you mean" before
    with pytest.raises(ConditionError, match="Unknown fact"):
        compile_condition("x" * MAX_CONDITION_LENGTH)


def test_an_id_past_64_bits_in_an_in_lookup_matches_nothing():
    from django.contrib.auth.models import Permission

    assert not Permission.objects.filter(pk__in=[int("9" * 20), -int("9" * 20)]).exists()
    first = Permission.objects.order_by("pk").first()
    assert list(Permission.objects.filter(pk__in=[first.pk, int("9" * 20)])) == [first]


def test_the_admin_group_form_refuses_a_permission_id_past_64_bits(client, superuser):
    client.force_login(superuser)
    response = client.post(
        reverse("admin:auth_group_add"), {"name": "Huge", "permissions": ["9" * 20]}
    )
    assert response.status_code == 200
    assert "permissions" in response.context["adminform"].form.errors


@pytest.mark.parametrize(
    "address",
    [
        "/admin/patients/patient/abc/history/",
        "/admin/patients/patient/1.5/history/",
        "/admin/guidance/rule/abc/history/1/",
        "/admin/guidance/rule/1/history/abc/",
    ],
)
def test_a_history_page_with_an_id_that_is_not_a_number_is_not_found(client, superuser, address):
    client.force_login(superuser)
    assert client.get(address).status_code == 404


@pytest.mark.parametrize(
    "address",
    [
        "/guidance/rules/A%00B/v1/",
        "/guidance/rules/CBT-ANXIETY/v1/?preview=%00",
        "/admin/patients/followup/?status__exact=a%00b",
        "/admin/patients/patientaccess/?view%00=1",
    ],
    ids=["rule code", "query value", "admin list filter", "query key"],
)
def test_a_nul_in_the_address_is_a_bad_request_not_a_database_error(client, superuser, address):
    """On PostgreSQL, a NUL reaching a text lookup raised DataError."""
    client.force_login(superuser)
    assert client.get(address).status_code == 400
    assert client.post(address).status_code == 400


@pytest.mark.parametrize(
    ("charset", "status"),
    [("utf-16", 400), ("utf-32", 400), ("latin-1", 400), ("no-such-charset", 200)],
)
@pytest.mark.parametrize(
    ("role", "address"), [(None, "/sign-in/"), ("clinician", "/patients/new/")]
)
def test_a_form_body_declared_in_another_charset_is_a_bad_request(
    client, clinician, role, address, charset, status
):
    """Django (6.1, ticket #34709) refuses a form body that declares a charset other than
    UTF-8 with BadRequest, a 400, wherever request.POST is read: no middleware of ours is
    needed. A charset Python does not know is ignored (the body is read as UTF-8, and the
    form shows its errors). The hostile replay sends such bodies to every POST route."""
    if role:
        client.force_login(clinician)
    body = "username=x&password=y&mrn=ABC-1".encode("utf-16" if charset == "utf-16" else "utf-8")
    response = client.generic(
        "POST",
        address,
        body,
        content_type=f"application/x-www-form-urlencoded; charset={charset}",
    )
    assert response.status_code == status
