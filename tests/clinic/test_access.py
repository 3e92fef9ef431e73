"""Every request about a patient goes through one access helper: role check, lookup,
access log, and, for a change, the archived guard."""

from datetime import date

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from guidance.models import Decision, Recommendation
from patients.models import Assessment, FollowUp, PatientAccess
from tests.base import make_patient, record


@pytest.fixture(autouse=True)
def _frozen(frozen_clock):
    """Every test of this module at the shared frozen time (tests/conftest.py)."""


@pytest.fixture
def assessed(as_user, clinician):
    """A patient with a saved assessment and its pending cards."""
    patient = make_patient()
    record(as_user(clinician), patient)
    return patient, Assessment.objects.get(patient=patient)


def snapshot(patient):
    """Everything a write could change about a patient's clinical records."""
    return {
        "assessments": list(Assessment.objects.filter(patient=patient).values()),
        "cards": list(Recommendation.objects.filter(assessment__patient=patient).values()),
        "decisions": Decision.objects.filter(recommendation__assessment__patient=patient).count(),
        "followups": list(FollowUp.objects.filter(patient=patient).values()),
    }


def test_an_invalid_decision_on_a_card_is_logged_as_an_access(as_user, clinician, assessed):
    patient, assessment = assessed
    card = assessment.recommendations.first()
    PatientAccess.objects.all().delete()
    response = as_user(clinician).post(
        reverse("guidance:decide", args=[card.uuid]),
        {"status": "declined", "reason": "", "expected_version": card.version},
    )
    assert response.status_code == 200  # the assessment page, with the error on the card
    assert patient.mrn in response.content.decode()
    assert [(a.user, a.patient, a.view) for a in PatientAccess.objects.all()] == [
        (clinician, patient, "guidance:decide")
    ]
    card.refresh_from_db()
    assert card.status == "pending"
    assert not Decision.objects.exists()


def test_a_decision_by_someone_without_the_role_is_refused_and_not_logged(as_user, staff, assessed):
    _, assessment = assessed
    card = assessment.recommendations.first()
    PatientAccess.objects.all().delete()
    response = as_user(staff).post(
        reverse("guidance:decide", args=[card.uuid]),
        {"status": "accepted", "expected_version": card.version},
    )
    assert response.status_code == 403
    assert not PatientAccess.objects.exists()
    assert not Decision.objects.exists()


def archived_writes(patient, assessment, card, followup):
    """Each write a clinician could attempt on an archived patient's records."""
    edited = {
        "assessed_at": "2026-11-26T10:00",
        "expected_version": assessment.version,
        "notes": "changed after archiving",
    }
    return {
        "correct the assessment": (
            reverse("patients:assessment_edit", args=[assessment.uuid]),
            edited,
        ),
        "record a new assessment": (
            reverse("patients:assessment_create", args=[patient.uuid]),
            {"assessed_at": "2026-11-26T10:00"},
        ),
        "accept a card": (
            reverse("guidance:decide", args=[card.uuid]),
            {"status": "accepted", "expected_version": card.version},
        ),
        "record the follow-up": (
            reverse("patients:followup_record", args=[followup.uuid]),
            {
                "outcome": "completed",
                "happened_on": "2026-11-26",
                "expected_version": followup.version,
            },
        ),
        "cancel the follow-up": (
            reverse("patients:followup_cancel", args=[followup.uuid]),
            {"reason": "no longer needed"},
        ),
        "schedule a follow-up": (
            reverse("patients:followup_schedule", args=[patient.uuid]),
            {"due_date": "2026-12-10", "kind": "phone"},
        ),
        "edit the patient": (
            reverse("patients:edit", args=[patient.uuid]),
            {"mrn": patient.mrn, "given_name": "Changed", "family_name": "Changed"},
        ),
    }


@pytest.mark.parametrize(
    "write",
    [
        "correct the assessment",
        "record a new assessment",
        "accept a card",
        "record the follow-up",
        "cancel the follow-up",
        "schedule a follow-up",
        "edit the patient",
    ],
)
def test_every_write_to_an_archived_patient_is_refused_and_changes_nothing(
    as_user, clinician, assessed, write
):
    patient, assessment = assessed
    card = assessment.recommendations.first()
    # An open follow-up left behind (archiving cancels them; this one slipped past).
    followup = FollowUp.objects.create(
        patient=patient, due_date=date(2026, 11, 26), scheduled_by=clinician
    )
    patient.archive(by=clinician, reason="Moved away")
    FollowUp.objects.filter(pk=followup.pk).update(status="scheduled", cancel_reason="")
    patient.refresh_from_db()
    before = snapshot(patient)
    patient_version = patient.version

    client = as_user(clinician)
    url, data = archived_writes(patient, assessment, card, followup)[write]
    response = client.post(url, data)

    assert response.status_code == 302
    assert response.url == patient.get_absolute_url()
    assert str(list(get_messages(response.wsgi_request))[-1]) == (
        "This patient's record is archived: it can be read but not changed. Nothing was "
        "saved. Restore the record first if it is needed again."
    )
    assert snapshot(patient) == before
    patient.refresh_from_db()
    assert patient.version == patient_version


def test_an_archived_patients_records_can_still_be_read(as_user, clinician, assessed):
    patient, assessment = assessed
    patient.archive(by=clinician, reason="Moved away")
    client = as_user(clinician)
    assert client.get(patient.get_absolute_url()).status_code == 200
    assert client.get(assessment.get_absolute_url()).status_code == 200
    assert client.get(reverse("patients:summary", args=[patient.uuid])).status_code == 200
