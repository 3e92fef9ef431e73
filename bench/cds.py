"""The CDS Hooks benchmark: signed patient-view calls with a prefetch (the Patient with its
MRN under the EHR's system and its birth date, the latest ferritin), through Django's test
client, for patients drawn from the seeded set. Signing is the EHR's work and is not timed;
verifying is ours and is."""

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
from patients.models import Patient, PatientAccess

BASE = "http://testserver"
PATH = "/cds-services/rls-patient-view"
ISS = "https://bench-ehr.example.org"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
MRN_SYSTEM = "urn:oid:2.16.840.1.113883.3.7777.99"


def hook_body(patient: Patient) -> str:
    ehr_id = f"p-{patient.pk}"
    ferritin = {
        "resourceType": "Observation",
        "status": "final",
        "subject": {"reference": f"Patient/{ehr_id}"},
        "code": {"coding": [{"system": "http://loinc.org", "code": "2276-4"}]},
        "effectiveDateTime": "2026-11-02",
        "valueQuantity": {"value": 42, "unit": "ng/mL", "code": "ng/mL"},
    }
    return json.dumps(
        {
            "hookInstance": str(uuid.uuid4()),
            "hook": "patient-view",
            "context": {"patientId": ehr_id, "userId": "Practitioner/bench"},
            "prefetch": {
                "patient": {
                    "resourceType": "Patient",
                    "id": ehr_id,
                    "identifier": [
                        {
                            "system": MRN_SYSTEM,
                            "type": {"coding": [{"system": V2_0203, "code": "MR"}]},
                            "value": patient.mrn,
                        }
                    ],
                    "birthDate": patient.date_of_birth.isoformat(),
                    "gender": patient.sex,
                },
                "ferritin": {"resourceType": "Bundle", "entry": [{"resource": ferritin}]},
            },
        }
    )


def measure_patient_view(requests: int, rng: random.Random) -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP384R1())
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    client = CdsClient.register(
        iss=ISS,
        name="Benchmark EHR",
        jwks={"keys": [{**public, "kid": "bench", "alg": "ES384"}]},
        mrn_system=MRN_SYSTEM,
    )
    patients = list(Patient.objects.order_by("?")[: min(requests, 1000)])
    http = Client()

    def call(patient: Patient) -> tuple[float, Any]:
        now = int(time.time())
        claims = {"iss": ISS, "aud": BASE + PATH, "iat": now, "exp": now + 300}
        token = jwt.encode(
            {**claims, "jti": str(uuid.uuid4())}, key, algorithm="ES384", headers={"kid": "bench"}
        )
        body = hook_body(patient)
        started = time.perf_counter()
        response = http.post(
            PATH, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
        )
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"cds_patient_view: status {response.status_code}")
        return elapsed, response

    # The rate limits stay in force (their queries are timed), set above what is sent.
    limits = {"CDS_MAX_CALLS_PER_MINUTE": 10**6, "CDS_MAX_PATIENTS_PER_HOUR": 10**6}
    with override_settings(PUBLIC_BASE_URL=BASE, **limits):
        for _ in range(min(10, requests)):  # warm up
            call(rng.choice(patients))
        counter = QueryCounter()
        with connection.execute_wrapper(counter):
            call(rng.choice(patients))
        timings, cards = [], []
        for n in range(requests):
            elapsed, response = call(patients[n % len(patients)])
            timings.append(elapsed)
            cards.append(len(response.json()["cards"]))
    # Every call must have matched its patient, or the figures measure "no cards".
    calls = HookCall.objects.filter(client=client)
    matched = calls.exclude(patient=None).count() / calls.count()
    # What the calls recorded is the benchmark's, not the database's: it goes.
    HookCard.objects.filter(call__client=client).delete()
    HookCall.objects.filter(client=client).delete()
    PatientAccess.objects.filter(user=client.user).delete()
    SeenToken.objects.filter(iss=ISS).delete()
    return {
        "p50_ms": round(statistics.median(timings), 1),
        "p95_ms": round(percentile(timings, 0.95), 1),
        "queries": counter.count,
        "cards_median": statistics.median(cards),
        "matched_share": matched,
    }
