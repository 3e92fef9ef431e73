"""Whose data it is: whether a FHIR Patient from outside is one of our patients, and
whether a resource's `subject` names that Patient.

A record number alone is not an identity: another hospital may use the same numbers (an
MR-typed `mrn-00001` from elsewhere is not our MRN-00001), so a Patient is ours only when
its record number is ours **and** its birth date is our patient's (and its gender, where
both records know it). Every result read from outside is then used only when its
`subject` is that Patient: a file or a prefetch may carry results of someone else.
"""

from datetime import date
from typing import Any

from patients.models import Patient, normalise_mrn

# FHIR's administrative gender beside our sexes: the same four words. "unknown" (or none
# given) agrees with anything; the other three must be equal where both records say.
KNOWN_SEXES = ("female", "male", "other")


def identifier_values(resource: Any, system: str) -> list[str]:
    """The Patient's identifier values under `system`, normalised as our MRNs are, each
    once; a number the Patient no longer goes by (`use` old) is not one of them."""
    if not isinstance(resource, dict):
        return []
    identifiers = resource.get("identifier")
    found: dict[str, None] = {}
    for identifier in identifiers if isinstance(identifiers, list) else []:
        if not isinstance(identifier, dict) or identifier.get("system") != system:
            continue
        value = identifier.get("value")
        if isinstance(value, str) and value.strip() and identifier.get("use") != "old":
            found[normalise_mrn(value)] = None
    return list(found)


def agrees(resource: dict[str, Any], patient: Patient) -> bool:
    """Whether the FHIR Patient's birth date is our patient's (a full date, the same day)
    and its gender does not contradict our patient's sex."""
    birth = resource.get("birthDate")
    try:
        born = date.fromisoformat(birth) if isinstance(birth, str) and len(birth) == 10 else None
    except ValueError:
        born = None
    if born != patient.date_of_birth:
        return False
    gender = resource.get("gender")
    if gender in KNOWN_SEXES and patient.sex in KNOWN_SEXES:
        return bool(gender == patient.sex)
    return True


def references(resource: dict[str, Any], *, full_url: str = "", base: str = "") -> frozenset[str]:
    """The references that name this Patient: `Patient/<id>`, its absolute form on the
    server it came from (`base`, an EHR's fhirServer), and its Bundle entry's fullUrl."""
    named: set[str] = set()
    resource_id = resource.get("id")
    if isinstance(resource_id, str) and resource_id:
        named.add(f"Patient/{resource_id}")
        if base:
            named.add(f"{base.rstrip('/')}/Patient/{resource_id}")
    if full_url:
        named.add(full_url)
    return frozenset(named)


def subject_reference(resource: dict[str, Any]) -> str | None:
    """The reference in a resource's `subject`, without a version (`/_history/N`); None
    when it has none (a subject given only by identifier or display names nobody here)."""
    subject = resource.get("subject")
    reference = subject.get("reference") if isinstance(subject, dict) else None
    if not isinstance(reference, str) or not reference:
        return None
    return reference.split("/_history/", 1)[0]
