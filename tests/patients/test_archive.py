from django.urls import reverse

from patients.models import Patient
from tests.base import make_patient


def test_a_patient_is_archived_with_a_reason_and_leaves_the_list(as_user, staff):
    patient = make_patient(family_name="Archivable")
    client = as_user(staff)
    response = client.post(
        reverse("patients:archive", args=[patient.uuid]), {"reason": "Duplicate of MRN-9"}
    )
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.is_archived
    assert patient.archived_by == staff
    assert patient.archive_reason == "Duplicate of MRN-9"
    assert "Archivable" not in client.get(reverse("patients:list")).content.decode()
    page = client.get(patient.get_absolute_url()).content.decode()
    assert "Archived: Duplicate of MRN-9" in page


def test_archiving_needs_a_reason_and_changes_nothing_without_one(as_user, clinician):
    patient = make_patient()
    response = as_user(clinician).post(
        reverse("patients:archive", args=[patient.uuid]), {"reason": "  "}
    )
    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    patient.refresh_from_db()
    assert not patient.is_archived


def test_an_archived_patient_is_restored(as_user, clinician):
    patient = make_patient()
    patient.archive(by=clinician, reason="Moved away")
    as_user(clinician).post(reverse("patients:restore", args=[patient.uuid]))
    patient.refresh_from_db()
    assert not patient.is_archived
    assert patient.archive_reason == ""


def test_there_is_no_way_to_delete_a_patient_from_the_ui(as_user, superuser):
    patient = make_patient()
    response = as_user(superuser).post(
        reverse("admin:patients_patient_delete", args=[patient.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert Patient.objects.filter(pk=patient.pk).exists()


def test_archiving_cancels_the_patients_open_follow_ups_with_the_reason(as_user, staff):
    from datetime import date

    from patients.models import FollowUp

    patient = make_patient()
    open_one = FollowUp.objects.create(
        patient=patient, due_date=date(2030, 1, 1), scheduled_by=staff
    )
    done = FollowUp.objects.create(
        patient=patient,
        due_date=date(2026, 1, 1),
        scheduled_by=staff,
        status="completed",
        happened_on=date(2026, 1, 1),
    )
    as_user(staff).post(reverse("patients:archive", args=[patient.uuid]), {"reason": "Moved away"})
    open_one.refresh_from_db()
    done.refresh_from_db()
    assert (open_one.status, open_one.cancel_reason) == (
        "cancelled",
        "Patient record archived: Moved away",
    )
    assert done.status == "completed"
