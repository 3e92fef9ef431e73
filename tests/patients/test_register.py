import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from patients.models import Patient
from tests.base import make_patient, make_user

VALID = {
    "mrn": " mrn 2001 ",
    "given_name": "Ada",
    "family_name": "Quill",
    "date_of_birth": "1985-06-15",
    "sex": "female",
    "phone": "+44 20 7946 0000",
    "email": "ada@example.org",
    "notes": "Prefers morning appointments.",
}


@pytest.fixture(autouse=True)
def _frozen(frozen_clock):
    """Every test of this module at the shared frozen time (tests/conftest.py)."""


def register(client, **changes):
    return client.post(reverse("patients:create"), {**VALID, **changes})


def test_a_clinician_registers_a_patient(as_user, clinician):
    response = register(as_user(clinician))
    patient = Patient.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("patients:detail", args=[patient.uuid])
    assert patient.mrn == "MRN2001"  # normalised: upper case, no spaces
    assert patient.history.get().history_user == clinician


def test_staff_register_patients_too(as_user, staff):
    assert register(as_user(staff)).status_code == 302
    assert Patient.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("date_of_birth", "2026-11-27", "cannot be in the future"),
        ("date_of_birth", "2015-01-01", "Age must be between 12 and 120"),
        ("date_of_birth", "1900-01-01", "Age must be between 12 and 120"),
        ("date_of_birth", "31/02/1980", "Enter a valid date"),
        ("email", "not-an-email", "Enter a valid email address"),
        ("phone", "call me maybe", "Enter a phone number"),
        ("mrn", "a!", "Use 3 to 20 letters, digits or dashes"),
        ("mrn", "", "This field is required"),
        ("given_name", "", "This field is required"),
        ("family_name", "x" * 101, "at most 100 characters"),
        ("sex", "dragon", "Select a valid choice"),
    ],
)
def test_bad_input_gets_a_message_on_the_field_and_saves_nothing(
    as_user, clinician, field, value, message
):
    response = register(as_user(clinician), **{field: value})
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert not Patient.objects.exists()


def test_a_duplicate_mrn_is_refused_whatever_its_case_or_spacing(as_user, clinician):
    make_patient(mrn="MRN2001")
    response = register(as_user(clinician), mrn="mrn 2001")
    assert "MRN already exists" in " ".join(response.context["form"].errors["mrn"])
    assert Patient.objects.count() == 1


def test_a_duplicate_mrn_links_to_the_patient_who_has_it(as_user, clinician):
    existing = make_patient(mrn="MRN2001")
    response = register(as_user(clinician), mrn="mrn 2001", family_name="Twice")
    page = response.content.decode()
    assert "MRN MRN2001 is already registered" in page
    assert f'<a href="{existing.get_absolute_url()}">open that patient\'s record</a>' in page
    assert not Patient.objects.filter(family_name="Twice").exists()


def test_a_duplicate_mrn_on_an_edit_links_to_the_other_patient(as_user, clinician):
    existing = make_patient(mrn="MRN2001")
    edited = make_patient(mrn="MRN2002")
    data = {**VALID, "mrn": "MRN2001", "expected_version": edited.version}
    page = as_user(clinician).post(reverse("patients:edit", args=[edited.uuid]), data)
    assert existing.get_absolute_url() in page.content.decode()
    edited.refresh_from_db()
    assert edited.mrn == "MRN2002"


def test_a_duplicate_mrn_links_only_for_those_who_may_open_patients(client, db):
    """Registering without the right to open records: the refusal, but no link."""
    existing = make_patient(mrn="MRN2001")
    registrar = make_user("registrar")
    registrar.user_permissions.add(Permission.objects.get(codename="add_patient"))
    client.force_login(registrar)
    response = register(client, mrn="MRN2001")
    assert "MRN already exists" in " ".join(response.context["form"].errors["mrn"])
    assert existing.get_absolute_url() not in response.content.decode()


def test_markup_in_a_name_is_shown_escaped(as_user, clinician):
    client = as_user(clinician)
    register(client, family_name="<script>alert(1)</script>")
    page = client.get(Patient.objects.get().get_absolute_url()).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
