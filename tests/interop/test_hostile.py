"""A hostile review of the EHR side: what a harmful or buggy EHR, an outsider without keys,
and a clinician with a crafted FHIR file can send, and what must come of it: a refusal
(4xx, an OperationOutcome on the CDS Hooks endpoints), never a server error, never a
decision the app did not get to weigh, never markup that an EHR would render."""

import base64
import json
import logging
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.test.utils import CaptureQueriesContext
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from markdown_it import MarkdownIt

from guidance.models import (
    CardStatus,
    Decision,
    DeclineReason,
    Recommendation,
    Rule,
    RuleStatus,
)
from interop import auth
from interop.fhir.bundle import FhirFileError
from interop.fhir.labs_import import read_labs
from interop.models import HookCall, HookCard, HookFeedback, SeenToken
from tests.base import make_patient
from tests.interop.ehr import (
    UCUM,
    Ehr,
    assert_outcome,
    hook_body,
    key_set,
    patient_resource,
    public_jwk,
    register,
    searchset,
)
from tests.interop.fhir import make_record

DISCOVERY = "/cds-services"
PATIENT_VIEW = "/cds-services/rls-patient-view"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict, claims: dict) -> str:
    """A token anyone can make: any header and claims, a signature of nothing."""
    return ".".join(
        [b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()), b64(b"x" * 96)]
    )


# The token (an EHR that means harm or is buggy, an outsider)


@pytest.mark.parametrize(
    "times",
    [
        {"iat": "NOW", "exp": "NOW+300"},  # numbers written as strings: PyJWT takes them
        {"iat": "NOW"},
        {"exp": "NOW+300"},
    ],
)
def test_exp_and_iat_written_as_strings_are_refused_not_a_server_error(client, ehr, times):
    now = int(time.time())
    values = {"NOW": str(now), "NOW+300": str(now + 300)}
    token = ehr.token(DISCOVERY, claims={name: values[v] for name, v in times.items()})
    assert_outcome(client.get(DISCOVERY, HTTP_AUTHORIZATION=f"Bearer {token}"), 401, "number")
    assert not SeenToken.objects.exists()


def test_an_issuer_with_a_nul_character_from_an_outsider_is_a_401(client, ehr):
    token = unsigned({"alg": "ES384", "kid": "ec-1"}, {"iss": "https://ehr\x00.example.org"})
    assert_outcome(client.get(DISCOVERY, HTTP_AUTHORIZATION=f"Bearer {token}"), 401, "issuer")


def test_a_token_id_with_a_nul_character_is_refused(client, ehr):
    token = ehr.token(DISCOVERY, claims={"jti": "a\x00b"})
    assert_outcome(client.get(DISCOVERY, HTTP_AUTHORIZATION=f"Bearer {token}"), 401, "jti")
    assert not SeenToken.objects.exists()


def test_an_audience_of_several_is_refused_even_when_it_names_the_address_called(client, ehr):
    """A token made out to several services could be replayed to us by any of them."""
    for audiences in (
        ["http://testserver" + DISCOVERY, "https://other-service.example.org"],
        ["http://testserver" + DISCOVERY, "http://testserver" + DISCOVERY],
        [],
        ["http://testserver/cds-services/other"],
    ):
        token = ehr.token(DISCOVERY, claims={"aud": audiences})
        response = client.get(DISCOVERY, HTTP_AUTHORIZATION=f"Bearer {token}")
        assert_outcome(response, 401, "audience")
    assert not SeenToken.objects.exists()


def test_an_audience_list_of_exactly_the_address_called_is_accepted(client, ehr):
    """RFC 7519 allows aud as a string or an array; the finding was a refusal of the array."""
    token = ehr.token(DISCOVERY, claims={"aud": ["http://testserver" + DISCOVERY]})
    assert client.get(DISCOVERY, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200


def test_a_token_naming_another_clients_key_id_is_checked_with_its_own_issuers_keys(client, db):
    """Client B's private key, B's kid, and A's issuer: A's keys are the only ones tried."""
    other = ec.generate_private_key(ec.SECP384R1())
    a = Ehr(register())
    register(
        iss="https://b.example.org", name="B", jwks={"keys": [public_jwk(other, "b-1", "ES384")]}
    )
    token = a.token(DISCOVERY, header={"kid": "b-1"}, key=other)
    assert_outcome(client.get(DISCOVERY, HTTP_AUTHORIZATION=f"Bearer {token}"), 401, "kid")
    token = a.token(DISCOVERY, key=other)  # A's kid, B's key
    assert_outcome(client.get(DISCOVERY, HTTP_AUTHORIZATION=f"Bearer {token}"), 401, "signature")


def test_a_not_before_in_the_future_is_refused(client, ehr):
    token = ehr.token(DISCOVERY, claims={"nbf": int(time.time()) + 600})
    assert_outcome(client.get(DISCOVERY, HTTP_AUTHORIZATION=f"Bearer {token}"), 401)


def test_the_same_jti_from_two_clients_is_one_use_each(client, ehr):
    other = Ehr(register(iss="https://b.example.org", name="B"), iss="https://b.example.org")
    for caller in (ehr, other):
        assert caller.get(client, DISCOVERY, claims={"jti": "shared"}).status_code == 200
    for caller in (ehr, other):
        assert_outcome(caller.get(client, DISCOVERY, claims={"jti": "shared"}), 401, "used")


@pytest.mark.parametrize(
    "header",
    [
        {"kid": "k" * 6000},
        {"kid": ["ec-1"]},
        {"kid": {"kid": "ec-1"}},
        {"alg": ["ES384"]},
        {"typ": {"x": 1}, "cty": "JWT"},
        {"jku": {"url": "https://evil.example"}},
        {"crit": ["exp"]},
        {"jwk": {"kty": "oct", "k": "c2VjcmV0"}},  # a key in the token itself: never used
    ],
)
def test_odd_token_headers_are_a_401(client, ehr, header):
    token = unsigned({"alg": "ES384", "kid": "ec-1", **header}, {"iss": ehr.iss})
    response = client.get(DISCOVERY, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert_outcome(response, 401)


def test_a_payload_that_is_not_an_object_is_a_401(client, ehr):
    token = ".".join([b64(b'{"alg":"ES384","kid":"ec-1"}'), b64(b"[1, 2]"), b64(b"x")])
    assert_outcome(client.get(DISCOVERY, HTTP_AUTHORIZATION=f"Bearer {token}"), 401)


KEYS_URL = "https://keys.example.org/jwks.json"


def test_a_key_removed_from_a_fetched_key_set_is_refused_once_the_cache_expires(
    client, db, settings, monkeypatch
):
    """An EHR that revokes a key (a leaked one) takes it out of its key set: once the key
    set's cache has expired, tokens signed with it must be refused in every process."""
    settings.CDS_JWKS_URL_ALLOWLIST = [KEYS_URL]
    published = key_set()
    monkeypatch.setattr(jwt.PyJWKClient, "fetch_data", lambda self: published)
    monkeypatch.setattr(auth, "_jwk_clients", {})
    ehr = Ehr(register(iss="https://fetched.example.org", jwks=None, jwks_url=KEYS_URL))
    ehr.iss = ehr.client.iss
    jku = {"jku": KEYS_URL}
    assert ehr.get(client, DISCOVERY, header=jku).status_code == 200
    published = {"keys": [key for key in published["keys"] if key["kid"] != "ec-1"]}
    (jwk_client,) = auth._jwk_clients.values()
    assert jwk_client.jwk_set_cache is not None
    monkeypatch.setattr(jwk_client.jwk_set_cache, "is_expired", lambda: True)
    assert_outcome(ehr.get(client, DISCOVERY, header=jku), 401, "kid")
    assert ehr.get(client, DISCOVERY, alg="RS384", header=jku).status_code == 200


def test_nothing_of_a_refused_token_is_recorded(client, ehr):
    body = hook_body(patient=None)
    response = ehr.post(client, PATIENT_VIEW, body, claims={"aud": "https://elsewhere"})
    assert_outcome(response, 401)
    assert not HookCall.objects.exists()


# Hook and feedback bodies: every value of a valid body replaced, in turn, by hostile ones

ORDER_SELECT = "/cds-services/rls-order-select"
FEEDBACK = PATIENT_VIEW + "/feedback"
LOINC = "http://loinc.org"
WHEN = "2026-11-29T00:10:19.620Z"
HOSTILE_VALUES = {
    "null": None,
    "true": True,
    "negative": -1,
    "huge float": 1e308,
    "huge integer": 10**40,
    "empty string": "",
    "NUL": "a\x00b",
    "long string": "x" * 5000,
    "list": [],
    "object": {},
    "nested": json.loads("[" * 60 + "]" * 60),
    "far dates": "9999-12-31T23:59:59-05:00",
    "early dates": "0001-01-01T00:00:00+05:00",
    "lone surrogate": "a\ud800b",  # valid JSON (an escape), not text: a 500 once
}


def paths(value, prefix=()):
    """Every path into a JSON value (keys and list positions), the value itself first."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


def replaced(body, path, value):
    body = json.loads(json.dumps(body))
    target = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return body


class Rollback(Exception):
    """Undoes a request's writes, so that every request meets the same records."""


def hostile_answers(client, ehr, path, body) -> list[str]:
    """Each value of `body` replaced by each hostile value: what answered 5xx or raised."""
    problems = []
    for where in list(paths(body))[1:]:
        for name, value in HOSTILE_VALUES.items():
            label = f"{'.'.join(map(str, where))} = {name}"
            try:
                with transaction.atomic():
                    response = ehr.post(client, path, replaced(body, where, value))
                    raise Rollback
            except Rollback:
                pass
            except Exception as error:  # the test client re-raises what a view lets out
                problems.append(f"{label}: {error!r}"[:300])
                continue
            if response.status_code >= 500:
                problems.append(f"{label}: {response.status_code}")
            elif response.status_code >= 400:
                assert response.json()["resourceType"] == "OperationOutcome", label
    return problems


def ferritin(value=30, unit="ng/mL"):
    return {
        "resourceType": "Observation",
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": LOINC, "code": "2276-4"}]},
        "effectivePeriod": {"start": "2026-11-01", "end": "2026-11-02T08:00:00Z"},
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
    }


def test_no_hostile_value_in_a_patient_view_request_is_a_server_error(client, ehr, seeded):
    body = hook_body(
        patient=patient_resource("RLS-0042"),
        prefetch={"ferritin": searchset(ferritin())},
        fhirAuthorization={"access_token": "t", "token_type": "Bearer"},
    )
    assert ehr.post(client, PATIENT_VIEW, body).status_code == 200
    problems = hostile_answers(client, ehr, PATIENT_VIEW, body)
    assert not problems, "\n".join(problems)


def test_no_hostile_value_in_an_order_select_request_is_a_server_error(client, ehr, seeded):
    request = {
        "resourceType": "MedicationRequest",
        "id": "draft-1",
        "status": "draft",
        "intent": "order",
        "contained": [
            {"resourceType": "Medication", "id": "med", "code": {"text": "gabapentin 300 mg"}}
        ],
        "medicationReference": {"reference": "#med"},
    }
    body = hook_body(
        "order-select",
        patient=patient_resource("RLS-0042"),
        prefetch={"ferritin": searchset(ferritin()), "tsat": None},
        draftOrders={
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": request}],
        },  # fmt: skip
        selections=["MedicationRequest/draft-1"],
    )
    response = ehr.post(client, ORDER_SELECT, body)
    assert response.status_code == 200
    assert response.json()["cards"]
    problems = hostile_answers(client, ehr, ORDER_SELECT, body)
    assert not problems, "\n".join(problems)


def test_no_hostile_value_in_feedback_is_a_server_error(client, ehr, seeded):
    sent = ehr.post(client, PATIENT_VIEW, hook_body(patient=patient_resource("RLS-0042")))
    option = next(card for card in sent.json()["cards"] if "suggestions" in card)
    caution = next(card for card in sent.json()["cards"] if "suggestions" not in card)
    body = {
        "feedback": [
            {
                "card": option["uuid"],
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": option["suggestions"][0]["uuid"]}],
                "outcomeTimestamp": "2026-11-29T00:10:19Z",
            },
            {
                "card": caution["uuid"],
                "outcome": "overridden",
                "overrideReason": {
                    "reason": {"code": "risk-benefit-ratio", "system": "urn:x", "display": "d"},
                    "userComment": "weighed",
                },
                "outcomeTimestamp": "2026-11-29T00:10:19.620+01:00",
            },
        ]
    }
    problems = hostile_answers(client, ehr, FEEDBACK, body)
    assert not problems, "\n".join(problems)


def test_a_nul_character_anywhere_in_a_body_is_a_400_and_records_nothing(client, ehr, seeded):
    """PostgreSQL cannot store or compare text holding NUL: it was a server error there."""
    bodies = [
        hook_body(patient=patient_resource("RLS-0042"), userId="Practitioner/a\x00b"),
        hook_body(patient=patient_resource("RLS\x00-0042")),
        hook_body(patient=patient_resource("RLS-0042"), prefetch={"a\x00b": None}),
    ]
    for body in bodies:
        assert_outcome(ehr.post(client, PATIENT_VIEW, body), 400, "NUL")
    assert not HookCall.objects.exists()


def test_an_override_code_longer_than_a_code_is_kept_cut_and_declines_as_other(client, ehr, seeded):
    sent = ehr.post(client, PATIENT_VIEW, hook_body(patient=patient_resource("RLS-0042")))
    option = next(card for card in sent.json()["cards"] if "suggestions" in card)
    item = {
        "card": option["uuid"],
        "outcome": "overridden",
        "overrideReason": {"reason": {"code": "c" * 250, "display": "d" * 400}},
        "outcomeTimestamp": "2026-11-29T00:10:19Z",
    }
    assert ehr.post(client, FEEDBACK, {"feedback": [item]}).status_code == 200
    (feedback,) = HookFeedback.objects.all()
    assert (len(feedback.override_code), len(feedback.override_display)) == (100, 300)
    assert feedback.decision is not None
    assert feedback.decision.status == CardStatus.DECLINED
    assert feedback.decision.decline_reason == DeclineReason.OTHER


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_an_outcome_time_with_no_utc_equivalent_is_a_400(client, ehr, seeded, when):
    sent = ehr.post(client, PATIENT_VIEW, hook_body(patient=patient_resource("RLS-0042")))
    caution = next(card for card in sent.json()["cards"] if "suggestions" not in card)
    item = {"card": caution["uuid"], "outcome": "overridden", "outcomeTimestamp": when}
    response = ehr.post(client, FEEDBACK, {"feedback": [item]})
    assert_outcome(response, 400, "outcomeTimestamp")
    assert not HookFeedback.objects.exists()


def gabapentin_order(prefetch: dict) -> dict:
    request = {
        "resourceType": "MedicationRequest",
        "id": "draft-1",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {"text": "gabapentin 300 mg capsule"},
    }
    return hook_body(
        "order-select",
        patient=patient_resource("RLS-0042"),
        prefetch=prefetch,
        draftOrders={"resourceType": "Bundle", "entry": [{"resource": request}]},
        selections=["MedicationRequest/draft-1"],
    )


@pytest.mark.parametrize(
    "change",
    [
        {"code": "2276-4"},
        {"code": {"coding": ["http://loinc.org|2276-4"]}},
        {"code": {"coding": [{"system": LOINC, "code": ["2276-4"]}]}},
        {"effectivePeriod": "2026-11-02"},
    ],
)
def test_prefetched_observations_of_the_wrong_shape_are_passed_over(client, ehr, seeded, change):
    """The prefetch is an EHR's JSON, unvalidated: an Observation that is not what FHIR
    says is not read (an AttributeError or TypeError before: a server error)."""
    with_labs = ehr.post(client, ORDER_SELECT, gabapentin_order({"ferritin": ferritin()}))
    response = ehr.post(client, ORDER_SELECT, gabapentin_order({"ferritin": ferritin() | change}))
    assert response.status_code == 200
    assert len(response.json()["cards"]) == len(with_labs.json()["cards"]) > 0


def test_a_patient_with_tens_of_thousands_of_identifiers_is_no_match_and_no_query_parameter(
    client, seeded
):
    """Each identifier was compared with every other (13 s for 32,000 on this machine) and
    every one would have been a parameter of the patient query."""
    ehr = Ehr(register(mrn_system="s"))
    patient = {
        "resourceType": "Patient",
        "id": "p1",
        "identifier": [{"system": "s", "value": "RLS-0042"}]
        + [{"system": "s", "value": str(n)} for n in range(30_000)],
    }
    body = json.dumps(hook_body(patient=patient), separators=(",", ":"))
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            PATIENT_VIEW, body, content_type="application/json", **ehr.auth(PATIENT_VIEW)
        )
    assert response.json() == {"cards": []}
    # No identifier became a query parameter: a Patient with two numbers matches nobody.
    assert max(len(query["sql"]) for query in queries.captured_queries) < 2000
    assert HookCall.objects.get().patient is None


# The findings of the EHR review, each sent with a registered client's valid token


def test_finding_a_foreign_hospitals_patient_with_our_number_gets_nothing(client, ehr, seeded):
    foreign = patient_resource("rls-0042", system="urn:oid:1.2.840.99.1", birth_date="1961-09-30")
    response = ehr.post(client, PATIENT_VIEW, hook_body(patient={**foreign, "gender": "male"}))
    assert response.json() == {"cards": []}
    assert not HookCard.objects.exists()


def test_finding_a_prefetch_of_another_patient_than_the_context_is_a_400(client, ehr, seeded):
    body = hook_body(patient=patient_resource("RLS-0042", id="p1"), patientId="p2")
    assert_outcome(ehr.post(client, PATIENT_VIEW, body), 400, "context.patientId")
    assert not HookCall.objects.exists()


@pytest.mark.parametrize(
    "change",
    [
        {"subject": {"reference": "Patient/p2"}},  # another patient's
        {"subject": {"display": "Jane Doe"}},  # nobody we can check
        {"effectiveDateTime": "9999-12-31"},  # always the newest, once
        {"valueQuantity": {"value": "0.6", "unit": "mg/dL", "system": UCUM, "code": "mg/dL"}},
    ],
)
def test_finding_another_patients_or_a_future_creatinine_changes_no_caution(
    client, ehr, seeded, change
):
    """The seeded patient has no creatinine: the unknown-clearance caution must stay. A
    usable creatinine and weight of the patient's own would replace it."""

    def creatinine(**extra):
        return {
            "resourceType": "Observation",
            "id": "crea-1",
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "2160-0"}]},
            "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": "2026-11-28",
            "valueQuantity": {"value": 0.6, "unit": "mg/dL", "system": UCUM, "code": "mg/dL"},
            **extra,
        }

    weight = {
        **creatinine(),
        "id": "w-1",
        "code": {"coding": [{"system": LOINC, "code": "29463-7"}]},
    }
    weight["valueQuantity"] = {"value": 70, "unit": "kg", "system": UCUM, "code": "kg"}

    def rules(prefetch):
        response = ehr.post(client, ORDER_SELECT, gabapentin_order(prefetch))
        return {
            card["source"]["label"].split(" · ")[1].split(" v")[0]
            for card in response.json()["cards"]
        }

    assert "SAFE-GABA-RENAL-UNKNOWN" not in rules({"creatinine": creatinine(), "weight": weight})
    assert "SAFE-GABA-RENAL-UNKNOWN" in rules(
        {"creatinine": creatinine(**change), "weight": weight}
    )
    refused = HookCall.objects.order_by("at", "pk").last()
    assert refused is not None
    assert refused.refusals[0].startswith("Observation/crea-1")


def test_finding_a_lone_surrogate_in_a_feedback_batch_writes_nothing(client, ehr, seeded):
    sent = cards_sent(client, ehr)
    items = [accepting(sent["option"], WHEN), overriding(sent["caution"], WHEN, "x\ud800")]
    assert_outcome(ehr.post(client, FEEDBACK, {"feedback": items}), 400, "surrogate")
    assert not HookFeedback.objects.exists()
    assert not Decision.objects.exists()


def test_finding_a_plain_dismiss_is_not_a_decline(client, ehr, seeded):
    option = cards_sent(client, ehr)["option"]
    item = {"card": option["uuid"], "outcome": "overridden", "outcomeTimestamp": WHEN}
    assert ehr.post(client, FEEDBACK, {"feedback": [item]}).status_code == 200
    assert not Decision.objects.exists()
    card = card_record(option)
    assert card.status == CardStatus.PENDING
    assert card.dismissals.count() == 1


# Feedback (an EHR that means harm or is buggy)


def cards_sent(client, ehr) -> dict[str, dict]:
    """The seeded patient's cards as one patient-view call sent them: option and caution."""
    sent = ehr.post(client, PATIENT_VIEW, hook_body(patient=patient_resource("RLS-0042")))
    cards = sent.json()["cards"]
    return {
        "option": next(card for card in cards if "suggestions" in card),
        "caution": next(card for card in cards if "suggestions" not in card),
    }


def accepting(card: dict, when: str) -> dict:
    suggestion = {"id": card["suggestions"][0]["uuid"]}
    return {
        "card": card["uuid"],
        "outcome": "accepted",
        "acceptedSuggestions": [suggestion],
        "outcomeTimestamp": when,
    }


def overriding(card: dict, when: str, code: str = "patient-refuses") -> dict:
    return {
        "card": card["uuid"],
        "outcome": "overridden",
        "overrideReason": {"reason": {"code": code, "system": "urn:x"}},
        "outcomeTimestamp": when,
    }


def card_record(card: dict) -> Recommendation:
    hook_card = HookCard.objects.select_related("recommendation").get(uuid=card["uuid"])
    assert hook_card.recommendation is not None
    hook_card.recommendation.refresh_from_db()
    return hook_card.recommendation


def test_later_feedback_cannot_flip_a_card_that_earlier_feedback_decided(client, ehr, seeded):
    """Design: the first decision stands, whoever made it; the EHR's later words on the
    card (another outcome, another time, from a second call) are kept as stale, for the
    record, and change nothing: a clinician changes a decision in the app."""
    first = cards_sent(client, ehr)["option"]
    second = cards_sent(client, ehr)["option"]  # the same card, sent again by another call
    assert ehr.post(client, FEEDBACK, {"feedback": [accepting(first, WHEN)]}).status_code == 200
    card = card_record(first)
    decided = (card.status, card.version, card.decisions.count())
    assert card.status == CardStatus.ACCEPTED
    flips = [
        overriding(first, "2026-11-29T00:11:00Z"),
        overriding(first, "2026-11-29T00:12:00Z", "patient-contraindication"),
        accepting(first, "2026-11-29T00:13:00Z"),
        overriding(second, "2026-11-29T00:14:00Z"),
        accepting(second, "2026-11-29T00:15:00Z"),
    ]
    assert ehr.post(client, FEEDBACK, {"feedback": flips}).status_code == 200
    card = card_record(first)
    assert (card.status, card.version, card.decisions.count()) == decided
    later = HookFeedback.objects.exclude(outcome_timestamp=WHEN)
    assert [(f.stale, f.decision) for f in later] == [(True, None)] * len(flips)


def test_feedback_on_an_archived_patients_card_decides_nothing(client, ehr, seeded, clinician):
    sent = cards_sent(client, ehr)
    seeded.patient.archive(by=clinician, reason="Moved away")
    items = [accepting(sent["option"], WHEN), overriding(sent["caution"], WHEN)]
    assert ehr.post(client, FEEDBACK, {"feedback": items}).status_code == 200
    assert not Decision.objects.exists()
    assert [card_record(card).status for card in sent.values()] == [CardStatus.PENDING] * 2
    assert [(f.stale, f.decision) for f in HookFeedback.objects.all()] == [(True, None)] * 2


def test_more_feedback_items_than_allowed_are_refused_whole(client, ehr, seeded):
    caution = cards_sent(client, ehr)["caution"]
    items = [overriding(caution, f"2026-11-29T00:{n // 60:02d}:{n % 60:02d}Z") for n in range(101)]
    assert_outcome(ehr.post(client, FEEDBACK, {"feedback": items}), 400, "At most 100")
    assert not HookFeedback.objects.exists()


# What the cards say (a guidance admin's rule text, rendered by the EHR as Markdown)

PHISHING = " [Sign in again](https://evil.example/login) ![x](https://evil.example/p.png)"


def test_rule_text_cannot_put_a_link_or_an_image_into_the_ehr(client, ehr, seeded):
    """CDS Hooks clients render a card's detail as (GitHub-flavoured) Markdown. A guidance
    admin writes rule text and never sees patients: their words must reach the EHR as
    words, not as a link to follow or an image fetched each time a chart opens."""
    Rule.objects.filter(status=RuleStatus.ACTIVE).update(
        title=Concat(Value("[Urgent](https://evil.example) "), F("title")),
        detail=Concat(F("detail"), Value(PHISHING + " <https://evil.example> **bold**")),
        source=Concat(F("source"), Value(PHISHING)),
    )
    sent = ehr.post(client, PATIENT_VIEW, hook_body(patient=patient_resource("RLS-0042")))
    cards = sent.json()["cards"]
    assert any("Accepting this also records as weighed" in card["detail"] for card in cards)
    for card in cards:
        html = MarkdownIt("commonmark").render(card["detail"])
        assert "evil.example" in html
        assert "<a " not in html, html
        assert "<img" not in html, html
        assert "[Sign in again](https://evil.example/login)" in html  # shown as written
        assert "**bold**" in html


# A crafted FHIR file (a clinician's upload)

MR = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}


def fhir_file(*resources: dict) -> bytes:
    entries = [{"resource": resource} for resource in resources]
    return json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}).encode()


def mr_patient(mrn: str, id: str = "p1") -> dict:
    """Born on make_patient's default date, so that with our MRN it is our patient."""
    return {
        "resourceType": "Patient",
        "id": id,
        "identifier": [{"type": MR, "value": mrn}],
        "birthDate": "1980-01-01",
    }


def about_p1(resource: dict) -> dict:
    return resource | {"subject": {"reference": "Patient/p1"}}


def uploaded(as_user, clinician, patient, content: bytes):
    return as_user(clinician).post(
        reverse("patients:fhir_labs_upload", args=[patient.uuid]),
        {"file": SimpleUploadedFile("labs.json", content, content_type="application/json")},
    )


@pytest.fixture
def patient(db):
    return make_patient(mrn="MRN-77")


def test_a_lab_value_too_large_for_a_decimal_is_refused_not_a_server_error(
    as_user, clinician, patient
):
    content = fhir_file(mr_patient("MRN-77"), about_p1(ferritin(0)))
    content = content.replace(b'"value": 0', b'"value": 1e999999999')
    response = uploaded(as_user, clinician, patient, content)
    assert response.status_code == 200
    assert "not a number we can use" in response.content.decode()
    assert response.context["found"].labs == {}


def test_a_file_with_another_patient_besides_ours_is_refused_whole(as_user, clinician, patient):
    """The labs of a file holding two patients may be either's: none is read."""
    content = fhir_file(mr_patient("MRN-77"), mr_patient("OTHER-1", "p2"), about_p1(ferritin()))
    response = uploaded(as_user, clinician, patient, content)
    assert "The file is another patient&#x27;s" in response.content.decode()
    assert response.context["form"].errors["file"]
    # A Patient carrying another organisation's number as well as ours is still ours.
    ours = mr_patient("MRN-77")
    ours["identifier"].append({"type": MR, "system": "urn:oid:9.9", "value": "H-123"})
    found = uploaded(as_user, clinician, patient, fhir_file(ours, about_p1(ferritin())))
    assert found.context["found"].labs


@pytest.mark.parametrize(
    "content",
    [
        # 100,000 entries (300 kB): 5 s to validate, and 20 s for 600,000
        b'{"resourceType":"Bundle","type":"collection","entry":['
        + b",".join([b"{}"] * 100_000)
        + b"]}",
        # 600,000 links, each refused by the models: 43 s to say so
        b'{"resourceType":"Bundle","type":"collection","link":['
        + b",".join([b"{}"] * 600_000)
        + b"]}",
    ],
    ids=["100,000 entries", "600,000 values"],
)
def test_a_file_far_larger_in_items_than_a_lab_file_is_refused_at_once(
    patient, content, monkeypatch
):
    """Refused by counting, before the FHIR models see any of it (they took 20 to 43 s)."""

    def validate(*args, **kwargs):
        raise AssertionError("the models were asked to validate the file")

    monkeypatch.setattr(Bundle, "model_validate", validate)
    with pytest.raises(FhirFileError, match="more than"):
        read_labs(content, patient=patient, now=timezone.now())


def test_markup_in_a_file_is_shown_as_text(as_user, clinician, patient):
    named = about_p1(ferritin(42, "<img src=x onerror=alert(1)>"))
    content = json.dumps(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [
                {"resource": mr_patient("MRN-77")},
                {"fullUrl": "urn:<script>alert(1)</script>", "resource": named},
            ],
        }
    ).encode()
    page = uploaded(as_user, clinician, patient, content).content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page
    assert "<script>alert" not in page


# What held, pinned: the export, CSRF, CORS, logs


def test_a_download_holds_nothing_of_another_patient(as_user, clinician):
    """Two records side by side, both with assessments, cards and decisions."""
    exported = make_record(clinician, mrn="ONE-1", given_name="Ada", family_name="Quill")
    other = make_record(clinician, mrn="TWO-2", given_name="Bert", family_name="Zephyr")
    Decision.objects.filter(recommendation__assessment__patient=other).update(
        comment="Zephyr-only remark"
    )
    response = as_user(clinician).get(reverse("patients:fhir_export", args=[exported.uuid]))
    text = response.content.decode()
    assert "ONE-1" in text
    assert "Quill" in text
    secrets = [other.mrn, other.family_name, other.given_name, "Zephyr-only remark"]
    secrets += [str(a.uuid) for a in other.assessments.all()]
    secrets += [str(c.uuid) for c in Recommendation.objects.filter(assessment__patient=other)]
    assert [secret for secret in secrets if secret in text] == []


def test_only_the_three_cds_hooks_endpoints_are_exempt_from_csrf():
    exempt = set()

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif getattr(pattern.callback, "csrf_exempt", False):
                exempt.add(prefix + str(pattern.pattern))

    walk(get_resolver().url_patterns)
    assert exempt == {
        "cds-services",
        "cds-services/<str:service_id>",
        "cds-services/<str:service_id>/feedback",
    }


def test_cors_never_allows_credentials_or_every_origin(client, ehr, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://sandbox.cds-hooks.org"]
    for origin in ("https://sandbox.cds-hooks.org", "https://evil.example", "null"):
        response = client.get(DISCOVERY, HTTP_ORIGIN=origin, **ehr.auth(DISCOVERY))
        assert "Access-Control-Allow-Credentials" not in response
        assert response.get("Access-Control-Allow-Origin") in (None, origin)
        assert response.get("Access-Control-Allow-Origin") != "*"
        allowed = response.get("Access-Control-Allow-Origin") == origin
        assert allowed == (origin == "https://sandbox.cds-hooks.org")


def test_the_logs_hold_no_token_and_no_patient_data(client, ehr, seeded, caplog):
    caplog.set_level(logging.DEBUG)
    token = ehr.token(PATIENT_VIEW)
    body = hook_body(patient=patient_resource("RLS-0042"), userId="Practitioner/dr-who")
    for path, data in ((PATIENT_VIEW, body), (FEEDBACK, {"feedback": "x"})):
        for auth_header in (f"Bearer {token}", f"Bearer {token}"):  # the second a replay
            client.post(
                path, json.dumps(data), content_type="application/json",
                HTTP_AUTHORIZATION=auth_header,
            )  # fmt: skip
    bad = body | {"hook": "order-select"}
    ehr.post(client, PATIENT_VIEW, bad)
    assert caplog.records  # the refusals are logged...
    logged = caplog.text
    for secret in (token, token.split(".")[2], "RLS-0042", "dr-who", seeded.patient.family_name):
        assert secret not in logged  # ...without what they carried
