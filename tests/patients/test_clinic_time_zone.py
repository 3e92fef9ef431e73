"""Ages, "today" and typed times are the clinic's, not UTC's (product.md section 4): an
evening visit in New York is not tomorrow. The worklist's midnight is in test_worklist.py,
the contact date of a follow-up in test_followups.py."""

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from guidance.models import Recommendation
from patients.models import Assessment, FollowUp
from tests.base import make_patient, record

# 21:30 on 26 November in New York, 02:30 on the 27th in UTC.
NEW_YORK_EVENING = "2026-11-27 02:30Z"


@pytest.fixture(autouse=True)
def new_york(settings):
    settings.TIME_ZONE = "America/New_York"
    with time_machine.travel(NEW_YORK_EVENING, tick=False):
        yield


def test_the_evening_before_an_18th_birthday_in_new_york_the_patient_is_17(as_user, clinician):
    patient = make_patient(date_of_birth="2008-11-27")
    client = as_user(clinician)
    # Typed in the clinic's time: 21:00 in New York, 02:00 the next day in UTC.
    response = record(client, patient, assessed_at="2026-11-26T21:00")
    assert response.status_code == 302
    assessment = Assessment.objects.get()
    assert assessment.assessed_at == datetime(2026, 11, 27, 2, 0, tzinfo=UTC)

    assert assessment.facts()["age_years"] == 17
    assert Recommendation.objects.filter(
        assessment=assessment, rule_code="SAFE-ADOLESCENT"
    ).exists()
    page = client.get(assessment.get_absolute_url()).content.decode()
    assert "Assessment of 26 Nov 2026 21:00" in page
    assert 'data-rule="SAFE-ADOLESCENT"' in page
    with timezone.override("UTC"):  # where the UTC date would have made an adult of them
        assert assessment.age_years == 18


def test_the_follow_up_form_starts_on_the_clinics_today_and_refuses_its_tomorrow(
    as_user, staff, clinician
):
    patient = make_patient()
    due = FollowUp.objects.create(
        patient=patient, due_date=date(2026, 11, 26), scheduled_by=clinician
    )
    client = as_user(staff)
    url = reverse("patients:followup_record", args=[due.uuid])
    assert client.get(url).context["form"]["happened_on"].value() == date(2026, 11, 26)
    response = client.post(
        url, {"outcome": "completed", "happened_on": "2026-11-27", "expected_version": 1}
    )
    assert response.context["form"].errors["happened_on"] == [
        "The date of the contact cannot be in the future."
    ]
