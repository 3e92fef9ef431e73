"""Register the EHRs that may open this application through SMART App Launch (issue 25),
and which of their users sign in as which local account.

    python manage.py smart_ehr add --iss FHIR_BASE_URL --name NAME --client-id ID
                                   --mrn-system SYSTEM [--credential-env VARIABLE] [--replace]
    python manage.py smart_ehr map --iss FHIR_BASE_URL --fhir-user Practitioner/123 --user NAME
    python manage.py smart_ehr unmap --iss FHIR_BASE_URL --fhir-user Practitioner/123
    python manage.py smart_ehr list
    python manage.py smart_ehr remove --iss FHIR_BASE_URL

Nothing is trusted by default: an EHR launches nothing until added, and an EHR user signs
in only as the account mapped to them, which must be active and hold a clinical role
(clinicians or staff); never a superuser, never a new account. A confidential client's
secret or private key stays in the environment: --credential-env names the variable, which
must be set when the EHR is added. The issuer must be https (http only on this machine,
for tests and local EHR simulators, where DJANGO_SMART_ALLOW_LOOPBACK_HTTP allows it).
`add` and `list` print the launch and redirect URLs to register at the EHR.
"""

import os
import re
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.urls import reverse

from clinic.launches import may_launch
from interop.models import SmartEhr, SmartUser
from interop.smart import redirect_uri, relative_fhir_user, secure_url

# fhirUser: a Practitioner, PractitionerRole, Patient, Person or RelatedPerson, as a
# relative reference or an absolute URL ending in one (SMART App Launch 2).
FHIR_USER = re.compile(
    r"^(https?://\S+/)?(Practitioner|PractitionerRole|Person|RelatedPerson)/[A-Za-z0-9\-.]{1,64}$"
)


def issuer(text: str) -> str:
    iss = text.strip().rstrip("/")
    if not secure_url(iss):
        raise CommandError(
            f"The issuer must be an https URL (http only on this machine, where "
            f"DJANGO_SMART_ALLOW_LOOPBACK_HTTP allows it): {iss!r}"
        )
    return iss


class Command(BaseCommand):
    help = "Register (add, map, list, remove) the EHRs that may launch this application."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="register an EHR for launch")
        add.add_argument("--iss", required=True, help="its FHIR base URL, as launches name it")
        add.add_argument("--name", required=True)
        add.add_argument("--client-id", required=True, help="this application's id there")
        add.add_argument(
            "--mrn-system",
            required=True,
            help="the identifier system under which the EHR carries the clinic's MRN",
        )
        add.add_argument(
            "--credential-env",
            default="",
            help="a confidential client: the environment variable with its secret or key",
        )
        add.add_argument("--replace", action="store_true", help="replace an active EHR's details")
        mapping = actions.add_parser("map", help="sign an EHR user in as a local account")
        mapping.add_argument("--iss", required=True)
        mapping.add_argument("--fhir-user", required=True, help="e.g. Practitioner/123")
        mapping.add_argument("--user", required=True, help="the local user name")
        mapping.add_argument("--replace", action="store_true")
        unmap = actions.add_parser("unmap", help="stop an EHR user signing in")
        unmap.add_argument("--iss", required=True)
        unmap.add_argument("--fhir-user", required=True)
        actions.add_parser("list", help="the registered EHRs and their users")
        remove = actions.add_parser("remove", help="refuse an EHR's launches from now on")
        remove.add_argument("--iss", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"handle_{options['action']}")(options)

    def ehr(self, iss: str) -> SmartEhr:
        ehr = SmartEhr.objects.filter(iss=issuer(iss)).first()
        if ehr is None:
            raise CommandError(f"No EHR is registered with the issuer {issuer(iss)!r}.")
        return ehr

    def handle_add(self, options: dict[str, Any]) -> None:
        iss, name = issuer(options["iss"]), options["name"].strip()
        client_id, variable = options["client_id"].strip(), options["credential_env"].strip()
        mrn_system = options["mrn_system"].strip()
        if not name or not client_id or not mrn_system:
            raise CommandError("--name, --client-id and --mrn-system must not be empty.")
        if variable and not os.environ.get(variable):
            raise CommandError(f"The environment variable {variable} is not set.")
        with transaction.atomic():
            ehr = SmartEhr.objects.select_for_update().filter(iss=iss).first()
            if ehr is not None and ehr.active and not options["replace"]:
                raise CommandError(f"{iss} is already registered: add --replace to change it.")
            ehr = ehr or SmartEhr(iss=iss)
            ehr.name, ehr.client_id, ehr.mrn_system = name, client_id, mrn_system
            ehr.credential_env, ehr.active = variable, True
            ehr.save()
        kind = "confidential" if variable else "public"
        self.stdout.write(
            f"Registered {ehr} for launch, as a {kind} client. At the EHR, register the launch "
            f"URL {settings.PUBLIC_BASE_URL}{reverse('smart_launch')} and the redirect URL "
            f"{redirect_uri(ehr)}."
        )

    def handle_map(self, options: dict[str, Any]) -> None:
        ehr = self.ehr(options["iss"])
        # One form for each EHR user: relative to the EHR's own FHIR server.
        fhir_user = relative_fhir_user(ehr, options["fhir_user"].strip())
        if not FHIR_USER.fullmatch(fhir_user) or "://" in fhir_user:
            raise CommandError(
                f"Not a fhirUser of this EHR (e.g. Practitioner/123, or {ehr.iss}/"
                f"Practitioner/123): {options['fhir_user']!r}"
            )
        user = User.objects.filter(username=options["user"]).first()
        if user is None or not user.is_active:
            raise CommandError(f"No active user {options['user']!r}.")
        if not may_launch(user):
            raise CommandError(
                f"{user.username} cannot be launched into: only active clinicians and staff "
                "can, never a superuser."
            )
        with transaction.atomic():
            mapping = SmartUser.objects.select_for_update().filter(ehr=ehr, fhir_user=fhir_user)
            existing = mapping.first()
            if existing is not None and not options["replace"]:
                raise CommandError(
                    f"{fhir_user} already signs in as {existing.user.username}: add --replace."
                )
            mapping.delete()
            SmartUser.objects.create(ehr=ehr, fhir_user=fhir_user, user=user)
        self.stdout.write(f"{fhir_user} at {ehr.name} signs in as {user.username}.")

    def handle_unmap(self, options: dict[str, Any]) -> None:
        ehr = self.ehr(options["iss"])
        fhir_user = relative_fhir_user(ehr, options["fhir_user"].strip())
        deleted, _ = SmartUser.objects.filter(ehr=ehr, fhir_user=fhir_user).delete()
        if not deleted:
            raise CommandError(f"{options['fhir_user']} is not mapped at {ehr.name}.")
        self.stdout.write(f"{options['fhir_user']} no longer signs in from {ehr.name}.")

    def handle_list(self, options: dict[str, Any]) -> None:
        for ehr in SmartEhr.objects.order_by("iss").prefetch_related("users__user"):
            state = "active" if ehr.active else "removed"
            kind = f"confidential ({ehr.credential_env})" if ehr.confidential else "public"
            self.stdout.write(
                f"{ehr.iss}  {ehr.name}  client {ehr.client_id}, {kind}, {state}, "
                f"MRNs under {ehr.mrn_system or '(none)'}"
            )
            self.stdout.write(f"    redirect URL {redirect_uri(ehr)}")
            for mapping in ehr.users.all():
                self.stdout.write(f"    {mapping.fhir_user} -> {mapping.user.username}")

    def handle_remove(self, options: dict[str, Any]) -> None:
        ehr = self.ehr(options["iss"])
        ehr.active = False
        ehr.save(update_fields=["active"])
        self.stdout.write(f"{ehr} launches nothing from now on; its user mappings are kept.")
