"""Inviting a patient to answer questionnaires at home (issue 24)."""

from typing import Any

from django import forms
from django.conf import settings

from patients.invitations import DEFAULT_EXPIRY_DAYS, LONGEST_EXPIRY_DAYS, Questionnaire

IRLS_NOT_OFFERED = (
    "The IRLS is not offered: its wording is copyrighted, and this application never "
    "ships it. A clinic that holds a licence sets IRLS_LICENSED_WORDING to its copy; "
    "until then, score the IRLS with the patient in the clinic."
)


def offered() -> list[tuple[str, str]]:
    """The questionnaires a patient may be asked, the IRLS only with the clinic's wording."""
    codes = [Questionnaire.GAD7, Questionnaire.SLEEP_LIFESTYLE, Questionnaire.LAST_DOSE]
    if settings.IRLS_LICENSED_WORDING:
        codes.insert(0, Questionnaire.IRLS)
    return [(code.value, code.label) for code in codes]


class InvitationForm(forms.Form):
    questionnaires = forms.MultipleChoiceField(
        label="Questionnaires",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one questionnaire."},
    )
    days = forms.IntegerField(
        label="The link works for (days)",
        min_value=1,
        max_value=LONGEST_EXPIRY_DAYS,
        initial=DEFAULT_EXPIRY_DAYS,
        help_text=f"1 to {LONGEST_EXPIRY_DAYS} days; {DEFAULT_EXPIRY_DAYS} unless you change it.",
    )

    email = forms.BooleanField(
        label="Also email the link to the patient's address on record",
        required=False,
        help_text="The email holds the link and the clinic's name only: no name, nothing "
        "clinical. If it is not finished after 2 days, one reminder follows.",
    )

    def __init__(self, *args: Any, email_to: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email_to = email_to if settings.EMAIL_LINKS else ""
        if not self.email_to:
            del self.fields["email"]
        choices = offered()
        field = self.fields["questionnaires"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = choices
        self.initial.setdefault("questionnaires", [code for code, _ in choices])
        self.irls_explained = None if settings.IRLS_LICENSED_WORDING else IRLS_NOT_OFFERED

    def clean_questionnaires(self) -> list[str]:
        chosen = set(self.cleaned_data["questionnaires"])
        return [code for code, _ in offered() if code in chosen]  # in the order asked
