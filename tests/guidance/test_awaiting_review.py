"""Nothing waits unseen: the review queue, the patient header and the home page counts."""

import pytest
from django.urls import reverse

from guidance.models import Recommendation
from patients.models import Assessment, FollowUp
from tests.base import make_patient, record


@pytest.fixture(autouse=True)
def _frozen(frozen_clock):
    """Every test of this module at the shared frozen time (tests/conftest.py)."""


def test_the_review_queue_lists_every_undecided_card_critical_first_then_oldest(as_user, clinician):
    client = as_user(clinician)
    young = make_patient(family_name="Young", date_of_birth="1990-01-01")
    older = make_patient(family_name="Older", date_of_birth="1950-01-01")  # breathing: critical
    record(client, young)
    record(client, older)
    decided = Recommendation.objects.filter(assessment__patient=young, rule_code="LIFE-SLEEP").get()
    client.post(
        reverse("guidance:decide", args=[decided.uuid]),
        {"status": "accepted", "expected_version": decided.version},
    )
    archived = make_patient(family_name="Archived")
    record(client, archived)
    archived.archive(by=clinician, reason="Moved away")

    response = client.get(reverse("guidance:review"))
    rows = response.context["page"].rows
    pending = Recommendation.objects.filter(status="pending").exclude(assessment__patient=archived)
    assert {card.pk for card in rows} == set(pending.values_list("pk", flat=True))
    assert decided.pk not in {card.pk for card in rows}
    assert rows[0].rule.indicator == "critical"
    # What to do before what to avoid: critical, then options by strength, then cautions.
    ranks = [card.rule.rank for card in rows]
    assert ranks == sorted(ranks)
    codes = [card.rule_code for card in rows]
    assert codes.index("MED-GABAPENTINOID") < codes.index("MED-DOPAMINE-AGONIST")
    page = response.content.decode()
    assert "Older, Given" in page
    assert "Archived" not in page


@pytest.mark.parametrize("role", ["staff", "guidance_admin", "outsider"])
def test_only_clinicians_see_the_review_queue(request, as_user, role):
    user = request.getfixturevalue(role)
    assert as_user(user).get(reverse("guidance:review")).status_code == 403


def test_the_review_queue_query_count_does_not_grow_with_cards(
    as_user, clinician, django_assert_num_queries
):
    client = as_user(clinician)
    for n in range(6):
        record(client, make_patient(date_of_birth=f"19{50 + n * 5}-01-01"))
    assert Recommendation.objects.count() > 60
    client.get(reverse("guidance:review"))  # permissions cached
    with django_assert_num_queries(REVIEW_QUERIES):
        response = client.get(reverse("guidance:review"))
    assert len(response.context["page"].rows) == 50


# Session, user with account, the count, the page of cards, the access log's row for the
# page (savepoint, the row, its patients, release).
REVIEW_QUERIES = 8


def test_the_patient_header_shows_age_and_undecided_critical_and_warning_cards(as_user, clinician):
    patient = make_patient(date_of_birth="1958-11-27")  # 67 today, 68 tomorrow
    client = as_user(clinician)
    record(client, patient)
    page = client.get(patient.get_absolute_url()).content.decode()
    assert "67 years" in page
    waiting = page.split("data-waiting")[1].split("</div>")[0]
    assert "Critical: Breathing risk with gabapentinoids" in waiting
    assert "Warning: Gabapentinoid misuse" in waiting
    assert "Info:" not in waiting
    # The strong first-line option ranks above the option against standard use, whose
    # warning badge once put it first.
    strong = waiting.index("Strong option: Consider an alpha-2-delta ligand")
    assert strong < waiting.index("Warning: Pramipexole")


def test_the_home_page_shows_each_role_what_is_waiting(as_user, clinician, staff, guidance_admin):
    patient = make_patient()
    record(as_user(clinician), patient)
    for due in ["2026-11-20", "2026-11-26", "2026-11-26", "2026-12-01"]:
        FollowUp.objects.create(patient=patient, due_date=due, scheduled_by=staff)
    pending = Recommendation.objects.filter(status="pending").count()

    counts = as_user(clinician).get(reverse("home")).context["counts"]
    assert counts == {
        "awaiting_review": pending,
        "patient_answers": 0,
        "overdue": 1,
        "due_today": 2,
    }
    assert as_user(staff).get(reverse("home")).context["counts"] == {
        "patient_answers": 0,
        "overdue": 1,
        "due_today": 2,
    }
    assert as_user(guidance_admin).get(reverse("home")).context["counts"] == {}
    assert Assessment.objects.count() == 1
