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
from patients.models import Patient

MAX_MRN_LENGTH = 20  # patients.Patient.mrn
# A Patient carries a handful of identifiers. One with more record numbers than this under
# the client's system is no patient to guess from (and each would be a query parameter).
MAX_CANDIDATES = 50


def mrn_candidates(patient: Any, mrn_system: str) -> list[str]:
    """The record numbers the prefetched Patient carries under the client's MRN system,
    the only system whose numbers are ours (an MR-typed identifier of another system is
    another organisation's number, whatever its value). None without a system, and none
    past MAX_CANDIDATES."""
    if not mrn_system or not isinstance(patient, dict) or patient.get("resourceType") != "Patient":
        return []
    found = list(
        dict.fromkeys(
            mrn
            for mrn in identity.identifier_values(patient, mrn_system)
            if len(mrn) <= MAX_MRN_LENGTH
        )
    )
    return found if len(found) <= MAX_CANDIDATES else []


def matching_patient(resource: Any, mrn_system: str) -> Patient | None:
    """Our open patient that the prefetched Patient is: exactly one open record with one of
    its MRNs under the client's system, whose date of birth (and sex, where both say) the
    EHR's Patient agrees with. Archived records take no decisions, so they match nobody."""
    candidates = mrn_candidates(resource, mrn_system)
    if not candidates:
        return None
    patients = list(Patient.objects.active().filter(mrn__in=candidates)[:2])
    if len(patients) != 1 or not identity.agrees(resource, patients[0]):
        return None  # nobody, two of ours (no guess), or a namesake of another identity
    return patients[0]


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
            for entry in _dicts(value.get("entry")):
                resource = _dict(entry.get("resource"))
                if resource.get("resourceType") in RESULT_TYPES:
                    yield resource


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
