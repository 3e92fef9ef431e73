from django.urls import reverse
from django.utils import timezone

from guidance.services import evaluate_assessment
from patients.models import FollowUp, PatientAccess, PatientListAccess
from tests.base import make_assessment, make_patient


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


def last_list(user):
    return PatientListAccess.objects.filter(user=user).order_by("-pk").first()


def test_each_page_of_the_patient_list_logs_one_row_naming_its_patients(as_user, staff):
    patients = [make_patient(family_name=f"Listed{i:02d}") for i in range(30)]
    client = as_user(staff)
    client.get(reverse("patients:list"))
    first = last_list(staff)
    assert (first.view, first.searched) == ("patients:list", False)
    assert set(first.patients.all()) == set(patients[:25])  # the page shown, in name order
    client.get(reverse("patients:list"), {"page": 2})
    second = last_list(staff)
    assert set(second.patients.all()) == set(patients[25:])
    assert PatientListAccess.objects.count() == 2


def test_a_search_logs_the_patients_it_found_and_not_the_words(as_user, clinician):
    found = make_patient(family_name="Quillfeather")
    make_patient(family_name="Other")
    client = as_user(clinician)
    client.post(reverse("patients:list"), {"q": "quill"})
    client.get(reverse("patients:list"))
    entry = last_list(clinician)
    assert entry.searched
    assert list(entry.patients.all()) == [found]
    assert "quill" not in str(PatientListAccess.objects.values().get(pk=entry.pk)).lower()


def test_a_list_that_shows_nobody_logs_nothing(as_user, clinician):
    as_user(clinician).get(reverse("patients:list"))
    as_user(clinician).get(reverse("patients:worklist"))
    as_user(clinician).get(reverse("guidance:review"))
    assert not PatientListAccess.objects.exists()


def test_the_worklist_and_the_review_queue_log_whom_they_listed(as_user, clinician, staff):
    due = make_patient()
    FollowUp.objects.create(patient=due, due_date=timezone.localdate(), scheduled_by=staff)
    waiting = make_patient()
    evaluate_assessment(assessment=make_assessment(waiting, clinician, pregnant=True))
    as_user(staff).get(reverse("patients:worklist"))
    assert (last_list(staff).view, list(last_list(staff).patients.all())) == (
        "patients:worklist",
        [due],
    )
    as_user(clinician).get(reverse("guidance:review"))
    assert (last_list(clinician).view, list(last_list(clinician).patients.all())) == (
        "guidance:review",
        [waiting],
    )


def test_the_home_page_counts_log_nothing(as_user, clinician):
    evaluate_assessment(assessment=make_assessment(make_patient(), clinician, pregnant=True))
    assert as_user(clinician).get(reverse("home")).status_code == 200
    assert not PatientListAccess.objects.exists()
