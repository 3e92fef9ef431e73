"""The SMART launch a session came from (clinic.views.smart): kept for the account it
signed in, written to the access log once that account is signed in, and offered to the
screens that use it (a new assessment's labs read from the EHR)."""

import time
from typing import Any

from django.contrib.auth.models import User
from django.http import HttpRequest

from clinic import sessions
from clinic.roles import CLINICIANS, STAFF
from interop.models import SmartEhr
from interop.prefetch import asked_mrn, matching_patient
from interop.smart import Launch
from patients.facts import SEXES
from patients.models import Patient, PatientAccess

LAUNCH_VIEW = "smart:launch"  # the access log's name for a launch into a patient's record
# Of the EHR's Patient, only what matching needs is kept in the session.
PATIENT_KEYS = ("resourceType", "id", "identifier", "birthDate", "gender", "name")


def may_launch(user: User) -> bool:
    """Who an EHR user may be signed in as: an active clinician or staff member, never a
    superuser (manage.py smart_ehr map, and again at each launch)."""
    return (
        user.is_active
        and not user.is_superuser
        and user.groups.filter(name__in=[CLINICIANS, STAFF]).exists()
    )


def record(found: Launch, user: User, patient: Patient | None) -> dict[str, Any]:
    """What the session keeps of a launch: whose it is, the EHR's Patient (what matching
    reads), and the access token, which never leaves the server-side session."""
    return {
        "user": user.pk,
        "ehr": found.ehr.pk,
        "fhir_user": found.fhir_user,
        "patient": {key: found.patient[key] for key in PATIENT_KEYS if key in found.patient},
        "matched": patient.pk if patient else None,
        "token": found.access_token,
        "expires_at": found.expires_at,
        "observations": found.reads_observations,
    }


def keep(request: HttpRequest, launch: dict[str, Any]) -> None:
    """The launch's account is signed in: keep the launch, and write it to the access log
    when it opened one of our patients."""
    request.session[sessions.SMART_LAUNCH] = launch
    patient = Patient.objects.filter(pk=launch["matched"]).first() if launch["matched"] else None
    if patient is not None:
        PatientAccess.objects.create(
            user_id=launch["user"], patient=patient, view=LAUNCH_VIEW, ehr_user=launch["fhir_user"]
        )


def current_launch(request: HttpRequest) -> dict[str, Any] | None:
    """The launch this session came from, for the account it signed in, while its access
    token lasts (an expired one is forgotten)."""
    kept = request.session.get(sessions.SMART_LAUNCH)
    if not isinstance(kept, dict):
        return None
    if kept.get("expires_at", 0) <= time.time() or kept.get("user") != request.user.pk:
        del request.session[sessions.SMART_LAUNCH]
        return None
    return kept


def launch_for(request: HttpRequest, patient: Patient) -> tuple[SmartEhr, dict[str, Any]] | None:
    """The session's launch, if it may read Observations and its patient is this patient
    (matched again: the EHR's MRN system and an agreeing birth date)."""
    kept = current_launch(request)
    if kept is None or not kept.get("observations"):
        return None
    ehr = SmartEhr.objects.filter(pk=kept["ehr"], active=True).first()
    if ehr is None or matching_patient(kept["patient"], ehr.mrn_system) != patient:
        return None
    return ehr, kept


def registration_initial(request: HttpRequest) -> dict[str, str]:
    """A new patient's registration filled in from the EHR's Patient of this session's
    launch, when none of ours matched it: its record number under the EHR's MRN system,
    birth date, sex and name, for the person registering to check. Once saved, the record
    matches the launch, and its labs can be read from the EHR."""
    kept = current_launch(request)
    ehr = SmartEhr.objects.filter(pk=kept["ehr"], active=True).first() if kept else None
    if kept is None or ehr is None:
        return {}
    resource = kept["patient"]
    names = resource.get("name")
    name = names[0] if isinstance(names, list) and names and isinstance(names[0], dict) else {}
    given = name.get("given")
    initial = {
        "mrn": asked_mrn(resource, ehr.mrn_system),
        "date_of_birth": resource.get("birthDate"),
        "sex": resource.get("gender") if resource.get("gender") in SEXES else None,
        "family_name": name.get("family"),
        "given_name": " ".join(part for part in given if isinstance(part, str))
        if isinstance(given, list)
        else None,
    }
    return {key: value for key, value in initial.items() if isinstance(value, str) and value}
