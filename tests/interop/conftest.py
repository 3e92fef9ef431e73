from datetime import UTC, date, datetime

import pytest

from guidance.services import evaluate_assessment
from tests.base import COMPLETE_IRLS, CRITERIA_MET, make_assessment, make_patient
from tests.interop.ehr import Ehr, register


@pytest.fixture
def ehr(db) -> Ehr:
    """A registered EHR with a static key set (an ES384 and an RS384 key)."""
    return Ehr(register())


@pytest.fixture
def seeded(clinician):
    """A patient whose latest assessment has RLS criteria met, IRLS 24, ferritin 42 and
    TSAT 18, with its cards evaluated: options (a gabapentinoid, iron...) and cautions."""
    patient = make_patient(mrn="RLS-0042", date_of_birth=date(1988, 4, 12))
    assessment = make_assessment(
        patient,
        clinician,
        assessed_at=datetime(2026, 11, 20, 10, tzinfo=UTC),
        **CRITERIA_MET,
        **COMPLETE_IRLS,
        ferritin_ng_ml=42,
        tsat_percent=18,
    )
    evaluate_assessment(assessment=assessment)
    return assessment
