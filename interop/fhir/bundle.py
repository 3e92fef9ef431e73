"""A FHIR R4 Bundle from a file, and whose it is: the first two steps of reading labs from
it (interop.fhir.labs_import). The file must be a JSON Bundle of bounded size whose own
shape the R4 models accept; its entries are checked one by one, so that one bad result
does not cost the others. It must hold the patient's Patient: one with our record number
(an identifier typed MR, or under our MRN system) whose birth date (and gender, where both
say) is our patient's (interop.fhir.identity). A file with a Patient of another record
number, with our number on someone of another birth date, or with no Patient of ours is
refused whole: nothing in it can be tied to this patient.
"""

import json
from typing import Any

import pydantic
from fhir.resources.R4B.bundle import Bundle

from interop import json_input
from interop.fhir import codes, identity
from interop.json_input import as_dict, as_dicts
from patients.models import Patient, normalise_mrn

Json = dict[str, Any]

MAX_BYTES = 2 * 1024 * 1024  # a lab export is a few kilobytes; a whole record, far less
# What the models validate takes time by the item, not the byte: 2 MB of empty entries
# took 20 s, of refused links 43 s. A lab file has far fewer of either.
MAX_ENTRIES = 5_000
MAX_VALUES = 100_000  # every JSON value, containers included


class FhirFileError(Exception):
    """A file that is not a FHIR R4 Bundle we can read, or not this patient's: the message
    says why, in words for the clinician."""


def parse_bundle(raw: bytes) -> Json:
    """The file as a FHIR R4 Bundle whose own shape the models accept (a plain dict: the
    checks below read the JSON as given). Its entries are checked one by one, by
    valid_entries, so that one bad result does not cost the others."""
    if len(raw) > MAX_BYTES:
        raise FhirFileError(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FhirFileError("The file is not UTF-8 text, so it is not FHIR JSON.") from None
    try:
        data = json_input.loads(text)
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
    not_text = json_input.bad_text(data)
    if not_text:
        raise FhirFileError(f"The file holds {not_text}, which is not text. Nothing was read.")
    # The Bundle without its entries, when they are a list: valid_entries checks each.
    shell = {k: v for k, v in data.items() if not (k == "entry" and isinstance(v, list))}
    try:
        Bundle.model_validate(shell)
    except pydantic.ValidationError as error:
        raise FhirFileError(f"The Bundle is not valid FHIR R4: {_first_problem(error)}") from None
    except (KeyError, TypeError, ValueError, RecursionError):
        raise FhirFileError("The Bundle is not valid FHIR R4.") from None
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


def valid_entries(bundle: Json) -> tuple[list[tuple[str, Json]], list[str]]:
    """The entries the R4 models accept, as (fullUrl, resource) pairs, and the refusal of
    each other one, by name; a Patient the models refuse refuses the file (whose the file
    is rests on it)."""
    kept, refusals = [], []
    for index, entry in enumerate(bundle.get("entry") or []):
        problem = _entry_problem(entry, index)
        if problem is None:
            kept.append(entry_resource(entry))
        elif as_dict(as_dict(entry).get("resource")).get("resourceType") == "Patient":
            raise FhirFileError(
                f"The file's Patient is not valid FHIR R4 ({problem}): nothing in the file "
                "can be tied to this patient, so nothing was read."
            )
        else:
            refusals.append(problem)
    return kept, refusals


def _entry_problem(entry: Any, index: int) -> str | None:
    """Why the models refuse the entry, asked of it alone in a Bundle; None if they don't."""
    alone = {"resourceType": "Bundle", "type": "collection", "entry": [entry]}
    try:
        Bundle.model_validate(alone)
    except pydantic.ValidationError as error:
        problem = _first_problem(error)
        return f"{_entry_name(entry, index)}: not valid FHIR R4, so not read: {problem}"
    except Exception:  # an unknown resourceType (KeyError), a shape the models fail on
        return (
            f"{_entry_name(entry, index)}: not an R4 resource (an unknown resourceType, or a "
            "value of the wrong kind), so not read."
        )
    return None


def _entry_name(entry: Any, index: int) -> str:
    """'entry 3 (Observation/x)': its place, and what it says it is."""
    resource = as_dict(as_dict(entry).get("resource"))
    kind, resource_id = resource.get("resourceType"), resource.get("id")
    if not isinstance(kind, str) or not kind.isalnum():
        return f"entry {index + 1}"
    named = f"{kind}/{resource_id}" if isinstance(resource_id, str) and resource_id else kind
    return f"entry {index + 1} ({named[:100]})"


def _first_problem(error: pydantic.ValidationError) -> str:
    """The first problem, where it is in the resource: 'valueQuantity.value: ...'."""
    problem = error.errors()[0]
    where = [str(part) for part in problem["loc"] if part != "root"]
    if where[:2] == ["entry", "0"]:  # the one entry of _entry_problem's Bundle
        where = where[3:] if where[2:3] == ["resource"] else where[2:]
    message = str(problem["msg"]).removeprefix("Value error, ")
    return (f"{'.'.join(where)}: {message}" if where else message)[:300]


def entry_resource(entry: Json) -> tuple[str, Json]:
    resource = entry.get("resource")
    return str(entry.get("fullUrl") or ""), resource if isinstance(resource, dict) else {}


# Whose it is


def mrns_of(resource: Json) -> list[str]:
    """A Patient's MRNs: identifiers typed MR (HL7 v2-0203) or in our MRN system."""
    found = identity.identifier_values(resource, codes.MRN_SYSTEM)
    for identifier in as_dicts(resource.get("identifier")):
        value = identifier.get("value")
        codings = as_dicts(as_dict(identifier.get("type")).get("coding"))
        is_mr = any(c.get("system") == codes.V2_0203 and c.get("code") == "MR" for c in codings)
        if is_mr and isinstance(value, str) and value.strip():
            found.append(normalise_mrn(value))
    return found


def patient_references(resources: list[tuple[str, Json]], patient: Patient) -> frozenset[str]:
    """The references that name `patient` in the file: those of its Patients with our
    MRN. Raises FhirFileError when a Patient has another MRN (the labs of a file holding
    another patient too may be theirs), when one with our MRN is someone else, and when
    none is ours: then nothing in the file can be tied to this patient."""
    patients = [(url, r) for url, r in resources if r.get("resourceType") == "Patient"]
    if not patients:
        raise FhirFileError(
            "The file names no patient, so nothing in it can be tied to this patient: "
            "nothing was read."
        )
    ours = normalise_mrn(patient.mrn)
    matched: set[str] = set()
    unnumbered: set[str] = set()
    is_ours = False
    for full_url, resource in patients:
        mrns, named = mrns_of(resource), identity.references(resource, full_url=full_url)
        if not mrns:
            unnumbered |= named
        elif ours not in mrns:
            raise FhirFileError(
                "The file is another patient's: a Patient in it has a different MRN. "
                "Nothing was read."
            )
        elif not identity.agrees(resource, patient):
            raise FhirFileError(_someone_else(resource, patient))
        else:
            is_ours, matched = True, matched | named
    if not is_ours:
        raise FhirFileError(
            "No Patient in the file carries this patient's medical record number (MR), so "
            "nothing in it can be tied to this patient: nothing was read."
        )
    if not matched:
        raise FhirFileError(
            "The file's Patient has neither an id nor a fullUrl, so no result can name it: "
            "nothing was read."
        )
    shared = sorted(matched & unnumbered)
    if shared:
        raise FhirFileError(
            f"Two Patients in the file go by {shared[0][:100]}, and only one carries this "
            "patient's MRN: a result naming it may be either's. Nothing was read."
        )
    return frozenset(matched)


def _someone_else(resource: Json, patient: Patient) -> str:
    differs = (
        "date of birth"
        if resource.get("birthDate") != patient.date_of_birth.isoformat()
        else "gender"
    )
    return (
        f"The file's Patient has this patient's MRN, but its {differs} is not this "
        "patient's: it may be someone else with the same number (another hospital's). "
        "Nothing was read."
    )
