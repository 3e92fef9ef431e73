"""SMART App Launch in a real browser (issue 25): a clinician in the test EHR follows a
patient-view card's smart link, and the browser, through the EHR's authorization over real
HTTP, lands on the right patient's page here, signed in as the clinician mapped to them."""

from datetime import UTC, date, datetime
from urllib.parse import urlencode

import pytest
from django.test import Client

from guidance.services import evaluate_assessment
from tests.base import COMPLETE_IRLS, CRITERIA_MET, make_assessment, make_patient
from tests.e2e.test_accessibility import serious
from tests.interop.ehr import Ehr, hook_body, register
from tests.interop.smart_server import (
    PATIENT_ID,
    new_key,
    patient_resource,
    running_ehr,
)


@pytest.fixture
def ehr_server(live_server, settings, clinician):
    settings.PUBLIC_BASE_URL = live_server.url
    with running_ehr(user=clinician) as state:
        yield state


@pytest.fixture
def patients(clinician):
    """Two patients: the EHR's (RLS-0042, born 12 Apr 1988) and another."""
    ours = make_patient(
        mrn="RLS-0042", given_name="Ada", family_name="Launched", date_of_birth=date(1988, 4, 12)
    )
    make_patient(mrn="RLS-0043", given_name="Bea", family_name="Other")
    assessment = make_assessment(
        ours,
        clinician,
        assessed_at=datetime(2026, 11, 20, 10, tzinfo=UTC),
        **CRITERIA_MET,
        **COMPLETE_IRLS,
    )
    evaluate_assessment(assessment=assessment)
    return ours


def test_a_card_launches_the_clinician_into_the_right_patients_page(
    page, ehr_server, patients, clinician
):
    # The EHR's patient-view call: its cards carry the smart link.
    hooks = Ehr(register())
    body = hook_body(patient=patient_resource(), patientId=PATIENT_ID)
    body["fhirServer"] = ehr_server.iss
    answer = hooks.post(Client(), "/cds-services/rls-patient-view", body)
    assert answer.status_code == 200, answer.content
    cards = answer.json()["cards"]
    (link,) = {link["url"] for card in cards for link in card["links"] if link["type"] == "smart"}
    # The EHR opens it with its issuer and a launch for this patient and user.
    page.goto(f"{link}?{urlencode({'iss': ehr_server.iss, 'launch': 'ehr-launch-1'})}")
    page.wait_for_url(f"**{patients.get_absolute_url()}")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Launched, Ada")
    assert page.get_by_title(f"Your account: {clinician.username}").is_visible()
    assert "Other" not in page.get_by_role("heading", level=1).inner_text()
    # The authorization went through the EHR, with PKCE.
    assert ehr_server.authorize_requests[0]["code_challenge_method"] == "S256"
    assert ehr_server.token_requests[0]["code_verifier"]
    (token,) = ehr_server.tokens
    assert token not in page.url
    assert token not in page.content()


def test_a_refused_and_an_unmatched_launch_say_so_plainly(page, ehr_server, patients):
    ehr_server.signing_key = new_key()  # the id_token is not the EHR's
    page.goto(f"/smart/launch/?{urlencode({'iss': ehr_server.iss, 'launch': 'x'})}")
    refusal = page.locator("[data-refusal]")
    assert "could not be verified" in refusal.inner_text()
    assert page.get_by_role("link", name="Sign in here instead").is_visible()
    assert serious(page) == []
    page.goto(patients.get_absolute_url())
    assert "/sign-in/" in page.url  # nobody was signed in

    ehr_server.signing_key = None
    ehr_server.patient = patient_resource(birth_date="1970-01-01")  # not our patient
    page.goto(f"/smart/launch/?{urlencode({'iss': ehr_server.iss, 'launch': 'y'})}")
    page.wait_for_url("**/smart/patient/")
    assert "not one of this clinic" in page.get_by_role("heading", level=1).inner_text()
    assert "Launched" not in page.content()
    assert serious(page) == []
