"""The CDS Hooks benchmark: signed patient-view calls with a prefetch (the Patient with its
MRN, the latest ferritin), through Django's test client, for patients drawn from the
seeded set. Signing is the EHR's work and is not timed; verifying is ours and is."""

import json
import random
import statistics
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import connection
from django.test import Client
from django.test.utils import override_settings

from bench.measure import QueryCounter, percentile
from interop.models import CdsClient, HookCall, HookCard, SeenToken
from patients.models import Patient

BASE = "http://testserver"
PATH = "/cds-services/rls-patient-view"
ISS = "https://bench-ehr.example.org"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"


def hook_body(mrn: str) -> str:
    ferritin = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2276-4"}]},
        "effectiveDateTime": "2026-11-02",
        "valueQuantity": {"value": 42, "unit": "ng/mL", "code": "ng/mL"},
    }
    return json.dumps(
        {
            "hookInstance": str(uuid.uuid4()),
            "hook": "patient-view",
            "context": {"patientId": "p1", "userId": "Practitioner/bench"},
            "prefetch": {
                "patient": {
                    "resourceType": "Patient",
                    "id": "p1",
                    "identifier": [
                        {"type": {"coding": [{"system": V2_0203, "code": "MR"}]}, "value": mrn}
                    ],
                },
                "ferritin": {"resourceType": "Bundle", "entry": [{"resource": ferritin}]},
            },
        }
    )


def measure_patient_view(requests: int, rng: random.Random) -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP384R1())
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    client = CdsClient.register(
        iss=ISS, name="Benchmark EHR", jwks={"keys": [{**public, "kid": "bench", "alg": "ES384"}]}
    )
    mrns = list(Patient.objects.order_by("?").values_list("mrn", flat=True)[: min(requests, 1000)])
    http = Client()

    def call(mrn: str) -> tuple[float, Any]:
        now = int(time.time())
        claims = {"iss": ISS, "aud": BASE + PATH, "iat": now, "exp": now + 300}
        token = jwt.encode(
            {**claims, "jti": str(uuid.uuid4())}, key, algorithm="ES384", headers={"kid": "bench"}
        )
        body = hook_body(mrn)
        started = time.perf_counter()
        response = http.post(
            PATH, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
        )
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"cds_patient_view: status {response.status_code}")
        return elapsed, response

    with override_settings(PUBLIC_BASE_URL=BASE):
        for _ in range(min(10, requests)):  # warm up
            call(rng.choice(mrns))
        counter = QueryCounter()
        with connection.execute_wrapper(counter):
            call(rng.choice(mrns))
        timings, cards = [], []
        for n in range(requests):
            elapsed, response = call(mrns[n % len(mrns)])
            timings.append(elapsed)
            cards.append(len(response.json()["cards"]))
    # What the calls recorded is the benchmark's, not the database's: it goes.
    HookCard.objects.filter(call__client=client).delete()
    HookCall.objects.filter(client=client).delete()
    SeenToken.objects.filter(iss=ISS).delete()
    return {
        "p50_ms": round(statistics.median(timings), 1),
        "p95_ms": round(percentile(timings, 0.95), 1),
        "queries": counter.count,
        "cards_median": statistics.median(cards),
    }
