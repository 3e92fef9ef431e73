"""Labs from a FHIR R4 Bundle, to pre-fill a new assessment (issue 13). Reads only:
nothing here saves anything, and the clinician confirms what was found before it goes
into the assessment form, which is saved (or not) like any other.

The file is read and its patient found by interop.fhir.bundle. A result is then read
only when its `subject` is that Patient; another's, or one naming no subject, is refused
by name. A CDS Hooks prefetch is read by labs_in alike (interop.prefetch).

Read: results coded with one of the LOINC codes of interop.fhir.codes.LABS (ferritin as
2276-4, 20567-4 or 24373-3; TSAT 2502-3; creatinine 2160-0; weight 29463-7), final (or
amended, corrected), with a valueQuantity whose value is a JSON number (not text, not
true/false, not -0, not too small or too large to hold) in a unit we convert to the
stored one. A result is an Observation, a `component` of one (an iron panel's TSAT and
ferritin; it takes its Observation's status, time and subject), or an Observation
contained in a DiagnosticReport and named by its `result` ("#id"; without a subject or a
time of its own, it takes the report's). A report's results that are entries of the
Bundle are read as entries, once. Any Bundle type is read, so a collection export and a
CDS Hooks prefetch (a `searchset` Bundle) alike.

Of several results of one lab the latest by its effective time is read, and that is said;
if the latest cannot be used it is refused and no older one takes its place (an older
value would pass for the current one). A result dated after `now` is refused by name and
not counted: its date is wrong, not later, so the latest of the others is read, with a
note that says so.

A result whose date is not a FHIR date is refused by name.
"""

import json
import re
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.utils import timezone

from interop.fhir import codes, identity
from interop.fhir.bundle import parse_bundle, patient_references, valid_entries
from interop.json_input import as_dict, as_dicts, as_list
from patients.facts import FACT_BY_NAME
from patients.models import Patient

Json = dict[str, Any]

USABLE_STATUSES = ("final", "amended", "corrected")
NOT_RESULTS = ("entered-in-error", "cancelled")  # never results: left out without a word
FHIR_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
# A lab system's clock and ours may disagree by a few minutes: a result stamped that much
# ahead of us is a clock's drift, not a wrong date.
FUTURE_TOLERANCE = timedelta(minutes=5)
# A date without a time may be a day that has begun where the lab is (UTC+14 at the
# most) while it is still the day before in UTC.
DATE_AHEAD = timedelta(hours=14)


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

    @property
    def effective_day(self) -> date | None:
        """The day the result is of, as the rest of the app shows dates: a FHIR date as
        given (no time zone to move it by), a dateTime on the clinic's calendar."""
        moment = fhir_time(self.effective) if self.effective else None
        if moment is None:
            return None
        return moment.date() if FHIR_DATE.match(self.effective) else timezone.localdate(moment)


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
    name: str  # how to name the result in a message
    holder: Json  # the Observation or component with the valueQuantity
    status: object  # the Observation's
    subject: str | None
    effective: str
    at: datetime | None
    position: int  # in the file, for a stable order among equal times


def read_labs(raw: bytes, *, patient: Patient, now: datetime) -> LabsFound:
    """The labs in a FHIR Bundle that are `patient`'s. Raises FhirFileError for a file
    that is not a readable R4 Bundle, or that cannot be tied to this patient."""
    bundle = parse_bundle(raw)
    found = LabsFound()
    resources, found.refusals = valid_entries(bundle)
    subject = patient_references(resources, patient)
    labs_in(resources, found, subject=subject, now=now)
    if not found.labs and not found.refusals:
        found.notes.append(
            "No ferritin, transferrin saturation, creatinine or weight Observation found "
            "(by LOINC code)."
        )
    return found


def labs_in(
    resources: list[tuple[str, Json]],
    found: LabsFound,
    *,
    subject: frozenset[str],
    now: datetime,
) -> None:
    """The latest usable value of each lab among `resources` ((fullUrl, resource) pairs,
    Observations and DiagnosticReports) whose subject is one of `subject`, added to
    `found` with its refusals and notes. Also reads a CDS Hooks prefetch (interop.prefetch),
    unvalidated, so that a file and an EHR's call are read alike."""
    by_lab: dict[str, list[_Candidate]] = {}
    for position, (full_url, resource) in enumerate(resources):
        for candidate in _candidates(resource, full_url, position):
            by_lab.setdefault(candidate.lab.field, []).append(candidate)
    for lab in codes.LABS:
        _read_latest(lab, by_lab.get(lab.field, []), found, subject=subject, now=now)


def _read_latest(
    lab: codes.Lab,
    candidates: list[_Candidate],
    found: LabsFound,
    *,
    subject: frozenset[str],
    now: datetime,
) -> None:
    usable, future = [], []
    for candidate in candidates:
        problem = _not_ours(candidate, subject)
        if problem is None and candidate.effective and candidate.at is None:
            # Unreadable, it could be any time: read as undated, it would pass for current.
            problem = f"its date {candidate.effective[:40]!r} is not a FHIR date, so it is "
            problem += "not read."
        if problem is None and _after(candidate, now):
            future.append(candidate.name)
            problem = f"dated {candidate.effective[:40]}, which is in the future: its date "
            problem += "cannot be right, so it is not read."
        if problem is None:
            usable.append(candidate)
        else:
            found.refusals.append(f"{candidate.name}: {problem}")
    if not usable:
        return
    latest = max(usable, key=_order)
    found.notes += _which_was_read(lab, latest, len(usable), future)
    try:
        found.labs[lab.field] = _read_value(latest)
    except _Refused as refusal:
        older = " No older one is used in its place." if len(usable) > 1 else ""
        found.refusals.append(f"{latest.name}: {refusal}{older}")


def _which_was_read(
    lab: codes.Lab, latest: _Candidate, usable: int, future: list[str]
) -> list[str]:
    """The note that says which of several results is read, when there were several."""
    read = f"the latest, {latest.name}{_dated(latest)}, is the one read."
    if future:
        return [
            f"{', '.join(future)}: dated in the future, so not counted. Of the other "
            f"{lab.name} results, {read}"
        ]
    return [f"{usable} {lab.name} Observations in the file: {read}"] if usable > 1 else []


# The results


def _name(resource: Json, full_url: object, position: int) -> str:
    """How a message names a resource: Observation/<id>, else its fullUrl, else its place."""
    kind = str(resource.get("resourceType", "resource"))
    if resource.get("id"):
        return f"{kind}/{resource['id']}"[:100]
    if full_url:
        return f"{kind} {full_url}"[:100]
    return f"{kind} in entry {position + 1}"


def _candidates(resource: Json, full_url: str, position: int) -> list[_Candidate]:
    """The results of our labs in a resource: an Observation's own and its components',
    and those of the Observations a DiagnosticReport contains. A CDS Hooks prefetch comes
    unvalidated (interop.prefetch): a value of the wrong shape is passed over, as a
    coding of another lab is."""
    name = _name(resource, full_url, position)
    if resource.get("resourceType") == "Observation":
        subject = identity.subject_reference(resource)
        return _results(resource, name, subject, _effective(resource), position)
    if resource.get("resourceType") != "DiagnosticReport" or resource.get("status") in NOT_RESULTS:
        return []
    found = []
    reported_on = identity.subject_reference(resource)
    for observation in _contained_results(resource):
        # Contained, it is the report's: without a subject or a time of its own, it has
        # the report's, and one that names someone other than the report does is refused
        # (whichever of the two is ours, the other says it is not).
        subject = reported_on
        if observation.get("subject") is not None:
            subject = identity.subject_reference(observation)
            if reported_on is not None and subject != reported_on:
                subject = f"{subject} (in a report about {reported_on})"
        effective = _effective(observation)
        contained = f"{name}, contained Observation/{observation['id']}"[:160]
        when = effective if effective[0] else _effective(resource)
        found += _results(observation, contained, subject, when, position)
    return found


def _contained_results(report: Json) -> list[Json]:
    """The contained Observations the report's `result` names ("#id"). Results that are
    entries of the Bundle are read as entries: not here, or they would count twice."""
    references = [as_dict(result).get("reference") for result in as_list(report.get("result"))]
    named = {reference for reference in references if isinstance(reference, str)}
    return [
        resource
        for resource in as_dicts(report.get("contained"))
        if resource.get("resourceType") == "Observation"
        and isinstance(resource.get("id"), str)
        and f"#{resource['id']}" in named
    ]


def _results(
    observation: Json,
    name: str,
    subject: str | None,
    when: tuple[str, datetime | None],
    position: int,
) -> list[_Candidate]:
    """The Observation's own result and its components', each a lab of ours."""
    status = observation.get("status")
    if status in NOT_RESULTS:
        return []
    holders = [(name, observation)] + [
        (f"{name}, component {number}", component)
        for number, component in enumerate(as_list(observation.get("component")), start=1)
        if isinstance(component, dict)
    ]
    found = []
    for named, holder in holders:
        coded = _our_code(holder)
        if coded is not None:
            lab, loinc = coded
            effective, at = when
            found.append(
                _Candidate(lab, loinc, named, holder, status, subject, effective, at, position)
            )
    return found


def _our_code(holder: Json) -> tuple[codes.Lab, str] | None:
    for coding in as_dicts(as_dict(holder.get("code")).get("coding")):
        loinc = coding.get("code")
        if coding.get("system") == codes.LOINC and isinstance(loinc, str):
            lab = codes.LAB_BY_LOINC.get(loinc)
            if lab is not None:
                return lab, loinc
    return None


def _effective(resource: Json) -> tuple[str, datetime | None]:
    period = as_dict(resource.get("effectivePeriod"))
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


def _not_ours(candidate: _Candidate, subject: frozenset[str]) -> str | None:
    """Why the result is not this patient's, or None when it is."""
    if candidate.subject is None:
        return "it names no subject, so it cannot be tied to this patient."
    if candidate.subject not in subject:
        return f"its subject is {candidate.subject[:100]}, not this patient."
    return None


def _after(candidate: _Candidate, now: datetime) -> bool:
    """Whether the result is dated after `now`, give or take FUTURE_TOLERANCE."""
    if candidate.at is None:
        return False
    ahead = FUTURE_TOLERANCE + (DATE_AHEAD if FHIR_DATE.match(candidate.effective) else timedelta())
    return candidate.at > now + ahead


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
    """Why a result's value cannot pre-fill the form."""


def _read_value(candidate: _Candidate) -> FoundLab:
    lab = candidate.lab
    if candidate.status not in USABLE_STATUSES:
        raise _Refused(
            f"status {str(candidate.status)[:20]!r}: only final (or amended, corrected) "
            "results pre-fill."
        )
    quantity = candidate.holder.get("valueQuantity")
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
    """The value as a measurement: a JSON number (json_input keeps decimals and -0 as
    written), finite, not negative zero, and one a double can hold."""
    if isinstance(value, str | bool):
        raise _Refused(f"its value is {json.dumps(value)[:30]}, not a number.")
    if not isinstance(value, int | float | Decimal):
        raise _Refused("its value is not a number.")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise _Refused("its value is not a number.") from None
    # copy_abs, not abs: abs rounds to the context, and 1e999999999 overflows it.
    if not number.is_finite() or number.copy_abs() > 10**9:
        raise _Refused("its value is not a number we can use.")
    if number.is_zero() and number.is_signed():
        raise _Refused(f"its value is {number}, negative zero: not a measured value.")
    if not number.is_zero() and abs(float(number)) < sys.float_info.min:
        raise _Refused(f"its value {number} is too close to zero to hold as a number.")
    return number
