"""The save a clinician waits for: a new assessment or a correction, through the view, runs
the same queries however many patients there are and however many rules are active and
fire. The cards are written together, each with its history row."""

import pytest
from django.urls import reverse

from guidance.models import Recommendation, Rule
from patients.models import Assessment
from tests.base import VALID, make_patient, record


@pytest.fixture(autouse=True)
def _frozen(frozen_clock):
    """Every test of this module at the shared frozen time (tests/conftest.py)."""


# Session, user with account; the patient, the access-log entry; the IRLS before (an
# assessment, a follow-up); the assessment and its history row; the active rules, the
# cards there are (none), the new cards and their history rows; the evaluation (looked
# for, written); the latest IRLS and COWS (an assessment and a follow-up each) and the
# patient's update; the patient's IRLS scores and their cards' IRLS change (governance);
# the test's transaction's savepoint and its release.
SAVE_QUERIES = 23
# As a new one, but the assessment is looked up with its patient, locked (savepoint,
# read, update, history row, release), and its cards are moved (their update and
# history rows) as well as new ones written.
CORRECTION_QUERIES = 28


def correct(client, assessment, **changes):
    data = {
        **VALID,
        "expected_version": assessment.version,
        "change_reason": "Lab came back",
        **changes,
    }
    return client.post(reverse("patients:assessment_edit", args=[assessment.uuid]), data)


def add_rules(count, *, prefix, condition="rls_criteria_met and ferritin_ng_ml != null"):
    """`count` more active rules that fire on VALID; their "because" names the ferritin,
    so that a correction of it moves their undecided cards."""
    for n in range(count):
        Rule.objects.create(
            code=f"{prefix}-{n}",
            version=1,
            status="active",
            title=f"Extra rule {n}",
            detail="For counting queries.",
            category="monitoring",
            indicator=["critical", "warning", "info"][n % 3],
            condition=condition,
            source="test",
            evidence="test",
        )


def signed_in(as_user, clinician):
    client = as_user(clinician)
    client.get(reverse("home"))  # permissions cached, session expiry pushed on
    return client


def test_a_new_assessment_is_saved_in_the_same_queries_with_2_or_20_patients(
    as_user, clinician, django_assert_num_queries
):
    client = signed_in(as_user, clinician)
    record(client, make_patient())
    second = make_patient()
    with django_assert_num_queries(SAVE_QUERIES):
        assert record(client, second).status_code == 302
    for _ in range(18):
        record(client, make_patient())
    twentieth = make_patient()
    with django_assert_num_queries(SAVE_QUERIES):
        assert record(client, twentieth).status_code == 302
    assert Assessment.objects.count() == 21


def test_a_new_assessment_is_saved_in_the_same_queries_with_ten_more_rules_firing(
    as_user, clinician, django_assert_num_queries
):
    client = signed_in(as_user, clinician)
    patients = [make_patient(), make_patient()]
    with django_assert_num_queries(SAVE_QUERIES):
        record(client, patients[0])
    add_rules(10, prefix="EXTRA")
    with django_assert_num_queries(SAVE_QUERIES):
        record(client, patients[1])
    first, second = Assessment.objects.order_by("pk")
    assert second.recommendations.count() == first.recommendations.count() + 10


def test_a_correction_is_saved_in_the_same_queries_with_ten_more_rules_firing(
    as_user, clinician, django_assert_num_queries
):
    """Each correction moves the undecided cards whose "because" names the ferritin and
    writes the cards of rules activated since the save: ten more of each the second time."""
    client = signed_in(as_user, clinician)
    record(client, make_patient())
    few = Assessment.objects.get()
    add_rules(1, prefix="BEFORE")
    add_rules(1, prefix="AFTER-FEW")
    with django_assert_num_queries(CORRECTION_QUERIES):
        assert correct(client, few, ferritin_ng_ml="60").status_code == 302

    add_rules(10, prefix="BEFORE-MANY")
    record(client, make_patient())
    many = Assessment.objects.exclude(pk=few.pk).get()
    add_rules(10, prefix="AFTER-MANY")
    with django_assert_num_queries(CORRECTION_QUERIES):
        assert correct(client, many, ferritin_ng_ml="60").status_code == 302

    moved = many.recommendations.filter(rule_code__startswith="BEFORE-MANY")
    assert [card.because["ferritin_ng_ml"] for card in moved] == [60.0] * 10
    assert many.recommendations.filter(rule_code__startswith="AFTER-MANY").count() == 10


def test_cards_written_together_each_have_their_history_row_by_the_clinician(as_user, clinician):
    client = signed_in(as_user, clinician)
    record(client, make_patient())
    assessment = Assessment.objects.get()
    cards = list(assessment.recommendations.all())
    assert len(cards) > 10
    created = Recommendation.history.filter(history_type="+")
    assert sorted(created.values_list("id", flat=True)) == sorted(card.pk for card in cards)
    assert {row.history_user for row in created} == {clinician}

    correct(client, assessment, ferritin_ng_ml="60")
    iron = assessment.recommendations.get(rule_code="IRON-SUPPLEMENT")
    changes = Recommendation.history.filter(id=iron.pk, history_type="~")
    assert [(row.history_user, row.because["ferritin_ng_ml"]) for row in changes] == [
        (clinician, 60.0)
    ]


def test_a_moved_card_takes_its_new_versions_place_in_the_review_queue(as_user, clinician):
    """The queue reads the card's own copy of its rule's rank: it follows the version."""
    client = signed_in(as_user, clinician)
    record(client, make_patient())
    assessment = Assessment.objects.get()
    card = assessment.recommendations.get(rule_code="LIFE-SLEEP")
    assert card.rule.indicator == "info"
    sleep = Rule.objects.active().get(code="LIFE-SLEEP")
    Rule.objects.filter(pk=sleep.pk).update(status="retired")
    Rule.objects.create(
        **{
            field: getattr(sleep, field)
            for field in ["code", "title", "detail", "category", "condition", "source"]
        },
        evidence="test",
        version=sleep.version + 1,
        status="active",
        indicator="critical",
    )

    correct(client, assessment, notes="Sleep is now a critical matter")
    rows = client.get(reverse("guidance:review")).context["page"].rows
    critical = [row.rule_code for row in rows if row.rule.indicator == "critical"]
    assert "LIFE-SLEEP" in critical
    assert [row.rule.indicator for row in rows[: len(critical)]] == ["critical"] * len(critical)


def test_cards_a_correction_withdraws_go_each_with_its_history_row(as_user, clinician):
    """Undecided cards whose rule no longer fires are deleted together; each keeps a
    deletion row in its history, by the clinician who corrected."""
    client = signed_in(as_user, clinician)
    record(client, make_patient())
    assessment = Assessment.objects.get()
    withdrawn = {"LIFE-CAFFEINE", "CBT-INSOMNIA", "IRON-SUPPLEMENT"}
    before = {card.rule_code: card.pk for card in assessment.recommendations.all()}
    assert withdrawn <= set(before)

    response = correct(
        client,
        assessment,
        sleep_hours_per_night="8",
        caffeine_mg_per_day="0",
        ferritin_ng_ml="150",
        tsat_percent="30",
    )
    assert response.status_code == 302
    assert not assessment.recommendations.filter(rule_code__in=withdrawn).exists()
    deleted = Recommendation.history.filter(history_type="-")
    assert sorted(row.rule_code for row in deleted) == sorted(withdrawn)
    assert {row.id for row in deleted} == {before[code] for code in withdrawn}
    assert {row.history_user for row in deleted} == {clinician}
