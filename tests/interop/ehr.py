"""A test EHR, as the CDS Hooks sandbox behaves: keys it generates itself (ES384 on P-384,
RS384 on RSA-2048), its key set, its registration, and JWTs signed as the sandbox signs
them (typ JWT, kid, jku; aud the exact URL called; exp = iat + 300; a fresh jti)."""

import json
import time
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings

from interop.models import CdsClient

DATA = Path(__file__).parent / "data"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
UCUM = "http://unitsofmeasure.org"
ISS = "https://ehr.example.org"
JKU = "https://ehr.example.org/.well-known/jwks.json"
# The identifier system under which the test EHR carries the clinic's MRN.
MRN_SYSTEM = "urn:oid:2.16.840.1.113883.3.7777.1"
# The seeded patient's (tests/interop/conftest.py) birth date and sex, as the EHR has them.
BIRTH_DATE = "1988-04-12"


@cache
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


@cache
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(private: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm = jwt.algorithms.ECAlgorithm if alg == "ES384" else jwt.algorithms.RSAAlgorithm
    return {
        **json.loads(algorithm.to_jwk(private.public_key())),
        "kid": kid,
        "alg": alg,
        "use": "sig",
    }


def key_set() -> dict[str, Any]:
    return {
        "keys": [public_jwk(ec_key(), "ec-1", "ES384"), public_jwk(rsa_key(), "rsa-1", "RS384")]
    }


def session(name: str) -> dict[str, Any]:
    """A recorded request of the sandbox session (tests/interop/data/sandbox-session)."""
    return json.loads((DATA / "sandbox-session" / f"{name}.json").read_text())


def spec_example(name: str) -> dict[str, Any]:
    return json.loads((DATA / "spec-examples" / f"{name}.json").read_text())


@dataclass
class Ehr:
    client: CdsClient
    iss: str = ISS

    def token(
        self,
        path: str,
        *,
        alg: str = "ES384",
        header: dict[str, Any] | None = None,
        claims: dict[str, Any] | None = None,
        key: Any = None,
        base: str | None = None,
    ) -> str:
        """A token for a call to `path` (aud: the public base URL and the path)."""
        now = int(time.time())
        kid = "ec-1" if alg == "ES384" else "rsa-1"
        body = {
            "iss": self.iss,
            "aud": (settings.PUBLIC_BASE_URL if base is None else base) + path,
            "exp": now + 300,
            "iat": now,
            "jti": str(uuid.uuid4()),
            **(claims or {}),
        }
        headers = {"typ": "JWT", "kid": kid, "jku": JKU, **(header or {})}
        signer = key if key is not None else (ec_key() if alg == "ES384" else rsa_key())
        return jwt.encode(
            {k: v for k, v in body.items() if v is not None},
            signer,
            algorithm=alg,
            headers={k: v for k, v in headers.items() if v is not None},
        )

    def auth(self, path: str, **options: Any) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.token(path, **options)}"}

    def get(self, http: Any, path: str, **options: Any) -> Any:
        return http.get(path, **self.auth(path, **options))

    def post(self, http: Any, path: str, body: Any, **options: Any) -> Any:
        data = body if isinstance(body, bytes | str) else json.dumps(body)
        return http.post(path, data, content_type="application/json", **self.auth(path, **options))


def register(iss: str = ISS, name: str = "Test EHR", **fields: Any) -> CdsClient:
    fields.setdefault("mrn_system", MRN_SYSTEM)
    return CdsClient.register(iss=iss, name=name, jwks=fields.pop("jwks", key_set()), **fields)


def patient_resource(
    mrn: str | None,
    *,
    system: str | None = MRN_SYSTEM,
    typed: bool = True,
    birth_date: str | None = BIRTH_DATE,
    gender: str | None = "female",
    id: str = "p1",
) -> dict:
    """A FHIR Patient as an EHR prefetches it: our MRN as an identifier under the EHR's
    MRN system (typed MR), and the seeded patient's birth date and gender."""
    resource: dict[str, Any] = {"resourceType": "Patient", "id": id}
    if gender is not None:
        resource["gender"] = gender
    if birth_date is not None:
        resource["birthDate"] = birth_date
    if mrn is not None:
        identifier: dict[str, Any] = {"value": mrn}
        if typed:
            identifier["type"] = {"coding": [{"system": V2_0203, "code": "MR"}]}
        if system:
            identifier["system"] = system
        resource["identifier"] = [identifier]
    return resource


def chart_of(patient: Any, **changes: Any) -> dict:
    """The FHIR Patient an EHR holds for one of our patients (tests.base.make_patient)."""
    return patient_resource(
        patient.mrn,
        **{
            "birth_date": patient.date_of_birth.isoformat(),
            "gender": patient.sex,
            **changes,
        },
    )


def hook_body(
    hook: str = "patient-view", *, patient: Any = None, prefetch: dict | None = None, **context: Any
) -> dict[str, Any]:
    """A hook request: the sandbox's shape, our patient's MRN on the prefetched Patient."""
    return {
        "hookInstance": str(uuid.uuid4()),
        "hook": hook,
        "fhirServer": "http://127.0.0.1:8099/fhir",
        "context": {"patientId": "p1", "userId": "Practitioner/COREPRACTITIONER1", **context},
        "prefetch": {"patient": patient, **(prefetch or {})},
    }


def observation(loinc: str, value: float, unit: str, when: str = "2026-11-02") -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": when,
        "valueQuantity": {
            "value": value,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        },
    }


def searchset(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": resource} for resource in resources],
    }


# FHIR's issue types (http://hl7.org/fhir/issue-type): the R4B model does not check the code.
ISSUE_TYPES = {
    "invalid", "structure", "required", "value", "invariant", "security", "login", "unknown",
    "expired", "forbidden", "suppressed", "processing", "not-supported", "duplicate",
    "multiple-matches", "not-found", "deleted", "too-long", "code-invalid", "extension",
    "too-costly", "business-rule", "conflict", "transient", "lock-error", "no-store",
    "exception", "timeout", "incomplete", "throttled", "informational",
}  # fmt: skip


def assert_outcome(response: Any, status: int, says: str = "") -> dict[str, Any]:
    """The response is `status` with a FHIR R4 OperationOutcome (validated by the R4B
    model) of one error whose diagnostics contain `says`."""
    from fhir.resources.R4B.operationoutcome import OperationOutcome

    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    OperationOutcome.model_validate(body)
    (issue,) = body["issue"]
    assert issue["severity"] == "error"
    assert issue["code"] in ISSUE_TYPES
    assert says in issue["diagnostics"], issue["diagnostics"]
    return body


def recorded_call(**fields: Any) -> Any:
    """A patient-view call as the service records it, from a client registered in the
    database only (no keys: for tests of what is done with the records, not of the call)."""
    from django.contrib.auth.models import User

    from interop.models import HookCall

    client = CdsClient.objects.create(
        iss="https://ehr.example.org",
        name="Test EHR",
        jwks={"keys": []},
        user=User.objects.create_user("ehr-client"),
    )
    return HookCall.objects.create(
        hook_instance=uuid.uuid4(),
        client=client,
        service="patient-view",
        ehr_user="Practitioner/1",
        ehr_patient="Patient/1",
        **fields,
    )
