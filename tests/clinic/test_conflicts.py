"""Two people editing one record: after a conflict, what is saved loses nobody's change."""

import pytest
from django.urls import reverse

from guidance.models import Recommendation
from patients.models import Assessment, FollowUp
from tests.base import VALID, make_patient, record, resubmit


@pytest.fixture(autouse=True)
def _frozen(frozen_clock):
    """Every test of this module at the shared frozen time (tests/conftest.py)."""


def patient_form(patient, **changes):
    data = {
        "mrn": patient.mrn,
        "given_name": patient.given_name,
        "family_name": patient.family_name,
        "date_of_birth": patient.date_of_birth.isoformat(),
        "sex": patient.sex,
        "phone": patient.phone,
        "email": patient.email,
        "notes": patient.notes,
        "expected_version": patient.version,
    }
    return {**data, **changes}


def test_saving_again_after_a_patient_conflict_keeps_both_peoples_changes(
    as_user, clinician, staff
):
    patient = make_patient(phone="", notes="")
    url = reverse("patients:edit", args=[patient.uuid])
    opened = patient_form(patient)  # both open the form at version 1
    assert as_user(staff).post(url, {**opened, "phone": "0200 000000"}).status_code == 302

    client = as_user(clinician)
    second = client.post(url, {**opened, "notes": "Typed by clinician"})
    assert second.status_code == 200
    conflict = second.context["conflict"]
    assert conflict.by == staff
    assert {(c.name, c.base, c.theirs, c.yours, c.kept) for c in conflict.changes} == {
        ("phone", "—", "0200 000000", "—", "theirs"),
        ("notes", "—", "—", "Typed by clinician", "yours"),
    }
    patient.refresh_from_db()
    assert (patient.phone, patient.notes, patient.version) == ("0200 000000", "", 2)

    assert client.post(url, resubmit(second.context["form"])).status_code == 302
    patient.refresh_from_db()
    assert (patient.phone, patient.notes, patient.version) == (
        "0200 000000",
        "Typed by clinician",
        3,
    )
    assert patient.history.first().history_user == clinician


@pytest.fixture
def opened(as_user, clinician):
    """An assessment of a 68 kg patient, and its form as two clinicians opened it."""
    patient = make_patient(date_of_birth="1960-05-01")
    record(as_user(clinician), patient, weight_kg="82")
    assessment = Assessment.objects.get()
    return assessment, {
        **VALID,
        "weight_kg": "82",
        "expected_version": "1",
        "change_reason": "Re-measured",
    }


def correct(client, assessment, data):
    return client.post(reverse("patients:assessment_edit", args=[assessment.uuid]), data)


def test_a_second_editors_re_save_does_not_revert_the_first_editors_weight(
    as_user, clinician, opened, django_user_model
):
    """The reproduced finding: A changes the weight 82 → 80 while B edits the notes."""
    assessment, form = opened
    colleague = django_user_model.objects.create_user("second-clinician")
    colleague.groups.set(clinician.groups.all())
    assert correct(as_user(clinician), assessment, {**form, "weight_kg": "80"}).status_code == 302
    crcl_at_80 = Assessment.objects.get().facts()["crcl_ml_min"]

    client = as_user(colleague)
    conflict_page = correct(client, assessment, {**form, "notes": "Sleeping 4 h a night"})
    assert conflict_page.status_code == 200
    shown = conflict_page.context["form"]
    assert shown["weight_kg"].value() == 80  # theirs: only they changed it
    assert shown["notes"].value() == "Sleeping 4 h a night"  # yours: only you changed it
    assert not conflict_page.context["conflict"].choices

    assert correct(client, assessment, resubmit(shown)).status_code == 302
    saved = Assessment.objects.get()
    assert (saved.weight_kg, saved.notes, saved.version) == (80, "Sleeping 4 h a night", 3)
    assert saved.facts()["crcl_ml_min"] == crcl_at_80
    assert saved.history.first().history_user == colleague


def test_a_field_both_editors_changed_is_marked_and_keeps_yours_until_you_choose(
    as_user, clinician, staff, opened
):
    assessment, form = opened
    assessment.weight_kg = 80
    assessment.save_edit(expected_version=1)  # someone else: 82 → 80

    client = as_user(clinician)
    page = correct(client, assessment, {**form, "weight_kg": "85"})
    conflict = page.context["conflict"]
    [choice] = conflict.choices
    assert (choice.name, choice.base, choice.theirs, choice.yours) == (
        "weight_kg",
        "82 kg",
        "80 kg",
        "85 kg",
    )
    assert page.context["form"]["weight_kg"].value() == 85
    assert "⚠ Weight" in page.content.decode()
    assert Assessment.objects.get().weight_kg == 80  # nothing saved yet

    # The clinician looks, and decides the other value was right.
    data = {**resubmit(page.context["form"]), "weight_kg": "80"}
    assert correct(client, assessment, data).status_code == 302
    assert Assessment.objects.get().weight_kg == 80


def test_a_conflict_on_an_assessment_changes_neither_record_nor_cards(as_user, clinician, opened):
    assessment, form = opened
    assessment.serum_creatinine_mg_dl = 2.5
    assessment.save_edit(expected_version=1)
    cards_before = list(Recommendation.objects.values_list("rule_code", "rule_id", "status"))
    page = correct(as_user(clinician), assessment, {**form, "notes": "typed"})
    assert page.status_code == 200
    saved = Assessment.objects.get()
    assert (saved.version, saved.notes, saved.serum_creatinine_mg_dl) == (2, "", 2.5)
    assert list(Recommendation.objects.values_list("rule_code", "rule_id", "status")) == (
        cards_before
    )


def test_a_record_without_history_still_merges_without_losing_anything(as_user, clinician):
    patient = make_patient(phone="", notes="")
    url = reverse("patients:edit", args=[patient.uuid])
    opened = patient_form(patient)
    patient.history.all().delete()
    patient.phone = "0200 000000"
    patient.save_edit(expected_version=1)
    patient.history.all().delete()  # as if loaded in bulk: no base to compare with

    page = as_user(clinician).post(url, {**opened, "notes": "typed"})
    conflict = page.context["conflict"]
    assert not conflict.base_known
    # Without a base, both differences are treated as changes on both sides: yours kept.
    assert {c.name for c in conflict.choices} == {"phone", "notes"}
    assert page.context["form"]["notes"].value() == "typed"


def test_a_follow_up_recorded_twice_keeps_the_second_persons_text_as_a_note(
    as_user, clinician, staff
):
    patient = make_patient()
    followup = FollowUp.objects.create(patient=patient, due_date="2026-11-26", scheduled_by=staff)
    url = reverse("patients:followup_record", args=[followup.uuid])
    form = {"outcome": "completed", "happened_on": "2026-11-26", "expected_version": "1"}
    first = as_user(staff).post(url, {**form, "notes": "Called: legs better."})
    assert first.status_code == 302

    client = as_user(clinician)
    second = client.post(
        url, {**form, "notes": "Spoke to her too", "side_effects": "Dizzy in the mornings"}
    )
    assert second.status_code == 200
    page = second.content.decode()
    assert "Called: legs better." in page  # the first record is shown
    note = second.context["note_form"]["text"].value()
    assert "Spoke to her too" in note
    assert "Dizzy in the mornings" in note

    add = client.post(reverse("patients:followup_note", args=[followup.uuid]), {"text": note})
    assert add.status_code == 302
    followup.refresh_from_db()
    assert followup.recorded_by == staff
    assert "Called: legs better." in followup.notes
    assert "Spoke to her too" in followup.notes
    assert "Dizzy in the mornings" in followup.notes
    assert followup.history.first().history_user == clinician
