"""Reading what an EHR sends with a hook call (FHIR R4 resources as JSON): which of our
patients the prefetched Patient is, and the labs in the prefetched Observations.

Only what is needed is read, defensively: an EHR's JSON is input, so anything of the wrong
shape is passed over rather than trusted.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from interop.fhir import codes
from interop.fhir.labs_import import LabsFound, fhir_time, labs_in
from patients.models import normalise_mrn

MAX_MRN_LENGTH = 20  # patients.Patient.mrn
# A Patient carries a handful of identifiers. One with more record numbers than this that
# may be ours is no patient to guess from (and each would be a parameter of one query).
MAX_CANDIDATES = 50


def mrn_candidates(patient: Any, mrn_system: str = "") -> list[str]:
    """The MRNs the prefetched Patient carries that may be ours: identifiers typed MR (HL7
    v2-0203), and those under the client's MRN system when it has one. With a system
    configured, an MR-typed identifier under another system is another organisation's
    record number and is not taken for ours. None past MAX_CANDIDATES."""
    if not isinstance(patient, dict) or patient.get("resourceType") != "Patient":
        return []
    found: dict[str, None] = {}  # in order, each once
    for identifier in _dicts(patient.get("identifier")):
        value, system = identifier.get("value"), identifier.get("system")
        if not isinstance(value, str) or not value.strip():
            continue
        system = system if isinstance(system, str) else ""
        typed_mr = any(
            coding.get("system") == codes.V2_0203 and coding.get("code") == "MR"
            for coding in _dicts(_dict(identifier.get("type")).get("coding"))
        )
        # With a system configured: that system, or MR with no system; otherwise MR.
        ours = (system == mrn_system or (typed_mr and not system)) if mrn_system else typed_mr
        mrn = normalise_mrn(value)
        if ours and 0 < len(mrn) <= MAX_MRN_LENGTH:
            found[mrn] = None
            if len(found) > MAX_CANDIDATES:
                return []
    return list(found)


@dataclass(frozen=True)
class Lab:
    value: float  # in the fact's unit
    at: datetime | None  # when it was taken, if the Observation says


def labs(prefetch: Mapping[str, Any]) -> dict[str, Lab]:
    """The latest usable value of each lab among every Observation in the prefetch (single
    resources or search Bundles, whatever their keys), in the fact's unit: read as a FHIR
    file's labs are (interop.fhir.labs_import), refusals (a unit not converted, not final,
    out of range) left out."""
    found = LabsFound()
    labs_in([("", observation) for observation in _observations(prefetch)], found)
    return {
        name: Lab(lab.value, fhir_time(lab.effective) if lab.effective else None)
        for name, lab in found.labs.items()
    }


def _observations(prefetch: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for value in prefetch.values():
        if not isinstance(value, dict):
            continue
        if value.get("resourceType") == "Observation":
            yield value
        elif value.get("resourceType") == "Bundle":
            for entry in _dicts(value.get("entry")):
                resource = _dict(entry.get("resource"))
                if resource.get("resourceType") == "Observation":
                    yield resource


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
