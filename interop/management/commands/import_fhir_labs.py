"""`python manage.py import_fhir_labs FILE --mrn MRN`: the labs a FHIR Bundle holds for
that patient, as the pre-fill of their new assessment would read them
(interop.fhir.labs_import). Saves nothing."""

import json
import sys
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from interop.fhir.bundle import MAX_BYTES, FhirFileError
from interop.fhir.labs_import import read_labs
from patients.models import Patient, normalise_mrn


class Command(BaseCommand):
    help = (
        "Read the ferritin, transferrin saturation, creatinine and weight Observations of a "
        "FHIR R4 Bundle (a collection, or a CDS Hooks prefetch searchset) and print the labs "
        "of the patient of --mrn, converted to the units an assessment stores, and the "
        "refusals, as JSON. Saves nothing: labs are only ever pre-filled into a new "
        "assessment, which a clinician confirms and saves on the assessment page. Exits with "
        "status 2 when the file cannot be read as a Bundle, or cannot be tied to that patient."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="a FHIR Bundle in JSON, or - for standard input")
        parser.add_argument(
            "--mrn",
            required=True,
            help="the patient the labs are for: only results whose subject is that patient's "
            "Patient (same MRN and birth date) are read; a file holding another MRN is refused",
        )

    def handle(self, *args: Any, file: str, mrn: str, **options: Any) -> None:
        patient = Patient.objects.filter(mrn=normalise_mrn(mrn)).first()
        if patient is None:
            raise CommandError("No patient has that MRN.")
        try:
            if file == "-":
                raw = sys.stdin.buffer.read(MAX_BYTES + 1)
            else:
                with open(file, "rb") as source:
                    raw = source.read(MAX_BYTES + 1)
        except OSError as error:
            self.fail(f"{file}: cannot read it: {error.strerror}")
        try:
            found = read_labs(raw, patient=patient, now=timezone.now())
        except FhirFileError as error:
            self.fail(f"{file}: {error}")
        self.stdout.write(json.dumps(found.as_json(), indent=2, ensure_ascii=False))

    def fail(self, problem: str) -> NoReturn:
        self.stderr.write(problem)
        raise SystemExit(2)
