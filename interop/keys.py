"""What a registered EHR's keys may be: a JSON Web Key Set of public signing keys for
ES384 (EC P-384) or RS384 (RSA, 2048 bits or more), each with a key id; or an https URL of
one that DJANGO_CDS_JWKS_URLS allows."""

from typing import Any
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings

# Members that only private (or symmetric) keys have (RFC 7518 sections 6.2.2, 6.3.2, 6.4).
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
ALGORITHM_OF = {"EC": "ES384", "RSA": "RS384"}


class KeySetError(ValueError):
    """Why a key set or its URL cannot be registered."""


def strength_problem(public: Any, algorithm: str) -> str:
    """Why a public key cannot verify `algorithm` ("" when it can): ES384 takes an EC key
    on P-384, RS384 an RSA key of 2048 bits or more. The one rule, at registration (a
    static key set) and at every call (a fetched one may change: interop.auth)."""
    if algorithm == "ES384":
        if isinstance(public, ec.EllipticCurvePublicKey) and isinstance(public.curve, ec.SECP384R1):
            return ""
        return "an ES384 key must be an EC key on the P-384 curve"
    if algorithm == "RS384":
        if isinstance(public, rsa.RSAPublicKey) and public.key_size >= 2048:
            return ""
        return "an RS384 key must be an RSA key of 2048 bits or more"
    return f"{algorithm!r} is not ES384 or RS384"


def check_key_set(data: Any) -> dict[str, Any]:
    """The key set, if every key in it is a public ES384 or RS384 signing key with its own
    key id. Raises KeySetError saying which key is wrong and why."""
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list) or not data["keys"]:
        raise KeySetError('a key set is a JSON object with a non-empty "keys" list')
    seen: set[str] = set()
    for number, key in enumerate(data["keys"], start=1):
        kid = _check_key_id(key, f"key {number}", seen)
        _check_key(key, f"key {kid!r}")
    return data


def _check_key_id(key: Any, where: str, seen: set[str]) -> str:
    """The key's id: a key is an object of public members with an id of its own."""
    if not isinstance(key, dict):
        raise KeySetError(f"{where} is not a JSON object")
    if private := sorted(PRIVATE_MEMBERS.intersection(key)):
        raise KeySetError(
            f"{where} holds private key material ({', '.join(private)}): "
            "register the public key only"
        )
    kid = key.get("kid")
    if not isinstance(kid, str) or not kid:
        raise KeySetError(f"{where} has no key id (kid)")
    if kid in seen:
        raise KeySetError(f"{where}: the key id {kid!r} is used twice")
    seen.add(kid)
    return kid


def _check_key(key: dict[str, Any], where: str) -> None:
    kty = key.get("kty")
    if kty not in ALGORITHM_OF:
        raise KeySetError(f"{where}: key type {kty!r} is not EC (P-384) or RSA")
    algorithm = ALGORITHM_OF[kty]
    if key.get("alg", algorithm) != algorithm:
        raise KeySetError(f"{where}: an {kty} key must be for {algorithm}")
    if key.get("use", "sig") != "sig":
        raise KeySetError(f"{where}: not a signing key (use is not sig)")
    try:
        public = jwt.PyJWK(key, algorithm).key
    except jwt.PyJWTError as error:
        raise KeySetError(f"{where} is not a usable key: {error}") from None
    if problem := strength_problem(public, algorithm):
        raise KeySetError(f"{where}: {problem}")


def check_key_set_url(url: str) -> str:
    if urlsplit(url).scheme != "https":
        raise KeySetError("a key-set URL must be https")
    if url not in settings.CDS_JWKS_URL_ALLOWLIST:
        raise KeySetError("the key-set URL is not on DJANGO_CDS_JWKS_URLS (the allow-list)")
    return url
