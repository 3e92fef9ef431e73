"""Who is calling: the JWT that every CDS Hooks call carries (CDS Hooks 2.0, "Trusting CDS
Clients"), checked against the calling EHR's registered keys with PyJWT.

A token is accepted only when all of this holds: its algorithm is ES384 or RS384 (never
none or HMAC) and its key has the matching type; its key id (kid) is in the key set of an
active registered client whose issuer (iss) it names, the key set being static or fetched
from the client's registered, allow-listed URL (jku); its audience (aud) is the exact
address called (a string, or a list of exactly that one string: JWT allows either), built
from PUBLIC_BASE_URL and never from the Host header; exp, iat (numbers) and jti are
present, it has not expired, was not issued in the future and lives no longer than five
minutes (with 30 s of leeway for clocks); and
its jti has not been seen before. The seen jtis are kept in the database until the token
expires, so that a token replayed to another worker or host is refused too.
"""

import threading
from datetime import UTC, datetime
from typing import Any

import jwt
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from interop.keys import strength_problem
from interop.models import CdsClient, SeenToken
from interop.responses import CdsError, unauthorized

ALGORITHMS = ("ES384", "RS384")  # CDS Hooks 2.0: ES384 and RS384; nothing else
LEEWAY_SECONDS = 30  # for clocks that differ a little
MAX_LIFETIME_SECONDS = 300  # the specification's and the sandbox's exp = iat + 5 minutes
MAX_TOKEN_LENGTH = 8192
JWKS_TIMEOUT_SECONDS = 3
JWKS_CACHE_SECONDS = 300
REQUIRED_CLAIMS = ["exp", "iat", "jti", "iss", "aud"]

# One PyJWKClient per key-set URL, shared by the threads of a process: it caches the keys
# (and refetches an unknown kid at most every 30 s), so a call rarely waits for a fetch.
_jwk_clients: dict[str, jwt.PyJWKClient] = {}
_jwk_clients_lock = threading.Lock()


def authenticate(request: HttpRequest) -> CdsClient:
    """The active client that signed this request's token. Raises CdsError (401, or 503
    when the service has no public address configured) saying what failed."""
    if not settings.PUBLIC_BASE_URL:
        raise CdsError(
            503,
            "not-supported",
            "The CDS Hooks service is not configured on this server (no public address).",
        )
    token = _bearer_token(request)
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise unauthorized("The bearer token is not a well-formed JWT.") from None
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise unauthorized("The token's algorithm is not accepted: ES384 or RS384 only.")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise unauthorized("The token's header has no key id (kid).")
    issuer = unverified.get("iss")
    client = (
        CdsClient.objects.select_related("user").filter(iss=issuer, active=True).first()
        # PostgreSQL cannot compare text holding NUL: no registered issuer has one.
        if isinstance(issuer, str) and issuer and "\x00" not in issuer
        else None
    )
    if client is None:
        raise unauthorized("The token's issuer (iss) is not a registered, active client.")
    key = _signing_key(client, header, kid, algorithm)
    claims = _verified_claims(token, key, algorithm, client, request)
    _remember(client, claims)
    return client


def _bearer_token(request: HttpRequest) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise unauthorized("An Authorization: Bearer <JWT> header is required.", missing=True)
    if len(token) > MAX_TOKEN_LENGTH:
        raise unauthorized("The bearer token is too long to be a CDS Hooks JWT.")
    return token


def _signing_key(client: CdsClient, header: dict[str, Any], kid: str, algorithm: str) -> Any:
    """The public key named by kid, from the client's static key set or its registered,
    allow-listed key-set URL; a jku naming any other URL is refused, never fetched."""
    if client.jwks is not None:
        try:
            jwk = jwt.PyJWKSet.from_dict(client.jwks)[kid]
        except (KeyError, jwt.PyJWTError):
            raise unauthorized("The token's key id (kid) is not in the client's key set.") from None
    else:
        jku = header.get("jku")
        if jku is not None and jku != client.jwks_url:
            raise unauthorized("The token's key-set URL (jku) is not the client's registered one.")
        if client.jwks_url not in settings.CDS_JWKS_URL_ALLOWLIST:
            raise unauthorized("The client's key-set URL is not allowed on this server.")
        try:
            jwk = _jwk_client(client.jwks_url).get_signing_key(kid)
        except jwt.PyJWKClientError:
            raise unauthorized(
                "The token's key id (kid) is not in the client's key set, or the key set "
                "could not be fetched."
            ) from None
    key = jwk.key
    if problem := strength_problem(key, algorithm):
        raise unauthorized(f"The key named by kid does not fit the token's algorithm: {problem}.")
    return key


def _jwk_client(url: str) -> jwt.PyJWKClient:
    with _jwk_clients_lock:
        if url not in _jwk_clients:
            # The key set is cached for JWKS_CACHE_SECONDS, the keys not separately:
            # PyJWT's per-key cache never expires, so a key the EHR withdrew (a leaked
            # one) would stay trusted for as long as the process runs.
            _jwk_clients[url] = jwt.PyJWKClient(
                url, cache_keys=False, lifespan=JWKS_CACHE_SECONDS, timeout=JWKS_TIMEOUT_SECONDS
            )
        return _jwk_clients[url]


def _verified_claims(
    token: str, key: Any, algorithm: str, client: CdsClient, request: HttpRequest
) -> dict[str, Any]:
    audience = settings.PUBLIC_BASE_URL + request.path
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            issuer=client.iss,
            leeway=LEEWAY_SECONDS,
            # The audience is checked below: PyJWT's strict mode refuses a list even of one.
            options={"require": REQUIRED_CLAIMS, "verify_aud": False},
        )
    except jwt.ExpiredSignatureError:
        raise unauthorized("The token has expired (exp).") from None
    except jwt.ImmatureSignatureError:
        raise unauthorized(
            "The token was issued in the future (iat) or is not yet valid."
        ) from None
    except jwt.MissingRequiredClaimError as error:
        raise unauthorized(f"The token has no {error.claim} claim.") from None
    except jwt.InvalidSignatureError:
        raise unauthorized("The token's signature does not verify with the client's key.") from None
    except jwt.PyJWTError:
        raise unauthorized("The token could not be verified.") from None
    # One audience, the address called: a token made out to several services could be
    # replayed to us by any of them. RFC 7519 allows it as a string or a list.
    if claims["aud"] not in (audience, [audience]):
        raise unauthorized("The token's audience (aud) is not the address that was called.")
    # PyJWT takes "1700000000" (a string) for a time too; the arithmetic below does not.
    if not all(_is_number(claims[name]) for name in ("exp", "iat")):
        raise unauthorized("The token's exp and iat must be numbers (seconds since 1970).")
    if claims["exp"] - claims["iat"] > MAX_LIFETIME_SECONDS + LEEWAY_SECONDS:
        raise unauthorized("The token lives too long: exp may be at most 5 minutes after iat.")
    jti = claims["jti"]
    if not isinstance(jti, str) or not jti or len(jti) > 200 or "\x00" in jti:
        raise unauthorized("The token's id (jti) must be a string of 1 to 200 characters.")
    return claims


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _remember(client: CdsClient, claims: dict[str, Any]) -> None:
    """Record the token's jti until it expires; one already recorded is a replay. The
    unique constraint decides, so two hosts presenting it at once get one success."""
    now = timezone.now()
    SeenToken.objects.filter(expires_at__lt=now).delete()  # expired: no longer needed
    expires_at = datetime.fromtimestamp(claims["exp"] + LEEWAY_SECONDS, tz=UTC)
    try:
        with transaction.atomic():
            SeenToken.objects.create(iss=client.iss, jti=claims["jti"], expires_at=expires_at)
    except IntegrityError:
        raise unauthorized("The token has been used before (its jti was seen).") from None
