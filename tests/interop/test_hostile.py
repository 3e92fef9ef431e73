"""A hostile review of the EHR side: what a harmful or buggy EHR, an outsider without keys,
and a clinician with a crafted FHIR file can send, and what must come of it: a refusal
(4xx, an OperationOutcome on the CDS Hooks endpoints), never a server error, never a
decision the app did not get to weigh, never markup that an EHR would render."""

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from interop import auth
from interop.models import HookCall, SeenToken
from tests.interop.ehr import (
    Ehr,
    assert_outcome,
    hook_body,
    key_set,
    public_jwk,
    register,
)

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


def test_an_audience_list_is_refused_even_when_it_names_the_address_called(client, ehr):
    """A token made out to several services could be replayed to us by any of them."""
    token = ehr.token(
        DISCOVERY,
        claims={"aud": ["http://testserver" + DISCOVERY, "https://other-service.example.org"]},
    )
    assert_outcome(client.get(DISCOVERY, HTTP_AUTHORIZATION=f"Bearer {token}"), 401, "audience")


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
