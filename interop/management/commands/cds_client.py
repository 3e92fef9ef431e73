"""Register, list and remove the EHRs that may call the CDS Hooks service.

    python manage.py cds_client add --iss ISS --name NAME (--jwks-file FILE | --jwks-url URL)
                                    --mrn-system URI [--replace]
    python manage.py cds_client set-mrn-system --iss ISS --mrn-system URI
    python manage.py cds_client list
    python manage.py cds_client remove --iss ISS

No EHR is trusted until it is added, and none is given a patient's cards without the
identifier system under which it carries the clinic's MRN (a record number of any other
system is another organisation's). Adding an issuer that is already active is refused
unless --replace says to replace its keys and MRN system. Removing one refuses its calls
from then on and keeps its calls, feedback and the decisions they made.
"""

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from interop.keys import KeySetError, check_key_set, check_key_set_url
from interop.models import CdsClient


class Command(BaseCommand):
    help = "Register (add), list or remove the EHRs that may call the CDS Hooks service."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="register an EHR, or renew a removed one")
        add.add_argument("--iss", required=True, help="the issuer its JWTs name")
        add.add_argument("--name", required=True, help="what decisions made from it say")
        keys = add.add_mutually_exclusive_group(required=True)
        keys.add_argument("--jwks-file", help="a JSON Web Key Set of its public keys")
        keys.add_argument("--jwks-url", help="an https URL on DJANGO_CDS_JWKS_URLS")
        add.add_argument(
            "--mrn-system",
            required=True,
            help="the identifier system under which it carries our MRN (e.g. urn:oid:...)",
        )
        add.add_argument(
            "--replace",
            action="store_true",
            help="replace the keys, name and MRN system of an issuer that is already active",
        )
        mrn_system = actions.add_parser(
            "set-mrn-system", help="set the MRN identifier system of a registered EHR"
        )
        mrn_system.add_argument("--iss", required=True)
        mrn_system.add_argument("--mrn-system", required=True)
        actions.add_parser("list", help="the registered EHRs")
        remove = actions.add_parser("remove", help="refuse an EHR's calls from now on")
        remove.add_argument("--iss", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"handle_{options['action'].replace('-', '_')}")(options)

    def handle_add(self, options: dict[str, Any]) -> None:
        iss, name = options["iss"].strip(), options["name"].strip()
        if not iss or len(iss) > 300 or any(c.isspace() for c in iss):
            raise CommandError("--iss: 1 to 300 characters, no spaces.")
        if not name or len(name) > 100:
            raise CommandError("--name: 1 to 100 characters.")
        mrn_system = _mrn_system(options["mrn_system"])
        current = CdsClient.objects.filter(iss=iss, active=True).first()
        if current is not None and not options["replace"]:
            raise CommandError(
                f"{current.name} ({iss}) is already registered and active, with keys "
                f"{current.key_summary} and MRN system {current.mrn_system or '(none)'}. "
                "Nothing was changed: add --replace to replace them."
            )
        jwks, jwks_url = None, ""
        try:
            if options["jwks_file"]:
                try:
                    data = json.loads(Path(options["jwks_file"]).read_text())
                except (OSError, ValueError) as error:
                    raise CommandError(f"--jwks-file: not a readable JSON file: {error}") from None
                jwks = check_key_set(data)
            else:
                jwks_url = check_key_set_url(options["jwks_url"].strip())
        except KeySetError as error:
            raise CommandError(f"Refused: {error}.") from None
        client = CdsClient.register(
            iss=iss, name=name, jwks=jwks, jwks_url=jwks_url, mrn_system=mrn_system
        )
        if current is not None:
            self.stdout.write(
                f"Replaced {current.name} ({iss}): keys {current.key_summary} are now "
                f"{client.key_summary}; MRN system {current.mrn_system or '(none)'} is now "
                f"{client.mrn_system}; name {current.name} is now {client.name}."
            )
        else:
            self.stdout.write(
                f"Registered {client.name} ({client.iss}): keys {client.key_summary}, "
                f"MRN system {client.mrn_system}"
            )

    def handle_set_mrn_system(self, options: dict[str, Any]) -> None:
        mrn_system = _mrn_system(options["mrn_system"])
        client = CdsClient.objects.filter(iss=options["iss"].strip(), active=True).first()
        if client is None:
            raise CommandError("No active EHR is registered with that issuer.")
        before = client.mrn_system or "(none)"
        client.mrn_system = mrn_system
        client.save(update_fields=["mrn_system"])
        self.stdout.write(
            f"{client.name} ({client.iss}): MRN system {before} is now {client.mrn_system}"
        )

    def handle_list(self, options: dict[str, Any]) -> None:
        clients = CdsClient.objects.order_by("name", "pk")
        if not clients:
            self.stdout.write("No EHR is registered.")
        for client in clients:
            state = "active" if client.active else "removed"
            mrn = (
                f", MRN system {client.mrn_system}"
                if client.mrn_system
                else ", no MRN system (gets no cards)"
            )
            self.stdout.write(
                f"{client.name}\t{client.iss}\t{state}\tkeys {client.key_summary}{mrn}"
            )

    def handle_remove(self, options: dict[str, Any]) -> None:
        client = CdsClient.objects.filter(iss=options["iss"].strip(), active=True).first()
        if client is None:
            raise CommandError("No active EHR is registered with that issuer.")
        client.deactivate()
        self.stdout.write(f"Removed {client.name} ({client.iss}): its calls are refused.")


def _mrn_system(given: str) -> str:
    """An identifier system: an absolute URI (urn:oid:..., https://...), no spaces."""
    system = given.strip()
    if not 0 < len(system) <= 300 or any(c.isspace() for c in system) or ":" not in system:
        raise CommandError(
            "--mrn-system: the identifier system under which the EHR carries the clinic's "
            "MRN, an absolute URI such as urn:oid:1.2.3.4 (at most 300 characters, no spaces)."
        )
    return system
