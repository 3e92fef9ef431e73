"""The forms a patient fills in through a questionnaire link (issue 24): the date of birth
first, then one questionnaire a step. Each answer is checked as the clinician's form
checks it: the scale registry's allowed values (a scale is complete or absent), the fact
table's ranges, no time in the future."""

from datetime import date, datetime, timedelta
from typing import Any

from django import forms
from django.utils import timezone

from clinic.licensed_irls import LicensedIrls, licensed_irls
from patients.facts import FACT_BY_NAME
from patients.invitations import Questionnaire
from patients.scales import SCALES, Item

LARGE_INPUT = "form-control form-control-lg"
LAST_DOSE_OLDEST_DAYS = 60  # a last dose longer ago than this is asked in the clinic


class DateOfBirthForm(forms.Form):
    date_of_birth = forms.DateField(
        label="Your date of birth",
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}),
        error_messages={"invalid": "Enter your date of birth, for example 14/03/1988."},
    )


def choices_of(item: Item) -> list[tuple[int, str]]:
    """An item's answers in words: "0 not at all, 1 several days" gives (0, "Not at all")."""
    words = {}
    for part in item.anchors.split(", "):
        value, _, text = part.partition(" ")
        words[int(value)] = text[:1].upper() + text[1:]
    return [(value, words.get(value, str(value))) for value in item.allowed]


class ScaleForm(forms.Form):
    """Every item of one scale, each required: the scale is sent complete, or skipped."""

    def __init__(self, *args: Any, code: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scale = SCALES[code]
        for item in self.scale.items:
            self.fields[item.key] = forms.TypedChoiceField(
                label=item.label,
                choices=choices_of(item),
                coerce=int,
                widget=forms.RadioSelect,
                error_messages={"required": "Choose one answer for this question."},
            )


class LicensedIrlsForm(forms.Form):
    """The IRLS in the clinic's licensed wording (clinic.licensed_irls), each item
    required: the scale is sent complete, or skipped."""

    def __init__(self, *args: Any, wording: LicensedIrls, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for item in wording.items:
            self.fields[item.key] = forms.TypedChoiceField(
                label=item.text,
                choices=list(enumerate(item.answers)),
                coerce=int,
                widget=forms.RadioSelect,
                error_messages={"required": "Choose one answer for this question."},
            )


def _fact_field(name: str, label: str) -> forms.Field:
    """A number field with the fact's range (patients.facts)."""
    fact = FACT_BY_NAME[name]
    widget = forms.NumberInput(attrs={"inputmode": "decimal", "class": LARGE_INPUT})
    if fact.type == "int":
        return forms.IntegerField(
            label=label,
            required=False,
            min_value=None if fact.minimum is None else int(fact.minimum),
            max_value=None if fact.maximum is None else int(fact.maximum),
            widget=widget,
        )
    return forms.FloatField(
        label=label,
        required=False,
        min_value=fact.minimum,
        max_value=fact.maximum,
        widget=widget,
    )


class SleepLifestyleForm(forms.Form):
    """Answer what you can: each is optional, and checked against the fact's range."""

    sleep_hours_per_night = _fact_field(
        "sleep_hours_per_night", "About how many hours do you sleep a night?"
    )
    nicotine_use = forms.TypedChoiceField(
        label="Do you smoke, vape or use nicotine in another way?",
        choices=[(True, "Yes"), (False, "No")],
        coerce=lambda value: value in (True, "True"),
        widget=forms.RadioSelect,
        required=False,
        empty_value=None,
    )
    alcohol_drinks_per_week = _fact_field(
        "alcohol_drinks_per_week", "About how many alcoholic drinks do you have a week?"
    )
    exercise_minutes_per_week = _fact_field(
        "exercise_minutes_per_week", "About how many minutes of exercise do you get a week?"
    )


class LastDoseForm(forms.Form):
    last_dose_at = forms.DateTimeField(
        label="When did you last take kratom?",
        required=False,
        widget=forms.DateTimeInput(
            attrs={"type": "datetime-local", "class": LARGE_INPUT}, format="%Y-%m-%dT%H:%M"
        ),
        input_formats=["%Y-%m-%dT%H:%M"],
        help_text="The date and the time, as near as you know. Leave it empty if you are not sure.",
    )

    def clean_last_dose_at(self) -> datetime | None:
        value: datetime | None = self.cleaned_data.get("last_dose_at")
        if value is None:
            return None
        now = timezone.now()
        if value > now:
            raise forms.ValidationError("This time is in the future.")
        if value < now - timedelta(days=LAST_DOSE_OLDEST_DAYS):
            raise forms.ValidationError(
                f"This is more than {LAST_DOSE_OLDEST_DAYS} days ago: tell the clinic instead."
            )
        return value


def step_form(code: str, data: Any = None, initial: dict[str, Any] | None = None) -> forms.Form:
    wording = licensed_irls()
    if code == Questionnaire.IRLS and wording is not None:
        return LicensedIrlsForm(data, initial=initial, wording=wording)
    if code == Questionnaire.GAD7:
        return ScaleForm(data, initial=initial, code="gad7")
    if code == Questionnaire.SLEEP_LIFESTYLE:
        return SleepLifestyleForm(data, initial=initial)
    if code == Questionnaire.LAST_DOSE:
        return LastDoseForm(data, initial=initial)
    raise ValueError(f"No form for {code!r}")


def stored(cleaned: dict[str, Any]) -> dict[str, Any]:
    """A step's answers as the invitation keeps them (JSON): times in ISO form."""
    return {
        name: value.isoformat() if isinstance(value, (datetime, date)) else value
        for name, value in cleaned.items()
        if value is not None
    }


def shown(answers: dict[str, Any]) -> dict[str, Any]:
    """Kept answers as a form takes them back (the patient's step, or the clinician's
    assessment): times as datetimes, the steps' bookkeeping ("_done") left out."""
    values = {}
    for name, value in answers.items():
        if name.startswith("_"):
            continue
        if name == "last_dose_at":
            try:
                value = datetime.fromisoformat(value)
            except (TypeError, ValueError):  # only the validated form writes it
                continue
        values[name] = value
    return values
