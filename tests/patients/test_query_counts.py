"""Pinned query counts, with enough rows that an N+1 would show."""

from datetime import date

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from guidance.models import Recommendation
from guidance.services import evaluate_assessment
from patients.models import FollowUp
from tests.base import COMPLETE_COWS, COMPLETE_IRLS, CRITERIA_MET, make_assessment, make_patient

# Every page: session, user, the user's and the groups' permissions (cached for a
# minute after the first page: these counts are for a cold cache), and the session
# saved back (savepoint, update, release; at most once a minute) so that idle expiry
# starts again.
EVERY_PAGE = 7
# The access log's row for a list page: savepoint, the row, its patients, release.
LIST_LOG = 4
# + count, one page of patients, the access log's row
PATIENT_LIST_QUERIES = EVERY_PAGE + 2 + LIST_LOG
# + patient, access-log insert, assessments with their authors, follow-ups with their
# people, decisions with their cards and authors, history with its users, the undecided
# critical and warning cards of the header, the questionnaires sent to the patient
PATIENT_PAGE_QUERIES = EVERY_PAGE + 8


def test_the_patient_list_query_count_does_not_grow_with_patients(
    as_user, clinician, django_assert_num_queries
):
    for _ in range(60):
        make_patient()
    client = as_user(clinician)
    with django_assert_num_queries(PATIENT_LIST_QUERIES):
        response = client.get(reverse("patients:list"))
    assert len(response.context["page"].rows) == 25


def test_the_patient_lists_count_asks_for_no_order(as_user, clinician):
    """Which rows are counted does not change how many: the capped count leaves the list's
    order out, so that the database sorts nothing for it."""
    for _ in range(30):
        make_patient()
    with CaptureQueriesContext(connection) as queries:
        response = as_user(clinician).get(reverse("patients:list"))
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert len(counts) == 1
    assert "ORDER BY" not in counts[0].upper()
    assert response.context["page"].count == 30


def test_the_patient_page_query_count_does_not_grow_with_history_or_assessments(
    as_user, clinician, django_assert_num_queries
):
    patient = make_patient()
    for i in range(30):
        patient.notes = f"note {i}"
        patient.save()
    for _ in range(15):
        assessment = make_assessment(patient, clinician, **COMPLETE_IRLS, **CRITERIA_MET)
    evaluate_assessment(assessment=assessment)
    # Cautions first: accepting an option acknowledges the ones it carries.
    for card in Recommendation.objects.filter(assessment=assessment).order_by("rule__kind"):
        card.refresh_from_db()
        status = "acknowledged" if card.rule.kind == "caution" else "accepted"
        card.decide(status=status, by=clinician, expected_version=card.version)
    for day in range(1, 11):
        FollowUp.objects.create(
            patient=patient,
            due_date=date(2026, 12, day),
            scheduled_by=clinician,
            assigned_to=clinician,
        )
        FollowUp.objects.create(
            patient=patient,
            due_date=date(2026, 11, day),
            scheduled_by=clinician,
            status="completed",
            happened_on=date(2026, 11, day),
            recorded_by=clinician,
            recorded_at=timezone.now(),
            **COMPLETE_IRLS,
        )
    client = as_user(clinician)
    with django_assert_num_queries(PATIENT_PAGE_QUERIES):
        response = client.get(patient.get_absolute_url())
    assert len(response.context["changes"]) == 20
    assert len(response.context["upcoming"]) == 10
    kinds = [event["kind"] for event in response.context["timeline"]]
    assert kinds.count("assessment") == 15
    assert kinds.count("followup") == 10
    assert kinds.count("decision") > 5


def test_the_patient_pages_badges_and_decisions_read_no_column_one_row_at_a_time(
    as_user, clinician, django_assert_num_queries
):
    """The header's waiting cards and the timeline's decisions are read with only the
    columns they show: what they show must come with them, not in a query per row."""
    patient = make_patient()
    for _ in range(3):
        assessment = make_assessment(patient, clinician, **COMPLETE_IRLS, **CRITERIA_MET)
        evaluate_assessment(assessment=assessment)
    options = Recommendation.objects.filter(assessment__patient=patient, rule__kind="option")
    for card in options[:4]:
        card.decide(
            status="declined",
            reason="patient_declined",
            by=clinician,
            expected_version=card.version,
        )
    waiting = Recommendation.objects.awaiting_review().filter(
        assessment__patient=patient, rule__indicator__in=["critical", "warning"]
    )
    assert waiting.count() > 3

    client = as_user(clinician)
    with django_assert_num_queries(PATIENT_PAGE_QUERIES):
        page = client.get(patient.get_absolute_url()).content.decode()
    badges = page.split("data-waiting")[1].split("</div>")[0]
    for card in waiting.select_related("rule", "assessment"):
        assert f"{card.assessment.get_absolute_url()}#card-{card.uuid}" in badges
        assert card.rule.get_indicator_display() in badges
    declined = [line for line in page.split("<li") if 'data-event="decision"' in line]
    assert len(declined) == 4
    assert all("Patient declined" in line for line in declined)
    name = clinician.get_full_name() or clinician.get_username()
    assert all(name in line for line in declined)


# + assessment with patient, author and evaluation, access-log insert, history with its
# users, cards with their rules, decisions with their authors, dismissals in an EHR
ASSESSMENT_PAGE_QUERIES = EVERY_PAGE + 6


def test_the_assessment_page_query_count_does_not_grow_with_corrections_cards_or_decisions(
    as_user, clinician, django_assert_num_queries
):
    assessment = make_assessment(
        make_patient(), clinician, **COMPLETE_IRLS, **COMPLETE_COWS, **CRITERIA_MET
    )
    for i in range(25):
        assessment.notes = f"correction {i}"
        assessment.save()
    evaluate_assessment(assessment=assessment)
    cards = list(Recommendation.objects.filter(assessment=assessment))
    for card in sorted(cards, key=lambda card: card.rule.kind):  # cautions first
        card.refresh_from_db()
        card.dismiss(by=clinician, where="Test EHR feedback, EHR user Practitioner/x")
        card.decide(status="deferred", by=clinician, expected_version=card.version)
        status = "acknowledged" if card.rule.kind == "caution" else "accepted"
        card.decide(status=status, by=clinician, expected_version=card.version)
    client = as_user(clinician)
    with django_assert_num_queries(ASSESSMENT_PAGE_QUERIES):
        response = client.get(assessment.get_absolute_url())
    assert len(response.context["changes"]) == 20
    assert len(cards) > 10
    assert response.content.decode().count('data-rule="') == len(cards)
    assert response.content.decode().count("Dismissed in the EHR 1×") == len(cards)


def test_the_assessment_history_labels_fields_as_the_form_does(as_user, clinician):
    """A field without a label of its own (notes) was shown as "notes" in the history."""
    assessment = make_assessment(make_patient(), clinician, notes="first")
    assessment.notes = "second"
    assessment.save()
    page = as_user(clinician).get(assessment.get_absolute_url()).content.decode()
    assert "Notes: first → second" in page


def test_every_saved_number_of_an_assessment_shows_its_unit(as_user, clinician):
    """The entered values and their history read "Ferritin: 40 ng/mL", not a bare 40.0."""
    assessment = make_assessment(
        make_patient(),
        clinician,
        ferritin_ng_ml=30,
        weight_kg=70.5,
        caffeine_mg_per_day=200,
        sleep_hours_per_night=6,
    )
    assessment.ferritin_ng_ml = 40
    assessment.save()
    response = as_user(clinician).get(assessment.get_absolute_url())
    rows = {
        row["label"]: row["value"]
        for section in response.context["sections"]
        for row in section["rows"]
    }
    assert (rows["Ferritin"], rows["Weight"]) == ("40 ng/mL", "70.5 kg")
    assert (rows["Caffeine per day"], rows["Sleep per night"]) == ("200 mg", "6 h")
    assert rows["Transferrin saturation"] is None  # not measured: a dash, no unit
    page = response.content.decode()
    assert '<dt class="col-sm-5">Ferritin</dt>\n    <dd class="col-sm-7">40 ng/mL</dd>' in page
    assert "Ferritin: 30 ng/mL → 40 ng/mL" in page
