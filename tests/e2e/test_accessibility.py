"""No critical or serious axe-core violation on the main pages, for every role."""

from datetime import date

import pytest
from axe_playwright_python.sync_playwright import Axe

from guidance.models import Recommendation
from patients.models import Assessment, FollowUp
from tests.base import PASSWORD, make_patient

AXE = Axe()


def serious(page):
    """The critical and serious violations on the page, as (rule, count of elements)."""
    results = AXE.run(page)
    return [
        (violation["id"], len(violation["nodes"]))
        for violation in results.response["violations"]
        if violation["impact"] in ("critical", "serious")
    ]


@pytest.fixture
def records(clinician, staff):
    from guidance.services import save_assessment
    from tests.base import COMPLETE_COWS, COMPLETE_IRLS, CRITERIA_MET

    patient = make_patient(date_of_birth=date(1958, 3, 1))
    assessment = Assessment(
        patient=patient, assessed_by=clinician, **CRITERIA_MET, **COMPLETE_IRLS, **COMPLETE_COWS
    )
    save_assessment(assessment=assessment)
    followup = FollowUp.objects.create(
        patient=patient, due_date=date(2026, 11, 26), scheduled_by=staff
    )
    return {"patient": patient, "assessment": assessment, "followup": followup}


PAGES = {
    "clinician": [
        "/",
        "/patients/",
        "{patient}",
        "{assessment}",
        "{patient}assessments/new/",
        "{assessment_edit}",
        "/patients/worklist/",
        "/guidance/review/",
        "{followup}",
        "{summary}",
        "{patient}assessments/new/fhir-labs/",
        "/account/",
    ],
    "staff": ["/", "/patients/", "{patient}", "{assessment}", "/patients/worklist/", "{followup}"],
    "guidance_admin": [
        "/",
        "/guidance/rules/",
        "/guidance/rules/MED-GABAPENTINOID/v1/",
        "/guidance/rules/MED-GABAPENTINOID/v1/?preview=1",
        "/guidance/rules/SAFE-GABA-RESPIRATORY/v1/edit/",
        "/guidance/rules/SAFE-GABA-RESPIRATORY/compare/?version=1&against=1",
        "/guidance/rules/SAFE-GABA-RESPIRATORY/v1/retire/",
    ],
    "superuser": ["/", "/accounts/", "/account/", "/guidance/rules/", "{patient}"],
}
PASSWORDS = {"superuser": "root-password-1"}  # tests/conftest.py


@pytest.mark.parametrize("role", sorted(PAGES))
def test_main_pages_have_no_critical_or_serious_violations(request, page, sign_in, records, role):
    user = request.getfixturevalue(role)
    sign_in(user, PASSWORDS.get(role, PASSWORD))
    places = {
        "patient": records["patient"].get_absolute_url(),
        "assessment": records["assessment"].get_absolute_url(),
        "assessment_edit": f"/patients/assessments/{records['assessment'].uuid}/edit/",
        "followup": records["followup"].get_absolute_url(),
        "summary": f"/patients/{records['patient'].uuid}/summary/",
    }
    found = {}
    for path in PAGES[role]:
        response = page.goto(path.format(**places))
        assert response.status == 200, path  # the page itself, not a refusal or a redirect
        problems = serious(page)
        if problems:
            found[path] = problems
    assert found == {}
    assert Recommendation.objects.exists()


def test_the_sign_in_page_has_no_critical_or_serious_violations(page, live_server):
    page.goto("/sign-in/")
    assert serious(page) == []


def test_the_sign_in_page_with_its_code_field_has_no_critical_or_serious_violations(
    page, live_server, settings
):
    """Two-factor sign-in required of a role: the code is asked with the password."""
    settings.TWO_FACTOR_REQUIRED_ROLES = frozenset({"Clinicians"})
    page.goto("/sign-in/")
    assert page.get_by_label("Code").is_visible()
    assert serious(page) == []
