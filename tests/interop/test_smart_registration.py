"""Registering an EHR for SMART App Launch (issue 25, first part): nothing is trusted by
default, and an EHR user signs in only as the clinical account mapped to them."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from interop.models import SmartEhr, SmartUser

ISS = "https://ehr.example.org/fhir"
MRN = ["--mrn-system", "urn:oid:2.16.840.1.113883.3.7777.1"]


def smart(*args):
    out = StringIO()
    call_command("smart_ehr", *args, stdout=out)
    return out.getvalue()


def add(*extra):
    return smart(
        "add", "--iss", ISS, "--name", "Example EHR", "--client-id", "rls-app", *MRN, *extra
    )


def test_nothing_is_registered_until_added(db):
    assert not SmartEhr.objects.exists()
    assert smart("list") == ""


def test_a_public_and_a_confidential_client_are_registered_without_their_secret(db, monkeypatch):
    add()
    ehr = SmartEhr.objects.get()
    assert (ehr.iss, ehr.client_id, ehr.confidential, ehr.active) == (ISS, "rls-app", False, True)
    monkeypatch.setenv("EXAMPLE_EHR_SECRET", "s3cret-value")
    add("--credential-env", "EXAMPLE_EHR_SECRET", "--replace")
    ehr.refresh_from_db()
    assert (ehr.credential_env, ehr.confidential) == ("EXAMPLE_EHR_SECRET", True)
    stored = str(SmartEhr.objects.values().get())
    assert "s3cret-value" not in stored  # the name of the variable only
    assert "confidential (EXAMPLE_EHR_SECRET)" in smart("list")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--iss", "http://ehr.example.org/fhir"], "must be an https URL"),
        (["--iss", "not a url"], "must be an https URL"),
        (["--credential-env", "NOT_SET_ANYWHERE_123"], "is not set"),
        (["--mrn-system", " "], "must not be empty"),
    ],
)
def test_a_bad_registration_is_refused_and_nothing_is_saved(db, args, message):
    base = {"--iss": ISS, "--name": "Example EHR", "--client-id": "rls-app", "--mrn-system": MRN[1]}
    pairs = dict(zip(args[::2], args[1::2], strict=True))
    argv = [part for key, value in {**base, **pairs}.items() for part in (key, value)]
    with pytest.raises(CommandError, match=message):
        smart("add", *argv)
    assert not SmartEhr.objects.exists()


def test_an_active_ehr_is_not_replaced_silently(db):
    add()
    with pytest.raises(CommandError, match="add --replace"):
        smart("add", "--iss", ISS, "--name", "Other", "--client-id", "other", *MRN)
    assert SmartEhr.objects.get().client_id == "rls-app"


def test_http_is_allowed_on_this_machine_only(db):
    smart("add", "--iss", "http://127.0.0.1:9000/fhir", "--name", "Test", "--client-id", "x", *MRN)
    assert SmartEhr.objects.get().iss == "http://127.0.0.1:9000/fhir"


def test_an_ehr_user_maps_to_an_active_clinical_account_only(
    db, clinician, staff, superuser, outsider, guidance_admin
):
    add()
    smart("map", "--iss", ISS, "--fhir-user", "Practitioner/123", "--user", clinician.username)
    smart("map", "--iss", ISS, "--fhir-user", "Practitioner/456", "--user", staff.username)
    assert {(m.fhir_user, m.user) for m in SmartUser.objects.all()} == {
        ("Practitioner/123", clinician),
        ("Practitioner/456", staff),
    }
    for refused in (superuser, outsider, guidance_admin):
        with pytest.raises(CommandError, match="only active clinicians and staff"):
            smart("map", "--iss", ISS, "--fhir-user", "Practitioner/9", "--user", refused.username)
    clinician.is_active = False
    clinician.save()
    with pytest.raises(CommandError, match="No active user"):
        smart("map", "--iss", ISS, "--fhir-user", "Practitioner/7", "--user", clinician.username)
    assert SmartUser.objects.count() == 2


@pytest.mark.parametrize("fhir_user", ["Patient/1", "123", "Practitioner/", "Practitioner/a b"])
def test_a_fhir_user_that_is_not_one_is_refused(db, clinician, fhir_user):
    add()
    with pytest.raises(CommandError, match="Not a fhirUser"):
        smart("map", "--iss", ISS, "--fhir-user", fhir_user, "--user", clinician.username)
    assert not SmartUser.objects.exists()


def test_a_mapping_is_not_replaced_silently_and_can_be_removed(db, clinician, staff):
    add()
    smart("map", "--iss", ISS, "--fhir-user", "Practitioner/123", "--user", clinician.username)
    with pytest.raises(CommandError, match="already signs in as"):
        smart("map", "--iss", ISS, "--fhir-user", "Practitioner/123", "--user", staff.username)
    assert SmartUser.objects.get().user == clinician
    smart("unmap", "--iss", ISS, "--fhir-user", "Practitioner/123")
    assert not SmartUser.objects.exists()


def test_removing_an_ehr_keeps_its_mappings_and_refuses_its_launches(db, clinician):
    add()
    smart("map", "--iss", ISS, "--fhir-user", "Practitioner/123", "--user", clinician.username)
    smart("remove", "--iss", ISS)
    ehr = SmartEhr.objects.get()
    assert ehr.active is False
    assert SmartUser.objects.filter(ehr=ehr).count() == 1
    with pytest.raises(CommandError, match="No EHR is registered"):
        smart("remove", "--iss", "https://other.example.org/fhir")


def test_an_ehr_user_is_kept_relative_to_its_ehr_and_another_servers_is_refused(db, clinician):
    add()
    smart(
        "map", "--iss", ISS, "--fhir-user", f"{ISS}/Practitioner/123", "--user", clinician.username
    )
    assert SmartUser.objects.get().fhir_user == "Practitioner/123"
    with pytest.raises(CommandError, match="already signs in"):  # the same user, either form
        smart("map", "--iss", ISS, "--fhir-user", "Practitioner/123", "--user", clinician.username)
    with pytest.raises(CommandError, match="Not a fhirUser of this EHR"):
        smart(
            "map",
            "--iss",
            ISS,
            "--fhir-user",
            "https://elsewhere.example.org/fhir/Practitioner/9",
            "--user",
            clinician.username,
        )
    assert SmartUser.objects.count() == 1


def test_http_on_this_machine_needs_the_development_setting(db, settings):
    settings.SMART_ALLOW_LOOPBACK_HTTP = False
    with pytest.raises(CommandError, match="must be an https URL"):
        smart("add", "--iss", "http://127.0.0.1:9000/fhir", "--name", "T", "--client-id", "x", *MRN)
    assert not SmartEhr.objects.exists()


def test_adding_an_ehr_says_which_addresses_to_register_there(db):
    out = add()
    ehr = SmartEhr.objects.get()
    assert "http://testserver/smart/launch/" in out
    assert f"http://testserver/smart/callback/{ehr.pk}/" in out
    assert f"redirect URL http://testserver/smart/callback/{ehr.pk}/" in smart("list")
