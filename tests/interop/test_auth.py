"""Only a registered EHR's correctly signed, fresh, unused token for the exact address
called gets in: every other token is a 401 with an OperationOutcome, and nothing of the
request is done."""

import base64
import hashlib
import hmac
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from interop import auth
from interop.models import HookCall, SeenToken
from tests.interop.ehr import (
    ISS,
    Ehr,
    assert_outcome,
    ec_key,
    hook_body,
    key_set,
    patient_resource,
    public_jwk,
    register,
)

DISCOVERY = "/cds-services"
PATIENT_VIEW = "/cds-services/rls-patient-view"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(header: dict, claims: dict, sign) -> str:
    """A token PyJWT would refuse to make (HS256 with a public key, alg none)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(sign(signing_input.encode()))}"


def claims_for(path: str, **changes) -> dict:
    now = int(time.time())
    return {
        "iss": ISS,
        "aud": "http://testserver" + path,
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
        **changes,
    }


def call(client, token: str, path: str = DISCOVERY):
    return client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")


def test_a_registered_ehrs_es384_and_rs384_tokens_are_accepted(client, ehr):
    assert ehr.get(client, DISCOVERY).status_code == 200
    assert ehr.get(client, DISCOVERY, alg="RS384").status_code == 200


def test_no_token_is_a_401_that_names_the_bearer_scheme(client, ehr):
    response = client.get(DISCOVERY)
    assert_outcome(response, 401, "Authorization: Bearer")
    assert response["WWW-Authenticate"] == 'Bearer realm="cds-services"'


def test_a_signed_in_session_is_no_way_in(client, ehr, superuser):
    client.force_login(superuser)
    assert_outcome(client.get(DISCOVERY), 401, "Authorization: Bearer")
    assert_outcome(client.post(PATIENT_VIEW, {}, content_type="application/json"), 401)


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer not.a.jwt", "x" * 20])
def test_a_malformed_authorization_is_a_401(client, ehr, header):
    response = client.get(DISCOVERY, HTTP_AUTHORIZATION=header)
    assert_outcome(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_expired_token_is_refused(client, ehr):
    now = int(time.time())
    token = ehr.token(DISCOVERY, claims={"iat": now - 700, "exp": now - 400})
    assert_outcome(call(client, token), 401, "expired")


def test_a_token_issued_in_the_future_is_refused(client, ehr):
    now = int(time.time())
    token = ehr.token(DISCOVERY, claims={"iat": now + 600, "exp": now + 900})
    assert_outcome(call(client, token), 401, "future")


def test_a_token_that_lives_longer_than_five_minutes_is_refused(client, ehr):
    now = int(time.time())
    token = ehr.token(DISCOVERY, claims={"iat": now, "exp": now + 3600})
    assert_outcome(call(client, token), 401, "too long")


@pytest.mark.parametrize(
    ("lifetime", "accepted"),
    [(300, True), (auth.MAX_LIFETIME_SECONDS + auth.LEEWAY_SECONDS, True), (331, False)],
)
def test_a_token_may_live_five_minutes_and_the_leeway_not_a_second_more(
    client, ehr, frozen_clock, lifetime, accepted
):
    now = int(time.time())
    token = ehr.token(DISCOVERY, claims={"iat": now, "exp": now + lifetime})
    if accepted:
        assert call(client, token).status_code == 200
    else:
        assert_outcome(call(client, token), 401, "exp may be at most 5 minutes after iat")
        assert not SeenToken.objects.exists()


@pytest.mark.parametrize(("length", "accepted"), [(1, True), (200, True), (201, False)])
def test_a_token_id_of_more_than_200_characters_is_refused(client, ehr, length, accepted):
    token = ehr.token(DISCOVERY, claims={"jti": "j" * length})
    if accepted:
        assert call(client, token).status_code == 200
    else:
        assert_outcome(call(client, token), 401, "jti) must be a string of 1 to 200 characters")
        assert not SeenToken.objects.exists()


REFUSED_ALGORITHMS = [
    "none", "HS256", "HS384", "HS512", "RS256", "RS512", "ES256", "ES512", "PS256", "PS384",
    "PS512", "EdDSA", "ES384 ", "es384", "",
]  # fmt: skip


@pytest.mark.parametrize("algorithm", REFUSED_ALGORITHMS)
def test_every_algorithm_but_es384_and_rs384_is_refused_saying_why(client, ehr, algorithm):
    """Checked before any key is looked at: the token chooses nothing."""
    token = handmade({"alg": algorithm, "kid": "ec-1"}, claims_for(DISCOVERY), lambda _: b"x")
    response = call(client, token)
    body = assert_outcome(response, 401)
    assert body["issue"][0]["diagnostics"] == (
        "The token's algorithm is not accepted: ES384 or RS384 only."
    )
    assert not SeenToken.objects.exists()


@pytest.mark.parametrize("claim", ["exp", "iat", "jti", "aud", "iss"])
def test_a_token_without_a_required_claim_is_refused(client, ehr, claim):
    token = ehr.token(DISCOVERY, claims={claim: None})
    assert_outcome(call(client, token), 401)


def test_a_token_for_another_address_of_the_service_is_refused(client, ehr):
    token = ehr.token(PATIENT_VIEW)  # the audience of another endpoint
    assert_outcome(call(client, token, DISCOVERY), 401, "audience")


def test_the_audience_comes_from_the_configured_address_never_the_host_header(client, ehr):
    # A token made out to the address the Host header claims is refused...
    token = ehr.token(DISCOVERY, base="http://localhost")
    response = client.get(DISCOVERY, HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert_outcome(response, 401, "audience")
    # ...and one made out to the configured public address is accepted whatever the Host.
    response = client.get(DISCOVERY, HTTP_HOST="localhost", **ehr.auth(DISCOVERY))
    assert response.status_code == 200


def test_a_replayed_token_is_refused_and_does_nothing_the_second_time(client, ehr, seeded):
    token = ehr.token(PATIENT_VIEW)
    body = json.dumps(hook_body(patient=patient_resource(seeded.patient.mrn)))

    def send():
        return client.post(
            PATIENT_VIEW,
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )

    assert send().status_code == 200
    assert_outcome(send(), 401, "used before")
    assert HookCall.objects.count() == 1


def test_an_hs256_token_signed_with_the_public_key_as_the_secret_is_refused(client, ehr):
    """The classic confusion: a verifier that lets the token choose HMAC would check it
    with the public key (known to everyone) as the shared secret."""
    public_pem = (
        ec_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    token = handmade(
        {"alg": "HS256", "typ": "JWT", "kid": "ec-1"},
        claims_for(DISCOVERY),
        lambda data: hmac.new(public_pem, data, hashlib.sha256).digest(),
    )
    assert_outcome(call(client, token), 401, "algorithm")


def test_an_unsigned_token_alg_none_is_refused(client, ehr):
    token = handmade(
        {"alg": "none", "typ": "JWT", "kid": "ec-1"}, claims_for(DISCOVERY), lambda _: b""
    )
    assert_outcome(call(client, token), 401, "algorithm")


def test_another_asymmetric_algorithm_is_refused(client, ehr):
    token = ehr.token(DISCOVERY, alg="ES256", key=ec.generate_private_key(ec.SECP256R1()))
    assert_outcome(call(client, token), 401, "algorithm")


def test_a_token_signed_by_another_key_is_refused(client, ehr):
    stranger = ec.generate_private_key(ec.SECP384R1())
    assert_outcome(call(client, ehr.token(DISCOVERY, key=stranger)), 401, "signature")


def test_an_unknown_key_id_is_refused(client, ehr):
    token = ehr.token(DISCOVERY, header={"kid": "no-such-key"})
    assert_outcome(call(client, token), 401, "kid")


def test_a_key_of_the_wrong_type_for_the_algorithm_is_refused(client, ehr):
    token = ehr.token(DISCOVERY, alg="RS384", header={"kid": "ec-1"})  # RSA-signed, EC key
    assert_outcome(call(client, token), 401, "does not fit")


def test_an_unregistered_issuer_is_refused(client, ehr):
    stranger = Ehr(ehr.client, iss="https://unknown.example.org")
    assert_outcome(call(client, stranger.token(DISCOVERY)), 401, "issuer")


def test_a_removed_client_is_refused(client, ehr):
    ehr.client.deactivate()
    assert_outcome(call(client, ehr.token(DISCOVERY)), 401, "issuer")


def test_without_a_public_address_every_call_is_refused(client, ehr, settings):
    settings.PUBLIC_BASE_URL = ""
    assert_outcome(ehr.get(client, DISCOVERY, base="http://testserver"), 503, "not configured")


def test_seen_tokens_are_kept_until_they_expire_then_purged(client, ehr):
    now = int(time.time())
    stale = SeenToken.objects.create(iss=ISS, jti="old", expires_at="2020-01-01T00:00Z")
    assert ehr.get(client, DISCOVERY).status_code == 200
    (seen,) = SeenToken.objects.all()
    assert seen.pk != stale.pk
    assert now + 300 <= seen.expires_at.timestamp() <= now + 300 + auth.LEEWAY_SECONDS + 5


# Key sets fetched from an allow-listed URL (jku)

KEYS_URL = "https://keys.example.org/jwks.json"


@pytest.fixture
def fetched(db, settings, monkeypatch):
    """A client whose key set is at KEYS_URL; the fetches are counted, never sent."""
    settings.CDS_JWKS_URL_ALLOWLIST = [KEYS_URL]
    fetches = []

    def fetch_data(self):
        fetches.append(self.uri)
        return key_set()

    monkeypatch.setattr(jwt.PyJWKClient, "fetch_data", fetch_data)
    monkeypatch.setattr(auth, "_jwk_clients", {})
    client = register(iss="https://fetched.example.org", jwks=None, jwks_url=KEYS_URL)
    return Ehr(client, iss=client.iss), fetches


def test_keys_from_an_allow_listed_url_are_fetched_once_and_cached(client, fetched):
    ehr, fetches = fetched
    for _ in range(3):
        assert ehr.get(client, DISCOVERY, header={"jku": KEYS_URL}).status_code == 200
    assert fetches == [KEYS_URL]


def test_a_jku_other_than_the_registered_url_is_refused_and_never_fetched(client, fetched):
    ehr, fetches = fetched
    response = ehr.get(client, DISCOVERY, header={"jku": "https://evil.example.org/jwks.json"})
    assert_outcome(response, 401, "jku")
    assert fetches == []


def test_a_key_set_url_no_longer_allowed_is_not_fetched(client, fetched, settings):
    ehr, fetches = fetched
    settings.CDS_JWKS_URL_ALLOWLIST = []
    assert_outcome(ehr.get(client, DISCOVERY, header={"jku": KEYS_URL}), 401, "not allowed")
    assert fetches == []


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # the point
def test_an_rsa_key_under_2048_bits_in_a_fetched_key_set_is_refused_at_every_call(
    client, fetched, monkeypatch
):
    """A static key set is checked when it is registered (interop.keys); a fetched one can
    change at any time, so the same rule is applied to the key of every call."""
    ehr, _ = fetched
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (the point)
    published = {"keys": [public_jwk(weak, "weak-1", "RS384")]}
    monkeypatch.setattr(jwt.PyJWKClient, "fetch_data", lambda self: published)
    monkeypatch.setattr(auth, "_jwk_clients", {})
    token = ehr.token(DISCOVERY, alg="RS384", key=weak, header={"kid": "weak-1", "jku": KEYS_URL})
    assert_outcome(call(client, token), 401, "an RS384 key must be an RSA key of 2048 bits")
    assert not SeenToken.objects.exists()
