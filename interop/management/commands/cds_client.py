"""Register, list and remove the EHRs that may call the CDS Hooks service.

    python manage.py cds_client add --iss ISS --name NAME (--jwks-file FILE | --jwks-url URL)
                                    [--mrn-system URI]
    python manage.py cds_client list
    python manage.py cds_client remove --iss ISS

No EHR is trusted until it is added. Removing one refuses its calls from then on and keeps
its calls, feedback and the decisions they made.
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
            "--mrn-system", default="", help="the identifier system carrying our MRN there"
        )
        actions.add_parser("list", help="the registered EHRs")
        remove = actions.add_parser("remove", help="refuse an EHR's calls from now on")
        remove.add_argument("--iss", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"handle_{options['action']}")(options)

    def handle_add(self, options: dict[str, Any]) -> None:
        iss, name = options["iss"].strip(), options["name"].strip()
        if not iss or len(iss) > 300 or any(c.isspace() for c in iss):
            raise CommandError("--iss: 1 to 300 characters, no spaces.")
        if not name or len(name) > 100:
            raise CommandError("--name: 1 to 100 characters.")
        if len(options["mrn_system"]) > 300:
            raise CommandError("--mrn-system: at most 300 characters.")
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
            iss=iss, name=name, jwks=jwks, jwks_url=jwks_url, mrn_system=options["mrn_system"]
        )
        self.stdout.write(f"Registered {client.name} ({client.iss}): keys {client.key_summary}")

    def handle_list(self, options: dict[str, Any]) -> None:
        clients = CdsClient.objects.order_by("name", "pk")
        if not clients:
            self.stdout.write("No EHR is registered.")
        for client in clients:
            state = "active" if client.active else "removed"
            mrn = f", MRN system {client.mrn_system}" if client.mrn_system else ""
            self.stdout.write(
                f"{client.name}\t{client.iss}\t{state}\tkeys {client.key_summary}{mrn}"
            )

    def handle_remove(self, options: dict[str, Any]) -> None:
        client = CdsClient.objects.filter(iss=options["iss"].strip(), active=True).first()
        if client is None:
            raise CommandError("No active EHR is registered with that issuer.")
        client.deactivate()
        self.stdout.write(f"Removed {client.name} ({client.iss}): its calls are refused.")
