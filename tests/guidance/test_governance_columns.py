"""What each card keeps for the governance figures (issue 23), kept in step by the real
paths: a clinician's decisions, and saving assessments in any order."""

from datetime import UTC, datetime

from guidance.models import Recommendation
from guidance.services import save_assessment
from patients.models import Assessment
from tests.base import COMPLETE_IRLS, CRITERIA_MET, make_patient


def option(assessment):
    return assessment.recommendations.filter(rule__kind="option").order_by("pk").first()


def assessed(patient, clinician, day, irls_item):
    items = {**COMPLETE_IRLS, "irls_1": irls_item}
    assessment = Assessment(
        patient=patient,
        assessed_by=clinician,
        assessed_at=datetime(2026, 11, day, 10, tzinfo=UTC),
        **CRITERIA_MET,
        **items,
    )
    save_assessment(assessment=assessment)
    return assessment


def test_a_decline_then_an_accept_keep_the_first_decision_time_and_the_reason_in_force(
    frozen_clock, clinician
):
    card = option(assessed(make_patient(), clinician, 20, 2))
    assert (card.patient, card.first_decided_at, card.decline_reason) == (
        card.assessment.patient,
        None,
        "",
    )
    card.decide(
        status="declined",
        by=clinician,
        expected_version=card.version,
        reason="other",
        comment="Prefers to wait",
    )
    card.refresh_from_db()
    first = card.first_decided_at
    assert (card.decline_reason, card.decline_commented) == ("other", True)
    frozen_clock.shift(3600)
    card.decide(status="accepted", by=clinician, expected_version=card.version)
    card.refresh_from_db()
    assert (card.first_decided_at, card.decline_reason, card.decline_commented) == (
        first,
        "",
        False,
    )


def test_each_cards_irls_change_follows_the_patients_scores_saved_in_any_order(
    frozen_clock, clinician
):
    patient = make_patient()
    first = assessed(patient, clinician, 10, 4)
    third = assessed(patient, clinician, 20, 0)
    assert {c.irls_change for c in first.recommendations.all()} == {-4}
    assert {c.irls_change for c in third.recommendations.all()} == {None}  # no next score
    second = assessed(patient, clinician, 15, 1)  # entered late, between the two
    cards = Recommendation.objects.filter(assessment__patient=patient)
    change = {
        a.pk: {c.irls_change for c in cards if c.assessment_id == a.pk}
        for a in (first, second, third)
    }
    assert change == {first.pk: {-3}, second.pk: {-1}, third.pk: {None}}
