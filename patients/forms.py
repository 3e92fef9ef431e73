from django import forms
from django.contrib.auth.models import User
from django.core.validators import RegexValidator
from django.utils import timezone

from clinic.roles import CLINICIANS, STAFF
from guidance.models import AdherenceAnswer
from patients.facts import (
    AGE_MAX_YEARS,
    AGE_MIN_YEARS,
    CRITERIA,
    HOURS_SINCE_LAST_DOSE_MAX,
    age_in_years,
    hours_between,
)
from patients.mimics import MIMIC_CHOICES, MIMIC_HELP
from patients.models import (
    Assessment,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    Patient,
    normalise_mrn,
)
from patients.scales import ITEMS, SCALES, Item, score_all

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
            self.fields[key] = scale_item_field(scale_item)
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


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def team_members():
    """People a follow-up can be assigned to: active clinicians and staff."""
    return (
        User.objects.filter(is_active=True, groups__name__in=[CLINICIANS, STAFF])
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


class TeamMemberField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.get_full_name() or obj.get_username()


class FollowUpScheduleForm(forms.ModelForm):
    assigned_to = TeamMemberField(
        queryset=User.objects.none(), required=False, empty_label="Anyone on the team"
    )

    class Meta:
        model = FollowUp
        fields = ["due_date", "kind", "assigned_to", "plan_notes"]
        widgets = {"due_date": _date_input(), "plan_notes": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        assigned_to = self.fields["assigned_to"]
        assert isinstance(assigned_to, TeamMemberField)
        assigned_to.queryset = team_members()

    def clean_due_date(self):
        due = self.cleaned_data["due_date"]
        if due < timezone.localdate():
            raise forms.ValidationError("A follow-up cannot be due in the past.")
        return due


class FollowUpRecordForm(forms.ModelForm):
    """What happened at a follow-up. The optional IRLS and COWS re-score uses the scale
    registry exactly as the assessment does; adherence is asked for each accepted card."""

    RESCORE = ("irls", "cows")

    outcome = forms.ChoiceField(
        choices=[(FollowUpStatus.COMPLETED, "Completed"), (FollowUpStatus.MISSED, "Missed")],
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
    )
    next_due_date = forms.DateField(
        required=False, widget=_date_input(), help_text="Schedules the next follow-up."
    )
    next_kind = forms.ChoiceField(choices=FollowUpKind.choices, required=False)
    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = FollowUp
        fields = [
            "happened_on",
            "missed_reason",
            *[i.key for code in ("irls", "cows") for i in SCALES[code].items],
            "side_effects",
            "notes",
        ]
        widgets = {
            "happened_on": _date_input(),
            "side_effects": forms.Textarea(attrs={"rows": 2}),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, accepted_cards=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["happened_on"].required = True
        self.fields["missed_reason"].help_text = "Required when the follow-up was missed."
        for code in self.RESCORE:
            for scale_item in SCALES[code].items:
                self.fields[scale_item.key] = scale_item_field(scale_item)
        self.accepted_cards = list(accepted_cards)
        for card in self.accepted_cards:
            self.fields[f"adherence_{card.uuid}"] = forms.ChoiceField(
                label=card.rule.title,
                choices=[("", "Not asked"), *AdherenceAnswer.choices],
                required=False,
            )
        if not self.is_bound:
            # The instance's empty date would otherwise win over today's.
            self.initial["happened_on"] = self.instance.happened_on or timezone.localdate()
            self.initial["outcome"] = FollowUpStatus.COMPLETED
            self.initial["expected_version"] = self.instance.version
            self.initial["next_kind"] = self.instance.kind

    def rescore_sections(self) -> list[dict]:
        return [
            {
                "code": code,
                "scale": SCALES[code],
                "fields": [self[i.key] for i in SCALES[code].items],
            }
            for code in self.RESCORE
        ]

    def adherence_fields(self) -> list:
        return [self[f"adherence_{card.uuid}"] for card in self.accepted_cards]

    def clean_happened_on(self):
        happened = self.cleaned_data["happened_on"]
        if happened > timezone.localdate():
            raise forms.ValidationError("The date of the contact cannot be in the future.")
        return happened

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        missed = cleaned.get("outcome") == FollowUpStatus.MISSED
        happened, next_due = cleaned.get("happened_on"), cleaned.get("next_due_date")
        if missed and not cleaned.get("missed_reason", "").strip():
            self.add_error("missed_reason", "Say why the follow-up was missed.")
        answers = {key: cleaned.get(key) for key in self.Meta.fields if key in ITEMS}
        if missed and any(value is not None for value in answers.values()):
            self.add_error(None, "A missed follow-up has no re-score: clear the IRLS and COWS.")
        _, problems = score_all(answers)
        for key, problem in problems.items():
            if key not in self.errors:
                self.add_error(key, problem[0].upper() + problem[1:] + ".")
        if happened and next_due and next_due <= happened:
            self.add_error("next_due_date", "The next follow-up must be after this one.")
        if next_due and next_due < timezone.localdate():
            self.add_error("next_due_date", "The next follow-up cannot be due in the past.")
        return cleaned

    def adherence_answers(self) -> dict:
        return {
            card: self.cleaned_data[f"adherence_{card.uuid}"]
            for card in self.accepted_cards
            if self.cleaned_data.get(f"adherence_{card.uuid}")
        }


class FollowUpCancelForm(forms.Form):
    reason = forms.CharField(max_length=300, min_length=3, help_text="Why it will not happen.")


class WorklistFilterForm(forms.Form):
    assignee = forms.ChoiceField(required=False)
    kind = forms.ChoiceField(
        choices=[("", "Calls and visits"), *FollowUpKind.choices], required=False
    )

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        people = [(str(u.pk), u.get_full_name() or u.get_username()) for u in team_members()]
        assignee = self.fields["assignee"]
        assert isinstance(assignee, forms.ChoiceField)
        assignee.choices = [
            ("", "Everyone's"),
            ("me", "Mine"),
            ("none", "Unassigned"),
            *people,
        ]

    def apply(self, rows):
        assignee, kind = self.cleaned_data["assignee"], self.cleaned_data["kind"]
        if assignee == "me":
            rows = rows.filter(assigned_to=self.user)
        elif assignee == "none":
            rows = rows.filter(assigned_to__isnull=True)
        elif assignee:
            rows = rows.filter(assigned_to_id=int(assignee))
        if kind:
            rows = rows.filter(kind=kind)
        return rows
