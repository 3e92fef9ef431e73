"""Labs from a FHIR Bundle pre-fill a new assessment (issue 13): read by LOINC code,
converted to the stored units or refused by name, confirmed by the clinician before
anything is saved; only results whose subject is this patient's Patient are read (issue
19); and export, import, export again gives the same labs."""

import json
from datetime import UTC, datetime
from io import BytesIO, StringIO

import pytest
import time_machine
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from clinic.forms.fhir import SIGNING_SALT
from interop.fhir.bundle import MAX_BYTES, FhirFileError
from interop.fhir.export import patient_bundle
from interop.fhir.labs_import import LabsFound, fhir_time, labs_in, read_labs
from patients.models import Assessment, PatientAccess
from tests.base import make_patient, record
from tests.interop.fhir import as_received, make_record, resources

pytestmark = pytest.mark.django_db

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
OURS = {"reference": "Patient/p1"}


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def patient(db):
    """Born 1980-01-01, female: what fhir_patient() says by default."""
    return make_patient(mrn="MRN-77")


def observation(
    id,
    loinc,
    value,
    unit,
    effective="2026-11-20T08:00:00Z",
    *,
    status="final",
    ucum=True,
    subject=OURS,
):
    quantity = {"value": value, "unit": unit}
    if ucum:
        quantity |= {"system": UCUM, "code": unit}
    resource = {
        "resourceType": "Observation",
        "id": id,
        "status": status,
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
        "effectiveDateTime": effective,
        "valueQuantity": quantity,
    }
    return resource | ({"subject": subject} if subject else {})


def fhir_patient(mrn="MRN-77", *, id="p1", birth_date="1980-01-01", gender="female"):
    return {
        "resourceType": "Patient",
        "id": id,
        "identifier": [
            {
                "type": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}
                    ]
                },
                "system": "urn:oid:1.2.3.4",
                "value": mrn,
            }
        ],
        "birthDate": birth_date,
        "gender": gender,
    }


def bundle(*resources, type="collection"):
    return {
        "resourceType": "Bundle",
        "type": type,
        "entry": [
            {"fullUrl": f"urn:uuid:{n:08d}-0000-4000-8000-000000000000", "resource": r}
            for n, r in enumerate(resources)
        ],
    }


def read_file(patient, data):
    return read_labs(json.dumps(data).encode(), patient=patient, now=NOW)


def read(patient, *resources, **options):
    """The labs of a file holding our patient's Patient, then `resources`."""
    return read_file(patient, bundle(fhir_patient(), *resources, **options))


# What is read


@pytest.mark.parametrize("loinc", ["2276-4", "20567-4", "24373-3"])
def test_ferritin_is_read_under_each_of_its_codes(loinc, patient):
    found = read(patient, observation("ferritin-1", loinc, 42, "ng/mL"))
    lab = found.labs["ferritin_ng_ml"]
    assert (lab.value, lab.unit, lab.loinc, lab.resource) == (
        42.0,
        "ng/mL",
        loinc,
        "Observation/ferritin-1",
    )
    assert found.refusals == []


def test_tsat_creatinine_and_weight_are_read_by_their_codes(patient):
    found = read(
        patient,
        observation("tsat", "2502-3", 18, "%"),
        observation("creatinine", "2160-0", 0.9, "mg/dL"),
        observation("weight", "29463-7", 68.5, "kg"),
        observation("sodium", "2951-2", 140, "mmol/L"),  # not a lab we use: passed over
    )
    assert found.initial() == {
        "tsat_percent": 18.0,
        "serum_creatinine_mg_dl": 0.9,
        "weight_kg": 68.5,
    }
    assert found.refusals == []


@pytest.mark.parametrize(
    ("loinc", "value", "unit", "field", "expected"),
    [
        ("2276-4", 42, "ug/L", "ferritin_ng_ml", 42.0),  # µg/L = ng/mL
        ("2276-4", 42, "µg/L", "ferritin_ng_ml", 42.0),
        ("2276-4", 42, "mcg/L", "ferritin_ng_ml", 42.0),
        ("2276-4", 42.25, "ng/ml", "ferritin_ng_ml", 42.3),
        ("2160-0", 80, "umol/L", "serum_creatinine_mg_dl", 0.9),  # 80 / 88.4 = 0.905
        ("2160-0", 100, "µmol/L", "serum_creatinine_mg_dl", 1.13),
        ("29463-7", 150, "[lb_av]", "weight_kg", 68.0),  # 150 × 0.45359237 = 68.04
        ("29463-7", 150, "lb", "weight_kg", 68.0),
        ("29463-7", 68000, "g", "weight_kg", 68.0),
    ],
)
def test_units_are_converted_to_the_stored_ones(loinc, value, unit, field, expected, patient):
    found = read(patient, observation("lab-1", loinc, value, unit))
    lab = found.labs[field]
    assert lab.value == expected
    assert (lab.given_value, lab.given_unit) == (str(value), unit)


def test_a_unit_given_as_text_only_is_read_too(patient):
    found = read(patient, observation("ferritin-1", "2276-4", 42, "ng/mL", ucum=False))
    assert found.labs["ferritin_ng_ml"].value == 42.0


@pytest.mark.parametrize(
    ("loinc", "unit", "lab", "accepted"),
    [
        ("2276-4", "mmol/L", "ferritin", "ng/mL, µg/L"),
        ("2502-3", "1", "transferrin saturation", "%"),
        ("2160-0", "mmol/L", "creatinine", "mg/dL, µmol/L"),
        ("29463-7", "[stone_av]", "body weight", "kg, g, lb"),
    ],
)
def test_unknown_units_are_refused_naming_the_resource(loinc, unit, lab, accepted, patient):
    found = read(patient, observation("lab-1", loinc, 5, unit))
    assert found.labs == {}
    assert found.refusals == [
        f"Observation/lab-1: unit '{unit}' is not a {lab} unit we convert (we convert {accepted})."
    ]


def test_values_that_cannot_pre_fill_are_refused_with_the_reason(patient):
    no_value = observation("tsat-1", "2502-3", 1, "%")
    del no_value["valueQuantity"]
    no_value["valueString"] = "pending"
    bound = observation("ferritin-1", "2276-4", 5, "ng/mL")
    bound["valueQuantity"]["comparator"] = "<"
    no_unit = observation("weight-1", "29463-7", 68, "kg")
    no_unit["valueQuantity"] = {"value": 68}
    found = read(
        patient,
        no_value,
        bound,
        no_unit,
        observation("creatinine-1", "2160-0", 1.1, "mg/dL", status="preliminary"),
    )
    assert found.labs == {}
    assert found.refusals == [
        "Observation/ferritin-1: ferritin is given as < 5 ng/mL, a bound, not a value.",
        "Observation/tsat-1: no numeric transferrin saturation value (valueQuantity) to read.",
        "Observation/creatinine-1: status 'preliminary': only final (or amended, corrected) "
        "results pre-fill.",
        "Observation/weight-1: body weight 68 has no unit.",
    ]


def test_a_value_outside_what_an_assessment_takes_is_refused(patient):
    found = read(patient, observation("ferritin-1", "2276-4", 6000, "ng/mL"))
    assert found.refusals == [
        "Observation/ferritin-1: ferritin 6000 ng/mL is outside what an assessment takes "
        "(0 to 5000 ng/mL)."
    ]


def test_of_several_observations_of_a_lab_the_latest_is_read_and_that_is_said(patient):
    found = read(
        patient,
        observation("f-oct", "2276-4", 30, "ng/mL", "2026-10-02"),
        observation("f-nov", "20567-4", 55, "ug/L", "2026-11-20T07:30:00+01:00"),
        observation("f-undated", "2276-4", 10, "ng/mL", None),
        observation("f-sep", "2276-4", 20, "ng/mL", "2026-09"),
    )
    assert found.labs["ferritin_ng_ml"].value == 55.0
    assert found.labs["ferritin_ng_ml"].effective == "2026-11-20T07:30:00+01:00"
    assert (
        "4 ferritin Observations in the file: the latest, Observation/f-nov of "
        "2026-11-20T07:30:00+01:00, is the one read."
    ) in found.notes


def test_a_latest_observation_that_cannot_be_used_is_not_replaced_by_an_older_one(patient):
    found = read(
        patient,
        observation("f-old", "2276-4", 30, "ng/mL", "2026-10-02"),
        observation("f-new", "2276-4", 5, "mmol/L", "2026-11-20"),
    )
    assert found.labs == {}
    assert found.refusals == [
        "Observation/f-new: unit 'mmol/L' is not a ferritin unit we convert (we convert "
        "ng/mL, µg/L). No older one is used in its place."
    ]


def test_results_entered_in_error_are_not_results(patient):
    found = read(
        patient,
        observation("f-good", "2276-4", 30, "ng/mL", "2026-10-02"),
        observation("f-error", "2276-4", 900, "ng/mL", "2026-11-20", status="entered-in-error"),
    )
    assert found.labs["ferritin_ng_ml"].value == 30.0


def test_a_file_without_our_labs_says_so(patient):
    found = read(patient, observation("sodium", "2951-2", 140, "mmol/L"))
    assert (found.labs, found.refusals) == ({}, [])
    assert found.notes[-1] == (
        "No ferritin, transferrin saturation, creatinine or weight Observation found "
        "(by LOINC code)."
    )


def test_an_observation_without_an_id_is_named_by_its_full_url_or_place(patient):
    nameless = observation("x", "2276-4", 5, "mmol/L")
    del nameless["id"]
    found = read(patient, nameless)
    assert found.refusals[0].startswith(
        "Observation urn:uuid:00000001-0000-4000-8000-000000000000: unit 'mmol/L'"
    )
    placed = bundle(fhir_patient(), nameless)
    del placed["entry"][1]["fullUrl"]
    assert (
        read_file(patient, placed).refusals[0].startswith("Observation in entry 2: unit 'mmol/L'")
    )


def test_a_value_too_large_to_be_a_lab_is_refused(patient):
    found = read(patient, observation("ferritin-1", "2276-4", 1e12, "ng/mL"))
    assert found.refusals == ["Observation/ferritin-1: its value is not a number we can use."]


def test_dates_are_read_as_fhir_writes_them():
    assert fhir_time("2026") == datetime(2026, 1, 1, tzinfo=UTC)
    assert fhir_time("2026-11") == datetime(2026, 11, 1, tzinfo=UTC)
    assert fhir_time("2026-11-20T08:00:00+01:00") == datetime(2026, 11, 20, 7, tzinfo=UTC)
    assert fhir_time("2026-11-20T08:00:00") == datetime(2026, 11, 20, 8, tzinfo=UTC)
    assert fhir_time("2026-02-30") is None
    assert fhir_time("yesterday") is None


def test_a_cds_hooks_prefetch_searchset_is_read(patient):
    prefetch = bundle(
        fhir_patient(), observation("ferritin-1", "2276-4", 42, "ng/mL"), type="searchset"
    )
    prefetch["total"] = 1
    prefetch["entry"][1]["search"] = {"mode": "match"}
    found = read_file(patient, prefetch)
    assert found.labs["ferritin_ng_ml"].value == 42.0


# Whose results they are (issue 19)


def test_an_observation_of_another_patient_in_the_same_file_is_refused_and_ours_read(patient):
    found = read_file(
        patient,
        bundle(
            fhir_patient(),
            {"resourceType": "Patient", "id": "other", "birthDate": "1975-03-03"},
            observation("f-ours", "2276-4", 42, "ng/mL", "2026-11-01"),
            observation("f-theirs", "2276-4", 900, "ng/mL", subject={"reference": "Patient/other"}),
            observation("f-nobody", "2276-4", 800, "ng/mL", subject=None),
            observation("f-named", "2276-4", 700, "ng/mL", subject={"display": "Ada Quill"}),
        ),
    )
    assert found.labs["ferritin_ng_ml"].value == 42.0
    assert found.labs["ferritin_ng_ml"].resource == "Observation/f-ours"
    assert found.refusals == [
        "Observation/f-theirs: its subject is Patient/other, not this patient.",
        "Observation/f-nobody: it names no subject, so it cannot be tied to this patient.",
        "Observation/f-named: it names no subject, so it cannot be tied to this patient.",
    ]
    # The refused ones are not counted among the ferritins, so nothing says "the latest".
    assert found.notes == []


def test_our_patient_is_named_by_its_id_its_full_url_or_a_version_of_it(patient):
    found = read(
        patient,
        observation("f-url", "2276-4", 40, "ng/mL", "2026-11-01", subject=None)
        | {"subject": {"reference": "urn:uuid:00000000-0000-4000-8000-000000000000"}},
        observation("weight", "29463-7", 68, "kg", subject={"reference": "Patient/p1/_history/3"}),
    )
    assert found.initial() == {"ferritin_ng_ml": 40.0, "weight_kg": 68.0}
    assert found.refusals == []


def test_a_patient_with_our_mrn_but_another_birth_date_or_gender_refuses_the_file(patient):
    labs = observation("ferritin-1", "2276-4", 42, "ng/mL")
    for someone, differs in [
        (fhir_patient(birth_date="1980-01-02"), "date of birth"),
        (fhir_patient(gender="male"), "gender"),
    ]:
        with pytest.raises(FhirFileError) as refused:
            read_file(patient, bundle(someone, labs))
        assert str(refused.value) == (
            f"The file's Patient has this patient's MRN, but its {differs} is not this "
            "patient's: it may be someone else with the same number (another hospital's). "
            "Nothing was read."
        )
    # A gender the file does not know says nothing against ours.
    assert read_file(patient, bundle(fhir_patient(gender="unknown"), labs)).labs


def test_a_file_of_another_patient_is_refused_whole(patient):
    labs = observation("ferritin-1", "2276-4", 42, "ng/mL")
    with pytest.raises(FhirFileError, match="another patient's"):
        read_file(patient, bundle(fhir_patient("OTHER-1"), labs))
    with pytest.raises(FhirFileError, match="another patient's"):
        read_file(patient, bundle(fhir_patient(), fhir_patient("OTHER-1", id="p2"), labs))
    # MRNs compare as the clinic normalises them.
    assert read_file(patient, bundle(fhir_patient(" mrn-77"), labs)).labs


@pytest.mark.parametrize(
    ("patients", "said"),
    [
        ([], "The file names no patient, so nothing in it can be tied to this patient"),
        (
            [{"resourceType": "Patient", "id": "p1", "birthDate": "1980-01-01"}],
            "No Patient in the file carries this patient's medical record number (MR), so "
            "nothing in it can be tied to this patient: nothing was read.",
        ),
        (
            [fhir_patient(), {"resourceType": "Patient", "id": "p1"}],
            "Two Patients in the file go by Patient/p1, and only one carries this patient's MRN",
        ),
        (
            [fhir_patient() | {"birthDate": "01/01/1980"}],
            "The file's Patient is not valid FHIR R4 (entry 1 (Patient/p1): not valid FHIR R4, "
            "so not read: birthDate: ",
        ),
    ],
    ids=["no Patient", "no MRN", "two named alike", "not valid"],
)
def test_a_file_that_cannot_be_tied_to_this_patient_is_refused_whole(patient, patients, said):
    with pytest.raises(FhirFileError) as refused:
        read_file(patient, bundle(*patients, observation("ferritin-1", "2276-4", 42, "ng/mL")))
    assert said in str(refused.value)


# Dates after now


def test_a_result_dated_in_the_future_is_refused_and_the_latest_of_the_others_read(patient):
    found = read(
        patient,
        observation("f-old", "2276-4", 30, "ng/mL", "2026-10-02"),
        observation("f-9999", "2276-4", 900, "ng/mL", "9999-01-01"),
        observation("f-sep", "2276-4", 20, "ng/mL", "2026-09-15"),
    )
    assert found.labs["ferritin_ng_ml"].value == 30.0
    assert found.refusals == [
        "Observation/f-9999: dated 9999-01-01, which is in the future: its date cannot be "
        "right, so it is not read."
    ]
    assert found.notes == [
        "Observation/f-9999: dated in the future, so not counted. Of the other ferritin "
        "results, the latest, Observation/f-old of 2026-10-02, is the one read."
    ]


@pytest.mark.parametrize(
    ("effective", "is_read"),
    [
        ("2026-11-26T12:04:00Z", True),  # a lab's clock a little ahead of ours
        ("2026-11-26T12:06:00Z", False),
        ("2026-11-26T23:00:00+12:00", True),  # 11:00 UTC
        ("2026-11-27", True),  # already the 27th east of UTC
        ("2026-11-28", False),
        ("9999-12-31T23:59:59-05:00", False),  # no UTC equivalent: still no server error
    ],
)
def test_how_far_ahead_a_result_may_be_dated(patient, effective, is_read):
    found = read(patient, observation("f", "2276-4", 30, "ng/mL", effective))
    assert ("ferritin_ng_ml" in found.labs) is is_read
    assert len(found.refusals) == (0 if is_read else 1)


# One entry at a time


def test_one_malformed_coding_refuses_only_its_entry(patient):
    malformed = observation("f-bad", "2276-4", 42, "ng/mL")
    malformed["code"]["coding"][0]["system"] = ["http://loinc.org"]
    found = read(patient, malformed, observation("creatinine-1", "2160-0", 0.9, "mg/dL"))
    assert found.refusals == [
        "entry 2 (Observation/f-bad): not valid FHIR R4, so not read: code.coding.0.system: "
        "Input should be a valid string"
    ]
    assert found.initial() == {"serum_creatinine_mg_dl": 0.9}


def test_entries_the_models_refuse_are_named_and_the_rest_read(patient):
    found = read(
        patient,
        {"resourceType": "Gadget", "id": "g1"},
        {"resourceType": "Observation", "id": "x", "status": "final", "code": {}}
        | {"valueQuantity": {"value": "many"}},
        observation("ferritin-1", "2276-4", 42, "ng/mL"),
    )
    assert found.refusals[0] == (
        "entry 2 (Gadget/g1): not an R4 resource (an unknown resourceType, or a value of the "
        "wrong kind), so not read."
    )
    assert found.refusals[1].startswith(
        "entry 3 (Observation/x): not valid FHIR R4, so not read: valueQuantity.value: "
    )
    assert found.initial() == {"ferritin_ng_ml": 42.0}


# Values


@pytest.mark.parametrize(
    ("literal", "said"),
    [
        (b"-0", "its value is -0, negative zero: not a measured value."),
        (b"-0.0", "its value is -0.0, negative zero: not a measured value."),
        (b"1e-999999999", "its value 1E-999999999 is too close to zero to hold as a number."),
        (b'"45"', 'its value is "45", not a number.'),
    ],
)
def test_a_value_that_is_not_a_usable_json_number_is_refused_by_name(patient, literal, said):
    data = bundle(fhir_patient(), observation("ferritin-1", "2276-4", "VALUE", "ng/mL"))
    raw = json.dumps(data).encode().replace(b'"VALUE"', literal)
    found = read_labs(raw, patient=patient, now=NOW)
    assert found.refusals == [f"Observation/ferritin-1: {said}"]
    assert found.labs == {}


def test_a_value_of_true_is_refused_by_name_in_a_file_and_a_prefetch(patient):
    lab = observation("ferritin-1", "2276-4", True, "ng/mL")
    found = read(patient, lab)
    assert found.refusals[0].startswith(
        "entry 2 (Observation/ferritin-1): not valid FHIR R4, so not read: valueQuantity.value: "
    )
    # A prefetch is not validated by the models: the reading refuses it itself.
    prefetched = LabsFound()
    labs_in([("", lab)], prefetched, subject=frozenset({"Patient/p1"}), now=NOW)
    assert prefetched.refusals == ["Observation/ferritin-1: its value is true, not a number."]
    assert found.labs == prefetched.labs == {}


# Panels and reports


def test_an_iron_panels_components_are_read(patient):
    panel = observation("panel-1", "50190-7", 0, "ng/mL")  # Iron and iron binding capacity
    del panel["valueQuantity"]
    panel["component"] = [
        {
            "code": {"coding": [{"system": LOINC, "code": code}]},
            "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
        }
        for code, value, unit in [
            ("2498-4", 60, "ug/dL"),
            ("2502-3", 18, "%"),
            ("2276-4", 42, "ng/mL"),
        ]
    ]
    found = read(patient, panel)
    assert found.initial() == {"ferritin_ng_ml": 42.0, "tsat_percent": 18.0}
    assert found.labs["tsat_percent"].resource == "Observation/panel-1, component 2"
    assert found.labs["ferritin_ng_ml"].resource == "Observation/panel-1, component 3"
    assert found.labs["ferritin_ng_ml"].effective == "2026-11-20T08:00:00Z"  # the panel's
    assert found.refusals == []


def test_a_component_takes_its_observations_status_and_subject(patient):
    panel = observation("panel-1", "2276-4", 40, "ng/mL", status="preliminary")
    panel["component"] = [
        {"code": {"coding": [{"system": LOINC, "code": "2502-3"}]}, "valueQuantity": {}}
    ]
    theirs = panel | {"id": "panel-2", "status": "final", "subject": {"reference": "Patient/x"}}
    found = read(patient, panel, theirs)
    assert found.labs == {}
    assert found.refusals == [
        "Observation/panel-2: its subject is Patient/x, not this patient.",
        "Observation/panel-1: status 'preliminary': only final (or amended, corrected) "
        "results pre-fill.",
        "Observation/panel-2, component 1: its subject is Patient/x, not this patient.",
        "Observation/panel-1, component 1: status 'preliminary': only final (or amended, "
        "corrected) results pre-fill.",
    ]


def report(*results, contained=()):
    return {
        "resourceType": "DiagnosticReport",
        "id": "r1",
        "status": "final",
        "code": {"text": "Iron studies"},
        "subject": OURS,
        "effectiveDateTime": "2026-11-21",
        "contained": list(contained),
        "result": [{"reference": reference} for reference in results],
    }


def test_a_diagnostic_reports_contained_observation_is_read_and_its_entries_once(patient):
    contained = observation("o1", "2276-4", 42, "ng/mL", subject=None)
    del contained["effectiveDateTime"]
    found = read(
        patient,
        report("#o1", "Observation/creatinine-1", contained=[contained]),
        observation("creatinine-1", "2160-0", 0.9, "mg/dL"),
    )
    ferritin = found.labs["ferritin_ng_ml"]
    assert (ferritin.value, ferritin.resource) == (
        42.0,
        "DiagnosticReport/r1, contained Observation/o1",
    )
    assert ferritin.effective == "2026-11-21"  # the report's, as it has none of its own
    assert found.labs["serum_creatinine_mg_dl"].resource == "Observation/creatinine-1"
    assert found.refusals == found.notes == []  # one creatinine, not two


def test_a_contained_observation_of_another_subject_or_not_named_by_the_report_is_not_read(
    patient,
):
    theirs = observation("o1", "2276-4", 900, "ng/mL", subject={"reference": "Patient/x"})
    unnamed = observation("o2", "2160-0", 0.9, "mg/dL", subject=None)
    found = read(patient, report("#o1", contained=[theirs, unnamed]))
    assert found.labs == {}
    assert found.refusals == [
        "DiagnosticReport/r1, contained Observation/o1: its subject is Patient/x "
        "(in a report about Patient/p1), not this patient."
    ]


# Files that are not read at all


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        (b"", "The file is not valid JSON (line 1)."),
        (b'{"resourceType": "Bundle", "type": NaN}', "The file is not valid JSON."),
        (b"\xff\xfe{}", "The file is not UTF-8 text"),
        (b"[" * 100_000, "nested too deeply"),
        (b'{"resourceType": "Patient"}', "The file is not a FHIR Bundle: it holds a Patient."),
        (b'{"resourceType": "Bundle"}', "The Bundle is not valid FHIR R4: type: "),
        (
            b'{"resourceType": "Bundle", "type": "collection", "entry": {}}',
            "The Bundle is not valid FHIR R4: entry: Input should be a valid list",
        ),
        (
            json.dumps(bundle(fhir_patient() | {"id": "p\u0000"})).encode(),
            "The file holds a NUL character (\\u0000), which is not text. Nothing was read.",
        ),
        (
            json.dumps(bundle(fhir_patient())).replace("p1", "\\ud800").encode(),
            "The file holds half of a UTF-16 surrogate pair",
        ),
        (b" " * (MAX_BYTES + 1), "The file is larger than 2 MB."),
    ],
)
def test_files_that_are_not_readable_bundles_are_refused_saying_why(raw, said, patient):
    with pytest.raises(FhirFileError) as refused:
        read_labs(raw, patient=patient, now=NOW)
    assert said in str(refused.value)


def test_a_byte_order_mark_is_allowed(patient):
    raw = (
        b"\xef\xbb\xbf"
        + json.dumps(
            bundle(fhir_patient(), observation("ferritin-1", "2276-4", 42, "ng/mL"))
        ).encode()
    )
    assert read_labs(raw, patient=patient, now=NOW).initial() == {"ferritin_ng_ml": 42.0}


# The screens


def upload(client, patient, content, name="labs.json"):
    return client.post(
        reverse("patients:fhir_labs_upload", args=[patient.uuid]),
        {"file": SimpleUploadedFile(name, content, content_type="application/json")},
    )


LAB_FILE = json.dumps(
    bundle(
        fhir_patient(),
        observation("ferritin-1", "2276-4", 42, "ug/L"),
        observation("creatinine-1", "2160-0", 80, "umol/L"),
        observation("tsat-1", "2502-3", 0.18, "1"),
    )
).encode()


def test_the_new_assessment_page_leads_to_the_upload(as_user, clinician, patient):
    page = as_user(clinician).get(reverse("patients:assessment_create", args=[patient.uuid]))
    assert reverse("patients:fhir_labs_upload", args=[patient.uuid]) in page.content.decode()


def test_uploaded_labs_are_shown_for_confirmation_and_nothing_is_saved(as_user, clinician, patient):
    response = upload(as_user(clinician), patient, LAB_FILE)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-lab="ferritin_ng_ml"' in page
    assert "42 ug/L" in page
    assert "42.0 ng/mL" in page
    assert "0.9 mg/dL" in page
    assert "Observation/creatinine-1" in page
    assert "Observation/tsat-1: unit &#x27;1&#x27; is not a transferrin saturation unit" in page
    assert not Assessment.objects.exists()
    assert not Assessment.history.exists()


@pytest.mark.parametrize(
    ("zone", "effective", "shown"),
    [
        ("UTC", "2026-11-20T08:00:00Z", "20 Nov 2026"),
        ("America/New_York", "2026-11-20T03:00:00Z", "19 Nov 2026"),  # the clinic's evening
        ("America/New_York", "2026-11-20", "20 Nov 2026"),  # a date stays that date
    ],
)
def test_the_confirmation_shows_dates_as_the_rest_of_the_app(
    as_user, clinician, patient, settings, zone, effective, shown
):
    settings.TIME_ZONE = zone
    content = json.dumps(
        bundle(fhir_patient(), observation("f-1", "2276-4", 42, "ug/L", effective))
    )
    page = upload(as_user(clinician), patient, content.encode()).content.decode()
    assert f'<time datetime="{effective}">{shown}</time>' in page


def test_confirmed_labs_open_the_new_assessment_pre_filled_once(as_user, clinician, patient):
    client = as_user(clinician)
    token = upload(client, patient, LAB_FILE).context["confirm"]["token"].value()
    response = client.post(
        reverse("patients:fhir_labs_confirm", args=[patient.uuid]), {"token": token}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("patients:assessment_create", args=[patient.uuid])
    assert not Assessment.objects.exists()
    form_page = client.get(response["Location"])
    form = form_page.context["form"]
    assert form["ferritin_ng_ml"].value() == 42.0
    assert form["serum_creatinine_mg_dl"].value() == 0.9
    assert form["tsat_percent"].value() is None  # refused: its unit is not ours
    assert "Labs pre-filled from a FHIR file" in form_page.content.decode()
    # The live panel reads the pre-filled labs too (creatinine clearance needs the weight,
    # which this file does not give).
    crcl = next(fact for fact in form_page.context["panel"].facts if fact.name == "crcl_ml_min")
    assert crcl.value == "needs weight"
    # Used once: opening the form again starts empty.
    again = client.get(response["Location"]).context["form"]
    assert again["ferritin_ng_ml"].value() is None
    assert not Assessment.objects.exists()


def test_another_patients_creatinine_in_the_file_is_refused_on_the_page_and_not_carried(
    as_user, clinician, patient
):
    content = json.dumps(
        bundle(
            fhir_patient(),
            {"resourceType": "Patient", "id": "p2", "birthDate": "1961-07-07"},
            observation("creatinine-1", "2160-0", 0.9, "mg/dL", "2026-11-01"),
            observation(
                "creatinine-2", "2160-0", 3.2, "mg/dL", subject={"reference": "Patient/p2"}
            ),
        )
    ).encode()
    response = upload(as_user(clinician), patient, content)
    page = response.content.decode()
    assert "Observation/creatinine-2: its subject is Patient/p2, not this patient." in page
    token = response.context["confirm"]["token"].value()
    carried = signing.loads(token, salt=SIGNING_SALT)["labs"]
    assert list(carried) == ["serum_creatinine_mg_dl"]
    assert carried["serum_creatinine_mg_dl"]["value"] == 0.9
    assert carried["serum_creatinine_mg_dl"]["resource"] == "Observation/creatinine-1"
    assert not Assessment.objects.exists()


def test_a_confirmation_that_was_altered_or_is_for_another_patient_is_refused(
    as_user, clinician, patient
):
    client = as_user(clinician)
    token = upload(client, patient, LAB_FILE).context["confirm"]["token"].value()
    other = make_patient()
    for target, sent in [(patient, token[:-2] + "xx"), (other, token), (patient, "")]:
        response = client.post(
            reverse("patients:fhir_labs_confirm", args=[target.uuid]), {"token": sent}
        )
        assert response.status_code == 200
        assert "Nothing was pre-filled." in response.content.decode()
    fresh = client.get(reverse("patients:assessment_create", args=[other.uuid]))
    assert fresh.context["form"]["ferritin_ng_ml"].value() is None


def test_an_expired_confirmation_is_refused(as_user, clinician, patient):
    client = as_user(clinician)
    token = upload(client, patient, LAB_FILE).context["confirm"]["token"].value()
    with time_machine.travel("2026-11-26 12:31Z"):
        client.force_login(clinician)  # a new session: the old one has expired too
        response = client.post(
            reverse("patients:fhir_labs_confirm", args=[patient.uuid]), {"token": token}
        )
    assert "has expired or was altered" in response.content.decode()


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"not json", "The file is not valid JSON"),
        (b'{"resourceType": "Patient"}', "The file is not a FHIR Bundle"),
        (
            b'{"resourceType": "Bundle", "type": "collection", "entry": {}}',
            "The Bundle is not valid FHIR R4",
        ),
        (b" " * (MAX_BYTES + 1), "The file is larger than 2 MB"),
        (
            json.dumps(bundle(fhir_patient("SOMEONE-ELSE"))).encode(),
            "The file is another patient&#x27;s",
        ),
        (
            json.dumps(bundle(observation("ferritin-1", "2276-4", 42, "ng/mL"))).encode(),
            "The file names no patient, so nothing in it can be tied to this patient",
        ),
    ],
)
def test_a_bad_file_gets_a_message_on_the_field(as_user, clinician, patient, content, said):
    response = upload(as_user(clinician), patient, content)
    assert response.status_code == 200
    assert said in response.content.decode()
    assert response.context["form"].errors["file"]


def test_an_upload_without_a_file_gets_a_message_on_the_field(as_user, clinician, patient):
    response = as_user(clinician).post(reverse("patients:fhir_labs_upload", args=[patient.uuid]))
    assert response.context["form"].errors["file"] == ["This field is required."]


@pytest.mark.parametrize("role", ["staff", "guidance_admin", "outsider"])
def test_only_clinicians_may_pre_fill_labs(as_user, request, role, patient):
    client = as_user(request.getfixturevalue(role))
    assert upload(client, patient, LAB_FILE).status_code == 403
    assert client.get(reverse("patients:fhir_labs_upload", args=[patient.uuid])).status_code == 403
    confirm = client.post(
        reverse("patients:fhir_labs_confirm", args=[patient.uuid]), {"token": "x"}
    )
    assert confirm.status_code == 403


def test_an_archived_record_takes_no_new_labs(as_user, clinician, patient):
    patient.archive(by=clinician, reason="Moved away")
    response = upload(as_user(clinician), patient, LAB_FILE)
    assert response.status_code == 302
    assert response["Location"] == patient.get_absolute_url()


def test_reading_a_file_is_written_to_the_access_log(as_user, clinician, patient):
    upload(as_user(clinician), patient, LAB_FILE)
    assert PatientAccess.objects.filter(patient=patient, view="patients:fhir_labs_upload").exists()


# Round trip


def latest_labs(bundle: dict) -> dict[str, tuple[float, str]]:
    """The latest value of each lab Observation in an export, by LOINC code."""
    latest: dict[str, tuple[str, float, str]] = {}
    for o in resources(bundle, "Observation"):
        coding = o["code"]["coding"][0]
        if coding["system"] != LOINC or "valueQuantity" not in o:
            continue
        value = (o["effectiveDateTime"], o["valueQuantity"]["value"], o["valueQuantity"]["code"])
        latest[coding["code"]] = max(latest.get(coding["code"], value), value)
    return {code: (value, unit) for code, (_, value, unit) in latest.items()}


def test_export_import_and_export_again_gives_the_same_labs(as_user, clinician):
    patient = make_record(clinician)
    first = as_received(patient_bundle(patient, now=timezone.now()))
    exported = json.dumps(first).encode()

    # Import: the labs read are the stored ones (the latest of each).
    found = read_labs(exported, patient=patient, now=timezone.now())
    assert found.initial() == {
        "ferritin_ng_ml": 60.0,  # the second assessment's
        "tsat_percent": 18.0,
        "serum_creatinine_mg_dl": 0.9,
        "weight_kg": 68.0,
    }
    assert found.refusals == []

    # Through the screens, into a new assessment the clinician saves.
    client = as_user(clinician)
    token = upload(client, patient, exported).context["confirm"]["token"].value()
    client.post(reverse("patients:fhir_labs_confirm", args=[patient.uuid]), {"token": token})
    form = client.get(reverse("patients:assessment_create", args=[patient.uuid])).context["form"]
    labs = {name: str(form[name].value()) for name in found.initial()}
    response = record(client, patient, assessed_at="2026-11-26T11:00", **labs)
    assert response.status_code == 302
    saved = Assessment.objects.get(assessed_at__day=26)
    assert {name: getattr(saved, name) for name in labs} == found.initial()

    # Export again: the latest lab Observations say the same.
    second = as_received(patient_bundle(patient, now=timezone.now()))
    assert (
        latest_labs(second)
        == latest_labs(first)
        == {
            "2276-4": (60.0, "ng/mL"),
            "2502-3": (18.0, "%"),
            "2160-0": (0.9, "mg/dL"),
            "29463-7": (68.0, "kg"),
        }
    )


# The command


def run(*args, **options):
    out, err = StringIO(), StringIO()
    call_command("import_fhir_labs", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def test_the_command_prints_the_labs_and_refusals_as_json(tmp_path, patient):
    source = tmp_path / "labs.json"
    source.write_bytes(LAB_FILE)
    out, _ = run(str(source), "--mrn", "MRN-77")
    printed = json.loads(out)
    assert printed["labs"]["ferritin_ng_ml"]["value"] == 42.0
    assert printed["labs"]["serum_creatinine_mg_dl"]["given_unit"] == "umol/L"
    assert printed["refusals"][0].startswith("Observation/tsat-1: unit '1'")
    assert not Assessment.objects.exists()


def test_the_command_reads_standard_input(monkeypatch, patient):
    monkeypatch.setattr("sys.stdin", type("Stdin", (), {"buffer": BytesIO(LAB_FILE)})())
    out, _ = run("-", "--mrn", "MRN-77")
    assert json.loads(out)["labs"]["ferritin_ng_ml"]["value"] == 42.0


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (None, "cannot read it"),
        (b"{}", "not a FHIR Bundle"),
        (json.dumps(bundle(fhir_patient("SOMEONE-ELSE"))).encode(), "another patient's"),
        (
            json.dumps(bundle(fhir_patient(birth_date="1999-09-09"))).encode(),
            "its date of birth is not this patient's",
        ),
    ],
)
def test_the_command_exits_2_on_a_file_it_cannot_read(tmp_path, patient, content, said):
    source = tmp_path / "labs.json"
    if content is not None:
        source.write_bytes(content)
    out, err = StringIO(), StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("import_fhir_labs", str(source), "--mrn", "MRN-77", stdout=out, stderr=err)
    assert exited.value.code == 2
    assert said in err.getvalue()
    assert out.getvalue() == ""


def test_the_command_refuses_an_unknown_mrn(tmp_path):
    with pytest.raises(CommandError, match="No patient has that MRN"):
        run(str(tmp_path / "labs.json"), "--mrn", "NOBODY")


def test_the_command_reads_for_a_patient_only(tmp_path, patient):
    source = tmp_path / "labs.json"
    source.write_bytes(LAB_FILE)
    with pytest.raises(CommandError, match="the following arguments are required: --mrn"):
        run(str(source))


def test_the_command_says_it_saves_nothing():
    from interop.management.commands.import_fhir_labs import Command

    assert "Saves nothing" in Command.help
