"""Recording and correcting assessments through the test client."""

import pytest
from django.urls import reverse

from guidance.models import Recommendation
from patients.models import Assessment
from tests.base import (
    COMPLETE_COWS,
    COMPLETE_IRLS,
    VALID,
    make_assessment,
    make_patient,
    record,
)


@pytest.fixture(autouse=True)
def _frozen(frozen_clock):
    """Every test of this module at the shared frozen time (tests/conftest.py)."""


@pytest.fixture
def patient():
    return make_patient(date_of_birth="1990-05-01")


def test_a_clinician_records_a_complete_assessment(as_user, clinician, patient):
    client = as_user(clinician)
    response = record(client, patient)
    assessment = Assessment.objects.get()
    assert response.status_code == 302
    assert response.url == assessment.get_absolute_url()
    assert (assessment.assessed_by, assessment.patient) == (clinician, patient)
    assert (assessment.irls_total, assessment.cows_total, assessment.gad7_total) == (24, 14, None)
    assert assessment.mimics == ["leg_cramps"]
    facts = assessment.facts()
    assert facts["rls_criteria_met"] is True
    assert facts["hours_since_last_dose"] == 38
    assert facts["withdrawal_window"] == "onset"
    assert facts["age_years"] == 36

    page = client.get(assessment.get_absolute_url()).content.decode()
    assert "data-total>24</span> / 40" in page
    assert "severe</span>" in page
    assert "data-total>14</span> / 48" in page
    assert "24 to 48 h: onset, by the source document&#x27;s timeline" in page
    assert "Nocturnal leg cramps" in page


def test_scales_can_be_left_out_entirely(as_user, clinician, patient):
    blank_items = dict.fromkeys(COMPLETE_IRLS | COMPLETE_COWS, "")
    response = record(as_user(clinician), patient, **blank_items)
    assert response.status_code == 302
    assessment = Assessment.objects.get()
    assert (assessment.irls_total, assessment.cows_total) == (None, None)
    assert assessment.facts()["irls_band"] is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("kratom_grams_per_day", "501", "less than or equal to 500"),
        ("kratom_grams_per_day", "-1", "greater than or equal to 0"),
        ("kratom_grams_per_day", "lots", "Enter a number"),
        ("kratom_doses_per_day", "51", "less than or equal to 50"),
        ("kratom_use_months", "721", "less than or equal to 720"),
        ("kratom_product", "tea", "Select a valid choice"),
        ("sleep_hours_per_night", "25", "less than or equal to 24"),
        ("caffeine_mg_per_day", "3001", "less than or equal to 3000"),
        ("alcohol_drinks_per_week", "301", "less than or equal to 300"),
        ("exercise_minutes_per_week", "5001", "less than or equal to 5000"),
        ("ferritin_ng_ml", "5001", "less than or equal to 5000"),
        ("tsat_percent", "101", "less than or equal to 100"),
        ("serum_creatinine_mg_dl", "0.05", "greater than or equal to 0.1"),
        ("weight_kg", "19", "greater than or equal to 20"),
        ("cows_pulse", "3", "Select a valid choice"),
        ("irls_1", "5", "Select a valid choice"),
        ("gad7_1", "-1", "Select a valid choice"),
        ("mimics", "werewolf", "Select a valid choice"),
        ("assessed_at", "2026-11-26T12:30", "cannot be in the future"),
        ("assessed_at", "not a date", "Enter a valid date/time"),
        ("last_dose_at", "2026-11-26T11:00", "cannot be after the assessment time"),
        ("last_dose_at", "2025-11-01T10:00", "More than a year before"),
    ],
)
def test_each_kind_of_bad_input_gets_a_field_error_and_saves_nothing(
    as_user, clinician, patient, field, value, message
):
    response = record(as_user(clinician), patient, **{field: value})
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert "Nothing has been saved" in response.content.decode()
    assert not Assessment.objects.exists()


def test_a_partly_answered_scale_is_refused_item_by_item(as_user, clinician, patient):
    response = record(as_user(clinician), patient, irls_9="", irls_10="")
    errors = response.context["form"].errors
    assert set(errors) == {"irls_9", "irls_10"}
    assert "answer every IRLS item or leave the whole scale blank" in errors["irls_9"][0]
    assert not Assessment.objects.exists()


def test_an_assessment_before_age_twelve_is_refused_and_nothing_is_saved(as_user, clinician):
    young = make_patient(date_of_birth="2014-01-01")
    response = record(as_user(clinician), young, assessed_at="2025-06-01T10:00", last_dose_at=None)
    assert response.status_code == 200
    assert "assessments are for ages 12 to 120" in response.context["form"].errors["assessed_at"][0]
    assert not Assessment.objects.exists()
    assert not Assessment.history.exists()
    assert not Recommendation.objects.exists()
    young.refresh_from_db()
    assert young.latest_irls_total is None


def test_a_pregnancy_for_a_patient_recorded_as_male_needs_an_explicit_confirmation(
    as_user, clinician
):
    patient = make_patient(date_of_birth="1990-05-01", sex="male")
    client = as_user(clinician)
    form_page = client.get(reverse("patients:assessment_create", args=[patient.uuid]))
    assert "Pregnancy confirmed despite recorded sex" in form_page.content.decode()

    response = record(client, patient, pregnant="on", notes="Typed before the error")
    assert response.status_code == 200
    form = response.context["form"]
    assert list(form.errors) == ["pregnant"]
    assert "recorded sex is male" in form.errors["pregnant"][0]
    assert "Pregnancy confirmed despite recorded sex" in form.errors["pregnant"][0]
    assert form["pregnant"].value() is True
    assert form["notes"].value() == "Typed before the error"
    assert form["irls_1"].value() == "3"
    assert not Assessment.objects.exists()

    response = record(client, patient, pregnant="on", pregnancy_confirmed="on")
    assert response.status_code == 302
    facts = Assessment.objects.get().facts()
    assert (facts["sex"], facts["pregnant"]) == ("male", True)


def test_only_a_patient_recorded_as_male_is_asked_to_confirm_a_pregnancy(as_user, clinician):
    female = make_patient(date_of_birth="1990-05-01", sex="female")
    client = as_user(clinician)
    page = client.get(reverse("patients:assessment_create", args=[female.uuid])).content.decode()
    assert "Pregnancy confirmed despite recorded sex" not in page
    assert record(client, female, pregnant="on").status_code == 302
    assert Assessment.objects.get().pregnant is True


def test_correcting_a_confirmed_pregnancy_keeps_the_confirmation_ticked(as_user, clinician):
    patient = make_patient(date_of_birth="1990-05-01", sex="male")
    assessment = make_assessment(patient, clinician, pregnant=True, notes="Confirmed in clinic")
    form = (
        as_user(clinician)
        .get(reverse("patients:assessment_edit", args=[assessment.uuid]))
        .context["form"]
    )
    assert form["pregnancy_confirmed"].value() is True


ONLY_THE_TIME = {key: None for key in VALID if key != "assessed_at"}


def test_an_assessment_with_only_the_time_is_refused_and_nothing_is_saved(
    as_user, clinician, patient
):
    response = record(as_user(clinician), patient, **ONLY_THE_TIME, notes="   ")
    assert response.status_code == 200
    form = response.context["form"]
    assert list(form.errors) == ["__all__"]
    assert "The assessment is empty" in form.non_field_errors()[0]
    page = response.content.decode()
    assert "Nothing has been saved. The assessment is empty" in page
    assert "Correct the fields marked below" not in page  # no field is marked
    assert not Assessment.objects.exists()


@pytest.mark.parametrize(
    "entered",
    [
        {"notes": "Seen briefly; assessment to follow"},
        {"alcohol_drinks_per_week": "0"},
        {"rls_worse_evening": "on"},
        {"mimics": ["leg_cramps"]},
        {"kratom_product": "capsules"},
        {f"gad7_{n}": "0" for n in range(1, 8)},
    ],
)
def test_one_thing_entered_besides_the_time_is_enough(as_user, clinician, patient, entered):
    assert record(as_user(clinician), patient, **(ONLY_THE_TIME | entered)).status_code == 302
    assert Assessment.objects.exists()


def test_a_bad_value_is_not_reported_as_nothing_entered(as_user, clinician, patient):
    changes = ONLY_THE_TIME | {"kratom_grams_per_day": "lots"}
    response = record(as_user(clinician), patient, **changes)
    assert list(response.context["form"].errors) == ["kratom_grams_per_day"]


def test_update_totals_without_javascript_shows_the_totals_and_saves_nothing(
    as_user, clinician, patient
):
    response = record(as_user(clinician), patient, preview="1")
    assert response.status_code == 200
    assert not Assessment.objects.exists()
    assert "data-total>24</span> / 40" in response.content.decode()


def test_the_live_totals_endpoint_scores_with_the_registry(as_user, clinician):
    answers = {key: str(value) for key, value in COMPLETE_COWS.items()}
    answers["irls_1"] = "3"
    answers["irls_2"] = "2"
    response = as_user(clinician).post(reverse("patients:assessment_scores"), answers)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="scores"')
    assert "data-total>14</span> / 48" in html
    assert "5 so far · 2 of 10 answered" in html


def test_a_clinician_corrects_an_assessment_and_every_version_is_kept(as_user, clinician, patient):
    client = as_user(clinician)
    record(client, patient)
    assessment = Assessment.objects.get()
    data = {**VALID, "irls_1": "0", "expected_version": "1", "change_reason": "Misheard item 1"}
    response = client.post(reverse("patients:assessment_edit", args=[assessment.uuid]), data)
    assert response.status_code == 302
    assessment.refresh_from_db()
    assert (assessment.irls_total, assessment.version) == (21, 2)
    versions = list(assessment.history.order_by("history_id"))
    assert [v.irls_total for v in versions] == [24, 21]
    assert all(v.history_user == clinician for v in versions)
    page = client.get(assessment.get_absolute_url()).content.decode()
    assert "Changed: Leg or arm discomfort from RLS, overall" in page
    # The history shows, for every changed field, old → new, who, when and why.
    assert versions[-1].history_change_reason == "Misheard item 1"
    assert "Reason: Misheard item 1" in page
    assert "Leg or arm discomfort from RLS, overall: 3 → 0" in page


def test_a_correction_without_a_reason_is_refused_and_changes_nothing(as_user, clinician, patient):
    client = as_user(clinician)
    record(client, patient)
    assessment = Assessment.objects.get()
    data = {**VALID, "irls_1": "0", "expected_version": "1"}
    response = client.post(reverse("patients:assessment_edit", args=[assessment.uuid]), data)
    assert response.status_code == 200
    assert "change_reason" in response.context["form"].errors
    assessment.refresh_from_db()
    assert (assessment.irls_total, assessment.version) == (24, 1)


def test_a_stale_correction_is_refused_and_keeps_the_typed_values(as_user, clinician, patient):
    client = as_user(clinician)
    assessment = make_assessment(patient, clinician, **COMPLETE_IRLS)
    assessment.notes = "saved by someone else"
    assessment.save_edit(expected_version=1)
    data = {**VALID, "notes": "my note", "expected_version": "1", "change_reason": "Note added"}
    response = client.post(reverse("patients:assessment_edit", args=[assessment.uuid]), data)
    assert response.status_code == 200
    assert "Someone else saved this record" in response.content.decode()
    assert response.context["form"]["notes"].value() == "my note"
    assessment.refresh_from_db()
    assert assessment.notes == "saved by someone else"


def test_staff_see_assessments_but_cannot_record_or_correct_them(
    as_user, staff, clinician, patient
):
    assessment = make_assessment(patient, clinician, **COMPLETE_IRLS)
    client = as_user(staff)
    assert client.get(assessment.get_absolute_url()).status_code == 200
    assert record(client, patient).status_code == 403
    edit = reverse("patients:assessment_edit", args=[assessment.uuid])
    assert client.post(edit, {**VALID, "expected_version": "1"}).status_code == 403
    page = client.get(patient.get_absolute_url()).content.decode()
    assert "Record an assessment" not in page
    assert not Assessment.objects.exclude(pk=assessment.pk).exists()


def test_the_irls_copyrighted_wording_is_not_shown(as_user, clinician, patient):
    page = (
        as_user(clinician)
        .get(reverse("patients:assessment_create", args=[patient.uuid]))
        .content.decode()
    )
    # Our paraphrased labels are shown; the instrument's own question stems are not.
    assert "Leg or arm discomfort from RLS, overall" in page
    assert "Overall, how would you rate" not in page
    assert "our paraphrases" in page
