"""patient-view: the EHR's patient is ours by the client's MRN system and an agreeing birth
date, and gets the undecided cards of their
latest assessment, in the assessment page's order, as CDS Hooks cards; nothing is decided
by the call, and its query count does not grow with the cards."""

from datetime import UTC, date, datetime

import pytest

from guidance.cards import because_words, in_page_order
from guidance.models import CardStatus, Decision, Kind, Recommendation
from guidance.services import evaluate_assessment
from interop import cards
from interop.models import CdsClient, HookCall, HookCard, SmartEhr
from patients.models import PatientAccess
from tests.base import COMPLETE_COWS, COMPLETE_IRLS, CRITERIA_MET, make_assessment, make_patient
from tests.interop.ehr import (
    ISS,
    MRN_SYSTEM,
    V2_0203,
    Ehr,
    chart_of,
    hook_body,
    key_set,
    patient_resource,
)

PATIENT_VIEW = "/cds-services/rls-patient-view"
MR = {"system": V2_0203, "code": "MR"}


def view(client, ehr, patient):
    response = ehr.post(client, PATIENT_VIEW, hook_body(patient=patient))
    assert response.status_code == 200, response.content
    return response.json()["cards"]


def test_the_undecided_cards_of_the_latest_assessment_come_in_the_pages_order(
    client, ehr, seeded, clinician
):
    pending = Recommendation.objects.filter(assessment=seeded, status=CardStatus.PENDING)
    decided = pending.select_related("rule").filter(rule__kind=Kind.OPTION).last()
    decided.decide(status="deferred", by=clinician, expected_version=1)
    every_card = Recommendation.objects.filter(assessment=seeded).select_related("rule")
    expected = [card for card in in_page_order(every_card) if card.status == CardStatus.PENDING]

    sent = view(client, ehr, patient_resource(seeded.patient.mrn))

    assert [card["summary"] for card in sent] == [cards.summary(c.rule.title) for c in expected]
    assert decided.rule.title not in [card["summary"] for card in sent]
    hook_cards = {str(h.uuid): h for h in HookCard.objects.select_related("recommendation")}
    assert [hook_cards[card["uuid"]].recommendation for card in sent] == expected
    assert all(hook_cards[c["uuid"]].card_version == 1 for c in sent)


def test_a_card_says_its_rule_why_it_fired_and_where_to_decide(client, ehr, seeded):
    sent = {card["summary"]: card for card in view(client, ehr, patient_resource("RLS-0042"))}
    iron = Recommendation.objects.select_related("rule").get(
        assessment=seeded, rule_code="IRON-SUPPLEMENT"
    )
    card = sent[cards.summary(iron.rule.title)]
    assert card["indicator"] == iron.rule.indicator == "warning"
    assert card["source"] == {
        "label": f"Kratom RLS guidance · IRON-SUPPLEMENT v{iron.rule.version}",
        "url": "http://testserver",
    }
    assert card["links"] == [
        {
            "label": "Open the assessment",
            "url": f"http://testserver/patients/assessments/{seeded.uuid}/",
            "type": "absolute",
        }
    ]
    assert "**Because:** " + " · ".join(because_words(iron)) in card["detail"]
    assert "ferritin: 42 ng/mL" in card["detail"]
    assert card["detail"].startswith(iron.rule.detail[:60])


def test_only_options_carry_a_suggestion_with_no_actions(client, ehr, seeded):
    sent = view(client, ehr, patient_resource("RLS-0042"))
    kinds = {
        str(h.uuid): (h.rule.kind, h.suggestion_uuid)
        for h in HookCard.objects.select_related("rule")
    }
    assert {kind for kind, _ in kinds.values()} == {"option", "caution"}
    for card in sent:
        kind, suggestion = kinds[card["uuid"]]
        assert "systemActions" not in card
        if kind == Kind.OPTION:
            (only,) = card["suggestions"]
            assert only == {
                "uuid": str(suggestion),
                "label": f"Accept: {card['summary']}",
                "isRecommended": False,
            }
            assert card["selectionBehavior"] == "at-most-one"
        else:
            assert "suggestions" not in card
            assert "selectionBehavior" not in card
            assert suggestion is None


def test_an_option_says_every_caution_accepting_it_records_as_weighed(client, ehr, seeded):
    sent = {card["summary"]: card for card in view(client, ehr, patient_resource("RLS-0042"))}
    gabapentinoid = next(s for s in sent if s.startswith("Consider an alpha-2-delta"))
    option = Recommendation.objects.get(assessment=seeded, rule_code="MED-GABAPENTINOID")
    titles = [caution.rule.title for caution in option.carried_cautions()]
    assert len(titles) >= 2  # the critical breathing caution and the misuse warning at least
    detail = sent[gabapentinoid]["detail"]
    weighed = detail[detail.index("**Accepting this also records as weighed:**") :]
    assert all(cards._text(title) in weighed for title in titles)


def test_override_reasons_are_coded_with_their_displays(client, ehr, seeded):
    sent = view(client, ehr, patient_resource("RLS-0042"))
    kinds = {str(h.uuid): h.rule.kind for h in HookCard.objects.select_related("rule")}
    system = "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"
    for card in sent:
        codes = [reason["code"] for reason in card["overrideReasons"]]
        if kinds[card["uuid"]] == Kind.OPTION:
            assert codes == [
                "patient-refuses",
                "patient-contraindication",
                "indication-order-exists",
                "risk-benefit-ratio",
            ]
        else:
            assert codes == [
                "mitigate-risk-negative-outcome",
                "risk-benefit-ratio",
                "action-not-priority",
            ]
        for reason in card["overrideReasons"]:
            assert reason["system"] == system
            assert reason["display"] == cards.override_displays()[reason["code"]]
    assert cards.override_displays()["patient-refuses"] == (
        "Patient refuses/declines (no context given)*"
    )


def test_the_hook_call_decides_nothing(client, ehr, seeded):
    before = list(Recommendation.objects.values_list("pk", "status", "version"))
    view(client, ehr, patient_resource("RLS-0042"))
    assert list(Recommendation.objects.values_list("pk", "status", "version")) == before
    assert not Decision.objects.exists()
    call = HookCall.objects.get()
    assert (call.patient, call.assessment, call.service) == (
        seeded.patient,
        seeded,
        "rls-patient-view",
    )


def test_only_the_latest_assessment_counts(client, ehr, seeded, clinician):
    later = make_assessment(
        seeded.patient, clinician, assessed_at=datetime(2026, 11, 25, 10, tzinfo=UTC)
    )  # criteria not met, no scales: nothing fires but its own cards
    evaluate_assessment(assessment=later)
    sent = view(client, ehr, patient_resource("RLS-0042"))
    latest = set(
        Recommendation.objects.filter(assessment=later).values_list("rule_code", flat=True)
    )
    hook_cards = HookCard.objects.select_related("recommendation")
    assert {h.recommendation.rule_code for h in hook_cards} == latest
    assert len(sent) == len(latest)


# Matching the EHR's patient to ours: the client's MRN system, and the same birth date


@pytest.mark.parametrize(
    ("identifier", "matches"),
    [
        ({"value": "RLS-0042", "system": MRN_SYSTEM}, True),  # the type is not needed
        ({"value": " rls-0042 ", "system": MRN_SYSTEM}, True),
        ({"value": "RLS-0042", "system": MRN_SYSTEM, "type": {"coding": [MR]}}, True),
        # Typed MR but under no system, or another organisation's: not our number.
        ({"value": "RLS-0042", "type": {"coding": [MR]}}, False),
        ({"value": "RLS-0042", "system": "urn:oid:9.9.9", "type": {"coding": [MR]}}, False),
        ({"value": "RLS-0043", "system": MRN_SYSTEM}, False),
        ({"value": 42, "system": MRN_SYSTEM}, False),
    ],
)
def test_the_patient_is_matched_by_the_clients_mrn_system_only(
    client, ehr, seeded, identifier, matches
):
    patient = {**patient_resource(None), "identifier": [identifier]}
    assert bool(view(client, ehr, patient)) is matches


def test_another_hospitals_patient_with_the_same_number_gets_no_cards(client, ehr, seeded):
    """The finding: a Patient from another hospital (another system, male, another name and
    birth date, value mrn-00001) received all the cards of our female patient MRN-00001."""
    elsewhere = {
        "resourceType": "Patient",
        "id": "p1",
        "identifier": [
            {"system": "urn:oid:1.2.840.99.1", "type": {"coding": [MR]}, "value": "rls-0042"}
        ],
        "gender": "male",
        "birthDate": "1961-09-30",
        "name": [{"family": "Other", "given": ["Someone"]}],
    }
    assert view(client, ehr, elsewhere) == []
    call = HookCall.objects.get()
    assert (call.patient, call.assessment, call.cards.count()) == (None, None, 0)
    assert not PatientAccess.objects.exists()


@pytest.mark.parametrize(
    ("birth_date", "gender", "matches"),
    [
        ("1988-04-12", "female", True),
        ("1988-04-12", "unknown", True),  # says nothing against ours
        ("1988-04-12", None, True),
        ("1988-04-13", "female", False),  # our number, someone else's birthday
        ("1988-04", "female", False),  # a month is not a date of birth to agree with
        (None, "female", False),
        ("1988-04-12", "male", False),
    ],
)
def test_our_number_matches_only_with_our_patients_birth_date_and_sex(
    client, ehr, seeded, birth_date, gender, matches
):
    patient = patient_resource("RLS-0042", birth_date=birth_date, gender=gender)
    assert bool(view(client, ehr, patient)) is matches


def test_a_patient_whose_sex_is_not_known_here_is_matched_on_the_birth_date(client, ehr, clinician):
    patient = make_patient(mrn="UNK-1", sex="unknown", date_of_birth=date(1970, 2, 3))
    evaluate_assessment(assessment=make_assessment(patient, clinician, sleep_hours_per_night=5))
    assert view(client, ehr, chart_of(patient, gender="male"))


def test_a_number_the_patient_no_longer_goes_by_does_not_match(client, ehr, seeded):
    patient = patient_resource(None)
    patient["identifier"] = [{"system": MRN_SYSTEM, "value": "RLS-0042", "use": "old"}]
    assert view(client, ehr, patient) == []


def test_two_different_patients_for_the_contexts_id_are_refused(client, ehr, seeded):
    """A review found the second ignored: the call answered with the first one's cards."""
    for prefetch in (
        {"patient": patient_resource("RLS-0042"), "patient2": patient_resource("OTHER-1")},
        {"a": patient_resource("RLS-0042"), "b": patient_resource("RLS-0042", gender="male")},
    ):
        body = hook_body()
        body["prefetch"] = prefetch
        response = ehr.post(client, PATIENT_VIEW, body)
        assert response.status_code == 400, response.content
        assert "two different Patients" in response.json()["issue"][0]["diagnostics"]
    assert not HookCall.objects.exists()
    same_twice = hook_body(patient=patient_resource("RLS-0042"))
    same_twice["prefetch"]["again"] = patient_resource("RLS-0042")
    assert ehr.post(client, PATIENT_VIEW, same_twice).json()["cards"]


def test_a_client_registered_without_an_mrn_system_gets_no_cards(client, seeded):
    ehr = Ehr(CdsClient.register(iss=ISS, name="Old", jwks=key_set()))
    assert view(client, ehr, patient_resource("RLS-0042")) == []
    assert view(client, ehr, patient_resource("RLS-0042", system=None)) == []


def test_trying_record_numbers_in_a_row_finds_nobody_without_their_birth_dates(
    client, ehr, clinician
):
    """The finding: a registered EHR fetched the cards of 6 of 6 patients by trying
    sequential MRNs. Without each patient's birth date, it gets none."""
    for n in range(1, 7):
        assessed_patient(clinician, f"MRN-{n:05d}", sleep_hours_per_night=5)
    for n in range(1, 7):
        assert view(client, ehr, patient_resource(f"MRN-{n:05d}", birth_date="1990-01-01")) == []
    assert not HookCall.objects.exclude(patient=None).exists()
    assert not PatientAccess.objects.exists()


def test_an_unknown_or_archived_patient_gets_no_cards(client, ehr, seeded, staff):
    assert view(client, ehr, patient_resource("NOBODY-1")) == []
    seeded.patient.archive(by=staff, reason="Moved away")
    assert view(client, ehr, patient_resource("RLS-0042")) == []
    assert HookCall.objects.filter(patient=None).count() == 2


def test_a_patient_without_an_assessment_gets_no_cards(client, ehr):
    patient = make_patient(mrn="NEW-1")
    assert view(client, ehr, chart_of(patient)) == []
    assert HookCall.objects.get().patient == patient
    assert not PatientAccess.objects.exists()  # nothing of the record was shown


def test_sending_a_patients_cards_is_written_to_the_access_log(client, ehr, seeded):
    body = hook_body(patient=patient_resource("RLS-0042"), userId="Practitioner/dr-jones")
    assert ehr.post(client, PATIENT_VIEW, body).json()["cards"]
    access = PatientAccess.objects.get()
    assert (access.patient, access.user, access.view, access.ehr_user) == (
        seeded.patient,
        ehr.client.user,
        "cds:rls-patient-view",
        "Practitioner/dr-jones",
    )


# Summaries


def test_a_long_title_is_cut_at_a_word_under_140_characters():
    title = "Word " * 40
    short = cards.summary(title)
    assert len(short) < 140
    assert short.endswith("Word…")
    assert cards.summary("Short title") == "Short title"
    assert len(cards.summary("x" * 300)) < 140


def test_markup_in_rule_text_is_shown_not_rendered():
    assert cards._text("<script>alert(1)</script> & co") == (
        "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"
    )


# The query count


def assessed_patient(clinician, mrn: str, **facts):
    patient = make_patient(mrn=mrn)
    assessment = make_assessment(patient, clinician, **facts)
    evaluate_assessment(assessment=assessment)
    return assessment


def test_the_query_count_does_not_grow_with_the_cards(
    client, ehr, clinician, django_assert_num_queries
):
    few = assessed_patient(clinician, "FEW-1", sleep_hours_per_night=5)
    many = assessed_patient(
        clinician,
        "MANY-1",
        **CRITERIA_MET,
        **COMPLETE_IRLS,
        **COMPLETE_COWS,
        ferritin_ng_ml=20,
        on_serotonergic_antidepressant=True,
        nicotine_use=True,
    )
    counts = [Recommendation.objects.filter(assessment=a).count() for a in (few, many)]
    assert counts[0] <= 2 < 15 <= counts[1]
    ehr.get(client, "/cds-services")  # the first call of a process loads the key set classes
    for mrn, expected in (("FEW-1", counts[0]), ("MANY-1", counts[1])):
        body = hook_body(patient=patient_resource(mrn, birth_date="1980-01-01"))
        headers = ehr.auth(PATIENT_VIEW)
        with django_assert_num_queries(QUERIES):
            response = client.post(PATIENT_VIEW, body, content_type="application/json", **headers)
        assert len(response.json()["cards"]) == expected


# The client (1), the purge of expired tokens (1), the token recorded (3: in a savepoint),
# the rate limits (3: calls this minute, this patient asked for already, the distinct
# patients of the hour), the patient (1), the latest assessment (1), whether the EHR may
# launch the app (1: its SMART registration), its cards (1), and
# the call, its cards and the access log recorded (5: in a savepoint). In a test the
# transaction is the test's: savepoints.
QUERIES = 17


def test_cards_carry_a_smart_launch_link_when_the_calling_ehr_is_registered_for_it(
    client, ehr, seeded
):
    """Issue 25: the EHR adds its iss and a launch for this patient and user when its
    user follows the link; only an EHR registered for launch (by its FHIR server) gets it."""
    assert not smart_links(view(client, ehr, patient_resource("RLS-0042")))
    smart = SmartEhr.objects.create(
        iss="http://127.0.0.1:8099/fhir", name="Sandbox", client_id="app", mrn_system=MRN_SYSTEM
    )
    sent = view(client, ehr, patient_resource("RLS-0042"))
    assert sent
    launch = {
        "label": "Open the patient in the RLS clinic",
        "url": "http://testserver/smart/launch/",
        "type": "smart",
    }
    assert smart_links(sent) == [launch] * len(sent)
    smart.active = False
    smart.save()
    assert not smart_links(view(client, ehr, patient_resource("RLS-0042")))


def smart_links(sent):
    return [link for card in sent for link in card["links"] if link["type"] == "smart"]
