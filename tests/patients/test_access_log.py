from django.urls import reverse

from patients.models import PatientAccess
from tests.base import make_patient


def test_every_opening_of_a_patient_page_is_logged_with_who_and_when(as_user, clinician, staff):
    patient = make_patient()
    as_user(clinician).get(patient.get_absolute_url())
    as_user(staff).get(patient.get_absolute_url())
    log = PatientAccess.objects.filter(patient=patient).order_by("at")
    assert [(entry.user, entry.view) for entry in log] == [
        (clinician, "patients:detail"),
        (staff, "patients:detail"),
    ]
    assert all(entry.at is not None for entry in log)


def test_a_refused_request_is_not_logged_as_an_access(as_user, guidance_admin):
    patient = make_patient()
    assert as_user(guidance_admin).get(patient.get_absolute_url()).status_code == 403
    assert not PatientAccess.objects.exists()


def test_superusers_browse_the_log_in_the_admin(as_user, clinician, superuser):
    patient = make_patient()
    as_user(clinician).get(patient.get_absolute_url())
    page = as_user(superuser).get(reverse("admin:patients_patientaccess_changelist"))
    assert page.status_code == 200
    assert patient.mrn in page.content.decode()
