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


def check_key_set(data: Any) -> dict[str, Any]:
    """The key set, if every key in it is a public ES384 or RS384 signing key with its own
    key id. Raises KeySetError saying which key is wrong and why."""
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list) or not data["keys"]:
        raise KeySetError('a key set is a JSON object with a non-empty "keys" list')
    seen: set[str] = set()
    for number, key in enumerate(data["keys"], start=1):
        where = f"key {number}"
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
        where = f"key {kid!r}"
        kty = key.get("kty")
        if kty not in ALGORITHM_OF:
            raise KeySetError(f"{where}: key type {kty!r} is not EC (P-384) or RSA")
        if key.get("alg", ALGORITHM_OF[kty]) != ALGORITHM_OF[kty]:
            raise KeySetError(f"{where}: an {kty} key must be for {ALGORITHM_OF[kty]}")
        if key.get("use", "sig") != "sig":
            raise KeySetError(f"{where}: not a signing key (use is not sig)")
        try:
            public = jwt.PyJWK(key, ALGORITHM_OF[kty]).key
        except jwt.PyJWTError as error:
            raise KeySetError(f"{where} is not a usable key: {error}") from None
        if kty == "EC" and not isinstance(public.curve, ec.SECP384R1):
            raise KeySetError(f"{where}: an EC key must be on the P-384 curve")
        if kty == "RSA" and (not isinstance(public, rsa.RSAPublicKey) or public.key_size < 2048):
            raise KeySetError(f"{where}: an RSA key must have 2048 bits or more")
    return data


def check_key_set_url(url: str) -> str:
    if urlsplit(url).scheme != "https":
        raise KeySetError("a key-set URL must be https")
    if url not in settings.CDS_JWKS_URL_ALLOWLIST:
        raise KeySetError("the key-set URL is not on DJANGO_CDS_JWKS_URLS (the allow-list)")
    return url
