"""order-select: a draft order of a gabapentinoid or a dopamine agonist gets the cautions
that qualify that option (product.md 5.1), evaluated on the facts we hold with the
prefetch's newer or missing labs. Anything else gets no cards."""

from datetime import UTC, date, datetime

import pytest

from guidance.services import evaluate_assessment
from interop import drugs
from interop.hooks import facts_with_labs
from interop.models import HookCall, HookCard
from interop.prefetch import labs
from patients.models import Patient, PatientAccess
from tests.base import COMPLETE_IRLS, CRITERIA_MET, make_assessment, make_patient
from tests.interop.ehr import chart_of, hook_body, observation, patient_resource, searchset

ORDER_SELECT = "/cds-services/rls-order-select"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def medication_request(concept: dict, request_id: str = "draft-1") -> dict:
    return {
        "resourceType": "MedicationRequest",
        "id": request_id,
        "status": "draft",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": concept,
    }


def order(client, ehr, mrn: str, *requests: dict, selections=None, **prefetch):
    ours = Patient.objects.filter(mrn=mrn).first()
    body = hook_body(
        "order-select",
        patient=chart_of(ours) if ours else patient_resource(mrn),
        prefetch=prefetch,
        draftOrders={
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": request} for request in requests],
        },  # fmt: skip
        selections=[f"MedicationRequest/{r['id']}" for r in requests]
        if selections is None
        else selections,
    )
    response = ehr.post(client, ORDER_SELECT, body)
    assert response.status_code == 200, response.content
    return response.json()["cards"]


def rules_of(sent: list[dict]) -> list[str]:
    """The rule codes of the cards, from their source labels."""
    return [card["source"]["label"].split(" · ")[1].split(" v")[0] for card in sent]


GABAPENTIN_300 = {"coding": [{"system": RXNORM, "code": "310431"}]}  # no display at all


@pytest.fixture
def older(clinician):
    """76 years old at the assessment, RLS criteria met, IRLS 24, last dose time unknown;
    no creatinine or weight recorded."""
    patient = make_patient(mrn="OLD-1", date_of_birth=date(1950, 3, 1), sex="female")
    assessment = make_assessment(
        patient,
        clinician,
        assessed_at=datetime(2026, 11, 20, 10, tzinfo=UTC),
        **CRITERIA_MET,
        **COMPLETE_IRLS,
    )
    evaluate_assessment(assessment=assessment)
    return assessment


def test_a_gabapentin_clinical_drug_code_brings_the_gabapentinoid_cautions(client, ehr, older):
    sent = order(
        client,
        ehr,
        "OLD-1",
        medication_request(GABAPENTIN_300),
        creatinine=searchset(observation("2160-0", 1.6, "mg/dL", "2026-11-25")),
        weight=searchset(observation("29463-7", 60, "kg", "2026-11-25")),
    )
    # Creatinine clearance from the EHR's labs: (140 - 76) x 60 / (72 x 1.6) x 0.85 = 28.
    assert rules_of(sent) == ["SAFE-GABA-RESPIRATORY", "SAFE-GABA-MISUSE", "SAFE-GABA-RENAL"]
    breathing, _, renal = sent
    assert breathing["indicator"] == "critical"
    assert "age 76" in breathing["detail"]
    assert "ordered: gabapentin" in breathing["detail"]
    assert "creatinine clearance: 28 mL/min" in renal["detail"]
    for card in sent:
        assert "suggestions" not in card
        assert "selectionBehavior" not in card
        assert [r["code"] for r in card["overrideReasons"]][0] == "mitigate-risk-negative-outcome"


def test_without_the_labs_the_unknown_clearance_caution_comes_instead(client, ehr, older):
    sent = order(client, ehr, "OLD-1", medication_request(GABAPENTIN_300))
    assert "SAFE-GABA-RENAL-UNKNOWN" in rules_of(sent)
    assert "SAFE-GABA-RENAL" not in rules_of(sent)


def test_an_order_select_card_links_our_undecided_card_for_feedback(client, ehr, older):
    sent = order(client, ehr, "OLD-1", medication_request(GABAPENTIN_300))
    hook_cards = {str(h.uuid): h for h in HookCard.objects.select_related("recommendation")}
    breathing = hook_cards[sent[0]["uuid"]]
    assert breathing.recommendation.rule_code == "SAFE-GABA-RESPIRATORY"
    assert breathing.card_version == 1
    assert HookCall.objects.get().service == "rls-order-select"


def test_a_dopamine_agonist_named_only_in_the_display_is_recognised(client, ehr, clinician):
    patient = make_patient(mrn="PREG-1", sex="female")
    assessment = make_assessment(patient, clinician, pregnant=True, **CRITERIA_MET)
    evaluate_assessment(assessment=assessment)
    concept = {"coding": [{"system": RXNORM, "display": "Pramipexole 0.125 MG Oral Tablet"}]}
    sent = order(client, ehr, "PREG-1", medication_request(concept))
    assert rules_of(sent) == ["SAFE-PREGNANCY"]
    assert "ordered: pramipexole" in sent[0]["detail"]


def test_an_unrelated_drug_gets_no_cards(client, ehr, older):
    concept = {"coding": [{"system": RXNORM, "code": "000000", "display": "lisinopril 10 MG"}]}
    assert order(client, ehr, "OLD-1", medication_request(concept)) == []
    assert HookCall.objects.get().service == "rls-order-select"


def test_only_the_selected_draft_orders_count(client, ehr, older):
    unrelated = medication_request({"text": "lisinopril 10 MG Oral Tablet"}, "draft-2")
    requests = (medication_request(GABAPENTIN_300), unrelated)
    assert order(client, ehr, "OLD-1", *requests, selections=["MedicationRequest/draft-2"]) == []
    assert order(client, ehr, "OLD-1", *requests, selections=[])  # none selected: every draft


def test_a_medication_referenced_from_the_order_is_recognised(client, ehr, older):
    request = medication_request({})
    del request["medicationCodeableConcept"]
    request["medicationReference"] = {"reference": "#med"}
    request["contained"] = [
        {"resourceType": "Medication", "id": "med", "code": {"text": "Lyrica 75 mg capsules"}}
    ]
    assert "SAFE-GABA-MISUSE" in rules_of(order(client, ehr, "OLD-1", request))


def test_an_unknown_patient_gets_no_cards(client, ehr, older):
    assert order(client, ehr, "NOBODY-1", medication_request(GABAPENTIN_300)) == []


# Recognising drugs


@pytest.mark.parametrize(
    ("concept", "name"),
    [
        (GABAPENTIN_300, "gabapentin"),
        ({"coding": [{"system": RXNORM, "code": "25480"}]}, "gabapentin"),
        ({"coding": [{"system": RXNORM, "code": "1101338"}]}, "gabapentin enacarbil"),
        ({"coding": [{"system": RXNORM, "code": "483450"}]}, "pregabalin"),
        (
            {"text": "Gabapentin Enacarbil 600 MG Extended Release Oral Tablet"},
            "gabapentin enacarbil",
        ),
        ({"text": "HORIZANT 600 mg"}, "gabapentin enacarbil"),
        ({"coding": [{"display": "gabapentin 300 MG Oral Capsule [Neurontin]"}]}, "gabapentin"),
        ({"coding": [{"display": "ropinirole 0.25 MG Oral Tablet"}]}, "ropinirole"),
        ({"text": "Neupro 1 mg/24 hr patch"}, "rotigotine"),
        ({"text": "rotigotine transdermal"}, "rotigotine"),
        ({"coding": [{"system": "http://other.example", "code": "310431"}]}, None),
        ({"text": "pregabalinoid"}, None),  # a word, not a part of one
        ({"text": "levodopa 100 MG"}, None),
        ({"coding": "gabapentin"}, None),
        ("gabapentin", None),
    ],
)
def test_drugs_are_recognised_by_rxnorm_code_or_name(concept, name):
    found = drugs.recognise(concept)
    assert (found.name if found else None) == name


def test_every_drug_maps_to_an_option_of_the_rules():
    assert set(drugs.OPTION_OF.values()) == {"MED-GABAPENTINOID", "MED-DOPAMINE-AGONIST"}
    assert set(drugs.RXNORM_CODES.values()) <= set(drugs.OPTION_OF)


# Labs from the prefetch


OURS = frozenset({"Patient/p1"})
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_prefetched_labs_replace_missing_or_older_ones_in_our_units(seeded):
    seeded.serum_creatinine_mg_dl = 0.9
    seeded.weight_kg = 70
    found = labs(
        {
            "creatinine": searchset(observation("2160-0", 132.6, "umol/L", "2026-11-25")),
            "weight": observation("29463-7", 80, "kg", "2026-11-01"),  # older than ours
            "ferritin": searchset(observation("2276-4", 30, "ug/L", "2026-11-25")),
            "tsat": searchset(observation("2502-3", 12, "%", "2026-11-25")),
            "patient": None,
        },
        subject=OURS,
        now=NOW,
    )
    assert {fact: lab.value for fact, lab in found.labs.items()} == {
        "serum_creatinine_mg_dl": 1.5,
        "weight_kg": 80.0,
        "ferritin_ng_ml": 30.0,
        "tsat_percent": 12.0,
    }
    facts = facts_with_labs(seeded, found.labs)
    assert facts["serum_creatinine_mg_dl"] == 1.5  # newer than the assessment
    assert facts["weight_kg"] == 70  # the assessment's is newer
    assert facts["ferritin_ng_ml"] == 30.0
    assert facts["crcl_ml_min"] is not None


def test_a_latest_lab_in_a_unit_not_converted_is_left_out_and_no_older_one_stands_in(seeded):
    """Read as a FHIR file's labs are (interop.fhir.labs_import): the newest ferritin is in
    mmol/L, not a ferritin unit, so the prefetch gives no ferritin; the older ug/L one is
    not taken for the current value, and the assessment's own stays."""
    found = labs(
        {
            "ferritin": searchset(
                observation("2276-4", 30, "ug/L", "2026-11-25"),
                observation("2276-4", 30, "mmol/L", "2026-11-26"),
            ),
            "patient": None,
        },
        subject=OURS,
        now=NOW,
    )
    assert found.labs == {}
    assert found.refusals
    assert facts_with_labs(seeded, found.labs)["ferritin_ng_ml"] == seeded.ferritin_ng_ml


# Whose labs: the findings


@pytest.fixture
def failing_kidneys(clinician):
    """76, 50 kg, creatinine 3.4 mg/dL: creatinine clearance (140 - 76) x 50 / (72 x 3.4)
    x 0.85 = 11 mL/min, so the renal-dose caution fires."""
    patient = make_patient(mrn="KID-1", date_of_birth=date(1950, 3, 1), sex="female")
    assessment = make_assessment(
        patient,
        clinician,
        assessed_at=datetime(2026, 11, 20, 10, tzinfo=UTC),
        **CRITERIA_MET,
        **COMPLETE_IRLS,
        serum_creatinine_mg_dl=3.4,
        weight_kg=50,
    )
    evaluate_assessment(assessment=assessment)
    return assessment


def someone_elses(resource: dict) -> dict:
    return {**resource, "id": "theirs", "subject": {"reference": "Patient/p2"}}


def test_another_patients_creatinine_is_refused_and_the_renal_caution_stays(
    client, ehr, failing_kidneys
):
    """The finding: a prefetched creatinine whose subject is another patient replaced ours
    (CrCl 11 mL/min became 57 and above) and removed the renal-dose caution."""
    theirs = someone_elses(observation("2160-0", 0.6, "mg/dL", "2026-11-28"))
    sent = order(
        client, ehr, "KID-1", medication_request(GABAPENTIN_300), creatinine=searchset(theirs)
    )
    assert "SAFE-GABA-RENAL" in rules_of(sent)
    renal = sent[rules_of(sent).index("SAFE-GABA-RENAL")]
    assert "creatinine clearance: 11 mL/min" in renal["detail"]
    (refusal,) = HookCall.objects.get().refusals
    assert refusal.startswith("Observation/theirs")
    assert "Patient/p2" in refusal
    access = PatientAccess.objects.get()
    assert (access.patient, access.view, access.ehr_user) == (
        failing_kidneys.patient,
        "cds:rls-order-select",
        "Practitioner/COREPRACTITIONER1",
    )


def test_a_lab_dated_in_the_future_is_refused_and_the_renal_caution_stays(
    client, ehr, failing_kidneys
):
    """The finding: a lab dated 9999 always counted as the newest."""
    future = {**observation("2160-0", 0.6, "mg/dL", "9999-12-31"), "id": "future"}
    sent = order(
        client, ehr, "KID-1", medication_request(GABAPENTIN_300), creatinine=searchset(future)
    )
    renal = sent[rules_of(sent).index("SAFE-GABA-RENAL")]
    assert "creatinine clearance: 11 mL/min" in renal["detail"]
    (refusal,) = HookCall.objects.get().refusals
    assert refusal.startswith("Observation/future")


def test_our_patients_newer_creatinine_in_the_prefetch_is_used(client, ehr, failing_kidneys):
    """The other side: a result about the context's patient, dated before now, still counts
    (by reference Patient/p1, or absolute on the EHR's FHIR server)."""
    for reference in ("Patient/p1", "http://127.0.0.1:8099/fhir/Patient/p1"):
        ours = {**observation("2160-0", 0.6, "mg/dL", "2026-11-28")}
        ours["subject"] = {"reference": reference}
        sent = order(
            client, ehr, "KID-1", medication_request(GABAPENTIN_300), creatinine=searchset(ours)
        )
        assert "SAFE-GABA-RENAL" not in rules_of(sent)


def report(subject: str, contained_subject: str | None) -> dict:
    """A DiagnosticReport containing a creatinine of 0.6 mg/dL (clearance 63 for KID-1)."""
    creatinine = {**observation("2160-0", 0.6, "mg/dL", "2026-11-28"), "id": "c1"}
    if contained_subject is None:
        del creatinine["subject"]
    else:
        creatinine["subject"] = {"reference": contained_subject}
    return {
        "resourceType": "DiagnosticReport",
        "id": "r1",
        "status": "final",
        "code": {"text": "renal panel"},
        "subject": {"reference": subject},
        "effectiveDateTime": "2026-11-28",
        "contained": [creatinine],
        "result": [{"reference": "#c1"}],
    }


@pytest.mark.parametrize(
    ("subject", "contained", "used"),
    [
        ("Patient/p1", None, True),  # ours, the result takes the report's subject
        ("Patient/p1", "Patient/p1", True),
        ("Patient/p2", "Patient/p1", False),  # a review found this one used
        ("Patient/p1", "Patient/p2", False),
        ("Patient/p2", None, False),
    ],
)
def test_a_reports_contained_creatinine_is_used_only_when_report_and_result_are_ours(
    client, ehr, failing_kidneys, subject, contained, used
):
    sent = order(
        client,
        ehr,
        "KID-1",
        medication_request(GABAPENTIN_300),
        creatinine=searchset(report(subject, contained)),
    )
    assert ("SAFE-GABA-RENAL" not in rules_of(sent)) is used
    refusals = HookCall.objects.get().refusals
    assert bool(refusals) is not used
    if not used:
        assert refusals[0].startswith("DiagnosticReport/r1, contained Observation/c1")


@pytest.mark.parametrize("when", ["2999-02-30", "9999-12-31T25:00:00", "tomorrow"])
def test_a_prefetched_lab_with_a_date_that_is_no_date_is_refused(client, ehr, older, when):
    """A review found these read as undated, filling a missing creatinine."""
    creatinine = {**observation("2160-0", 9.5, "mg/dL", when), "id": "odd"}
    weight = observation("29463-7", 60, "kg", "2026-11-25")
    sent = order(
        client,
        ehr,
        "OLD-1",
        medication_request(GABAPENTIN_300),
        creatinine=searchset(creatinine),
        weight=searchset(weight),
    )
    assert "SAFE-GABA-RENAL-UNKNOWN" in rules_of(sent)
    (refusal,) = HookCall.objects.get().refusals
    assert refusal.startswith("Observation/odd")
    assert "not a FHIR date" in refusal
