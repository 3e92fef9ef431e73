"""Forms for patient records: registration and editing, archiving, search."""

from typing import Any

from django import forms
from django.core.validators import RegexValidator
from django.utils import timezone

from patients.facts import AGE_MAX_YEARS, AGE_MIN_YEARS, age_in_years
from patients.models import Patient, normalise_mrn

mrn_format = RegexValidator(
    r"^[A-Z0-9-]{3,20}$",
    "Use 3 to 20 letters, digits or dashes.",
)
phone_format = RegexValidator(
    r"^\+?[0-9][0-9 ()-]{5,24}$",
    "Enter a phone number: digits, spaces, brackets or dashes, optionally starting with +.",
)


DUPLICATE_MRN = "A patient with this MRN already exists."


class PatientForm(forms.ModelForm[Patient]):
    """Registration and editing. `expected_version` catches edits that would overwrite
    someone else's save (see Patient.save_edit)."""

    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Patient
        fields = [
            "mrn",
            "given_name",
            "family_name",
            "date_of_birth",
            "sex",
            "phone",
            "email",
            "notes",
        ]
        widgets = {
            "date_of_birth": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }
        error_messages = {"mrn": {"unique": DUPLICATE_MRN}}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The patient who already has the MRN typed, for the page to link to (for those
        # allowed to see them), once the MRN is refused as a duplicate.
        self.duplicate: Patient | None = None
        self.fields["phone"].validators.append(phone_format)
        if self.instance.pk and not self.is_bound:
            self.initial["expected_version"] = self.instance.version

    def validate_unique(self) -> None:
        super().validate_unique()
        if self.has_error("mrn", code="unique"):
            self.duplicate = self._holder_of_mrn()

    def refuse_duplicate_mrn(self) -> None:
        """For a save that lost a race: another registration took the MRN meanwhile."""
        self.add_error("mrn", forms.ValidationError(DUPLICATE_MRN, code="unique"))
        self.duplicate = self._holder_of_mrn()

    def _holder_of_mrn(self) -> Patient | None:
        return Patient.objects.exclude(pk=self.instance.pk).filter(mrn=self.instance.mrn).first()

    def clean_mrn(self) -> str:
        mrn = normalise_mrn(self.cleaned_data["mrn"])
        mrn_format(mrn)
        return mrn

    def clean_given_name(self) -> str:
        return " ".join(self.cleaned_data["given_name"].split())

    def clean_family_name(self) -> str:
        return " ".join(self.cleaned_data["family_name"].split())

    def clean_date_of_birth(self) -> Any:
        born = self.cleaned_data["date_of_birth"]
        today = timezone.localdate()
        if born > today:
            raise forms.ValidationError("The date of birth cannot be in the future.")
        age = age_in_years(born, today)
        if not AGE_MIN_YEARS <= age <= AGE_MAX_YEARS:
            raise forms.ValidationError(
                "Age must be between %(min)d and %(max)d years (this date gives %(age)d).",
                params={"min": AGE_MIN_YEARS, "max": AGE_MAX_YEARS, "age": age},
            )
        return born


class ArchiveForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        min_length=5,
        max_length=1000,
        help_text="Why the record is archived (for example: duplicate of another MRN, moved away).",
    )


class PatientSearchForm(forms.Form):
    q = forms.CharField(
        label="Name, MRN or date of birth",
        max_length=100,
        required=False,
    )
    archived = forms.BooleanField(label="Include archived", required=False)
