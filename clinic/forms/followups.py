"""Forms for follow-ups: scheduling, recording, cancelling, and the worklist filter."""

from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.forms import BoundField
from django.utils import timezone
from django.utils.formats import date_format

from clinic.forms.assessments import scale_item_field
from clinic.roles import CLINICIANS, STAFF
from guidance.models import AdherenceAnswer, Recommendation
from patients.models import (
    RESCORED_SCALES,
    FollowUp,
    FollowUpKind,
    FollowUpQuerySet,
    FollowUpStatus,
    rescored_scales,
)
from patients.scales import ITEMS, SCALES, score_all


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def team_members() -> QuerySet[User]:
    """People a follow-up can be assigned to: active clinicians and staff."""
    return (
        User.objects.filter(is_active=True, groups__name__in=[CLINICIANS, STAFF])
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


class TeamMemberField(forms.ModelChoiceField[User]):
    def label_from_instance(self, obj: User) -> str:
        return obj.get_full_name() or obj.get_username()


class FollowUpScheduleForm(forms.ModelForm[FollowUp]):
    assigned_to = TeamMemberField(
        queryset=User.objects.none(), required=False, empty_label="Anyone on the team"
    )

    class Meta:
        model = FollowUp
        fields = ["due_date", "kind", "assigned_to", "plan_notes"]
        widgets = {"due_date": _date_input(), "plan_notes": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        assigned_to = self.fields["assigned_to"]
        assert isinstance(assigned_to, TeamMemberField)
        assigned_to.queryset = team_members()

    def clean_due_date(self) -> Any:
        due = self.cleaned_data["due_date"]
        if due < timezone.localdate():
            raise forms.ValidationError("A follow-up cannot be due in the past.")
        return due


class FollowUpRecordForm(forms.ModelForm[FollowUp]):
    """What happened at a follow-up. The optional IRLS and COWS re-score uses the scale
    registry exactly as the assessment does; adherence is asked for each accepted card."""

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
            *[i.key for code in RESCORED_SCALES for i in SCALES[code].items],
            "side_effects",
            "notes",
        ]
        widgets = {
            "happened_on": _date_input(),
            "side_effects": forms.Textarea(attrs={"rows": 2}),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(
        self, *args: Any, accepted_cards: Iterable[Recommendation] = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["happened_on"].required = True
        self.fields["missed_reason"].help_text = "Required when the follow-up was missed."
        # The scales this kind of contact may re-score; the others' items are not fields,
        # so that nothing posted for them is saved.
        self.rescore = rescored_scales(self.instance.kind)
        for code in RESCORED_SCALES:
            for scale_item in SCALES[code].items:
                if code in self.rescore:
                    self.fields[scale_item.key] = scale_item_field(scale_item)
                else:
                    del self.fields[scale_item.key]
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

    def rescore_sections(self) -> list[dict[str, Any]]:
        return [
            {
                "code": code,
                "scale": SCALES[code],
                "fields": [self[i.key] for i in SCALES[code].items],
            }
            for code in self.rescore
        ]

    def adherence_fields(self) -> list[BoundField]:
        return [self[f"adherence_{card.uuid}"] for card in self.accepted_cards]

    def clean_happened_on(self) -> Any:
        """Not in the future, nor before the follow-up was scheduled or the patient
        registered (dates in the clinic's time zone); the later of the two is named."""
        happened = self.cleaned_data["happened_on"]
        if happened > timezone.localdate():
            raise forms.ValidationError("The date of the contact cannot be in the future.")
        scheduled = timezone.localdate(self.instance.scheduled_at)
        registered = timezone.localdate(self.instance.patient.created_at)
        if happened < max(scheduled, registered):
            raise forms.ValidationError(
                "The date of the contact cannot be before %(event)s (%(date)s).",
                params=(
                    {"event": "the follow-up was scheduled", "date": date_format(scheduled)}
                    if scheduled >= registered
                    else {"event": "the patient was registered", "date": date_format(registered)}
                ),
            )
        return happened

    def clean(self) -> Any:
        super().clean()
        cleaned = self.cleaned_data
        missed = cleaned.get("outcome") == FollowUpStatus.MISSED
        happened, next_due = cleaned.get("happened_on"), cleaned.get("next_due_date")
        if missed and not cleaned.get("missed_reason", "").strip():
            self.add_error("missed_reason", "Say why the follow-up was missed.")
        answers = {key: cleaned.get(key) for key in self.Meta.fields if key in ITEMS}
        if missed and any(value is not None for value in answers.values()):
            rescored = " and ".join(SCALES[code].name for code in self.rescore)
            self.add_error(None, f"A missed follow-up has no re-score: clear the {rescored}.")
        _, problems = score_all(answers)
        for key, problem in problems.items():
            if key not in self.errors:
                self.add_error(key, problem[0].upper() + problem[1:] + ".")
        if happened and next_due and next_due <= happened:
            self.add_error("next_due_date", "The next follow-up must be after this one.")
        if next_due and next_due < timezone.localdate():
            self.add_error("next_due_date", "The next follow-up cannot be due in the past.")
        return cleaned

    def adherence_answers(self) -> dict[Recommendation, str]:
        return {
            card: self.cleaned_data[f"adherence_{card.uuid}"]
            for card in self.accepted_cards
            if self.cleaned_data.get(f"adherence_{card.uuid}")
        }


class FollowUpNoteForm(forms.Form):
    text = forms.CharField(
        label="Add a note",
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=5000,
        help_text="Added after what was recorded, with your name and today's date.",
    )


class FollowUpCancelForm(forms.Form):
    reason = forms.CharField(max_length=300, min_length=3, help_text="Why it will not happen.")


class WorklistFilterForm(forms.Form):
    assignee = forms.ChoiceField(required=False)
    kind = forms.ChoiceField(
        choices=[("", "Calls and visits"), *FollowUpKind.choices], required=False
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
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

    def apply(self, rows: FollowUpQuerySet) -> FollowUpQuerySet:
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
