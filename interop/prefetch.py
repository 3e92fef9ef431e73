"""Reading what an EHR sends with a hook call (FHIR R4 resources as JSON): which of our
patients the prefetched Patient is, and the labs in the prefetched Observations.

Only what is needed is read, defensively: an EHR's JSON is input, so anything of the wrong
shape is passed over rather than trusted.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from patients.facts import FACT_BY_NAME
from patients.models import normalise_mrn

V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"  # HL7 v2 identifier types
LOINC = "http://loinc.org"
MAX_MRN_LENGTH = 20  # patients.Patient.mrn

# The labs the services ask for (interop.hooks' prefetch templates), by fact, with the
# LOINC codes accepted for each and the factor from each accepted unit (UCUM code or the
# unit as commonly written) to the fact's unit.
LABS: dict[str, tuple[tuple[str, ...], dict[str, float]]] = {
    # Ferritin, mass/volume in serum or plasma; µg/L is the same quantity as ng/mL.
    "ferritin_ng_ml": (
        ("2276-4", "20567-4", "24373-3"),
        {"ng/mL": 1.0, "ug/L": 1.0, "µg/L": 1.0},
    ),
    "tsat_percent": (("2502-3",), {"%": 1.0}),
    # Creatinine in serum or plasma: 1 mg/dL is 88.4 µmol/L (molar mass 113.12 g/mol).
    "serum_creatinine_mg_dl": (
        ("2160-0",),
        {"mg/dL": 1.0, "umol/L": 1 / 88.4, "µmol/L": 1 / 88.4},
    ),
    "weight_kg": (("29463-7",), {"kg": 1.0, "g": 0.001, "[lb_av]": 0.45359237, "lb": 0.45359237}),
}
FINAL_STATUSES = {"final", "amended", "corrected"}


def mrn_candidates(patient: Any, mrn_system: str = "") -> list[str]:
    """The MRNs the prefetched Patient carries that may be ours: identifiers typed MR (HL7
    v2-0203), and those under the client's MRN system when it has one. With a system
    configured, an MR-typed identifier under another system is another organisation's
    record number and is not taken for ours."""
    if not isinstance(patient, dict) or patient.get("resourceType") != "Patient":
        return []
    found = []
    for identifier in _dicts(patient.get("identifier")):
        value, system = identifier.get("value"), identifier.get("system")
        if not isinstance(value, str) or not value.strip():
            continue
        system = system if isinstance(system, str) else ""
        typed_mr = any(
            coding.get("system") == V2_0203 and coding.get("code") == "MR"
            for coding in _dicts(_dict(identifier.get("type")).get("coding"))
        )
        # With a system configured: that system, or MR with no system; otherwise MR.
        ours = (system == mrn_system or (typed_mr and not system)) if mrn_system else typed_mr
        mrn = normalise_mrn(value)
        if ours and 0 < len(mrn) <= MAX_MRN_LENGTH and mrn not in found:
            found.append(mrn)
    return found


@dataclass(frozen=True)
class Lab:
    value: float  # in the fact's unit
    at: datetime | None  # when it was taken, if the Observation says


def labs(prefetch: Mapping[str, Any]) -> dict[str, Lab]:
    """The latest value of each lab of LABS among every Observation in the prefetch (single
    resources or search Bundles, whatever their keys), converted to the fact's unit. An
    Observation in a unit not known here, not final, or out of the fact's range is left
    out."""
    latest: dict[str, Lab] = {}
    for observation in _observations(prefetch):
        found = _lab(observation)
        if found is None:
            continue
        fact, lab = found
        held = latest.get(fact)
        if held is None or (lab.at is not None and (held.at is None or lab.at > held.at)):
            latest[fact] = lab
    return latest


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


def _lab(observation: dict[str, Any]) -> tuple[str, Lab] | None:
    if observation.get("status") not in FINAL_STATUSES:
        return None
    codes = {
        coding.get("code")
        for coding in _dicts(_dict(observation.get("code")).get("coding"))
        if coding.get("system") == LOINC
    }
    quantity = _dict(observation.get("valueQuantity"))
    value = quantity.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    unit = quantity.get("code") or quantity.get("unit")
    for fact, (loinc_codes, factors) in LABS.items():
        if not codes.intersection(loinc_codes) or unit not in factors:
            continue
        converted = float(value) * factors[unit]
        described = FACT_BY_NAME[fact]
        low, high = described.minimum, described.maximum
        if (low is not None and converted < low) or (high is not None and converted > high):
            return None
        return fact, Lab(round(converted, 3), _effective(observation))
    return None


def _effective(observation: dict[str, Any]) -> datetime | None:
    """When the observation was taken: effectiveDateTime, or the start of effectivePeriod,
    or effectiveInstant. A date alone counts from midnight in the clinic's time zone."""
    text = (
        observation.get("effectiveDateTime")
        or _dict(observation.get("effectivePeriod")).get("start")
        or observation.get("effectiveInstant")
    )
    if not isinstance(text, str):
        return None
    try:
        moment = parse_datetime(text)
        if moment is None:
            day = parse_date(text)
            if day is None:
                return None
            return timezone.make_aware(datetime.combine(day, time()))
    except ValueError:  # well-formed but impossible (a 30 February)
        return None
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
