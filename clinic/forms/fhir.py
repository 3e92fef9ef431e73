"""Forms of the FHIR lab pre-fill: the upload of a Bundle, and the clinician's confirmation
of the labs read from it (carried in a signed token, so that nothing is stored before the
clinician says so)."""

from typing import Any

from django import forms
from django.core import signing
from django.utils import timezone

from interop.fhir.bundle import MAX_BYTES, FhirFileError
from interop.fhir.codes import LAB_BY_FIELD
from interop.fhir.labs_import import LabsFound, read_labs
from patients.models import Patient

SIGNING_SALT = "clinic.fhir-labs"  # keeps these tokens apart from other signed values
TOKEN_MAX_AGE = 30 * 60  # the idle session's length: a confirmation left longer is stale


class FhirLabsUploadForm(forms.Form):
    file = forms.FileField(
        label="FHIR file",
        help_text="A FHIR R4 Bundle in JSON (an EHR export, or a CDS Hooks prefetch), at most "
        f"{MAX_BYTES // (1024 * 1024)} MB. Ferritin, transferrin saturation, creatinine and "
        "weight are read; nothing is saved.",
        widget=forms.ClearableFileInput(attrs={"accept": ".json,application/json"}),
    )

    def __init__(self, *args: Any, patient: Patient, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.patient = patient
        self.found = LabsFound()

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(
                "The file is larger than %(mb)d MB: a FHIR lab export is far smaller.",
                params={"mb": MAX_BYTES // (1024 * 1024)},
            )
        try:
            self.found = read_labs(
                upload.read(MAX_BYTES + 1), patient=self.patient, now=timezone.now()
            )
        except FhirFileError as error:
            raise forms.ValidationError(str(error)) from None
        return upload

    def confirmation(self) -> "FhirLabsConfirmForm":
        return confirmation(self.patient, self.found)


def confirmation(patient: Patient, found: LabsFound) -> "FhirLabsConfirmForm":
    """The confirmation form for the labs read (from a file, or from the EHR that
    launched the application), carrying them in a signed token."""
    labs = {
        name: {
            "value": lab.value,
            "given": f"{lab.given_value} {lab.given_unit}",
            "effective": lab.effective,
            "resource": lab.resource,
        }
        for name, lab in found.labs.items()
    }
    token = signing.dumps({"patient": str(patient.uuid), "labs": labs}, salt=SIGNING_SALT)
    return FhirLabsConfirmForm(initial={"token": token}, patient=patient)


class FhirLabsConfirmForm(forms.Form):
    token = forms.CharField(widget=forms.HiddenInput, max_length=20_000)

    def __init__(self, *args: Any, patient: Patient, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.patient = patient

    def clean_token(self) -> dict[str, dict[str, Any]]:
        """The labs the clinician confirmed, as read from the file: only a token this
        application signed, for this patient, in the last half hour."""
        try:
            payload = signing.loads(
                self.cleaned_data["token"], salt=SIGNING_SALT, max_age=TOKEN_MAX_AGE
            )
        except signing.BadSignature:
            raise forms.ValidationError(
                "This confirmation has expired or was altered: upload the file again."
            ) from None
        if not isinstance(payload, dict) or payload.get("patient") != str(self.patient.uuid):
            raise forms.ValidationError("This confirmation is for another patient.")
        labs = payload.get("labs")
        if not isinstance(labs, dict) or not labs or any(name not in LAB_BY_FIELD for name in labs):
            raise forms.ValidationError("There are no labs to pre-fill.")
        return labs
