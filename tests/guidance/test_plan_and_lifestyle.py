"""The card page as one plan (product.md 5.5, version 3): the plan at the top, withdrawal
first, options by strength, the lifestyle advice as one decision that still records one
decision a card, and a decision-block count a clinician can get through."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from guidance.models import CardStatus, Decision, Recommendation
from tests.base import realistic_assessment


@pytest.fixture(autouse=True)
def _frozen(frozen_clock):
    """Every test of this module at the shared frozen time (tests/conftest.py)."""


@pytest.fixture
def realistic(clinician):
    """Issue 21's patient (tests.base.realistic_assessment), assessed now."""
    return realistic_assessment(clinician, at=datetime(2026, 11, 26, 12, tzinfo=UTC))


def decision_blocks(guidance) -> int:
    """What a clinician decides on the page: each option, the lifestyle block, each caution
    standing alone (a caution shown inside its option counts with it)."""
    blocks = 0
    for section in guidance["sections"]:
        if section.key == "lifestyle":
            blocks += 1
        else:
            blocks += len(section.cards)
    return blocks


def test_the_realistic_patient_reads_as_one_plan_of_at_most_ten_blocks(
    as_user, clinician, realistic
):
    assert realistic.facts()["crcl_ml_min"] == pytest.approx(57, abs=0.5)
    assert realistic.facts()["cows_total"] == 15
    page = as_user(clinician).get(realistic.get_absolute_url())
    guidance = page.context["guidance"]
    assert Recommendation.objects.filter(assessment=realistic).count() == 17
    assert decision_blocks(guidance) <= 10

    plan = guidance["plan"]
    titles = [line.title for line in plan]
    # Withdrawal first; in medication the strong option before the one against standard use.
    assert titles[0].startswith("Moderate or worse withdrawal")
    gabapentinoid = next(line for line in plan if "alpha-2-delta" in line.title)
    agonist = next(line for line in plan if line.title.startswith("Pramipexole"))
    assert plan.index(gabapentinoid) < plan.index(agonist)
    assert gabapentinoid.strength == "Strong recommendation (AASM 2024)"
    assert agonist.strength == "Against standard use (AASM 2024, conditional)"
    assert agonist.against_standard_use
    # Breathing, renal dose, misuse, the aggravating SSRI and the withdrawal first.
    assert gabapentinoid.cautions == 5
    assert "Lifestyle advice" in titles
    words = sum(
        len(f"{line.title} {line.strength} {line.cautions} cautions {line.status}".split())
        for line in plan
    )
    assert words < 150
    html = page.content.decode()
    assert html.index("data-plan") < html.index('id="section-withdrawal"')


def test_the_accept_of_an_option_against_standard_use_is_secondary_and_says_so(
    as_user, clinician, realistic
):
    page = as_user(clinician).get(realistic.get_absolute_url()).content.decode()
    agonist = Recommendation.objects.get(assessment=realistic, rule_code="MED-DOPAMINE-AGONIST")
    card = page[page.index(f'id="card-{agonist.uuid}"') :]
    button = card[card.index('value="accepted"') - 200 : card.index("</button>")]
    assert "btn-outline-secondary" in button
    assert "Accept although against standard use" in button
    assert "btn-success" not in button


def lifestyle(assessment):
    return list(
        Recommendation.objects.filter(assessment=assessment, rule__category="lifestyle")
        .select_related("rule")
        .order_by("rule_code")
    )


def give(client, assessment, status="accepted", versions=None):
    data = {"status": status}
    for card in lifestyle(assessment):
        data[f"version-{card.uuid}"] = (versions or {}).get(card.rule_code, card.version)
    return client.post(reverse("guidance:lifestyle", args=[assessment.uuid]), data)


def test_giving_the_lifestyle_advice_records_one_decision_a_card(as_user, clinician, realistic):
    cards = lifestyle(realistic)
    assert len(cards) >= 4
    response = give(as_user(clinician), realistic)
    assert response.status_code == 302
    assert response["Location"].endswith("#section-lifestyle")
    for card in lifestyle(realistic):
        assert card.status == CardStatus.ACCEPTED
        (decision,) = card.decisions.all()
        assert (decision.status, decision.by) == ("accepted", clinician)
    assert Decision.objects.count() == len(cards)


def test_deferring_the_lifestyle_advice_defers_each_and_it_can_be_given_later(
    as_user, clinician, realistic
):
    client = as_user(clinician)
    give(client, realistic, "deferred")
    assert {card.status for card in lifestyle(realistic)} == {CardStatus.DEFERRED}
    give(client, realistic, "accepted")  # deferred cards can still be given
    assert {card.status for card in lifestyle(realistic)} == {CardStatus.ACCEPTED}


def test_a_card_decided_elsewhere_meanwhile_stops_the_whole_and_nothing_is_recorded(
    as_user, clinician, realistic
):
    client = as_user(clinician)
    first, *_ = lifestyle(realistic)
    shown = {card.rule_code: card.version for card in lifestyle(realistic)}
    first.decide(status="deferred", by=clinician, expected_version=1)  # still open, changed
    response = give(client, realistic, versions=shown)
    assert response.status_code == 302
    statuses = {card.rule_code: card.status for card in lifestyle(realistic)}
    assert statuses.pop(first.rule_code) == CardStatus.DEFERRED
    assert set(statuses.values()) == {CardStatus.PENDING}  # all or none
    assert Decision.objects.count() == 1


def test_a_card_declined_meanwhile_is_left_as_declined_and_the_rest_given(
    as_user, clinician, realistic
):
    client = as_user(clinician)
    first, *rest = lifestyle(realistic)
    first.decide(status="declined", reason="patient_declined", by=clinician, expected_version=1)
    give(client, realistic)
    assert Recommendation.objects.get(pk=first.pk).status == CardStatus.DECLINED
    assert {card.status for card in lifestyle(realistic) if card.pk != first.pk} == {
        CardStatus.ACCEPTED
    }


@pytest.mark.parametrize("status", ["", "declined", "acknowledged", "x" * 100])
def test_anything_but_give_or_defer_records_nothing(as_user, clinician, realistic, status):
    response = give(as_user(clinician), realistic, status)
    assert response.status_code == 302
    assert not Decision.objects.exists()


@pytest.mark.parametrize("role", ["staff", "guidance_admin", "outsider"])
def test_only_clinicians_give_the_lifestyle_advice(request, as_user, realistic, role):
    response = give(as_user(request.getfixturevalue(role)), realistic)
    assert response.status_code == 403
    assert not Decision.objects.exists()
    assert {card.status for card in lifestyle(realistic)} == {CardStatus.PENDING}
