from django.urls import reverse

from patients.models import Patient
from tests.base import make_patient


def form_data(patient: Patient, **changes) -> dict:
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
    data.update(changes)
    return data


def test_a_clinician_edits_a_patient_and_the_change_is_kept_in_history(as_user, clinician):
    patient = make_patient(phone="")
    client = as_user(clinician)
    response = client.post(
        reverse("patients:edit", args=[patient.uuid]), form_data(patient, phone="0123 456789")
    )
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.phone == "0123 456789"
    assert patient.version == 2
    page = client.get(patient.get_absolute_url()).content.decode()
    assert "Changed: Phone" in page
    assert "clinician" in page


def test_bad_input_on_edit_saves_nothing(as_user, staff):
    patient = make_patient(email="old@example.org")
    response = as_user(staff).post(
        reverse("patients:edit", args=[patient.uuid]),
        form_data(patient, email="broken", given_name="Changed"),
    )
    assert response.status_code == 200
    assert "email" in response.context["form"].errors
    patient.refresh_from_db()
    assert (patient.email, patient.version) == ("old@example.org", 1)
    assert patient.given_name != "Changed"


# Two editors at once: tests/clinic/test_conflicts.py.


def test_an_edit_without_a_version_is_treated_as_stale(as_user, clinician):
    patient = make_patient()
    data = form_data(patient, notes="no version")
    del data["expected_version"]
    response = as_user(clinician).post(reverse("patients:edit", args=[patient.uuid]), data)
    assert response.status_code == 200
    patient.refresh_from_db()
    assert patient.notes == ""


def test_an_archived_record_cannot_be_edited_until_restored(as_user, clinician):
    patient = make_patient()
    patient.archive(by=clinician, reason="Duplicate record")
    response = as_user(clinician).get(reverse("patients:edit", args=[patient.uuid]))
    assert response.status_code == 302


def test_an_unknown_patient_is_404(as_user, clinician):
    url = reverse("patients:detail", args=["00000000-0000-0000-0000-000000000000"])
    assert as_user(clinician).get(url).status_code == 404


def test_a_patient_without_history_rows_still_has_a_page(as_user, clinician):
    """Records loaded in bulk (an import, the benchmark) have no history of their own."""
    patient = make_patient()
    patient.history.all().delete()
    response = as_user(clinician).get(patient.get_absolute_url())
    assert response.status_code == 200
    assert response.context["changes"] == []
