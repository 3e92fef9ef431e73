"""The FHIR R4 export (issue 13): a Bundle of type collection that validates resource by
resource with fhir.resources' R4B models, whose references all resolve inside it, from the
command line and as a download for clinicians only."""

import json
from collections import Counter
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from guidance.models import Decision, Recommendation
from interop.fhir import codes
from interop.fhir.export import patient_bundle
from patients.models import Assessment, PatientAccess
from patients.scales import SCALES
from tests.base import COMPLETE_IRLS, CRITERIA_MET, make_assessment
from tests.interop.fhir import (
    as_received,
    by_full_url,
    make_record,
    references,
    resolve,
    resources,
    validate,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen(frozen_clock):
    """Every test of this module at the shared frozen time (tests/conftest.py)."""


@pytest.fixture
def patient(clinician):
    return make_record(clinician, mrn="FHIR-0001")


@pytest.fixture
def bundle(patient):
    return as_received(patient_bundle(patient, now=timezone.now()))


# The Bundle as a whole


def test_the_export_validates_as_r4_resource_by_resource(bundle):
    validate(bundle)
    assert bundle["type"] == "collection"
    assert Counter(e["resource"]["resourceType"] for e in bundle["entry"]) == {
        "Patient": 1,
        "Practitioner": 1,
        "Questionnaire": 3,
        # First assessment: IRLS, COWS, GAD-7; second: IRLS; follow-up: COWS.
        "QuestionnaireResponse": 5,
        # Five totals, four labs of the first assessment and a ferritin of the second.
        "Observation": 10,
        "DetectedIssue": Recommendation.objects.filter(rule__kind="caution").count(),
        "RequestGroup": Recommendation.objects.filter(rule__kind="option").count(),
        "Provenance": Decision.objects.count(),
    }


def test_every_reference_resolves_inside_the_bundle(bundle):
    full_urls = [entry["fullUrl"] for entry in bundle["entry"]]
    assert len(full_urls) == len(set(full_urls))
    assert all(url.startswith("urn:uuid:") for url in full_urls)
    found = references(bundle)
    assert len(found) > 50
    assert set(found) <= set(full_urls)


def test_a_second_export_gives_every_resource_the_same_id(patient, bundle):
    again = as_received(patient_bundle(patient, now=timezone.now()))
    assert [e["fullUrl"] for e in again["entry"]] == [e["fullUrl"] for e in bundle["entry"]]
    assert again["entry"] == bundle["entry"]


def test_our_records_keep_their_own_uuids(patient, bundle):
    urls = by_full_url(bundle)
    assert urls[f"urn:uuid:{patient.uuid}"]["resourceType"] == "Patient"
    for card in Recommendation.objects.all():
        assert urls[f"urn:uuid:{card.uuid}"]["identifier"][0]["value"] == f"urn:uuid:{card.uuid}"


def test_the_patient_carries_the_mrn_as_an_mr_identifier(bundle):
    (patient,) = resources(bundle, "Patient")
    (identifier,) = patient["identifier"]
    assert identifier["value"] == "FHIR-0001"
    assert identifier["type"]["coding"] == [
        {
            "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
            "code": "MR",
            "display": "Medical record number",
        }
    ]
    assert patient["birthDate"] == "1990-05-01"
    assert patient["gender"] == "female"


def test_people_are_named_by_user_name_only(bundle, clinician):
    (practitioner,) = resources(bundle, "Practitioner")
    assert practitioner["identifier"][0]["value"] == "clinician"
    assert practitioner["name"] == [{"text": "Cleo Nician"}]


# Questionnaires


def weights(option: dict) -> dict[str, float]:
    return {extension["url"]: extension["valueDecimal"] for extension in option["extension"]}


def test_one_questionnaire_per_scale_with_every_answer_weighted(bundle):
    questionnaires = {q["url"]: q for q in resources(bundle, "Questionnaire")}
    assert set(questionnaires) == {codes.questionnaire_url(code) for code in SCALES}
    for code, scale in SCALES.items():
        items = questionnaires[codes.questionnaire_url(code)]["item"]
        assert [item["linkId"] for item in items] == scale.keys
        for item, registered in zip(items, scale.items, strict=True):
            options = item["answerOption"]
            assert [int(o["valueCoding"]["code"]) for o in options] == list(registered.allowed)
            for option, value in zip(options, registered.allowed, strict=True):
                # R4's ordinalValue and its newer name itemWeight, the same weight.
                assert weights(option) == {codes.ORDINAL_VALUE: value, codes.ITEM_WEIGHT: value}


def test_cows_keeps_its_non_contiguous_weights(bundle):
    (cows,) = [q for q in resources(bundle, "Questionnaire") if q["name"] == "COWS"]
    items = {item["linkId"]: item for item in cows["item"]}

    def item_weights(key):
        return [weights(o)[codes.ITEM_WEIGHT] for o in items[key]["answerOption"]]

    assert item_weights("cows_pulse") == [0, 1, 2, 4]
    assert item_weights("cows_restlessness") == [0, 1, 3, 5]
    assert item_weights("cows_gi_upset") == [0, 1, 2, 3, 5]
    assert item_weights("cows_gooseflesh") == [0, 3, 5]


def test_the_irls_questionnaire_has_our_item_texts_and_a_copyright_notice(bundle):
    (irls,) = [q for q in resources(bundle, "Questionnaire") if q["name"] == "IRLS"]
    # The registry's own paraphrases, and nothing else, as the items' texts.
    assert [item["text"] for item in irls["item"]] == [i.label for i in SCALES["irls"].items]
    assert [item["item"][0]["text"] for item in irls["item"]] == [
        i.anchors for i in SCALES["irls"].items
    ]
    assert "IRLSSG" in irls["copyright"]
    assert "Mapi Research Trust" in irls["copyright"]
    assert "our own paraphrases" in irls["copyright"].replace("clinic's own", "our own")
    other = [q for q in resources(bundle, "Questionnaire") if q["name"] != "IRLS"]
    assert not any("copyright" in q for q in other)


# Scores and labs


def observation_of(bundle: dict, system: str, code: str) -> list[dict]:
    return [
        o
        for o in resources(bundle, "Observation")
        if {"system": system, "code": code}.items() <= o["code"]["coding"][0].items()
    ]


def test_each_scored_scale_has_a_response_and_a_total_with_its_band(bundle):
    irls = observation_of(bundle, codes.SCALE_TOTAL_SYSTEM, "irls-total")
    cows = observation_of(bundle, codes.SCALE_TOTAL_SYSTEM, "cows-total")
    (gad7,) = observation_of(bundle, "http://loinc.org", "70274-6")
    assert [o["valueInteger"] for o in irls] == [24, 24]
    assert [o["valueInteger"] for o in cows] == [14, 14]  # the assessment, the follow-up
    assert gad7["valueInteger"] == 14
    assert gad7["interpretation"] == [
        {
            "coding": [
                {"system": codes.band_system("gad7"), "code": "moderate", "display": "moderate"}
            ],
            "text": "moderate",
        }
    ]
    assert irls[0]["interpretation"][0]["coding"][0]["code"] == "severe"
    assert cows[1]["effectiveDateTime"] == "2026-11-24"  # the follow-up's day
    for total in [*irls, *cows, gad7]:
        assert total["status"] == "final"
        (source,) = total["derivedFrom"]
        response = resolve(bundle, source)
        assert response["resourceType"] == "QuestionnaireResponse"
        assert response["status"] == "completed"
        assert response["authored"] == total["effectiveDateTime"]
        scale = next(s for s in SCALES.values() if response["questionnaire"].endswith(s.code))
        answers = [int(i["answer"][0]["valueCoding"]["code"]) for i in response["item"]]
        assert [i["linkId"] for i in response["item"]] == scale.keys
        assert sum(answers) == total["valueInteger"]
        assert resolve(bundle, total["subject"])["resourceType"] == "Patient"


def test_labs_are_observations_by_loinc_in_ucum_units(bundle):
    expected = {
        "2276-4": [(45.0, "ng/mL"), (60.0, "ng/mL")],
        "2502-3": [(18.0, "%")],
        "2160-0": [(0.9, "mg/dL")],
        "29463-7": [(68.0, "kg")],
    }
    for loinc, values in expected.items():
        found = observation_of(bundle, "http://loinc.org", loinc)
        assert [(o["valueQuantity"]["value"], o["valueQuantity"]["code"]) for o in found] == values
        for observation in found:
            assert observation["valueQuantity"]["system"] == "http://unitsofmeasure.org"
            assert observation["status"] == "final"
    (weight,) = observation_of(bundle, "http://loinc.org", "29463-7")
    assert weight["category"][0]["coding"][0]["code"] == "vital-signs"
    assert weight["effectiveDateTime"] == "2026-11-01T09:30:00+00:00"


# Cards and decisions


def card_resource(bundle: dict, code: str) -> dict:
    card = Recommendation.objects.get(rule_code=code, assessment__assessed_at__day=1)
    return by_full_url(bundle)[f"urn:uuid:{card.uuid}"]


def test_options_are_draft_proposals_with_their_because(bundle):
    option = card_resource(bundle, "IRON-SUPPLEMENT")
    assert option["resourceType"] == "RequestGroup"
    assert (option["status"], option["intent"]) == ("draft", "proposal")
    (action,) = option["action"]
    assert action["title"]
    assert action["description"].endswith(
        "Because: RLS criteria met · no iron overload · ferritin: 45 ng/mL · "
        "transferrin saturation: 18%."
    )
    assert option["code"]["coding"][0] == {
        "system": codes.RULE_SYSTEM,
        "code": "IRON-SUPPLEMENT",
        "display": action["title"],
    }
    # Accepted or not, an option is never more than a proposal in the export.
    accepted = card_resource(bundle, "MED-GABAPENTINOID")
    assert (accepted["status"], accepted["intent"]) == ("draft", "proposal")
    assert all(
        (r["status"], r["intent"]) == ("draft", "proposal")
        for r in resources(bundle, "RequestGroup")
    )


def test_cautions_are_detected_issues_final_once_acknowledged(bundle):
    acknowledged = card_resource(bundle, "SAFE-GABA-MISUSE")
    assert acknowledged["resourceType"] == "DetectedIssue"
    assert acknowledged["status"] == "final"
    assert acknowledged["severity"] == "moderate"
    assert "Because: RLS criteria met · IRLS 24 (severe)" in acknowledged["detail"]
    (evidence,) = acknowledged["evidence"]
    assert resolve(bundle, evidence["detail"][0])["valueInteger"] == 24
    # It qualifies the gabapentinoid option of the same assessment.
    (implicated,) = acknowledged["implicated"]
    assert resolve(bundle, implicated)["code"]["coding"][0]["code"] == "MED-GABAPENTINOID"
    undecided = [
        by_full_url(bundle)[f"urn:uuid:{card.uuid}"]
        for card in Recommendation.objects.filter(rule__kind="caution", status="pending")
    ]
    assert undecided
    assert all(issue["status"] == "preliminary" for issue in undecided)


def test_a_decided_card_whose_rule_no_longer_fires_says_so(patient, clinician):
    from guidance.services import save_assessment

    first = Assessment.objects.get(assessed_at__day=1)
    first.ferritin_ng_ml, first.tsat_percent = 200.0, 30.0  # iron no longer low
    save_assessment(assessment=first, expected_version=first.version, reason="Lab typo")
    bundle = as_received(patient_bundle(patient, now=timezone.now()))
    (action,) = card_resource(bundle, "IRON-SUPPLEMENT")["action"]
    assert (
        "this rule no longer fires; the card is kept because a clinician decided"
        in (action["description"])
    )
    validate(bundle)


def provenances_of(bundle: dict, code: str) -> list[dict]:
    target = card_resource(bundle, code)
    return [
        p
        for p in resources(bundle, "Provenance")
        if resolve(bundle, p["target"][0])["id"] == target["id"]
    ]


def test_a_provenance_per_decision_with_who_when_and_why(bundle):
    assert len(resources(bundle, "Provenance")) == Decision.objects.count() == 6
    (declined,) = provenances_of(bundle, "IRON-SUPPLEMENT")
    decision = Decision.objects.get(status="declined")
    assert declined["recorded"] == decision.at.isoformat(timespec="seconds")
    assert declined["activity"]["coding"][0]["code"] == "declined"
    assert declined["reason"] == [
        {
            "coding": [
                {
                    "system": codes.DECLINE_REASON_SYSTEM,
                    "code": "other",
                    "display": "Other (say why)",
                }
            ],
            "text": "Iron infusion booked elsewhere",
        }
    ]
    (agent,) = declined["agent"]
    assert agent["who"]["display"] == "clinician"
    assert resolve(bundle, agent["who"])["resourceType"] == "Practitioner"
    (deferred,) = provenances_of(bundle, "LIFE-SLEEP")
    assert deferred["activity"]["coding"][0]["code"] == "deferred"
    assert "reason" not in deferred


def test_a_caution_acknowledged_with_its_option_says_so(bundle):
    (acknowledged,) = provenances_of(bundle, "SAFE-GABA-RESPIRATORY")
    assert acknowledged["activity"]["coding"][0]["code"] == "acknowledged"
    (entity,) = acknowledged["entity"]
    assert resolve(bundle, entity["what"])["code"]["coding"][0]["code"] == "MED-GABAPENTINOID"


# The command


def test_the_command_prints_the_bundle(patient):
    out = StringIO()
    call_command("export_fhir", "--mrn", "fhir-0001", stdout=out)  # MRNs match as normalised
    bundle = json.loads(out.getvalue())
    validate(bundle)
    assert bundle["entry"][0]["resource"]["identifier"][0]["value"] == "FHIR-0001"


def test_the_command_writes_the_bundle_to_a_file(patient, tmp_path):
    target = tmp_path / "export.json"
    out, err = StringIO(), StringIO()
    call_command("export_fhir", "--mrn", "FHIR-0001", "--out", str(target), stdout=out, stderr=err)
    validate(json.loads(target.read_text(encoding="utf-8")))
    assert out.getvalue() == ""
    assert str(patient.uuid) in err.getvalue()
    assert "FHIR-0001" not in err.getvalue()


def test_the_command_refuses_an_unknown_mrn_and_an_unwritable_file(patient, tmp_path):
    with pytest.raises(CommandError, match="No patient has that MRN"):
        call_command("export_fhir", "--mrn", "NOBODY", stdout=StringIO())
    with pytest.raises(CommandError, match="Cannot write"):
        call_command(
            "export_fhir", "--mrn", "FHIR-0001", "--out", str(tmp_path / "no" / "such.json")
        )


# The download


def test_clinicians_download_the_bundle_named_by_the_patient_uuid_only(as_user, clinician, patient):
    response = as_user(clinician).get(reverse("patients:fhir_export", args=[patient.uuid]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json; charset=utf-8"
    disposition = response["Content-Disposition"]
    assert disposition == f'attachment; filename="patient-{patient.uuid}.fhir.json"'
    assert "no-store" in response["Cache-Control"]
    validate(json.loads(response.content))


def test_each_download_is_written_to_the_access_log(as_user, clinician, patient):
    as_user(clinician).get(reverse("patients:fhir_export", args=[patient.uuid]))
    (entry,) = PatientAccess.objects.filter(patient=patient)
    assert (entry.user, entry.view) == (clinician, "patients:fhir_export")


@pytest.mark.parametrize("role", ["staff", "guidance_admin", "outsider"])
def test_other_roles_cannot_download_it(as_user, request, role, patient):
    response = as_user(request.getfixturevalue(role)).get(
        reverse("patients:fhir_export", args=[patient.uuid])
    )
    assert response.status_code == 403
    assert not PatientAccess.objects.exists()


def test_signed_out_visitors_are_sent_to_sign_in(client, patient):
    response = client.get(reverse("patients:fhir_export", args=[patient.uuid]))
    assert response.status_code == 302
    assert "/sign-in/" in response["Location"]


def test_an_archived_record_can_still_be_exported(as_user, clinician, patient):
    patient.archive(by=clinician, reason="Moved away")
    response = as_user(clinician).get(reverse("patients:fhir_export", args=[patient.uuid]))
    assert response.status_code == 200
    assert resources(json.loads(response.content), "Patient")[0]["active"] is False


def test_the_patient_page_offers_the_export_to_clinicians_only(as_user, clinician, staff, patient):
    link = reverse("patients:fhir_export", args=[patient.uuid])
    assert link in as_user(clinician).get(patient.get_absolute_url()).content.decode()
    assert link not in as_user(staff).get(patient.get_absolute_url()).content.decode()


# Queries

# Every page (7, see tests/patients/test_query_counts.py) + the patient, the access-log
# insert, and the export's five: assessments, follow-ups, cards, decisions, and the
# questionnaires the patient sent.
EXPORT_QUERIES = 7 + 2 + 5


def test_the_export_query_count_does_not_grow_with_assessments_cards_or_decisions(
    as_user, clinician, patient, django_assert_num_queries
):
    from guidance.services import evaluate_assessment

    for day in range(2, 12):
        assessment = make_assessment(
            patient,
            clinician,
            assessed_at=timezone.now().replace(day=day),
            **CRITERIA_MET,
            **COMPLETE_IRLS,
            ferritin_ng_ml=30.0 + day,
        )
        evaluate_assessment(assessment=assessment)
        for card in Recommendation.objects.filter(assessment=assessment):
            status = "acknowledged" if card.rule.kind == "caution" else "deferred"
            card.decide(status=status, by=clinician, expected_version=card.version)
    assert Assessment.objects.count() == 12
    assert Decision.objects.count() > 100
    client = as_user(clinician)
    with django_assert_num_queries(EXPORT_QUERIES):
        response = client.get(reverse("patients:fhir_export", args=[patient.uuid]))
    bundle = json.loads(response.content)
    assert len(resources(bundle, "Provenance")) == Decision.objects.count()
    validate(bundle)


def test_a_questionnaire_the_patient_sent_is_a_response_whose_source_is_the_patient(
    clinician, patient, staff
):
    from patients.invitations import Invitation

    invitation, _ = Invitation.make(patient=patient, questionnaires=["gad7"], by=staff)
    answers = {f"gad7_{n}": 1 for n in range(1, 8)} | {"sleep_hours_per_night": 6.0}
    invitation.keep_answers(answers)
    invitation.submit()
    unsent, _ = Invitation.make(patient=patient, questionnaires=["gad7"], by=staff)
    unsent.keep_answers({f"gad7_{n}": 3 for n in range(1, 8)})  # not sent: not exported
    bundle = as_received(patient_bundle(patient, now=timezone.now()))
    validate(bundle)
    [reported] = [
        response for response in resources(bundle, "QuestionnaireResponse") if "source" in response
    ]
    assert reported["source"] == reported["subject"]
    assert resolve(bundle, reported["source"])["resourceType"] == "Patient"
    assert reported["questionnaire"] == codes.questionnaire_url("gad7")
    assert "author" not in reported
    assert [item["answer"][0]["valueCoding"]["code"] for item in reported["item"]] == ["1"] * 7
