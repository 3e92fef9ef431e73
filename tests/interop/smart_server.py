"""A test EHR for SMART App Launch, served over real HTTP on 127.0.0.1: its SMART
configuration, an authorization endpoint that approves at once (as an EHR whose user is
signed in does), a token endpoint that checks what a real one checks (the code once, its
PKCE verifier, the redirect address, the client), a key set, and a FHIR server with a
Patient and Observations that answer only a valid access token.

Tests change what it does through its attributes: the scopes it grants, the id_token's
claims, the key it signs with, the patient a launch is for."""

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from interop.models import SmartEhr, SmartUser
from tests.interop.ehr import BIRTH_DATE, MRN_SYSTEM, UCUM

CLIENT_ID = "rls-clinic-app"
PATIENT_ID = "ehr-pt-77"
FHIR_USER = "Practitioner/dr-adams"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
GRANTED = "launch openid fhirUser patient/Patient.rs patient/Observation.rs"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@cache
def ehr_key() -> rsa.RSAPrivateKey:
    """The EHR's own signing key, made once a run (a key pair takes a while)."""
    return new_key()


def patient_resource(mrn: str = "RLS-0042", birth_date: str = BIRTH_DATE) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": PATIENT_ID,
        "identifier": [{"system": MRN_SYSTEM, "value": mrn}],
        "birthDate": birth_date,
        "name": [{"family": "Example", "given": ["Pat"]}],
    }


def ferritin(value: float, *, subject: str = f"Patient/{PATIENT_ID}") -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"ferritin-{value}",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2276-4"}]},
        "subject": {"reference": subject},
        "effectiveDateTime": "2026-11-20T09:00:00Z",
        "valueQuantity": {"value": value, "unit": "ng/mL", "system": UCUM, "code": "ng/mL"},
    }


@dataclass
class SmartEhrServer:
    """The server's state, and what tests set."""

    base: str = ""
    key: Any = field(default_factory=ehr_key)
    signing_key: Any = None  # another key: a wrongly signed id_token
    granted: str = GRANTED
    fhir_user: str = FHIR_USER
    claims: dict[str, Any] = field(default_factory=dict)  # merged into the id_token's
    patient: dict[str, Any] = field(default_factory=patient_resource)
    observations: list[dict[str, Any]] = field(default_factory=list)
    secret: str = ""  # a confidential client's: the token endpoint then asks for it
    client_key: Any = None  # or its public key: then a signed client assertion is asked for
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    observation_reads: int = 0
    configuration_reads: int = 0
    token_redirect: str = ""  # the token endpoint answers 307 to this address
    raw_expires_in: str = ""  # expires_in written as this raw JSON (Infinity, a string...)
    algorithm: str = "RS256"  # the id_token's
    # Misbehaviours: merged into the SMART configuration and the token answer (None
    # removes a key); what the FHIR server answers for the Patient and the lab search.
    config_changes: dict[str, Any] = field(default_factory=dict)
    config_answer: Any = None  # (status, RawAnswer or JSON) instead of the configuration
    token_changes: dict[str, Any] = field(default_factory=dict)
    patient_answer: Any = None
    token_answer: Any = None  # a RawAnswer instead of the token answer
    other_keys: list[dict[str, Any]] = field(default_factory=list)  # listed before its own
    names_itself: bool = False  # RFC 9207: `iss` in the answer to an authorization request
    search_answer: Any = None
    key_alg: str | None = "RS256"  # what the key set says of its key (None: nothing)

    @property
    def iss(self) -> str:
        return f"{self.base}/fhir"

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        key = {**public, "kid": "ehr-key-1", "use": "sig"}
        if self.key_alg:
            key["alg"] = self.key_alg
        return {"keys": [*self.other_keys, key]}

    def configuration(self) -> dict[str, Any]:
        return changed(self._configuration(), self.config_changes)

    def _configuration(self) -> dict[str, Any]:
        return {
            "issuer": self.iss,
            "authorization_endpoint": f"{self.base}/auth/authorize",
            "token_endpoint": f"{self.base}/auth/token",
            "jwks_uri": f"{self.base}/auth/jwks",
            "code_challenge_methods_supported": ["S256"],
            "capabilities": ["launch-ehr", "launch-standalone", "sso-openid-connect"],
        }

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str]]:
        """Approve at once: a code bound to the challenge, the redirect and the client."""
        self.authorize_requests.append(query)
        if (
            query.get("client_id") != CLIENT_ID
            or query.get("aud") != self.iss
            or query.get("code_challenge_method") != "S256"
            or not query.get("code_challenge")
        ):
            return 400, {}
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "challenge": query["code_challenge"],
            "redirect_uri": query["redirect_uri"],
            "nonce": query.get("nonce"),
        }
        answer = {"code": code, "state": query.get("state", "")}
        if self.names_itself:
            answer["iss"] = self.iss
        back = urlencode(answer)
        return 302, {"Location": f"{query['redirect_uri']}?{back}"}

    def token(self, form: dict[str, str], authorization: str) -> tuple[int, Any]:
        self.token_requests.append(form)
        if self.token_redirect:
            return 307, RawAnswer(b"", {"Location": self.token_redirect})
        code = form.get("code", "")
        issued = self.codes.get(code)
        if issued is None or code in self.used:
            return 400, {"error": "invalid_grant"}
        self.used.add(code)  # once, even when refused below
        verifier = form.get("code_verifier", "")
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        if challenge != issued["challenge"] or form.get("redirect_uri") != issued["redirect_uri"]:
            return 400, {"error": "invalid_grant"}
        if self.client_key is not None:
            if not self.assertion_is_valid(form):
                return 401, {"error": "invalid_client"}
        elif self.secret:
            expected = base64.b64encode(f"{CLIENT_ID}:{self.secret}".encode()).decode()
            if authorization != f"Basic {expected}":
                return 401, {"error": "invalid_client"}
        elif form.get("client_id") != CLIENT_ID:
            return 401, {"error": "invalid_client"}
        access = secrets.token_urlsafe(24)
        self.tokens.add(access)
        now = int(time.time())
        claims = {
            "iss": self.iss,
            "sub": "dr-adams",
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": issued["nonce"],
            "fhirUser": self.fhir_user,
            **self.claims,
        }
        id_token = jwt.encode(
            claims,
            self.signing_key or self.key,
            algorithm=self.algorithm,
            headers={"kid": "ehr-key-1"},
        )
        answer = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": self.granted,
            "id_token": id_token,
            "patient": self.patient["id"],
        }
        answer = changed(answer, self.token_changes)
        if self.token_answer is not None:
            return 200, self.token_answer
        if self.raw_expires_in:
            raw = json.dumps(answer).replace(
                '"expires_in": 3600', f'"expires_in": {self.raw_expires_in}'
            )
            return 200, RawAnswer(raw.encode(), {})
        return 200, answer

    def assertion_is_valid(self, form: dict[str, str]) -> bool:
        """private_key_jwt (RFC 7523), as SMART's asymmetric client authentication: signed
        by the client's key, issued by and about the client, for this token endpoint."""
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            return False
        try:
            claims = jwt.decode(
                form.get("client_assertion", ""),
                self.client_key,
                algorithms=["RS384"],
                audience=f"{self.base}/auth/token",
                options={"require": ["iss", "sub", "aud", "exp", "jti"]},
            )
        except jwt.PyJWTError:
            return False
        return claims["iss"] == claims["sub"] == CLIENT_ID

    def fhir(self, path: str, query: dict[str, str], authorization: str) -> tuple[int, Any]:
        if authorization.removeprefix("Bearer ") not in self.tokens:
            return 401, {"resourceType": "OperationOutcome"}
        if path == f"/fhir/Patient/{self.patient['id']}":
            return 200, self.patient_answer or self.patient
        if path == "/fhir/Observation" and query.get("patient") == self.patient["id"]:
            self.observation_reads += 1
            if self.search_answer is not None:
                return 200, self.search_answer
            entries = [
                {"fullUrl": f"{self.iss}/Observation/{o['id']}", "resource": o}
                for o in self.observations
            ]
            return 200, {"resourceType": "Bundle", "type": "searchset", "entry": entries}
        return 404, {"resourceType": "OperationOutcome"}


def changed(answer: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = {**answer, **changes}
    return {key: value for key, value in merged.items() if value is not None}


@dataclass(frozen=True)
class RawAnswer:
    """A body sent as it is (JSON that json.dumps would not write), with headers."""

    body: bytes
    headers: dict[str, str]


@contextmanager
def running_ehr(*, name: str | None = "Test EHR", user: Any = None) -> Iterator[SmartEhrServer]:
    """A test EHR served for the block: registered for launch under `name` (None: not
    registered), its Practitioner (FHIR_USER) mapped to `user` if given."""
    state = SmartEhrServer()
    httpd = serve(state)
    try:
        if name is not None:
            ehr = SmartEhr.objects.create(
                iss=state.iss, name=name, client_id=CLIENT_ID, mrn_system=MRN_SYSTEM
            )
            if user is not None:
                SmartUser.objects.create(ehr=ehr, fhir_user=FHIR_USER, user=user)
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


def serve(state: SmartEhrServer) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def answer(self, status: int, body: Any = None, headers: dict[str, str] | None = None):
            self.send_response(status)
            if isinstance(body, RawAnswer):
                headers, payload = body.headers, body.body
            else:
                payload = json.dumps(body).encode() if body is not None else b""
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {key: values[0] for key, values in parse_qs(parts.query).items()}
            if parts.path == "/fhir/.well-known/smart-configuration":
                state.configuration_reads += 1
                self.answer(*(state.config_answer or (200, state.configuration())))
            elif parts.path == "/auth/jwks":
                self.answer(200, state.jwks())
            elif parts.path == "/auth/authorize":
                status, headers = state.authorize(query)
                self.answer(status, headers=headers)
            elif parts.path.startswith("/fhir/"):
                authorization = self.headers.get("Authorization", "")
                self.answer(*state.fhir(parts.path, query, authorization))
            else:
                self.answer(404)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if urlsplit(self.path).path == "/auth/token":
                authorization = self.headers.get("Authorization", "")
                self.answer(*state.token(form, authorization))
            else:
                self.answer(404)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    # A short poll: shutdown() waits for it, once per test.
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    return server
