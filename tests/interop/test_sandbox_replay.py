# ruff: noqa: S310  (urllib opens the live server's http:// address, built here)
"""The recorded session of the public CDS Hooks sandbox, replayed request by request
against a live server over real HTTP: discovery, a patient-view call for a patient with a
ferritin of 42, feedback accepting the suggestion we returned; then again, ending with the
card overridden with reason patient-refuses. Each POST is preceded by the CORS preflight
the sandbox's browser sends.

Each request keeps its recorded JWT header and claims (issuer, key id, jku, jti) but is
signed with the test's own key registered under the recorded key id, with the audience
rewritten to the live server's address and the times moved to now (the recording's tokens
have long expired). The recorded card and suggestion uuids are the test service's: ours
are substituted, as a real sandbox would send back the ones it was given.
"""

import json
import time
import urllib.error
import urllib.request
from datetime import date
from typing import Any

import jwt
import pytest

from guidance.default_rules import load_default_rules
from guidance.models import CardStatus, DeclineReason, Recommendation, Rule
from guidance.services import evaluate_assessment
from interop.models import CdsClient, HookFeedback
from tests.base import COMPLETE_IRLS, CRITERIA_MET, make_assessment, make_patient, make_user
from tests.interop.ehr import MRN_SYSTEM, ec_key, public_jwk, session

SANDBOX = "https://sandbox.cds-hooks.org"
RECORDED_KID = "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"
MRN = "SBX-0042"


@pytest.fixture
def live(transactional_db, live_server, settings):
    """The live server as the sandbox's EHR knows it: its address is the public one, the
    sandbox's origin may call it, and the sandbox is a client with our test key."""
    settings.PUBLIC_BASE_URL = live_server.url
    settings.CORS_ALLOWED_ORIGINS = [SANDBOX]
    load_default_rules(Rule)  # transactional tests start from an emptied database
    CdsClient.register(
        iss=SANDBOX,
        name="CDS Hooks sandbox",
        jwks={"keys": [public_jwk(ec_key(), RECORDED_KID, "ES384")]},
        mrn_system=MRN_SYSTEM,
    )
    clinician = make_user("clinician", "Clinicians")
    patient = make_patient(
        mrn=MRN, given_name="Jane", family_name="Doe", date_of_birth=date(1988, 4, 12)
    )
    assessment = make_assessment(
        patient, clinician, **CRITERIA_MET, **COMPLETE_IRLS, ferritin_ng_ml=42
    )
    evaluate_assessment(assessment=assessment)
    return live_server.url, assessment


def signed(recording: dict[str, Any], base: str) -> str:
    header, claims = dict(recording["jwt_header"]), dict(recording["jwt_claims"])
    lifetime = claims["exp"] - claims["iat"]
    now = int(time.time())
    claims.update(aud=base + recording["path"], iat=now, exp=now + lifetime)
    return jwt.encode(claims, ec_key(), algorithm=header.pop("alg"), headers=header)


def send(base: str, recording: dict[str, Any], body: Any = None) -> tuple[int, dict]:
    """The recorded request over HTTP, with the sandbox's browser's preflight first."""
    url = base + recording["path"]
    if recording["method"] == "POST":
        preflight = urllib.request.Request(
            url,
            method="OPTIONS",
            headers={
                "Origin": SANDBOX,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        with urllib.request.urlopen(preflight, timeout=10) as response:
            assert response.status == 200
            assert response.headers["Access-Control-Allow-Origin"] == SANDBOX
    data = json.dumps(body if body is not None else recording["body"]).encode()
    request = urllib.request.Request(
        url,
        method=recording["method"],
        data=data if recording["method"] == "POST" else None,
        headers={
            "Authorization": f"Bearer {signed(recording, base)}",
            "Content-Type": "application/json",
            "Origin": SANDBOX,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.headers["Access-Control-Allow-Origin"] == SANDBOX
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def with_our_mrn(recording: dict[str, Any]) -> dict[str, Any]:
    """The recorded hook body, its Patient given our MRN under the client's MRN system: the
    sandbox's test patient has no identifier at all, and the MRN (with the birth date the
    recording has, 1988-04-12) is how this service matches patients (an EHR's real Patient
    resources carry one)."""
    body = json.loads(json.dumps(recording["body"]))
    body["prefetch"]["patient"]["identifier"] = [
        {
            "system": MRN_SYSTEM,
            "type": {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}
                ]
            },
            "value": MRN,
        }
    ]
    return body


def with_our_card(recording: dict[str, Any], card: dict[str, Any]) -> dict[str, Any]:
    body = json.loads(json.dumps(recording["body"]))
    (item,) = body["feedback"]
    item["card"] = card["uuid"]
    if "acceptedSuggestions" in item:
        item["acceptedSuggestions"] = [{"id": card["suggestions"][0]["uuid"]}]
    return body


def first_option(cards: list[dict]) -> dict:
    return next(card for card in cards if "suggestions" in card)


def test_the_recorded_sandbox_session_replays_into_recorded_decisions(live):
    base, assessment = live
    sandbox = CdsClient.objects.get(iss=SANDBOX)

    status, services = send(base, session("01-discovery"))
    assert status == 200
    assert "rls-patient-view" in [service["id"] for service in services["services"]]

    status, answer = send(base, session("02-hook"), with_our_mrn(session("02-hook")))
    assert status == 200
    option = first_option(answer["cards"])
    accepted_code = option["source"]["label"].split(" · ")[1].split(" v")[0]
    assert any("ferritin: 42 ng/mL" in card["detail"] for card in answer["cards"])

    status, _ = send(base, session("03-feedback"), with_our_card(session("03-feedback"), option))
    assert status == 200
    card = Recommendation.objects.get(assessment=assessment, rule_code=accepted_code)
    assert card.status == CardStatus.ACCEPTED
    decision = card.latest_decision
    assert decision.by == sandbox.user
    assert "CDS Hooks sandbox feedback, EHR user Practitioner/COREPRACTITIONER1" in decision.comment

    status, _ = send(base, session("04-discovery"))
    assert status == 200
    status, answer = send(base, session("05-hook"), with_our_mrn(session("05-hook")))
    assert status == 200
    assert option["summary"] not in [card["summary"] for card in answer["cards"]]  # decided
    option = first_option(answer["cards"])
    declined_code = option["source"]["label"].split(" · ")[1].split(" v")[0]

    recording = session("06-feedback")
    reason = recording["body"]["feedback"][0]["overrideReason"]["reason"]
    assert reason == {
        "code": "patient-refuses",
        "system": "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes",
    }  # as recorded: no display
    status, _ = send(base, recording, with_our_card(recording, option))
    assert status == 200
    card = Recommendation.objects.get(assessment=assessment, rule_code=declined_code)
    assert card.status == CardStatus.DECLINED
    decision = card.latest_decision
    assert (decision.decline_reason, decision.by) == (DeclineReason.PATIENT_DECLINED, sandbox.user)
    assert HookFeedback.objects.filter(stale=False, decision__isnull=False).count() == 2
