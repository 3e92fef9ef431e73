"""SMART on FHIR App Launch 2 (issue 25): an EHR opens this application on its current
patient and user.

The protocol, on the EHR's side of the screens (the views, the sign-in and the pages are
clinic.views.smart):

1. `begin`: discovery from `{iss}/.well-known/smart-configuration` of a registered EHR
   (interop.models.SmartEhr; any other issuer is refused before anything is fetched), and
   the authorization request: code flow, PKCE S256, a fresh `state` and `nonce`.
2. `finish`: the token exchange (authlib's OAuth2Session, with the PKCE verifier and the
   client's own authentication), the scopes granted, the `id_token` verified (PyJWT: the
   signature by the EHR's key set, issuer, audience, expiry, nonce), and the launch's
   Patient read from the EHR's FHIR server with the access token.

Each refusal is a `Refused` with a reason code (for the log and the tests) and the words
the page shows. Tokens are never logged: a refusal names its reason, never a token.
"""

import json
import os
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse

from interop.fhir import identity
from interop.fhir.codes import LABS
from interop.fhir.labs_import import LabsFound, labs_in
from interop.json_input import as_dict, as_dicts
from interop.models import SmartEhr, SmartUser

# What the application asks for (SMART App Launch 2 scopes): the launch context, the
# user's identity, and read and search of the patient's Patient and Observations.
CLINICAL_SCOPES = ("openid", "fhirUser", "patient/Patient.rs", "patient/Observation.rs")
EHR_LAUNCH_SCOPE = " ".join(("launch", *CLINICAL_SCOPES))
STANDALONE_SCOPE = " ".join(("launch/patient", *CLINICAL_SCOPES))
# Without these the launch cannot say who the user is or read whose record it is. A
# server may answer in SMART 1's words (patient/Patient.read): the same access.
REQUIRED_SCOPES = {
    "openid": {"openid"},
    "fhirUser": {"fhirUser"},
    "patient/Patient.rs": {"patient/Patient.rs", "patient/Patient.r", "patient/Patient.read"},
}
OBSERVATION_SCOPES = {"patient/Observation.rs", "patient/Observation.read"}
ID_TOKEN_ALGORITHMS = ["RS256", "RS384", "ES256", "ES384"]
CLOCK_SKEW_SECONDS = 60
PENDING_SECONDS = 10 * 60  # from the authorization request to the EHR's answer
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
MAX_RESPONSE_BYTES = 5 * 1024 * 1024  # a configuration, a key set, a Patient, 100 results
CONFIGURATION_SECONDS = 5 * 60  # an EHR's SMART configuration, once read and found good
TOKEN_LIFETIME = (60, 3600)  # seconds: an access token kept here at least, and at most


class Refused(Exception):
    """The launch is refused: nobody is signed in and nothing is read."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Endpoints:
    authorize: str
    token: str
    jwks_uri: str
    issuer: str  # the id_token's issuer: the configuration's, else the FHIR base URL
    # RFC 9207: the EHR names itself (`iss`) in every answer to an authorization request.
    names_itself: bool = False


def registered_ehr(iss: str) -> SmartEhr:
    """The active registered EHR whose FHIR base URL is `iss`."""
    ehr = SmartEhr.objects.filter(iss=iss.strip().rstrip("/"), active=True).first()
    if ehr is None:
        raise Refused(
            "unknown_iss",
            "This EHR is not registered to open the application. Ask the clinic's "
            "administrator to register it (manage.py smart_ehr).",
        )
    return ehr


def secure_url(url: Any) -> bool:
    """https; or http on this machine, where DJANGO_SMART_ALLOW_LOOPBACK_HTTP allows it
    (development and the tests' EHR; never by default in production)."""
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    loopback = settings.SMART_ALLOW_LOOPBACK_HTTP and parts.hostname in LOCAL_HOSTS
    return bool(parts.hostname) and (
        parts.scheme == "https" or (parts.scheme == "http" and loopback)
    )


def _get_json(url: str, *, what: str, token: str = "") -> dict[str, Any]:
    headers = {"Accept": "application/fhir+json, application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        with requests.get(
            url,
            headers=headers,
            timeout=settings.SMART_TIMEOUT_SECONDS,
            allow_redirects=False,
            stream=True,
        ) as response:
            if response.status_code != 200:
                raise Refused(
                    "ehr_error", f"The EHR refused to give {what} ({response.status_code})."
                )
            body = response.raw.read(MAX_RESPONSE_BYTES + 1, decode_content=True)
    except requests.RequestException:
        raise Refused("unreachable", f"The EHR did not answer ({what}).") from None
    if len(body) > MAX_RESPONSE_BYTES:
        raise Refused("ehr_error", f"The EHR's answer ({what}) is too large.")
    data = _json(body)
    if not isinstance(data, dict):
        raise Refused("ehr_error", f"The EHR's answer ({what}) is not a JSON object.")
    return data


def _json(body: bytes) -> Any:
    """JSON from an EHR, or None: nested too deep for the parser is not JSON to us."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def endpoints(ehr: SmartEhr) -> Endpoints:
    """The EHR's authorization and token endpoints and key set, from its SMART
    configuration; refused unless it offers PKCE S256 and every endpoint is https. A
    configuration found good is kept for CONFIGURATION_SECONDS: a launch costs no request
    of its own to the EHR before the browser is sent there."""
    key = f"smart-configuration:{ehr.pk}:{ehr.iss}"
    kept = cache.get(key)
    if kept is not None:
        return Endpoints(**kept)
    found = _read_configuration(ehr)
    cache.set(key, asdict(found), CONFIGURATION_SECONDS)
    return found


def _read_configuration(ehr: SmartEhr) -> Endpoints:
    config = _get_json(f"{ehr.iss}/.well-known/smart-configuration", what="its SMART configuration")
    found = Endpoints(
        authorize=config.get("authorization_endpoint", ""),
        token=config.get("token_endpoint", ""),
        jwks_uri=config.get("jwks_uri", ""),
        issuer=config.get("issuer") or ehr.iss,
        names_itself=config.get("authorization_response_iss_parameter_supported") is True,
    )
    if not all(secure_url(url) for url in (found.authorize, found.token, found.jwks_uri)):
        raise Refused(
            "configuration",
            "The EHR's SMART configuration lacks an https authorization, token or key-set address.",
        )
    if "S256" not in (config.get("code_challenge_methods_supported") or []):
        raise Refused("configuration", "The EHR does not offer PKCE with S256.")
    return found


def redirect_uri(ehr: SmartEhr) -> str:
    """Where this EHR sends the user back, as registered with it: one address for each
    EHR, so that an answer is always from the EHR the launch was sent to (a malicious
    registered EHR cannot pass another's authorization code off as its own: the mix-up
    attack, RFC 9700 4.4)."""
    return settings.PUBLIC_BASE_URL + reverse("smart_callback", args=[ehr.pk])


def _session(ehr: SmartEhr, scope: str = "") -> OAuth2Session:
    """authlib's client for this EHR: public, or authenticated by its secret or, when the
    environment variable holds a private JWK, by a signed assertion (private_key_jwt)."""
    credential = os.environ.get(ehr.credential_env, "") if ehr.credential_env else ""
    key = _private_jwk(credential)
    if key is not None:
        method = "private_key_jwt"
    else:
        method = "client_secret_basic" if credential else "none"
    client = OAuth2Session(
        client_id=ehr.client_id,
        client_secret=key if key is not None else (credential or None),
        token_endpoint_auth_method=method,
        scope=scope or None,
        redirect_uri=redirect_uri(ehr),
        code_challenge_method="S256",
    )
    if key is not None:
        client.register_client_auth_method(PrivateKeyJWT(alg=key.get("alg", "RS384")))
    client.register_compliance_hook("access_token_response", _no_redirect)
    return client


def _no_redirect(response: requests.Response) -> requests.Response:
    """The token endpoint answers itself: a redirect would carry the code, the verifier
    and the client's credential elsewhere (the request is sent without following it).
    Its answer is read up to MAX_RESPONSE_BYTES (it is streamed until here)."""
    if response.is_redirect:
        response.close()
        raise Refused("token", "The EHR's token endpoint answered with a redirect.")
    body = response.raw.read(MAX_RESPONSE_BYTES + 1, decode_content=True)
    response.close()
    if len(body) > MAX_RESPONSE_BYTES:
        raise Refused("token", "The EHR's token endpoint answered with too much.")
    if _json(body) is None:
        raise Refused("token", "The EHR's token endpoint did not answer properly.")
    response._content = body  # what authlib then parses
    return response


def _private_jwk(credential: str) -> dict[str, Any] | None:
    if not credential.lstrip().startswith("{"):
        return None
    try:
        key = json.loads(credential)
    except ValueError:
        return None
    return key if isinstance(key, dict) and "d" in key else None


def begin(ehr: SmartEhr, *, launch: str) -> tuple[str, dict[str, Any]]:
    """The EHR's authorization address for this launch (`launch` empty: a standalone
    launch, which asks the EHR to choose the patient), and what the session keeps until
    the EHR answers: the state, the PKCE verifier, the nonce and the endpoints."""
    found = endpoints(ehr)
    state, verifier, nonce = generate_token(32), generate_token(64), secrets.token_urlsafe(24)
    extra = {"aud": ehr.iss, "nonce": nonce}
    if launch:
        extra["launch"] = launch
    client = _session(ehr, EHR_LAUNCH_SCOPE if launch else STANDALONE_SCOPE)
    url, _ = client.create_authorization_url(
        found.authorize, state=state, code_verifier=verifier, **extra
    )
    pending = {
        "ehr": ehr.pk,
        "state": state,
        "verifier": verifier,
        "nonce": nonce,
        "at": int(time.time()),
        "endpoints": asdict(found),
    }
    return url, pending


@dataclass(frozen=True)
class Launch:
    ehr: SmartEhr
    fhir_user: str
    patient_id: str
    patient: dict[str, Any]  # the EHR's Patient resource, as read with the access token
    access_token: str
    expires_at: int
    reads_observations: bool


def finish(ehr: SmartEhr, pending: dict[str, Any], code: str) -> Launch:
    """The token exchange for `code`, and what it grants, each checked."""
    if time.time() - pending["at"] > PENDING_SECONDS:
        raise Refused("expired", "The launch took too long. Open the application again.")
    found = Endpoints(**pending["endpoints"])
    try:
        token = _session(ehr).fetch_token(
            found.token,
            code=code,
            code_verifier=pending["verifier"],
            grant_type="authorization_code",
            allow_redirects=False,
            stream=True,
            timeout=settings.SMART_TIMEOUT_SECONDS,
        )
    except OAuthError as error:
        reason = error.error if isinstance(error.error, str) else "an error"
        raise Refused("token", f"The EHR refused the sign-in ({reason[:60]}).") from None
    except (requests.RequestException, ValueError, TypeError, OverflowError, KeyError):
        # Not JSON, or JSON that is not a token (Infinity for a lifetime, a list...).
        raise Refused("token", "The EHR's token endpoint did not answer properly.") from None
    access_token = token.get("access_token")
    if not isinstance(access_token, str) or str(token.get("token_type", "")).lower() != "bearer":
        raise Refused("token", "The EHR's answer carries no bearer access token.")
    granted = set(str(token.get("scope", "")).split())
    missing = [name for name, words in REQUIRED_SCOPES.items() if not granted & words]
    if missing:
        raise Refused(
            "scope",
            "The EHR did not grant what the application needs: " + ", ".join(missing) + ".",
        )
    claims = verify_id_token(token.get("id_token"), ehr=ehr, found=found, nonce=pending["nonce"])
    fhir_user = claims.get("fhirUser")
    if not isinstance(fhir_user, str) or not fhir_user:
        raise Refused("fhir_user", "The EHR did not say who the user is (fhirUser).")
    patient_id = token.get("patient")
    if not isinstance(patient_id, str) or not patient_id or "/" in patient_id:
        raise Refused("no_patient", "The EHR did not say which patient the launch is for.")
    patient = _get_json(
        f"{ehr.iss}/Patient/{patient_id}", what="the patient's record", token=access_token
    )
    if patient.get("resourceType") != "Patient" or patient.get("id") != patient_id:
        raise Refused("patient", "The EHR answered with a record other than the launch's patient.")
    return Launch(
        ehr=ehr,
        fhir_user=fhir_user,
        patient_id=patient_id,
        patient=patient,
        access_token=access_token,
        expires_at=int(time.time()) + _lifetime(token.get("expires_in")),
        reads_observations=bool(granted & OBSERVATION_SCOPES),
    )


def _lifetime(expires_in: Any) -> int:
    """How long the access token is kept here: what the EHR says, within TOKEN_LIFETIME
    (300 s when it says nothing usable)."""
    try:
        seconds = int(expires_in)
    except (TypeError, ValueError, OverflowError):
        seconds = 300
    low, high = TOKEN_LIFETIME
    return max(low, min(seconds, high))


def verify_id_token(
    id_token: Any, *, ehr: SmartEhr, found: Endpoints, nonce: str
) -> dict[str, Any]:
    """The id_token's claims, once its signature (by the EHR's key set), issuer, audience
    (this client), expiry and nonce are right."""
    if not isinstance(id_token, str) or not id_token:
        raise Refused("id_token", "The EHR's answer carries no id_token.")
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.PyJWTError:
        raise Refused("id_token", "The EHR's id_token could not be verified.") from None
    algorithm, kid = header.get("alg"), header.get("kid")
    if algorithm not in ID_TOKEN_ALGORITHMS:
        raise Refused("id_token", "The EHR's id_token could not be verified.")
    key_set = _get_json(found.jwks_uri, what="its key set").get("keys")
    # Each signing key the header may mean, read for the header's algorithm (a key set
    # often leaves `alg` out of its keys).
    key_type = "RSA" if algorithm.startswith("RS") else "EC"
    candidates = [
        key
        for key in (key_set if isinstance(key_set, list) else [])
        if isinstance(key, dict)
        and key.get("kty") == key_type
        and key.get("use", "sig") == "sig"
        and key.get("alg", algorithm) == algorithm
        and (kid is None or key.get("kid") == kid)
    ]
    for candidate in candidates:
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token,
                jwt.PyJWK(candidate, algorithm=algorithm),
                algorithms=[algorithm],
                audience=ehr.client_id,
                issuer=found.issuer,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["iss", "sub", "aud", "exp", "iat"]},
            )
        except jwt.ExpiredSignatureError:
            raise Refused("id_token", "The EHR's id_token has expired.") from None
        except (jwt.InvalidSignatureError, jwt.InvalidKeyError, jwt.PyJWKError):
            continue  # another of the EHR's keys, perhaps
        except (jwt.PyJWTError, ValueError):
            raise Refused("id_token", "The EHR's id_token could not be verified.") from None
        break
    else:
        raise Refused("id_token", "The EHR's id_token could not be verified.")
    audience = claims["aud"]
    several = isinstance(audience, list) and len(audience) > 1
    if (several or "azp" in claims) and claims.get("azp") != ehr.client_id:
        raise Refused("id_token", "The EHR's id_token is not for this application (azp).")
    if claims.get("nonce") != nonce:
        raise Refused("id_token", "The EHR's id_token is not for this launch (nonce).")
    return claims


def relative_fhir_user(ehr: SmartEhr, fhir_user: str) -> str:
    """A fhirUser on this EHR's FHIR server as a relative reference (Practitioner/123);
    anything else as given."""
    return fhir_user.removeprefix(ehr.iss + "/")


def mapped_user(ehr: SmartEhr, fhir_user: str) -> Any:
    """The local account the EHR user signs in as, or None: mapped by `manage.py
    smart_ehr map` (which keeps a fhirUser of the EHR's own server in relative form)."""
    mappings = list(
        SmartUser.objects.filter(
            ehr=ehr, fhir_user__in={fhir_user, relative_fhir_user(ehr, fhir_user)}
        ).select_related("user")[:2]
    )
    return mappings[0].user if len(mappings) == 1 else None  # two: nobody, never a guess


def labs_from_ehr(ehr: SmartEhr, *, token: str, patient: dict[str, Any], now: Any) -> LabsFound:
    """The launch patient's labs on the EHR's FHIR server (an Observation search with the
    access token), read as a FHIR file's are: only results whose subject is that Patient,
    none dated after `now` (interop.fhir.labs_import.labs_in)."""
    loincs = ",".join(f"http://loinc.org|{code}" for lab in LABS for code in lab.accepted_loinc)
    query = urlencode({"patient": patient["id"], "code": loincs, "_sort": "-date", "_count": 100})
    bundle = _get_json(f"{ehr.iss}/Observation?{query}", what="the patient's labs", token=token)
    if bundle.get("resourceType") != "Bundle":
        raise Refused("ehr_error", "The EHR's answer to the lab search is not a Bundle.")
    resources = [
        (str(entry.get("fullUrl") or ""), as_dict(entry.get("resource")))
        for entry in as_dicts(bundle.get("entry"))
    ]
    found = LabsFound()
    labs_in(resources, found, subject=identity.references(patient, base=ehr.iss), now=now)
    if not found.labs and not found.refusals:
        found.notes.append("The EHR has no ferritin, transferrin saturation, creatinine or weight.")
    return found
