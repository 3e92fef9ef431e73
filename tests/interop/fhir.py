"""What the FHIR tests share: a patient with a record worth exporting, the R4B model of
each resource type we export, and helpers that read a Bundle."""

import json
from datetime import UTC, date, datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.detectedissue import DetectedIssue
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.provenance import Provenance
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from fhir.resources.R4B.requestgroup import RequestGroup

from guidance.models import Recommendation
from guidance.services import evaluate_assessment
from patients.models import FollowUp
from tests.base import COMPLETE_COWS, COMPLETE_IRLS, CRITERIA_MET, make_assessment, make_patient

# R4B models, which validate R4 data (fhir.resources' default models are R5).
MODELS = {
    model.get_resource_type(): model
    for model in (
        FhirPatient,
        Practitioner,
        Questionnaire,
        QuestionnaireResponse,
        Observation,
        DetectedIssue,
        RequestGroup,
        Provenance,
    )
}

GAD7_ALL_TWO = {f"gad7_{n}": 2 for n in range(1, 8)}  # total 14, moderate
LABS = {
    "ferritin_ng_ml": 45.0,
    "tsat_percent": 18.0,
    "serum_creatinine_mg_dl": 0.9,
    "weight_kg": 68.0,
}


def make_record(clinician: Any, **patient_fields: Any) -> Any:
    """A patient with two assessments (the first with every scale, labs and cards, some
    decided; the second with the IRLS and a ferritin) and a follow-up COWS re-score."""
    patient = make_patient(date_of_birth=date(1990, 5, 1), **patient_fields)
    first = make_assessment(
        patient,
        clinician,
        assessed_at=datetime(2026, 11, 1, 9, 30, tzinfo=UTC),
        **CRITERIA_MET,
        **COMPLETE_IRLS,
        **COMPLETE_COWS,
        **GAD7_ALL_TWO,
        **LABS,
        sleep_hours_per_night=5.0,
    )
    evaluate_assessment(assessment=first)
    second = make_assessment(
        patient,
        clinician,
        assessed_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        **CRITERIA_MET,
        **COMPLETE_IRLS,
        ferritin_ng_ml=60.0,
    )
    evaluate_assessment(assessment=second)
    cards = {card.rule_code: card for card in Recommendation.objects.filter(assessment=first)}
    # The misuse caution weighed on its own; then accepting the gabapentinoid acknowledges
    # its other cautions (the breathing caution among them) with it.
    cards["SAFE-GABA-MISUSE"].decide(status="acknowledged", by=clinician, expected_version=1)
    cards["MED-GABAPENTINOID"].decide(status="accepted", by=clinician, expected_version=1)
    cards["IRON-SUPPLEMENT"].decide(
        status="declined",
        reason="other",
        comment="Iron infusion booked elsewhere",
        by=clinician,
        expected_version=1,
    )
    cards["LIFE-SLEEP"].decide(status="deferred", by=clinician, expected_version=1)
    FollowUp.objects.create(
        patient=patient,
        due_date=date(2026, 11, 24),
        scheduled_by=clinician,
        status="completed",
        happened_on=date(2026, 11, 24),
        recorded_by=clinician,
        recorded_at=datetime(2026, 11, 24, 15, 0, tzinfo=UTC),
        **COMPLETE_COWS,
    )
    return patient


def as_received(bundle: dict) -> dict:
    """The bundle as another system receives it: through JSON text."""
    return json.loads(json.dumps(bundle))


def validate(bundle: dict) -> None:
    """The whole Bundle, then each entry's resource by its own R4B class."""
    Bundle.model_validate(bundle)
    for entry in bundle["entry"]:
        resource = entry["resource"]
        MODELS[resource["resourceType"]].model_validate(resource)


def resources(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def by_full_url(bundle: dict) -> dict[str, dict]:
    return {entry["fullUrl"]: entry["resource"] for entry in bundle["entry"]}


def references(value: Any) -> list[str]:
    """Every `reference` string anywhere in a JSON value."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                found.append(item)
            else:
                found += references(item)
    elif isinstance(value, list):
        for item in value:
            found += references(item)
    return found


def resolve(bundle: dict, reference: dict) -> dict:
    return by_full_url(bundle)[reference["reference"]]
