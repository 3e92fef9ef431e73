"""Labs from a FHIR R4 Bundle, to pre-fill a new assessment (issue 13). Reads only:
nothing here saves anything, and the clinician confirms what was found before it goes
into the assessment form, which is saved (or not) like any other.

Read: Observations coded with one of the LOINC codes of interop.fhir.codes.LABS (ferritin as
2276-4, 20567-4 or 24373-3; TSAT 2502-3; creatinine 2160-0; weight 29463-7), final (or
amended, corrected), with a numeric valueQuantity in a unit we convert to the stored one.
Any Bundle type is read, so a collection export and a CDS Hooks prefetch (a `searchset`
Bundle) alike. When the file holds several Observations of one lab, the latest by its
effective time is the one read, and that is said; if the latest cannot be used it is
refused and no older one takes its place (an older value would pass for the current one).
"""

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import pydantic
from fhir.resources.R4B.bundle import Bundle

from interop.fhir import codes
from patients.facts import FACT_BY_NAME
from patients.models import normalise_mrn

Json = dict[str, Any]

MAX_BYTES = 2 * 1024 * 1024  # a lab export is a few kilobytes; a whole record, far less
# What the models validate takes time by the item, not the byte: 2 MB of empty entries
# took 20 s, of refused links 43 s. A lab file has far fewer of either.
MAX_ENTRIES = 5_000
MAX_VALUES = 100_000  # every JSON value, containers included
USABLE_STATUSES = ("final", "amended", "corrected")
NOT_RESULTS = ("entered-in-error", "cancelled")  # never results: left out without a word
FHIR_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


class FhirFileError(Exception):
    """A file that is not a FHIR R4 Bundle we can read, or not this patient's: the message
    says why, in words for the clinician."""


@dataclass(frozen=True)
class FoundLab:
    field: str  # the Assessment field
    name: str  # "ferritin"
    value: float  # in the stored unit
    unit: str  # the stored unit
    given_value: str  # as the file says it
    given_unit: str
    effective: str  # the effective time as the file says it; "" when it has none
    resource: str  # "Observation/ferritin-1"
    loinc: str


@dataclass
class LabsFound:
    labs: dict[str, FoundLab] = field(default_factory=dict)  # by field, in LABS order
    refusals: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def initial(self) -> dict[str, float]:
        """The assessment form's initial values."""
        return {name: lab.value for name, lab in self.labs.items()}

    def as_json(self) -> Json:
        return {
            "labs": {name: asdict(lab) for name, lab in self.labs.items()},
            "refusals": self.refusals,
            "notes": self.notes,
        }


@dataclass(frozen=True)
class _Candidate:
    lab: codes.Lab
    loinc: str
    name: str  # how to name the resource in a message
    resource: Json
    at: datetime | None
    effective: str
    position: int  # in the file, for a stable order among equal times


def read_labs(raw: bytes, *, mrn: str | None = None) -> LabsFound:
    """The labs in a FHIR Bundle. With `mrn`, a file whose Patient has another MRN is
    refused whole. Raises FhirFileError for a file that is not a readable R4 Bundle."""
    bundle = parse_bundle(raw)
    found = LabsFound()
    resources = [entry_resource(entry) for entry in bundle.get("entry") or []]
    check_patient(resources, mrn, found)
    labs_in(resources, found)
    if not found.labs and not found.refusals:
        found.notes.append(
            "No ferritin, transferrin saturation, creatinine or weight Observation found "
            "(by LOINC code)."
        )
    return found


def labs_in(resources: list[tuple[str, Json]], found: LabsFound) -> None:
    """The latest usable value of each lab among `resources` ((fullUrl, resource) pairs),
    added to `found` with its refusals and notes. Also reads a CDS Hooks prefetch
    (interop.prefetch), so that a file and an EHR's call are read alike."""
    by_lab: dict[str, list[_Candidate]] = {}
    for position, (full_url, resource) in enumerate(resources):
        if resource.get("resourceType") != "Observation":
            continue
        candidate = _candidate(resource, full_url, position)
        if candidate is None or resource.get("status") in NOT_RESULTS:
            continue
        by_lab.setdefault(candidate.lab.field, []).append(candidate)
    for lab in codes.LABS:
        candidates = by_lab.get(lab.field)
        if not candidates:
            continue
        latest = max(candidates, key=_order)
        if len(candidates) > 1:
            found.notes.append(
                f"{len(candidates)} {lab.name} Observations in the file: the latest, "
                f"{latest.name}{_dated(latest)}, is the one read."
            )
        try:
            found.labs[lab.field] = _read_value(latest)
        except _Refused as refusal:
            older = " No older one is used in its place." if len(candidates) > 1 else ""
            found.refusals.append(f"{latest.name}: {refusal}{older}")


# The file


def parse_bundle(raw: bytes) -> Json:
    """The file as a validated FHIR R4 Bundle (a plain dict: the checks below read the
    JSON as given, the model only vouches for its shape)."""
    if len(raw) > MAX_BYTES:
        raise FhirFileError(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FhirFileError("The file is not UTF-8 text, so it is not FHIR JSON.") from None
    try:
        data = json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
    except RecursionError:
        raise FhirFileError("The file is nested too deeply to be a FHIR Bundle.") from None
    except ValueError as error:  # JSONDecodeError, NaN, an integer of thousands of digits
        where = f" (line {error.lineno})" if isinstance(error, json.JSONDecodeError) else ""
        raise FhirFileError(f"The file is not valid JSON{where}.") from None
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        kind = data.get("resourceType") if isinstance(data, dict) else None
        said = f"a {kind}" if isinstance(kind, str) and kind.isalnum() else "something else"
        raise FhirFileError(f"The file is not a FHIR Bundle: it holds {said[:60]}.")
    entries = data.get("entry")
    if isinstance(entries, list) and len(entries) > MAX_ENTRIES:
        raise FhirFileError(
            f"The Bundle has more than {MAX_ENTRIES:,} entries: export the patient's labs only."
        )
    if _more_values_than(data, MAX_VALUES):
        raise FhirFileError(
            f"The file holds more than {MAX_VALUES:,} values: export the patient's labs only."
        )
    try:
        Bundle.model_validate(data)
    except pydantic.ValidationError as error:
        problem = _first_problem(error, data)
        raise FhirFileError(f"The Bundle is not valid FHIR R4: {problem}") from None
    except (KeyError, TypeError, ValueError, RecursionError):
        # An unknown resourceType, or a shape the models fail on before they can say why.
        raise FhirFileError(
            f"The Bundle is not valid FHIR R4: {_failing_entry(data)} is not an R4 resource "
            "(an unknown resourceType, or a value of the wrong kind)."
        ) from None
    return data


def _more_values_than(data: Json, limit: int) -> bool:
    pending: list[Any] = [data]
    count = 0
    while pending:
        value = pending.pop()
        count += 1
        if count > limit:
            return True
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


def _failing_entry(data: Json) -> str:
    """The first entry the models refuse, found one by one (only once the whole failed)."""
    entries = data.get("entry")
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        alone = {"resourceType": "Bundle", "type": "collection", "entry": [entry]}
        try:
            Bundle.model_validate(alone)
        except pydantic.ValidationError:
            continue  # a problem, but not the one that stopped the models
        except Exception:  # whatever else the models raise names the entry
            resource = entry.get("resource") if isinstance(entry, dict) else None
            kind = resource.get("resourceType") if isinstance(resource, dict) else None
            shown = kind[:40] if isinstance(kind, str) and kind.isalnum() else "resource"
            return f"entry {index + 1} ({shown})"
    return "a resource"


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _first_problem(error: pydantic.ValidationError, data: Json) -> str:
    """The first problem, where it is: 'entry 3 (Observation/x): valueQuantity.value: ...'."""
    problem = error.errors()[0]
    where = [str(part) for part in problem["loc"] if part != "root"]
    if len(where) >= 3 and where[0] == "entry" and where[2] == "resource":
        index = int(where[1])
        entries = data.get("entry")
        named = ""
        if isinstance(entries, list) and isinstance(entries[index], dict):
            resource = entries[index].get("resource")
            if isinstance(resource, dict):
                named = f" ({_name(resource, entries[index].get('fullUrl'), index)})"
        where = [f"entry {index + 1}{named}", ".".join(where[3:]) or "the resource"]
    message = str(problem["msg"]).removeprefix("Value error, ")
    return f"{': '.join(part for part in where if part)}: {message}"[:300]


def entry_resource(entry: Json) -> tuple[str, Json]:
    resource = entry.get("resource")
    return str(entry.get("fullUrl") or ""), resource if isinstance(resource, dict) else {}


def _name(resource: Json, full_url: object, position: int) -> str:
    """How a message names a resource: Observation/<id>, else its fullUrl, else its place."""
    kind = str(resource.get("resourceType", "resource"))
    if resource.get("id"):
        return f"{kind}/{resource['id']}"[:100]
    if full_url:
        return f"{kind} {full_url}"[:100]
    return f"{kind} in entry {position + 1}"


# The patient


def mrns_of(resource: Json) -> list[str]:
    """A Patient's MRNs: identifiers typed MR (HL7 v2-0203) or in our MRN system."""
    found = []
    for identifier in resource.get("identifier") or []:
        codings = (identifier.get("type") or {}).get("coding") or []
        is_mr = any(c.get("system") == codes.V2_0203 and c.get("code") == "MR" for c in codings)
        if (is_mr or identifier.get("system") == codes.MRN_SYSTEM) and identifier.get("value"):
            found.append(normalise_mrn(str(identifier["value"])))
    return found


def check_patient(resources: list[tuple[str, Json]], mrn: str | None, found: LabsFound) -> None:
    patients = [resource for _, resource in resources if resource.get("resourceType") == "Patient"]
    if not patients:
        found.notes.append("The file names no patient: make sure these results are this patient's.")
        return
    if mrn is None:
        return
    ours = normalise_mrn(mrn)
    numbered = [mrns for mrns in map(mrns_of, patients) if mrns]
    if not numbered:
        found.notes.append(
            "The file's patient has no medical record number (MR) to compare with: make "
            "sure these results are this patient's."
        )
    # Every Patient with a record number must be ours: the labs of a file that holds
    # another patient too may be theirs.
    elif any(ours not in mrns for mrns in numbered):
        raise FhirFileError(
            "The file is another patient's: a Patient in it has a different MRN. Nothing was read."
        )


# The Observations


def _candidate(resource: Json, full_url: str, position: int) -> _Candidate | None:
    """The Observation as a lab we read, or None when it is not one of ours. A CDS Hooks
    prefetch comes unvalidated (interop.prefetch): a value of the wrong shape is passed
    over, as a coding of another lab is."""
    for coding in _dicts(_dict(resource.get("code")).get("coding")):
        loinc = coding.get("code")
        if (
            coding.get("system") == codes.LOINC
            and isinstance(loinc, str)
            and (loinc in codes.LAB_BY_LOINC)
        ):
            effective, at = _effective(resource)
            return _Candidate(
                lab=codes.LAB_BY_LOINC[loinc],
                loinc=loinc,
                name=_name(resource, full_url, position),
                resource=resource,
                at=at,
                effective=effective,
                position=position,
            )
    return None


def _effective(resource: Json) -> tuple[str, datetime | None]:
    period = _dict(resource.get("effectivePeriod"))
    for given in (
        resource.get("effectiveDateTime"),
        resource.get("effectiveInstant"),
        period.get("end"),
        period.get("start"),
        resource.get("issued"),
    ):
        if isinstance(given, str):
            return given, fhir_time(given)
    return "", None


def _dict(value: Any) -> Json:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[Json]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def fhir_time(value: str) -> datetime | None:
    """A FHIR date or dateTime as an aware datetime, None when it is not one; a date (or a
    year, a month) counts from its first day, in UTC."""
    partial = FHIR_DATE.match(value)
    try:
        if partial:
            year, month, day = (int(part or 1) for part in partial.groups())
            return datetime(year, month, day, tzinfo=UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _order(candidate: _Candidate) -> tuple[bool, datetime, int]:
    """Latest first; one without a time counts as older than any with one."""
    return (
        candidate.at is not None,
        candidate.at or datetime.min.replace(tzinfo=UTC),
        candidate.position,
    )


def _dated(candidate: _Candidate) -> str:
    return f" of {candidate.effective}" if candidate.effective else " (no date)"


class _Refused(Exception):
    """Why an Observation's value cannot pre-fill the form."""


def _read_value(candidate: _Candidate) -> FoundLab:
    lab, resource = candidate.lab, candidate.resource
    status = resource.get("status")
    if status not in USABLE_STATUSES:
        raise _Refused(
            f"status {str(status)[:20]!r}: only final (or amended, corrected) results pre-fill."
        )
    quantity = resource.get("valueQuantity")
    if not isinstance(quantity, dict) or quantity.get("value") is None:
        raise _Refused(f"no numeric {lab.name} value (valueQuantity) to read.")
    given_unit = quantity.get("code") if quantity.get("system") == codes.UCUM else None
    given_unit = str(given_unit or quantity.get("unit") or "")
    given = _number(quantity["value"])
    shown = f"{given} {given_unit}".strip()
    if quantity.get("comparator"):
        raise _Refused(
            f"{lab.name} is given as {quantity['comparator']} {shown}, a bound, not a value."
        )
    if not given_unit:
        raise _Refused(f"{lab.name} {given} has no unit.")
    unit = lab.units.get(codes.normalise_unit(given_unit))
    if unit is None:
        accepted = ", ".join(dict.fromkeys(u.name for u in lab.units.values()))
        raise _Refused(
            f"unit {given_unit[:30]!r} is not a {lab.name} unit we convert (we convert {accepted})."
        )
    exponent = Decimal(1).scaleb(-lab.decimals)
    value = float((given * unit.factor).quantize(exponent, rounding=ROUND_HALF_UP))
    fact = FACT_BY_NAME[lab.field]
    low, high = fact.minimum, fact.maximum
    if low is not None and high is not None and not low <= value <= high:
        raise _Refused(
            f"{lab.name} {value:g} {lab.ucum} is outside what an assessment takes "
            f"({fact.range_text()})."
        )
    return FoundLab(
        field=lab.field,
        name=lab.name,
        value=value,
        unit=lab.ucum,
        given_value=str(given),
        given_unit=given_unit,
        effective=candidate.effective,
        resource=candidate.name,
        loinc=candidate.loinc,
    )


def _number(value: object) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise _Refused("its value is not a number.") from None
    # copy_abs, not abs: abs rounds to the context, and 1e999999999 overflows it.
    if not number.is_finite() or number.copy_abs() > 10**9:
        raise _Refused("its value is not a number we can use.")
    return number
