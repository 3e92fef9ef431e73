"""Markup typed into any text field is shown as text wherever it appears."""

from django.urls import reverse
from django.utils import timezone

from guidance.models import Recommendation, Rule
from guidance.services import evaluate_assessment
from patients.models import FollowUp
from tests.base import CRITERIA_MET, make_assessment, make_patient

MARKUP = '<img src=x onerror="alert(1)">'
ESCAPED = "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"


def test_markup_in_patient_fields_is_escaped_on_every_page(as_user, clinician, staff):
    patient = make_patient(given_name=MARKUP, family_name=MARKUP, notes=MARKUP)
    assessment = make_assessment(patient, clinician, notes=MARKUP, **CRITERIA_MET)
    evaluate_assessment(assessment=assessment)
    patient.refresh_latest_scores()
    followup = FollowUp.objects.create(
        patient=patient, due_date=timezone.localdate(), scheduled_by=staff, plan_notes=MARKUP
    )
    card = Recommendation.objects.filter(assessment=assessment).first()
    card.decide(status="declined", reason="other", comment=MARKUP, by=clinician, expected_version=1)
    client = as_user(clinician)
    client.post(reverse("patients:list"), {"q": MARKUP})
    pages = [
        patient.get_absolute_url(),
        assessment.get_absolute_url(),
        reverse("patients:summary", args=[patient.uuid]),
        reverse("patients:followup_record", args=[followup.uuid]),
        reverse("patients:worklist"),
        reverse("patients:list"),
        reverse("patients:edit", args=[patient.uuid]),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert MARKUP not in page, url
        assert ESCAPED in page or "&lt;img" in page, url


def test_markup_in_a_rule_is_escaped_on_cards_and_in_the_editor(as_user, clinician, guidance_admin):
    rule = Rule.objects.get(code="LIFE-SLEEP", version=1)
    rule.detail = MARKUP
    rule.title = MARKUP
    rule.source = MARKUP
    rule.save()
    assessment = make_assessment(make_patient(), clinician, **CRITERIA_MET)
    evaluate_assessment(assessment=assessment)
    for user, url in (
        (clinician, assessment.get_absolute_url()),
        (guidance_admin, rule.get_absolute_url()),
        (guidance_admin, reverse("guidance:rules")),
    ):
        response = as_user(user).get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert MARKUP not in page, url
        assert ESCAPED in page, url
