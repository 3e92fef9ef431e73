"""`python manage.py export_fhir --mrn MRN [--out FILE]`: a patient's record as a FHIR R4
Bundle (interop.fhir.export), on standard output or into FILE."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from interop.fhir.export import patient_bundle
from patients.models import Patient, normalise_mrn


class Command(BaseCommand):
    help = (
        "Export one patient's record (assessments, scores, labs, cards and decisions) as a "
        "FHIR R4 Bundle of type collection, as JSON."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--mrn", required=True, help="the patient's MRN")
        parser.add_argument("--out", help="write the Bundle to this file (default: stdout)")

    def handle(self, *args: Any, mrn: str, out: str | None, **options: Any) -> None:
        patient = Patient.objects.filter(mrn=normalise_mrn(mrn)).first()
        if patient is None:
            raise CommandError("No patient has that MRN.")
        text = json.dumps(patient_bundle(patient, now=timezone.now()), indent=2, ensure_ascii=False)
        if out is None:
            self.stdout.write(text)
            return
        try:
            with open(out, "w", encoding="utf-8") as file:
                file.write(text + "\n")
        except OSError as error:
            raise CommandError(f"Cannot write {out}: {error.strerror}") from None
        self.stderr.write(f"Wrote the Bundle of patient {patient.uuid} to {out}.")
