"""Reading what an EHR sends with a hook call (FHIR R4 resources as JSON): which of our
patients the prefetched Patient is, and the labs in the prefetched Observations.

Only what is needed is read, defensively: an EHR's JSON is input, so anything of the wrong
shape is passed over rather than trusted. Whose data it is comes first: a Patient is ours
only by the client's MRN system and an agreeing birth date (interop.fhir.identity), and a
lab is read only when its subject is that Patient.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from interop.fhir import identity
from interop.fhir.labs_import import LabsFound, fhir_time, labs_in
from interop.json_input import as_dict, as_dicts
from patients.models import Patient

MAX_MRN_LENGTH = 20  # patients.Patient.mrn


def asked_mrn(patient: Any, mrn_system: str) -> str:
    """The record number the prefetched Patient carries under the client's MRN system, the
    only system whose numbers are ours (an MR-typed identifier of another system is another
    organisation's number, whatever its value). "" without a system, and "" when it carries
    two or more current numbers there: a Patient with two of the clinic's numbers is no
    patient to guess from, and each call asks for exactly one number, so that the rate
    limit on patients counts what was asked (interop.limits)."""
    if not mrn_system or not isinstance(patient, dict) or patient.get("resourceType") != "Patient":
        return ""
    found = identity.identifier_values(patient, mrn_system)
    return found[0] if len(found) == 1 and len(found[0]) <= MAX_MRN_LENGTH else ""


def matching_patient(resource: Any, mrn_system: str) -> Patient | None:
    """Our open patient that the prefetched Patient is: the one open record with its MRN
    under the client's system, whose date of birth (and sex, where both say) the EHR's
    Patient agrees with. Archived records take no decisions, so they match nobody."""
    mrn = asked_mrn(resource, mrn_system)
    if not mrn:
        return None
    patient = Patient.objects.active().filter(mrn=mrn).first()
    if patient is None or not identity.agrees(resource, patient):
        return None  # nobody, or our number on a namesake of another identity
    return patient


@dataclass(frozen=True)
class Lab:
    value: float  # in the fact's unit
    at: datetime | None  # when it was taken, if the Observation says


@dataclass(frozen=True)
class PrefetchLabs:
    labs: dict[str, Lab] = field(default_factory=dict)
    refusals: list[str] = field(default_factory=list)


def labs(prefetch: Mapping[str, Any], *, subject: frozenset[str], now: datetime) -> PrefetchLabs:
    """The latest usable value of each lab among the prefetch's Observations (single
    resources or search Bundles, whatever their keys, DiagnosticReports included), read as
    a FHIR file's labs are (interop.fhir.labs_import): only those whose subject is in
    `subject`, none dated after `now`; what was refused, by name and why."""
    found = LabsFound()
    labs_in([("", resource) for resource in _results(prefetch)], found, subject=subject, now=now)
    return PrefetchLabs(
        labs={
            name: Lab(lab.value, fhir_time(lab.effective) if lab.effective else None)
            for name, lab in found.labs.items()
        },
        refusals=found.refusals,
    )


RESULT_TYPES = ("Observation", "DiagnosticReport")


def _results(prefetch: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for value in prefetch.values():
        if not isinstance(value, dict):
            continue
        if value.get("resourceType") in RESULT_TYPES:
            yield value
        elif value.get("resourceType") == "Bundle":
            for entry in as_dicts(value.get("entry")):
                resource = as_dict(entry.get("resource"))
                if resource.get("resourceType") in RESULT_TYPES:
                    yield resource
