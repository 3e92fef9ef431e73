"""Forms of the assessment page: the assessment itself and a decision on a card."""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django import forms
from django.forms.boundfield import BoundWidget
from django.http import QueryDict
from django.utils import timezone

from guidance.models import DECISIONS, CardStatus, DeclineReason, Kind, Recommendation
from patients.facts import (
    AGE_MAX_YEARS,
    AGE_MIN_YEARS,
    CRITERIA,
    HOURS_SINCE_LAST_DOSE_MAX,
    age_in_years,
    hours_between,
)
from patients.mimics import MIMIC_CHOICES, MIMIC_HELP
from patients.models import Assessment, Patient
from patients.scales import ITEMS, SCALES, Item, Progress, progress, score_all


def scale_item_field(scale_item: Item) -> forms.TypedChoiceField:
    """One scale item as radio buttons of its allowed values, "–" for not answered."""
    return forms.TypedChoiceField(
        label=scale_item.label,
        help_text=scale_item.anchors,
        choices=[("", "–"), *[(value, str(value)) for value in scale_item.allowed]],
        coerce=int,
        empty_value=None,
        required=False,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
    )


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

PREGNANCY_CONFIRMATION_LABEL = "Pregnancy confirmed despite recorded sex"

# Assessment's database checks (patients.models.scale_constraints and the product's
# choices) that the form makes itself: each scale item a radio of its allowed values,
# each scale complete or absent (clean(), by score_all), the product one of its choices.
CHECKED_BY_THE_FORM = {
    *(f"assessment_{key}_allowed" for key in ITEMS),
    *(f"assessment_{code}_complete_or_absent" for code in SCALES),
    "assessment_kratom_product_valid",
}


def check_assessed_at(assessed_at: datetime, patient: Patient) -> None:
    """An assessment time is not in the future, and the patient's age then is one the
    fact table allows. Raises ValidationError."""
    if assessed_at > timezone.now():
        raise forms.ValidationError("The assessment time cannot be in the future.")
    age = age_in_years(patient.date_of_birth, timezone.localdate(assessed_at))
    if not AGE_MIN_YEARS <= age <= AGE_MAX_YEARS:
        raise forms.ValidationError(
            "On this date the patient was %(age)d; assessments are for ages %(min)d to %(max)d.",
            params={"age": age, "min": AGE_MIN_YEARS, "max": AGE_MAX_YEARS},
        )


def last_dose_problem(last_dose_at: datetime, assessed_at: datetime) -> str | None:
    """What is wrong with a last dose time against the assessment time, or None."""
    if last_dose_at > assessed_at:
        return "The last dose cannot be after the assessment time."
    if hours_between(last_dose_at, assessed_at) > HOURS_SINCE_LAST_DOSE_MAX:
        return "More than a year before the assessment: leave it blank if there is no recent use."
    return None


class AssessmentForm(forms.ModelForm[Assessment]):
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

    def __init__(self, *args: Any, patient: Patient, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.patient = patient
        for key, scale_item in ITEMS.items():
            self.fields[key] = scale_item_field(scale_item)
        if self.instance.pk and not self.is_bound:
            self.initial["expected_version"] = self.instance.version
        if self.instance.pk:
            # A correction says why: the reason stays with the version in the history.
            self.fields["change_reason"] = forms.CharField(
                label="Why this correction",
                max_length=100,
                help_text="Kept in the history with who made it and when.",
                widget=forms.TextInput(attrs={"autocomplete": "off"}),
            )
        if patient.sex == "male":
            # The recorded sex is not always the sex that matters (a trans man can be
            # pregnant), so a pregnancy is not refused, only confirmed. Not stored: a saved
            # assessment of a patient recorded as male that says "pregnant" was confirmed.
            self.fields["pregnancy_confirmed"] = forms.BooleanField(
                label=PREGNANCY_CONFIRMATION_LABEL,
                help_text="The patient's recorded sex is male: tick to record a pregnancy.",
                required=False,
                initial=self.instance.pregnant,
            )

    def sections(self) -> list[dict[str, Any]]:
        return [
            {
                "code": code,
                "title": title,
                "scale": SCALES.get(code),
                "fields": [self[n] for n in self._shown_with(names)],
            }
            for code, title, names in ASSESSMENT_SECTIONS
        ]

    def _shown_with(self, names: list[str]) -> list[str]:
        """A section's fields, with the pregnancy confirmation beside the pregnancy."""
        shown = []
        for name in names:
            shown.append(name)
            if name == "pregnant" and "pregnancy_confirmed" in self.fields:
                shown.append("pregnancy_confirmed")
        return shown

    def mimic_options(self) -> list[tuple[BoundWidget, str]]:
        """Each mimic's checkbox with the question that tells it apart from RLS."""
        return [(box, MIMIC_HELP[box.data["value"]]) for box in self["mimics"]]

    def clean_assessed_at(self) -> Any:
        assessed_at = self.cleaned_data["assessed_at"]
        check_assessed_at(assessed_at, self.patient)
        return assessed_at

    def clean(self) -> Any:
        super().clean()
        cleaned = self.cleaned_data
        assessed_at = cleaned.get("assessed_at")
        last_dose_at = cleaned.get("last_dose_at")
        if assessed_at and last_dose_at:
            problem = last_dose_problem(last_dose_at, assessed_at)
            if problem:
                self.add_error("last_dose_at", problem)
        if (
            cleaned.get("pregnant")
            and "pregnancy_confirmed" in self.fields
            and not cleaned.get("pregnancy_confirmed")
        ):
            self.add_error(
                "pregnant",
                "The patient's recorded sex is male: to record a pregnancy, also tick "
                f"“{PREGNANCY_CONFIRMATION_LABEL}”.",
            )
        _, problems = score_all(cleaned)
        for key, problem in problems.items():
            if key not in self.errors:
                self.add_error(key, problem[0].upper() + problem[1:] + ".")
        if not self.errors and not self.anything_entered():
            self.add_error(
                None,
                "The assessment is empty: enter at least one finding, score or note "
                "(a time alone is not an assessment).",
            )
        return cleaned

    def validate_constraints(self) -> None:
        """Django would check each of Assessment's database constraints again, in a query
        of its own: 32 queries, half the time of a save. The form has checked them all
        (CHECKED_BY_THE_FORM), with a message on the field, and the database still
        enforces them when the row is written. Should the model gain a constraint the
        form does not make, Django checks them all again."""
        if {constraint.name for constraint in Assessment._meta.constraints} - CHECKED_BY_THE_FORM:
            super().validate_constraints()

    def anything_entered(self) -> bool:
        """Whether any fact, scale item or note was entered: the time does not count,
        a zero does (no alcohol is a finding), a ticked box does."""
        for name in ASSESSMENT_FIELDS:
            value = self.cleaned_data.get(name)
            if name == "assessed_at" or value is None or value is False or value in ("", []):
                continue
            return True
        return False


COMMENT_MAX_LENGTH = 2000


class DecisionForm(forms.Form):
    """A decision on one card: an option is accepted, declined (with a coded reason, and a
    comment when the reason is "other") or deferred; a caution is acknowledged or
    deferred (product.md 5.1)."""

    status = forms.ChoiceField(
        choices=[(s.value, s.label) for s in CardStatus if s != CardStatus.PENDING],
        widget=forms.HiddenInput,
    )
    reason = forms.ChoiceField(
        label="Reason", choices=[("", "Choose a reason"), *DeclineReason.choices], required=False
    )
    comment = forms.CharField(
        label="Comment",
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=COMMENT_MAX_LENGTH,
        error_messages={
            "max_length": "The comment is too long: at most %(limit_value)d characters "
            "(this one has %(show_value)d)."
        },
    )
    expected_version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, card: Recommendation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.card = card

    def clean_status(self) -> str:
        status = str(self.cleaned_data["status"])
        allowed = DECISIONS[Kind(self.card.rule.kind)]
        if status not in allowed:
            words = " or ".join(CardStatus(s).label.lower() for s in allowed)
            raise forms.ValidationError(f"A {self.card.rule.kind} can only be {words}.")
        return status

    def clean(self) -> Any:
        cleaned = super().clean() or {}
        status, reason = cleaned.get("status"), cleaned.get("reason")
        if status == CardStatus.DECLINED:
            if not reason:
                self.add_error("reason", "Say why the suggestion is declined.")
            elif (
                reason == DeclineReason.OTHER
                and not cleaned.get("comment")
                and "comment" not in self.errors  # a comment too long is not a missing one
            ):
                self.add_error("comment", "With the reason “Other”, a comment is required.")
        elif reason:
            cleaned["reason"] = ""  # a reason belongs to a decline only
        return cleaned


def posted_items(data: QueryDict) -> dict[str, int]:
    """Scale answers from a posted form, as numbers: each one of its item's values.
    Anything else is left out, including what str.isdigit() takes but int() refuses
    ("²", 5,000 digits)."""
    answers = {}
    for key, scale_item in ITEMS.items():
        allowed = {str(value): value for value in scale_item.allowed}
        raw = data.get(key, "")
        if raw in allowed:
            answers[key] = allowed[raw]
    return answers


def live_scores(values: Mapping[str, object], codes: Iterable[str] = SCALES) -> list[Progress]:
    """The live totals panel: each scale's progress from the answers so far."""
    return [progress(SCALES[code], values) for code in codes if code in SCALES]
