from django import forms
from django.core.validators import RegexValidator
from django.utils import timezone

from patients.facts import (
    AGE_MAX_YEARS,
    AGE_MIN_YEARS,
    CRITERIA,
    HOURS_SINCE_LAST_DOSE_MAX,
    age_in_years,
    hours_between,
)
from patients.mimics import MIMIC_CHOICES, MIMIC_HELP
from patients.models import Assessment, Patient, normalise_mrn
from patients.scales import ITEMS, SCALES, score_all

mrn_format = RegexValidator(
    r"^[A-Z0-9-]{3,20}$",
    "Use 3 to 20 letters, digits or dashes.",
)
phone_format = RegexValidator(
    r"^\+?[0-9][0-9 ()-]{5,24}$",
    "Enter a phone number: digits, spaces, brackets or dashes, optionally starting with +.",
)


class PatientForm(forms.ModelForm):
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

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["phone"].validators.append(phone_format)
        if self.instance.pk and not self.is_bound:
            self.initial["expected_version"] = self.instance.version

    def clean_mrn(self) -> str:
        mrn = normalise_mrn(self.cleaned_data["mrn"])
        mrn_format(mrn)
        return mrn

    def clean_given_name(self) -> str:
        return " ".join(self.cleaned_data["given_name"].split())

    def clean_family_name(self) -> str:
        return " ".join(self.cleaned_data["family_name"].split())

    def clean_date_of_birth(self):
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
    q = forms.CharField(label="Name or MRN", max_length=100, required=False)
    archived = forms.BooleanField(label="Include archived", required=False)


# The assessment form's sections, in the order a clinician works through them.
ASSESSMENT_SECTIONS: list[tuple[str, str, list[str]]] = [
    (
        "kratom",
        "Kratom use",
        [
            "assessed_at",
            "kratom_grams_per_day",
            "kratom_doses_per_day",
            "kratom_use_months",
            "kratom_product",
            "last_dose_at",
            "uses_other_opioids",
        ],
    ),
    (
        "criteria",
        "RLS criteria (IRLSSG 2012) and mimics",
        [
            *CRITERIA,
            "rls_before_kratom",
            "mimics",
            "akathisia_suspected",
        ],
    ),
    *[(code, scale.title, scale.keys) for code, scale in SCALES.items()],
    (
        "lifestyle",
        "Sleep and lifestyle",
        [
            "sleep_hours_per_night",
            "caffeine_mg_per_day",
            "nicotine_use",
            "alcohol_drinks_per_week",
            "exercise_minutes_per_week",
        ],
    ),
    (
        "medications",
        "Medications and conditions",
        [
            "pregnant",
            "on_opioid_agonist_treatment",
            "on_cns_depressant",
            "on_serotonergic_antidepressant",
            "on_sedating_antihistamine",
            "on_dopamine_antagonist",
            "on_dopamine_agonist",
            "on_gabapentinoid",
            "respiratory_disease",
            "iron_overload",
        ],
    ),
    (
        "labs",
        "Labs and weight",
        ["ferritin_ng_ml", "tsat_percent", "serum_creatinine_mg_dl", "weight_kg"],
    ),
    ("notes", "Notes", ["notes"]),
]

ASSESSMENT_FIELDS = [name for _, _, names in ASSESSMENT_SECTIONS for name in names]


class AssessmentForm(forms.ModelForm):
    """The assessment, in the sections a clinician works through.

    Ranges come from the fact table (model validators), allowed item values from the
    scale registry; a scale is complete or left out entirely.
    """

    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    mimics = forms.MultipleChoiceField(
        label="Mimics present",
        choices=MIMIC_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
        help_text="Tick each condition found; it can coexist with RLS. E5 is met only if "
        "none of them accounts for the symptoms on its own.",
    )

    class Meta:
        model = Assessment
        fields = ASSESSMENT_FIELDS
        widgets = {
            "assessed_at": forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
            ),
            "last_dose_at": forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
            ),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, patient: Patient, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.patient = patient
        for key, scale_item in ITEMS.items():
            self.fields[key] = forms.TypedChoiceField(
                label=scale_item.label,
                help_text=scale_item.anchors,
                choices=[("", "–"), *[(value, str(value)) for value in scale_item.allowed]],
                coerce=int,
                empty_value=None,
                required=False,
                widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
            )
        if self.instance.pk and not self.is_bound:
            self.initial["expected_version"] = self.instance.version

    def sections(self) -> list[dict]:
        return [
            {
                "code": code,
                "title": title,
                "scale": SCALES.get(code),
                "fields": [self[n] for n in names],
            }
            for code, title, names in ASSESSMENT_SECTIONS
        ]

    def mimic_options(self) -> list[tuple]:
        """Each mimic's checkbox with the question that tells it apart from RLS."""
        return [(box, MIMIC_HELP[box.data["value"]]) for box in self["mimics"]]

    def clean_assessed_at(self):
        assessed_at = self.cleaned_data["assessed_at"]
        if assessed_at > timezone.now():
            raise forms.ValidationError("The assessment time cannot be in the future.")
        age = age_in_years(self.patient.date_of_birth, timezone.localdate(assessed_at))
        if not AGE_MIN_YEARS <= age <= AGE_MAX_YEARS:
            raise forms.ValidationError(
                "On this date the patient was %(age)d; assessments are for ages "
                "%(min)d to %(max)d.",
                params={"age": age, "min": AGE_MIN_YEARS, "max": AGE_MAX_YEARS},
            )
        return assessed_at

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        assessed_at = cleaned.get("assessed_at")
        last_dose_at = cleaned.get("last_dose_at")
        if assessed_at and last_dose_at:
            if last_dose_at > assessed_at:
                self.add_error("last_dose_at", "The last dose cannot be after the assessment time.")
            elif hours_between(last_dose_at, assessed_at) > HOURS_SINCE_LAST_DOSE_MAX:
                self.add_error(
                    "last_dose_at",
                    "More than a year before the assessment: leave it blank if there is no "
                    "recent use.",
                )
        _, problems = score_all(cleaned)
        for key, problem in problems.items():
            if key not in self.errors:
                self.add_error(key, problem[0].upper() + problem[1:] + ".")
        return cleaned
