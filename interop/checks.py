"""`manage.py check --deploy`: production must not trust the public CDS Hooks sandbox, and
every registered EHR needs the identifier system that carries the clinic's MRN.

The sandbox is an EHR simulator anyone can drive, with a published key set: a client
registered with its issuer or key set lets anyone at all call the service and send
feedback that becomes a recorded decision.
"""

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Warning, register
from django.db import DatabaseError

SANDBOX_HOST = "sandbox.cds-hooks.org"


def names_sandbox(url: str) -> bool:
    return urlsplit(url.strip()).hostname == SANDBOX_HOST


@register("cds", deploy=True)
def sandbox_not_trusted(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    from interop.models import CdsClient  # the app registry is ready when checks run

    warnings: list[CheckMessage] = []
    try:
        sandbox_clients = [
            client.name
            for client in CdsClient.objects.filter(active=True)
            if names_sandbox(client.iss) or names_sandbox(client.jwks_url)
        ]
    except DatabaseError:  # no database yet (not migrated): no clients to check
        sandbox_clients = []
    if sandbox_clients:
        warnings.append(
            Warning(
                "Active CDS Hooks clients trust the public sandbox: " + ", ".join(sandbox_clients),
                hint="Remove them: python manage.py cds_client remove --iss ISS",
                id="interop.W001",
            )
        )
    try:
        unmatched = list(
            CdsClient.objects.filter(active=True, mrn_system="").values_list("name", flat=True)
        )
    except DatabaseError:
        unmatched = []
    if unmatched:
        warnings.append(
            Warning(
                "Active CDS Hooks clients have no MRN identifier system, so they are given "
                "no patient's cards: " + ", ".join(unmatched),
                hint="python manage.py cds_client set-mrn-system --iss ISS --mrn-system URI",
                id="interop.W005",
            )
        )
    if any(names_sandbox(url) for url in settings.CDS_JWKS_URL_ALLOWLIST):
        warnings.append(
            Warning(
                "DJANGO_CDS_JWKS_URLS allows the public CDS Hooks sandbox's key set.",
                hint="Allow only your EHRs' key-set URLs.",
                id="interop.W002",
            )
        )
    if any(names_sandbox(origin) for origin in settings.CORS_ALLOWED_ORIGINS):
        warnings.append(
            Warning(
                "DJANGO_CDS_CORS_ORIGINS allows the public CDS Hooks sandbox.",
                hint="Allow only your EHRs' origins.",
                id="interop.W003",
            )
        )
    if not settings.PUBLIC_BASE_URL:
        warnings.append(
            Warning(
                "DJANGO_PUBLIC_BASE_URL is not set: every CDS Hooks call is refused, and "
                "FHIR exports name the clinic's code systems under a placeholder address.",
                hint="Set it to the address the app is reached at, e.g. https://rls.example.org",
                id="interop.W006",
            )
        )
    if settings.SMART_ALLOW_LOOPBACK_HTTP:
        warnings.append(
            Warning(
                "DJANGO_SMART_ALLOW_LOOPBACK_HTTP lets SMART launches talk plain http to "
                "an EHR on this machine.",
                hint="Leave it unset in production: EHRs are reached over https.",
                id="interop.W007",
            )
        )
    if settings.PUBLIC_BASE_URL.startswith("http://"):
        warnings.append(
            Warning(
                "DJANGO_PUBLIC_BASE_URL is not https: EHRs would send tokens in clear.",
                id="interop.W004",
            )
        )
    return warnings
